//! Who may change what of a partner's profile, contracts and licences. Every check here runs
//! after the partner has been found visible (invisible is 404 before any of these 403s).

use trellis_core::{Error, PartnerId, PartnerRole, Result, VendorRole};
use trellis_db::Tx;
use trellis_identity::{Scope, workspaces};

/// The profile of a (visible) partner: staff who manage partners; the partner's own admins and
/// marketing; and a distributor's admins for their resellers when the workspace lets distributors
/// manage resellers (a visible partner that is not the caller's own is one of its descendants).
pub(crate) async fn require_profile_editor(tx: &mut Tx, scope: &Scope, partner_id: &PartnerId) -> Result<()> {
    if scope.has_vendor_role(VendorRole::PARTNER_MANAGERS) {
        return Ok(());
    }
    match scope.partner() {
        Some((own, PartnerRole::Admin | PartnerRole::Marketing)) if own == partner_id => Ok(()),
        Some((_, PartnerRole::Admin)) => {
            if workspaces::distributors_manage_resellers(tx, scope.workspace_id()).await? {
                Ok(())
            } else {
                Err(Error::forbidden("this workspace does not let distributors manage resellers"))
            }
        }
        _ => Err(Error::forbidden("your role may not edit this partner's profile")),
    }
}

/// Adding and correcting licences: staff who manage partners and the partner's own admins (the
/// organisation holding the licence answers for it; its distributor does not).
pub(crate) fn require_licence_editor(scope: &Scope, partner_id: &PartnerId) -> Result<()> {
    if scope.has_vendor_role(VendorRole::PARTNER_MANAGERS) {
        return Ok(());
    }
    match scope.partner() {
        Some((own, PartnerRole::Admin)) if own == partner_id => Ok(()),
        _ => Err(Error::forbidden("only the partner's admins and the vendor manage its licences")),
    }
}

/// Contracts, deleting licences, deciding profile changes: the vendor's partner managers.
pub(crate) fn require_partner_manager(scope: &Scope, what: &str) -> Result<()> {
    scope.require_vendor_role(VendorRole::PARTNER_MANAGERS, what)
}
