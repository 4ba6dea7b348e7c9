//! Payout methods (issue 10, ADR 0018): the bank account a partner's payouts go to, one per
//! partner, set and replaced with `PUT /api/v1/partners/{id}/payout-method` or the portal's page.
//!
//! - Who: the partner's own admins and finance people (users or keys), and staff owners, admins
//!   and finance ([`STAFF`]). Money is private to each organisation (API.md "Conventions"): a
//!   distributor's people asking for a reseller's method get 404, like a partner they cannot see,
//!   before any role check; then other roles get 403 (channel managers and viewers included:
//!   payout methods are finance's, and bank details are not for every reader).
//! - Sealed at rest: the account holder and the IBAN are stored sealed ([`crate::secret_box`]);
//!   the IBAN's country and last four characters are kept beside them, so a masked display
//!   (`DE•••• 3000`) and [`readiness_in`] never need the key. Sealed values are opened only to
//!   read one method's holder back, to compare a PUT with the stored method, and by
//!   [`decrypt_for_export_in`].
//! - Replacing a method is the moment a stolen credential redirects money, so it holds the
//!   partner's payouts for [`COOLING_OFF_HOURS`] and emails the partner's admins; the first
//!   method has no hold. Putting the same details again changes nothing. There is no removal:
//!   removing and adding again would make the new account a first method, without a hold.
//! - Audited (`payout_method.created`, `payout_method.replaced`) with the masked IBAN only: the
//!   trail is append-only and kept in clear, so it holds nothing that is sealed here.

use std::collections::HashMap;

use serde_json::{Value as Json, json};
use trellis_core::{
    Bic, Error, Iban, PartnerId, PartnerRole, PayoutMethodId, Result, Timestamp, Validation, VendorRole, WorkspaceId, string_enum,
};
use trellis_db::{Row, Sql, SystemGrant, sql};
use trellis_identity::audit::{self, AuditEntry};
use trellis_identity::{Actor, Ctx, Membership, Scope, ScopedTx, SeenPartner, partner_users};
use trellis_jobs::{NewEmail, queue_email};

use crate::secret_box::{self, SecretKey};

/// How long a replacement holds the partner's payouts (API.md: 72 hours by default).
pub const COOLING_OFF_HOURS: i64 = 72;

/// Staff who read and change payout methods (API.md: finance, and owners and admins).
pub const STAFF: &[VendorRole] = &[VendorRole::Owner, VendorRole::Admin, VendorRole::Finance];

/// At start-up the server checks its key against the stored methods ([`check_key`]).
pub const KEY_CHECK: SystemGrant = SystemGrant {
    name: "payout_method_key_check",
    reason: "at start-up the server checks that TRELLIS_SECRET_KEY opens the stored payout methods, whatever their workspace, and that none are stored without a key",
};

/// The partners one query of [`readiness_in`] and [`decrypt_for_export_in`] asks about, well under
/// both backends' limit of bound values.
const PARTNERS_PER_QUERY: usize = 500;

string_enum!(
    /// How a payout is paid: `sepa`, a SEPA credit transfer to an IBAN.
    PayoutMethodType {
        Sepa => "sepa",
    }
);

/// A payout method as its readers see it: the IBAN masked, the holder in clear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayoutMethod {
    pub id: PayoutMethodId,
    pub partner_id: PartnerId,
    pub method_type: PayoutMethodType,
    pub account_holder: String,
    /// The country code and the last four characters, e.g. `DE•••• 3000`.
    pub iban_masked: String,
    pub bic: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The end of the hold after the last replacement; `None` for a first method. Payouts wait
    /// while it is in the future.
    pub cooling_off_until: Option<Timestamp>,
}

/// What a caller sends to set the method; checked by [`set`]. No `Debug`: it holds the IBAN in
/// clear, and nothing should print it by accident.
#[derive(Clone)]
pub struct PayoutMethodInput {
    pub method_type: PayoutMethodType,
    pub account_holder: String,
    pub iban: String,
    pub bic: Option<String>,
}

/// The input, parsed.
struct Checked {
    method_type: PayoutMethodType,
    account_holder: String,
    iban: Iban,
    bic: Option<Bic>,
}

fn check(input: &PayoutMethodInput) -> Result<Checked> {
    let mut v = Validation::new();
    // 70 characters: the name field of a SEPA credit transfer (pain.001 `Cdtr/Nm`).
    let account_holder = v.text("account_holder", &input.account_holder, 70);
    let iban = v.check("iban", Iban::parse(&input.iban));
    let bic = match input.bic.as_deref().map(str::trim).filter(|b| !b.is_empty()) {
        Some(text) => v.check("bic", Bic::parse(text)).map(Some),
        None => Some(None),
    };
    v.finish().map_err(Error::Validation)?;
    match (account_holder, iban, bic) {
        (Some(account_holder), Some(iban), Some(bic)) => Ok(Checked { method_type: input.method_type, account_holder, iban, bic }),
        _ => Err(Error::Internal("a checked payout method lost a field".into())),
    }
}

/// The associated data a column of one partner's row is sealed for (`secret_box`).
fn context(column: &str, workspace_id: &WorkspaceId, partner_id: &PartnerId) -> String {
    format!("payout_methods.{column}:{workspace_id}:{partner_id}")
}

/// 404 unless the caller sees the partner and its money; then 403 unless the caller is the
/// partner's admin or finance, or staff of [`STAFF`] (or the system).
async fn require_access(tx: &mut ScopedTx, scope: &Scope, partner_id: &PartnerId) -> Result<()> {
    if !tx.can_see_money_of(partner_id).await? {
        return Err(Error::NotFound);
    }
    match scope.membership() {
        Membership::Partner { role, .. } if PartnerRole::MONEY_MANAGERS.contains(role) => Ok(()),
        Membership::Partner { .. } => Err(Error::forbidden("only a partner's admins and finance people manage its payout method")),
        _ => scope.require_vendor_role(STAFF, "read or change payout methods"),
    }
}

/// Whether the caller's role may read and change payout methods (for the pages, which show the
/// method only to them); the visibility of one partner's money is still [`get_in`]'s to check.
pub fn may_manage(scope: &Scope) -> bool {
    match scope.membership() {
        Membership::Partner { role, .. } => PartnerRole::MONEY_MANAGERS.contains(role),
        _ => scope.has_vendor_role(STAFF),
    }
}

/// The stored row of one partner's method, sealed columns as stored.
struct Stored {
    id: PayoutMethodId,
    method_type: PayoutMethodType,
    account_holder_sealed: String,
    iban_sealed: String,
    iban_masked: String,
    bic: Option<String>,
    created_at: Timestamp,
    updated_at: Timestamp,
    cooling_off_until: Option<Timestamp>,
}

const COLUMNS: &str =
    "id, type, account_holder_sealed, iban_sealed, iban_country, iban_last4, bic, created_at, updated_at, cooling_off_until";

fn stored(row: &Row) -> Result<Stored> {
    let method_type: String = row.get("type")?;
    let (country, last4): (String, String) = (row.get("iban_country")?, row.get("iban_last4")?);
    Ok(Stored {
        id: row.get("id")?,
        method_type: PayoutMethodType::parse(&method_type)
            .ok_or_else(|| Error::Internal(format!("stored payout method type {method_type}")))?,
        account_holder_sealed: row.get("account_holder_sealed")?,
        iban_sealed: row.get("iban_sealed")?,
        iban_masked: Iban::mask(&country, &last4),
        bic: row.get("bic")?,
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
        cooling_off_until: row.get("cooling_off_until")?,
    })
}

async fn load(tx: &mut ScopedTx, workspace_id: &WorkspaceId, partner_id: &PartnerId) -> Result<Option<Stored>> {
    let mut q = Sql::build("SELECT ");
    q.push(COLUMNS).push(" FROM payout_methods WHERE workspace_id = ").push_bind(workspace_id);
    q.push(" AND partner_id = ").push_bind(partner_id);
    tx.fetch_optional(q).await?.as_ref().map(stored).transpose()
}

impl Stored {
    fn reveal(self, key: &SecretKey, workspace_id: &WorkspaceId, partner_id: &PartnerId) -> Result<PayoutMethod> {
        Ok(PayoutMethod {
            account_holder: key.open(&context("account_holder", workspace_id, partner_id), &self.account_holder_sealed)?,
            id: self.id,
            partner_id: partner_id.clone(),
            method_type: self.method_type,
            iban_masked: self.iban_masked,
            bic: self.bic,
            created_at: self.created_at,
            updated_at: self.updated_at,
            cooling_off_until: self.cooling_off_until,
        })
    }
}

/// One partner's payout method, in its own read transaction; 404 when it has none.
pub async fn get(ctx: &Ctx, scope: &Scope, partner_id: &PartnerId) -> Result<PayoutMethod> {
    let mut tx = scope.read(ctx).await?;
    let seen = tx.see_partner(partner_id).await?;
    let method = get_in(ctx, &mut tx, scope, &seen).await?;
    tx.commit().await?;
    method.ok_or(Error::NotFound)
}

/// [`get`] inside the caller's transaction, for a partner already seen (ADR 0012); `None` when it
/// has no method. 404 for another organisation's money, 403 for roles that do not manage payout
/// methods.
pub async fn get_in(ctx: &Ctx, tx: &mut ScopedTx, scope: &Scope, seen: &SeenPartner) -> Result<Option<PayoutMethod>> {
    let partner_id = tx.seen(seen)?;
    require_access(tx, scope, partner_id).await?;
    let Some(stored) = load(tx, scope.workspace_id(), partner_id).await? else { return Ok(None) };
    stored.reveal(secret_box::configured(ctx, "payout methods")?, scope.workspace_id(), partner_id).map(Some)
}

/// Sets or replaces a partner's payout method (module documentation): 404, then 403, then 422
/// with every invalid field, then 409 when the server has no key. A replacement holds payouts
/// for [`COOLING_OFF_HOURS`] and emails the partner's admins; the same details again change
/// nothing (and are answered as stored).
pub async fn set(ctx: &Ctx, scope: &Scope, partner_id: &PartnerId, input: &PayoutMethodInput) -> Result<PayoutMethod> {
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    tx.see_partner(partner_id).await?;
    require_access(&mut tx, scope, partner_id).await?;
    let new = check(input)?;
    let key = secret_box::configured(ctx, "payout methods")?;
    let workspace_id = scope.workspace_id().clone();
    let holder_context = context("account_holder", &workspace_id, partner_id);
    let iban_context = context("iban", &workspace_id, partner_id);

    let before = load(&mut tx, &workspace_id, partner_id).await?;
    let unchanged = match &before {
        Some(before) => {
            before.method_type == new.method_type
                && before.bic.as_deref() == new.bic.as_ref().map(Bic::as_str)
                && key.open(&iban_context, &before.iban_sealed)? == new.iban.as_str()
                && key.open(&holder_context, &before.account_holder_sealed)? == new.account_holder
        }
        None => false,
    };
    if unchanged && let Some(before) = before {
        return before.reveal(key, &workspace_id, partner_id);
    }
    // A change (not the same details sent again, which changes nothing) needs a recent sign-in.
    scope.require_recent_sign_in(now)?;

    let hold = now.plus_seconds(COOLING_OFF_HOURS * 3600);
    // The update branch is a replacement whichever request inserted first, so it always starts
    // the hold; an insert never has one.
    let row = tx
        .fetch_one(sql!(
            "INSERT INTO payout_methods (workspace_id, partner_id, id, type, account_holder_sealed, iban_sealed, iban_country, iban_last4,
                                         bic, created_at, updated_at, cooling_off_until)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, NULL)
             ON CONFLICT (workspace_id, partner_id) DO UPDATE SET
               type = excluded.type, account_holder_sealed = excluded.account_holder_sealed, iban_sealed = excluded.iban_sealed,
               iban_country = excluded.iban_country, iban_last4 = excluded.iban_last4, bic = excluded.bic,
               updated_at = excluded.updated_at, cooling_off_until = $11
             RETURNING id, created_at, cooling_off_until",
            &workspace_id,
            partner_id,
            PayoutMethodId::generate(),
            new.method_type.as_str(),
            key.seal(&holder_context, &new.account_holder)?,
            key.seal(&iban_context, new.iban.as_str())?,
            new.iban.country(),
            new.iban.last4(),
            new.bic.as_ref().map(|b| b.as_str().to_owned()),
            now,
            hold
        ))
        .await?;
    let id: PayoutMethodId = row.get("id")?;
    let cooling_off_until: Option<Timestamp> = row.get("cooling_off_until")?;
    let replaced = cooling_off_until.is_some();

    let masked = new.iban.masked();
    let entry = AuditEntry::new(if replaced { "payout_method.replaced" } else { "payout_method.created" }, "payout_method", id.as_str())
        .set("partner_id", json!(partner_id))
        .set("type", new.method_type.as_str())
        .change("iban", before.as_ref().map_or(Json::Null, |b| json!(b.iban_masked)), json!(masked))
        .change("bic", before.as_ref().map_or(Json::Null, |b| json!(b.bic)), json!(new.bic.as_ref().map(Bic::as_str)))
        .set("cooling_off_until", json!(cooling_off_until));
    audit::record(&mut tx, scope, now, entry).await?;
    if let Some(until) = cooling_off_until {
        tell_admins(ctx, &mut tx, scope, partner_id, &masked, until, now).await?;
    }
    tx.commit().await?;
    Ok(PayoutMethod {
        id,
        partner_id: partner_id.clone(),
        method_type: new.method_type,
        account_holder: new.account_holder,
        iban_masked: masked,
        bic: new.bic.map(|b| b.as_str().to_owned()),
        created_at: row.get("created_at")?,
        updated_at: now,
        cooling_off_until,
    })
}

/// "9 December 2026 at 14:05 UTC".
fn spoken(at: Timestamp) -> String {
    let at = at.to_datetime();
    format!("{} {} {} at {:02}:{:02} UTC", at.day(), at.month(), at.year(), at.hour(), at.minute())
}

/// Emails the partner's admins that its payout account was replaced: if they did not do it, the
/// hold gives them time to say so before money leaves.
async fn tell_admins(
    ctx: &Ctx,
    tx: &mut ScopedTx,
    scope: &Scope,
    partner_id: &PartnerId,
    masked: &str,
    until: Timestamp,
    now: Timestamp,
) -> Result<()> {
    let workspace_id = scope.workspace_id();
    let partner = tx.fetch_one(sql!("SELECT name FROM partners WHERE workspace_id = $1 AND id = $2", workspace_id, partner_id)).await?;
    let partner: String = partner.get("name")?;
    let by = match scope.actor() {
        Actor::User { email, .. } => email.to_string(),
        Actor::ApiKey { user_email: Some(email), .. } => format!("an API key of {email}"),
        Actor::ApiKey { user_email: None, .. } => "an API key".to_owned(),
        Actor::System => "Trellis".to_owned(),
    };
    let subject = format!("The payout account of {partner} was changed");
    let text = format!(
        "The bank account that payouts to {partner} go to was changed to {masked} by {by}.\n\n\
         For your protection, payouts are held until {until} ({COOLING_OFF_HOURS} hours after the change).\n\n\
         If you did not make this change, tell your partner manager at once and change your password.\n\n\
         Your payout method: {link}",
        until = spoken(until),
        link = ctx.link("/portal/payout-method"),
    );
    for to in partner_users::admin_addresses_in(tx, workspace_id, partner_id).await? {
        let email = NewEmail::from_text("payout_method_replaced", to, subject.clone(), text.clone()).caused_by(scope.user_id());
        queue_email(tx, workspace_id, email, now).await?;
    }
    Ok(())
}

/// Whether a partner may be paid, as a payout run asks it: without reading a sealed value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Readiness {
    pub has_method: bool,
    /// The end of the hold after the last replacement, if there was one.
    pub cooling_off_until: Option<Timestamp>,
}

impl Readiness {
    /// True when the partner has a method and no hold runs at `now`.
    pub fn is_payable_at(&self, now: Timestamp) -> bool {
        self.has_method && self.cooling_off_until.is_none_or(|until| until <= now)
    }
}

/// Staff [`STAFF`] and the system only: partners never prepare payouts (403).
fn require_payout_staff(scope: &Scope, what: &str) -> Result<()> {
    if scope.partner().is_some() {
        return Err(Error::forbidden(format!("partners do not {what}")));
    }
    scope.require_vendor_role(STAFF, what)
}

/// The readiness of each of `partners` (every one of them is in the answer: without a method,
/// `has_method` is false) from the masking columns only, a query per [`PARTNERS_PER_QUERY`]
/// partners, inside the payout run's transaction. Staff [`STAFF`] and the system; partners the
/// caller does not see answer as having no method.
pub async fn readiness_in(tx: &mut ScopedTx, scope: &Scope, partners: &[PartnerId]) -> Result<HashMap<PartnerId, Readiness>> {
    require_payout_staff(scope, "prepare payouts")?;
    let mut out: HashMap<PartnerId, Readiness> =
        partners.iter().map(|p| (p.clone(), Readiness { has_method: false, cooling_off_until: None })).collect();
    for chunk in partners.chunks(PARTNERS_PER_QUERY) {
        let mut q = Sql::build("SELECT partner_id, cooling_off_until FROM payout_methods WHERE workspace_id = ");
        q.push_bind(scope.workspace_id()).push(" AND partner_id IN ").push_in_list(chunk).push(" AND ");
        tx.push_partner_filter(&mut q, "payout_methods.partner_id");
        for row in tx.fetch_all(q).await? {
            let partner_id: PartnerId = row.get("partner_id")?;
            out.insert(partner_id, Readiness { has_method: true, cooling_off_until: row.get("cooling_off_until")? });
        }
    }
    Ok(out)
}

/// A partner's account in clear, for a payment file (the SEPA export of a payout run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayoutAccount {
    pub partner_id: PartnerId,
    pub account_holder: String,
    pub iban: Iban,
    pub bic: Option<Bic>,
}

/// The accounts of those of `partners` that have a method (in the order of `partners`), opened
/// with the server's key inside the caller's transaction: the one place sealed IBANs leave the
/// database. Staff [`STAFF`] and the system; the caller records what it exported (the payout
/// run's export event), with the masked numbers only.
pub async fn decrypt_for_export_in(ctx: &Ctx, tx: &mut ScopedTx, scope: &Scope, partners: &[PartnerId]) -> Result<Vec<PayoutAccount>> {
    require_payout_staff(scope, "export bank details")?;
    let key = secret_box::configured(ctx, "payout methods")?;
    let workspace_id = scope.workspace_id();
    let mut found: HashMap<PartnerId, PayoutAccount> = HashMap::new();
    for chunk in partners.chunks(PARTNERS_PER_QUERY) {
        let mut q = Sql::build("SELECT partner_id, account_holder_sealed, iban_sealed, bic FROM payout_methods WHERE workspace_id = ");
        q.push_bind(workspace_id).push(" AND partner_id IN ").push_in_list(chunk).push(" AND ");
        tx.push_partner_filter(&mut q, "payout_methods.partner_id");
        for row in tx.fetch_all(q).await? {
            let partner_id: PartnerId = row.get("partner_id")?;
            let holder: String = row.get("account_holder_sealed")?;
            let iban: String = row.get("iban_sealed")?;
            let bic: Option<String> = row.get("bic")?;
            let iban = key.open(&context("iban", workspace_id, &partner_id), &iban)?;
            let account = PayoutAccount {
                account_holder: key.open(&context("account_holder", workspace_id, &partner_id), &holder)?,
                iban: Iban::parse(&iban).map_err(|e| Error::Internal(format!("a stored IBAN of {partner_id}: {e}")))?,
                bic: bic.map(|b| Bic::parse(&b).map_err(|e| Error::Internal(format!("a stored BIC of {partner_id}: {e}")))).transpose()?,
                partner_id: partner_id.clone(),
            };
            found.insert(partner_id, account);
        }
    }
    Ok(partners.iter().filter_map(|p| found.remove(p)).collect())
}

/// Checks at start-up that the configured key opens the stored methods (the newest one), and
/// that none are stored when no key is configured; the error says which setting to fix.
pub async fn check_key(ctx: &Ctx) -> Result<()> {
    let mut tx = ctx.db().read_granted(&KEY_CHECK).await?;
    let newest = tx
        .fetch_optional(sql!("SELECT workspace_id, partner_id, iban_sealed FROM payout_methods ORDER BY updated_at DESC LIMIT 1"))
        .await?;
    tx.commit().await?;
    let Some(row) = newest else { return Ok(()) };
    let Ok(key) = ctx.extension::<SecretKey>() else {
        return Err(Error::conflict(
            "payout methods are stored encrypted and TRELLIS_SECRET_KEY is not set: set it (or TRELLIS_SECRET_KEY_FILE) to the key they were stored with",
        ));
    };
    let (workspace_id, partner_id, sealed): (WorkspaceId, PartnerId, String) =
        (row.get("workspace_id")?, row.get("partner_id")?, row.get("iban_sealed")?);
    key.open(&context("iban", &workspace_id, &partner_id), &sealed)
        .map(|_| ())
        .map_err(|_| Error::conflict("TRELLIS_SECRET_KEY does not open the stored payout methods: it is not the key they were stored with"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(input: PayoutMethodInput) -> Vec<String> {
        match check(&input) {
            Err(Error::Validation(errors)) => errors.into_iter().map(|e| e.field).collect(),
            Err(other) => panic!("expected a validation error, got {other:?}"),
            Ok(_) => Vec::new(),
        }
    }

    fn valid() -> PayoutMethodInput {
        PayoutMethodInput {
            method_type: PayoutMethodType::Sepa,
            account_holder: "Northwind GmbH".into(),
            iban: "de89 3704 0044 0532 0130 00".into(),
            bic: Some("cobadeffxxx".into()),
        }
    }

    #[test]
    fn a_valid_method_is_normalised() {
        let checked = check(&valid()).expect("valid");
        assert_eq!(checked.iban.as_str(), "DE89370400440532013000");
        assert_eq!(checked.bic.as_ref().map(Bic::as_str), Some("COBADEFFXXX"));
        assert!(check(&PayoutMethodInput { bic: Some("  ".into()), ..valid() }).expect("no BIC").bic.is_none());
    }

    #[test]
    fn every_invalid_field_is_named_at_once() {
        let input = PayoutMethodInput {
            method_type: PayoutMethodType::Sepa,
            account_holder: "x".repeat(71),
            iban: "DE89 3704 0044 0532 0130 01".into(),
            bic: Some("COBA".into()),
        };
        assert_eq!(fields(input), ["account_holder", "iban", "bic"]);
        assert_eq!(fields(PayoutMethodInput { account_holder: " ".into(), ..valid() }), ["account_holder"]);
    }

    #[test]
    fn a_hold_ends_and_a_partner_without_a_method_is_not_payable() {
        let now = Timestamp::from_micros(1_000_000_000);
        let held = Readiness { has_method: true, cooling_off_until: Some(now.plus_seconds(1)) };
        assert!(!held.is_payable_at(now) && held.is_payable_at(now.plus_seconds(1)));
        assert!(Readiness { has_method: true, cooling_off_until: None }.is_payable_at(now));
        assert!(!Readiness { has_method: false, cooling_off_until: None }.is_payable_at(now));
    }
}
