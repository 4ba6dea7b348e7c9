//! The money pages over HTTP (issue 10): the portal's earnings overview and commissions list for a
//! partner's admins and finance people (never its resellers' money, never for its members), the
//! CSV export, the console's commissions with the hold queue and its buttons, bonus awards,
//! conversions, the commission plan editor with errors next to its fields, and paid invoices by
//! CSV with a preview and a confirmation that is safe to repeat.

use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION};
use serde_json::json;
use trellis_core::ProgramId;
use trellis_testkit::TestApp;
use trellis_testkit::fixture::Fixture;

use crate::commissions::{money, program, set_plan};
use crate::pages::{Page, assert_safe_page, csrf_field, sign_in};

/// A program with a 20% sale plan and a 5% distributor override, and a sale of €100.00 by R1a
/// (its invoice open): R1a earns €20.00, its distributor D1 €5.00. Answers the program and R1a's
/// commission.
async fn sale_of_r1a(app: &TestApp, f: &Fixture) -> (ProgramId, String) {
    let program = program(app, f, "money-pages").await;
    set_plan(app, f, &program, json!({"sale": {"percent_bps": 2000}, "hold_days": 30, "parent_override_bps": 500})).await;
    let sale = json!({"kind": "sale", "invoice_id": "INV-1", "customer_external_id": "cus_1", "partner_id": f.r1a, "amount": money(10_000),
        "invoice_status": "open"});
    let reply = app.post("/api/v1/conversions", &f.owner_key, sale).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let id = reply.body["commissions"].as_array().expect("commissions").iter().find(|c| c["kind"] == "sale").expect("sale")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    (program, id)
}

fn location(page: &Page) -> String {
    page.headers.get(LOCATION).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned()
}

#[tokio::test]
async fn a_partner_reads_its_own_earnings_in_words_and_numbers_and_never_a_resellers() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let (_, r1a_commission) = sale_of_r1a(&app, &f).await;
    let refund = json!({"kind": "refund", "invoice_id": "CR-1", "customer_external_id": "cus_1", "refunds_invoice_id": "INV-1",
        "amount": money(2500)});
    assert_eq!(app.post("/api/v1/conversions", &f.owner_key, refund).await.status, 201);

    let r1a = sign_in(&app, &f.r1a_admin.email).await;
    let overview = r1a.get("/portal/earnings").await;
    assert_eq!(overview.status, 200, "{}", overview.text);
    assert_safe_page("/portal/earnings", &overview);
    assert!(overview.text.contains("€15.00"), "pending: €20.00 earned less the €5.00 reversed: {}", overview.text);
    assert!(overview.text.contains("<svg") && overview.text.contains("Earnings by month (EUR)"), "the chart");
    assert!(overview.text.contains("−€5.00") && overview.text.contains("Refund of the sale"), "a reversal reads as one");
    assert!(overview.text.contains("20% of €100.00"), "a share of a sale says of what");

    // This month's bar links to this month's commissions; a range before them lists none.
    let month =
        overview.text.rsplit(r#"<a href="/portal/commissions?since="#).next().and_then(|r| r.split('"').next()).expect("a bar's link");
    let month = r1a.get(&format!("/portal/commissions?since={}", month.replace("&amp;", "&"))).await;
    assert!(month.text.contains("€20.00") && month.text.contains("−€5.00"), "{}", month.text);
    assert!(r1a.get("/portal/commissions?until=2001-01-31").await.text.contains("No commissions match"));
    let list = r1a.get("/portal/commissions?kind=sale").await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert!(list.text.contains("€20.00") && !list.text.contains("−€5.00"), "filtered by kind");
    assert!(r1a.get("/portal/commissions?kind=override").await.text.contains("No commissions match"));
    let export = r1a.get("/portal/commissions/export").await;
    assert_eq!(export.status, 200);
    assert!(export.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|t| t.starts_with("text/csv")));
    assert!(export.text.contains(",20.00,EUR,") && export.text.contains(",-5.00,EUR,"), "{}", export.text);
    let one = r1a.get(&format!("/portal/commissions/{r1a_commission}")).await;
    assert_eq!(one.status, 200, "{}", one.text);
    assert!(one.text.contains("INV-1") && one.text.contains("not paid yet"));

    // The distributor sees the override it earns itself, never its reseller's commission.
    let d1 = sign_in(&app, &f.d1_admin.email).await;
    let d1_list = d1.get("/portal/commissions").await;
    assert!(d1_list.text.contains("Override") && d1_list.text.contains("€5.00"), "{}", d1_list.text);
    assert!(!d1_list.text.contains("€20.00"));
    assert!(!d1.get("/portal/commissions/export").await.text.contains("20.00"));
    assert_eq!(d1.get(&format!("/portal/commissions/{r1a_commission}")).await.status, 404);
    assert_eq!(sign_in(&app, &f.r1b_admin.email).await.get(&format!("/portal/commissions/{r1a_commission}")).await.status, 404);

    // Members read no money, and their navigation does not offer it.
    let member = sign_in(&app, &f.r1a_member.email).await;
    assert_eq!(member.get("/portal/earnings").await.status, 403);
    assert_eq!(member.get("/portal/commissions").await.status, 403);
    assert!(!member.get("/portal/deals").await.text.contains(r#"href="/portal/earnings""#));
    assert!(r1a.get("/portal/deals").await.text.contains(r#"href="/portal/earnings""#));
}

#[tokio::test]
async fn finance_holds_and_releases_from_the_queue_and_awards_a_spiff_others_read() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let (_, commission) = sale_of_r1a(&app, &f).await;
    let finance = sign_in(&app, &f.finance.email).await;
    let list = finance.get("/console/commissions").await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert_safe_page("/console/commissions", &list);
    assert!(list.text.contains("R1a") && list.text.contains("€20.00"), "{}", list.text);
    assert!(list.text.contains(&format!(r#"action="/console/commissions/{commission}/hold""#)), "the Hold button");

    let viewer = sign_in(&app, &f.viewer.email).await;
    let read_only = viewer.get("/console/commissions").await;
    assert_eq!(read_only.status, 200);
    assert!(read_only.text.contains("€20.00") && !read_only.text.contains("/hold\""), "a viewer reads, without buttons");
    let refused = viewer.submit(&format!("/console/commissions/{commission}/hold"), &[("reason", "manual")]).await;
    assert_eq!(refused.status, 403);

    let held = finance
        .submit(
            &format!("/console/commissions/{commission}/hold"),
            &[("reason", "fraud_review"), ("return_to", "/console/commissions/held")],
        )
        .await;
    assert_eq!(held.status, 303, "{}", held.text);
    assert_eq!(location(&held), "/console/commissions/held?notice=commission_held");
    let queue = finance.get(&location(&held)).await;
    assert!(queue.text.contains("Held for review") && queue.text.contains("Release"), "{}", queue.text);
    assert!(queue.text.contains("The commission is on hold"), "the notice");
    assert!(
        queue.text.contains(r#"aria-current="page">Commissions <span class="nav-count">"#),
        "the navigation counts the hold: {}",
        queue.text
    );
    let home = finance.get("/").await.text;
    assert!(
        home.contains("Commissions held for review") && home.contains(r#"href="/console/commissions/held""#),
        "the console home's queue: {home}"
    );
    let r1a = sign_in(&app, &f.r1a_admin.email).await;
    assert!(r1a.get("/portal/commissions").await.text.contains("Held for review"), "the partner reads why in words");
    let released = finance.submit(&format!("/console/commissions/{commission}/release"), &[("return_to", "https://evil.example/")]).await;
    assert_eq!((released.status, location(&released).as_str()), (303, "/console/commissions?notice=commission_released"));
    assert!(finance.get("/console/commissions/held").await.text.contains("Nothing is on hold"));

    // A SPIFF: errors next to the fields, then the award the partner reads.
    assert_eq!(sign_in(&app, &f.channel_manager.email).await.get("/console/commissions/bonus").await.status, 403);
    let form = finance.get("/console/commissions/bonus").await;
    assert_eq!(form.status, 200, "{}", form.text);
    let r1a_id = f.r1a.to_string();
    let failed = finance
        .submit(
            "/console/commissions/bonus",
            &[("partner", &r1a_id), ("kind", "spiff"), ("amount", "lots"), ("currency", "EUR"), ("reason", "")],
        )
        .await;
    assert_eq!(failed.status, 422, "{}", failed.text);
    assert!(failed.text.contains(r#"id="bonus-amount-error""#), "{}", failed.text);
    let no_reason = finance
        .submit(
            "/console/commissions/bonus",
            &[("partner", &r1a_id), ("kind", "spiff"), ("amount", "250"), ("currency", "EUR"), ("reason", "")],
        )
        .await;
    assert_eq!(no_reason.status, 422);
    assert!(no_reason.text.contains(r#"id="bonus-reason-error""#), "the service's error next to its field: {}", no_reason.text);
    let awarded = finance
        .submit(
            "/console/commissions/bonus",
            &[("partner", &r1a_id), ("kind", "spiff"), ("amount", "250.00"), ("currency", "EUR"), ("reason", "Q4 launch")],
        )
        .await;
    assert_eq!(awarded.status, 303, "{}", awarded.text);
    let earnings = r1a.get("/portal/earnings").await.text;
    assert!(earnings.contains("SPIFF: Q4 launch") && earnings.contains("€250.00"), "{earnings}");

    // Conversions and a conversion's commissions.
    let conversions = viewer.get("/console/conversions?kind=sale").await;
    assert_eq!(conversions.status, 200, "{}", conversions.text);
    assert!(conversions.text.contains("INV-1") && conversions.text.contains("€100.00"));
    assert!(viewer.get("/console/conversions?invoice=INV-404").await.text.contains("No conversions match"));
    let conversion_id = conversions.text.split(r#"href="/console/conversions/"#).nth(1).and_then(|r| r.split('"').next()).expect("a link");
    let conversion = finance.get(&format!("/console/conversions/{conversion_id}")).await;
    assert_eq!(conversion.status, 200, "{}", conversion.text);
    assert!(conversion.text.contains("€20.00") && conversion.text.contains("€5.00") && conversion.text.contains("By the partner named"));
    assert_eq!(sign_in(&app, &f.d1_admin.email).await.get(&format!("/console/conversions/{conversion_id}")).await.status, 404);
}

#[tokio::test]
async fn the_plan_editor_takes_percents_and_tiers_keeps_versions_and_puts_errors_next_to_fields() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let program = program(&app, &f, "plan-editor").await;
    let tier = app
        .post(
            &format!("/api/v1/programs/{program}/tiers"),
            &f.owner.token,
            json!({"name": "Gold", "rank": 1, "requirements": {"all": []}, "benefits": {"text": "Gold benefits"}}),
        )
        .await;
    assert_eq!(tier.status, 201, "{}", tier.text);
    let tier_field = format!("tier_{}", tier.body["id"].as_str().expect("tier id"));
    let path = format!("/console/programs/{program}/commission-plan");
    let finance = sign_in(&app, &f.finance.email).await;
    assert!(finance.get(&format!("/console/programs/{program}")).await.text.contains(&path), "linked from the program page");
    let blank = finance.get(&path).await;
    assert_eq!(blank.status, 200, "{}", blank.text);
    assert_safe_page(&path, &blank);
    assert!(blank.text.contains("no commission plan") && blank.text.contains("Gold"), "{}", blank.text);

    let fields = |sale: &'static str, hold: &'static str, tier: &'static str| {
        vec![
            ("lead_flat", "50"),
            ("sale_percent", sale),
            ("recurrence", "months"),
            ("recurring_months", "12"),
            ("hold_days", hold),
            ("min_payout", "1,000.00"),
            ("parent_override", "5"),
            (tier_field.as_str(), tier),
        ]
    };
    let failed = finance.submit(&path, &fields("150", "30", "25")).await;
    assert_eq!(failed.status, 422, "{}", failed.text);
    assert!(failed.text.contains(r#"id="plan-sale_percent-error""#) && failed.text.contains("between 0% and 100%"), "{}", failed.text);
    assert!(failed.text.contains(r#"value="150""#), "what was typed stays");
    let service_refused = finance.submit(&path, &fields("20", "999", "25")).await;
    assert_eq!(service_refused.status, 422);
    assert!(
        service_refused.text.contains(r#"id="plan-hold_days-error""#),
        "the service's path lands on its field: {}",
        service_refused.text
    );
    let bad_tier = finance.submit(&path, &fields("20", "30", "much")).await;
    assert_eq!(bad_tier.status, 422);
    assert!(bad_tier.text.contains("-error\">must be a percent"), "{}", bad_tier.text);

    let saved = finance.submit(&path, &fields("20", "30", "25")).await;
    assert_eq!((saved.status, location(&saved)), (303, format!("{path}?notice=plan_saved")), "{}", saved.text);
    let plan = app.get(&format!("/api/v1/programs/{program}/commission-plan"), &f.finance.token).await;
    assert_eq!(plan.status, 200, "{}", plan.text);
    let body = plan.body.to_string();
    assert!(
        body.contains("\"percent_bps\":2000") && body.contains("\"sale_percent_bps\":2500") && body.contains("\"recurring_months\":12"),
        "{body}"
    );
    let shown = finance.get(&path).await.text;
    assert!(shown.contains("A sale earns 20% of its amount") && shown.contains("Gold earn 25%") && shown.contains("€50.00"), "{shown}");
    assert!(shown.contains(r#"value="20""#), "the form shows the percent, not basis points");
    assert!(shown.contains("Version 1"));
    let again = finance.submit(&path, &fields("20", "30", "25")).await;
    assert_eq!(location(&again), format!("{path}?notice=plan_unchanged"));
    let changed = finance.submit(&path, &fields("22.5", "0", "")).await;
    assert_eq!(changed.status, 303);
    let versions = finance.get(&path).await.text;
    assert!(versions.contains("Version 2") && versions.contains("Version 1") && versions.contains("22.5%"), "{versions}");

    // Others read the plan; only owners, admins and finance change it.
    let viewer = sign_in(&app, &f.viewer.email).await;
    let read = viewer.get(&path).await;
    assert_eq!(read.status, 200);
    assert!(read.text.contains("22.5%") && !read.text.contains("Save the plan"));
    assert_eq!(viewer.submit(&path, &fields("20", "30", "")).await.status, 403);
    assert_eq!(sign_in(&app, &f.r1a_admin.email).await.get(&path).await.status, 404);
}

/// A multipart form as a browser sends it: the token, pasted text and a file.
fn multipart(csrf: &str, file: &str) -> (String, String) {
    let boundary = "paid-invoices-boundary";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{csrf}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"csv\"\r\n\r\n\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"paid.csv\"\r\nContent-Type: text/csv\r\n\r\n{file}\r\n--{boundary}--\r\n"
    );
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// The confirm form's hidden `csv`, unescaped as a browser does.
fn hidden_csv(html: &str) -> String {
    let marker = r#"<input type="hidden" name="csv" value=""#;
    let start = html.find(marker).expect("the confirm form") + marker.len();
    html[start..]
        .split('"')
        .next()
        .expect("value")
        .replace("&#13;", "\r")
        .replace("&#10;", "\n")
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[tokio::test]
async fn paid_invoices_are_previewed_row_by_row_then_paid_once() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    sale_of_r1a(&app, &f).await;
    assert_eq!(sign_in(&app, &f.viewer.email).await.get("/console/invoices/paid").await.status, 403);
    let finance = sign_in(&app, &f.finance.email).await;
    let page = finance.get("/console/invoices/paid").await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert_safe_page("/console/invoices/paid", &page);
    let csrf = csrf_field(&page.text).expect("csrf");
    let (content_type, body) = multipart(&csrf, "invoice_id,paid_at\nINV-1,\nINV-404,\nINV-1,\n");
    let preview = app
        .client
        .post(format!("{}/console/invoices/paid/preview", app.base_url))
        .header(COOKIE, finance.cookie())
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("sent");
    assert_eq!(preview.status().as_u16(), 200);
    let preview = preview.text().await.expect("body");
    assert!(preview.contains("1 to mark paid, 0 already paid, 2 refused"), "{preview}");
    assert!(preview.contains("no sale was recorded with this invoice") && preview.contains("listed twice"), "{preview}");
    assert_eq!(
        app.get("/api/v1/conversions?invoice_id=INV-1", &f.finance.token).await.body["data"][0]["invoice_status"],
        "open",
        "a preview writes nothing"
    );

    let csv = hidden_csv(&preview);
    let applied = finance.submit("/console/invoices/paid", &[("csv", &csv)]).await;
    assert_eq!(
        (applied.status, location(&applied).as_str()),
        (303, "/console/invoices/paid?paid=1&already=0&refused=2"),
        "{}",
        applied.text
    );
    assert!(finance.get(&location(&applied)).await.text.contains("Done: 1 invoices marked paid"));
    let again = finance.submit("/console/invoices/paid", &[("csv", &csv)]).await;
    assert_eq!(location(&again), "/console/invoices/paid?paid=0&already=1&refused=2", "uploading twice is safe");
    assert_eq!(sign_in(&app, &f.channel_manager.email).await.submit("/console/invoices/paid", &[("csv", &csv)]).await.status, 403);
}

#[tokio::test]
async fn a_long_list_of_commissions_pages_with_cursors_and_keeps_its_filters() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    for n in 1..=55 {
        let bonus = json!({"partner_id": f.r1b, "amount": money(100 * n), "kind": "bonus", "reason": format!("Bonus {n}")});
        assert_eq!(app.post("/api/v1/commissions", &f.finance.token, bonus).await.status, 201);
    }
    let finance = sign_in(&app, &f.finance.email).await;
    let first = finance.get(&format!("/console/commissions?partner={}&kind=bonus", f.r1b)).await;
    assert!(first.text.contains("Showing 1–50 commissions, newest first; more follow"), "{}", first.text);
    assert!(first.text.contains("Bonus 55") && !first.text.contains("Bonus 5<"), "newest first");
    let next =
        first.text.split(r#"<a href=""#).find(|r| r.contains("rel=\"next\"")).and_then(|r| r.split('"').next()).expect("a next page");
    let next = next.replace("&amp;", "&").replace("&#38;", "&");
    assert!(next.contains(&format!("partner={}", f.r1b)) && next.contains("kind=bonus") && next.contains("from=50"), "{next}");
    let second = finance.get(&next).await;
    assert!(
        second.text.contains("Showing 51–55 commissions, newest first") && second.text.contains("Bonus 1<"),
        "{next}: {}",
        second.text.split("list-summary").nth(1).unwrap_or(&second.text).chars().take(3000).collect::<String>()
    );
    let r1b = sign_in(&app, &f.r1b_admin.email).await;
    let export = r1b.get("/portal/commissions/export?kind=bonus").await;
    assert_eq!(export.text.lines().count(), 56, "a header and every bonus, over several pages");
}
