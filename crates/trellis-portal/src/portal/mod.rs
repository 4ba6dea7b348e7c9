//! The partner portal: the pages of a partner organisation's users, always about the caller's
//! own organisation. Staff who open one get the 404 page: they act for no partner.

mod api_keys;
mod contracts;
pub(crate) mod deals;
pub(crate) mod disputes;
mod earnings;
mod leads;
mod licences;
pub(crate) mod links;
pub mod onboarding;
mod payout_method;
mod profile;
mod profile_details;
pub mod resellers;
mod users;

use trellis_core::{Error, PartnerId, PartnerRole};
use trellis_identity::Scope;

use crate::routes::PageRouter;

pub fn routes() -> PageRouter {
    profile::routes()
        .merge(users::routes())
        .merge(api_keys::routes())
        .merge(resellers::routes())
        .merge(onboarding::routes())
        .merge(profile_details::routes())
        .merge(licences::routes())
        .merge(contracts::routes())
        .merge(disputes::routes())
        .merge(deals::routes())
        .merge(leads::routes())
        .merge(payout_method::routes())
        .merge(earnings::routes())
        .merge(links::routes())
}

/// The caller's own organisation and role there; 404 for staff.
fn own_partner(scope: &Scope) -> Result<(PartnerId, PartnerRole), Error> {
    scope.partner().map(|(id, role)| (id.clone(), role)).ok_or(Error::NotFound)
}
