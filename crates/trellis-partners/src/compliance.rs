//! Compliance: what currently makes a partner non-compliant (an expired compliance licence, …).
//! The `compliant` tier metric reads it, and later capabilities use it to block deal
//! registration or commission payment.

use trellis_core::{PartnerId, Result, Timestamp, WorkspaceId};
use trellis_db::Tx;

/// Why the partner is not compliant at `now`, one sentence per blocker (e.g. "the ISO 27001
/// licence expired on 2026-10-01"); empty when it is compliant. Runs inside the caller's
/// transaction, which has already checked that the partner is visible.
///
/// Compliance licences arrive with the contracts-and-licences capability, which fills this
/// function in; until they exist nothing can block a partner.
pub async fn compliance_blockers(
    _tx: &mut Tx,
    _workspace_id: &WorkspaceId,
    _partner_id: &PartnerId,
    _now: Timestamp,
) -> Result<Vec<String>> {
    Ok(Vec::new())
}
