//! The deal pages over HTTP: the portal's registration form (at most six required fields, the
//! conflict rules in words), errors next to the fields, an ineligible partner's reason with
//! nothing stored, the conflict a second partner reads without the first one's name, the console
//! deal page with both sides, decisions from the console, and the CSV exports.

use trellis_core::{PartnerId, ProgramId};
use trellis_db::sql;
use trellis_identity::Scope;
use trellis_programs::enrollments::{self, NewEnrollment};
use trellis_programs::{NewProgram, programs};
use trellis_testkit::fixture::Fixture;
use trellis_testkit::{TEST_FIXTURES, TestApp};

use crate::pages::{Page, sign_in};

/// A program that takes deal registrations, with `partners` enrolled.
pub(crate) async fn deal_program(app: &TestApp, f: &Fixture, partners: &[&PartnerId]) -> ProgramId {
    let system = Scope::system(f.workspace_id.clone(), &TEST_FIXTURES);
    let input = NewProgram {
        name: "Resellers".into(),
        slug: "deal-resellers".into(),
        currency: Some("EUR".into()),
        deal_registration: Some(true),
        ..NewProgram::default()
    };
    let program = programs::create(&app.state.ctx, &system, input).await.expect("program");
    for partner in partners {
        enrollments::enroll(&app.state.ctx, &system, partner, NewEnrollment { program_id: program.id.clone(), tier_id: None })
            .await
            .expect("enrolled");
    }
    program.id
}

async fn deal_count(app: &TestApp, f: &Fixture) -> i64 {
    app.query_i64(sql!("SELECT COUNT(*) AS n FROM deals WHERE workspace_id = $1", f.workspace_id)).await
}

/// The fields of a registration of Globex from the portal's form.
pub(crate) fn globex<'a>() -> Vec<(&'a str, &'a str)> {
    vec![
        ("customer_name", "Globex Corporation"),
        ("customer_domain", "https://www.globex.example/"),
        ("amount", "12,500.00"),
        ("expected_close_date", "2031-06-30"),
        ("partner_role", "resell"),
    ]
}

/// The deal a registration's answer leads to.
pub(crate) fn registered_deal(page: &Page) -> String {
    assert_eq!(page.status, 303, "{}", page.text);
    let location = page.headers.get("location").and_then(|v| v.to_str().ok()).expect("a redirect");
    let path = location.split('?').next().expect("a path");
    assert!(path.starts_with("/portal/deals/deal_") || path.starts_with("/console/deals/deal_"), "{location}");
    path.to_owned()
}

/// How many form controls of the page's registration form carry `required`.
fn required_inputs(html: &str) -> usize {
    let form = html.split(r#"action="/portal/deals""#).nth(1).and_then(|rest| rest.split("</form>").next()).expect("the form");
    form.split('<')
        .filter(|tag| tag.starts_with("input") || tag.starts_with("select") || tag.starts_with("textarea"))
        .filter(|tag| tag.split('>').next().is_some_and(|attrs| attrs.contains(" required")))
        .count()
}

#[tokio::test]
async fn the_registration_form_asks_for_at_most_six_things_and_says_how_conflicts_are_settled() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    deal_program(&app, &f, &[&f.d2]).await;
    let d2 = sign_in(&app, "admin@d2.example").await;
    let list = d2.get("/portal/deals").await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert!(list.text.contains(r#"href="/portal/deals/new""#) && list.text.contains("Register a deal"), "{}", list.text);
    let form = d2.get("/portal/deals/new").await;
    assert_eq!(form.status, 200, "{}", form.text);
    let required = required_inputs(&form.text);
    assert!((4..=6).contains(&required), "{required} required fields");
    assert!(form.text.contains("How conflicts are settled"));
    assert!(form.text.contains("within 10 minutes of each other"), "the race rule in words");
    assert!(form.text.contains(r#"value="resell" checked"#), "resell is the default role");
    assert!(!form.text.contains(r#"name="program_id""#), "one program: no program picker");
    // A member reads the pipeline but registers nothing.
    let member = sign_in(&app, "member@d1.example").await;
    assert_eq!(member.get("/portal/deals").await.status, 200);
    assert!(!member.get("/portal/deals").await.text.contains("/portal/deals/new"));
    assert_eq!(member.get("/portal/deals/new").await.status, 403);
}

#[tokio::test]
async fn a_registration_with_errors_shows_them_next_to_the_fields_and_an_ineligible_partner_reads_why() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    deal_program(&app, &f, &[&f.d2]).await;
    let d2 = sign_in(&app, "admin@d2.example").await;
    let failed = d2.submit("/portal/deals", &[("customer_name", ""), ("customer_domain", "acme.example"), ("amount", "lots")]).await;
    assert_eq!(failed.status, 422, "{}", failed.text);
    assert!(failed.text.contains(r#"id="deal-customer_name-error""#), "{}", failed.text);
    assert!(failed.text.contains(r#"id="deal-amount-error""#) && failed.text.contains("must be an amount in EUR"));
    assert!(failed.text.contains(r#"value="acme.example""#), "what was typed stays");
    assert_eq!(deal_count(&app, &f).await, 0);
    // P3 is in no program that takes registrations: the reason at the top, nothing stored.
    let p3 = sign_in(&app, "admin@p3.example").await;
    assert!(p3.get("/portal/deals/new").await.text.contains("not enrolled in a program that takes deal registrations"));
    let refused = p3.submit("/portal/deals", &globex()).await;
    assert_eq!(refused.status, 422, "{}", refused.text);
    assert!(refused.text.contains("You cannot register deals right now"), "{}", refused.text);
    assert!(refused.text.contains("not enrolled in any program that takes deal registrations"), "{}", refused.text);
    assert_eq!(deal_count(&app, &f).await, 0);
}

#[tokio::test]
async fn a_second_partner_reads_the_conflict_without_the_first_ones_name_and_staff_see_both_sides_and_decide() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    deal_program(&app, &f, &[&f.d2, &f.p3]).await;
    let d2 = sign_in(&app, "admin@d2.example").await;
    let first = registered_deal(&d2.submit("/portal/deals", &globex()).await);
    let first_page = d2.get(&first).await;
    assert!(first_page.text.contains("€12,500.00") && first_page.text.contains("Submitted"), "{}", first_page.text);

    let p3 = sign_in(&app, "admin@p3.example").await;
    let second = registered_deal(&p3.submit("/portal/deals", &globex()).await);
    let page = p3.get(&second).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("Under review"), "{}", page.text);
    assert!(page.text.contains("Conflicts") && page.text.contains("Another partner"), "{}", page.text);
    assert!(page.text.contains("The other came first"), "{}", page.text);
    assert!(!page.text.contains("D2"), "the first partner stays unnamed: {}", page.text);
    // The first partner's deal is not P3's to open.
    assert_eq!(p3.get(&first).await.status, 404);

    let owner = sign_in(&app, &f.owner.email).await;
    let staff_second = second.replace("/portal/", "/console/");
    let console = owner.get(&staff_second).await;
    assert_eq!(console.status, 200, "{}", console.text);
    assert!(console.text.contains("Other deal") && console.text.contains("D2") && console.text.contains("P3"), "{}", console.text);
    assert!(console.text.contains(">Approve<") && console.text.contains(">Reject<"), "{}", console.text);
    // A race is a matter of minutes: the registrations say their day and time, side by side too.
    let registered = console.text.split("<dt>Registered</dt><dd>").nth(1).and_then(|rest| rest.split(' ').nth(2)).expect("the facts");
    assert_eq!(registered, "UTC", "{}", console.text);
    assert!(console.text.contains(r#"<tr><th scope="row">Registered</th><td>"#) && console.text.matches(" UTC</td>").count() >= 2);
    let review = owner.get("/console/deals/review").await;
    assert!(review.text.contains("Globex Corporation") && review.text.contains("Another partner registered"), "{}", review.text);

    // Rejecting asks for the reason next to its field; with it, the partner reads it.
    let no_reason = owner.submit(&format!("{staff_second}/transition"), &[("to", "rejected")]).await;
    assert_eq!(no_reason.status, 422, "{}", no_reason.text);
    assert!(no_reason.text.contains(r#"id="to-rejected-reason-error""#), "{}", no_reason.text);
    let rejected =
        owner.submit(&format!("{staff_second}/transition"), &[("to", "rejected"), ("reason", "D2 registered Globex first.")]).await;
    assert_eq!(rejected.status, 303, "{}", rejected.text);
    let after = p3.get(&second).await;
    assert!(after.text.contains("Rejected") && after.text.contains(&format!("{second}/dispute")), "{}", after.text);
    let approved = owner
        .submit(&format!("{}/transition", first.replace("/portal/", "/console/")), &[("to", "approved"), ("protected_days", "30")])
        .await;
    assert_eq!(approved.status, 303, "{}", approved.text);
    let approved_page = d2.get(&first).await;
    assert!(approved_page.text.contains("Approved") && approved_page.text.contains("in 30 days"), "{}", approved_page.text);
    assert!(approved_page.text.contains(&format!("{first}/extension")) && approved_page.text.contains(">Mark won<"));
}

#[tokio::test]
async fn the_pipelines_filter_and_export_what_each_side_may_see() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    deal_program(&app, &f, &[&f.d2, &f.p3]).await;
    let d2 = sign_in(&app, "admin@d2.example").await;
    registered_deal(&d2.submit("/portal/deals", &globex()).await);
    let p3 = sign_in(&app, "admin@p3.example").await;
    let mut initech = globex();
    initech[0] = ("customer_name", "Initech");
    initech[1] = ("customer_domain", "initech.example");
    registered_deal(&p3.submit("/portal/deals", &initech).await);

    let own = p3.get("/portal/deals").await;
    assert!(own.text.contains("Initech") && !own.text.contains("Globex"), "{}", own.text);
    let csv = p3.get("/portal/deals/export").await;
    assert_eq!(csv.status, 200);
    assert!(csv.text.starts_with("id,customer_name") && csv.text.contains("Initech") && !csv.text.contains("Globex"), "{}", csv.text);

    let owner = sign_in(&app, &f.owner.email).await;
    let all = owner.get("/console/deals").await;
    assert!(all.text.contains("Initech") && all.text.contains("Globex"), "{}", all.text);
    assert!(all.text.contains("Open pipeline by stage") && all.text.contains("€25,000.00"), "{}", all.text);
    let by_partner = owner.get(&format!("/console/deals?partner={}", f.p3)).await;
    assert!(by_partner.text.contains("Initech") && !by_partner.text.contains("Globex Corporation"), "{}", by_partner.text);
    let export = owner.get(&format!("/console/deals/export?partner={}", f.d2)).await;
    assert!(
        export.text.contains("Globex") && !export.text.contains("Initech") && export.text.contains("\"12500.00\",\"EUR\""),
        "{}",
        export.text
    );
    // The home page lists the queue, and the navigation counts it.
    let home = owner.get("/").await;
    assert!(home.text.contains("Deal registrations to review"), "{}", home.text);
    // The distributor sees nothing of P3's deal (not its reseller).
    let d1 = sign_in(&app, "admin@d1.example").await;
    assert!(!d1.get("/portal/deals").await.text.contains("Initech"));
}

#[tokio::test]
async fn the_partner_pickers_offer_a_page_of_matches_and_never_the_whole_directory() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    deal_program(&app, &f, &[&f.d2, &f.p3]).await;
    trellis_testkit::bulk::add_resellers(&app, &f.workspace_id, &f.d1, "Acme Reseller", 45).await;
    let owner = sign_in(&app, &f.owner.email).await;

    // The script's search: a page of matches by name, whatever the directory holds.
    let found = owner.get("/console/deals/partners?active=1&q=acme%20reseller").await;
    assert_eq!(found.status, 200, "{}", found.text);
    let matches: serde_json::Value = serde_json::from_str(&found.text).expect("JSON");
    let labels: Vec<&str> = matches.as_array().expect("a list").iter().filter_map(|m| m["label"].as_str()).collect();
    assert_eq!(labels.len(), 20, "a page of matches: {labels:?}");
    assert!(labels.iter().all(|l| l.starts_with("Acme Reseller")), "{labels:?}");
    let p3: serde_json::Value = serde_json::from_str(&owner.get("/console/deals/partners?active=1&q=p3").await.text).expect("JSON");
    assert_eq!(p3[0]["value"], f.p3.to_string(), "{p3}");

    // The form without scripts: no directory in the page, the matches of what was typed.
    let form = owner.get("/console/deals/new").await;
    assert_eq!(form.status, 200, "{}", form.text);
    assert!(form.text.contains(r#"data-partner-search="/console/deals/partners?active=1""#), "{}", form.text);
    assert!(form.text.matches("Acme Reseller").count() <= 20, "a page of partners at most");
    let searched = owner.get("/console/deals/new?partner_q=P3").await;
    assert!(searched.text.contains(&format!(r#"<option value="{}">P3</option>"#, f.p3)), "{}", searched.text);
    assert!(!searched.text.contains(">D2</option>"), "{}", searched.text);
    // A failed registration keeps the chosen partner in the picker.
    let failed = owner.submit("/console/deals", &[("partner_id", f.p3.as_str()), ("customer_name", "")]).await;
    assert_eq!(failed.status, 422, "{}", failed.text);
    assert!(failed.text.contains(&format!(r#"<option value="{}" selected>P3</option>"#, f.p3)), "{}", failed.text);
    // The pipeline's filter keeps its partner chosen and finds others by name.
    let filtered = owner.get(&format!("/console/deals?partner={}", f.d2)).await;
    assert!(filtered.text.contains(&format!(r#"<option value="{}" selected>D2</option>"#, f.d2)), "{}", filtered.text);

    // Registered on P3's behalf through the picker's choice.
    let mut fields = globex();
    fields.push(("partner_id", f.p3.as_str()));
    let deal = registered_deal(&owner.submit("/console/deals", &fields).await);
    let page = owner.get(&format!("{deal}?partner_q=d2")).await;
    assert!(page.text.contains("Credit another partner") && page.text.contains(">D2</option>"), "{}", page.text);
    assert!(page.text.contains(r#"<details open>"#), "a search opens the credit form: {}", page.text);
}
