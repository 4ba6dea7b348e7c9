//! The lead pages (issue 13): the console's inbox, new lead form and a lead's page with the ranked
//! candidates and their reasons, offering and closing; the portal's "Leads for you" with the time
//! left, accepting, declining with a reason and converting into a deal in one step.

use trellis_db::sql;
use trellis_testkit::TestApp;
use trellis_testkit::fixture::{self, DealPrograms, Fixture};

use crate::pages::{assert_safe_page, sign_in};

async fn world() -> (TestApp, Fixture, DealPrograms) {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let programs = fixture::deal_programs(&app, &f).await;
    app.execute(vec![sql!(
        "INSERT INTO partner_profile_terms (workspace_id, partner_id, kind, match_key, value, position) VALUES ($1, $2, 'product', 'cloud', 'Cloud', 0)",
        &f.workspace_id,
        &f.p3
    )])
    .await
    .expect("P3 sells Cloud");
    (app, f, programs)
}

fn location(page: &crate::pages::Page) -> String {
    page.headers.get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

#[tokio::test]
async fn the_channel_team_enters_a_lead_sees_why_each_partner_fits_and_offers_it_to_the_best_match() {
    let (app, f, programs) = world().await;
    let manager = sign_in(&app, &f.channel_manager.email).await;

    let inbox = manager.get("/console/leads").await;
    assert_eq!(inbox.status, 200, "{}", inbox.text);
    assert_safe_page("/console/leads", &inbox);
    assert!(inbox.text.contains("Nothing waits for you"), "{}", inbox.text);

    let form = manager.get("/console/leads/new").await;
    assert_eq!(form.status, 200, "{}", form.text);
    assert_safe_page("/console/leads/new", &form);
    let refused = manager.submit("/console/leads", &[("company_name", "Huber Logistik"), ("country", ""), ("value", "lots")]).await;
    assert_eq!(refused.status, 422, "{}", refused.text);
    assert!(refused.text.contains("must be an amount"), "{}", refused.text);
    assert_eq!(app.query_i64(sql!("SELECT COUNT(*) AS n FROM leads")).await, 0);

    let program = programs.main.to_string();
    let created = manager
        .submit(
            "/console/leads",
            &[
                ("company_name", "Huber Logistik"),
                ("contact_email", "grete@huber.example"),
                ("country", "DE"),
                ("product_interest", "Cloud"),
                ("value", "45,000.00"),
                ("program_id", program.as_str()),
            ],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.text);
    let to = location(&created);
    assert!(to.starts_with("/console/leads/lead_") && to.ends_with("?notice=lead_created"), "{to}");
    let path = to.split('?').next().expect("path").to_owned();
    let page = manager.get(&to).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert_safe_page(&path, &page);
    assert!(page.text.contains("€45,000.00"), "{}", page.text);
    assert!(page.text.contains("Best matches") && page.text.contains("<meter"), "{}", page.text);
    let first = page.text.find("P3").expect("P3 is a candidate");
    let d1 = page.text.find("Distributor One").or_else(|| page.text.find("D1")).unwrap_or(usize::MAX);
    assert!(first < d1, "P3 sells Cloud and ranks first: {}", page.text);

    let offered = manager.submit(&format!("{path}/offer"), &[]).await;
    assert_eq!(offered.status, 303, "{}", offered.text);
    let page = manager.get(&path).await;
    assert!(page.text.contains("Why") && page.text.contains("h ") && page.text.contains("left"), "{}", page.text);
    let holder = app.query(sql!("SELECT holder_partner_id FROM leads")).await;
    assert_eq!(holder[0].get::<String>("holder_partner_id").expect("holder"), f.p3.to_string());
    let offered_view = manager.get("/console/leads?view=offered").await;
    assert!(offered_view.text.contains("Huber Logistik") && offered_view.text.contains("left"), "{}", offered_view.text);

    // Finance reads the lead but offers and closes nothing.
    let finance = sign_in(&app, &f.finance.email).await;
    let read = finance.get(&path).await;
    assert_eq!(read.status, 200, "{}", read.text);
    assert!(!read.text.contains("the best match") && !read.text.contains(">Close<"), "{}", read.text);
    assert_eq!(finance.submit(&format!("{path}/close"), &[("reason", "no")]).await.status, 403);

    let blank = manager.submit(&format!("{path}/close"), &[("reason", " ")]).await;
    assert_eq!(blank.status, 422, "{}", blank.text);
    let closed = manager.submit(&format!("{path}/close"), &[("reason", "Bought direct")]).await;
    assert_eq!(closed.status, 303, "{}", closed.text);
    assert_eq!(app.query(sql!("SELECT status FROM leads")).await[0].get::<String>("status").expect("status"), "closed");
}

#[tokio::test]
async fn a_partner_answers_on_its_phone_accepts_and_converts_the_lead_into_a_deal_in_one_step() {
    let (app, f, programs) = world().await;
    let scope = trellis_identity::Scope::system(f.workspace_id.clone(), &trellis_testkit::TEST_FIXTURES);
    let new = |company: &str| trellis_leads::leads::NewLead {
        company_name: company.to_owned(),
        contact_name: Some("Grete Huber".into()),
        country: "DE".into(),
        product_interest: Some("Cloud".into()),
        estimated_value: Some((4_500_000, None)),
        program_id: Some(programs.main.clone()),
        ..Default::default()
    };
    let first = trellis_leads::leads::create(&app.state.ctx, &scope, new("Huber Logistik")).await.expect("lead");
    let second = trellis_leads::leads::create(&app.state.ctx, &scope, new("Alpen Cloud")).await.expect("lead");
    for lead in [&first, &second] {
        trellis_leads::routing::offer(&app.state.ctx, &scope, &lead.id, Some(&f.p3)).await.expect("offered to P3");
    }

    let partner = sign_in(&app, &f.p3_admin.email).await;
    let list = partner.get("/portal/leads").await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert_safe_page("/portal/leads", &list);
    assert!(
        list.text.contains("Huber Logistik") && list.text.contains("Alpen Cloud") && list.text.contains("2 days 0 h left"),
        "{}",
        list.text
    );
    let path = format!("/portal/leads/{}", first.id);
    let page = partner.get(&path).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert_safe_page(&path, &page);
    assert!(page.text.contains("Why you") && page.text.contains("Accept the lead"), "{}", page.text);
    assert!(!page.text.contains("Grete Huber"), "the contact once accepted: {}", page.text);

    // A reseller's people never see it.
    let other = sign_in(&app, &f.r1a_admin.email).await;
    assert_eq!(other.get(&path).await.status, 404);
    assert!(!other.get("/portal/leads").await.text.contains("Huber Logistik"));

    let accepted = partner.submit(&format!("{path}/accept"), &[]).await;
    assert_eq!(accepted.status, 303, "{}", accepted.text);
    let page = partner.get(&path).await;
    assert!(page.text.contains("Grete Huber") && page.text.contains("Convert to a deal"), "{}", page.text);
    assert!(page.text.contains("45,000.00"), "the estimate fills the amount: {}", page.text);
    let converted = partner.submit(&format!("{path}/convert"), &[("amount", "45,000.00"), ("expected_close_date", "2027-03-31")]).await;
    assert_eq!(converted.status, 303, "{}", converted.text);
    let deal = location(&converted);
    assert!(deal.starts_with("/portal/deals/deal_"), "{deal}");
    assert_eq!(partner.get(&deal).await.status, 200);

    // Declining needs a reason; with one, the lead leaves the partner.
    let second_path = format!("/portal/leads/{}", second.id);
    let blank = partner.submit(&format!("{second_path}/decline"), &[("reason", "")]).await;
    assert_eq!(blank.status, 422, "{}", blank.text);
    assert!(blank.text.contains("field-error"), "{}", blank.text);
    let declined = partner.submit(&format!("{second_path}/decline"), &[("reason", "Not our market")]).await;
    assert_eq!(declined.status, 303, "{}", declined.text);
    assert_eq!(partner.get(&second_path).await.status, 404, "the lead went to another partner");

    // A member reads its leads but answers none.
    let member = sign_in(&app, &f.d1_member.email).await;
    assert_eq!(member.get("/portal/leads").await.status, 200);
}

#[tokio::test]
async fn the_demo_has_leads_in_the_inbox_offered_accepted_converted_and_passed_on_after_a_decline() {
    let app = TestApp::spawn().await;
    trellis_server::demo::seed(&app.state.ctx).await.expect("demo seeding");
    let count = |status: &'static str| app.query_i64(sql!("SELECT COUNT(*) AS n FROM leads WHERE status = $1", status));
    assert_eq!(count("new").await, 1, "one waits in the inbox");
    assert_eq!(count("accepted").await, 1);
    assert_eq!(count("converted").await, 1);
    assert_eq!(count("offered").await, 2, "one offered, one passed on after a decline");
    assert_eq!(app.query_i64(sql!("SELECT COUNT(*) AS n FROM lead_offers WHERE outcome = 'declined' AND reason IS NOT NULL")).await, 1);
    assert_eq!(app.query_i64(sql!("SELECT COUNT(*) AS n FROM deals d JOIN leads l ON l.deal_id = d.id")).await, 1);
    assert!(
        app.query_i64(sql!("SELECT COUNT(*) AS n FROM lead_partner_stats WHERE won + lost > 0")).await > 0,
        "deal records from the demo's deals"
    );
}

#[tokio::test]
async fn the_channel_team_pastes_a_csv_file_sees_its_preview_and_imports_it() {
    let (app, f, _programs) = world().await;
    let manager = sign_in(&app, &f.channel_manager.email).await;
    let page = manager.get("/console/leads/import").await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert_safe_page("/console/leads/import", &page);
    let csv = "Lead ID,Company,Country,Value\nT-1,Huber Logistik,Germany,\"45,000.00\"\nT-2,Alpen Cloud,AT,\n";
    let import = manager.submit("/console/leads/import", &[("csv", csv)]).await;
    assert_eq!(import.status, 303, "{}", import.text);
    assert!(location(&import).contains("created=2"), "{}", location(&import));
    let inbox = manager.get("/console/leads").await;
    assert!(inbox.text.contains("Huber Logistik") && inbox.text.contains("Alpen Cloud"), "{}", inbox.text);
    let again = manager.submit("/console/leads/import", &[("csv", csv)]).await;
    assert!(location(&again).contains("created=0&unchanged=2"), "{}", location(&again));
    let broken = manager.submit("/console/leads/import", &[("csv", "Lead ID,Company,Country\nT-3,,Atlantis\n")]).await;
    assert_eq!(broken.status, 422, "{}", broken.text);
    assert!(broken.text.contains("line 2"), "{}", broken.text);
    assert_eq!(app.query_i64(sql!("SELECT COUNT(*) AS n FROM leads")).await, 2);
}

/// The public lead form of the deal program, opened by the channel team.
async fn open_lead_form(app: &TestApp, f: &Fixture, programs: &DealPrograms) -> String {
    let opened = app
        .patch(
            &format!("/api/v1/programs/{}/lead-settings", programs.main),
            &f.channel_manager.token,
            serde_json::json!({"public_form": true}),
        )
        .await;
    assert_eq!(opened.status, 200, "{}", opened.text);
    "fixture-deals".to_owned()
}

#[tokio::test]
async fn a_prospect_asks_for_a_partner_through_the_public_form_and_a_bot_filling_the_honeypot_is_answered_alike_and_kept_out() {
    let (app, f, programs) = world().await;
    let enquiry = |email: &str, fax: &str| {
        serde_json::json!({"company_name": "Huber Logistik", "contact_name": "Grete Huber", "contact_email": email, "country": "DE",
            "product_interest": "Cloud", "company_fax": fax})
    };
    let path = "/api/v1/public/programs/fixture-deals/leads";
    let closed = app.send(reqwest::Method::POST, path, None, Some(&enquiry("grete@huber.example", ""))).await;
    assert_eq!(closed.status, 404, "closed until the channel team opens it: {}", closed.text);
    open_lead_form(&app, &f, &programs).await;

    let invalid = app.send(reqwest::Method::POST, path, None, Some(&enquiry("not an address", ""))).await;
    assert_eq!(invalid.status, 422, "{}", invalid.text);
    let real = app.send(reqwest::Method::POST, path, None, Some(&enquiry("grete@huber.example", ""))).await;
    assert_eq!((real.status, real.body["status"].as_str()), (202, Some("received")), "{}", real.text);
    let bot = app.send(reqwest::Method::POST, path, None, Some(&enquiry("bot@spam.example", "+49 30 1234"))).await;
    assert_eq!((bot.status, &bot.body), (202, &real.body), "a bot cannot tell");
    let leads = app.query(sql!("SELECT source, status, contact_email FROM leads")).await;
    assert_eq!(leads.len(), 1, "the bot's enquiry is not kept");
    assert_eq!(leads[0].get::<String>("source").expect("source"), "form");
    assert_eq!(leads[0].get::<String>("contact_email").expect("email"), "grete@huber.example");
    assert_eq!(app.query_i64(sql!("SELECT COUNT(*) AS n FROM audit_events WHERE action = 'lead.discarded'")).await, 1);
    assert_eq!(app.query_i64(sql!("SELECT COUNT(*) AS n FROM emails WHERE kind = 'lead_enquiry_received'")).await, 1);

    // One address may send 20 an hour (the three above count): the 21st is 429 and keeps nothing.
    for i in 0..17 {
        let reply = app.send(reqwest::Method::POST, path, None, Some(&enquiry(&format!("p{i}@prospect.example"), ""))).await;
        assert_eq!(reply.status, 202, "{}", reply.text);
    }
    let limited = app.send(reqwest::Method::POST, path, None, Some(&enquiry("late@prospect.example", ""))).await;
    assert_eq!(limited.status, 429, "{}", limited.text);
    assert!(limited.headers.get("retry-after").is_some());
    assert_eq!(app.query_i64(sql!("SELECT COUNT(*) AS n FROM leads")).await, 18);

    // The page: a fresh form, its own cookie, the thank-you page.
    let form = crate::pages::get_page(&app, "/leads/fixture-deals", None).await;
    assert_eq!(form.status, 200, "{}", form.text);
    assert_safe_page("/leads/{slug}", &form);
    assert!(form.text.contains("Find a partner to help you") && form.text.contains("company_fax"), "{}", form.text);
    let cookie = crate::pages::cookie_value(&form.headers, "trellis_enquiry_csrf").expect("the form's cookie");
    let token = crate::pages::csrf_field(&form.text).expect("the form's token");
    let expired =
        crate::pages::post_form(&app, "/leads/fixture-deals", "trellis_enquiry_csrf=other", &[("csrf_token", token.as_str())]).await;
    assert_eq!(expired.status, 403);
    let fields = [
        ("csrf_token", token.as_str()),
        ("company_name", "Alpen Cloud"),
        ("contact_name", "Anna Alpen"),
        ("contact_email", "anna@alpen.example"),
        ("country", "AT"),
    ];
    app.clock.advance_seconds(3_601);
    let sent = crate::pages::post_form(&app, "/leads/fixture-deals", &format!("trellis_enquiry_csrf={cookie}"), &fields).await;
    assert_eq!(sent.status, 303, "{}", sent.text);
    assert_eq!(location(&sent), "/leads/fixture-deals/thanks");
    assert_eq!(crate::pages::get_page(&app, "/leads/fixture-deals/thanks", None).await.status, 200);
    assert_eq!(app.query_i64(sql!("SELECT COUNT(*) AS n FROM leads WHERE company_name = 'Alpen Cloud'")).await, 1);
}

#[tokio::test]
async fn the_channel_team_sets_a_programs_sla_weights_and_public_form_on_the_program_page() {
    let (app, f, programs) = world().await;
    let manager = sign_in(&app, &f.channel_manager.email).await;
    let path = format!("/console/programs/{}", programs.main);
    let page = manager.get(&path).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(
        page.text.contains("Lead distribution")
            && page.text.contains("48 hours")
            && page.text.contains("public lead form is closed")
            && page.text.contains("wait in the inbox until someone offers them"),
        "{}",
        page.text
    );
    let refused = manager.submit(&format!("{path}/leads"), &[("sla_hours", "0"), ("weight_territory", "500")]).await;
    assert_eq!(refused.status, 422, "{}", refused.text);
    let saved = manager
        .submit(
            &format!("{path}/leads"),
            &[("sla_hours", "24"), ("capacity", "5"), ("public_form", "1"), ("auto_offer", "1"), ("weight_territory", "40")],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.text);
    let page = manager.get(&path).await;
    assert!(
        page.text.contains("24 hours")
            && page.text.contains("/leads/fixture-deals")
            && page.text.contains("Territory 40")
            && page.text.contains("offered at once to its best match"),
        "{}",
        page.text
    );
    assert_eq!(crate::pages::get_page(&app, "/leads/fixture-deals", None).await.status, 200, "the form is open");
}
