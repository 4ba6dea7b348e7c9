//! Control characters in text (issue 6, F3). The server's own OpenAPI document drives the API
//! sweep: for every operation, "a\u{0}b" goes into each string field of a minimal body built from
//! the request schema, each query parameter and each path parameter, one at a time. The page sweep
//! fetches the console, the portal, the sign-in page, the application form and an invitation
//! page, reads every `<form method="post">` and sends NUL in each of its fields. Every answer must
//! be 4xx — 422 naming the field for bodies, forms and query parameters — and no table may gain
//! or lose a row. On PostgreSQL a NUL used to reach the database and answer 500.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, COOKIE};
use serde_json::{Map, Value, json};
use trellis_db::Sql;
use trellis_testkit::fixture::Fixture;
use trellis_testkit::{Reply, TestApp};

use crate::pages::{WebSession, cookie_value, get_page, sign_in};
use crate::profiles::multipart;

const NUL: &str = "a\u{0}b";

// ---------------------------------------------------------------------------------------------
// What is stored

/// The number of rows of every table of the application's database.
async fn row_counts(app: &TestApp) -> BTreeMap<String, i64> {
    let tables = if app.is_postgres() {
        Sql::build("SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1")
    } else {
        Sql::build("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1")
    };
    let names: Vec<String> = app.query(tables).await.iter().map(|r| r.get::<String>("name").expect("table name")).collect();
    assert!(names.len() > 10, "the schema has its tables: {names:?}");
    let union = names.iter().map(|n| format!("SELECT '{n}' AS name, COUNT(*) AS n FROM {n}")).collect::<Vec<_>>().join(" UNION ALL ");
    let mut sql = Sql::build("");
    sql.push(&union);
    app.query(sql).await.iter().map(|r| (r.get::<String>("name").expect("name"), r.get::<i64>("n").expect("n"))).collect()
}

/// The tables whose row count differs.
fn changed(before: &BTreeMap<String, i64>, after: &BTreeMap<String, i64>) -> Vec<String> {
    before.iter().filter(|(t, n)| after.get(*t) != Some(n)).map(|(t, n)| format!("{t}: {n} → {:?}", after.get(t))).collect()
}

fn names_field(reply_body: &Value, field: &str) -> bool {
    reply_body["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|e| e["field"] == field && e["message"].as_str().is_some_and(|m| m.contains("control characters")))
}

// ---------------------------------------------------------------------------------------------
// Bodies from the OpenAPI document

struct Doc<'a> {
    schemas: &'a Map<String, Value>,
}

#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index,
}

impl Doc<'_> {
    /// The schema behind `$ref`s and `oneOf`/`anyOf`/`allOf` of a nullable type (the first
    /// alternative that is not `null`).
    fn resolve<'s>(&'s self, schema: &'s Value) -> &'s Value {
        if let Some(name) = schema["$ref"].as_str() {
            return self.resolve(&self.schemas[name.rsplit('/').next().unwrap_or(name)]);
        }
        for key in ["oneOf", "anyOf", "allOf"] {
            if let Some(first) = schema[key].as_array().and_then(|all| all.iter().find(|s| s["type"] != "null")) {
                return self.resolve(first);
            }
        }
        schema
    }

    fn kind(&self, schema: &Value) -> String {
        let schema = self.resolve(schema);
        match &schema["type"] {
            Value::String(t) => t.clone(),
            Value::Array(types) => types.iter().filter_map(Value::as_str).find(|t| *t != "null").unwrap_or("null").to_owned(),
            _ if schema.get("properties").is_some() => "object".to_owned(),
            _ => "any".to_owned(),
        }
    }

    /// A small valid value for `schema` (named `name`).
    fn sample(&self, name: &str, schema: &Value, depth: usize) -> Value {
        let schema = self.resolve(schema);
        if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
            return first.clone();
        }
        match self.kind(schema).as_str() {
            "string" if name.contains("email") => json!("someone@example.com"),
            "string" if name.ends_with("_on") || name.starts_with("valid_") => json!("2026-01-01"),
            "string" if name == "types" || name == "role" => json!("reseller"),
            "string" => json!("x"),
            "integer" | "number" => json!(1),
            "boolean" => json!(false),
            "array" if depth < 4 => json!([self.sample(name, &schema["items"], depth + 1)]),
            "array" => json!([]),
            "object" if depth < 4 => {
                let required: BTreeSet<&str> = schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
                let mut object = Map::new();
                for (key, property) in schema["properties"].as_object().into_iter().flatten() {
                    if required.contains(key.as_str()) {
                        object.insert(key.clone(), self.sample(key, property, depth + 1));
                    }
                }
                Value::Object(object)
            }
            _ => json!({}),
        }
    }

    /// Every place a string can go in a body of `schema`: properties at any depth, list items,
    /// map values (`answers.q1`) and members of free-form objects (`value.k`).
    fn string_paths(&self, schema: &Value, path: Vec<Step>, depth: usize, out: &mut Vec<Vec<Step>>) {
        let schema = self.resolve(schema);
        if depth > 5 {
            return;
        }
        let with = |step: Step| {
            let mut p = path.clone();
            p.push(step);
            p
        };
        match self.kind(schema).as_str() {
            "string" => out.push(path),
            "array" => self.string_paths(&schema["items"], with(Step::Index), depth + 1, out),
            "object" | "any" => {
                let properties = schema["properties"].as_object();
                for (key, property) in properties.into_iter().flatten() {
                    self.string_paths(property, with(Step::Key(key.clone())), depth + 1, out);
                }
                match &schema["additionalProperties"] {
                    extra @ Value::Object(_) => self.string_paths(extra, with(Step::Key("q1".into())), depth + 1, out),
                    Value::Bool(false) => {}
                    // A free-form object (`value`, `requirements`): any member is text too.
                    _ if properties.is_none_or(Map::is_empty) && !path.is_empty() => out.push(with(Step::Key("k".into()))),
                    _ => {}
                }
            }
            _ => {}
        }
    }
}

/// The field name a path is reported under: `addresses[0].line1`, `answers.q1`.
fn field_name(path: &[Step]) -> String {
    let mut name = String::new();
    for step in path {
        match step {
            Step::Key(key) if name.is_empty() => name.push_str(key),
            Step::Key(key) => {
                name.push('.');
                name.push_str(key);
            }
            Step::Index => name.push_str("[0]"),
        }
    }
    name
}

/// Puts `value` at `path` in `body`, creating what is missing.
fn put(body: &mut Value, path: &[Step], value: Value) {
    let Some((first, rest)) = path.split_first() else {
        *body = value;
        return;
    };
    let slot = match first {
        Step::Key(key) => {
            if !body.is_object() {
                *body = json!({});
            }
            body.as_object_mut().expect("object").entry(key.clone()).or_insert(Value::Null)
        }
        Step::Index => {
            if body.as_array().is_none_or(|a| a.is_empty()) {
                *body = json!([Value::Null]);
            }
            &mut body.as_array_mut().expect("array")[0]
        }
    };
    if !rest.is_empty() && slot.is_null() {
        *slot = if matches!(rest[0], Step::Index) { json!([]) } else { json!({}) };
    }
    put(slot, rest, value);
}

/// Routes anyone may call: sent without a credential, as an attacker would.
fn is_public(path: &str) -> bool {
    path == "/api/v1/auth/login" || path.starts_with("/api/v1/public/") || path.starts_with("/api/v1/invitations/{token}")
}

/// An object schema whose fields are numbers, flags or objects of those (no string to poison).
fn numbers_and_flags_only(doc: &Doc, schema: &Value, depth: usize) -> bool {
    depth < 4
        && doc.resolve(schema)["properties"].as_object().is_some_and(|properties| {
            properties.values().all(|p| match doc.kind(p).as_str() {
                "integer" | "number" | "boolean" => true,
                "object" => numbers_and_flags_only(doc, p, depth + 1),
                _ => false,
            })
        })
}

async fn send(app: &TestApp, method: &str, path: &str, bearer: Option<&str>, body: Option<&Value>) -> Reply {
    let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
    app.send(method, path, bearer, body).await
}

#[tokio::test]
async fn nul_in_any_string_field_query_or_path_parameter_of_any_operation_is_refused_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let openapi = app.send(Method::GET, "/api/openapi.json", None, None).await.body;
    let doc = Doc { schemas: openapi["components"]["schemas"].as_object().expect("schemas") };
    let mut problems = Vec::new();
    let (mut operations, mut probes) = (0, 0);

    for (template, item) in openapi["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            operations += 1;
            let label = format!("{} {template}", method.to_uppercase());
            let bearer = (!is_public(template)).then_some(f.owner.token.as_str());
            let parameters: Vec<&Value> = operation["parameters"].as_array().into_iter().flatten().collect();
            let path_names: Vec<&str> = parameters.iter().filter(|p| p["in"] == "path").filter_map(|p| p["name"].as_str()).collect();
            let query_names: Vec<&str> = parameters.iter().filter(|p| p["in"] == "query").filter_map(|p| p["name"].as_str()).collect();
            let fill = |poisoned: Option<&str>| {
                let mut path = template.clone();
                for name in &path_names {
                    // A real partner where the handler looks the partner up before reading the
                    // body (uploads); elsewhere any text, since bodies are checked first.
                    let value = match (poisoned == Some(*name), *name) {
                        (true, _) => "a%00b".to_owned(),
                        (false, "id") if template.starts_with("/api/v1/partners/{id}") => f.p3.to_string(),
                        (false, _) => "x".to_owned(),
                    };
                    path = path.replace(&format!("{{{name}}}"), &value);
                }
                path
            };
            let content = &operation["requestBody"]["content"];
            let json_schema = content["application/json"].get("schema");
            let body = json_schema.map(|schema| doc.sample("", schema, 0));
            let before = row_counts(&app).await;

            // The body: NUL in one string field at a time.
            if let Some(schema) = json_schema {
                let mut paths = Vec::new();
                doc.string_paths(schema, Vec::new(), 0, &mut paths);
                assert!(
                    !paths.is_empty()
                        || doc.kind(schema) != "object"
                        || doc.resolve(schema)["properties"].as_object().is_none_or(Map::is_empty)
                        // Only numbers and flags, perhaps in nested objects (a deal's approval:
                        // `protected_days`; a program's tracking settings and their fraud rules).
                        || numbers_and_flags_only(&doc, schema, 0),
                    "{label}: no string fields found"
                );
                for steps in paths {
                    let mut poisoned = body.clone().unwrap_or(json!({}));
                    put(&mut poisoned, &steps, json!(NUL));
                    let field = field_name(&steps);
                    let reply = send(&app, method, &fill(None), bearer, Some(&poisoned)).await;
                    probes += 1;
                    if reply.status != 422 || !names_field(&reply.body, &field) {
                        problems.push(format!("{label} body {field}: {} {}", reply.status, reply.text));
                    }
                }
            }
            if content.get("multipart/form-data").is_some() {
                // NUL in a part's header is refused by the multipart parser itself (400); a tab
                // gets through to the text check.
                for (field, purpose, filename, named) in [
                    ("purpose", NUL, "a.pdf", true),
                    ("file.filename", "licence", "a\tb.pdf", true),
                    ("file.filename", "licence", "a\u{0}b.pdf", false),
                ] {
                    let (content_type, multipart_body) =
                        multipart(&[("purpose", purpose)], Some((filename, Some("application/pdf"), b"%PDF-1.4\n")));
                    let response = app
                        .client
                        .request(
                            Method::from_bytes(method.to_uppercase().as_bytes()).expect("method"),
                            format!("{}{}", app.base_url, fill(None)),
                        )
                        .bearer_auth(&f.owner.token)
                        .header(CONTENT_TYPE, content_type)
                        .body(multipart_body)
                        .send()
                        .await
                        .expect("request reaches the server");
                    let status = response.status().as_u16();
                    let text = response.text().await.unwrap_or_default();
                    probes += 1;
                    let refused = if named {
                        status == 422 && names_field(&serde_json::from_str(&text).unwrap_or(Value::Null), field)
                    } else {
                        (400..500).contains(&status)
                    };
                    if !refused {
                        problems.push(format!("{label} multipart {field}: {status} {text}"));
                    }
                }
            }
            // Each query parameter.
            for name in &query_names {
                let reply = send(&app, method, &format!("{}?{name}=a%00b", fill(None)), bearer, body.as_ref()).await;
                probes += 1;
                if reply.status != 422 || !names_field(&reply.body, name) {
                    problems.push(format!("{label} query {name}: {} {}", reply.status, reply.text));
                }
            }
            // Each path parameter.
            for name in &path_names {
                let reply = send(&app, method, &fill(Some(name)), bearer, body.as_ref()).await;
                probes += 1;
                if !(400..500).contains(&reply.status) {
                    problems.push(format!("{label} path {name}: {} {}", reply.status, reply.text));
                }
            }
            let after = row_counts(&app).await;
            let diff = changed(&before, &after);
            if !diff.is_empty() {
                problems.push(format!("{label}: rows changed: {diff:?}"));
            }
        }
    }

    assert!(operations >= 80, "the document lists the API's operations ({operations})");
    assert!(
        problems.is_empty(),
        "{} of {probes} probes over {operations} operations failed on {}:\n{}",
        problems.len(),
        app.backend_name(),
        problems.join("\n")
    );
    eprintln!("{probes} probes over {operations} operations refused on {}", app.backend_name());
}

#[tokio::test]
async fn the_headers_the_server_reads_refuse_control_characters_before_any_effect() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let body = json!({"name": "Tabbed key", "contact_email": "t@tabbed.example", "types": ["reseller"]});
    let before = row_counts(&app).await;

    let keyed = app.send_with(Method::POST, "/api/v1/partners", Some(&f.owner.token), Some(&body), &[("idempotency-key", "a\tb")]).await;
    let membership = app.send_with(Method::GET, "/api/v1/me", Some(&f.owner.token), None, &[("trellis-membership", "ws\t1")]).await;

    assert_eq!(keyed.status, 422, "{}", keyed.text);
    assert!(names_field(&keyed.body, "idempotency-key"), "{}", keyed.text);
    assert_eq!(membership.status, 422, "{}", membership.text);
    assert!(names_field(&membership.body, "trellis-membership"), "{}", membership.text);
    assert_eq!(changed(&before, &row_counts(&app).await), Vec::<String>::new(), "nothing stored");
}

#[tokio::test]
async fn names_refuse_bell_and_newlines_while_descriptions_keep_their_lines() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;

    for name in ["Bell\u{7}Corp", "Two\nLines", "Tab\tbed", "Del\u{7f}"] {
        let reply = app
            .post("/api/v1/partners", &f.owner.token, json!({"name": name, "contact_email": "n@names.example", "types": ["reseller"]}))
            .await;
        assert_eq!(reply.status, 422, "{name:?}: {}", reply.text);
        assert!(names_field(&reply.body, "name"), "{name:?}: {}", reply.text);
    }
    let program = app
        .post(
            "/api/v1/programs",
            &f.owner.token,
            json!({"name": "Lines", "slug": "lines", "description": "First line\r\nSecond line\twith a tab"}),
        )
        .await;

    assert_eq!(program.status, 201, "multi-line fields keep newlines and tabs: {}", program.text);
    assert_eq!(program.body["description"], "First line\r\nSecond line\twith a tab");
    assert_eq!(app.query_i64(trellis_db::sql!("SELECT COUNT(*) FROM partners WHERE contact_email = 'n@names.example'")).await, 0);
}

#[test]
fn domain_validation_refuses_control_characters_for_callers_that_are_not_http() {
    let mut v = trellis_core::Validation::new();

    assert_eq!(v.text("name", "a\u{0}b", 100), None);
    assert_eq!(v.text("description", "one\ntwo", 100), Some("one\ntwo".to_owned()));
    assert_eq!(v.text("description", "nul\u{0}", 100), None);
    let errors = v.finish().expect_err("two refusals");
    assert_eq!(errors.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(), ["name", "description"]);
}

// ---------------------------------------------------------------------------------------------
// Pages

/// One `<form method="post">` of a page: where it posts, whether it is multipart, its fields
/// with the values the page filled in.
#[derive(Debug, Clone)]
struct PageFormSpec {
    page: String,
    action: String,
    multipart: bool,
    fields: Vec<(String, String)>,
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let needle = format!(" {name}=\"");
    let start = tag.find(&needle)? + needle.len();
    tag[start..].split('"').next().map(unescape)
}

/// The post forms of a page, parsed from its HTML (our templates write plain, quoted attributes).
fn post_forms(page: &str, html: &str) -> Vec<PageFormSpec> {
    let mut forms = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<form") {
        let after = &rest[start..];
        let end = after.find("</form>").unwrap_or(after.len());
        let form = &after[..end];
        rest = &after[end.min(after.len())..];
        if rest.starts_with("</form>") {
            rest = &rest[7..];
        }
        let open = &form[..form.find('>').unwrap_or(form.len())];
        if attribute(open, "method").as_deref() != Some("post") {
            continue;
        }
        let action = attribute(open, "action").unwrap_or_else(|| page.to_owned());
        let multipart = attribute(open, "enctype").is_some_and(|e| e.contains("multipart"));
        let mut fields = Vec::new();
        for tag_name in ["<input", "<textarea", "<select"] {
            let mut at = form;
            while let Some(i) = at.find(tag_name) {
                let tag = &at[i..at[i..].find('>').map_or(at.len(), |e| i + e)];
                at = &at[i + tag_name.len()..];
                let Some(name) = attribute(tag, "name") else { continue };
                let kind = attribute(tag, "type").unwrap_or_default();
                if matches!(kind.as_str(), "submit" | "button" | "file") {
                    continue;
                }
                if fields.iter().any(|(n, _): &(String, String)| *n == name) {
                    continue;
                }
                fields.push((name, attribute(tag, "value").unwrap_or_default()));
            }
        }
        forms.push(PageFormSpec { page: page.to_owned(), action, multipart, fields });
    }
    forms
}

/// The same-site pages a page links to (no assets, no API, no downloads).
fn links(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(unescape)
        .filter(|l| {
            l.starts_with('/') && !l.starts_with("//") && !l.starts_with("/static") && !l.starts_with("/api/") && !l.contains("/files/")
        })
        .map(|l| l.split('#').next().unwrap_or("").to_owned())
        .collect()
}

/// Every post form reachable from `start` by links, with the cookie of a session (or none).
async fn crawl(app: &TestApp, start: &[&str], cookie: Option<&str>, limit: usize) -> Vec<PageFormSpec> {
    let mut queue: Vec<String> = start.iter().map(|s| (*s).to_owned()).collect();
    let mut seen = BTreeSet::new();
    let mut forms = Vec::new();
    while let Some(page) = queue.pop() {
        if seen.len() >= limit || !seen.insert(page.clone()) {
            continue;
        }
        let got = get_page(app, &page, cookie).await;
        if got.status != 200 {
            continue;
        }
        forms.extend(post_forms(&page, &got.text));
        queue.extend(links(&got.text).into_iter().filter(|l| !seen.contains(l)));
    }
    forms
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) { char::from(b).to_string() } else { format!("%{b:02X}") })
        .collect()
}

/// Posts `fields` to `action` as the form would (urlencoded or multipart) with `cookie`.
async fn submit(app: &TestApp, form: &PageFormSpec, cookie: &str, fields: &[(String, String)]) -> (u16, String) {
    let request = app.client.post(format!("{}{}", app.base_url, form.action)).header(COOKIE, cookie).header("accept", "text/html");
    let request = if form.multipart {
        let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let (content_type, body) = multipart(&pairs, None);
        request.header(CONTENT_TYPE, content_type).body(body)
    } else {
        let body = fields.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&");
        request.header(CONTENT_TYPE, "application/x-www-form-urlencoded").body(body)
    };
    let response = request.send().await.expect("request reaches the server");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

/// NUL in each field of each form, one at a time: 422 and no row changed.
async fn sweep(app: &TestApp, forms: &[PageFormSpec], cookie: &str, problems: &mut Vec<String>) -> usize {
    let mut probes = 0;
    for form in forms {
        let before = row_counts(app).await;
        for (i, (name, _)) in form.fields.iter().enumerate() {
            let mut fields = form.fields.clone();
            fields[i].1 = NUL.to_owned();
            let (status, text) = submit(app, form, cookie, &fields).await;
            probes += 1;
            if status != 422 || !text.contains("control characters") {
                problems.push(format!(
                    "{} → POST {} field {name}: {status} {}",
                    form.page,
                    form.action,
                    text.chars().take(300).collect::<String>()
                ));
            }
        }
        let diff = changed(&before, &row_counts(app).await);
        if !diff.is_empty() {
            problems.push(format!("{} → POST {}: rows changed: {diff:?}", form.page, form.action));
        }
    }
    probes
}

#[tokio::test]
async fn nul_in_any_field_of_any_page_form_is_refused_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let questions = json!([{"id": "why", "label": "Why us?", "kind": "textarea", "required": false}]);
    let program = app
        .post("/api/v1/programs", &f.owner.token, json!({"name": "Apply here", "slug": "apply-here", "application_questions": questions}))
        .await;
    assert_eq!(program.status, 201, "{}", program.text);
    let invitation = app.post("/api/v1/members", &f.owner.token, json!({"email": "newcomer@vendor.example", "role": "viewer"})).await;
    assert_eq!(invitation.status, 201, "{}", invitation.text);
    let invitation_path = invitation.body["invitation_url"].as_str().expect("url").trim_start_matches(&app.base_url).to_owned();
    let owner: WebSession<'_> = sign_in(&app, &f.owner.email).await;
    let partner: WebSession<'_> = sign_in(&app, &f.d1_admin.email).await;
    let mut problems = Vec::new();
    let mut probes = 0;

    // Anonymous forms: sign-in, application, invitation (each with the CSRF cookie its page set).
    for path in ["/login", "/apply/apply-here", invitation_path.as_str()] {
        let page = get_page(&app, path, None).await;
        assert_eq!(page.status, 200, "{path}: {}", page.text);
        let csrf = cookie_value(&page.headers, "trellis_csrf").map(|c| format!("trellis_csrf={c}")).unwrap_or_default();
        let forms = post_forms(path, &page.text);
        assert!(!forms.is_empty(), "{path} has a form");
        probes += sweep(&app, &forms, &csrf, &mut problems).await;
    }
    // The console as the owner, the portal as a distributor's admin.
    let console = crawl(&app, &["/", "/console/partners", "/console/programs"], Some(owner.cookie()), 120).await;
    let portal = crawl(&app, &["/", "/portal/profile"], Some(partner.cookie()), 80).await;
    let actions: BTreeSet<String> = console.iter().chain(&portal).map(|f| f.action.clone()).collect();
    assert!(actions.len() >= 20, "the crawl found the pages' forms: {actions:?}");
    // Forms that end the session go last (so the others still have one).
    let (last, first): (Vec<_>, Vec<_>) = console.into_iter().partition(|f| f.action == "/logout");
    probes += sweep(&app, &first, owner.cookie(), &mut problems).await;
    probes += sweep(&app, &last, owner.cookie(), &mut problems).await;
    let (last, first): (Vec<_>, Vec<_>) = portal.into_iter().partition(|f| f.action == "/logout");
    probes += sweep(&app, &first, partner.cookie(), &mut problems).await;
    probes += sweep(&app, &last, partner.cookie(), &mut problems).await;

    assert!(problems.is_empty(), "{} of {probes} page probes failed on {}:\n{}", problems.len(), app.backend_name(), problems.join("\n"));
    eprintln!(
        "{probes} page form probes ({} distinct console and portal form actions, and the sign-in, application and invitation forms) refused on {}",
        actions.len(),
        app.backend_name()
    );
}

#[tokio::test]
async fn control_characters_in_a_page_query_string_or_path_are_refused_with_a_page() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let owner = sign_in(&app, &f.owner.email).await;

    let query = owner.get("/console/partners?q=a%00b").await;
    let path = get_page(&app, "/apply/a%00b", None).await;
    let locator = get_page(&app, "/partners?q=a%07b", None).await;

    for (what, page) in [("query", &query), ("path", &path), ("locator", &locator)] {
        assert_eq!(page.status, 422, "{what}: {}", page.text);
        assert!(page.text.contains("control characters") && page.text.contains("<html"), "{what}: {}", page.text);
    }
}
