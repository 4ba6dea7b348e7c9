//! The pages' half of the authorization matrix: every page route (`trellis_portal::page_routes`,
//! the table the portal's router is built from) × the API half's identities × object owner, with
//! the answer the section "Pages" of `authz_matrix.toml` promises. The identities sign in as a
//! browser does (a session cookie, started through the same service as the sign-in page), and
//! every form is sent twice: with the session's CSRF token, and without it (refused).

use std::collections::{BTreeMap, BTreeSet};

use reqwest::Method;
use reqwest::header::{AUTHORIZATION, COOKIE, LOCATION};
use serde::Deserialize;
use trellis_core::UserId;
use trellis_identity::auth::{self, SessionKind};
use trellis_identity::{RequestMeta, Scope};
use trellis_testkit::TestApp;
use trellis_testkit::fixture::Identity;

use crate::authz_matrix::{self, IDENTITIES, Matrix, World, Ws};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PageRow {
    method: String,
    path: String,
    target: String,
    expect: BTreeMap<String, String>,
}

impl PageRow {
    fn label(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    fn cells<'a>(&'a self, matrix: &'a Matrix, identity: &str) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        let columns = &matrix.page_columns[&self.target];
        columns.iter().map(String::as_str).zip(self.expect[identity].split_whitespace().collect::<Vec<_>>())
    }

    /// A form that carries a file: sent as multipart, as the page's form does.
    fn is_upload(&self) -> bool {
        UPLOADS.contains(&self.path.as_str())
    }
}

/// The outcomes a cell may promise (see the section "Pages" of the toml).
const OUTCOMES: [&str; 7] = ["-", "200", "303", "login", "403", "404", "422"];

/// The page routes anyone may use without signing in.
const PUBLIC: [&str; 18] = [
    "/login",
    "/sign-in/sso",
    "/sign-in/sso/callback",
    "/sign-in/passkey",
    "/sign-in/passkey/finish",
    "/password-reset",
    "/password-reset/{token}",
    "/apply/{slug}",
    "/apply/{slug}/thanks",
    "/leads/{slug}",
    "/leads/{slug}/thanks",
    "/partners",
    "/partners/logos/{file_id}",
    "/static/{name}",
    "/brand/{workspace_id}/style.css",
    "/brand/{workspace_id}/logo",
    "/invitations/{token}",
    "/invitations/{token}/decline",
];

/// Forms whose token is not the session's (the sign-in form's and the public application form's
/// double-submit cookie, a passkey sign-in's ceremony cookie, the invitation link's own check):
/// the CSRF-less pass does not apply.
const OWN_CSRF: [&str; 10] = [
    "/login",
    "/sign-in/sso",
    "/sign-in/passkey",
    "/sign-in/passkey/finish",
    "/apply/{slug}",
    "/leads/{slug}",
    "/invitations/{token}",
    "/invitations/{token}/decline",
    "/password-reset",
    "/password-reset/{token}",
];

const UPLOADS: [&str; 8] = [
    "/console/partners/{id}/contracts",
    "/console/partners/{id}/licences",
    "/portal/profile/logo",
    "/portal/licences",
    "/console/settings/logo",
    "/console/deals/import/preview",
    "/console/leads/import/preview",
    "/console/invoices/paid/preview",
];

/// Who an identity is to the pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    /// No session: nobody, a session that was signed out, or an API key (pages read no bearer).
    NoSession,
    Staff {
        other_workspace: bool,
        assigned: bool,
    },
    Partner,
}

fn caller(name: &str) -> Caller {
    match name {
        "anonymous" | "revoked_key" | "r1a_key" => Caller::NoSession,
        "other_owner" => Caller::Staff { other_workspace: true, assigned: false },
        "assigned_manager" => Caller::Staff { other_workspace: false, assigned: true },
        "owner" | "admin" | "channel_manager" | "finance" | "viewer" => Caller::Staff { other_workspace: false, assigned: false },
        _ => Caller::Partner,
    }
}

fn load() -> Matrix {
    let matrix = authz_matrix::load();
    let mut seen = BTreeSet::new();
    for row in &matrix.page {
        assert!(seen.insert((row.method.clone(), row.path.clone())), "{} appears twice in the page rows", row.label());
        let columns = matrix.page_columns.get(&row.target).unwrap_or_else(|| panic!("{}: unknown page target {}", row.label(), row.target));
        let names: BTreeSet<&str> = row.expect.keys().map(String::as_str).collect();
        assert_eq!(names, IDENTITIES.iter().copied().collect(), "{}: the rows must be exactly the matrix identities", row.label());
        for (identity, cells) in &row.expect {
            let values: Vec<&str> = cells.split_whitespace().collect();
            assert_eq!(values.len(), columns.len(), "{} / {identity}: expected {} values ({columns:?})", row.label(), columns.len());
            for value in values {
                assert!(OUTCOMES.contains(&value), "{} / {identity}: {value} is not a page outcome", row.label());
            }
        }
    }
    matrix
}

/// Whether the path names an object the target does not create: the replay puts an id of
/// nothing there, so a caller allowed through the guard finds nothing.
fn has_unknown_object(row: &PageRow) -> bool {
    let own = match row.target.as_str() {
        "partner" | "program" => 1,
        _ => 0,
    };
    row.path.matches('{').count() > own
}

#[test]
fn the_page_rows_follow_the_rules_written_at_the_top_of_their_section() {
    let matrix = load();
    let mut problems = Vec::new();
    for row in &matrix.page {
        let public = PUBLIC.contains(&row.path.as_str());
        for identity in IDENTITIES {
            for (column, value) in row.cells(&matrix, identity) {
                let cell = format!("{} / {identity} / {column} = {value}", row.label());
                let main_object = matches!(column, "D1" | "R1a" | "R1b" | "D2" | "R2a" | "P3" | "PROGRAM");
                match caller(identity) {
                    Caller::NoSession if !public && value != "login" => {
                        problems.push(format!("{cell}: without a session, the sign-in page"))
                    }
                    Caller::NoSession => {}
                    _ if public => {}
                    Caller::Partner if row.path.starts_with("/console") && value != "404" => {
                        problems.push(format!("{cell}: a console page is 404 to a partner"))
                    }
                    Caller::Staff { .. } if row.path.starts_with("/portal") && value != "404" => {
                        problems.push(format!("{cell}: a portal page is 404 to staff"))
                    }
                    Caller::Staff { other_workspace: true, .. } if main_object && value != "404" => {
                        problems.push(format!("{cell}: another workspace's object is 404"))
                    }
                    Caller::Staff { assigned: true, .. } if matches!(column, "D2" | "R2a" | "P3") && value != "404" => {
                        problems.push(format!("{cell}: a partner the manager does not manage is 404"))
                    }
                    Caller::Staff { other_workspace: false, .. } if column == "OTHER" && value != "404" => {
                        problems.push(format!("{cell}: another workspace's partner is 404"))
                    }
                    _ if value == "login" && row.path != "/logout" => {
                        problems.push(format!("{cell}: a signed-in caller is never sent to sign in (but by signing out)"))
                    }
                    _ if has_unknown_object(row) && matches!(value, "200" | "303") => {
                        problems.push(format!("{cell}: an object that does not exist is neither shown nor changed"))
                    }
                    _ => {}
                }
            }
        }
    }
    assert!(problems.is_empty(), "the page rows contradict their rules:\n{}", problems.join("\n"));
}

#[test]
fn every_page_route_has_a_matrix_row_and_nothing_else_does() {
    let matrix = load();
    let routes: BTreeSet<(String, String)> =
        trellis_portal::page_routes().into_iter().map(|(m, p)| (m.to_string(), p.to_owned())).collect();
    let rows: BTreeSet<(String, String)> = matrix.page.iter().map(|r| (r.method.clone(), r.path.clone())).collect();
    let missing: Vec<_> = routes.difference(&rows).collect();
    let stale: Vec<_> = rows.difference(&routes).collect();
    println!(
        "FIGURE authz_page_routes routes={} in_matrix={} unannotated={} stale_rows={}",
        routes.len(),
        rows.len(),
        missing.len(),
        stale.len()
    );
    assert!(missing.is_empty(), "page routes without a row in authz_matrix.toml: {missing:?}");
    assert!(stale.is_empty(), "page rows for routes the portal does not have: {stale:?}");
}

/// The person behind an identity name.
fn person<'a>(world: &'a World, name: &str) -> &'a Identity {
    let f = &world.f;
    match name {
        "other_owner" => &f.other_owner,
        "owner" => &f.owner,
        "admin" => &f.admin,
        "channel_manager" => &f.channel_manager,
        "assigned_manager" => &f.assigned_manager,
        "finance" => &f.finance,
        "viewer" => &f.viewer,
        "d1_admin" => &f.d1_admin,
        "d1_member" => &f.d1_member,
        "r1a_admin" => &f.r1a_admin,
        "r1a_member" => &f.r1a_member,
        "r1b_admin" => &f.r1b_admin,
        "d2_admin" => &f.d2_admin,
        "p3_admin" => &f.p3_admin,
        other => panic!("{other} is not a person"),
    }
}

/// What a cell's request carries: a session cookie and its CSRF token, or a bearer credential.
#[derive(Default)]
struct Credentials {
    cookie: Option<String>,
    csrf: Option<String>,
    bearer: Option<String>,
}

async fn browser_session(app: &TestApp, identity: &Identity) -> auth::SignedIn {
    let user_id: UserId = identity.user_id.parse().expect("user id");
    auth::start_session(&app.state.ctx, &user_id, SessionKind::Browser, None, &RequestMeta::default()).await.expect("browser session")
}

/// A fresh session per cell, so that a cell that signs out or changes the session leaves the
/// others as they were.
async fn credentials(app: &TestApp, world: &World, name: &str) -> Credentials {
    match name {
        "anonymous" => Credentials::default(),
        "r1a_key" => Credentials { bearer: Some(world.f.r1a_key.clone()), ..Credentials::default() },
        "revoked_key" => {
            let ended = browser_session(app, &world.f.admin).await;
            auth::logout(&app.state.ctx, &ended.token).await.expect("sign out");
            Credentials { cookie: Some(format!("trellis_session={}", ended.token)), csrf: Some(ended.csrf_token), bearer: None }
        }
        name => {
            let signed = browser_session(app, person(world, name)).await;
            Credentials { cookie: Some(format!("trellis_session={}", signed.token)), csrf: Some(signed.csrf_token), bearer: None }
        }
    }
}

/// The path of a cell: the target's object in its placeholder, an id of nothing in the others.
async fn cell_path(app: &TestApp, world: &World, row: &PageRow, column: &str, n: usize) -> String {
    let mut path = row.path.clone();
    if path.contains("/sso") {
        crate::authz_matrix::ensure_sso_connections(app, world, n).await;
    }
    match row.target.as_str() {
        "partner" => path = path.replacen("{id}", world.partner(column).as_str(), 1),
        "program" => {
            let ws = if column == "OTHER_PROGRAM" { Ws::Other } else { Ws::Main };
            let scope = Scope::system(world.workspace(ws).clone(), &trellis_testkit::TEST_FIXTURES);
            let input =
                trellis_programs::NewProgram { name: format!("Page program {n}"), slug: format!("page-program-{n}"), ..Default::default() };
            let program = trellis_programs::programs::create(&app.state.ctx, &scope, input).await.expect("fresh program");
            path = path.replacen("{id}", program.id.as_str(), 1);
        }
        _ => {}
    }
    while let Some(start) = path.find('{') {
        let end = start + path[start..].find('}').expect("closing brace");
        // A question's index is a number in the route itself (a non-number is axum's 400).
        let nothing = if &path[start..=end] == "{index}" { "99" } else { "nothing" };
        path.replace_range(start..=end, nothing);
    }
    path
}

/// Fields a form reads before anything else: without them the answer would be 422 whoever asks
/// (the switch form reads its struct before the token; the status and role forms read their
/// choice before the partner is looked up). A partner's status is set to what it is.
fn required_fields(row: &PageRow) -> &'static str {
    match row.path.as_str() {
        "/memberships" => "&membership=nothing",
        "/console/partners/{id}/status" => "&status=active",
        "/console/partners/{id}/users/{user_id}/role" => "&role=member",
        _ => "",
    }
}

/// A cell's answer as the toml writes it.
fn outcome(status: u16, location: Option<&str>) -> String {
    match status {
        301 | 302 | 303 | 307 | 308 if location.is_some_and(|l| l.starts_with("/login")) => "login".to_owned(),
        301 | 302 | 303 | 307 | 308 => "303".to_owned(),
        other => other.to_string(),
    }
}

async fn send(app: &TestApp, row: &PageRow, path: &str, credentials: &Credentials, token: Option<&str>) -> String {
    let method = Method::from_bytes(row.method.as_bytes()).expect("method");
    let mut request = app.client.request(method, format!("{}{path}", app.base_url));
    if let Some(cookie) = &credentials.cookie {
        request = request.header(COOKIE, cookie);
    }
    if let Some(bearer) = &credentials.bearer {
        request = request.header(AUTHORIZATION, format!("Bearer {bearer}"));
    }
    if row.method == "POST" {
        let token = token.unwrap_or("");
        request = if row.is_upload() {
            let boundary = "page-matrix-boundary";
            let body = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{token}\r\n--{boundary}--\r\n");
            request.header("content-type", format!("multipart/form-data; boundary={boundary}")).body(body)
        } else {
            request.header("content-type", "application/x-www-form-urlencoded").body(format!("csrf_token={token}{}", required_fields(row)))
        };
    }
    let response = request.send().await.expect("request reaches the server");
    let location = response.headers().get(LOCATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
    outcome(response.status().as_u16(), location.as_deref())
}

#[tokio::test]
async fn every_page_cell_answers_as_the_matrix_says() {
    // At localhost: passkeys need a domain name (ADR 0027), and their cells are real.
    let app = TestApp::spawn_at_localhost().await;
    let world = World::build(&app).await;
    let matrix = load();
    let mut failures = Vec::new();
    let (mut requests, mut refused_without_token) = (0, 0);
    let mut n = 0;
    for row in &matrix.page {
        for identity in IDENTITIES {
            for (column, expected) in row.cells(&matrix, identity) {
                if expected == "-" {
                    continue;
                }
                n += 1;
                let path = cell_path(&app, &world, row, column, n).await;
                let cell = format!("{} / {identity} / {column} ({path})", row.label());
                let with_token = credentials(&app, &world, identity).await;
                let got = send(&app, row, &path, &with_token, with_token.csrf.as_deref()).await;
                requests += 1;
                if got != expected {
                    failures.push(format!("{cell}: expected {expected}, got {got}"));
                }
                if row.method == "POST" && !OWN_CSRF.contains(&row.path.as_str()) {
                    // The same form without the token: refused (403) to anyone with a session,
                    // before the membership or the object is looked at.
                    let without = credentials(&app, &world, identity).await;
                    let wanted = if caller(identity) == Caller::NoSession { expected } else { "403" };
                    let got = send(&app, row, &path, &without, None).await;
                    requests += 1;
                    refused_without_token += usize::from(got == "403");
                    if got != wanted {
                        failures.push(format!("{cell} without the CSRF token: expected {wanted}, got {got}"));
                    }
                }
            }
        }
    }
    println!(
        "FIGURE authz_pages requests={requests} refused_without_token={refused_without_token} failures={} backend={}",
        failures.len(),
        app.backend_name()
    );
    assert!(failures.is_empty(), "{} page cells differ from the matrix:\n{}", failures.len(), failures.join("\n"));
}
