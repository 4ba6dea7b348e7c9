//! Which areas of Trellis the caller may use, answered from the same role constants the services
//! check (`applications::READERS`, `audit::READERS`, `trellis_identity::background_work::READERS`,
//! `api_keys::PARTNER_KEY_MANAGERS`): the console's and the portal's navigation is built from
//! [`capabilities`] (or [`role_areas`] where no request's data is at hand) alone, so it cannot offer
//! a page the service refuses or hide one it serves.

use trellis_core::{PartnerId, PartnerRole, PartnerType, Result};
use trellis_directory::partners;
use trellis_identity::{Ctx, Membership, Scope, api_keys, audit, workspaces};

use crate::applications;

/// An area of the console (staff) or the portal (partner users), in the navigation's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    Partners,
    /// The vendor pipeline and the review of deal registrations (`/console/deals`): every staff
    /// role reads deals (the deals crate decides who may decide them).
    Deals,
    /// The lead inbox and a lead's candidates (`/console/leads`): every staff role reads leads;
    /// owners, admins and channel managers create, offer and close them (`trellis_leads`).
    Leads,
    Staff,
    StaffApiKeys,
    Programs,
    Compliance,
    ProfileChanges,
    /// Commissions, conversions, the hold queue and commission plans (`/console/commissions`):
    /// every staff role reads money (`trellis_incentives::commissions::require_money_reader`);
    /// owners, admins and finance change it.
    Commissions,
    Applications,
    Audit,
    Outbox,
    Settings,
    Profile,
    /// The partner's own pipeline and deal registration (`/portal/deals`): every partner role
    /// reads its deals; admins and sales people register them.
    PartnerDeals,
    /// "Leads for you" (`/portal/leads`): every partner role reads the leads offered to it and
    /// its resellers; admins and sales people answer them (`trellis_leads`).
    PartnerLeads,
    /// The organisation's own earnings and commissions (`/portal/earnings`): its admins and
    /// finance people (`PartnerRole::MONEY_MANAGERS`, which the commission services check).
    Earnings,
    /// The organisation's referral links and their figures (`/portal/links`): every partner role
    /// creates and reads its organisation's links (`trellis_tracking::links`).
    Links,
    /// The organisation's payout statements (`/portal/statements`), printable: the same people
    /// as [`Area::Earnings`].
    Statements,
    Users,
    Onboarding,
    Licences,
    Contracts,
    PartnerApiKeys,
    /// The organisation's payout method (`/portal/payout-method`): its admins and finance people
    /// (`PartnerRole::MONEY_MANAGERS`, which the payout method service checks).
    PayoutMethod,
    Resellers,
}

/// The areas the caller may use: [`role_areas`], and for a distributor the workspace lets manage
/// resellers ([`reseller_parent`]) its resellers.
pub async fn capabilities(ctx: &Ctx, scope: &Scope) -> Result<Vec<Area>> {
    let mut areas = role_areas(scope);
    if reseller_parent(ctx, scope).await?.is_some() {
        areas.push(Area::Resellers);
    }
    Ok(areas)
}

/// The areas the caller's role alone opens (no resellers, which depend on stored data). Every
/// staff role reads partners, staff, its own keys, programs, compliance and profile changes;
/// every partner user its own organisation's profile, users, onboarding, licences and contracts;
/// the rest follows the services' role constants.
pub fn role_areas(scope: &Scope) -> Vec<Area> {
    let mut areas = Vec::new();
    match scope.membership() {
        Membership::Staff { role, .. } => {
            areas.extend([
                Area::Partners,
                Area::Deals,
                Area::Leads,
                Area::Staff,
                Area::StaffApiKeys,
                Area::Programs,
                Area::Compliance,
                Area::ProfileChanges,
                Area::Commissions,
            ]);
            if applications::READERS.contains(role) {
                areas.push(Area::Applications);
            }
            if audit::READERS.contains(role) {
                areas.push(Area::Audit);
            }
            if trellis_identity::background_work::READERS.contains(role)
                || trellis_identity::background_work::OWN_EMAIL_READERS.contains(role)
            {
                areas.push(Area::Outbox);
            }
            if role.is_workspace_admin() {
                areas.push(Area::Settings);
            }
        }
        Membership::Partner { role, .. } => {
            areas.extend([Area::Profile, Area::PartnerDeals, Area::PartnerLeads, Area::Links]);
            if PartnerRole::MONEY_MANAGERS.contains(role) {
                areas.extend([Area::Earnings, Area::Statements]);
            }
            areas.extend([Area::Users, Area::Onboarding, Area::Licences, Area::Contracts]);
            if api_keys::PARTNER_KEY_MANAGERS.contains(role) {
                areas.push(Area::PartnerApiKeys);
            }
            if PartnerRole::MONEY_MANAGERS.contains(role) {
                areas.push(Area::PayoutMethod);
            }
        }
        Membership::System => {}
    }
    areas
}

/// The caller's organisation when it is a distributor the workspace lets manage resellers
/// (`distributors_manage_resellers`): the parent of the resellers it lists and adds.
pub async fn reseller_parent(ctx: &Ctx, scope: &Scope) -> Result<Option<PartnerId>> {
    let Some((own, _)) = scope.partner() else { return Ok(None) };
    if !workspaces::get(ctx, scope).await?.distributors_manage_resellers {
        return Ok(None);
    }
    let partner = partners::get(ctx, scope, own).await?;
    Ok(partner.types.contains(&PartnerType::Distributor).then_some(partner.id))
}
