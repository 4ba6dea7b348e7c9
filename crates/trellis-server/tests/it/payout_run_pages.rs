//! The payout run pages over HTTP (issue 10): finance creates a draft run from the console and
//! reads its items and the partners left out with the reason in words; the person who created it
//! cannot approve it (four eyes, shown as a message), another person does; finance marks it paid
//! and downloads the CSV; a channel manager reads runs without buttons and gets 403 on every
//! form; partners never see runs (404).

use reqwest::header::{CONTENT_TYPE, LOCATION};
use serde_json::json;
use trellis_core::PartnerId;
use trellis_testkit::TestApp;
use trellis_testkit::fixture::Fixture;

use crate::commissions::{program, set_plan};
use crate::pages::{Page, assert_safe_page, sign_in};

/// Valid German IBANs (ISO 13616 check digits).
const IBANS: [&str; 3] = ["DE89370400440532013000", "DE02120300000000202051", "DE02500105170137075030"];

async fn payout_method(app: &TestApp, f: &Fixture, partner: &PartnerId, iban: &str) {
    let body = json!({"type": "sepa", "account_holder": format!("Holder of {partner}"), "iban": iban});
    let reply = app.send(reqwest::Method::PUT, &format!("/api/v1/partners/{partner}/payout-method"), Some(&f.owner_key), Some(&body)).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

async fn sale(app: &TestApp, f: &Fixture, invoice: &str, partner: &PartnerId, amount_minor: i64) {
    let body = json!({"kind": "sale", "invoice_id": invoice, "customer_external_id": format!("cus-{invoice}"), "partner_id": partner,
        "amount": {"amount_minor": amount_minor, "currency": "EUR"}});
    let reply = app.post("/api/v1/conversions", &f.owner_key, body).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
}

fn location(page: &Page) -> String {
    page.headers.get(LOCATION).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned()
}

#[tokio::test]
async fn payout_run_pages_create_approve_by_another_person_mark_paid_and_export() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let program = program(&app, &f, "payout-run-pages").await;
    let plan = json!({"sale": {"percent_bps": 2000}, "hold_days": 0, "parent_override_bps": 500,
        "min_payout": {"amount_minor": 5000, "currency": "EUR"}});
    set_plan(&app, &f, &program, plan).await;
    for (partner, iban) in [(&f.r1a, IBANS[0]), (&f.d1, IBANS[1]), (&f.p3, IBANS[2])] {
        payout_method(&app, &f, partner, iban).await;
    }
    sale(&app, &f, "INV-1", &f.r1a, 100_000).await; // r1a €200.00, d1 €50.00
    sale(&app, &f, "INV-2", &f.p3, 10_000).await; // €20.00: below the minimum of €50.00
    sale(&app, &f, "INV-3", &f.r1b, 100_000).await; // no payout method; d1 another €50.00

    // Finance: the list with its form (the workspace's currency chosen), then a draft.
    let finance = sign_in(&app, &f.finance.email).await;
    let list = finance.get("/console/payout-runs").await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert_safe_page("/console/payout-runs", &list);
    assert!(list.text.contains("No payout runs yet") && list.text.contains(r#"<option value="EUR" selected>"#), "{}", list.text);
    let commissions = finance.get("/console/commissions").await;
    assert!(commissions.text.contains(r#"href="/console/payout-runs""#), "linked from the money pages");
    let bad = finance.submit("/console/payout-runs", &[("currency", "XXQ")]).await;
    assert_eq!(bad.status, 422, "{}", bad.text);
    assert!(bad.text.contains("field-error"), "the error next to the field: {}", bad.text);
    let created = finance.submit("/console/payout-runs", &[("currency", "EUR")]).await;
    assert_eq!(created.status, 303, "{}", created.text);
    let to = location(&created);
    assert!(to.starts_with("/console/payout-runs/") && to.ends_with("?notice=run_created"), "{to}");
    let path = to.split('?').next().expect("path").to_owned();

    let run = finance.get(&to).await;
    assert_eq!(run.status, 200, "{}", run.text);
    assert_safe_page(&path, &run);
    assert!(run.text.contains("The draft run was created"), "the flash message");
    assert!(run.text.contains("€200.00") && run.text.contains("€100.00") && run.text.contains("€300.00"), "items and total: {}", run.text);
    assert!(run.text.contains("No payout method") && run.text.contains("Below the minimum payout"), "skipped in words: {}", run.text);
    assert!(run.text.contains("Another person approves this run"), "four eyes explained");
    assert!(!run.text.contains(&format!(r#"action="{path}/approve""#)), "no Approve button for the creator");
    assert!(run.text.contains(&format!(r#"action="{path}/cancel""#)), "Cancel on a draft");
    assert!(!run.text.contains(&format!(r#"action="{path}/mark-paid""#)), "a draft is not paid");
    let own = finance.submit(&format!("{path}/approve"), &[]).await;
    assert_eq!(own.status, 403, "{}", own.text);
    assert!(own.text.contains("another person approves it (four eyes)") && own.text.contains("€300.00"), "the run with the message");
    let early = finance.submit(&format!("{path}/mark-paid"), &[]).await;
    assert_eq!(early.status, 409, "{}", early.text);
    assert!(early.text.contains("Not possible right now") && early.text.contains("€300.00"), "{}", early.text);
    let listed = finance.get("/console/payout-runs").await;
    assert!(listed.text.contains("Draft") && listed.text.contains("€300.00") && listed.text.contains(&format!(r#"href="{path}""#)));

    // A channel manager reads, without buttons, and may not change anything.
    let manager = sign_in(&app, &f.channel_manager.email).await;
    let read = manager.get(&path).await;
    assert_eq!(read.status, 200, "{}", read.text);
    assert!(read.text.contains("€300.00"));
    assert!(!read.text.contains("/approve\"") && !read.text.contains("/cancel\""), "no buttons: {}", read.text);
    assert!(!manager.get("/console/payout-runs").await.text.contains("Create a draft run"));
    assert_eq!(manager.submit("/console/payout-runs", &[("currency", "EUR")]).await.status, 403);
    for action in ["approve", "mark-paid", "cancel"] {
        assert_eq!(manager.submit(&format!("{path}/{action}"), &[]).await.status, 403, "{action}");
    }

    // Partners never see runs.
    let partner = sign_in(&app, &f.r1a_admin.email).await;
    assert_eq!(partner.get("/console/payout-runs").await.status, 404);
    assert_eq!(partner.get(&path).await.status, 404);
    assert_eq!(partner.get(&format!("{path}/export")).await.status, 404);

    // The owner approves; finance marks it paid and downloads the file.
    let owner = sign_in(&app, &f.owner.email).await;
    let page = owner.get(&path).await;
    assert!(page.text.contains(&format!(r#"action="{path}/approve""#)), "{}", page.text);
    let approved = owner.submit(&format!("{path}/approve"), &[]).await;
    assert_eq!((approved.status, location(&approved)), (303, format!("{path}?notice=run_approved")), "{}", approved.text);
    let page = finance.get(&format!("{path}?notice=run_approved")).await;
    assert!(page.text.contains("The run was approved") && page.text.contains("Approved"));
    assert!(page.text.contains(&format!(r#"action="{path}/mark-paid""#)) && !page.text.contains(&format!(r#"action="{path}/approve""#)));
    let csv = finance.get(&format!("{path}/export")).await;
    assert_eq!(csv.status, 200);
    assert!(csv.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|t| t.starts_with("text/csv")));
    assert!(csv.text.contains(&format!("{},", f.r1a)) && csv.text.contains(",200.00,EUR,"), "{}", csv.text);
    // The SEPA file for the bank: offered once approved, to those who may open bank details;
    // without the account payouts are paid from, the run's page says where to set it.
    assert!(page.text.contains(&format!(r#"href="{path}/sepa""#)), "{}", page.text);
    assert!(!manager.get(&path).await.text.contains(&format!(r#"href="{path}/sepa""#)), "not for a channel manager");
    assert_eq!(manager.get(&format!("{path}/sepa")).await.status, 403);
    assert_eq!(partner.get(&format!("{path}/sepa")).await.status, 404);
    let refused = finance.get(&format!("{path}/sepa")).await;
    assert_eq!(refused.status, 409, "{}", refused.text);
    assert!(refused.text.contains("No SEPA file") && refused.text.contains("Settings"), "{}", refused.text);
    let settings = owner.get("/console/settings").await;
    assert!(settings.text.contains("Not set yet"), "{}", settings.text);
    let wrong = owner
        .submit("/console/settings/payout-account", &[("sepa_debtor.name", "Acme AG"), ("sepa_debtor.iban", "DE02 1203 0000 0000 2020 52")])
        .await;
    assert_eq!(wrong.status, 422, "a wrong check digit: {}", wrong.text);
    let saved = owner
        .submit(
            "/console/settings/payout-account",
            &[("sepa_debtor.name", "Acme AG"), ("sepa_debtor.iban", "DE02 1203 0000 0000 2020 51"), ("sepa_debtor.bic", "")],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.text);
    let settings = owner.get("/console/settings").await;
    assert!(
        settings.text.contains("Acme AG") && settings.text.contains("2051") && !settings.text.contains("DE02120300000000202051"),
        "masked"
    );
    let file = finance.get(&format!("{path}/sepa")).await;
    assert_eq!(file.status, 200, "{}", file.text);
    assert!(file.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|t| t.starts_with("application/xml")));
    assert!(file.text.contains("<CtrlSum>300.00</CtrlSum>") && file.text.contains("<IBAN>DE02120300000000202051</IBAN>"), "{}", file.text);
    let paid = finance.submit(&format!("{path}/mark-paid"), &[]).await;
    assert_eq!((paid.status, location(&paid)), (303, format!("{path}?notice=run_paid")), "{}", paid.text);
    let page = finance.get(&path).await;
    assert!(page.text.contains("Paid") && !page.text.contains(&format!(r#"action="{path}/cancel""#)), "a paid run has no buttons");
    let late = finance.submit(&format!("{path}/cancel"), &[]).await;
    assert_eq!(late.status, 409, "a paid run stays paid: {}", late.text);
    assert_eq!(owner.get(&format!("{path}/export")).await.status, 200);
    assert_eq!(finance.get("/console/payout-runs/pay_nothing").await.status, 404);
}

/// A run of R1a's sale (€200.00, D1's override €50.00) and P3's (€50.00), approved by another
/// person than its creator; answers the run's id.
pub(crate) async fn approved_run(app: &TestApp, f: &Fixture, slug: &str) -> String {
    let program = program(app, f, slug).await;
    set_plan(app, f, &program, json!({"sale": {"percent_bps": 2000}, "hold_days": 0, "parent_override_bps": 500})).await;
    for (partner, iban) in [(&f.r1a, IBANS[0]), (&f.d1, IBANS[1]), (&f.p3, IBANS[2])] {
        payout_method(app, f, partner, iban).await;
    }
    sale(app, f, "ST-1", &f.r1a, 100_000).await;
    sale(app, f, "ST-2", &f.p3, 25_000).await;
    let created = app.post("/api/v1/payout-runs", &f.finance.token, json!({"currency": "EUR"})).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let run = created.body["id"].as_str().expect("run id").to_owned();
    let approved = app.post(&format!("/api/v1/payout-runs/{run}/approve"), &f.owner.token, json!({})).await;
    assert_eq!(approved.status, 200, "{}", approved.text);
    run
}

#[tokio::test]
async fn a_partner_prints_its_own_statement_and_never_another_organisations() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let run = approved_run(&app, &f, "statement-pages").await;

    // R1a's admin: the list from the earnings page, then the printable statement.
    let r1a = sign_in(&app, &f.r1a_admin.email).await;
    let earnings = r1a.get("/portal/earnings").await;
    assert!(earnings.text.contains(r#"href="/portal/statements""#), "linked from the earnings page and the navigation");
    let list = r1a.get("/portal/statements").await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert_safe_page("/portal/statements", &list);
    assert!(list.text.contains("€200.00") && list.text.contains(&format!(r#"href="/portal/statements/{run}""#)), "{}", list.text);
    assert!(list.text.contains("Approved: on its way"), "{}", list.text);
    let path = format!("/portal/statements/{run}");
    let page = r1a.get(&path).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert_safe_page(&path, &page);
    for words in ["Payout statement", "Vendor", "R1a", "€200.00", "Total paid", "data-print", "DE••••", "print this page"] {
        assert!(page.text.contains(words), "{words}: {}", page.text);
    }
    assert!(!page.text.contains("€50.00"), "D1's override is not on R1a's statement: {}", page.text);
    let css = r1a.get(&app_css(&page.text)).await;
    assert!(css.text.contains("@media print"), "a print style sheet");

    // R1a's member: 403; D1 reads its own override's statement, never R1a's (404 over the API).
    let member = sign_in(&app, &f.r1a_member.email).await;
    assert_eq!(member.get("/portal/statements").await.status, 403);
    assert_eq!(member.get(&path).await.status, 403);
    let d1 = sign_in(&app, &f.d1_admin.email).await;
    let own = d1.get(&path).await;
    assert_eq!(own.status, 200, "{}", own.text);
    assert!(own.text.contains("€50.00") && !own.text.contains("€200.00"), "{}", own.text);
    let reseller = app.get(&format!("/api/v1/partners/{}/statements/{run}", f.r1a), &f.d1_admin.token).await;
    assert_eq!(reseller.status, 404, "a distributor never reads its reseller's statement: {}", reseller.text);
    let listed = app.get(&format!("/api/v1/partners/{}/statements", f.r1a), &f.d1_admin.token).await;
    assert_eq!(listed.status, 404, "{}", listed.text);
    // R1b was not in the run: nothing to read.
    let r1b = sign_in(&app, &f.r1b_admin.email).await;
    assert_eq!(r1b.get(&path).await.status, 404);
    assert!(!r1b.get("/portal/statements").await.text.contains(&run));

    // Staff: the run links each item to its statement, the console's page is the same statement.
    let finance = sign_in(&app, &f.finance.email).await;
    let run_page = finance.get(&format!("/console/payout-runs/{run}")).await;
    let console_path = format!("/console/partners/{}/statements/{run}", f.r1a);
    assert!(run_page.text.contains(&format!(r#"href="{console_path}""#)), "{}", run_page.text);
    let console = finance.get(&console_path).await;
    assert_eq!(console.status, 200, "{}", console.text);
    assert_safe_page(&console_path, &console);
    assert!(console.text.contains("Payout statement") && console.text.contains("€200.00"), "{}", console.text);
    assert_eq!(r1a.get(&console_path).await.status, 404, "the console is staff's");
    assert_eq!(finance.get(&format!("/console/partners/{}/statements/{run}", f.r1b)).await.status, 404);
}

/// The address of the page's style sheet.
fn app_css(html: &str) -> String {
    let start = html.find(r#"<link rel="stylesheet" href=""#).expect("a style sheet") + r#"<link rel="stylesheet" href=""#.len();
    html[start..].split('"').next().expect("its address").to_owned()
}
