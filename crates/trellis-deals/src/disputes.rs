//! Disputes (API.md "Deals", "Disputes and extension requests"): a partner asks the channel team
//! to look again at a decision it thinks is wrong. The dispute object is general — its subject
//! names what is disputed ([`DisputeSubject`]: a rejected deal registration, or a commission,
//! a clawback included) — and its status machine is one transition table per subject
//! ([`TRANSITIONS`]), which the services check, the console's buttons come from and docs/API.md
//! prints (a test compares the two).
//!
//! The workflow: the registering partner's admins or sales people (or those of an ancestor, a
//! distributor working its resellers' deals) open a dispute of a rejected registration with a
//! reason; it is routed to the partner's channel manager (the workspace's owners and admins when
//! the partner has none), who upholds the rejection or overturns it, with a note the partner
//! reads. Overturning re-opens the deal for review (`rejected → under_review`, the deal table's
//! `deal.reopened`, made by Trellis as the dispute's outcome) in the same transaction. One dispute
//! of a subject is open at a time, and a rejection is disputed once: after an upheld dispute the
//! decision is final (409), while a deal that is overturned and rejected again may be disputed
//! again (a new decision).
//!
//! Visibility is the partner's (`disputes.partner_id`, the deal's registering partner): staff see
//! every dispute, a restricted channel manager those of the partners they manage, a partner its
//! own and its descendants'; anything else is 404.
//!
//! A dispute of a commission is money, private to the organisation (ADR 0016): its admins and
//! finance people open it on one of their own commissions (not a reversed one) with a reason, and
//! only they see it — never a distributor, nor the organisation's other roles (404, and on
//! PostgreSQL the row policy says the same). Owners, admins and finance resolve it: upheld, the
//! commission stands; overturned, the money crate applies the table's effect in the same
//! transaction (`trellis_incentives::commissions::overturn_dispute_in`: a clawback or reversal
//! not yet paid out is undone, a hold is released, otherwise the note says what finance does).
//! One dispute of a commission is open at a time, and an upheld one is final (409).

use serde_json::{Value as Json, json};
use trellis_core::{
    CommissionId, Currency, DealId, DisputeId, Error, Page, PartnerId, PartnerRole, Result, Timestamp, UserId, Validation, VendorRole,
    string_enum,
};
use trellis_db::{Row, Sql, Tx, sql};
use trellis_identity::audit::{self, AuditEntry};
use trellis_identity::{Ctx, Membership, Scope, ScopedTx};
use trellis_incentives::commissions::{self, CommissionKind, DisputeOverturn, MONEY_WRITERS, PARTNER_MONEY_READERS};
use trellis_incentives::statuses::CommissionStatus;

use crate::conflicts;
use crate::deals::{self, Deal, DealSource};
use crate::statuses::{self as deal_statuses, Actor, DealStatus};

string_enum!(
    /// Where a dispute stands.
    DisputeStatus {
        Open => "open",
        Upheld => "upheld",
        Overturned => "overturned",
    }
);

impl DisputeStatus {
    /// How the pages name it.
    pub fn label(self) -> &'static str {
        match self {
            DisputeStatus::Open => "Open: waiting for the channel team",
            DisputeStatus::Upheld => "Decision upheld",
            DisputeStatus::Overturned => "Decision overturned",
        }
    }

    /// How the pages name it for a dispute of `subject` type (a commission's waits for finance).
    pub fn label_for(self, subject: &str) -> &'static str {
        match (subject, self) {
            (COMMISSION, DisputeStatus::Open) => "Open: waiting for the finance team",
            _ => self.label(),
        }
    }
}

/// What a dispute is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisputeSubject {
    /// A rejected deal registration.
    Deal(DealId),
    /// A commission of the partner's own organisation (a clawback or reversal included).
    Commission(CommissionId),
}

/// `disputes.subject_type` of a deal.
pub const DEAL: &str = "deal";
/// `disputes.subject_type` of a commission.
pub const COMMISSION: &str = "commission";

impl DisputeSubject {
    /// `disputes.subject_type`.
    pub fn kind(&self) -> &'static str {
        match self {
            DisputeSubject::Deal(_) => DEAL,
            DisputeSubject::Commission(_) => COMMISSION,
        }
    }

    /// `disputes.subject_id`.
    pub fn id(&self) -> &str {
        match self {
            DisputeSubject::Deal(id) => id.as_str(),
            DisputeSubject::Commission(id) => id.as_str(),
        }
    }

    fn from_stored(kind: &str, id: &str) -> Result<Self> {
        let bad = |_| Error::Internal(format!("stored dispute subject {id}"));
        match kind {
            DEAL => Ok(DisputeSubject::Deal(id.parse().map_err(bad)?)),
            COMMISSION => Ok(DisputeSubject::Commission(id.parse().map_err(bad)?)),
            other => Err(Error::Internal(format!("stored dispute subject type {other}"))),
        }
    }

    pub fn deal_id(&self) -> Option<&DealId> {
        match self {
            DisputeSubject::Deal(id) => Some(id),
            DisputeSubject::Commission(_) => None,
        }
    }

    pub fn commission_id(&self) -> Option<&CommissionId> {
        match self {
            DisputeSubject::Commission(id) => Some(id),
            DisputeSubject::Deal(_) => None,
        }
    }
}

/// One allowed change of a dispute's status, made by workspace staff: those who manage partners
/// for a deal, those who write money (owners, admins, finance) for a commission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// The subject type (`deal`, `commission`) the row is for.
    pub subject: &'static str,
    pub from: DisputeStatus,
    pub to: DisputeStatus,
    /// The audit action recorded for the change.
    pub action: &'static str,
    /// The choice the console offers for it.
    pub button: &'static str,
    /// What happens to the subject.
    pub effect: &'static str,
}

/// Every status change of a dispute. A dispute starts `open` (`dispute.opened`); `upheld` and
/// `overturned` are final.
pub const TRANSITIONS: &[Transition] = &[
    Transition {
        subject: DEAL,
        from: DisputeStatus::Open,
        to: DisputeStatus::Upheld,
        action: "dispute.upheld",
        button: "Uphold the rejection",
        effect: "the deal stays rejected; the decision is final",
    },
    Transition {
        subject: DEAL,
        from: DisputeStatus::Open,
        to: DisputeStatus::Overturned,
        action: "dispute.overturned",
        button: "Overturn: re-open the deal for review",
        effect: "the deal goes back to `under_review` (`deal.reopened`)",
    },
    Transition {
        subject: COMMISSION,
        from: DisputeStatus::Open,
        to: DisputeStatus::Upheld,
        action: "dispute.upheld",
        button: "Uphold: the commission stands",
        effect: "the commission stays as it is; the decision is final",
    },
    Transition {
        subject: COMMISSION,
        from: DisputeStatus::Open,
        to: DisputeStatus::Overturned,
        action: "dispute.overturned",
        button: "Overturn the decision on the commission",
        effect: "a clawback or reversal not yet in a payout is undone by an equal positive reversal, both `reversed` \
                 (`commission.restored`); a held commission is released (`commission.hold_released`); otherwise the money \
                 stays and the note tells the partner what finance does (a correcting bonus, say)",
    },
];

/// The transition of a `subject` type's dispute from `from` to `to`, if the table has it.
pub fn find(subject: &str, from: DisputeStatus, to: DisputeStatus) -> Option<&'static Transition> {
    TRANSITIONS.iter().find(|tr| tr.subject == subject && tr.from == from && tr.to == to)
}

/// The choices the console offers on a dispute of `subject` type in `from`, in table order.
pub fn choices(subject: &str, from: DisputeStatus) -> Vec<&'static Transition> {
    TRANSITIONS.iter().filter(|tr| tr.subject == subject && tr.from == from).collect()
}

/// The table as docs/API.md prints it (a Markdown table).
pub fn markdown_table() -> String {
    let mut out = String::from("| Subject | From | To | Audit action | Button | Effect |\n| --- | --- | --- | --- | --- | --- |\n");
    for tr in TRANSITIONS {
        out.push_str(&format!("| `{}` | `{}` | `{}` | `{}` | {} | {} |\n", tr.subject, tr.from, tr.to, tr.action, tr.button, tr.effect));
    }
    out
}

/// What the pages and the API show of the disputed deal.
#[derive(Debug, Clone)]
pub struct DisputedDeal {
    pub deal_id: DealId,
    pub customer_name: String,
    pub status: DealStatus,
}

/// What the pages and the API show of the disputed commission.
#[derive(Debug, Clone)]
pub struct DisputedCommission {
    pub commission_id: CommissionId,
    pub kind: CommissionKind,
    /// Signed: a clawback or reversal is negative.
    pub amount_minor: i64,
    pub currency: Currency,
    pub status: CommissionStatus,
}

#[derive(Debug, Clone)]
pub struct Dispute {
    pub id: DisputeId,
    pub subject: DisputeSubject,
    pub partner_id: PartnerId,
    pub partner_name: String,
    pub status: DisputeStatus,
    pub reason: String,
    pub resolution_note: Option<String>,
    pub opened_by_user_id: Option<UserId>,
    pub resolved_by_user_id: Option<UserId>,
    pub created_at: Timestamp,
    pub resolved_at: Option<Timestamp>,
    /// The disputed deal (for a deal subject).
    pub deal: Option<DisputedDeal>,
    /// The reason the partner was given for the disputed decision.
    pub rejection_reason: Option<String>,
    /// The disputed commission (for a commission subject).
    pub commission: Option<DisputedCommission>,
}

string_enum!(
    /// What happened, in a dispute's timeline.
    TimelineEvent {
        DealRejected => "deal_rejected",
        Opened => "dispute_opened",
        Upheld => "dispute_upheld",
        Overturned => "dispute_overturned",
    }
);

impl TimelineEvent {
    pub fn label(self) -> &'static str {
        match self {
            TimelineEvent::DealRejected => "Registration rejected",
            TimelineEvent::Opened => "Dispute opened",
            TimelineEvent::Upheld => "Rejection upheld",
            TimelineEvent::Overturned => "Rejection overturned: the deal is back in review",
        }
    }

    /// The label for a dispute of `subject` type.
    pub fn label_for(self, subject: &str) -> &'static str {
        match (subject, self) {
            (COMMISSION, TimelineEvent::Upheld) => "Decision upheld: the commission stands",
            (COMMISSION, TimelineEvent::Overturned) => "Decision overturned",
            _ => self.label(),
        }
    }
}

/// One entry of a dispute's timeline, oldest first.
#[derive(Debug, Clone)]
pub struct TimelineEntry {
    pub at: Timestamp,
    pub event: TimelineEvent,
    /// The event in words for the dispute's subject.
    pub label: &'static str,
    /// Who: a person's name (or address); `None` when no person did it.
    pub by: Option<String>,
    /// The reason, outcome note or rejection reason.
    pub text: Option<String>,
}

/// A dispute and its timeline.
#[derive(Debug, Clone)]
pub struct DisputeDetail {
    pub dispute: Dispute,
    pub timeline: Vec<TimelineEntry>,
}

/// Which disputes a list shows.
#[derive(Debug, Clone, Default)]
pub struct DisputeFilter {
    pub status: Option<DisputeStatus>,
    pub subject: Option<DisputeSubject>,
    /// The queue: oldest first. Newest first otherwise.
    pub oldest_first: bool,
    pub cursor: Option<DisputeId>,
    pub limit: Option<i64>,
}

const COLUMNS: &str = "x.id, x.subject_type, x.subject_id, x.partner_id, p.name AS partner_name, x.status, x.reason, x.resolution_note,
     x.opened_by_user_id, x.resolved_by_user_id, x.created_at, x.resolved_at, d.customer_name AS deal_customer_name,
     d.status AS deal_status, d.decision_note AS deal_decision_note, cm.kind AS commission_kind, cm.amount_minor AS commission_amount_minor,
     cm.currency AS commission_currency, cm.status AS commission_status";

const FROM: &str = " FROM disputes x JOIN partners p ON p.workspace_id = x.workspace_id AND p.id = x.partner_id
     LEFT JOIN deals d ON d.workspace_id = x.workspace_id AND x.subject_type = 'deal' AND d.id = x.subject_id
     LEFT JOIN commission_states cm ON cm.workspace_id = x.workspace_id AND x.subject_type = 'commission' AND cm.id = x.subject_id";

fn from_row(row: &Row) -> Result<Dispute> {
    let status: String = row.get("status")?;
    let subject_type: String = row.get("subject_type")?;
    let subject_id: String = row.get("subject_id")?;
    let subject = DisputeSubject::from_stored(&subject_type, &subject_id)?;
    let deal_status: Option<String> = row.get("deal_status")?;
    let deal = match (subject.deal_id(), deal_status) {
        (Some(deal_id), Some(status)) => Some(DisputedDeal {
            deal_id: deal_id.clone(),
            customer_name: row.get("deal_customer_name")?,
            status: DealStatus::parse(&status).ok_or_else(|| Error::Internal(format!("stored deal status {status}")))?,
        }),
        _ => None,
    };
    let rejection_reason = match &deal {
        Some(d) if d.status == DealStatus::Rejected => row.get("deal_decision_note")?,
        _ => None,
    };
    let commission_kind: Option<String> = row.get("commission_kind")?;
    let commission = match (subject.commission_id(), commission_kind) {
        (Some(commission_id), Some(kind)) => {
            let currency: String = row.get("commission_currency")?;
            let status: String = row.get("commission_status")?;
            let stored = |what: &str, text: &str| Error::Internal(format!("stored commission {what} {text}"));
            Some(DisputedCommission {
                commission_id: commission_id.clone(),
                kind: CommissionKind::parse(&kind).ok_or_else(|| stored("kind", &kind))?,
                amount_minor: row.get("commission_amount_minor")?,
                currency: Currency::parse(&currency).map_err(|_| stored("currency", &currency))?,
                status: CommissionStatus::parse(&status).ok_or_else(|| stored("status", &status))?,
            })
        }
        _ => None,
    };
    Ok(Dispute {
        id: row.get("id")?,
        subject,
        partner_id: row.get("partner_id")?,
        partner_name: row.get("partner_name")?,
        status: DisputeStatus::parse(&status).ok_or_else(|| Error::Internal(format!("stored dispute status {status}")))?,
        reason: row.get("reason")?,
        resolution_note: row.get("resolution_note")?,
        opened_by_user_id: row.get("opened_by_user_id")?,
        resolved_by_user_id: row.get("resolved_by_user_id")?,
        created_at: row.get("created_at")?,
        resolved_at: row.get("resolved_at")?,
        deal,
        rejection_reason,
        commission,
    })
}

/// Appends which disputes the caller sees: a deal's follow the partner rule (own and
/// descendants'); a commission's are money, private to the organisation (its admins and finance
/// people alone, never a distributor); staff see both by the partner rule.
fn push_visible(tx: &ScopedTx, scope: &Scope, q: &mut Sql) {
    match scope.membership() {
        Membership::Partner { partner_id, role, .. } => {
            q.push("((x.subject_type <> 'commission' AND ");
            tx.push_partner_filter(q, "x.partner_id");
            q.push(")");
            if PARTNER_MONEY_READERS.contains(role) {
                q.push(" OR (x.subject_type = 'commission' AND x.partner_id = ").push_bind(partner_id).push(")");
            }
            q.push(")");
        }
        _ => tx.push_partner_filter(q, "x.partner_id"),
    }
}

/// One dispute the caller sees, in its transaction; 404 otherwise.
pub async fn find_in(tx: &mut ScopedTx, scope: &Scope, id: &DisputeId) -> Result<Dispute> {
    let mut q = Sql::build("SELECT ");
    q.push(COLUMNS).push(FROM).push(" WHERE x.workspace_id = ").push_bind(scope.workspace_id());
    q.push(" AND x.id = ").push_bind(id).push(" AND ");
    push_visible(tx, scope, &mut q);
    let mut dispute = from_row(&tx.fetch_optional(q).await?.ok_or(Error::NotFound)?)?;
    if dispute.rejection_reason.is_none()
        && let Some(deal_id) = dispute.subject.deal_id().cloned()
        && let Some(rejection) = last_rejection(tx, scope, &deal_id, Some(dispute.created_at)).await?
    {
        dispute.rejection_reason = rejection.reason;
    }
    Ok(dispute)
}

/// The disputed decision as the deal's own audit event records it (the deal was checked visible).
struct Rejection {
    at: Timestamp,
    by: Option<String>,
    reason: Option<String>,
}

/// The last rejection of a deal (at or before `until`), read from the deal's audit event
/// (`deal.rejected`, indexed by target): the deal's `decision_note` changes with its next decision,
/// the dispute's timeline keeps the reason the partner disputed.
async fn last_rejection(tx: &mut Tx, scope: &Scope, deal_id: &DealId, until: Option<Timestamp>) -> Result<Option<Rejection>> {
    let until = until.map_or(i64::MAX, |t| t.micros());
    let row = tx
        .fetch_optional(sql!(
            "SELECT e.at, e.changes, COALESCE(NULLIF(u.name, ''), e.actor_email) AS by_name FROM audit_events e
             LEFT JOIN users u ON e.actor_type = 'user' AND u.id = e.actor_id
             WHERE e.workspace_id = $1 AND e.target_id = $2 AND e.action = 'deal.rejected' AND e.at <= $3
             ORDER BY e.seq DESC LIMIT 1",
            scope.workspace_id(),
            deal_id,
            until
        ))
        .await?;
    let Some(row) = row else { return Ok(None) };
    let changes: String = row.get("changes")?;
    let changes: Json = serde_json::from_str(&changes).unwrap_or(Json::Null);
    let reason = changes["reason"][1].as_str().map(str::to_owned);
    Ok(Some(Rejection { at: row.get("at")?, by: row.get("by_name")?, reason }))
}

async fn person(tx: &mut Tx, user_id: Option<&UserId>) -> Result<Option<String>> {
    let Some(user_id) = user_id else { return Ok(None) };
    let row = tx.fetch_optional(sql!("SELECT name, email FROM users WHERE id = $1", user_id)).await?;
    Ok(match row {
        Some(row) => {
            let name: String = row.get("name")?;
            Some(if name.trim().is_empty() { row.get("email")? } else { name })
        }
        None => None,
    })
}

/// The timeline of a dispute the caller sees: the disputed rejection, the opening with its
/// reason, and the outcome with its note.
async fn timeline_in(tx: &mut ScopedTx, scope: &Scope, dispute: &Dispute) -> Result<Vec<TimelineEntry>> {
    let mut out = Vec::new();
    if let Some(deal_id) = dispute.subject.deal_id()
        && let Some(rejection) = last_rejection(tx, scope, deal_id, Some(dispute.created_at)).await?
    {
        let event = TimelineEvent::DealRejected;
        out.push(TimelineEntry { at: rejection.at, event, label: event.label(), by: rejection.by, text: rejection.reason });
    }
    let subject = dispute.subject.kind();
    let opened_by = person(tx, dispute.opened_by_user_id.as_ref()).await?;
    let event = TimelineEvent::Opened;
    out.push(TimelineEntry {
        at: dispute.created_at,
        event,
        label: event.label_for(subject),
        by: opened_by,
        text: Some(dispute.reason.clone()),
    });
    if let Some(at) = dispute.resolved_at {
        let event = if dispute.status == DisputeStatus::Overturned { TimelineEvent::Overturned } else { TimelineEvent::Upheld };
        let by = person(tx, dispute.resolved_by_user_id.as_ref()).await?;
        out.push(TimelineEntry { at, event, label: event.label_for(subject), by, text: dispute.resolution_note.clone() });
    }
    Ok(out)
}

/// `GET /api/v1/disputes/{id}`: the dispute and its timeline.
pub async fn get(ctx: &Ctx, scope: &Scope, id: &DisputeId) -> Result<DisputeDetail> {
    let mut tx = scope.read(ctx).await?;
    let dispute = find_in(&mut tx, scope, id).await?;
    let timeline = timeline_in(&mut tx, scope, &dispute).await?;
    Ok(DisputeDetail { dispute, timeline })
}

/// `GET /api/v1/disputes`: the disputes the caller sees. The queue (`oldest_first`, usually with
/// `status: open`) is what the channel team works through; a restricted channel manager's holds
/// the partners they manage (disputes are routed to the partner's channel manager).
pub async fn list(ctx: &Ctx, scope: &Scope, filter: &DisputeFilter) -> Result<Page<Dispute>> {
    let mut tx = scope.read(ctx).await?;
    list_in(&mut tx, scope, filter).await
}

/// [`list`] inside the caller's transaction.
pub async fn list_in(tx: &mut ScopedTx, scope: &Scope, filter: &DisputeFilter) -> Result<Page<Dispute>> {
    let mut q = Sql::build("SELECT ");
    q.push(COLUMNS).push(FROM).push(" WHERE x.workspace_id = ").push_bind(scope.workspace_id()).push(" AND ");
    push_visible(tx, scope, &mut q);
    if let Some(status) = filter.status {
        q.push(" AND x.status = ").push_bind(status.as_str());
    }
    if let Some(subject) = &filter.subject {
        q.push(" AND x.subject_type = ").push_bind(subject.kind()).push(" AND x.subject_id = ").push_bind(subject.id());
    }
    if let Some(cursor) = &filter.cursor {
        q.push(if filter.oldest_first { " AND x.id > " } else { " AND x.id < " }).push_bind(cursor);
    }
    let direction = if filter.oldest_first { "ASC" } else { "DESC" };
    q.push(&format!(" ORDER BY x.id {direction} LIMIT ")).push_bind(trellis_core::page::fetch_limit(filter.limit));
    let rows: Vec<Dispute> = tx.fetch_all(q).await?.iter().map(from_row).collect::<Result<_>>()?;
    Ok(Page::from_rows(rows, filter.limit, |d| d.id.to_string()))
}

/// Who may speak for the registering partner: its admins and sales people, and those of its
/// ancestors (a distributor works its resellers' deals); a partner API key acts as its role.
pub(crate) fn require_partner_deal_worker(scope: &Scope, what: &str) -> Result<()> {
    match scope.membership() {
        Membership::Partner { role: PartnerRole::Admin | PartnerRole::Sales, .. } => Ok(()),
        Membership::Partner { .. } => Err(Error::forbidden(format!("only a partner's admins and sales people {what}"))),
        // The system acts for the partner (demo seeding).
        Membership::System => Ok(()),
        _ => Err(Error::forbidden(format!("the registering partner {what}, not the vendor's staff"))),
    }
}

/// A deal the partner caller registered (or a descendant did), for a change of the registering
/// side; a deal it is only credited on is 403.
pub(crate) async fn registrant_deal(tx: &mut ScopedTx, scope: &Scope, deal_id: &DealId) -> Result<Deal> {
    let deal = deals::find_in(tx, scope, deal_id).await?;
    match (&deal.source, &deal.partner_id) {
        (DealSource::Partner, Some(partner_id)) if tx.can_see_partner(partner_id).await? => Ok(deal),
        _ => Err(Error::forbidden("only the registering partner's side may do this")),
    }
}

/// `POST /api/v1/deals/{id}/disputes`: the registering side disputes the rejection of its deal.
/// Records an open dispute of `subject` for `partner_id`, audited (`dispute.opened`).
async fn insert_open_in(
    tx: &mut ScopedTx,
    scope: &Scope,
    now: Timestamp,
    subject: &DisputeSubject,
    partner_id: &PartnerId,
    reason: &str,
) -> Result<DisputeId> {
    let id = DisputeId::generate();
    tx.execute(sql!(
        "INSERT INTO disputes (workspace_id, id, subject_type, subject_id, partner_id, status, reason, opened_by_user_id, created_at)
         VALUES ($1, $2, $3, $4, $5, 'open', $6, $7, $8)",
        scope.workspace_id(),
        &id,
        subject.kind(),
        subject.id(),
        partner_id,
        reason,
        scope.user_id().cloned(),
        now
    ))
    .await?;
    let entry = AuditEntry::new("dispute.opened", "dispute", id.as_str())
        .set("partner_id", json!(partner_id))
        .set("subject_type", subject.kind())
        .set("subject_id", subject.id())
        .set("reason", reason);
    audit::record(tx, scope, now, entry).await?;
    Ok(id)
}

pub async fn open(ctx: &Ctx, scope: &Scope, deal_id: &DealId, reason: &str) -> Result<DisputeDetail> {
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    let deal = deals::find_in(&mut tx, scope, deal_id).await?;
    require_partner_deal_worker(scope, "dispute a decision on a deal")?;
    let deal = registrant_deal(&mut tx, scope, &deal.id).await?;
    let mut v = Validation::new();
    let reason = v.text("reason", reason, 2000);
    v.finish().map_err(Error::Validation)?;
    let reason = reason.unwrap_or_default();
    if deal.status != DealStatus::Rejected {
        return Err(Error::conflict(format!(
            "only a rejected registration can be disputed; this deal is {}",
            deal.status.label().to_lowercase()
        )));
    }
    let partner_id = deal.partner_id.clone().ok_or_else(|| Error::Internal("a partner's deal has a partner".into()))?;
    // Takes the deal's row, so two disputes of the same decision cannot both find none open.
    tx.execute(sql!("UPDATE deals SET index_seq = index_seq WHERE workspace_id = $1 AND id = $2", scope.workspace_id(), deal_id)).await?;
    let subject = DisputeSubject::Deal(deal_id.clone());
    let rejected_at = last_rejection(&mut tx, scope, deal_id, None).await?.map_or(deal.updated_at, |r| r.at);
    let earlier = tx
        .fetch_all(sql!(
            "SELECT status FROM disputes WHERE workspace_id = $1 AND subject_type = $2 AND subject_id = $3
             AND (status = 'open' OR (status = 'upheld' AND created_at >= $4))",
            scope.workspace_id(),
            subject.kind(),
            subject.id(),
            rejected_at
        ))
        .await?;
    if let Some(row) = earlier.first() {
        let status: String = row.get("status")?;
        return Err(Error::conflict(if status == "open" {
            "a dispute of this decision is already open; the channel team will answer it".to_owned()
        } else {
            "this rejection was disputed and upheld; the decision is final".to_owned()
        }));
    }
    let id = insert_open_in(&mut tx, scope, now, &subject, &partner_id, &reason).await?;
    let text = format!(
        "{} disputes the rejection of its registration of {}:\n\n{reason}\n\nUphold or overturn the decision: {}",
        deal.partner_name.clone().unwrap_or_default(),
        deal.customer_name,
        ctx.link(&format!("/console/disputes/{id}"))
    );
    crate::notify::to_channel_team_in(
        &mut tx,
        scope.workspace_id(),
        &partner_id,
        "dispute_opened",
        &format!("Dispute: {}", deal.customer_name),
        &text,
        scope.user_id(),
        now,
    )
    .await?;
    let dispute = find_in(&mut tx, scope, &id).await?;
    let timeline = timeline_in(&mut tx, scope, &dispute).await?;
    tx.commit().await?;
    Ok(DisputeDetail { dispute, timeline })
}

/// `POST /api/v1/commissions/{id}/disputes`: the organisation's admins or finance people dispute
/// one of its own commissions (module documentation).
pub async fn open_for_commission(ctx: &Ctx, scope: &Scope, commission_id: &CommissionId, reason: &str) -> Result<DisputeDetail> {
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    // 404 for another organisation's money, 403 for roles that do not read it or for staff; the
    // commission's row is taken, so two disputes of it cannot both find none open.
    let commission = commissions::for_dispute_in(&mut tx, scope, commission_id).await?;
    let mut v = Validation::new();
    let reason = v.text("reason", reason, 2000);
    v.finish().map_err(Error::Validation)?;
    let reason = reason.unwrap_or_default();
    if commission.status == CommissionStatus::Reversed {
        return Err(Error::conflict("a reversed commission is settled (it nets to zero with its reversal) and cannot be disputed"));
    }
    let subject = DisputeSubject::Commission(commission_id.clone());
    let earlier = tx
        .fetch_all(sql!(
            "SELECT status FROM disputes WHERE workspace_id = $1 AND subject_type = $2 AND subject_id = $3 AND status IN ('open', 'upheld')",
            scope.workspace_id(),
            subject.kind(),
            subject.id()
        ))
        .await?;
    if let Some(row) = earlier.first() {
        let status: String = row.get("status")?;
        return Err(Error::conflict(if status == "open" {
            "a dispute of this commission is already open; the finance team will answer it".to_owned()
        } else {
            "this commission was disputed and the decision upheld; it is final".to_owned()
        }));
    }
    let partner_id = commission.partner_id.clone();
    let id = insert_open_in(&mut tx, scope, now, &subject, &partner_id, &reason).await?;
    let what = commission_in_words(commission.kind, commission.amount_minor, commission.currency);
    let text = format!(
        "{} disputes its {what}:\n\n{reason}\n\nUphold or overturn the decision: {}",
        commission.partner_name,
        ctx.link(&format!("/console/disputes/{id}"))
    );
    crate::notify::to_channel_team_in(
        &mut tx,
        scope.workspace_id(),
        &partner_id,
        "dispute_opened",
        &format!("Dispute: {what} of {}", commission.partner_name),
        &text,
        scope.user_id(),
        now,
    )
    .await?;
    let dispute = find_in(&mut tx, scope, &id).await?;
    let timeline = timeline_in(&mut tx, scope, &dispute).await?;
    tx.commit().await?;
    Ok(DisputeDetail { dispute, timeline })
}

/// `sale commission of 200.00 EUR`, as an email names a commission.
fn commission_in_words(kind: CommissionKind, amount_minor: i64, currency: Currency) -> String {
    let exponent = u32::from(currency.exponent());
    let scale = 10_i64.pow(exponent);
    let sign = if amount_minor < 0 { "-" } else { "" };
    let magnitude = amount_minor.unsigned_abs();
    let unit = scale.unsigned_abs();
    let number =
        if exponent == 0 { magnitude.to_string() } else { format!("{}.{:0w$}", magnitude / unit, magnitude % unit, w = exponent as usize) };
    format!("{} commission of {sign}{number} {}", kind.label().to_lowercase(), currency.code())
}

/// `POST /api/v1/disputes/{id}/resolve`: upholds or overturns the disputed decision with a note
/// the partner reads, in one transaction with the table's effect: a deal's dispute by those who
/// manage partners (owner, admin, channel manager), overturned re-opens the deal for review; a
/// commission's by those who write money (owner, admin, finance), overturned applies
/// `commissions::overturn_dispute_in`.
pub async fn resolve(ctx: &Ctx, scope: &Scope, id: &DisputeId, outcome: DisputeStatus, note: &str) -> Result<DisputeDetail> {
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    let before = find_in(&mut tx, scope, id).await?;
    match before.subject {
        DisputeSubject::Deal(_) => scope.require_vendor_role(VendorRole::PARTNER_MANAGERS, "resolve disputes of deals")?,
        DisputeSubject::Commission(_) => scope.require_vendor_role(MONEY_WRITERS, "resolve disputes of commissions")?,
    }
    let mut v = Validation::new();
    if outcome == DisputeStatus::Open {
        v.add("outcome", "must be \"upheld\" or \"overturned\"");
    }
    let note = v.text("note", note, 2000);
    v.finish().map_err(Error::Validation)?;
    let note = note.unwrap_or_default();
    let Some(transition) = find(before.subject.kind(), before.status, outcome) else {
        return Err(Error::conflict(format!("this dispute was already resolved ({})", before.status)));
    };
    let updated = tx
        .execute(sql!(
            "UPDATE disputes SET status = $3, resolution_note = $4, resolved_by_user_id = $5, resolved_at = $6
             WHERE workspace_id = $1 AND id = $2 AND status = 'open'",
            scope.workspace_id(),
            id,
            outcome.as_str(),
            &note,
            scope.user_id().cloned(),
            now
        ))
        .await?;
    if updated == 0 {
        return Err(Error::conflict("this dispute was resolved meanwhile"));
    }
    let entry = AuditEntry::new(transition.action, "dispute", id.as_str())
        .set("partner_id", json!(before.partner_id))
        .change("status", before.status.as_str(), outcome.as_str())
        .set("note", note.clone());
    audit::record(&mut tx, scope, now, entry).await?;
    let (subject, body) = match (&before.subject, outcome) {
        (DisputeSubject::Deal(deal_id), DisputeStatus::Overturned) => {
            reopen_deal_in(&mut tx, scope, deal_id, id, now).await?;
            deal_answer(&before, outcome, &note)
        }
        (DisputeSubject::Deal(_), _) => deal_answer(&before, outcome, &note),
        (DisputeSubject::Commission(commission_id), _) => {
            let effect = if outcome == DisputeStatus::Overturned {
                commissions::overturn_dispute_in(&mut tx, scope, now, commission_id, id.as_str(), &note).await?
            } else {
                DisputeOverturn::Unchanged
            };
            commission_answer(&before, outcome, &effect, &note)
        }
    };
    let text = format!("{body}\n\nThe dispute: {}", ctx.link(&format!("/portal/disputes/{id}")));
    crate::notify::to_partner_in(
        &mut tx,
        scope.workspace_id(),
        &before.partner_id,
        "dispute_resolved",
        &subject,
        &text,
        scope.user_id(),
        now,
    )
    .await?;
    let dispute = find_in(&mut tx, scope, id).await?;
    let timeline = timeline_in(&mut tx, scope, &dispute).await?;
    tx.commit().await?;
    Ok(DisputeDetail { dispute, timeline })
}

/// The email's subject and text of a resolved dispute of a commission.
fn commission_answer(before: &Dispute, outcome: DisputeStatus, effect: &DisputeOverturn, note: &str) -> (String, String) {
    let what = before
        .commission
        .as_ref()
        .map(|c| commission_in_words(c.kind, c.amount_minor, c.currency))
        .unwrap_or_else(|| "commission".to_owned());
    match (outcome, effect) {
        (DisputeStatus::Overturned, DisputeOverturn::Restored(_)) => (
            format!("Dispute accepted: your {what}"),
            format!(
                "The finance team overturned the decision on your {what}: {note}\n\nThe amount taken back is restored to your balance."
            ),
        ),
        (DisputeStatus::Overturned, DisputeOverturn::Released) => (
            format!("Dispute accepted: your {what}"),
            format!("The finance team overturned the decision on your {what}: {note}\n\nIts hold is released."),
        ),
        (DisputeStatus::Overturned, DisputeOverturn::Unchanged) => {
            (format!("Dispute accepted: your {what}"), format!("The finance team overturned the decision on your {what}: {note}"))
        }
        _ => (
            format!("Dispute answered: your {what}"),
            format!("The finance team looked at your dispute again and upheld the decision on your {what}: {note}"),
        ),
    }
}

/// The email's subject and text of a resolved dispute of a deal.
fn deal_answer(before: &Dispute, outcome: DisputeStatus, note: &str) -> (String, String) {
    let customer = before.deal.as_ref().map(|d| d.customer_name.clone()).unwrap_or_default();
    match outcome {
        DisputeStatus::Overturned => (
            format!("Dispute accepted: {customer}"),
            format!(
                "The channel team overturned the rejection of your registration of {customer}: {note}\n\nThe deal is back in review; you will hear of the new decision."
            ),
        ),
        _ => (
            format!("Dispute answered: {customer}"),
            format!("The channel team looked at your dispute again and upheld the rejection of your registration of {customer}: {note}"),
        ),
    }
}

/// The overturned dispute's effect: the rejected deal goes back to review through the deal table's
/// `Rejected → UnderReview` (Trellis makes it, as the dispute's outcome); the conflict index picks
/// the live registration up again through its stamp. The audit event names the dispute and is
/// recorded as the person who overturned it (who caused the change).
async fn reopen_deal_in(tx: &mut ScopedTx, scope: &Scope, deal_id: &DealId, dispute_id: &DisputeId, now: Timestamp) -> Result<()> {
    let deal = deals::find_in(tx, scope, deal_id).await?;
    let Some(transition) = deal_statuses::find(deal.status, DealStatus::UnderReview, Actor::System) else {
        return Err(Error::conflict(format!("the deal is {} and cannot be re-opened", deal.status.label().to_lowercase())));
    };
    tx.execute(sql!(
        "UPDATE deals SET status = $3, decision_note = NULL, updated_at = $4 WHERE workspace_id = $1 AND id = $2",
        scope.workspace_id(),
        deal_id,
        transition.to.as_str(),
        now
    ))
    .await?;
    conflicts::stamp(tx, scope.workspace_id(), deal_id).await?;
    let entry = AuditEntry::new(transition.action, "deal", deal_id.as_str())
        .set("partner_id", json!(deal.partner_id))
        .change("status", deal.status.as_str(), transition.to.as_str())
        .set("dispute_id", dispute_id.as_str());
    audit::record(tx, scope, now, entry).await?;
    Ok(())
}

/// Open disputes of deals the caller's queue holds (the console home's work queue), for those who
/// resolve them (those who manage partners).
pub const TO_RESOLVE: trellis_directory::work_queues::WorkQueue = trellis_directory::work_queues::WorkQueue {
    key: "disputes",
    title: "Disputes to resolve",
    href: "/console/disputes",
    nav: None,
    count: count_open,
};

/// Open disputes of commissions, for those who resolve them (owners, admins, finance).
pub const COMMISSIONS_TO_RESOLVE: trellis_directory::work_queues::WorkQueue = trellis_directory::work_queues::WorkQueue {
    key: "commission_disputes",
    title: "Commission disputes to resolve",
    href: "/console/disputes",
    nav: None,
    count: count_open_commissions,
};

fn count_open<'a>(tx: &'a mut ScopedTx, scope: &'a Scope, _now: Timestamp) -> trellis_directory::work_queues::CountFuture<'a> {
    Box::pin(trellis_directory::work_queues::count_for(tx, scope, VendorRole::PARTNER_MANAGERS, |tx, q| {
        q.push(" FROM disputes x WHERE x.workspace_id = ").push_bind(scope.workspace_id());
        q.push(" AND x.status = 'open' AND x.subject_type <> 'commission' AND ");
        push_visible(tx, scope, q);
    }))
}

fn count_open_commissions<'a>(tx: &'a mut ScopedTx, scope: &'a Scope, _now: Timestamp) -> trellis_directory::work_queues::CountFuture<'a> {
    Box::pin(trellis_directory::work_queues::count_for(tx, scope, MONEY_WRITERS, |tx, q| {
        q.push(" FROM disputes x WHERE x.workspace_id = ").push_bind(scope.workspace_id());
        q.push(" AND x.status = 'open' AND x.subject_type = 'commission' AND ");
        push_visible(tx, scope, q);
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dispute_is_resolved_once_and_only_by_the_table() {
        for (i, a) in TRANSITIONS.iter().enumerate() {
            assert_ne!(a.from, a.to);
            assert!(TRANSITIONS[i + 1..].iter().all(|b| (b.subject, b.from, b.to) != (a.subject, a.from, a.to)), "{a:?} appears twice");
            assert_eq!(a.from, DisputeStatus::Open, "only an open dispute is resolved");
        }
        for subject in [DEAL, COMMISSION] {
            assert!(find(subject, DisputeStatus::Upheld, DisputeStatus::Overturned).is_none());
            assert_eq!(find(subject, DisputeStatus::Open, DisputeStatus::Overturned).map(|t| t.action), Some("dispute.overturned"));
            assert_eq!(choices(subject, DisputeStatus::Open).len(), 2, "uphold or overturn");
        }
        assert!(deal_statuses::find(DealStatus::Rejected, DealStatus::UnderReview, Actor::System).is_some(), "the deal table re-opens");
    }
}
