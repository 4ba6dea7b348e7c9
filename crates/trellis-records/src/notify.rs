//! Who hears about a partner's profile, contracts and licences: the partner's admins (or its
//! contact address when it has no users yet) and the channel manager who manages it.

use trellis_core::{Email, PartnerId, Result, WorkspaceId};
use trellis_db::{Tx, sql};

/// The partner's admins' addresses; its contact address when it has no admin.
pub(crate) async fn partner_admins(tx: &mut Tx, workspace_id: &WorkspaceId, partner_id: &PartnerId) -> Result<Vec<Email>> {
    trellis_identity::partner_users::admin_addresses_in(tx, workspace_id, partner_id).await
}

/// The address of the staff member managing the partner, if any.
pub(crate) async fn manager(tx: &mut Tx, workspace_id: &WorkspaceId, partner_id: &PartnerId) -> Result<Option<Email>> {
    let row = tx
        .fetch_optional(sql!(
            "SELECT u.email FROM partners p JOIN members m ON m.workspace_id = p.workspace_id AND m.user_id = p.manager_user_id
             JOIN users u ON u.id = m.user_id WHERE p.workspace_id = $1 AND p.id = $2",
            workspace_id,
            partner_id
        ))
        .await?;
    Ok(match row {
        Some(row) => Some(row.get("email")?),
        None => None,
    })
}

/// The partner's admins and its manager, each once.
pub(crate) async fn partner_and_manager(tx: &mut Tx, workspace_id: &WorkspaceId, partner_id: &PartnerId) -> Result<Vec<Email>> {
    let mut emails = partner_admins(tx, workspace_id, partner_id).await?;
    if let Some(manager) = manager(tx, workspace_id, partner_id).await?
        && !emails.contains(&manager)
    {
        emails.push(manager);
    }
    Ok(emails)
}
