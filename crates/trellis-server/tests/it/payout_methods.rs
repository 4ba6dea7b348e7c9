//! Payout methods (issue 10, ADR 0018): set and read masked over the API; the database holds the
//! IBAN and the holder sealed only; invalid details are refused and store nothing; a replacement
//! holds payouts for 72 hours and emails the partner's admins; money stays private to each
//! organisation (404 for a distributor, 403 for roles that do not manage it), in the application
//! and, on PostgreSQL, in row security alone; every change is audited masked; a server without a
//! key refuses to set one (409) and does not start once methods are stored; what payout runs call
//! reads readiness without the key and opens accounts for an export.

use serde_json::{Value, json};
use trellis_core::{PartnerId, Timestamp};
use trellis_db::{RowSecurity, sql};
use trellis_identity::Scope;
use trellis_identity::scope::RequestMeta;
use trellis_incentives::payout_methods::{self, PayoutMethodInput, PayoutMethodType};
use trellis_incentives::secret_box::SecretKey;
use trellis_testkit::fixture::Fixture;
use trellis_testkit::{Reply, TestApp};

const IBAN: &str = "DE89 3704 0044 0532 0130 00";
const IBAN_COMPACT: &str = "DE89370400440532013000";
const OTHER_IBAN: &str = "GB82 WEST 1234 5698 7654 32";
const HOLDER: &str = "Reseller One A GmbH";

/// The method the authorization matrix sets up, and the body its PUT cells send.
pub(crate) fn matrix_method() -> PayoutMethodInput {
    PayoutMethodInput { method_type: PayoutMethodType::Sepa, account_holder: "Matrix Holder".into(), iban: IBAN.into(), bic: None }
}

pub(crate) fn matrix_body() -> Value {
    json!({"type": "sepa", "account_holder": "Matrix Holder", "iban": IBAN})
}

fn path(partner: &PartnerId) -> String {
    format!("/api/v1/partners/{partner}/payout-method")
}

async fn put(app: &TestApp, token: &str, partner: &PartnerId, body: Value) -> Reply {
    app.send(reqwest::Method::PUT, &path(partner), Some(token), Some(&body)).await
}

fn sepa(holder: &str, iban: &str) -> Value {
    json!({"type": "sepa", "account_holder": holder, "iban": iban, "bic": "cobadeffxxx"})
}

async fn scope_of(app: &TestApp, token: &str) -> Scope {
    trellis_identity::auth::authenticate_bearer(&app.state.ctx, token, None, &RequestMeta::default()).await.expect("scope")
}

/// Every stored column of the partner's row, as text.
async fn raw_row(app: &TestApp, partner: &PartnerId) -> String {
    let rows = app
        .query(sql!(
            "SELECT id, type, account_holder_sealed, iban_sealed, iban_country, iban_last4, bic FROM payout_methods WHERE partner_id = $1",
            partner
        ))
        .await;
    assert_eq!(rows.len(), 1, "one row per partner");
    ["id", "type", "account_holder_sealed", "iban_sealed", "iban_country", "iban_last4", "bic"]
        .iter()
        .map(|c| rows[0].get::<Option<String>>(c).expect("text").unwrap_or_default())
        .collect::<Vec<_>>()
        .join("|")
}

#[tokio::test]
async fn a_payout_method_is_answered_masked_and_the_database_holds_no_clear_iban_or_holder() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;

    let set = put(&app, &f.r1a_admin.token, &f.r1a, sepa(HOLDER, "de89 3704 0044 0532 0130 00")).await;
    let read = app.get(&path(&f.r1a), &f.finance.token).await;

    assert_eq!(set.status, 200, "200 also the first time: {}", set.text);
    assert_eq!(set.body["type"], "sepa");
    assert_eq!(set.body["account_holder"], HOLDER);
    assert_eq!(set.body["iban_masked"], "DE•••• 3000");
    assert_eq!(set.body["bic"], "COBADEFFXXX");
    assert_eq!(set.body["partner_id"], f.r1a.as_str());
    assert_eq!(set.body["cooling_off_until"], Value::Null, "a first method has no hold");
    assert!(set.body["id"].as_str().is_some_and(|id| id.starts_with("pm_")), "{}", set.text);
    assert!(!set.text.contains(IBAN_COMPACT) && !set.text.contains("0532"), "{}", set.text);
    assert_eq!(read.status, 200, "{}", read.text);
    assert_eq!(read.body, set.body, "staff finance read what was set");

    let row = raw_row(&app, &f.r1a).await;
    for clear in [IBAN_COMPACT, "370400440532", HOLDER, "Reseller One"] {
        assert!(!row.contains(clear), "the row holds {clear} in clear: {row}");
    }
    let sealed = app.query(sql!("SELECT account_holder_sealed, iban_sealed FROM payout_methods WHERE partner_id = $1", &f.r1a)).await;
    for column in ["account_holder_sealed", "iban_sealed"] {
        let value: String = sealed[0].get(column).expect("sealed");
        assert!(value.starts_with("v1:") && value.len() > 60, "{column}: {value}");
    }
    assert!(row.contains("|DE|3000|COBADEFFXXX"), "the masking columns and the BIC: {row}");
}

#[tokio::test]
async fn invalid_details_are_422_naming_every_field_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;

    let bad = put(
        &app,
        &f.r1a_admin.token,
        &f.r1a,
        json!({"type": "sepa", "account_holder": "x".repeat(71), "iban": "DE89 3704 0044 0532 0130 01", "bic": "COBA"}),
    )
    .await;
    let wrong_length = put(&app, &f.r1a_admin.token, &f.r1a, sepa(HOLDER, "DE89 3704 0044 0532 0130")).await;
    let wrong_type = put(&app, &f.r1a_admin.token, &f.r1a, json!({"type": "paypal", "account_holder": HOLDER, "iban": IBAN})).await;

    assert_eq!(bad.status, 422, "{}", bad.text);
    assert_eq!(bad.body["code"], "validation_failed");
    let fields: Vec<&str> = bad.body["errors"].as_array().expect("errors").iter().filter_map(|e| e["field"].as_str()).collect();
    assert_eq!(fields, ["account_holder", "iban", "bic"]);
    assert_eq!(wrong_length.status, 422, "{}", wrong_length.text);
    assert_eq!(wrong_length.body["errors"][0]["field"], "iban");
    assert_eq!(wrong_type.status, 422, "{}", wrong_type.text);
    assert_eq!(app.query_i64(sql!("SELECT COUNT(*) AS n FROM payout_methods")).await, 0);
    assert_eq!(app.get(&path(&f.r1a), &f.r1a_admin.token).await.status, 404, "none until a valid one is set");
}

#[tokio::test]
async fn replacing_a_payout_method_holds_payouts_for_72_hours_and_emails_the_partners_admins() {
    let (app, smtp) = TestApp::spawn_with_smtp().await;
    let f = Fixture::build(&app).await;
    let first = put(&app, &f.r1a_admin.token, &f.r1a, sepa(HOLDER, IBAN)).await;
    assert_eq!(first.status, 200, "{}", first.text);
    app.run_jobs().await;
    // The fixture's invitations reached the admins too: only the payout emails count here.
    let payout_mails = |to: &str| {
        smtp.messages_to(to).into_iter().filter(|m| m.subject().is_some_and(|s| s.contains("payout account"))).collect::<Vec<_>>()
    };
    assert!(payout_mails(&f.r1a_admin.email).is_empty(), "a first method tells nobody");

    let now = app.state.ctx.now();
    let replaced = put(&app, &f.owner.token, &f.r1a, json!({"type": "sepa", "account_holder": HOLDER, "iban": OTHER_IBAN})).await;
    app.run_jobs().await;

    assert_eq!(replaced.status, 200, "{}", replaced.text);
    assert_eq!(replaced.body["id"], first.body["id"], "the method keeps its id");
    assert_eq!(replaced.body["iban_masked"], "GB•••• 5432");
    assert_eq!(replaced.body["bic"], Value::Null);
    let until = Timestamp::parse(replaced.body["cooling_off_until"].as_str().expect("a hold")).expect("RFC 3339");
    assert_eq!(until, now.plus_seconds(72 * 3600));
    let mails = payout_mails(&f.r1a_admin.email);
    assert_eq!(mails.len(), 1, "{:?}", smtp.messages());
    assert_eq!(mails[0].subject().as_deref(), Some("The payout account of R1a was changed"));
    let text = mails[0].text_part().expect("text");
    assert!(text.contains("GB•••• 5432") && text.contains(&f.owner.email), "{text}");
    assert!(!text.contains("GB82WEST") && !text.contains("WEST 1234"), "no clear IBAN in the email: {text}");
    assert!(payout_mails(&f.r1a_member.email).is_empty(), "admins only");

    // The same details again change nothing: no new hold, no email.
    app.clock.advance_seconds(3600);
    let again =
        put(&app, &f.r1a_admin.token, &f.r1a, json!({"type": "sepa", "account_holder": HOLDER, "iban": "gb82west12345698765432"})).await;
    app.run_jobs().await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.body["cooling_off_until"], replaced.body["cooling_off_until"]);
    assert_eq!(payout_mails(&f.r1a_admin.email).len(), 1);

    // What a payout run asks: held now, payable once the 72 hours have passed.
    let finance = scope_of(&app, &f.finance.token).await;
    let mut tx = finance.read(&app.state.ctx).await.expect("read");
    let readiness = payout_methods::readiness_in(&mut tx, &finance, &[f.r1a.clone(), f.r1b.clone()]).await.expect("readiness");
    tx.commit().await.expect("end");
    let r1a = readiness[&f.r1a];
    assert!(r1a.has_method && !r1a.is_payable_at(app.state.ctx.now()) && r1a.is_payable_at(until));
    assert!(!readiness[&f.r1b].has_method);
}

#[tokio::test]
async fn a_distributor_gets_404_for_its_resellers_payout_method_and_roles_without_it_get_403() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    assert_eq!(put(&app, &f.r1a_admin.token, &f.r1a, sepa(HOLDER, IBAN)).await.status, 200);

    let distributor_read = app.get(&path(&f.r1a), &f.d1_admin.token).await;
    let distributor_write = put(&app, &f.d1_admin.token, &f.r1a, sepa("Thief Ltd", OTHER_IBAN)).await;
    let missing = app.get(&path(&f.r1b), &f.r1b_admin.token).await;
    let member = app.get(&path(&f.r1a), &f.r1a_member.token).await;
    let member_write = put(&app, &f.r1a_member.token, &f.r1a, sepa(HOLDER, OTHER_IBAN)).await;
    let manager = app.get(&path(&f.r1a), &f.channel_manager.token).await;
    let viewer = app.get(&path(&f.r1a), &f.viewer.token).await;
    let own = put(&app, &f.d1_admin.token, &f.d1, sepa("Distributor One", OTHER_IBAN)).await;

    assert_eq!(distributor_read.status, 404, "{}", distributor_read.text);
    assert_eq!(distributor_write.status, 404, "{}", distributor_write.text);
    let not_found = app.get(&format!("/api/v1/partners/{}/payout-method", PartnerId::generate()), &f.d1_admin.token).await;
    assert_eq!(distributor_read.text, not_found.text, "not visible is exactly like missing");
    assert_eq!(missing.status, 404, "a partner without a method: {}", missing.text);
    assert_eq!(member.status, 403, "{}", member.text);
    assert_eq!(member_write.status, 403, "{}", member_write.text);
    assert_eq!(manager.status, 403, "{}", manager.text);
    assert_eq!(viewer.status, 403, "{}", viewer.text);
    assert_eq!(own.status, 200, "a distributor sets its own: {}", own.text);
    let stored = app.get(&path(&f.r1a), &f.r1a_admin.token).await;
    assert_eq!(stored.body["iban_masked"], "DE•••• 3000", "the refused writes changed nothing");
}

#[tokio::test]
async fn every_change_of_a_payout_method_is_audited_with_the_masked_iban_only() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let set = put(&app, &f.r1a_key, &f.r1a, sepa(HOLDER, IBAN)).await;
    put(&app, &f.finance.token, &f.r1a, sepa(HOLDER, OTHER_IBAN)).await;

    let events = app.get(&format!("/api/v1/audit-events?target_id={}", set.body["id"].as_str().expect("id")), &f.owner.token).await;

    assert_eq!(events.status, 200, "{}", events.text);
    let data = events.body["data"].as_array().expect("data");
    let actions: Vec<&str> = data.iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(actions, ["payout_method.replaced", "payout_method.created"], "newest first");
    assert_eq!(data[0]["changes"]["iban"], json!(["DE•••• 3000", "GB•••• 5432"]));
    assert_eq!(data[0]["changes"].get("bic"), None, "an unchanged BIC is not a change");
    assert_eq!(data[1]["changes"]["iban"], json!([null, "DE•••• 3000"]));
    assert_eq!(data[1]["target_type"], "payout_method");
    let rows = app.query(sql!("SELECT changes FROM audit_events WHERE action LIKE 'payout_method.%'")).await;
    assert_eq!(rows.len(), 2);
    for row in rows {
        let changes: String = row.get("changes").expect("changes");
        for clear in [IBAN_COMPACT, "GB82WEST12345698765432", HOLDER] {
            assert!(!changes.contains(clear), "the trail holds {clear}: {changes}");
        }
    }
}

#[tokio::test]
async fn without_a_secret_key_setting_a_payout_method_is_409_and_the_server_refuses_to_start_once_methods_are_stored() {
    let keyless = TestApp::spawn_without_secret_key().await;
    let f = Fixture::build(&keyless).await;
    let refused = put(&keyless, &f.r1a_admin.token, &f.r1a, sepa(HOLDER, IBAN)).await;
    let invalid_first = put(&keyless, &f.r1a_admin.token, &f.r1a, sepa(HOLDER, "DE00")).await;
    assert_eq!(refused.status, 409, "{}", refused.text);
    assert!(refused.body["detail"].as_str().is_some_and(|d| d.contains("TRELLIS_SECRET_KEY")), "{}", refused.text);
    assert_eq!(invalid_first.status, 422, "the caller's own mistakes come first: {}", invalid_first.text);
    trellis_server::check_secret_key(&keyless.state.ctx).await.expect("nothing stored: a server without a key starts");

    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    assert_eq!(put(&app, &f.r1a_admin.token, &f.r1a, sepa(HOLDER, IBAN)).await.status, 200);
    let db = app.state.ctx.db().clone();
    let without_key = trellis_identity::Ctx::new(db.clone(), std::sync::Arc::new(app.clock.clone()));
    let other_key = SecretKey::parse_hex(&"ab".repeat(32)).expect("key");
    let wrong_key = trellis_identity::Ctx::new(db, std::sync::Arc::new(app.clock.clone())).with_extension(other_key);

    trellis_server::check_secret_key(&app.state.ctx).await.expect("the key that sealed them starts");
    let missing = trellis_server::check_secret_key(&without_key).await.expect_err("no key");
    let wrong = trellis_server::check_secret_key(&wrong_key).await.expect_err("another key");
    assert!(missing.to_string().contains("TRELLIS_SECRET_KEY is not set"), "{missing}");
    assert!(wrong.to_string().contains("not the key they were stored with"), "{wrong}");
}

#[tokio::test]
async fn a_payout_export_opens_the_accounts_for_staff_and_never_for_partners() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    assert_eq!(put(&app, &f.r1a_admin.token, &f.r1a, sepa(HOLDER, IBAN)).await.status, 200);
    assert_eq!(
        put(&app, &f.p3_admin.token, &f.p3, json!({"type": "sepa", "account_holder": "P3 Ltd", "iban": OTHER_IBAN})).await.status,
        200
    );
    let finance = scope_of(&app, &f.finance.token).await;
    let partner = scope_of(&app, &f.r1a_admin.token).await;
    let ctx = &app.state.ctx;

    let mut tx = finance.read(ctx).await.expect("read");
    let accounts = payout_methods::decrypt_for_export_in(ctx, &mut tx, &finance, &[f.p3.clone(), f.r1b.clone(), f.r1a.clone()]).await;
    tx.commit().await.expect("end");
    let mut tx = partner.read(ctx).await.expect("read");
    let refused = payout_methods::decrypt_for_export_in(ctx, &mut tx, &partner, std::slice::from_ref(&f.r1a)).await;
    tx.commit().await.expect("end");

    let accounts = accounts.expect("finance exports");
    let shown: Vec<(String, String, String)> =
        accounts.iter().map(|a| (a.partner_id.to_string(), a.account_holder.clone(), a.iban.as_str().to_owned())).collect();
    assert_eq!(
        shown,
        [
            (f.p3.to_string(), "P3 Ltd".to_owned(), "GB82WEST12345698765432".to_owned()),
            (f.r1a.to_string(), HOLDER.to_owned(), IBAN_COMPACT.to_owned())
        ],
        "in the order asked, without the partner that has none"
    );
    assert_eq!(accounts[1].bic.as_ref().map(|b| b.as_str()), Some("COBADEFFXXX"));
    assert!(matches!(refused, Err(trellis_core::Error::Forbidden(_))), "{refused:?}");
}

#[tokio::test]
#[expect(clippy::disallowed_methods, reason = "the test of row security itself opens transactions with a chosen RowSecurity")]
async fn on_postgres_row_security_alone_keeps_a_resellers_payout_method_from_its_distributor() {
    let app = TestApp::spawn().await;
    if !app.is_postgres() {
        println!("SKIP payout_method row security: row-level security exists only on PostgreSQL; set TRELLIS_TEST_POSTGRES_URL");
        return;
    }
    let f = Fixture::build(&app).await;
    assert_eq!(put(&app, &f.r1a_admin.token, &f.r1a, sepa(HOLDER, IBAN)).await.status, 200);
    assert_eq!(put(&app, &f.d1_admin.token, &f.d1, sepa("Distributor One", OTHER_IBAN)).await.status, 200);
    let count = |security: RowSecurity| {
        let db = app.state.ctx.db().clone();
        async move {
            let mut tx = db.read(&security).await.expect("transaction");
            let n = tx.fetch_i64(sql!("SELECT COUNT(*) AS n FROM payout_methods")).await.expect("count");
            tx.commit().await.expect("end");
            n
        }
    };

    assert_eq!(count(RowSecurity::Unrestricted).await, 2);
    assert_eq!(count(RowSecurity::Partner(f.d1.to_string())).await, 1, "the distributor sees its own method only");
    assert_eq!(count(RowSecurity::Partner(f.r1a.to_string())).await, 1);
    assert_eq!(count(RowSecurity::Partner(f.r1b.to_string())).await, 0);
    assert_eq!(count(RowSecurity::Manager(f.assigned_manager.user_id.clone())).await, 2, "a manager of D1 reaches D1's tree");
}

#[tokio::test]
async fn a_partner_admin_adds_and_replaces_the_payout_method_in_the_portal_and_finance_sees_it_masked_in_the_console() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let admin = crate::pages::sign_in(&app, &f.r1a_admin.email).await;

    let empty = admin.get("/portal/payout-method").await;
    let refused = admin.submit("/portal/payout-method", &[("account_holder", HOLDER), ("iban", "DE89 3704 0044 0532 0130 01")]).await;
    let added = admin.submit("/portal/payout-method", &[("account_holder", HOLDER), ("iban", IBAN), ("bic", "")]).await;
    let shown = admin.get("/portal/payout-method?notice=payout_method_saved").await;
    let replaced = admin.submit("/portal/payout-method", &[("account_holder", HOLDER), ("iban", OTHER_IBAN)]).await;
    let held = admin.get("/portal/payout-method").await;

    assert_eq!(empty.status, 200, "{}", empty.text);
    crate::pages::assert_safe_page("/portal/payout-method", &empty);
    assert!(empty.text.contains("No payout method yet") && empty.text.contains("Add a bank account"), "{}", empty.text);
    assert!(empty.text.contains(r#"href="/portal/payout-method""#), "the navigation offers the page to an admin");
    assert_eq!(refused.status, 422, "{}", refused.text);
    assert!(
        refused.text.contains("the IBAN check digits do not match") && refused.text.contains(r#"aria-invalid="true""#),
        "{}",
        refused.text
    );
    assert_eq!(added.status, 303, "{}", added.text);
    assert!(shown.text.contains("DE•••• 3000") && shown.text.contains("The payout method was saved."), "{}", shown.text);
    assert!(shown.text.contains("Replace the bank account") && !shown.text.contains("Payouts resume"), "a first method has no hold");
    assert!(!shown.text.contains(IBAN_COMPACT) && !shown.text.contains("0532 0130"), "{}", shown.text);
    assert_eq!(replaced.status, 303, "{}", replaced.text);
    let until = app.state.ctx.now().plus_seconds(72 * 3600).to_datetime();
    let day = format!("{} {} {}", until.day(), &until.month().to_string()[..3], until.year());
    assert!(held.text.contains(&format!("Payouts resume on {day} after a change of account")), "{day}: {}", held.text);
    assert!(held.text.contains("GB•••• 5432"), "{}", held.text);

    let member = crate::pages::sign_in(&app, &f.r1a_member.email).await;
    assert_eq!(member.get("/portal/payout-method").await.status, 403);
    let console = format!("/console/partners/{}", f.r1a);
    let finance = crate::pages::sign_in(&app, &f.finance.email).await.get(&console).await;
    let manager = crate::pages::sign_in(&app, &f.channel_manager.email).await.get(&console).await;
    assert_eq!(finance.status, 200, "{}", finance.text);
    assert!(finance.text.contains(r#"id="payout-method""#) && finance.text.contains("GB•••• 5432"), "{}", finance.text);
    assert!(finance.text.contains(&format!("Payouts resume on {day}")), "{}", finance.text);
    assert_eq!(manager.status, 200, "{}", manager.text);
    assert!(!manager.text.contains(r#"id="payout-method""#) && !manager.text.contains("5432"), "a channel manager is not shown it");
}
