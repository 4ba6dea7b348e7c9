//! The console and portal pages over HTTP, signed in through `/login` like a browser (cookies are
//! carried by hand: the test client has no cookie store): security headers on every page, CSRF
//! refusal, the 404 wall between partners, forms that fail and succeed, secrets shown once.

use reqwest::header::{CONTENT_SECURITY_POLICY, COOKIE, HeaderMap, LOCATION, SET_COOKIE};
use trellis_testkit::TestApp;
use trellis_testkit::fixture::{Fixture, PASSWORD};

/// A page as the server answered it.
pub(crate) struct Page {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) text: String,
}

/// One person signed in through the sign-in form: their session cookie and its CSRF token.
pub(crate) struct WebSession<'a> {
    app: &'a TestApp,
    cookie: String,
    csrf: String,
}

pub(crate) fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next()?.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// The value of the first `csrf_token` hidden field of a page.
pub(crate) fn csrf_field(html: &str) -> Option<String> {
    let start = html.find(r#"name="csrf_token" value=""#)? + r#"name="csrf_token" value=""#.len();
    html[start..].split('"').next().map(str::to_owned)
}

fn form_body(fields: &[(&str, &str)]) -> String {
    let encode = |text: &str| -> String {
        text.bytes()
            .map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) { char::from(b).to_string() } else { format!("%{b:02X}") })
            .collect()
    };
    fields.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&")
}

async fn read(response: reqwest::Response) -> Page {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    Page { status, headers, text: response.text().await.expect("body") }
}

pub(crate) async fn get_page(app: &TestApp, path: &str, cookie: Option<&str>) -> Page {
    let mut request = app.client.get(format!("{}{path}", app.base_url));
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, cookie);
    }
    read(request.send().await.expect("request reaches the server")).await
}

pub(crate) async fn post_form(app: &TestApp, path: &str, cookie: &str, fields: &[(&str, &str)]) -> Page {
    let request = app
        .client
        .post(format!("{}{path}", app.base_url))
        .header(COOKIE, cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body(fields));
    read(request.send().await.expect("request reaches the server")).await
}

pub(crate) async fn sign_in<'a>(app: &'a TestApp, email: &str) -> WebSession<'a> {
    let form = get_page(app, "/login", None).await;
    let login_csrf = cookie_value(&form.headers, "trellis_csrf").expect("the sign-in form sets its CSRF cookie");
    let signed = post_form(
        app,
        "/login",
        &format!("trellis_csrf={login_csrf}"),
        &[("email", email), ("password", PASSWORD), ("csrf_token", &login_csrf)],
    )
    .await;
    assert_eq!(signed.status, 303, "sign-in of {email} failed: {}", signed.text);
    let cookie = format!("trellis_session={}", cookie_value(&signed.headers, "trellis_session").expect("session cookie"));
    let home = get_page(app, "/", Some(&cookie)).await;
    assert_eq!(home.status, 200, "{}", home.text);
    let csrf = csrf_field(&home.text).expect("the home page carries the session's CSRF token");
    WebSession { app, cookie, csrf }
}

impl WebSession<'_> {
    /// The session cookie, for requests built by hand.
    pub(crate) fn cookie(&self) -> &str {
        &self.cookie
    }

    pub(crate) async fn get(&self, path: &str) -> Page {
        get_page(self.app, path, Some(&self.cookie)).await
    }

    /// Posts a form with the session's CSRF token.
    pub(crate) async fn submit(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut with_token = vec![("csrf_token", self.csrf.as_str())];
        with_token.extend_from_slice(fields);
        post_form(self.app, path, &self.cookie, &with_token).await
    }

    /// The visible text of a page, without this session's random CSRF token (which could contain
    /// any pair of letters and digits).
    fn without_token(&self, page: &Page) -> String {
        page.text.replace(&self.csrf, "")
    }
}

async fn partner_count(app: &TestApp, f: &Fixture) -> usize {
    app.get("/api/v1/partners?limit=500", &f.owner.token).await.body["data"].as_array().map_or(0, Vec::len)
}

pub(crate) fn assert_safe_page(path: &str, page: &Page) {
    let csp = page.headers.get(CONTENT_SECURITY_POLICY).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let script_src = csp.split(';').map(str::trim).find(|d| d.starts_with("script-src")).unwrap_or_default();
    assert!(script_src.contains("'self'") && !csp.contains("'unsafe-inline'"), "{path}: CSP {csp:?}");
    assert!(csp.contains("object-src 'none'") && csp.contains("frame-ancestors 'none'"), "{path}: CSP {csp:?}");
    assert!(page.text.contains(r#"<meta name="viewport""#), "{path}: no viewport meta tag");
    assert!(!page.text.contains(" style="), "{path}: inline style attribute");
    assert!(!page.text.contains(" onclick="), "{path}: inline event handler");
    assert!(
        page.text.split("<script").skip(1).all(|tag| tag.split('>').next().is_some_and(|t| t.contains(" src="))),
        "{path}: inline script"
    );
}

#[tokio::test]
async fn every_page_carries_a_strict_content_security_policy_and_a_viewport() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let owner = sign_in(&app, &f.owner.email).await;
    let distributor = sign_in(&app, &f.d1_admin.email).await;

    let staff_pages = [
        "/".to_owned(),
        "/console/partners".to_owned(),
        "/console/partners?q=R1&type=reseller&status=active".to_owned(),
        "/console/partners/new".to_owned(),
        format!("/console/partners/{}", f.d1),
        format!("/console/partners/{}", f.r1a),
        "/console/staff".to_owned(),
        "/console/api-keys".to_owned(),
        "/console/audit".to_owned(),
        "/console/audit?action=partner.created".to_owned(),
    ];
    let partner_pages = ["/", "/portal/profile", "/portal/users", "/portal/api-keys", "/portal/resellers"];
    let mut checked = 0;
    for path in &staff_pages {
        let page = owner.get(path).await;
        assert_eq!(page.status, 200, "{path}: {}", page.text);
        assert_safe_page(path, &page);
        checked += 1;
    }
    for path in partner_pages {
        let page = distributor.get(path).await;
        assert_eq!(page.status, 200, "{path}: {}", page.text);
        assert_safe_page(path, &page);
        checked += 1;
    }
    let sign_in_page = get_page(&app, "/login", None).await;
    assert_safe_page("/login", &sign_in_page);
    // The API docs are Swagger UI's page, with its own looser style rule, but a phone's viewport.
    let docs = get_page(&app, "/api/docs/", None).await;
    assert_eq!(docs.status, 200, "{}", docs.text);
    assert!(docs.text.contains(r#"<meta name="viewport" content="width=device-width, initial-scale=1">"#), "{}", docs.text);
    assert!(docs.text.contains("<title>Trellis API</title>"), "{}", docs.text);
    let missing = owner.get("/console/partners/ptn_00000000000000000000000000").await;
    assert_eq!(missing.status, 404);
    assert_safe_page("missing partner", &missing);
    assert_eq!(checked, staff_pages.len() + partner_pages.len());
}

#[tokio::test]
async fn a_form_without_the_csrf_token_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let owner = sign_in(&app, &f.owner.email).await;
    let before = partner_count(&app, &f).await;
    let fields = [("name", "Forged GmbH"), ("contact_email", "forged@example.com"), ("types", "reseller")];

    let without = post_form(&app, "/console/partners", &owner.cookie, &fields).await;
    let mut wrong_fields = fields.to_vec();
    wrong_fields.push(("csrf_token", "not-the-token"));
    let wrong = post_form(&app, "/console/partners", &owner.cookie, &wrong_fields).await;
    let suspend_without = post_form(&app, &format!("/console/partners/{}/status", f.r1a), &owner.cookie, &[("status", "suspended")]).await;

    assert_eq!(without.status, 403, "{}", without.text);
    assert_eq!(wrong.status, 403, "{}", wrong.text);
    assert_eq!(suspend_without.status, 403, "{}", suspend_without.text);
    assert_eq!(partner_count(&app, &f).await, before);
    assert_eq!(app.get(&format!("/api/v1/partners/{}", f.r1a), &f.owner.token).await.body["status"], "active");
    // The same form with the token goes through: the refusal was the token's doing.
    let with_token = owner.submit("/console/partners", &fields).await;
    assert_eq!(with_token.status, 303, "{}", with_token.text);
    assert_eq!(partner_count(&app, &f).await, before + 1);
}

#[tokio::test]
async fn a_partner_user_asking_for_another_partner_gets_the_404_page_without_its_data() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let reseller = sign_in(&app, &f.r1a_admin.email).await;
    let distributor = sign_in(&app, &f.d1_admin.email).await;

    let parent = reseller.get(&format!("/console/partners/{}", f.d1)).await;
    let sibling = reseller.get(&format!("/console/partners/{}", f.r1b)).await;
    let own_in_console = reseller.get(&format!("/console/partners/{}", f.r1a)).await;
    let child_in_console = distributor.get(&format!("/console/partners/{}", f.r1a)).await;
    let console_list = reseller.get("/console/partners").await;
    let profile = reseller.get("/portal/profile").await;

    for (page, foreign) in [(&parent, "D1"), (&sibling, "R1b"), (&own_in_console, "R1a"), (&child_in_console, "R1a")] {
        assert_eq!(page.status, 404, "{}", page.text);
        assert!(page.text.contains("Not found"));
        assert!(!page.text.contains(foreign), "the 404 page shows {foreign}");
    }
    assert_eq!(console_list.status, 404);
    assert!(!console_list.text.contains("R1b") && !console_list.text.contains("D2"));
    assert_eq!(profile.status, 200);
    let profile_text = reseller.without_token(&profile);
    assert!(profile_text.contains("R1a"));
    assert!(!profile_text.contains("D1") && !profile_text.contains("R1b"));
}

#[tokio::test]
async fn staff_pages_and_portal_pages_are_closed_to_the_other_side_and_to_roles_without_the_right() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let member = sign_in(&app, &f.r1a_member.email).await;
    let viewer = sign_in(&app, &f.viewer.email).await;
    let owner = sign_in(&app, &f.owner.email).await;
    let reseller_admin = sign_in(&app, &f.r1a_admin.email).await;

    for path in ["/console/staff", "/console/api-keys", "/console/audit", "/console/partners/new"] {
        assert_eq!(member.get(path).await.status, 404, "{path} for a partner user");
    }
    for path in ["/portal/profile", "/portal/users", "/portal/api-keys", "/portal/resellers"] {
        assert_eq!(owner.get(path).await.status, 404, "{path} for staff");
    }
    assert_eq!(viewer.get("/console/audit").await.status, 403);
    assert_eq!(viewer.get("/console/partners/new").await.status, 403);
    assert_eq!(member.get("/portal/api-keys").await.status, 403);
    // R1a is a reseller, not a distributor: it has no resellers page.
    assert_eq!(reseller_admin.get("/portal/resellers").await.status, 404);
    let viewer_suspends = viewer.submit(&format!("/console/partners/{}/status", f.r1a), &[("status", "suspended")]).await;
    assert_eq!(viewer_suspends.status, 403);
    assert_eq!(app.get(&format!("/api/v1/partners/{}", f.r1a), &f.owner.token).await.body["status"], "active");
}

#[tokio::test]
async fn an_invalid_partner_form_is_shown_again_with_its_errors_and_a_valid_one_leads_to_the_partner() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let manager = sign_in(&app, &f.channel_manager.email).await;
    let before = partner_count(&app, &f).await;

    let invalid =
        manager.submit("/console/partners", &[("name", "Nordlicht AG"), ("contact_email", "not an email"), ("country", "Germany")]).await;
    let created = manager
        .submit(
            "/console/partners",
            &[
                ("name", "Nordlicht AG"),
                ("contact_email", "sales@nordlicht.example"),
                ("country", "de"),
                ("types", "reseller"),
                ("types", "msp"),
                ("parent_id", f.d1.as_str()),
            ],
        )
        .await;

    assert_eq!(invalid.status, 422);
    assert!(invalid.text.contains(r#"value="Nordlicht AG""#), "the name typed is kept");
    assert!(invalid.text.contains(r#"aria-invalid="true" aria-describedby="partner-contact_email-error""#));
    assert!(invalid.text.contains(r#"id="partner-contact_email-error""#));
    assert!(invalid.text.contains(r#"id="partner-country-error""#));
    assert!(invalid.text.contains(r#"id="partner-types-error""#));
    assert_eq!(created.status, 303, "{}", created.text);
    let location = created.headers.get(LOCATION).and_then(|v| v.to_str().ok()).expect("redirect").to_owned();
    assert!(location.starts_with("/console/partners/ptn_"), "{location}");
    let shown = manager.get(&location).await;
    assert_eq!(shown.status, 200);
    assert!(shown.text.contains("Nordlicht AG") && shown.text.contains("reseller, msp") && shown.text.contains("The partner was created."));
    // The country is picked by name and shown by name; the edit form's picker has it chosen.
    assert!(shown.text.contains("<dt>Country</dt><dd>Germany</dd>"), "{}", shown.text);
    assert!(shown.text.contains(r#"<option value="DE" selected>Germany</option>"#));
    assert!(shown.text.contains(&format!(r#"<a href="/console/partners/{}">D1</a>"#, f.d1)), "the parent is linked");
    assert_eq!(partner_count(&app, &f).await, before + 1);
}

#[tokio::test]
async fn an_invitation_link_and_an_api_key_are_shown_once_in_the_answer_to_their_form() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let admin = sign_in(&app, &f.r1a_admin.email).await;

    let invited = admin.submit("/portal/users", &[("email", "new.colleague@r1a.example"), ("role", "sales")]).await;
    let key = admin.submit("/portal/api-keys", &[("name", "CRM sync"), ("role", "member"), ("read_only", "1")]).await;
    let users_later = admin.get("/portal/users").await;
    let keys_later = admin.get("/portal/api-keys").await;

    assert_eq!(invited.status, 200, "{}", invited.text);
    let link_start = invited.text.find("/invitations/").expect("the invitation link is shown");
    let token: String = invited.text[link_start + "/invitations/".len()..].chars().take_while(char::is_ascii_alphanumeric).collect();
    assert!(token.len() > 20);
    assert!(users_later.text.contains("new.colleague@r1a.example") && !users_later.text.contains(&token));
    assert_eq!(key.status, 200, "{}", key.text);
    let secret_start = key.text.find("trl_").expect("the key is shown");
    let secret: String = key.text[secret_start..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    assert!(keys_later.text.contains("CRM sync") && !keys_later.text.contains(&secret));
    assert_eq!(invited.headers.get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"));
    // The key works, reads only, and acts for R1a alone.
    let read = app.get("/api/v1/partners", &secret).await;
    assert_eq!(read.status, 200);
    assert_eq!(read.body["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(app.patch(&format!("/api/v1/partners/{}", f.r1a), &secret, serde_json::json!({"country": "FR"})).await.status, 403);
}

/// A partner's console page (ARCHITECTURE.md "The request scope"): every section — hierarchy,
/// users, invitations, keys, profile, compliance, contracts, licences, timeline, programs and
/// tiers — is read in one read transaction, with one visibility check of the partner; the
/// sections read through the `SeenPartner` that check answered. Counted against the partner list,
/// whose answer is one transaction and no single-partner check, for staff who see everything and
/// for a channel manager restricted to the partners they manage (whose checks are real probes).
#[tokio::test]
async fn a_partners_console_page_reads_in_one_transaction_with_one_visibility_check() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let enrolled = app.post("/api/v1/programs", &f.owner.token, serde_json::json!({"name": "Resell", "slug": "resell"})).await;
    assert_eq!(enrolled.status, 201, "{}", enrolled.text);
    let program = enrolled.body["id"].as_str().expect("program id").to_owned();
    for (rank, tier) in [(0, "Registered"), (10, "Silver")] {
        let body = serde_json::json!({"name": tier, "rank": rank, "requirements": {"all": []}, "benefits": {"text": tier}});
        let created = app.post(&format!("/api/v1/programs/{program}/tiers"), &f.owner.token, body).await;
        assert_eq!(created.status, 201, "{}", created.text);
    }
    let enrollment =
        app.post(&format!("/api/v1/partners/{}/enrollments", f.r1a), &f.owner.token, serde_json::json!({"program_id": program})).await;
    assert_eq!(enrollment.status, 201, "{}", enrollment.text);

    let db = app.state.ctx.db();
    for identity in [&f.owner, &f.assigned_manager] {
        let session = sign_in(&app, &identity.email).await;
        let mut costs = Vec::new();
        for path in ["/console/partners".to_owned(), format!("/console/partners/{}", f.d1), format!("/console/partners/{}", f.r1a)] {
            let (transactions, checks) = (db.transactions_begun(), trellis_identity::scope::partner_checks_for_tests());
            let page = session.get(&path).await;
            assert_eq!(page.status, 200, "{path} as {}: {}", identity.label, page.text);
            costs.push((path, db.transactions_begun() - transactions, trellis_identity::scope::partner_checks_for_tests() - checks));
        }
        let (_, list_transactions, list_checks) = costs[0].clone();
        assert_eq!(list_checks, 0, "the list checks no single partner");
        for (path, transactions, checks) in &costs[1..] {
            assert_eq!(*transactions, list_transactions, "{path} as {}: transactions beyond the list's one", identity.label);
            assert_eq!(*checks, 1, "{path} as {}: visibility checks of single partners", identity.label);
        }
    }
}

/// Issue 8: the only admin of an organisation is offered no way to remove or demote themselves,
/// and a request that tries anyway lands back on the users page with the reason, not on an error
/// page; the admin stays.
#[tokio::test]
async fn the_only_admin_gets_no_remove_button_and_a_reason_instead_of_a_dead_end() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let admin = sign_in(&app, &f.r1a_admin.email).await;
    let remove_self = format!("/portal/users/{}/remove", f.r1a_admin.user_id);

    let users = admin.get("/portal/users").await;
    assert_eq!(users.status, 200, "{}", users.text);
    assert!(!users.text.contains(&remove_self), "no remove form for the only admin: {}", users.text);
    assert!(users.text.contains("The only admin"), "{}", users.text);
    assert!(users.text.contains(&format!("/portal/users/{}/remove", f.r1a_member.user_id)), "others can be removed");

    let refused = admin.submit(&remove_self, &[]).await;
    assert_eq!(refused.status, 303, "{}", refused.text);
    let location = refused.headers.get(LOCATION).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert_eq!(location, "/portal/users?notice=keeps_an_admin#users");
    let back = admin.get("/portal/users?notice=keeps_an_admin").await;
    assert!(back.text.contains("must keep at least one admin"), "{}", back.text);
    let demoted = admin.submit(&format!("/portal/users/{}/role", f.r1a_admin.user_id), &[("role", "member")]).await;
    assert_eq!(demoted.headers.get(LOCATION).and_then(|v| v.to_str().ok()), Some("/portal/users?notice=keeps_an_admin#users"));
    let listed = app.get(&format!("/api/v1/partners/{}/users", f.r1a), &f.owner.token).await;
    let roles: Vec<(String, String)> = listed.body["data"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|u| (u["email"].as_str().unwrap_or_default().to_owned(), u["role"].as_str().unwrap_or_default().to_owned()))
        .collect();
    assert!(roles.contains(&(f.r1a_admin.email.clone(), "admin".to_owned())), "the admin stays an admin: {roles:?}");
}

/// Issue 8: the partner list says how many partners match and which of them the page shows, and
/// exports exactly the filtered list as CSV — every page of it, the caller's visibility applied,
/// and a name a spreadsheet would run as a formula exported as text.
#[tokio::test]
async fn the_partner_list_counts_what_matches_and_exports_the_filtered_list_as_csv() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    trellis_testkit::bulk::add_resellers(&app, &f.workspace_id, &f.d1, "Bulk reseller", 120).await;
    let formula = app
        .post(
            "/api/v1/partners",
            &f.owner.token,
            serde_json::json!({"name": "=HYPERLINK(\"x\")", "contact_email": "f@formula.example", "types": ["reseller"]}),
        )
        .await;
    assert_eq!(formula.status, 201, "{}", formula.text);
    let active = app.get("/api/v1/partners?status=active&limit=500", &f.owner.token).await.body["data"].as_array().map_or(0, Vec::len);
    let owner = sign_in(&app, &f.owner.email).await;

    let first = owner.get("/console/partners?status=active").await;
    assert!(first.text.contains(&format!("Showing 1–50 of {active}")), "{}", first.text);
    let next = first.text.split(r#"rel="next""#).next().and_then(|t| t.rsplit(r#"href=""#).next()).map(|h| {
        h.split('"')
            .next()
            .unwrap_or_default()
            .replace("&#x2f;", "/")
            .replace("&#x3d;", "=")
            .replace("&#61;", "=")
            .replace("&#38;", "&")
            .replace("&amp;", "&")
    });
    let second = owner.get(next.as_deref().expect("a next page")).await;
    assert!(second.text.contains(&format!("Showing 51–100 of {active}")), "{}", second.text);

    let export = owner.get("/console/partners/export?status=active").await;
    assert_eq!(export.status, 200, "{}", export.text);
    assert_eq!(export.headers.get("content-type").and_then(|v| v.to_str().ok()), Some("text/csv; charset=utf-8"));
    assert!(export.headers.get("content-disposition").and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("attachment")));
    let lines: Vec<&str> = export.text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines[0], "id,name,contact_email,types,status,tiers,channel_manager,compliant,country,distributor_id,created_on");
    assert_eq!(lines.len() - 1, active, "every active partner, over every page");
    assert!(lines.iter().any(|l| l.contains(r#""'=HYPERLINK(""x"")""#)), "a formula is exported as text");
    assert!(lines[1..].iter().all(|l| l.contains(r#","active","#)), "only the filtered status");

    // A distributor's people cannot export the vendor's list; a restricted manager exports theirs.
    let manager = sign_in(&app, &f.assigned_manager.email).await;
    let theirs = manager.get("/console/partners/export").await;
    let visible = app.get("/api/v1/partners?limit=500", &f.assigned_manager.token).await.body["data"].as_array().map_or(0, Vec::len);
    assert_eq!(theirs.text.split("\r\n").filter(|l| !l.is_empty()).count() - 1, visible);
}

/// The names of a partner list page's rows, in order.
fn listed_names(page: &Page) -> Vec<String> {
    page.text
        .split(r#"<td data-label="Name"><a href=""#)
        .skip(1)
        .filter_map(|cell| cell.split_once("\">").and_then(|(_, rest)| rest.split_once("</a>")).map(|(name, _)| name.to_owned()))
        .collect()
}

/// A link of a page, unescaped, found by the text just after its `href`'s closing quote.
fn link_before(page: &Page, marker: &str) -> Option<String> {
    page.text.split(marker).next().and_then(|t| t.rsplit(r#"href=""#).next()).map(|h| {
        h.split('"').next().unwrap_or_default().replace("&#x2f;", "/").replace("&#x3d;", "=").replace("&#61;", "=").replace("&#38;", "&")
    })
}

/// Issue 8: the partner list sorts by name in both directions across pages (keyset on the name
/// and id), and filters by tier, channel manager and compliance, showing those columns.
#[tokio::test]
async fn the_partner_list_sorts_by_name_across_pages_and_filters_by_tier_manager_and_compliance() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    trellis_testkit::bulk::add_resellers(&app, &f.workspace_id, &f.d1, "Bulk reseller", 60).await;
    for name in ["aardvark Systems", "Zulu Networks", "mid Market Co"] {
        let created = app
            .post(
                "/api/v1/partners",
                &f.owner.token,
                serde_json::json!({"name": name, "contact_email": "s@sort.example", "types": ["reseller"]}),
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.text);
    }
    let owner = sign_in(&app, &f.owner.email).await;

    let first = owner.get("/console/partners?sort=name").await;
    assert!(first.text.contains(r#"aria-sort="ascending""#), "the name column says it sorts the list");
    let mut names = listed_names(&first);
    assert_eq!(names.first().map(String::as_str), Some("aardvark Systems"), "case-insensitive: {names:?}");
    let second = owner.get(&link_before(&first, r#"" rel="next""#).expect("a second page")).await;
    names.extend(listed_names(&second));
    let lowered: Vec<String> = names.iter().map(|n| n.to_lowercase()).collect();
    let mut sorted = lowered.clone();
    sorted.sort();
    assert_eq!(lowered, sorted, "the second page continues where the first ended");
    assert_eq!(names.len(), partner_count(&app, &f).await.min(100));
    let descending = owner.get("/console/partners?sort=name_desc").await;
    assert_eq!(listed_names(&descending).first().map(String::as_str), Some("Zulu Networks"));

    // Tier: enroll R1a at Gold.
    let program = app.post("/api/v1/programs", &f.owner.token, serde_json::json!({"name": "Resell", "slug": "resell"})).await;
    let program = program.body["id"].as_str().expect("program").to_owned();
    let gold = app
        .post(
            &format!("/api/v1/programs/{program}/tiers"),
            &f.owner.token,
            serde_json::json!({"name": "Gold", "rank": 10, "requirements": {"all": []}}),
        )
        .await;
    let gold = gold.body["id"].as_str().expect("tier").to_owned();
    let enrolled = app
        .post(
            &format!("/api/v1/partners/{}/enrollments", f.r1a),
            &f.owner.token,
            serde_json::json!({"program_id": program, "tier_id": gold}),
        )
        .await;
    assert_eq!(enrolled.status, 201, "{}", enrolled.text);
    let by_tier = owner.get(&format!("/console/partners?tier={gold}")).await;
    assert_eq!(listed_names(&by_tier), vec!["R1a".to_owned()], "{}", by_tier.text);
    assert!(by_tier.text.contains("Resell: Gold"), "the tier column");
    assert!(by_tier.text.contains(&format!(r#"<option value="{gold}" selected>Resell: Gold</option>"#)), "a tier picker");

    // Channel manager: the fixture's restricted manager manages D1.
    let managed = owner.get(&format!("/console/partners?manager={}", f.assigned_manager.user_id)).await;
    assert_eq!(listed_names(&managed), vec!["D1".to_owned()], "{}", managed.text);

    // Compliance: a lapsed licence of P3.
    let yesterday = crate::profiles::day(&app, -1);
    let lapsed = app
        .post(
            &format!("/api/v1/partners/{}/licences", f.p3),
            &f.p3_admin.token,
            serde_json::json!({"kind": "broker", "number": "L-1", "jurisdiction": "FR", "valid_from": "2020-01-01", "valid_until": yesterday}),
        )
        .await;
    assert_eq!(lapsed.status, 201, "{}", lapsed.text);
    let not_compliant = owner.get("/console/partners?compliance=not_compliant").await;
    assert_eq!(listed_names(&not_compliant), vec!["P3".to_owned()], "{}", not_compliant.text);
    assert!(not_compliant.text.contains("Licence lapsed"));
    let compliant = owner.get("/console/partners?compliance=compliant&q=P3").await;
    assert!(listed_names(&compliant).is_empty(), "{}", compliant.text);
}

/// Issue 8: bulk actions on ticked partners — assign a channel manager, add to a program, change
/// status after a confirmation that changes nothing — in one transaction, each change audited;
/// what cannot change is listed with the reason, and a partner the caller may not see is "not
/// found" and left alone.
#[tokio::test]
async fn bulk_actions_change_the_ticked_partners_after_confirming_a_status_change() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let owner = sign_in(&app, &f.owner.email).await;
    let partner = |id: &trellis_core::PartnerId| format!("/api/v1/partners/{id}");

    let assigned = owner
        .submit(
            "/console/partners/bulk",
            &[
                ("action", "assign_manager"),
                ("manager_user_id", &f.channel_manager.user_id),
                ("partner", f.r1a.as_str()),
                ("partner", f.r1b.as_str()),
            ],
        )
        .await;
    assert_eq!(assigned.status, 200, "{}", assigned.text);
    assert!(assigned.text.contains("2 partners changed"), "{}", assigned.text);
    for id in [&f.r1a, &f.r1b] {
        let got = app.get(&partner(id), &f.owner.token).await;
        assert_eq!(got.body["manager_user_id"].as_str(), Some(f.channel_manager.user_id.as_str()));
    }
    let audited = app.get(&format!("/api/v1/audit-events?target_id={}", f.r1b), &f.owner.token).await;
    assert!(audited.text.contains("partner.updated"), "{}", audited.text);

    let program = app.post("/api/v1/programs", &f.owner.token, serde_json::json!({"name": "Bulk program", "slug": "bulk"})).await;
    let program = program.body["id"].as_str().expect("program").to_owned();
    let added =
        owner.submit("/console/partners/bulk", &[("action", "add_to_program"), ("program_id", &program), ("partner", f.d2.as_str())]).await;
    assert!(added.text.contains("Add to Bulk program: 1 partner changed"), "{}", added.text);
    let again =
        owner.submit("/console/partners/bulk", &[("action", "add_to_program"), ("program_id", &program), ("partner", f.d2.as_str())]).await;
    assert!(again.text.contains("already enrolled"), "{}", again.text);

    // A status change asks first, and asking changes nothing.
    let terminated = app.patch(&partner(&f.p3), &f.owner.token, serde_json::json!({"status": "terminated"})).await;
    assert_eq!(terminated.status, 200, "{}", terminated.text);
    let fields = [("action", "change_status"), ("status", "suspended"), ("partner", f.r2a.as_str()), ("partner", f.p3.as_str())];
    let asked = owner.submit("/console/partners/bulk", &fields).await;
    assert!(asked.text.contains("Change status to suspended: 1 partner?"), "{}", asked.text);
    assert!(asked.text.contains("P3: a terminated partner cannot be made suspended here"), "{}", asked.text);
    assert!(asked.text.contains(r#"name="confirmed" value="yes""#));
    assert_eq!(app.get(&partner(&f.r2a), &f.owner.token).await.body["status"], "active");
    let mut confirmed = fields.to_vec();
    confirmed.push(("confirmed", "yes"));
    let done = owner.submit("/console/partners/bulk", &confirmed).await;
    assert!(done.text.contains("1 partner changed"), "{}", done.text);
    assert_eq!(app.get(&partner(&f.r2a), &f.owner.token).await.body["status"], "suspended");
    assert_eq!(app.get(&partner(&f.p3), &f.owner.token).await.body["status"], "terminated");

    // Nothing ticked: back to the list with a word; a restricted manager cannot reach D2.
    let none = owner.submit("/console/partners/bulk", &[("action", "assign_manager"), ("return", "/console/partners?status=active")]).await;
    assert_eq!(none.status, 303);
    assert_eq!(none.headers.get(LOCATION).and_then(|v| v.to_str().ok()), Some("/console/partners?status=active&notice=none_ticked"));
    let manager = sign_in(&app, &f.assigned_manager.email).await;
    let outside = manager
        .submit("/console/partners/bulk", &[("action", "assign_manager"), ("manager_user_id", ""), ("partner", f.d2.as_str())])
        .await;
    assert!(outside.text.contains("not found") && !outside.text.contains(">D2<"), "{}", outside.text);
    let elsewhere = owner.submit("/console/partners/bulk", &[("action", "assign_manager"), ("return", "https://evil.example/")]).await;
    assert_eq!(elsewhere.headers.get(LOCATION).and_then(|v| v.to_str().ok()), Some("/console/partners?notice=none_ticked"));
}

/// Issue 8: a partner whose application is still being reviewed reads its status in plain words
/// and whom to contact, not a program it cannot use yet.
#[tokio::test]
async fn an_applied_partners_home_explains_its_status_and_whom_to_contact() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    app.execute(vec![trellis_db::sql!("UPDATE partners SET status = 'applied' WHERE workspace_id = $1 AND id = $2", f.workspace_id, f.p3)])
        .await
        .expect("the partner is back at applied");
    let admin = sign_in(&app, &f.p3_admin.email).await;

    let home = admin.get("/").await;

    assert_eq!(home.status, 200, "{}", home.text);
    assert!(
        home.text.contains("Your application is being reviewed") && home.text.contains("You will be emailed when it is decided"),
        "{}",
        home.text
    );
    assert!(home.text.contains(r#"href="mailto:owner@vendor.example""#), "whom to contact: {}", home.text);
    assert!(!home.text.contains("Continue onboarding"), "{}", home.text);
}

/// Issue 8: the new partner form creates the partner, enrolls it in the chosen program and invites
/// its first user in one transaction; without a mail server the page says the email waits in the
/// outbox (and the channel manager who caused it sees it there); with one, that it was emailed.
/// A bad first-user email is an error next to that field, and nothing is created.
#[tokio::test]
async fn a_new_partner_comes_with_its_program_and_first_user_and_the_page_tells_the_truth_about_the_email() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let program = app.post("/api/v1/programs", &f.owner.token, serde_json::json!({"name": "Resell", "slug": "resell"})).await;
    let program = program.body["id"].as_str().expect("program").to_owned();
    let manager = sign_in(&app, &f.channel_manager.email).await;
    let form = manager.get("/console/partners/new").await;
    assert!(form.text.contains(r#"name="user_email""#) && form.text.contains(&format!(r#"<option value="{program}">Resell</option>"#)));
    assert!(form.text.contains(r#"<option value="admin" selected>"#), "the first user's role starts at admin");
    let before = partner_count(&app, &f).await;

    let fields = |email: &'static str| {
        vec![
            ("name", "Acme Cloud"),
            ("contact_email", "hello@acme-cloud.example"),
            ("types", "reseller"),
            ("user_email", email),
            ("user_name", "Ana Acme"),
            ("user_role", "admin"),
        ]
    };
    let mut bad = fields("not-an-email");
    bad.push(("program_id", &program));
    let refused = manager.submit("/console/partners", &bad).await;
    assert_eq!(refused.status, 422, "{}", refused.text);
    assert!(refused.text.contains(r#"id="partner-user_email-error""#), "the error sits at the user's email: {}", refused.text);
    assert_eq!(partner_count(&app, &f).await, before, "nothing was created");

    let mut good = fields("ana@acme-cloud.example");
    good.push(("program_id", &program));
    let created = manager.submit("/console/partners", &good).await;
    assert_eq!(created.status, 200, "{}", created.text);
    assert!(created.text.contains("Acme Cloud is created and ana@acme-cloud.example is invited"), "{}", created.text);
    assert!(created.text.contains("No mail server is configured, so the email to ana@acme-cloud.example waits in the outbox"));
    let listed = app.get("/api/v1/partners?q=Acme%20Cloud", &f.owner.token).await;
    let id = listed.body["data"][0]["id"].as_str().expect("the partner").to_owned();
    let enrolled = app.get(&format!("/api/v1/partners/{id}/enrollments"), &f.owner.token).await;
    assert!(enrolled.text.contains(&program), "enrolled: {}", enrolled.text);
    let invited = app.get(&format!("/api/v1/partners/{id}/invitations"), &f.owner.token).await;
    assert!(invited.text.contains("ana@acme-cloud.example"), "{}", invited.text);
    let outbox = manager.get("/console/outbox").await;
    assert_eq!(outbox.status, 200, "{}", outbox.text);
    assert!(outbox.text.contains("ana@acme-cloud.example"), "the manager sees the email they caused: {}", outbox.text);

    let (smtp_app, _receiver) = TestApp::spawn_with_smtp().await;
    let g = Fixture::build(&smtp_app).await;
    let owner = sign_in(&smtp_app, &g.owner.email).await;
    let emailed = owner.submit("/console/partners", &fields("bo@acme-cloud.example")).await;
    assert!(emailed.text.contains("It was emailed to bo@acme-cloud.example"), "{}", emailed.text);
}
