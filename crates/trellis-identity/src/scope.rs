//! The request scope: who is acting, as which membership, and which partners' rows they may see;
//! and the scoped transaction, the only way store code reaches partner-owned rows.
//!
//! A `Scope` is built once per request by [`crate::auth`] after the credential has been checked;
//! it has no public constructor other than [`Scope::system`], which takes a named
//! [`SystemGrant`] for work that must see across partners (listed in docs/ARCHITECTURE.md
//! "System context"). Store functions open their transactions from the scope
//! ([`Scope::read`], [`Scope::write`]): the [`ScopedTx`] carries the PostgreSQL row security of
//! the caller and the visibility rule, and filters with [`ScopedTx::push_partner_filter`], the one
//! rule shared by lists and get-by-id; a read-only credential gets no write transaction at all.
//!
//! Visibility is a rule, not a set: "this partner and its descendants" or "the partners this
//! manager manages and their descendants", checked per row against the `partner_ancestry` closure
//! table (migration 20261203000002). Nothing is computed at authentication, and what a request
//! costs does not grow with the size of the caller's subtree.

use std::ops::{Deref, DerefMut};
use trellis_core::{
    ApiKeyId, Email, Error, PartnerId, PartnerRole, PartnerScopeSetting, PartnerStatus, Result, Timestamp, UserId, VendorRole, WorkspaceId,
};

use trellis_db::{DbResult, RowSecurity, Sql, SystemGrant, Tx};

use crate::Ctx;

/// Who performed an action, as recorded in the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    User { id: UserId, email: Email },
    ApiKey { id: ApiKeyId, user_email: Option<Email> },
    System,
}

/// The membership a request acts as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Membership {
    Staff {
        user_id: UserId,
        role: VendorRole,
        partner_scope: PartnerScopeSetting,
    },
    /// A partner user, or a partner API key (then `user_id` is `None`).
    Partner {
        partner_id: PartnerId,
        role: PartnerRole,
        user_id: Option<UserId>,
    },
    /// The system context: jobs, engines, operator commands, public pages.
    System,
}

/// Which partners' rows are visible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visibility {
    All,
    /// This partner organisation and its descendants (a distributor's resellers), never its
    /// ancestors or siblings.
    Subtree(PartnerId),
    /// The partners this channel manager manages, and their descendants.
    Managed(UserId),
}

/// Where a request came from, for the audit trail.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestMeta {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Scope {
    workspace_id: WorkspaceId,
    actor: Actor,
    membership: Membership,
    visibility: Visibility,
    read_only: bool,
    meta: RequestMeta,
    /// The grant a system scope was made from; its transactions open through it.
    grant: Option<&'static SystemGrant>,
    /// The workspace requires two-step sign-in of this person, who has no authenticator app:
    /// the API and the console/portal refuse everything but setting one up (and one's account).
    mfa_enrolment_pending: bool,
    /// When the person behind the session last proved who they are; `None` for keys and the
    /// system, which a step-up does not apply to.
    authenticated_at: Option<Timestamp>,
}

#[cfg(feature = "test-switches")]
static APP_FILTER_DISABLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Test-only: turns the application-side partner filter off so a test can prove that PostgreSQL
/// row security alone still stops cross-partner reads. Compiled only with `test-switches`, which
/// only the test build enables; each nextest test runs in its own process.
#[cfg(feature = "test-switches")]
pub fn disable_app_partner_filter_for_tests() {
    APP_FILTER_DISABLED.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// Ends the visibility rule's `EXISTS` subquery. PostgreSQL turns an `EXISTS` it may simplify into
/// a hashed subplan when it expects many outer rows (a distributor's 50,000 resellers), which
/// reads every closure row of the caller's subtree before the first row of a page: a cost that
/// grows with the subtree. An `OFFSET` keeps the subquery as it is written, one index probe per
/// row the query actually reads (`LIMIT 1` alone is simplified away). The RLS policies end their
/// subquery the same way (migration 20261204000001). SQLite probes per row either way.
const PROBE_PER_ROW: &str = " LIMIT 1 OFFSET 0)";

#[cfg(feature = "test-switches")]
static PARTNER_CHECKS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Test-only: how many single partners this process has checked for visibility
/// ([`ScopedTx::see_partner`], [`ScopedTx::can_see_partner`]), so a test can hold a page to one
/// check of the partner it shows.
#[cfg(feature = "test-switches")]
pub fn partner_checks_for_tests() -> u64 {
    PARTNER_CHECKS.load(std::sync::atomic::Ordering::SeqCst)
}

fn count_partner_check() {
    #[cfg(feature = "test-switches")]
    PARTNER_CHECKS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
}

fn app_filter_enabled() -> bool {
    #[cfg(feature = "test-switches")]
    {
        !APP_FILTER_DISABLED.load(std::sync::atomic::Ordering::SeqCst)
    }
    #[cfg(not(feature = "test-switches"))]
    {
        true
    }
}

impl Scope {
    pub(crate) fn new(
        workspace_id: WorkspaceId,
        actor: Actor,
        membership: Membership,
        visibility: Visibility,
        read_only: bool,
        meta: RequestMeta,
    ) -> Self {
        Self {
            workspace_id,
            actor,
            membership,
            visibility,
            read_only,
            meta,
            grant: None,
            mfa_enrolment_pending: false,
            authenticated_at: None,
        }
    }

    /// The system context for one workspace: sees every partner. Only for work no person performs
    /// (jobs, engines, operator CLI, demo seeding, public pages), named by `grant`; every grant is
    /// listed in docs/ARCHITECTURE.md "System context".
    pub fn system(workspace_id: WorkspaceId, grant: &'static SystemGrant) -> Self {
        let mut scope = Self::new(workspace_id, Actor::System, Membership::System, Visibility::All, false, RequestMeta::default());
        scope.grant = Some(grant);
        scope
    }

    /// A read transaction for this caller: PostgreSQL row security as the caller, the visibility
    /// rule on the transaction.
    pub async fn read(&self, ctx: &Ctx) -> Result<ScopedTx> {
        let tx = match self.grant {
            Some(grant) => ctx.db.read_granted(grant).await?,
            None => self.open_read(ctx).await?,
        };
        Ok(self.scoped(tx))
    }

    /// A write transaction for this caller; 403 for a read-only credential (the same answer the
    /// API gives a read-only key's non-GET request before any handler runs).
    pub async fn write(&self, ctx: &Ctx) -> Result<ScopedTx> {
        if self.read_only {
            return Err(Error::forbidden(READ_ONLY));
        }
        let tx = match self.grant {
            Some(grant) => ctx.db.write_granted(grant).await?,
            None => self.open_write(ctx).await?,
        };
        Ok(self.scoped(tx))
    }

    /// A write transaction through `grant`, on this caller's behalf, for vendor records that no
    /// row security restricts (staff memberships, workspace settings; the caller's role is
    /// checked by the service). 403 for a read-only credential, like [`Scope::write`]: a grant
    /// widens what a transaction sees, never what a credential may do.
    pub async fn write_granted(&self, ctx: &Ctx, grant: &'static SystemGrant) -> Result<Tx> {
        if self.read_only {
            return Err(Error::forbidden(READ_ONLY));
        }
        Ok(ctx.db.write_granted(grant).await?)
    }

    #[expect(clippy::disallowed_methods, reason = "the scope's opener: row security is the caller's own")]
    async fn open_read(&self, ctx: &Ctx) -> DbResult<Tx> {
        ctx.db.read(&self.row_security()).await
    }

    #[expect(clippy::disallowed_methods, reason = "the scope's opener: row security is the caller's own")]
    async fn open_write(&self, ctx: &Ctx) -> DbResult<Tx> {
        ctx.db.write(&self.row_security()).await
    }

    /// Wraps a transaction (one opened through a grant, too) with this caller's visibility rule.
    pub(crate) fn scoped(&self, tx: Tx) -> ScopedTx {
        ScopedTx { tx, workspace_id: self.workspace_id.clone(), visibility: self.visibility.clone() }
    }

    /// The same scope, recording `meta` as where the request came from: the public application
    /// form runs in the system context but its audit events keep the applicant's address.
    pub fn with_meta(mut self, meta: RequestMeta) -> Self {
        self.meta = meta;
        self
    }

    pub fn workspace_id(&self) -> &WorkspaceId {
        &self.workspace_id
    }

    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    pub fn membership(&self) -> &Membership {
        &self.membership
    }

    pub fn meta(&self) -> &RequestMeta {
        &self.meta
    }

    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// Whether the person must set up an authenticator app before anything else (the workspace's
    /// policy, `workspaces::Workspace::mfa_required_staff` and `…_partner_admins`).
    pub fn mfa_enrolment_pending(&self) -> bool {
        self.mfa_enrolment_pending
    }

    pub(crate) fn with_mfa_enrolment_pending(mut self, pending: bool) -> Self {
        self.mfa_enrolment_pending = pending;
        self
    }

    pub(crate) fn with_authenticated_at(mut self, at: Timestamp) -> Self {
        self.authenticated_at = Some(at);
        self
    }

    /// Step-up re-authentication: what a stolen session must not be able to do — approving payouts,
    /// changing payout methods, creating keys, changing roles — needs a sign-in or a confirmation of
    /// the password within the last [`crate::auth::STEP_UP_SECONDS`] (403
    /// `reauthentication_required` otherwise). API keys and the system are not sessions.
    pub fn require_recent_sign_in(&self, now: Timestamp) -> Result<()> {
        match self.authenticated_at {
            Some(at) if at.plus_seconds(crate::auth::STEP_UP_SECONDS) < now => Err(Error::ReauthenticationRequired),
            _ => Ok(()),
        }
    }

    /// The vendor role, when acting as staff.
    pub fn vendor_role(&self) -> Option<VendorRole> {
        match &self.membership {
            Membership::Staff { role, .. } => Some(*role),
            _ => None,
        }
    }

    /// The partner organisation and role, when acting for a partner.
    pub fn partner(&self) -> Option<(&PartnerId, PartnerRole)> {
        match &self.membership {
            Membership::Partner { partner_id, role, .. } => Some((partner_id, *role)),
            _ => None,
        }
    }

    /// The acting user, if a person (not a partner key or the system).
    pub fn user_id(&self) -> Option<&UserId> {
        match &self.membership {
            Membership::Staff { user_id, .. } => Some(user_id),
            Membership::Partner { user_id, .. } => user_id.as_ref(),
            Membership::System => None,
        }
    }

    pub fn is_system(&self) -> bool {
        matches!(self.membership, Membership::System)
    }

    /// True when the caller acts as staff with one of `roles`, or is the system.
    pub fn has_vendor_role(&self, roles: &[VendorRole]) -> bool {
        self.is_system() || self.vendor_role().is_some_and(|r| roles.contains(&r))
    }

    /// 403 unless the caller is staff with one of `roles` (or the system).
    pub fn require_vendor_role(&self, roles: &[VendorRole], what: &str) -> Result<()> {
        if self.has_vendor_role(roles) { Ok(()) } else { Err(Error::forbidden(format!("your role may not {what}"))) }
    }

    /// 403 unless staff owner/admin.
    pub fn require_workspace_admin(&self, what: &str) -> Result<()> {
        self.require_vendor_role(&[VendorRole::Owner, VendorRole::Admin], what)
    }

    /// What PostgreSQL row security lets this request's transactions see: partner callers and
    /// restricted channel managers are restricted (by who acts, not by a list of ids); other staff
    /// and the system are not.
    fn row_security(&self) -> RowSecurity {
        match &self.visibility {
            Visibility::All => RowSecurity::Unrestricted,
            Visibility::Subtree(partner_id) => RowSecurity::Partner(partner_id.as_str().to_owned()),
            Visibility::Managed(user_id) => RowSecurity::Manager(user_id.as_str().to_owned()),
        }
    }
}

/// What [`Scope::write`] answers a read-only credential.
const READ_ONLY: &str = "this API key is read-only";

/// A partner the caller was found to see, by [`ScopedTx::see_partner`]: what a store function that
/// reads one partner's rows takes instead of checking visibility again (the `…_in` functions of
/// the services), so a page showing one partner checks it once, in one transaction. Only a check
/// makes one; it holds for transactions of the same caller (the same workspace and visibility
/// rule), and [`ScopedTx::seen`] answers another caller's as not found.
#[derive(Debug, Clone)]
pub struct SeenPartner {
    id: PartnerId,
    status: PartnerStatus,
    workspace_id: WorkspaceId,
    visibility: Visibility,
}

impl SeenPartner {
    pub fn id(&self) -> &PartnerId {
        &self.id
    }

    /// The partner's status when it was checked.
    pub fn status(&self) -> PartnerStatus {
        self.status
    }
}

/// A transaction opened from a [`Scope`]: on PostgreSQL it runs under the caller's row security,
/// and it carries the caller's visibility rule, so a store function filters partner-owned rows
/// with what its own transaction carries. Dropping it without [`ScopedTx::commit`] rolls back.
/// The queries themselves are [`Tx`]'s (through `Deref`).
pub struct ScopedTx {
    tx: Tx,
    workspace_id: WorkspaceId,
    visibility: Visibility,
}

impl Deref for ScopedTx {
    type Target = Tx;

    fn deref(&self) -> &Tx {
        &self.tx
    }
}

impl DerefMut for ScopedTx {
    fn deref_mut(&mut self) -> &mut Tx {
        &mut self.tx
    }
}

impl ScopedTx {
    /// The workspace of the caller this transaction was opened for.
    pub fn workspace_id(&self) -> &WorkspaceId {
        &self.workspace_id
    }

    /// Commits (or parks the commit inside `held::hold_commits`, as [`Tx::commit`] does).
    pub async fn commit(self) -> DbResult<()> {
        self.tx.commit().await
    }

    /// The rest of this transaction as work of `grant`, which row security does not restrict:
    /// for a change whose caller's part is done and whose last part must touch rows the caller
    /// may not see, atomically with it (the conflict engine marks the other side of a race).
    /// Consumes the scoped transaction, so the caller's visibility rule cannot be applied to
    /// what follows by mistake; every grant is listed in docs/ARCHITECTURE.md "System context".
    pub async fn into_granted(self, grant: &'static SystemGrant) -> Result<Tx> {
        let mut tx = self.tx;
        tx.lift_row_security(grant).await?;
        Ok(tx)
    }

    /// Whether a partner's rows are visible: the per-object form of the visibility rule, one
    /// primary-key lookup.
    pub async fn can_see_partner(&mut self, partner_id: &PartnerId) -> Result<bool> {
        if matches!(self.visibility, Visibility::All) {
            return Ok(true);
        }
        count_partner_check();
        let mut q = Sql::build("SELECT 1 AS seen FROM partners WHERE workspace_id = ");
        q.push_bind(&self.workspace_id).push(" AND id = ").push_bind(partner_id).push(" AND ");
        self.push_partner_filter(&mut q, "partners.id");
        Ok(self.tx.fetch_optional(q).await?.is_some())
    }

    /// Checks once that the partner exists and the caller sees it (`Error::NotFound` otherwise,
    /// the answer for a missing one), and answers the proof the `…_in` functions take.
    pub async fn see_partner(&mut self, partner_id: &PartnerId) -> Result<SeenPartner> {
        count_partner_check();
        let mut q = Sql::build("SELECT status FROM partners WHERE workspace_id = ");
        q.push_bind(&self.workspace_id).push(" AND id = ").push_bind(partner_id).push(" AND ");
        self.push_partner_filter(&mut q, "partners.id");
        let row = self.tx.fetch_optional(q).await?.ok_or(Error::NotFound)?;
        let status: String = row.get("status")?;
        Ok(SeenPartner {
            id: partner_id.clone(),
            status: PartnerStatus::parse(&status).ok_or_else(|| Error::Internal(format!("stored status {status}")))?,
            workspace_id: self.workspace_id.clone(),
            visibility: self.visibility.clone(),
        })
    }

    /// The id of a partner this caller was found to see; not found when `seen` was made for
    /// another caller (a different workspace or visibility rule).
    pub fn seen<'a>(&self, seen: &'a SeenPartner) -> Result<&'a PartnerId> {
        if seen.workspace_id == self.workspace_id && seen.visibility == self.visibility { Ok(&seen.id) } else { Err(Error::NotFound) }
    }

    /// Appends the visibility rule for `column` (a partner id column) as one boolean expression:
    /// an `EXISTS` probe of the closure table's index per row, or `TRUE` when everything is
    /// visible. `column` must name the row's partner id qualified enough to be unambiguous inside a
    /// subquery over `partner_ancestry` (e.g. `c.partner_id`, `partners.id`, or a bare `partner_id`).
    ///
    /// The subquery ends in `LIMIT 1 OFFSET 0`, so it stays one index probe per row read.
    pub fn push_partner_filter(&self, sql: &mut Sql, column: &str) {
        match &self.visibility {
            Visibility::Subtree(partner_id) if app_filter_enabled() => {
                sql.push("EXISTS (SELECT 1 FROM partner_ancestry va WHERE va.workspace_id = ").push_bind(&self.workspace_id);
                sql.push(" AND va.ancestor_id = ").push_bind(partner_id).push(" AND va.descendant_id = ").push(column).push(PROBE_PER_ROW);
            }
            Visibility::Managed(user_id) if app_filter_enabled() => {
                sql.push("EXISTS (SELECT 1 FROM partner_ancestry va WHERE va.workspace_id = ").push_bind(&self.workspace_id);
                sql.push(" AND va.descendant_id = ")
                    .push(column)
                    .push(" AND va.ancestor_manager_user_id = ")
                    .push_bind(user_id)
                    .push(PROBE_PER_ROW);
            }
            _ => {
                sql.push("TRUE");
            }
        }
    }

    /// Appends the `FROM` and `WHERE` of a query over the partners the caller sees, and answers
    /// the column to order and page that query by (newest first). For a partner caller it walks
    /// the closure table's primary key from the caller's own row; for a restricted manager, the
    /// closure's manager index from the manager, keeping each partner once (its row under the
    /// nearest ancestor they manage: a probe of at most the tree's depth). So a page costs its
    /// length whatever the size of the subtree, of the manager's portfolio or of the workspace
    /// (a manager of three partners among 50,000 does not scan the 50,000). Staff who see
    /// everything read `partners` as it is. Further conditions are appended with ` AND …`.
    pub fn push_visible_partners(&self, sql: &mut Sql) -> &'static str {
        match &self.visibility {
            Visibility::Subtree(partner_id) if app_filter_enabled() => {
                sql.push(
                    " FROM partner_ancestry va JOIN partners ON partners.workspace_id = va.workspace_id AND partners.id = va.descendant_id",
                );
                sql.push(" WHERE va.workspace_id = ").push_bind(&self.workspace_id).push(" AND va.ancestor_id = ").push_bind(partner_id);
                "va.descendant_id"
            }
            Visibility::Managed(user_id) if app_filter_enabled() => {
                sql.push(
                    " FROM partner_ancestry va JOIN partners ON partners.workspace_id = va.workspace_id AND partners.id = va.descendant_id",
                );
                sql.push(" WHERE va.workspace_id = ")
                    .push_bind(&self.workspace_id)
                    .push(" AND va.ancestor_manager_user_id = ")
                    .push_bind(user_id);
                sql.push(
                    " AND NOT EXISTS (SELECT 1 FROM partner_ancestry nearer WHERE nearer.workspace_id = va.workspace_id \
                     AND nearer.descendant_id = va.descendant_id AND nearer.ancestor_manager_user_id = va.ancestor_manager_user_id \
                     AND nearer.depth < va.depth",
                )
                .push(PROBE_PER_ROW);
                "va.descendant_id"
            }
            _ => {
                sql.push(" FROM partners WHERE partners.workspace_id = ").push_bind(&self.workspace_id).push(" AND ");
                self.push_partner_filter(sql, "partners.id");
                "partners.id"
            }
        }
    }

    /// Money stays private to each organisation: a partner sees only its own, never a descendant's.
    pub async fn can_see_money_of(&mut self, partner_id: &PartnerId) -> Result<bool> {
        match &self.visibility {
            // Only a partner caller has a subtree, rooted at its own organisation.
            Visibility::Subtree(own) => Ok(own == partner_id),
            _ => self.can_see_partner(partner_id).await,
        }
    }
}
