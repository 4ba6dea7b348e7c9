//! Whom a partner's people contact at the vendor: the partner's channel manager, or, when none is
//! assigned, the workspace's owner. A partner user learns the name and email of its own
//! organisation's contact only — never another partner's manager, not even a reseller's (issue 8).

use trellis_core::{Email, Error, Result};
use trellis_db::sql;
use trellis_identity::{Ctx, Scope};

/// A person at the vendor, as the portal names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorContact {
    /// The display name (the email when the account has no name).
    pub name: String,
    pub email: Email,
    /// Whether this is the partner's assigned channel manager (otherwise the workspace's owner).
    pub is_manager: bool,
}

/// The caller's own organisation's contact at the vendor: its channel manager when one is assigned
/// (and still on the staff), otherwise the workspace's first owner. 404 for staff (they act for no
/// partner); `None` only for a workspace without an owner.
pub async fn own_vendor_contact(ctx: &Ctx, scope: &Scope) -> Result<Option<VendorContact>> {
    let (own, _) = scope.partner().ok_or(Error::NotFound)?;
    let mut tx = scope.read(ctx).await?;
    let seen = tx.see_partner(own).await?;
    let partner_id = tx.seen(&seen)?;
    // Staff rows are vendor rows; the caller reads one person's name and email through its own
    // partner's `manager_user_id`, never a list.
    let manager = tx
        .fetch_optional(sql!(
            "SELECT u.name, u.email FROM partners p
             JOIN members m ON m.workspace_id = p.workspace_id AND m.user_id = p.manager_user_id
             JOIN users u ON u.id = m.user_id
             WHERE p.workspace_id = $1 AND p.id = $2",
            scope.workspace_id(),
            partner_id
        ))
        .await?;
    let (row, is_manager) = match manager {
        Some(row) => (Some(row), true),
        None => {
            let owner = tx
                .fetch_optional(sql!(
                    "SELECT u.name, u.email FROM members m JOIN users u ON u.id = m.user_id
                     WHERE m.workspace_id = $1 AND m.role = 'owner' ORDER BY m.created_at, u.email LIMIT 1",
                    scope.workspace_id()
                ))
                .await?;
            (owner, false)
        }
    };
    let Some(row) = row else { return Ok(None) };
    let email: Email = row.get("email")?;
    let name: String = row.get("name")?;
    let name = if name.trim().is_empty() { email.to_string() } else { name };
    Ok(Some(VendorContact { name, email, is_manager }))
}
