//! The authorization matrix (notes/reliability.md T-A1 and T-A1b): `authz_matrix.toml` lists every
//! route of the OpenAPI document × identity × object owner with the status API.md promises. These
//! tests check the table against API.md's visibility rules, check that it covers exactly the routes
//! the server documents, and replay every cell over HTTP against the real server, checking that
//! every id in every list answer belongs to what the caller may see.
//!
//! The replay is also used by `rls.rs` (partner identities only, with the application-side partner
//! filter switched off) to show that PostgreSQL row security alone stops cross-partner reads.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};
use trellis_core::{PartnerId, PartnerRole, PartnerScopeSetting, VendorRole, WorkspaceId};
use trellis_db::sql;
use trellis_identity::{Scope, members, partner_users};
use trellis_server::demo::accept_as_operator;
use trellis_testkit::fixture::{self, Fixture, Identity, PASSWORD};
use trellis_testkit::{Reply, TEST_FIXTURES, TestApp};

// ---------------------------------------------------------------------------------------------
// The table

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Matrix {
    columns: BTreeMap<String, Vec<String>>,
    pub route: Vec<RouteRow>,
    /// The vendor-only fields of `PATCH /api/v1/partners/{id}` (section "Vendor-only fields").
    #[serde(default)]
    partner_field: Vec<FieldRow>,
    /// The pages' half (section "Pages", `authz_pages.rs`).
    pub page_columns: BTreeMap<String, Vec<String>>,
    pub page: Vec<crate::authz_pages::PageRow>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RouteRow {
    method: String,
    path: String,
    target: String,
    list: bool,
    expect: BTreeMap<String, String>,
}

impl RouteRow {
    fn key(&self) -> (String, String) {
        (self.method.clone(), self.path.clone())
    }

    fn label(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// The identities of the matrix, in the order of its rows.
pub(crate) const IDENTITIES: [&str; 17] = [
    "anonymous",
    "revoked_key",
    "other_owner",
    "owner",
    "admin",
    "channel_manager",
    "assigned_manager",
    "finance",
    "viewer",
    "d1_admin",
    "d1_member",
    "r1a_admin",
    "r1a_member",
    "r1b_admin",
    "d2_admin",
    "p3_admin",
    "r1a_key",
];

/// Reads `authz_matrix.toml` and checks its shape: every route has a row for every identity with
/// one value per column of its target.
pub(crate) fn load() -> Matrix {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/authz_matrix.toml");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    let matrix: Matrix = toml::from_str(&text).unwrap_or_else(|e| panic!("parse {path}: {e}"));
    let mut seen = BTreeSet::new();
    for route in &matrix.route {
        assert!(seen.insert(route.key()), "{} appears twice in the matrix", route.label());
        let columns = matrix.columns.get(&route.target).unwrap_or_else(|| panic!("{}: unknown target {}", route.label(), route.target));
        let names: BTreeSet<&str> = route.expect.keys().map(String::as_str).collect();
        assert_eq!(names, IDENTITIES.iter().copied().collect(), "{}: the rows must be exactly the matrix identities", route.label());
        for (identity, cells) in &route.expect {
            let values: Vec<&str> = cells.split_whitespace().collect();
            assert_eq!(values.len(), columns.len(), "{} / {identity}: expected {} values ({columns:?})", route.label(), columns.len());
            for value in values {
                assert!(
                    matches!(value, "-" | "200" | "201" | "202" | "204" | "401" | "403" | "404" | "409" | "422"),
                    "{} / {identity}: {value} is not an expected outcome",
                    route.label()
                );
            }
        }
    }
    check_field_rows(&matrix);
    matrix
}

impl Matrix {
    fn cells<'a>(&'a self, route: &'a RouteRow, identity: &str) -> impl Iterator<Item = (&'a str, Option<u16>)> + 'a {
        let columns = &self.columns[&route.target];
        let values: Vec<&'a str> = route.expect[identity].split_whitespace().collect();
        columns.iter().map(String::as_str).zip(values).map(|(column, value)| (column, value.parse().ok()))
    }
}

// ---------------------------------------------------------------------------------------------
// Who is who, and what each identity may see — written from the fixture's shape and API.md,
// independently of the server's code.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ws {
    Main,
    Other,
}

#[derive(Debug, Clone)]
enum Kind {
    Anonymous,
    Revoked,
    Staff {
        ws: Ws,
        role: VendorRole,
        assigned: bool,
        user_id: String,
    },
    /// `home` is the partner's column name (D1, R1a, …).
    Partner {
        home: &'static str,
        admin: bool,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct Who {
    pub name: &'static str,
    credential: Option<String>,
    /// Set for people, who can sign in again (fresh tokens for logout cells).
    email: Option<String>,
    kind: Kind,
}

impl Who {
    pub(crate) fn is_partner(&self) -> bool {
        matches!(self.kind, Kind::Partner { .. })
    }

    /// Partner callers and channel managers limited to the partners they manage: the identities
    /// PostgreSQL row security restricts.
    pub(crate) fn is_restricted(&self) -> bool {
        matches!(self.kind, Kind::Partner { .. } | Kind::Staff { assigned: true, .. })
    }

    fn ws(&self) -> Option<Ws> {
        match &self.kind {
            Kind::Staff { ws, .. } => Some(*ws),
            Kind::Partner { .. } => Some(Ws::Main),
            Kind::Anonymous | Kind::Revoked => None,
        }
    }
}

/// The fixture tree: column name → parent column name (OTHER lives in the other workspace).
const TREE: [(&str, Option<&str>); 7] =
    [("D1", None), ("R1a", Some("D1")), ("R1b", Some("D1")), ("D2", None), ("R2a", Some("D2")), ("P3", None), ("OTHER", None)];

fn parent_of(column: &str) -> Option<&'static str> {
    TREE.iter().find(|(c, _)| *c == column).and_then(|(_, p)| *p)
}

fn ancestors_or_self(column: &str) -> Vec<&str> {
    let mut out = vec![column];
    let mut at = column;
    while let Some(parent) = parent_of(at) {
        out.push(parent);
        at = parent;
    }
    out
}

/// Columns of workspace-level objects every member of the workspace may read (programs, tiers):
/// for a partner they are neither its own nor another partner's.
const WORKSPACE_OBJECT_COLUMNS: &[&str] = &["PROGRAM", "TIER"];

fn is_partner_column(column: &str) -> bool {
    TREE.iter().any(|(c, _)| *c == column)
}

/// The relation of a cell's object owner to the caller, for reporting and for the rule checks.
fn relation(who: &Who, column: &str) -> &'static str {
    if column == "-" {
        return "none";
    }
    if column == "OWN" {
        return "own";
    }
    let object_ws = if column.starts_with("OTHER") { Ws::Other } else { Ws::Main };
    match &who.kind {
        Kind::Anonymous | Kind::Revoked => "any",
        Kind::Staff { ws, assigned, .. } => {
            if *ws != object_ws {
                "other_workspace"
            } else if object_ws == Ws::Other {
                "own_workspace"
            } else if *assigned && is_partner_column(column) {
                if ancestors_or_self(column).contains(&"D1") { "managed" } else { "unmanaged" }
            } else {
                "workspace"
            }
        }
        Kind::Partner { home, .. } => {
            if object_ws == Ws::Other {
                "other_workspace"
            } else if WORKSPACE_OBJECT_COLUMNS.contains(&column) {
                "workspace_object"
            } else if !is_partner_column(column) {
                "staff_object"
            } else if column == *home {
                "self"
            } else if ancestors_or_self(column).contains(home) {
                "descendant"
            } else if ancestors_or_self(home).contains(&column) {
                "ancestor"
            } else if parent_of(column).is_some() && parent_of(column) == parent_of(home) {
                "sibling"
            } else {
                "unrelated"
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Rules from API.md that the table itself must follow

#[test]
fn the_matrix_follows_the_visibility_and_order_of_checks_rules_of_api_md() {
    let matrix = load();
    let whos = offline_identities();
    let get_partner = matrix.route.iter().find(|r| r.method == "GET" && r.path == "/api/v1/partners/{id}").expect("GET partner row");
    let mut problems = Vec::new();
    let mut relations_seen = BTreeSet::new();
    for route in &matrix.route {
        for who in &whos {
            for (column, expected) in matrix.cells(route, who.name) {
                let Some(expected) = expected else { continue };
                let rel = relation(who, column);
                relations_seen.insert(rel);
                let cell = format!("{} / {} / {column} ({rel}) = {expected}", route.label(), who.name);
                // No valid credential: 401 everywhere, except signing in without one.
                if matches!(who.kind, Kind::Anonymous | Kind::Revoked) {
                    // Answering an invitation: the link's token is the credential.
                    let public = (route.path == "/api/v1/auth/login"
                        || route.path.starts_with("/api/v1/auth/passkey-login")
                        || route.path.starts_with("/api/v1/auth/password-reset")
                        || route.path.starts_with("/api/v1/public/")
                        || route.path.starts_with("/api/v1/invitations/{token}/"))
                        && matches!(who.kind, Kind::Anonymous);
                    if (expected == 401) == public {
                        problems.push(format!("{cell}: anonymous/revoked callers get 401 except on public routes"));
                    }
                    continue;
                }
                // What a person does for themselves (logging out, changing the password, their sessions
                // and sign-in history) needs a sign-in token: an API key is 401 there.
                if expected == 401
                    && !matches!(
                        route.path.as_str(),
                        "/api/v1/auth/logout"
                            | "/api/v1/auth/password"
                            | "/api/v1/auth/reauthenticate"
                            | "/api/v1/auth/sessions"
                            | "/api/v1/auth/sessions/{id}"
                            | "/api/v1/auth/sign-ins"
                            | "/api/v1/auth/totp"
                            | "/api/v1/auth/totp/confirm"
                            | "/api/v1/auth/passkeys"
                            | "/api/v1/auth/passkeys/registration-options"
                            | "/api/v1/auth/passkeys/{id}"
                            | "/api/v1/auth/reauthenticate/passkey-options"
                            | "/api/v1/auth/reauthenticate/passkey"
                    )
                {
                    problems.push(format!("{cell}: a valid credential is never 401"));
                }
                // Objects of another workspace, another person's or organisation's objects the caller
                // cannot see, and ancestors/siblings/unrelated partners: 404, never 403 or 2xx.
                if matches!(rel, "other_workspace" | "ancestor" | "sibling" | "unrelated" | "unmanaged" | "staff_object") && expected != 404
                {
                    problems.push(format!("{cell}: an object the caller may not see is 404"));
                }
                // 403 only for a visible object: for partner objects, the caller's GET of the same
                // partner is 200 (invisible → 404 comes before any role check).
                if expected == 403 && is_partner_column(column) {
                    let visible = matrix.cells(get_partner, who.name).find(|(c, _)| *c == column).and_then(|(_, v)| v);
                    if visible != Some(200) {
                        problems.push(format!("{cell}: 403 for a partner the caller cannot read (must be 404)"));
                    }
                }
                // 2xx on a partner object implies the partner is readable by the caller.
                if (200..300).contains(&expected) && is_partner_column(column) {
                    let visible = matrix.cells(get_partner, who.name).find(|(c, _)| *c == column).and_then(|(_, v)| v);
                    if visible != Some(200) {
                        problems.push(format!("{cell}: allowed on a partner the caller cannot read"));
                    }
                }
            }
        }
    }
    for wanted in ["self", "descendant", "ancestor", "sibling", "unrelated", "other_workspace"] {
        assert!(relations_seen.contains(wanted), "no cell covers the object owner relation {wanted}");
    }
    assert!(problems.is_empty(), "the matrix contradicts API.md:\n{}", problems.join("\n"));
}

/// The identities with their kinds but no credentials (enough for the table checks).
fn offline_identities() -> Vec<Who> {
    IDENTITIES.iter().map(|name| Who { name, credential: None, email: None, kind: kind_of(name, String::new()) }).collect()
}

fn kind_of(name: &str, user_id: String) -> Kind {
    let staff = |ws, role, assigned| Kind::Staff { ws, role, assigned, user_id: user_id.clone() };
    match name {
        "anonymous" => Kind::Anonymous,
        "revoked_key" => Kind::Revoked,
        "other_owner" => staff(Ws::Other, VendorRole::Owner, false),
        "owner" => staff(Ws::Main, VendorRole::Owner, false),
        "admin" => staff(Ws::Main, VendorRole::Admin, false),
        "channel_manager" => staff(Ws::Main, VendorRole::ChannelManager, false),
        "assigned_manager" => staff(Ws::Main, VendorRole::ChannelManager, true),
        "finance" => staff(Ws::Main, VendorRole::Finance, false),
        "viewer" => staff(Ws::Main, VendorRole::Viewer, false),
        "d1_admin" => Kind::Partner { home: "D1", admin: true },
        "d1_member" => Kind::Partner { home: "D1", admin: false },
        "r1a_admin" | "r1a_key" => Kind::Partner { home: "R1a", admin: true },
        "r1a_member" => Kind::Partner { home: "R1a", admin: false },
        "r1b_admin" => Kind::Partner { home: "R1b", admin: true },
        "d2_admin" => Kind::Partner { home: "D2", admin: true },
        "p3_admin" => Kind::Partner { home: "P3", admin: true },
        other => panic!("unknown identity {other}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Route coverage (T-A1b)

#[tokio::test]
async fn every_route_of_the_openapi_document_has_a_matrix_row_and_nothing_else_does() {
    let app = TestApp::spawn().await;
    let matrix = load();

    let document = app.send(Method::GET, "/api/openapi.json", None, None).await;

    assert_eq!(document.status, 200, "{}", document.text);
    let mut documented = BTreeSet::new();
    for (path, item) in document.body["paths"].as_object().expect("paths").iter() {
        for method in ["get", "post", "put", "patch", "delete", "head", "options", "trace"] {
            if item.get(method).is_some() {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    let in_matrix: BTreeSet<(String, String)> = matrix.route.iter().map(RouteRow::key).collect();
    let missing: Vec<_> = documented.difference(&in_matrix).collect();
    let stale: Vec<_> = in_matrix.difference(&documented).collect();
    println!(
        "FIGURE authz_routes routes={} in_matrix={} unannotated={} stale_rows={}",
        documented.len(),
        in_matrix.len(),
        missing.len(),
        stale.len()
    );
    assert!(missing.is_empty(), "routes without a row in authz_matrix.toml: {missing:?}");
    assert!(stale.is_empty(), "matrix rows for routes the server does not document: {stale:?}");
    assert!(documented.len() >= 20, "the OpenAPI document lists only {} routes", documented.len());
}

// ---------------------------------------------------------------------------------------------
// The world the matrix is replayed in

pub(crate) struct World {
    pub f: Fixture,
    /// A viewer of the main workspace who is none of the identities: owns the "another staff
    /// member's key" objects and is the account the login cells sign in as.
    bystander: Identity,
    pub whos: Vec<Who>,
    partners: BTreeMap<&'static str, PartnerId>,
    counter: AtomicUsize,
    /// The programs taking deal registrations (`fixture::deal_programs`).
    deal_programs: fixture::DealPrograms,
}

impl World {
    pub(crate) async fn build(app: &TestApp) -> World {
        let f = Fixture::build(app).await;
        let bystander =
            fixture::add_staff(app, &f.workspace_id, "bystander", "bystander@vendor.example", VendorRole::Viewer, PartnerScopeSetting::All)
                .await;
        let people: [(&'static str, &Identity); 14] = [
            ("other_owner", &f.other_owner),
            ("owner", &f.owner),
            ("admin", &f.admin),
            ("channel_manager", &f.channel_manager),
            ("assigned_manager", &f.assigned_manager),
            ("finance", &f.finance),
            ("viewer", &f.viewer),
            ("d1_admin", &f.d1_admin),
            ("d1_member", &f.d1_member),
            ("r1a_admin", &f.r1a_admin),
            ("r1a_member", &f.r1a_member),
            ("r1b_admin", &f.r1b_admin),
            ("d2_admin", &f.d2_admin),
            ("p3_admin", &f.p3_admin),
        ];
        let mut whos = vec![
            Who { name: "anonymous", credential: None, email: None, kind: Kind::Anonymous },
            Who { name: "revoked_key", credential: Some(f.revoked_key.clone()), email: None, kind: Kind::Revoked },
        ];
        for (name, identity) in people {
            whos.push(Who {
                name,
                credential: Some(identity.token.clone()),
                email: Some(identity.email.clone()),
                kind: kind_of(name, identity.user_id.clone()),
            });
        }
        whos.push(Who { name: "r1a_key", credential: Some(f.r1a_key.clone()), email: None, kind: kind_of("r1a_key", String::new()) });
        let order: Vec<&str> = whos.iter().map(|w| w.name).collect();
        assert_eq!(order, IDENTITIES, "identities in matrix order");
        let partners = BTreeMap::from([
            ("D1", f.d1.clone()),
            ("R1a", f.r1a.clone()),
            ("R1b", f.r1b.clone()),
            ("D2", f.d2.clone()),
            ("R2a", f.r2a.clone()),
            ("P3", f.p3.clone()),
            ("OTHER", f.other_partner.clone()),
        ]);
        let deal_programs = fixture::deal_programs(app, &f).await;
        World { f, bystander, whos, partners, counter: AtomicUsize::new(0), deal_programs }
    }

    fn next(&self) -> usize {
        self.counter.fetch_add(1, Ordering::SeqCst)
    }

    pub(crate) fn workspace(&self, ws: Ws) -> &WorkspaceId {
        match ws {
            Ws::Main => &self.f.workspace_id,
            Ws::Other => &self.f.other_workspace_id,
        }
    }

    pub(crate) fn partner(&self, column: &str) -> &PartnerId {
        self.partners.get(column).unwrap_or_else(|| panic!("no partner column {column}"))
    }

    fn partner_ws(column: &str) -> Ws {
        if column == "OTHER" { Ws::Other } else { Ws::Main }
    }

    /// The owner who sets up objects in a workspace.
    fn owner_token(&self, ws: Ws) -> &str {
        match ws {
            Ws::Main => &self.f.owner.token,
            Ws::Other => &self.f.other_owner.token,
        }
    }
}

/// Every list answer's ids, checked against what the caller may see (computed here from the rows).
struct Visible {
    /// (workspace, id, parent, manager)
    partners: Vec<(String, String, Option<String>, Option<String>)>,
}

impl Visible {
    async fn load(app: &TestApp) -> Self {
        let rows = app.query(sql!("SELECT workspace_id, id, parent_id, manager_user_id FROM partners")).await;
        let partners = rows
            .iter()
            .map(|r| {
                (
                    r.get::<String>("workspace_id").expect("ws"),
                    r.get::<String>("id").expect("id"),
                    r.get::<Option<String>>("parent_id").expect("parent"),
                    r.get::<Option<String>>("manager_user_id").expect("manager"),
                )
            })
            .collect();
        Self { partners }
    }

    fn parent(&self, ws: &str, id: &str) -> Option<&str> {
        self.partners.iter().find(|p| p.0 == ws && p.1 == id).and_then(|p| p.2.as_deref())
    }

    /// A partner is visible when one of its ancestors (or itself) is a root of the caller's view.
    fn partners_for(&self, world: &World, who: &Who) -> BTreeSet<String> {
        let Some(ws) = who.ws() else { return BTreeSet::new() };
        let ws_id = world.workspace(ws).to_string();
        let is_root = |id: &str, manager: Option<&str>| match &who.kind {
            Kind::Staff { assigned: false, .. } => true,
            Kind::Staff { assigned: true, user_id, .. } => manager == Some(user_id.as_str()),
            Kind::Partner { home, .. } => id == world.partner(home).as_str(),
            Kind::Anonymous | Kind::Revoked => false,
        };
        let mut out = BTreeSet::new();
        for (pws, id, _, _) in &self.partners {
            if *pws != ws_id {
                continue;
            }
            let mut at = Some(id.as_str());
            let mut hops = 0;
            while let Some(current) = at {
                let manager = self.partners.iter().find(|p| p.0 == ws_id && p.1 == current).and_then(|p| p.3.as_deref());
                if is_root(current, manager) {
                    out.insert(id.clone());
                    break;
                }
                at = self.parent(&ws_id, current);
                hops += 1;
                assert!(hops < 1000, "cycle in the partner tree at {id}");
            }
        }
        out
    }
}

// ---------------------------------------------------------------------------------------------
// Replaying the matrix

#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub requests: usize,
    pub unexpected_allow: usize,
    pub unexpected_deny: usize,
    /// A denial with another status than expected (e.g. 403 where the object is invisible).
    pub wrong_denial: usize,
    pub list_foreign_ids: usize,
    pub list_missing_ids: usize,
    pub problem_mismatch: usize,
    pub failures: Vec<String>,
    pub relations: BTreeMap<&'static str, usize>,
}

impl Tally {
    /// The outcome counts, `key=value` separated by spaces.
    pub(crate) fn counts(&self) -> String {
        format!(
            "requests={} unexpected_allow={} unexpected_deny={} wrong_denial={} list_foreign_ids={} list_missing_ids={} problem_mismatch={}",
            self.requests,
            self.unexpected_allow,
            self.unexpected_deny,
            self.wrong_denial,
            self.list_foreign_ids,
            self.list_missing_ids,
            self.problem_mismatch
        )
    }

    pub(crate) fn is_clean(&self) -> bool {
        self.unexpected_allow == 0
            && self.unexpected_deny == 0
            && self.wrong_denial == 0
            && self.list_foreign_ids == 0
            && self.list_missing_ids == 0
            && self.problem_mismatch == 0
    }
}

/// One prepared request of a cell.
struct Prepared {
    path: String,
    body: Option<Value>,
    credential: Option<String>,
    /// The object's id, when the route reads one object (checked against the answer).
    object_id: Option<String>,
    /// A body that is not JSON (a multipart upload): its content type and bytes.
    raw: Option<(String, Vec<u8>)>,
}

/// A multipart upload of a small PDF licence document, as a client sends it.
fn licence_upload(n: usize) -> (String, Vec<u8>) {
    let boundary = format!("matrix-boundary-{n}");
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nlicence\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"licence {n}.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4\n% matrix cell {n}\n\r\n--{boundary}--\r\n"
    );
    (format!("multipart/form-data; boundary={boundary}"), body.into_bytes())
}

/// A multipart upload of a workspace logo (a whole 1 × 1 PNG).
fn logo_upload(n: usize) -> (String, Vec<u8>) {
    let (content_type, body) = crate::profiles::multipart(&[], Some((&format!("logo {n}.png"), Some("image/png"), crate::profiles::PNG)));
    (content_type, body)
}

/// Sends a request whose body is not JSON.
async fn send_bytes(app: &TestApp, method: Method, path: &str, bearer: Option<&str>, content_type: &str, body: &[u8]) -> Reply {
    let mut request =
        app.client.request(method, format!("{}{path}", app.base_url)).header("content-type", content_type).body(body.to_vec());
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("request reaches the server");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap_or_default();
    Reply { status, body: serde_json::from_str(&text).unwrap_or(Value::Null), text, headers }
}

/// Every partner and both workspaces' staff have a single sign-on connection before an `/sso` cell,
/// so that reading, replacing and deleting one answer by who asks, not by what earlier cells left.
pub(crate) async fn ensure_sso_connections(app: &TestApp, world: &World, n: usize) {
    let mut owners: Vec<(WorkspaceId, Option<PartnerId>)> = ["D1", "R1a", "R1b", "D2", "R2a", "P3", "OTHER"]
        .iter()
        .map(|c| (world.workspace(World::partner_ws(c)).clone(), Some(world.partner(c).clone())))
        .collect();
    owners.extend([Ws::Main, Ws::Other].map(|ws| (world.workspace(ws).clone(), None)));
    for (i, (workspace_id, partner_id)) in owners.into_iter().enumerate() {
        app.execute(vec![sql!(
            "INSERT INTO sso_connections (id, workspace_id, partner_id, name, issuer, client_id, client_secret_sealed, default_role, enabled, created_at, updated_at)
             VALUES ($1, $2, $3, 'Matrix IdP', 'https://idp.example', 'matrix', 'sealed', 'member', $4, 0, 0) ON CONFLICT DO NOTHING",
            format!("sso_matrix_{n}_{i}"),
            workspace_id.as_str(),
            partner_id.as_ref().map(PartnerId::as_str),
            true
        )])
        .await
        .expect("a connection");
    }
}

fn created_id(reply: Reply, what: &str) -> String {
    assert_eq!(reply.status, 201, "setting up {what}: {}", reply.text);
    reply.body["id"].as_str().expect("id").to_owned()
}

async fn prepare(app: &TestApp, world: &World, route: &RouteRow, who: &Who, column: &str) -> Prepared {
    let n = world.next();
    let mut credential = who.credential.clone();
    // A tier of the enrollment's program, for the override recipe.
    let mut enrollment_tier: Option<String> = None;
    if route.path.ends_with("/sso") {
        ensure_sso_connections(app, world, n).await;
    }
    let (path, object_id) = match route.target.as_str() {
        "none" => (route.path.clone(), None),
        "partner" => {
            let id = world.partner(column).to_string();
            (route.path.replace("{id}", &id), Some(id))
        }
        "partner_user" => {
            let ws = World::partner_ws(column);
            let scope = Scope::system(world.workspace(ws).clone(), &TEST_FIXTURES);
            let partner = world.partner(column);
            let invitation =
                partner_users::invite(&app.state.ctx, &scope, partner, &format!("pu{n}@matrix.example"), None, PartnerRole::Member)
                    .await
                    .expect("fresh partner user");
            let user_id = accept_as_operator(&app.state.ctx, &invitation.token, None, PASSWORD).await.expect("accept");
            (route.path.replace("{id}", partner.as_str()).replace("{user_id}", user_id.as_str()), Some(user_id.to_string()))
        }
        "member" => {
            let ws = if column == "OTHER_STAFF" { Ws::Other } else { Ws::Main };
            let scope = Scope::system(world.workspace(ws).clone(), &TEST_FIXTURES);
            let invitation = members::add(&app.state.ctx, &scope, &format!("staff{n}@matrix.example"), None, VendorRole::Viewer, None)
                .await
                .expect("fresh staff member");
            let user_id = accept_as_operator(&app.state.ctx, &invitation.token, None, PASSWORD).await.expect("accept");
            (route.path.replace("{user_id}", user_id.as_str()), Some(user_id.to_string()))
        }
        "api_key" => {
            let id = match column {
                "OWN" => {
                    let token = who.credential.as_deref().expect("own key needs a credential");
                    created_id(app.post("/api/v1/api-keys", token, json!({"name": format!("own {n}")})).await, "own key")
                }
                "STAFF" => {
                    let reply = app.post("/api/v1/api-keys", &world.bystander.token, json!({"name": format!("bystander {n}")})).await;
                    created_id(reply, "another staff member's key")
                }
                partner_column => {
                    let ws = World::partner_ws(partner_column);
                    let partner = world.partner(partner_column);
                    let reply = app
                        .post(&format!("/api/v1/partners/{partner}/api-keys"), world.owner_token(ws), json!({"name": format!("pk {n}")}))
                        .await;
                    created_id(reply, "partner key")
                }
            };
            (route.path.replace("{id}", &id), Some(id))
        }
        "program" => {
            let ws = if column == "OTHER_PROGRAM" { Ws::Other } else { Ws::Main };
            let scope = Scope::system(world.workspace(ws).clone(), &TEST_FIXTURES);
            let input =
                trellis_programs::NewProgram { name: format!("Program {n}"), slug: format!("matrix-program-{n}"), ..Default::default() };
            let program = trellis_programs::programs::create(&app.state.ctx, &scope, input).await.expect("fresh program");
            (route.path.replace("{id}", program.id.as_str()), Some(program.id.to_string()))
        }
        "tier" => {
            let ws = if column == "OTHER_TIER" { Ws::Other } else { Ws::Main };
            let (program, tier) = fresh_program_with_tier(app, world, ws, n).await;
            (route.path.replace("{id}", &program).replace("{tier_id}", &tier), Some(tier))
        }
        "enrollment" => {
            let ws = World::partner_ws(column);
            let partner = world.partner(column);
            let (program, tier) = fresh_program_with_tier(app, world, ws, n).await;
            let input = trellis_programs::enrollments::NewEnrollment { program_id: program.parse().expect("program id"), tier_id: None };
            trellis_programs::enrollments::enroll(
                &app.state.ctx,
                &Scope::system(world.workspace(ws).clone(), &TEST_FIXTURES),
                partner,
                input,
            )
            .await
            .expect("fresh enrollment");
            enrollment_tier = Some(tier);
            (route.path.replace("{id}", partner.as_str()).replace("{program_id}", &program), None)
        }
        "partner_metric" => {
            let id = world.partner(column).to_string();
            (route.path.replace("{id}", &id).replace("{metric}", "customer_references"), None)
        }
        "public_program" | "application" | "applicant" | "onboarding_step" | "partner_step" | "partner_agreement" => {
            prepare_recruitment_target(app, world, route, column, n).await
        }
        "file" => {
            let scope = Scope::system(world.workspace(World::partner_ws(column)).clone(), &TEST_FIXTURES);
            let upload = trellis_records::files::Upload {
                purpose: trellis_records::files::FilePurpose::Licence,
                filename: format!("cell {n}.pdf"),
                declared_type: Some("application/pdf".into()),
                bytes: format!("%PDF-1.4\n% cell {n}\n").into_bytes(),
            };
            let file = trellis_records::files::store(&app.state.ctx, &scope, &app.data_dir, world.partner(column), upload)
                .await
                .expect("fresh file");
            // The answer is the file's bytes, not a JSON object with an id.
            (route.path.replace("{id}", file.id.as_str()), None)
        }
        "contract" => {
            let scope = Scope::system(world.workspace(World::partner_ws(column)).clone(), &TEST_FIXTURES);
            let input = trellis_records::contracts::NewContract {
                title: format!("Contract {n}"),
                starts_on: "2026-01-01".into(),
                ..Default::default()
            };
            let contract =
                trellis_records::contracts::create(&app.state.ctx, &scope, world.partner(column), input).await.expect("fresh contract");
            (route.path.replace("{id}", contract.id.as_str()), Some(contract.id.to_string()))
        }
        "licence" => {
            let scope = Scope::system(world.workspace(World::partner_ws(column)).clone(), &TEST_FIXTURES);
            let input = trellis_records::licences::NewLicence {
                kind: "insurance broker".into(),
                number: format!("LIC-{n}"),
                jurisdiction: "DE".into(),
                valid_from: "2026-01-01".into(),
                valid_until: "2030-12-31".into(),
                file_id: None,
            };
            let licence =
                trellis_records::licences::create(&app.state.ctx, &scope, world.partner(column), input).await.expect("fresh licence");
            (route.path.replace("{id}", licence.id.as_str()), Some(licence.id.to_string()))
        }
        "change_request" => {
            let scope = Scope::system(world.workspace(World::partner_ws(column)).clone(), &TEST_FIXTURES);
            let changes =
                trellis_records::profile_changes::ProposedChanges { legal_name: Some(format!("Legal {n} GmbH")), territories: None };
            let request = trellis_records::profile_changes::request(&app.state.ctx, &scope, world.partner(column), changes)
                .await
                .expect("fresh change request")
                .expect("a change differs from the profile");
            (route.path.replace("{id}", request.id.as_str()), Some(request.id.to_string()))
        }
        "invitation" => {
            let (ws, offer_partner) = match column {
                "STAFF" => (Ws::Main, None),
                "OTHER_STAFF" => (Ws::Other, None),
                partner_column => (World::partner_ws(partner_column), Some(world.partner(partner_column))),
            };
            let scope = Scope::system(world.workspace(ws).clone(), &TEST_FIXTURES);
            let email = format!("cancel{n}@matrix.example");
            let issued = match offer_partner {
                None => members::add(&app.state.ctx, &scope, &email, None, VendorRole::Viewer, None).await,
                Some(partner) => partner_users::invite(&app.state.ctx, &scope, partner, &email, None, PartnerRole::Member).await,
            }
            .expect("fresh invitation");
            (route.path.replace("{id}", issued.invitation.id.as_str()), Some(issued.invitation.id.to_string()))
        }
        "invitation_token" => {
            let scope = Scope::system(world.f.workspace_id.clone(), &TEST_FIXTURES);
            let issued = members::add(&app.state.ctx, &scope, &format!("answer{n}@matrix.example"), None, VendorRole::Viewer, None)
                .await
                .expect("fresh invitation");
            (route.path.replace("{token}", &issued.token), None)
        }
        "public_workspace" => (format!("{}?workspace={}", route.path, world.f.workspace_id), None),
        // Disputes and extension requests make their own deals (disputes.rs).
        "rejected_deal" | "approved_deal" | "dispute" | "extension_request" => {
            crate::disputes::prepare_target(app, world, &route.target, &route.path, column, n).await
        }
        "deal" | "partner_deal" => {
            let id = fresh_deal(app, world, route, column, n).await;
            (route.path.replace("{id}", &id), Some(id))
        }
        "plan" | "conversion" | "invoice" | "commission" | "held_commission" | "payout_run" | "approved_run" | "statement" => {
            prepare_money_target(app, world, route, column, n).await
        }
        "payout_method" => {
            let scope = Scope::system(world.workspace(World::partner_ws(column)).clone(), &TEST_FIXTURES);
            let partner = world.partner(column);
            let method = trellis_incentives::payout_methods::set(&app.state.ctx, &scope, partner, &crate::payout_methods::matrix_method())
                .await
                .expect("a payout method");
            (route.path.replace("{id}", partner.as_str()), Some(method.id.to_string()))
        }
        "referral_link" => {
            crate::referral_links::allow_example_com(app).await;
            let scope = Scope::system(world.workspace(World::partner_ws(column)).clone(), &TEST_FIXTURES);
            let input = trellis_tracking::links::NewLink {
                destination_url: format!("https://www.example.com/cell-{n}"),
                partner_id: Some(world.partner(column).to_string()),
                ..Default::default()
            };
            let link = trellis_tracking::links::create(&app.state.ctx, &scope, &input).await.expect("a referral link");
            // The figures and the QR code answer about the link without carrying its id.
            let answers_the_link = !(route.path.ends_with("/stats") || route.path.ends_with("/qr.svg"));
            (route.path.replace("{id}", link.id.as_str()), answers_the_link.then(|| link.id.to_string()))
        }
        "lead_form" => {
            let scope = Scope::system(world.f.workspace_id.clone(), &TEST_FIXTURES);
            let input = trellis_programs::NewProgram {
                name: format!("Lead form {n}"),
                slug: format!("matrix-leads-{n}"),
                deal_registration: Some(true),
                ..Default::default()
            };
            let program = trellis_programs::programs::create(&app.state.ctx, &scope, input).await.expect("fresh program");
            let open = trellis_leads::settings::SettingsPatch { public_form: Some(true), ..Default::default() };
            trellis_leads::settings::update(&app.state.ctx, &scope, &program.id, open).await.expect("open the lead form");
            (route.path.replace("{slug}", &program.slug), None)
        }
        "lead" | "offered_lead" | "accepted_lead" | "vendor_lead" => {
            let id = fresh_lead(app, world, &route.target, column, n).await;
            (route.path.replace("{id}", &id), Some(id))
        }
        other => panic!("unknown target {other}"),
    };
    let body = match (route.method.as_str(), route.path.as_str()) {
        ("POST", "/api/v1/auth/login") => Some(json!({"email": world.bystander.email, "password": PASSWORD})),
        // The password set to what it is: the identity keeps signing in with it.
        ("POST", "/api/v1/auth/password") => Some(json!({"current_password": PASSWORD, "new_password": PASSWORD})),
        ("POST", "/api/v1/auth/reauthenticate") => Some(json!({"password": PASSWORD})),
        ("POST", "/api/v1/auth/totp") => None,
        ("POST", "/api/v1/auth/totp/confirm") => Some(json!({"code": "abcdef"})),
        ("DELETE", "/api/v1/auth/totp") => Some(json!({"code": "123456"})),
        // Passkeys: beginning needs nothing; an empty answer is no answer.
        ("GET" | "DELETE", "/api/v1/auth/passkeys" | "/api/v1/auth/passkeys/{id}") => None,
        (
            "POST",
            "/api/v1/auth/passkeys/registration-options"
            | "/api/v1/auth/reauthenticate/passkey-options"
            | "/api/v1/auth/passkey-login/options",
        ) => None,
        ("POST", "/api/v1/auth/passkeys" | "/api/v1/auth/reauthenticate/passkey" | "/api/v1/auth/passkey-login") => Some(json!({})),
        ("POST", "/api/v1/auth/password-reset") => Some(json!({"email": format!("nobody{n}@matrix.example")})),
        ("POST", "/api/v1/auth/password-reset/complete") => {
            Some(json!({"token": format!("prt_nothing{n}"), "new_password": "a long enough passphrase"}))
        }
        ("POST", "/api/v1/auth/logout") => {
            // Logging out ends the token used: sign the person in afresh so the identity's own
            // token keeps working for the other cells.
            if let Some(email) = &who.email {
                credential = Some(app.login(email, PASSWORD).await);
            }
            None
        }
        ("POST", "/api/v1/api-keys") => Some(json!({"name": format!("matrix {n}")})),
        ("POST", "/api/v1/members") => Some(json!({"email": format!("new{n}@matrix.example"), "role": "viewer"})),
        ("PATCH", "/api/v1/members/{user_id}") => Some(json!({"role": "finance"})),
        // A new account needs a password; a signed-in person accepts with an empty body.
        ("POST", "/api/v1/invitations/{token}/accept") => {
            Some(if credential.is_some() { json!({}) } else { json!({"password": PASSWORD}) })
        }
        ("POST", "/api/v1/invitations/{token}/decline") => None,
        ("POST", "/api/v1/partners") => {
            Some(json!({"name": format!("Matrix {n}"), "contact_email": format!("p{n}@matrix.example"), "types": ["reseller"]}))
        }
        ("PATCH", "/api/v1/partners/{id}") => Some(json!({"website": format!("https://cell{n}.example")})),
        ("POST", "/api/v1/partners/{id}/api-keys") => Some(json!({"name": format!("matrix {n}")})),
        ("POST", "/api/v1/partners/{id}/scim-tokens") => Some(json!({"name": format!("matrix {n}")})),
        ("PUT", "/api/v1/partners/{id}/sso") | ("PUT", "/api/v1/workspace/sso") => {
            Some(json!({"name": format!("Matrix IdP {n}"), "issuer": "https://idp.example", "client_id": "matrix"}))
        }
        ("POST", "/api/v1/partners/{id}/users") => Some(json!({"email": format!("invitee{n}@matrix.example"), "role": "member"})),
        ("PATCH", "/api/v1/partners/{id}/users/{user_id}") => Some(json!({"role": "sales"})),
        ("PATCH", "/api/v1/workspace") => Some(json!({"allowed_redirect_domains": ["example.com"]})),
        ("POST", "/api/v1/public/programs/{slug}/leads") => Some(json!({
            "company_name": format!("Prospect {n}"), "contact_name": "Pat Prospect",
            "contact_email": format!("pat{n}@prospect{n}.example"), "country": "DE"
        })),
        ("POST", "/api/v1/leads") => Some(json!({"company_name": format!("Matrix lead {n}"), "country": "DE"})),
        ("POST", "/api/v1/leads/{id}/offer" | "/api/v1/leads/{id}/accept") => None,
        ("POST", "/api/v1/leads/{id}/convert") => Some(json!({})),
        // A reseller of the column's partner: D1's R1a, D2's R2a; a partner without resellers
        // names itself (refused).
        ("POST", "/api/v1/leads/{id}/pass-on") => Some(json!({"partner_id": match column {
            "D1" => world.partner("R1a").to_string(),
            "D2" => world.partner("R2a").to_string(),
            other => world.partner(other).to_string(),
        }})),
        ("POST", "/api/v1/leads/{id}/decline" | "/api/v1/leads/{id}/return" | "/api/v1/leads/{id}/close") => {
            Some(json!({"reason": format!("matrix cell {n}")}))
        }
        ("PATCH", "/api/v1/programs/{id}/lead-settings") => Some(json!({"sla_hours": 24})),
        ("GET", "/api/v1/partners/{id}/lead-capacity") => None,
        // A limit above what the matrix offers any partner: the engine's offers still find one.
        ("PUT", "/api/v1/partners/{id}/lead-capacity") => Some(json!({"capacity": 10000})),
        ("POST", "/api/v1/programs") => Some(json!({"name": format!("Matrix program {n}"), "slug": format!("matrix-new-{n}")})),
        ("PATCH", "/api/v1/programs/{id}") => Some(json!({"description": format!("changed by cell {n}")})),
        ("POST", "/api/v1/public/programs/{slug}/applications") => Some(json!({
            "company_name": format!("Applicant {n}"), "contact_name": "Ada Applicant",
            "contact_email": format!("apply{n}@applicant{n}.example"), "types": ["reseller"]
        })),
        ("POST", "/api/v1/partners/{id}/approve")
        | ("POST", "/api/v1/partners/{id}/onboarding/{step_id}/complete")
        | ("POST", "/api/v1/partners/{id}/agreements/{agreement_id}/accept") => None,
        ("POST", "/api/v1/partners/{id}/reject") => Some(json!({"reason": format!("rejected by cell {n}")})),
        ("POST", "/api/v1/deals/{id}/disputes") => Some(json!({"reason": format!("disputed by cell {n}")})),
        ("POST", "/api/v1/disputes/{id}/resolve") => Some(json!({"outcome": "upheld", "note": format!("upheld by cell {n}")})),
        ("POST", "/api/v1/deals/{id}/extension-requests") => Some(json!({"reason": format!("asked by cell {n}"), "days": 30})),
        ("POST", "/api/v1/extension-requests/{id}/approve") | ("POST", "/api/v1/extension-requests/{id}/deny") => {
            Some(json!({"note": format!("decided by cell {n}")}))
        }
        ("POST", "/api/v1/programs/{id}/onboarding-steps") => Some(json!({"kind": "custom", "title": format!("Step {n}")})),
        ("PATCH", "/api/v1/programs/{id}/onboarding-steps/{step_id}") => Some(json!({"title": format!("Renamed by cell {n}")})),
        ("POST", "/api/v1/programs/{id}/agreements") => Some(json!({"title": format!("Agreement {n}"), "body": "The terms."})),
        ("POST", "/api/v1/programs/{id}/tiers") => Some(json!({"name": format!("Tier {n}"), "rank": 500,
            "requirements": {"all": [{"metric": "active_users", "op": ">=", "value": 1}]}, "benefits": {"text": "matrix"}})),
        ("PATCH", "/api/v1/programs/{id}/tiers/{tier_id}") => Some(json!({"benefits": {"text": format!("changed by cell {n}")}})),
        ("POST", "/api/v1/programs/{id}/evaluate-tiers") | ("POST", "/api/v1/partners/{id}/evaluate-tiers") => None,
        ("POST", "/api/v1/partners/{id}/enrollments") => {
            let (program, _) = fresh_program_with_tier(app, world, World::partner_ws(column), n).await;
            Some(json!({"program_id": program}))
        }
        ("PUT", "/api/v1/partners/{id}/enrollments/{program_id}/tier") => {
            Some(json!({"tier_id": enrollment_tier.clone().expect("the enrollment's tier"), "reason": format!("matrix cell {n}")}))
        }
        ("PUT", "/api/v1/partners/{id}/metrics/{metric}") => Some(json!({"value": 2, "note": format!("cell {n}")})),
        ("POST", "/api/v1/partners/{id}/files") | ("PUT", "/api/v1/workspace/logo") => None,
        ("PATCH", "/api/v1/partners/{id}/profile") => Some(json!({"description": format!("Described by cell {n}")})),
        ("POST", "/api/v1/partners/{id}/contracts") => Some(json!({"title": format!("Contract of cell {n}"), "starts_on": "2026-01-01"})),
        ("PATCH", "/api/v1/contracts/{id}") => Some(json!({"title": format!("Renamed by cell {n}")})),
        ("POST", "/api/v1/partners/{id}/licences") => Some(json!({
            "kind": "insurance broker", "number": format!("CELL-{n}"), "jurisdiction": "DE",
            "valid_from": "2026-01-01", "valid_until": "2030-12-31"
        })),
        ("PATCH", "/api/v1/licences/{id}") => Some(json!({"number": format!("CELL-{n}-B")})),
        ("POST", "/api/v1/profile-change-requests/{id}/approve") => None,
        ("POST", "/api/v1/profile-change-requests/{id}/reject") => Some(json!({"reason": format!("Rejected by cell {n}")})),
        ("POST", "/api/v1/leads/import") => {
            Some(json!({"csv": format!("external_id,company,country\nMATRIX-{n},Matrix lead {n} GmbH,Germany\n")}))
        }
        ("POST", "/api/v1/deals/import") => {
            Some(json!({"csv": format!("external_id,customer_name,amount\nmatrix-{n},{},100\n", cell_customer(n))}))
        }
        ("POST", "/api/v1/deals") => {
            let amount = json!({"amount_minor": 1000 + n});
            Some(match &who.kind {
                Kind::Partner { .. } => json!({"customer_name": cell_customer(n), "amount": amount,
                    "program_id": world.deal_programs.main.to_string()}),
                _ => json!({"customer_name": cell_customer(n), "amount": amount, "source": "direct"}),
            })
        }
        ("PATCH", "/api/v1/deals/{id}") => Some(json!({"stage": "proposal", "amount": {"amount_minor": 5000 + n}})),
        ("POST", "/api/v1/deals/{id}/approve") => Some(json!({"protected_days": 30})),
        ("POST", "/api/v1/deals/{id}/reject") | ("POST", "/api/v1/deals/{id}/request-info") => {
            Some(json!({"reason": format!("Decided by cell {n}")}))
        }
        ("POST", "/api/v1/deals/{id}/resubmit") | ("POST", "/api/v1/deals/{id}/won") => None,
        ("POST", "/api/v1/deals/{id}/lost") => Some(json!({"reason": format!("Lost in cell {n}")})),
        ("POST", "/api/v1/deals/{id}/partners") => {
            // A fresh partner under the deal's partner, so that whoever sees the deal sees it too.
            let ws = World::partner_ws(column);
            let reply = app
                .post("/api/v1/partners", world.owner_token(ws), json!({"name": format!("Credited {n}"),
                    "contact_email": format!("credited{n}@matrix.example"), "types": ["referral"], "parent_id": world.partner(column).to_string()}))
                .await;
            Some(json!({"partner_id": created_id(reply, "a partner to credit"), "role": "influence", "credit_bps": 2500}))
        }
        ("PATCH", "/api/v1/programs/{id}/conflict-rules") => Some(json!({"race_window_minutes": 15})),
        ("PATCH", "/api/v1/programs/{id}/tracking") => Some(json!({"attribution_window_days": 30 + n % 60})),
        ("PUT", "/api/v1/programs/{id}/commission-plan") => Some(json!({"sale": {"percent_bps": 1000 + n}, "hold_days": 30})),
        ("POST", "/api/v1/referral-links") => {
            crate::referral_links::allow_example_com(app).await;
            let destination = format!("https://www.example.com/cell-{n}");
            Some(match &who.kind {
                Kind::Partner { .. } => json!({"destination_url": destination}),
                // A partner every staff member of the workspace sees (the assigned manager manages D1).
                _ => {
                    let partner = if who.ws() == Some(Ws::Other) { world.partner("OTHER") } else { world.partner("D1") };
                    json!({"destination_url": destination, "partner_id": partner.to_string()})
                }
            })
        }
        ("POST", "/api/v1/conversions") => {
            Some(json!({"kind": "lead", "invoice_id": format!("matrix-lead-{n}"), "customer_external_id": format!("matrix-customer-{n}")}))
        }
        ("POST", "/api/v1/commissions") => {
            let partner = if who.ws() == Some(Ws::Other) { world.partner("OTHER") } else { world.partner("P3") };
            Some(
                json!({"partner_id": partner.to_string(), "amount": {"amount_minor": 1000 + n, "currency": "EUR"}, "kind": "bonus", "reason": format!("cell {n}")}),
            )
        }
        ("POST", "/api/v1/commissions/{id}/hold") => Some(json!({"reason": "fraud_review"})),
        ("POST", "/api/v1/commissions/{id}/disputes") => Some(json!({"reason": format!("Disputed in cell {n}")})),
        ("POST", "/api/v1/commissions/{id}/release") | ("POST", "/api/v1/invoices/{invoice_id}/paid") => None,
        ("POST", "/api/v1/commissions/{id}/reject") => Some(json!({"note": format!("Rejected in cell {n}")})),
        ("POST", "/api/v1/payout-runs") => Some(json!({"currency": "EUR"})),
        ("POST", "/api/v1/payout-runs/{id}/approve")
        | ("POST", "/api/v1/payout-runs/{id}/mark-paid")
        | ("POST", "/api/v1/payout-runs/{id}/cancel") => None,
        // The details the target was set up with: an allowed PUT changes nothing.
        ("PUT", "/api/v1/partners/{id}/payout-method") => Some(crate::payout_methods::matrix_body()),
        ("POST", "/api/v1/referral-links/{id}/disable") | ("POST", "/api/v1/referral-links/{id}/enable") => None,
        ("GET", _) | ("DELETE", _) => None,
        _ => panic!("no request recipe for {} — add one here when adding the route to the matrix", route.label()),
    };
    let raw = match (route.method.as_str(), route.path.as_str()) {
        ("POST", "/api/v1/partners/{id}/files") => Some(licence_upload(n)),
        ("PUT", "/api/v1/workspace/logo") => Some(logo_upload(n)),
        _ => None,
    };
    let path = if route.list { format!("{path}{}limit=500", if path.contains('?') { '&' } else { '?' }) } else { path };
    let object_id = if route.method == "GET" && !route.list { object_id } else { None };
    Prepared { path, body, credential, object_id, raw }
}

/// A customer name of its own for cell `n`: one made-up word (six letters spread by a
/// multiplicative hash), so that the deals of different cells never look alike to the conflict
/// check. Names like "Matrix deal 12" and "Matrix deal 13" did: every registration then conflicted
/// with every earlier one, and the replay grew with the square of its cells.
pub(crate) fn cell_customer(n: usize) -> String {
    let mut h = (n as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut word = String::with_capacity(6);
    for i in 0..6 {
        word.push(char::from(b'a' + (h % 26) as u8));
        h /= 26;
        if i == 0 {
            word = word.to_uppercase();
        }
    }
    word
}

/// A fresh deal for a cell: registered by staff for the column's partner (in its deal program), or
/// a direct opportunity (DIRECT); in the status the route acts on (needs_info for resubmit,
/// approved for won and lost).
async fn fresh_deal(app: &TestApp, world: &World, route: &RouteRow, column: &str, n: usize) -> String {
    let ws = World::partner_ws(column);
    let token = world.owner_token(ws);
    let mut body = json!({"customer_name": cell_customer(n), "amount": {"amount_minor": n}});
    if column == "DIRECT" {
        body["source"] = json!("direct");
    } else {
        body["partner_id"] = json!(world.partner(column).to_string());
        let program = if ws == Ws::Other { &world.deal_programs.other } else { &world.deal_programs.main };
        body["program_id"] = json!(program.to_string());
    }
    let id = created_id(app.post("/api/v1/deals", token, body).await, "a deal");
    let deal = id.as_str();
    let step = |action: &'static str, body: Value| async move {
        let reply = app.post(&format!("/api/v1/deals/{deal}/{action}"), token, body).await;
        assert_eq!(reply.status, 200, "setting up a deal ({action}): {}", reply.text);
    };
    if column != "DIRECT" {
        match route.path.rsplit('/').next() {
            Some("resubmit") => step("request-info", json!({"reason": "Tell us more"})).await,
            Some("won" | "lost") => step("approve", json!({})).await,
            _ => {}
        }
    }
    id
}

/// A fresh lead of the column's workspace, in its deal program: with the vendor (VENDOR,
/// OTHER_VENDOR; `lead` targets' VENDOR column), or offered to the column's partner (by hand, as
/// staff would) and, for `accepted_lead`, accepted by it. The programs hold more open leads per
/// partner than the matrix makes, so the engine always finds a candidate.
async fn fresh_lead(app: &TestApp, world: &World, target: &str, column: &str, n: usize) -> String {
    let ws = match column {
        "VENDOR" => Ws::Main,
        "OTHER_VENDOR" => Ws::Other,
        partner_column => World::partner_ws(partner_column),
    };
    let program = if ws == Ws::Other { &world.deal_programs.other } else { &world.deal_programs.main };
    let workspace = world.workspace(ws).clone();
    app.execute(vec![sql!(
        "INSERT INTO lead_settings (workspace_id, program_id, capacity, updated_at) VALUES ($1, $2, 10000, 0)
         ON CONFLICT (workspace_id, program_id) DO NOTHING",
        &workspace,
        program
    )])
    .await
    .expect("lead settings");
    let scope = Scope::system(workspace, &TEST_FIXTURES);
    let input = trellis_leads::leads::NewLead {
        company_name: format!("Lead {n} GmbH"),
        country: "DE".into(),
        program_id: Some(program.clone()),
        ..Default::default()
    };
    let lead = trellis_leads::leads::create(&app.state.ctx, &scope, input).await.expect("fresh lead");
    if matches!(column, "VENDOR" | "OTHER_VENDOR") || target == "vendor_lead" {
        return lead.id.to_string();
    }
    trellis_leads::routing::offer(&app.state.ctx, &scope, &lead.id, Some(world.partner(column)))
        .await
        .expect("offered to the column's partner");
    if target == "accepted_lead" {
        app.execute(vec![
            sql!("UPDATE leads SET status = 'accepted', offer_expires_at = NULL WHERE id = $1", &lead.id),
            sql!("UPDATE lead_offers SET outcome = 'accepted', answered_at = 0 WHERE lead_id = $1", &lead.id),
        ])
        .await
        .expect("accepted");
    }
    lead.id.to_string()
}

/// A fresh program of workspace `ws` with one tier (rank 0, no requirements): (program, tier).
async fn fresh_program_with_tier(app: &TestApp, world: &World, ws: Ws, n: usize) -> (String, String) {
    let scope = Scope::system(world.workspace(ws).clone(), &TEST_FIXTURES);
    let input = trellis_programs::NewProgram { name: format!("Tiered {n}"), slug: format!("matrix-tiered-{n}"), ..Default::default() };
    let program = trellis_programs::programs::create(&app.state.ctx, &scope, input).await.expect("fresh program");
    let tier = trellis_programs::tiers::NewTier { name: format!("Entry {n}"), rank: 0, ..Default::default() };
    let tier = trellis_programs::tiers::create(&app.state.ctx, &scope, &program.id, tier).await.expect("fresh tier");
    (program.id.to_string(), tier.id.to_string())
}

fn ids_of(reply: &Reply, field: &str) -> Vec<String> {
    reply.body["data"].as_array().map(|rows| rows.iter().filter_map(|r| r[field].as_str().map(str::to_owned)).collect()).unwrap_or_default()
}

async fn strings(app: &TestApp, sql: trellis_db::Sql, column: &str) -> BTreeSet<String> {
    app.query(sql).await.iter().map(|r| r.get::<String>(column).expect("column")).collect()
}

/// Checks a list answer: every id must belong to the caller's visible set; for partners the list
/// must also be complete. Returns (foreign, missing).
async fn check_list(app: &TestApp, world: &World, route: &RouteRow, who: &Who, column: &str, reply: &Reply) -> (Vec<String>, Vec<String>) {
    if route.path == "/api/v1/public/partners" {
        // Public: exactly the active partners of the workspace that opted in to the locator.
        let listed = strings(
            app,
            sql!(
                "SELECT p.id FROM partners p JOIN partner_profiles pp ON pp.workspace_id = p.workspace_id AND pp.partner_id = p.id
                 WHERE p.workspace_id = $1 AND p.status = 'active' AND pp.locator_opt_in = $2",
                world.f.workspace_id.to_string(),
                true
            ),
            "id",
        )
        .await;
        let got: BTreeSet<String> = ids_of(reply, "id").into_iter().collect();
        return (got.difference(&listed).cloned().collect(), listed.difference(&got).cloned().collect());
    }
    let Some(ws) = who.ws() else { return (vec!["<list answered without a caller>".into()], vec![]) };
    let ws_id = world.workspace(ws).to_string();
    match route.path.as_str() {
        "/api/v1/partners" => {
            let visible = Visible::load(app).await.partners_for(world, who);
            let got: BTreeSet<String> = ids_of(reply, "id").into_iter().collect();
            (got.difference(&visible).cloned().collect(), visible.difference(&got).cloned().collect())
        }
        "/api/v1/api-keys" => {
            let rows = app.query(sql!("SELECT workspace_id, id, user_id, partner_id FROM api_keys WHERE workspace_id = $1", ws_id)).await;
            let visible: BTreeSet<String> = rows
                .iter()
                .filter(|r| match &who.kind {
                    Kind::Staff { role, .. } if role.is_workspace_admin() => true,
                    Kind::Staff { user_id, .. } => r.get::<Option<String>>("user_id").expect("user").as_deref() == Some(user_id.as_str()),
                    // Partner admins see their organisation's keys; members may not list keys at all.
                    Kind::Partner { home, admin: true } => {
                        r.get::<Option<String>>("partner_id").expect("partner").as_deref() == Some(world.partner(home).as_str())
                    }
                    _ => false,
                })
                .map(|r| r.get::<String>("id").expect("id"))
                .collect();
            (ids_of(reply, "id").into_iter().filter(|id| !visible.contains(id)).collect(), vec![])
        }
        "/api/v1/members" => {
            let visible = strings(app, sql!("SELECT user_id FROM members WHERE workspace_id = $1", ws_id), "user_id").await;
            (ids_of(reply, "user_id").into_iter().filter(|id| !visible.contains(id)).collect(), vec![])
        }
        "/api/v1/invitations" => {
            let visible = strings(app, sql!("SELECT id FROM invitations WHERE workspace_id = $1 AND kind = 'staff'", ws_id), "id").await;
            (ids_of(reply, "invitation_id").into_iter().filter(|id| !visible.contains(id)).collect(), vec![])
        }
        "/api/v1/partners/{id}/invitations" => {
            let partner = world.partner(column).to_string();
            let visible =
                strings(app, sql!("SELECT id FROM invitations WHERE workspace_id = $1 AND partner_id = $2", ws_id, partner), "id").await;
            (ids_of(reply, "invitation_id").into_iter().filter(|id| !visible.contains(id)).collect(), vec![])
        }
        "/api/v1/partners/{id}/users" => {
            let partner = world.partner(column).to_string();
            let visible = strings(
                app,
                sql!("SELECT user_id FROM partner_users WHERE workspace_id = $1 AND partner_id = $2", ws_id, partner),
                "user_id",
            )
            .await;
            let wrong_partner =
                reply.body["data"].as_array().into_iter().flatten().filter(|u| u["partner_id"].as_str() != Some(partner.as_str())).count();
            let mut foreign: Vec<String> = ids_of(reply, "user_id").into_iter().filter(|id| !visible.contains(id)).collect();
            foreign.extend((0..wrong_partner).map(|_| "<user of another partner>".to_owned()));
            (foreign, vec![])
        }
        "/api/v1/programs" => {
            let visible = strings(app, sql!("SELECT id FROM programs WHERE workspace_id = $1", ws_id), "id").await;
            (ids_of(reply, "id").into_iter().filter(|id| !visible.contains(id)).collect(), vec![])
        }
        "/api/v1/applications" => {
            // Applications of the caller's workspace whose partner the caller sees.
            let visible_partners = Visible::load(app).await.partners_for(world, who);
            let rows = app.query(sql!("SELECT id, partner_id FROM applications WHERE workspace_id = $1", ws_id)).await;
            let visible: BTreeSet<String> = rows
                .iter()
                .filter(|r| visible_partners.contains(&r.get::<String>("partner_id").expect("partner")))
                .map(|r| r.get::<String>("id").expect("id"))
                .collect();
            (ids_of(reply, "id").into_iter().filter(|id| !visible.contains(id)).collect(), vec![])
        }
        "/api/v1/programs/{id}/onboarding-steps" => {
            let visible = strings(app, sql!("SELECT id FROM onboarding_steps WHERE workspace_id = $1", ws_id), "id").await;
            (ids_of(reply, "id").into_iter().filter(|id| !visible.contains(id)).collect(), vec![])
        }
        "/api/v1/programs/{id}/agreements" => {
            let visible = strings(app, sql!("SELECT id FROM agreements WHERE workspace_id = $1", ws_id), "id").await;
            (ids_of(reply, "id").into_iter().filter(|id| !visible.contains(id)).collect(), vec![])
        }
        "/api/v1/audit-events" => {
            let visible = strings(app, sql!("SELECT id FROM audit_events WHERE workspace_id = $1", ws_id), "id").await;
            (ids_of(reply, "id").into_iter().filter(|id| !visible.contains(id)).collect(), vec![])
        }
        "/api/v1/programs/{id}/tiers" => {
            let visible = strings(app, sql!("SELECT id FROM tiers WHERE workspace_id = $1", ws_id), "id").await;
            (ids_of(reply, "id").into_iter().filter(|id| !visible.contains(id)).collect(), vec![])
        }
        "/api/v1/metrics" => {
            let known: BTreeSet<String> = trellis_directory::metric_registry::Registry::of(&app.state.ctx)
                .expect("registry")
                .all()
                .iter()
                .map(|m| m.name.to_owned())
                .collect();
            (ids_of(reply, "name").into_iter().filter(|name| !known.contains(name)).collect(), vec![])
        }
        "/api/v1/partners/{id}/enrollments" | "/api/v1/partners/{id}/tier-history" | "/api/v1/partners/{id}/metrics" => {
            // Every row is about the partner in the path, in the caller's workspace.
            let partner = world.partner(column).to_string();
            let programs = strings(app, sql!("SELECT id FROM programs WHERE workspace_id = $1", ws_id), "id").await;
            let rows = reply.body["data"].as_array().cloned().unwrap_or_default();
            let foreign = rows
                .iter()
                .filter(|row| {
                    let other_partner = row.get("partner_id").is_some_and(|p| p.as_str() != Some(partner.as_str()));
                    let other_program = row["program_id"].as_str().is_some_and(|p| !programs.contains(p));
                    other_partner || other_program
                })
                .map(Value::to_string)
                .collect();
            (foreign, vec![])
        }
        "/api/v1/emails" => {
            let visible = strings(app, sql!("SELECT id FROM emails WHERE workspace_id = $1", ws_id), "id").await;
            (ids_of(reply, "id").into_iter().filter(|id| !visible.contains(id)).collect(), vec![])
        }
        "/api/v1/partners/{id}/contracts" | "/api/v1/partners/{id}/licences" => {
            let partner = world.partner(column).to_string();
            let of_partner = if route.path.ends_with("/contracts") {
                strings(app, sql!("SELECT id FROM contracts WHERE workspace_id = $1 AND partner_id = $2", ws_id, partner), "id").await
            } else {
                strings(app, sql!("SELECT id FROM licences WHERE workspace_id = $1 AND partner_id = $2", ws_id, partner), "id").await
            };
            let got: BTreeSet<String> = ids_of(reply, "id").into_iter().collect();
            (got.difference(&of_partner).cloned().collect(), of_partner.difference(&got).cloned().collect())
        }
        "/api/v1/disputes" | "/api/v1/extension-requests" => {
            let visible = Visible::load(app).await.partners_for(world, who);
            let rows = if route.path == "/api/v1/disputes" {
                app.query(sql!("SELECT id, partner_id FROM disputes WHERE workspace_id = $1", ws_id)).await
            } else {
                app.query(sql!("SELECT id, partner_id FROM deal_extension_requests WHERE workspace_id = $1", ws_id)).await
            };
            let expected: BTreeSet<String> = rows
                .iter()
                .filter(|r| visible.contains(&r.get::<String>("partner_id").expect("partner")))
                .map(|r| r.get::<String>("id").expect("id"))
                .collect();
            let got: BTreeSet<String> = ids_of(reply, "id").into_iter().collect();
            (got.difference(&expected).cloned().collect(), expected.difference(&got).cloned().collect())
        }
        "/api/v1/profile-change-requests" => {
            let visible = Visible::load(app).await.partners_for(world, who);
            let requests = app.query(sql!("SELECT id, partner_id FROM profile_change_requests WHERE workspace_id = $1", ws_id)).await;
            let expected: BTreeSet<String> = requests
                .iter()
                .filter(|r| visible.contains(&r.get::<String>("partner_id").expect("partner")))
                .map(|r| r.get::<String>("id").expect("id"))
                .collect();
            let got: BTreeSet<String> = ids_of(reply, "id").into_iter().collect();
            (got.difference(&expected).cloned().collect(), expected.difference(&got).cloned().collect())
        }
        "/api/v1/deals" => {
            // A deal is visible through its registering partner (the direct pipeline to staff
            // only), and to the partners credited on it.
            let partners = Visible::load(app).await.partners_for(world, who);
            let rows = app.query(sql!("SELECT id, partner_id FROM deals WHERE workspace_id = $1", ws_id)).await;
            let credited = app.query(sql!("SELECT deal_id, partner_id FROM deal_partners WHERE workspace_id = $1", ws_id)).await;
            let staff = matches!(who.kind, Kind::Staff { .. });
            let through_registrant: BTreeSet<String> = rows
                .iter()
                .filter(|r| match r.get::<Option<String>>("partner_id").expect("partner") {
                    Some(partner) => partners.contains(&partner),
                    None => staff,
                })
                .map(|r| r.get::<String>("id").expect("id"))
                .collect();
            let mut allowed = through_registrant.clone();
            allowed.extend(
                credited
                    .iter()
                    .filter(|r| partners.contains(&r.get::<String>("partner_id").expect("partner")))
                    .map(|r| r.get::<String>("deal_id").expect("deal")),
            );
            let got: BTreeSet<String> = ids_of(reply, "id").into_iter().collect();
            // A full page (limit=500) cannot be complete; a last page must be.
            let missing = if reply.body["next_cursor"].is_null() { through_registrant.difference(&got).cloned().collect() } else { vec![] };
            (got.difference(&allowed).cloned().collect(), missing)
        }
        "/api/v1/leads" => {
            // A lead is visible through its holder (staff see those with the vendor); a partner
            // those held by it or its descendants.
            let partners = Visible::load(app).await.partners_for(world, who);
            let staff = matches!(who.kind, Kind::Staff { .. });
            let rows = app.query(sql!("SELECT id, holder_partner_id FROM leads WHERE workspace_id = $1", ws_id)).await;
            let expected: BTreeSet<String> = rows
                .iter()
                .filter(|r| match r.get::<Option<String>>("holder_partner_id").expect("holder") {
                    Some(partner) => partners.contains(&partner),
                    None => staff,
                })
                .map(|r| r.get::<String>("id").expect("id"))
                .collect();
            let got: BTreeSet<String> = ids_of(reply, "id").into_iter().collect();
            let missing = if reply.body["next_cursor"].is_null() { expected.difference(&got).cloned().collect() } else { vec![] };
            (got.difference(&expected).cloned().collect(), missing)
        }
        "/api/v1/commissions" | "/api/v1/referral-links" => {
            // Money, and referral links with their earnings, are private to each organisation: a
            // partner its own, staff those of the partners they see.
            let partners = match &who.kind {
                Kind::Partner { home, .. } => BTreeSet::from([world.partner(home).to_string()]),
                _ => Visible::load(app).await.partners_for(world, who),
            };
            let rows = if route.path == "/api/v1/commissions" {
                app.query(sql!("SELECT id, partner_id FROM commissions WHERE workspace_id = $1", ws_id)).await
            } else {
                app.query(sql!("SELECT id, partner_id FROM referral_links WHERE workspace_id = $1", ws_id)).await
            };
            let expected: BTreeSet<String> = rows
                .iter()
                .filter(|r| partners.contains(&r.get::<String>("partner_id").expect("partner")))
                .map(|r| r.get::<String>("id").expect("id"))
                .collect();
            let got: BTreeSet<String> = ids_of(reply, "id").into_iter().collect();
            let missing = if reply.body["next_cursor"].is_null() { expected.difference(&got).cloned().collect() } else { vec![] };
            (got.difference(&expected).cloned().collect(), missing)
        }
        "/api/v1/conversions" => {
            // Staff only: those of the partners they see, and those nobody attributed unless the
            // caller is a restricted manager.
            let partners = Visible::load(app).await.partners_for(world, who);
            let everything = matches!(who.kind, Kind::Staff { assigned: false, .. });
            let rows = app.query(sql!("SELECT id, partner_id FROM conversions WHERE workspace_id = $1", ws_id)).await;
            let expected: BTreeSet<String> = rows
                .iter()
                .filter(|r| match r.get::<Option<String>>("partner_id").expect("partner") {
                    Some(partner) => partners.contains(&partner),
                    None => everything,
                })
                .map(|r| r.get::<String>("id").expect("id"))
                .collect();
            let got: BTreeSet<String> = ids_of(reply, "id").into_iter().collect();
            let missing = if reply.body["next_cursor"].is_null() { expected.difference(&got).cloned().collect() } else { vec![] };
            (got.difference(&expected).cloned().collect(), missing)
        }
        other => panic!("no visible-set rule for the list route {other}"),
    }
}

fn problem_code(status: u16) -> &'static str {
    match status {
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        409 => "conflict",
        422 => "validation_failed",
        _ => "",
    }
}

/// Replays every cell of the matrix for the identities `only` accepts.
pub(crate) async fn replay(app: &TestApp, world: &World, matrix: &Matrix, only: impl Fn(&Who) -> bool) -> Tally {
    let mut tally = Tally::default();
    for route in &matrix.route {
        let method = Method::from_bytes(route.method.as_bytes()).expect("method");
        for who in world.whos.iter().filter(|w| only(w)) {
            for (column, expected) in matrix.cells(route, who.name) {
                let Some(expected) = expected else { continue };
                let rel = relation(who, column);
                *tally.relations.entry(rel).or_default() += 1;
                let prepared = prepare(app, world, route, who, column).await;
                let reply = match &prepared.raw {
                    Some((content_type, body)) => {
                        send_bytes(app, method.clone(), &prepared.path, prepared.credential.as_deref(), content_type, body).await
                    }
                    None => app.send(method.clone(), &prepared.path, prepared.credential.as_deref(), prepared.body.as_ref()).await,
                };
                tally.requests += 1;
                let cell = format!("{} / {} / {column} ({rel})", route.label(), who.name);
                let allowed = (200..300).contains(&reply.status);
                let expected_allow = (200..300).contains(&expected);
                if reply.status != expected {
                    match (expected_allow, allowed) {
                        (false, true) => tally.unexpected_allow += 1,
                        (true, false) => tally.unexpected_deny += 1,
                        _ => tally.wrong_denial += 1,
                    }
                    tally.failures.push(format!("{cell}: expected {expected}, got {} {}", reply.status, reply.text));
                    continue;
                }
                if !allowed {
                    let code = reply.body["code"].as_str().unwrap_or("");
                    let content_type = reply.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
                    if code != problem_code(reply.status) || content_type != "application/problem+json" {
                        tally.problem_mismatch += 1;
                        tally.failures.push(format!("{cell}: problem document {content_type} {}", reply.text));
                    }
                    continue;
                }
                if route.list && reply.status == 200 {
                    let (foreign, missing) = check_list(app, world, route, who, column, &reply).await;
                    if !foreign.is_empty() {
                        tally.failures.push(format!("{cell}: foreign ids in the list: {foreign:?}"));
                    }
                    if !missing.is_empty() {
                        tally.failures.push(format!("{cell}: visible ids missing from the list: {missing:?}"));
                    }
                    tally.list_foreign_ids += foreign.len();
                    tally.list_missing_ids += missing.len();
                }
                // A collection about the object (a person's sign-ins) names it in its path only.
                if let Some(id) = prepared.object_id.as_ref().filter(|_| reply.body.get("data").is_none()) {
                    // The object is named by the answer's own id, or (an object that belongs to
                    // it, such as a partner's single sign-on) by the owner's.
                    let named = ["id", "user_id", "partner_id", "program_id"]
                        .iter()
                        .any(|field| reply.body.get(*field).and_then(Value::as_str) == Some(id.as_str()));
                    if !named {
                        tally.unexpected_allow += 1;
                        tally.failures.push(format!("{cell}: answered another object than {id}: {}", reply.text));
                    }
                }
            }
        }
    }
    tally
}

/// The routes of deal registration (deals, disputes, extension requests, conflict rules): the
/// replay runs them apart from the rest, in a test of their own, so that the two halves of some
/// 8,000 cells run side by side and each stays well inside the CI's time per test.
fn is_deal_route(route: &RouteRow) -> bool {
    ["/api/v1/deals", "/api/v1/disputes", "/api/v1/extension-requests"].iter().any(|p| route.path.starts_with(p))
        || route.path.ends_with("/conflict-rules")
}

/// The routes of money (plans, conversions, invoices, commissions, balances, payouts): a third
/// replay of their own, for the same reason.
fn is_money_route(route: &RouteRow) -> bool {
    ["/api/v1/commissions", "/api/v1/conversions", "/api/v1/invoices", "/api/v1/payout", "/api/v1/referral-links"]
        .iter()
        .any(|p| route.path.starts_with(p))
        || route.path.contains("/commission-plan")
        || route.path.ends_with("/balance")
        || route.path.ends_with("/payout-method")
        || route.path.contains("/statements")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RouteGroup {
    Deals,
    Money,
    Rest,
}

fn group_of(route: &RouteRow) -> RouteGroup {
    if is_deal_route(route) {
        RouteGroup::Deals
    } else if is_money_route(route) {
        RouteGroup::Money
    } else {
        RouteGroup::Rest
    }
}

async fn replay_routes(group: RouteGroup) {
    // At localhost: passkeys need a domain name (ADR 0027), and their cells are real.
    let app = TestApp::spawn_at_localhost().await;
    let world = World::build(&app).await;
    let mut matrix = load();
    matrix.route.retain(|route| group_of(route) == group);
    let started = std::time::Instant::now();

    let tally = replay(&app, &world, &matrix, |_| true).await;

    println!(
        "FIGURE authz routes={} identities={} {} backend={} seconds={:.1}",
        matrix.route.len(),
        world.whos.len(),
        tally.counts(),
        app.backend_name(),
        started.elapsed().as_secs_f64()
    );
    println!("FIGURE authz_relations {}", tally.relations.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" "));
    assert!(tally.is_clean(), "{} cells differ from the matrix:\n{}", tally.failures.len(), tally.failures.join("\n"));
    assert!(tally.requests > 500, "only {} cells were replayed", tally.requests);
}

#[tokio::test]
async fn every_route_answers_every_identity_and_object_owner_as_the_matrix_says() {
    replay_routes(RouteGroup::Rest).await;
}

#[tokio::test]
async fn every_deal_route_answers_every_identity_and_object_owner_as_the_matrix_says() {
    replay_routes(RouteGroup::Deals).await;
}

#[tokio::test]
async fn every_money_route_answers_every_identity_and_object_owner_as_the_matrix_says() {
    replay_routes(RouteGroup::Money).await;
}

// ---------------------------------------------------------------------------------------------
// Money targets

/// The path (and object id) of a money cell: a program with a plan, a conversion or an open
/// invoice attributed to the column's partner, or a bonus of it (held, for the release route).
async fn prepare_money_target(app: &TestApp, world: &World, route: &RouteRow, column: &str, n: usize) -> (String, Option<String>) {
    let ctx = &app.state.ctx;
    if route.target == "plan" {
        let ws = if column == "OTHER_PROGRAM" { Ws::Other } else { Ws::Main };
        let scope = Scope::system(world.workspace(ws).clone(), &TEST_FIXTURES);
        let input =
            trellis_programs::NewProgram { name: format!("Program {n}"), slug: format!("matrix-program-{n}"), ..Default::default() };
        let program = trellis_programs::programs::create(ctx, &scope, input).await.expect("fresh program");
        trellis_incentives::plans::put(ctx, &scope, &program.id, &json!({"sale": {"percent_bps": 2000}})).await.expect("a plan");
        // The versions are a list of the program's plans, not one object.
        let object = (!route.path.ends_with("/versions")).then(|| program.id.to_string());
        return (route.path.replace("{id}", program.id.as_str()), object);
    }
    if route.target == "payout_run" || route.target == "approved_run" {
        // Runs made by the system, so that any staff member may approve them (four eyes).
        let ws = if column == "OTHER_RUN" { Ws::Other } else { Ws::Main };
        let scope = Scope::system(world.workspace(ws).clone(), &TEST_FIXTURES);
        let run = trellis_incentives::payouts::create(ctx, &scope, "EUR").await.expect("a run");
        if route.target == "approved_run" {
            trellis_incentives::payouts::approve(ctx, &scope, &run.run.id).await.expect("approved");
        }
        let path = route.path.replace("{id}", run.run.id.as_str());
        return if route.path.ends_with("/export") { (format!("{path}?format=csv"), None) } else { (path, Some(run.run.id.to_string())) };
    }
    let ws = World::partner_ws(column);
    let scope = Scope::system(world.workspace(ws).clone(), &TEST_FIXTURES);
    let partner = world.partner(column).to_string();
    if route.target == "statement" {
        // A payout to the column's partner: a payout method, a bonus, a run approved.
        let partner_id = world.partner(column);
        trellis_incentives::payout_methods::set(ctx, &scope, partner_id, &crate::payout_methods::matrix_method()).await.expect("a method");
        let bonus = trellis_incentives::commissions::NewBonus {
            partner_id: partner_id.clone(),
            amount_minor: 10_000,
            currency: "EUR".into(),
            reason_code: "bonus".into(),
            note: format!("cell {n}"),
            program_id: None,
        };
        trellis_incentives::commissions::award_bonus(ctx, &scope, bonus).await.expect("a bonus");
        let run = trellis_incentives::payouts::create(ctx, &scope, "EUR").await.expect("a run");
        trellis_incentives::payouts::approve(ctx, &scope, &run.run.id).await.expect("approved");
        // The statement names its partner (and its run).
        return (route.path.replace("{id}", partner_id.as_str()).replace("{run_id}", run.run.id.as_str()), Some(partner_id.to_string()));
    }
    match route.target.as_str() {
        "conversion" | "invoice" => {
            let input = trellis_incentives::conversions::NewConversion {
                kind: "sale".into(),
                invoice_id: format!("matrix-invoice-{n}"),
                customer_external_id: format!("matrix-customer-{n}"),
                partner_id: Some(partner),
                amount: Some((10_000, "EUR".into())),
                invoice_status: Some("open".into()),
                ..Default::default()
            };
            let recorded = trellis_incentives::conversions::record(ctx, &scope, &input).await.expect("a conversion");
            let id = recorded.answer["id"].as_str().expect("conversion id").to_owned();
            if route.target == "invoice" {
                (route.path.replace("{invoice_id}", &input.invoice_id), None)
            } else {
                (route.path.replace("{id}", &id), Some(id))
            }
        }
        _ => {
            let input = trellis_incentives::commissions::NewBonus {
                partner_id: partner.parse().expect("partner id"),
                amount_minor: 1000,
                currency: "EUR".into(),
                reason_code: "bonus".into(),
                note: format!("cell {n}"),
                program_id: None,
            };
            let bonus = trellis_incentives::commissions::award_bonus(ctx, &scope, input).await.expect("a bonus");
            if route.target == "held_commission" {
                trellis_incentives::commissions::hold(ctx, &scope, &bonus.id, trellis_incentives::statuses::HoldReason::Manual)
                    .await
                    .expect("held");
            }
            (route.path.replace("{id}", bonus.id.as_str()), Some(bonus.id.to_string()))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Recruitment and onboarding targets

/// A fresh program taking applications in a workspace.
async fn fresh_program(app: &TestApp, world: &World, ws: Ws, n: usize) -> trellis_programs::Program {
    let scope = Scope::system(world.workspace(ws).clone(), &TEST_FIXTURES);
    let input = trellis_programs::NewProgram { name: format!("Program {n}"), slug: format!("matrix-program-{n}"), ..Default::default() };
    trellis_programs::programs::create(&app.state.ctx, &scope, input).await.expect("fresh program")
}

/// A fresh application to a fresh program, from an address of its own (the public form's rate
/// limit counts per address).
async fn fresh_application(app: &TestApp, world: &World, ws: Ws, n: usize) -> trellis_recruitment::applications::Receipt {
    let program = fresh_program(app, world, ws, n).await;
    let input = trellis_recruitment::applications::NewApplication {
        company_name: format!("Applicant {n}"),
        contact_name: "Ada Applicant".into(),
        contact_email: format!("apply{n}@applicant{n}.example"),
        types: vec![trellis_core::PartnerType::Reseller],
        ..Default::default()
    };
    let meta = trellis_identity::RequestMeta { ip: Some(format!("10.9.{}.{}", n / 250, n % 250)), user_agent: None };
    trellis_recruitment::applications::submit(&app.state.ctx, &program.slug, input, &meta).await.expect("fresh application")
}

/// A fresh program in the partner's workspace that the partner is enrolled in.
async fn enrolled_program(app: &TestApp, world: &World, column: &str, n: usize) -> (Scope, PartnerId, trellis_programs::Program) {
    let ws = World::partner_ws(column);
    let scope = Scope::system(world.workspace(ws).clone(), &TEST_FIXTURES);
    let partner = world.partner(column).clone();
    let program = fresh_program(app, world, ws, n).await;
    let mut tx = scope.write(&app.state.ctx).await.expect("transaction");
    trellis_programs::enrollments::enroll_in(&mut tx, &scope, &partner, &program.id, None, app.state.ctx.now()).await.expect("enroll");
    tx.commit().await.expect("commit the enrollment");
    (scope, partner, program)
}

/// The path (and object id) of a cell of a recruitment or onboarding route.
async fn prepare_recruitment_target(app: &TestApp, world: &World, route: &RouteRow, column: &str, n: usize) -> (String, Option<String>) {
    let program_ws = |other: &str| if column == other { Ws::Other } else { Ws::Main };
    match route.target.as_str() {
        "public_program" => {
            let program = fresh_program(app, world, Ws::Main, n).await;
            (route.path.replace("{slug}", &program.slug), None)
        }
        "application" => {
            let receipt = fresh_application(app, world, program_ws("OTHER_APPLICATION"), n).await;
            (route.path.replace("{id}", receipt.application_id.as_str()), Some(receipt.application_id.to_string()))
        }
        "applicant" => {
            let receipt = fresh_application(app, world, program_ws("OTHER_APPLICANT"), n).await;
            (route.path.replace("{id}", receipt.partner_id.as_str()), Some(receipt.partner_id.to_string()))
        }
        "onboarding_step" => {
            let ws = program_ws("OTHER_PROGRAM");
            let program = fresh_program(app, world, ws, n).await;
            let scope = Scope::system(world.workspace(ws).clone(), &TEST_FIXTURES);
            let input =
                trellis_recruitment::onboarding::NewStep { kind: "custom".into(), title: format!("Step {n}"), ..Default::default() };
            let step = trellis_recruitment::onboarding::create_step(&app.state.ctx, &scope, &program.id, input).await.expect("fresh step");
            (route.path.replace("{id}", program.id.as_str()).replace("{step_id}", step.id.as_str()), Some(step.id.to_string()))
        }
        "partner_step" => {
            let (scope, partner, program) = enrolled_program(app, world, column, n).await;
            let input =
                trellis_recruitment::onboarding::NewStep { kind: "custom".into(), title: format!("Step {n}"), ..Default::default() };
            let step = trellis_recruitment::onboarding::create_step(&app.state.ctx, &scope, &program.id, input).await.expect("fresh step");
            (route.path.replace("{id}", partner.as_str()).replace("{step_id}", step.id.as_str()), Some(partner.to_string()))
        }
        "partner_agreement" => {
            let (scope, partner, program) = enrolled_program(app, world, column, n).await;
            let input = trellis_recruitment::agreements::NewAgreement { title: format!("Agreement {n}"), body: "The terms.".into() };
            let agreement = trellis_recruitment::agreements::publish(&app.state.ctx, &scope, &program.id, input).await.expect("agreement");
            (route.path.replace("{id}", partner.as_str()).replace("{agreement_id}", agreement.id.as_str()), Some(partner.to_string()))
        }
        other => panic!("unknown recruitment target {other}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Vendor-only fields of a partner (issue 6 F1): field × identity × partner column

/// The fields of `PATCH /api/v1/partners/{id}` only the vendor changes.
const VENDOR_ONLY_FIELDS: [&str; 4] = ["status", "types", "parent_id", "manager_user_id"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FieldRow {
    field: String,
    expect: BTreeMap<String, String>,
}

/// Shape of the field rows: exactly the vendor-only fields, each with every identity and one
/// value per partner column.
fn check_field_rows(matrix: &Matrix) {
    let fields: Vec<&str> = matrix.partner_field.iter().map(|r| r.field.as_str()).collect();
    assert_eq!(fields, VENDOR_ONLY_FIELDS, "[[partner_field]] rows must be exactly the vendor-only fields, in order");
    let columns = &matrix.columns["partner"];
    for row in &matrix.partner_field {
        let names: BTreeSet<&str> = row.expect.keys().map(String::as_str).collect();
        assert_eq!(names, IDENTITIES.iter().copied().collect(), "field {}: the rows must be exactly the matrix identities", row.field);
        for (identity, cells) in &row.expect {
            let values: Vec<&str> = cells.split_whitespace().collect();
            assert_eq!(values.len(), columns.len(), "field {} / {identity}: one value per partner column", row.field);
            assert!(values.iter().all(|v| matches!(*v, "-" | "200" | "401" | "403" | "404")), "field {} / {identity}: {cells}", row.field);
        }
    }
}

impl Matrix {
    fn field_cells<'a>(&'a self, row: &'a FieldRow, identity: &str) -> impl Iterator<Item = (&'a str, Option<u16>)> + 'a {
        let values: Vec<&'a str> = row.expect[identity].split_whitespace().collect();
        self.columns["partner"].iter().map(String::as_str).zip(values).map(|(column, value)| (column, value.parse().ok()))
    }
}

#[test]
fn vendor_only_fields_are_refused_to_every_partner_and_to_finance_and_viewer() {
    let matrix = load();
    let patch = matrix.route.iter().find(|r| r.method == "PATCH" && r.path == "/api/v1/partners/{id}").expect("PATCH partner row");
    let mut problems = Vec::new();
    for row in &matrix.partner_field {
        for who in offline_identities() {
            let route_cells: Vec<_> = matrix.cells(patch, who.name).collect();
            for ((column, expected), (_, route_expected)) in matrix.field_cells(row, who.name).zip(route_cells) {
                let cell = format!("field {} / {} / {column} = {expected:?}", row.field, who.name);
                let wanted = match (&who.kind, route_expected) {
                    // Partners may edit some details of their own record or their resellers', never these.
                    (Kind::Partner { .. }, Some(200)) => Some(403),
                    (Kind::Staff { role: VendorRole::Finance | VendorRole::Viewer, .. }, Some(200)) => Some(403),
                    (_, other) => other,
                };
                // A missing cell ("-") must say why in the file; it is allowed only where the route allows.
                if expected.is_none() && wanted == Some(200) {
                    continue;
                }
                if expected != wanted {
                    problems.push(format!("{cell}: the rule gives {wanted:?}"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "vendor-only field cells contradict the rule:\n{}", problems.join("\n"));
}

/// The vendor-only fields of a partner as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
struct VendorFields {
    status: String,
    types: i64,
    parent_id: Option<String>,
    manager_user_id: Option<String>,
}

async fn vendor_fields(app: &TestApp, id: &PartnerId) -> VendorFields {
    let rows = app.query(sql!("SELECT status, types, parent_id, manager_user_id FROM partners WHERE id = $1", id)).await;
    let row = rows.first().expect("the partner exists");
    VendorFields {
        status: row.get("status").expect("status"),
        types: row.get("types").expect("types"),
        parent_id: row.get("parent_id").expect("parent"),
        manager_user_id: row.get("manager_user_id").expect("manager"),
    }
}

async fn restore_vendor_fields(app: &TestApp, id: &PartnerId, fields: &VendorFields) {
    app.execute(vec![sql!(
        "UPDATE partners SET status = $2, types = $3, parent_id = $4, manager_user_id = $5 WHERE id = $1",
        id,
        fields.status,
        fields.types,
        fields.parent_id,
        fields.manager_user_id
    )])
    .await
    .expect("restore the partner");
}

/// A value of `field` that would be a valid change of the partner in `column`, and how the
/// stored fields look once it is applied.
fn vendor_field_change(world: &World, field: &str, column: &str, other_root: &PartnerId, now: &VendorFields) -> (Value, VendorFields) {
    let mut after = now.clone();
    let value = match field {
        "status" => {
            after.status = "suspended".into();
            json!("suspended")
        }
        "types" => {
            let mut types = trellis_core::PartnerTypes::from_mask(now.types).to_vec();
            types.push(trellis_core::PartnerType::Msp);
            let types: trellis_core::PartnerTypes = types.into_iter().collect();
            after.types = types.mask();
            json!(types.to_vec())
        }
        "parent_id" => {
            let parent = match column {
                "R1a" | "R1b" | "R2a" => None,
                "D1" | "D2" => Some(world.partner("P3").to_string()),
                "P3" => Some(world.partner("D2").to_string()),
                _ => Some(other_root.to_string()),
            };
            after.parent_id = parent.clone();
            json!(parent)
        }
        "manager_user_id" => {
            let manager = if column == "OTHER" { world.f.other_owner.user_id.clone() } else { world.bystander.user_id.clone() };
            after.manager_user_id = Some(manager.clone());
            json!(manager)
        }
        other => panic!("no change recipe for the field {other}"),
    };
    assert_ne!(&after, now, "{field} of {column}: the recipe must change something");
    (value, after)
}

#[tokio::test]
async fn every_vendor_only_partner_field_answers_as_the_matrix_says() {
    let app = TestApp::spawn().await;
    let world = World::build(&app).await;
    let matrix = load();
    let other_root = trellis_directory::partners::create(
        &app.state.ctx,
        &Scope::system(world.f.other_workspace_id.clone(), &TEST_FIXTURES),
        trellis_directory::NewPartner {
            name: "Other root".into(),
            contact_email: "root@other.example".into(),
            types: vec![trellis_core::PartnerType::Distributor],
            ..Default::default()
        },
    )
    .await
    .expect("a second root in the other workspace")
    .id;
    let mut failures = Vec::new();
    let mut requests = 0;
    // Partners first: an allowed suspension ends the suspended partner's sessions, which the
    // partner identities' later cells would need.
    let passes: [&dyn Fn(&Who) -> bool; 2] = [&|w: &Who| w.is_partner(), &|w: &Who| !w.is_partner()];
    for pass in passes {
        for row in &matrix.partner_field {
            for who in world.whos.iter().filter(|w| pass(w)) {
                for (column, expected) in matrix.field_cells(row, who.name) {
                    let Some(expected) = expected else { continue };
                    let id = world.partner(column);
                    let before = vendor_fields(&app, id).await;
                    let (value, changed) = vendor_field_change(&world, &row.field, column, &other_root, &before);
                    let body = json!({ row.field.as_str(): value });

                    let reply = app.send(Method::PATCH, &format!("/api/v1/partners/{id}"), who.credential.as_deref(), Some(&body)).await;

                    requests += 1;
                    let stored = vendor_fields(&app, id).await;
                    let cell = format!("field {} / {} / {column} ({})", row.field, who.name, relation(who, column));
                    if reply.status != expected {
                        failures.push(format!("{cell}: expected {expected}, got {} {}", reply.status, reply.text));
                    } else if (200..300).contains(&expected) && stored != changed {
                        failures.push(format!("{cell}: allowed but stored {stored:?}, wanted {changed:?}"));
                    } else if !(200..300).contains(&expected) && reply.body["code"] != problem_code(expected) {
                        failures.push(format!("{cell}: problem document {}", reply.text));
                    }
                    if !(200..300).contains(&expected) && stored != before {
                        failures.push(format!("{cell}: refused but the partner changed from {before:?} to {stored:?}"));
                    }
                    if stored != before {
                        restore_vendor_fields(&app, id, &before).await;
                    }
                }
            }
        }
    }

    println!("FIGURE authz_partner_fields cells={requests} failures={} backend={}", failures.len(), app.backend_name());
    assert!(failures.is_empty(), "{} vendor-only field cells differ from the matrix:\n{}", failures.len(), failures.join("\n"));
    assert_eq!(requests, 4 * 17 * 7 - 1, "every cell but the one marked \"-\" is replayed");
}
