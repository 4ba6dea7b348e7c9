//! The console home as the channel team's inbox (issue 8): the work queues each capability
//! registers (`trellis_directory::work_queues`), counted over what the person sees and for their
//! role, with the same counts on the navigation links; counts stop at 99+; and the charts carry
//! their numbers as a table.

use serde_json::json;
use trellis_db::{ToValue, Value};
use trellis_testkit::fixture::Fixture;
use trellis_testkit::{TestApp, bulk};

use crate::pages::sign_in;
use crate::profiles::full_profile;
use crate::recruitment::{application, apply, program_with_questions};

/// The count shown for the queue titled `title` on the console home, if the queue is listed.
/// The count of the home's queue titled `title`: a queue where nothing waits is listed on the
/// "Nothing waiting in" line ("0").
fn queue_count(html: &str, title: &str) -> Option<String> {
    let clear = html.split(r#"<p class="hint clear-queues">"#).nth(1).and_then(|rest| rest.split("</p>").next()).unwrap_or_default();
    if clear.contains(&format!(">{title}</a>")) {
        return Some("0".to_owned());
    }
    let at = html.find(&format!("<span>{title}</span>"))?;
    let before = &html[..at];
    let start = before.rfind("<strong>")? + "<strong>".len();
    Some(before[start..].split("</strong>").next()?.to_owned())
}

/// The waiting count on the navigation link labelled `label`, if it shows one.
fn nav_count(html: &str, label: &str) -> Option<String> {
    let nav = html.split(r#"<nav aria-label="Main">"#).nth(1)?.split("</nav>").next()?;
    let marker = format!(r#">{label} <span class="nav-count"><span class="visually-hidden">(</span>"#);
    let at = nav.find(&marker)? + marker.len();
    Some(nav[at..].split('<').next()?.to_owned())
}

#[tokio::test]
async fn the_console_home_lists_what_waits_for_each_person_and_the_navigation_counts_it() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    program_with_questions(&app, &f, "resellers", json!([])).await;
    for (company, email) in [("Applicant One", "one@applicant.example"), ("Applicant Two", "two@applicant.example")] {
        let applied = apply(&app, "resellers", &application(company, email)).await;
        assert_eq!(applied.status, 201, "{}", applied.text);
    }
    // R1a (under D1, which the assigned manager manages) asks for a legal name and territories.
    let saved = app.patch(&format!("/api/v1/partners/{}/profile", f.r1a), &f.r1a_admin.token, full_profile()).await;
    assert_eq!(saved.status, 200, "{}", saved.text);

    let owner = sign_in(&app, &f.owner.email).await;
    let home = owner.get("/").await;
    assert_eq!(home.status, 200, "{}", home.text);
    assert_eq!(queue_count(&home.text, "Applications to review").as_deref(), Some("2"), "{}", home.text);
    assert_eq!(queue_count(&home.text, "Profile changes to approve").as_deref(), Some("1"));
    assert_eq!(queue_count(&home.text, "Partners onboarding").as_deref(), Some("0"), "empty queues are listed too");
    assert_eq!(queue_count(&home.text, "Emails that failed").as_deref(), Some("0"), "owners see the email queues");
    assert_eq!(nav_count(&home.text, "Applications").as_deref(), Some("2"));
    assert_eq!(nav_count(&home.text, "Profile changes").as_deref(), Some("1"));
    assert_eq!(nav_count(&home.text, "Partners"), None, "no count where nothing waits");
    // Every page carries the navigation's counts, not only the home.
    assert_eq!(nav_count(&owner.get("/console/staff").await.text, "Applications").as_deref(), Some("2"));

    // A manager restricted to D1's subtree: R1a's change is theirs; the applicants are nobody's yet.
    let manager = sign_in(&app, &f.assigned_manager.email).await;
    let home = manager.get("/").await;
    assert_eq!(queue_count(&home.text, "Applications to review").as_deref(), Some("0"), "{}", home.text);
    assert_eq!(queue_count(&home.text, "Profile changes to approve").as_deref(), Some("1"));
    assert_eq!(queue_count(&home.text, "Emails that failed"), None, "email queues are the owners' and admins'");
    assert_eq!(nav_count(&home.text, "Applications"), None);

    // Finance decides none of these; its queue is the commissions held for review (empty here).
    let finance = sign_in(&app, &f.finance.email).await;
    let home = finance.get("/").await;
    assert_eq!(queue_count(&home.text, "Commissions held for review").as_deref(), Some("0"), "{}", home.text);
    assert_eq!(queue_count(&home.text, "Applications to review"), None);
    let viewer = sign_in(&app, &f.viewer.email).await;
    assert!(viewer.get("/").await.text.contains("Nothing waits for your role here."));
    assert_eq!(nav_count(&home.text, "Profile changes"), None);
}

#[tokio::test]
async fn a_long_queue_reads_99_plus_and_the_charts_carry_their_numbers_as_a_table() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let resellers = bulk::add_resellers(&app, &f.workspace_id, &f.d1, "Waiting reseller", 120).await;
    let rows: Vec<Vec<Value>> = resellers
        .iter()
        .enumerate()
        .map(|(n, partner)| {
            vec![
                f.workspace_id.to_value(),
                format!("pcr_{}", trellis_core::new_id_body()).to_value(),
                partner.to_value(),
                r#"{"legal_name":"Waiting Ltd"}"#.to_value(),
                "pending".to_value(),
                (1_800_000_000_000_000_i64 + n as i64).to_value(),
            ]
        })
        .collect();
    app.execute(vec![bulk::insert_rows("profile_change_requests", "workspace_id, id, partner_id, changes, status, requested_at", &rows)])
        .await
        .expect("pending change requests");

    let owner = sign_in(&app, &f.owner.email).await;
    let home = owner.get("/").await;
    assert_eq!(queue_count(&home.text, "Profile changes to approve").as_deref(), Some("99+"), "{}", home.text);
    assert_eq!(nav_count(&home.text, "Profile changes").as_deref(), Some("99+"));

    let active = app.get("/api/v1/partners?status=active&limit=500", &f.owner.token).await.body["data"].as_array().map_or(0, Vec::len);
    assert!(home.text.contains("<caption>Partners by status</caption>"), "{}", home.text);
    assert!(home.text.contains(&format!(r#"<th scope="row">active</th><td>{active}</td>"#)), "the table has the chart's numbers");
    assert!(home.text.contains(r#"<svg viewBox="0 0 340 "#) && home.text.contains(r#"aria-hidden="true""#));
}

/// Review of issue 8: the console home counts each work queue once — the navigation's counts
/// come from the queues the page counted. The partner list opens three transactions (sign-in,
/// the navigation's queues, the page); the home five (sign-in, the queues for both its inbox and
/// the navigation, partners by status, by tier, applications per week). Counting the queues again
/// for the navigation made it six (checked against the code before the fix).
#[tokio::test]
async fn the_console_home_counts_its_work_queues_once() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let db = app.state.ctx.db();
    let owner = crate::pages::sign_in(&app, &f.owner.email).await;
    let mut costs = Vec::new();
    for path in ["/console/partners", "/"] {
        owner.get(path).await;
        let before = db.transactions_begun();
        let page = owner.get(path).await;
        assert_eq!(page.status, 200, "{path}: {}", page.text);
        costs.push(db.transactions_begun() - before);
    }
    assert_eq!(costs[1], costs[0] + 2, "the home's transactions beyond the list's: {costs:?}");
}
