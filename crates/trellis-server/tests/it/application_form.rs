//! The public application page `/apply/{slug}` at its edges (issue 6): its 429 says when to come
//! back (`Retry-After`, from the limit's window), and a submission that fills the honeypot is
//! answered exactly like a real one — validated alike, the same status, redirect and page — while
//! no application is kept. (Its timing is measured by `bench/honeypot.sh`.)

use serde_json::json;
use trellis_db::sql;
use trellis_testkit::TestApp;
use trellis_testkit::fixture::Fixture;

use crate::pages::{Page, csrf_field, get_page, post_form};
use crate::recruitment::program_with_questions;

/// The application form's double-submit cookie and field carry the same value.
const CSRF: &str = "apply-form-token";

async fn submit(app: &TestApp, fields: &[(&str, &str)]) -> Page {
    let mut with_token = vec![("csrf_token", CSRF)];
    with_token.extend_from_slice(fields);
    post_form(app, "/apply/resellers", &format!("trellis_apply_csrf={CSRF}"), &with_token).await
}

fn applicant<'a>(company: &'a str, email: &'a str, honeypot: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("company_name", company),
        ("contact_name", "Ada Lovelace"),
        ("contact_email", email),
        ("types", "reseller"),
        ("company_fax", honeypot),
    ]
}

async fn count(app: &TestApp, table: &str) -> i64 {
    app.query_i64(trellis_db::Sql::build("SELECT COUNT(*) AS n FROM ").push(table).clone()).await
}

fn header(page: &Page, name: &str) -> Option<String> {
    page.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

#[tokio::test]
async fn the_pages_429_carries_retry_after_until_the_window_lets_the_address_in_again() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    program_with_questions(&app, &f, "resellers", json!([])).await;
    let limit = trellis_recruitment::applications::MAX_ATTEMPTS_PER_ADDRESS;
    let first = submit(&app, &applicant("Company 0", "c0@c0.example", "")).await;
    assert_eq!(first.status, 303, "{}", first.text);
    app.clock.advance_seconds(600);
    for n in 1..limit {
        // Invalid submissions count as well.
        let page = submit(&app, &[("company_name", "")]).await;
        assert_eq!(page.status, 422, "attempt {n}");
    }

    let refused = submit(&app, &applicant("One Too Many", "late@late.example", "")).await;
    app.clock.advance_seconds(trellis_recruitment::applications::ATTEMPT_WINDOW_SECONDS - 600 + 1);
    let later = submit(&app, &applicant("Patient Ltd", "patient@patient.example", "")).await;

    assert_eq!(refused.status, 429, "{}", refused.text);
    let window = trellis_recruitment::applications::ATTEMPT_WINDOW_SECONDS;
    assert_eq!(header(&refused, "retry-after"), Some((window - 600).to_string()), "the oldest attempt leaves the window then");
    assert!(refused.text.contains("Please try again in 50 minutes."), "{}", refused.text);
    assert_eq!(later.status, 303, "{}", later.text);
}

#[tokio::test]
async fn a_honeypot_submission_answers_the_same_status_and_page_as_a_real_one_and_keeps_no_application() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    program_with_questions(&app, &f, "resellers", json!([])).await;
    let before = (count(&app, "partners").await, count(&app, "applications").await, count(&app, "emails").await);

    let real = submit(&app, &applicant("Real Co", "ada@realco.example", "")).await;
    let after_real = (count(&app, "partners").await, count(&app, "applications").await, count(&app, "emails").await);
    let bot = submit(&app, &applicant("Bot Co", "bot@botco.example", "+1 555 0100")).await;
    let invalid_real = submit(&app, &applicant("", "not an address", "")).await;
    let invalid_bot = submit(&app, &applicant("", "not an address", "+1 555 0100")).await;

    assert_eq!((real.status, bot.status), (303, 303), "{}", bot.text);
    assert_eq!(header(&bot, "location"), header(&real, "location"));
    assert_eq!(header(&bot, "set-cookie"), header(&real, "set-cookie"), "both clear the form's cookie");
    assert_eq!(bot.text, real.text);
    let thanks = get_page(&app, &header(&bot, "location").expect("a redirect"), None).await;
    assert_eq!(thanks.status, 200);
    assert_eq!((invalid_bot.status, invalid_real.status), (422, 422), "validated alike: {}", invalid_bot.text);
    let without_token = |page: &Page| page.text.replace(&csrf_field(&page.text).expect("a fresh token"), "");
    assert_eq!(without_token(&invalid_bot), without_token(&invalid_real), "the same errors on the same page (apart from the fresh token)");
    let after = (count(&app, "partners").await, count(&app, "applications").await, count(&app, "emails").await);
    assert_eq!(after, (after_real.0, after_real.1, after_real.2), "nothing of the bot's was kept");
    assert_eq!(after_real, (before.0 + 1, before.1 + 1, before.2 + 1));
    let stored = app.query(sql!("SELECT contact_email FROM applications")).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].get::<String>("contact_email").expect("email"), "ada@realco.example");
    let discarded = app.query(sql!("SELECT target_type, changes, ip FROM audit_events WHERE action = 'application.discarded'")).await;
    assert_eq!(discarded.len(), 1, "the catch is audited");
    assert_eq!(discarded[0].get::<String>("target_type").expect("target"), "program");
    assert_eq!(discarded[0].get::<Option<String>>("ip").expect("ip").as_deref(), Some("127.0.0.1"));
}

#[tokio::test]
async fn a_honeypot_submission_through_the_api_answers_like_a_real_one() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    program_with_questions(&app, &f, "resellers", json!([])).await;
    let real = crate::recruitment::application("Real Co", "ada@realco.example");
    let mut bot = crate::recruitment::application("Bot Co", "bot@botco.example");
    bot["company_fax"] = json!("+1 555 0100");
    let mut invalid_bot = json!({"company_name": "", "contact_email": "nope"});
    invalid_bot["company_fax"] = json!("+1 555 0100");

    let real = crate::recruitment::apply(&app, "resellers", &real).await;
    let bot = crate::recruitment::apply(&app, "resellers", &bot).await;
    let invalid_real = crate::recruitment::apply(&app, "resellers", &json!({"company_name": "", "contact_email": "nope"})).await;
    let invalid_bot = crate::recruitment::apply(&app, "resellers", &invalid_bot).await;

    assert_eq!((real.status, bot.status), (201, 201), "{}", bot.text);
    let keys = |body: &serde_json::Value| body.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()).unwrap_or_default();
    assert_eq!(keys(&bot.body), keys(&real.body));
    assert_eq!((invalid_bot.status, invalid_real.status), (422, 422));
    assert_eq!(invalid_bot.body, invalid_real.body, "the same validation errors");
    assert_eq!(count(&app, "applications").await, 1);
}

/// The opening tag of the element with `id` on a page.
fn tag_of<'a>(html: &'a str, id: &str) -> &'a str {
    let at = html.find(&format!(r#" id="{id}""#)).unwrap_or_else(|| panic!("no element {id}: {html}"));
    let start = html[..at].rfind('<').expect("tag start");
    let end = at + html[at..].find('>').expect("tag end");
    &html[start..=end]
}

/// The label of the field with `id`, up to its end.
fn label_of<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html.find(&format!(r#"<label for="{id}">"#)).unwrap_or_else(|| panic!("no label for {id}: {html}"));
    let end = start + html[start..].find("</label>").expect("label end");
    &html[start..end]
}

#[tokio::test]
async fn sign_in_and_the_application_form_offer_autofill_of_the_persons_own_details_and_mark_required_fields() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let question = json!([{"id": "why", "label": "Why us?", "kind": "text", "required": true}]);
    program_with_questions(&app, &f, "resellers", question).await;

    let login = get_page(&app, "/login", None).await;
    let form = get_page(&app, "/apply/resellers", None).await;
    let mut fields = applicant("Austrian Ltd", "ada@austrian.example", "");
    fields.extend([("country", "AT"), ("answers.why", "Growth")]);
    let applied = submit(&app, &fields).await;
    let stored = app.query(sql!("SELECT country FROM partners WHERE name = $1", "Austrian Ltd")).await;

    assert_eq!(login.status, 200);
    for (id, token) in [("email", "username"), ("password", "current-password")] {
        let tag = tag_of(&login.text, id);
        assert!(tag.contains(&format!(r#"autocomplete="{token}""#)) && tag.contains(" required"), "{tag}");
        assert!(label_of(&login.text, id).contains("(required)"), "{}", label_of(&login.text, id));
    }
    assert_eq!(form.status, 200);
    for (id, token, required) in [
        ("apply-company_name", "organization", true),
        ("apply-contact_name", "name", true),
        ("apply-contact_email", "email", true),
        ("apply-website", "url", false),
        ("apply-country", "country", false),
    ] {
        let tag = tag_of(&form.text, id);
        assert!(tag.contains(&format!(r#"autocomplete="{token}""#)), "{tag}");
        assert_eq!(tag.contains(" required"), required, "{tag}");
        assert_eq!(label_of(&form.text, id).contains(r#"<span class="required">(required)</span>"#), required, "{id}");
    }
    assert!(tag_of(&form.text, "apply-country").starts_with("<select"), "the country is picked, not typed");
    assert!(form.text.contains(r#"<option value="AT">Austria</option>"#), "countries by name, codes as values");
    assert!(label_of(&form.text, "apply-answers.why").contains("(required)"), "a required question is marked");
    assert!(tag_of(&form.text, "apply-answers.why").contains(r#"autocomplete="off""#), "answers are not autofilled");
    assert_eq!(applied.status, 303, "{}", applied.text);
    assert_eq!(stored[0].get::<String>("country").expect("country"), "AT", "the code is stored");
}
