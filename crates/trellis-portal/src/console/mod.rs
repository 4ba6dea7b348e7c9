//! The vendor console: the pages of workspace staff. A partner user who opens one gets the 404
//! page (API.md "Conventions": what the caller may not see is 404), never data.

mod api_keys;
mod applications;
mod audit;
mod commission_plans;
mod commissions;
mod compliance;
mod conversions;
mod deal_imports;
mod deals;
mod disputes;
mod invoices;
mod lead_imports;
mod leads;
mod links;
mod onboarding;
mod outbox;
pub(crate) mod partner_lifecycle;
mod partner_list;
mod partner_onboarding;
mod partner_programs;
mod partners;
mod payout_runs;
mod profile_changes;
mod programs;
mod settings;
mod staff;

use trellis_core::{Error, VendorRole};
use trellis_identity::Scope;

use crate::routes::PageRouter;

pub fn routes() -> PageRouter {
    partners::routes()
        .merge(partner_list::routes())
        .merge(partner_onboarding::routes())
        .merge(staff::routes())
        .merge(api_keys::routes())
        .merge(audit::routes())
        .merge(programs::routes())
        .merge(partner_programs::routes())
        .merge(outbox::routes())
        .merge(applications::routes())
        .merge(onboarding::routes())
        .merge(partner_lifecycle::routes())
        .merge(compliance::routes())
        .merge(profile_changes::routes())
        .merge(settings::routes())
        .merge(disputes::routes())
        .merge(deal_imports::routes())
        .merge(deals::routes())
        .merge(lead_imports::routes())
        .merge(leads::routes())
        .merge(commissions::routes())
        .merge(conversions::routes())
        .merge(links::routes())
        .merge(commission_plans::routes())
        .merge(invoices::routes())
        .merge(payout_runs::routes())
}

/// The caller's staff role; 404 for anyone acting for a partner.
fn staff_role(scope: &Scope) -> Result<VendorRole, Error> {
    scope.vendor_role().ok_or(Error::NotFound)
}
