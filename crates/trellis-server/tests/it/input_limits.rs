//! Limits of input (issue 6): bodies over the limits are a 413 problem document (F6) — a page for
//! a browser outside the API — and list parameters outside their documented bounds are 422
//! naming the parameter instead of being clamped or ignored.

use reqwest::Method;
use reqwest::header::{ACCEPT, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use serde_json::{Value, json};
use trellis_testkit::TestApp;
use trellis_testkit::fixture::Fixture;

struct Answer {
    status: u16,
    content_type: String,
    csp: bool,
    text: String,
}

impl Answer {
    fn code(&self) -> Value {
        serde_json::from_str::<Value>(&self.text).map(|v| v["code"].clone()).unwrap_or(Value::Null)
    }
}

async fn post_bytes(app: &TestApp, path: &str, bearer: Option<&str>, content_type: &str, accept: Option<&str>, body: Vec<u8>) -> Answer {
    let mut request = app.client.post(format!("{}{path}", app.base_url)).header(CONTENT_TYPE, content_type).body(body);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    if let Some(accept) = accept {
        request = request.header(ACCEPT, accept);
    }
    let response = request.send().await.expect("request reaches the server");
    let status = response.status().as_u16();
    let content_type = response.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let csp = response.headers().contains_key(CONTENT_SECURITY_POLICY);
    Answer { status, content_type, csp, text: response.text().await.unwrap_or_default() }
}

fn assert_too_large_problem(what: &str, answer: &Answer) {
    assert_eq!(answer.status, 413, "{what}: {}", answer.text);
    assert_eq!(answer.content_type, "application/problem+json", "{what}: {}", answer.text);
    assert_eq!(answer.code(), json!("payload_too_large"), "{what}: {}", answer.text);
    assert!(answer.csp, "{what}: the security headers are on the 413 too");
}

#[tokio::test]
async fn json_over_one_mib_is_a_413_problem_document_not_a_400() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let big = serde_json::to_vec(&json!({"name": "x".repeat(1024 * 1024 + 10), "contact_email": "big@big.example", "types": ["reseller"]}))
        .expect("json");

    let api = post_bytes(&app, "/api/v1/partners", Some(&f.owner.token), "application/json", None, big.clone()).await;
    let public = post_bytes(&app, "/api/v1/auth/login", None, "application/json", None, big).await;

    assert_too_large_problem("POST /api/v1/partners", &api);
    assert_too_large_problem("POST /api/v1/auth/login", &public);
    let stored = app.query_i64(trellis_db::sql!("SELECT COUNT(*) FROM partners WHERE contact_email = 'big@big.example'")).await;
    assert_eq!(stored, 0);
}

#[tokio::test]
async fn bodies_over_the_upload_limit_are_a_413_problem_document_or_page() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let over_upload = vec![b'a'; trellis_web::limits::MAX_UPLOAD_BODY_BYTES + 1];
    let form_over_one_mib = format!("email=a%40b.example&password={}&csrf_token=x", "p".repeat(1024 * 1024 + 10)).into_bytes();
    let upload = format!("/api/v1/partners/{}/files", f.p3);

    let api = post_bytes(&app, &upload, Some(&f.owner.token), "multipart/form-data; boundary=x", None, over_upload.clone()).await;
    let page_api_client = post_bytes(&app, "/login", None, "application/x-www-form-urlencoded", None, over_upload.clone()).await;
    let page_browser = post_bytes(&app, "/login", None, "application/x-www-form-urlencoded", Some("text/html"), over_upload).await;
    let form_browser =
        post_bytes(&app, "/login", None, "application/x-www-form-urlencoded", Some("text/html,*/*"), form_over_one_mib.clone()).await;
    let form_client = post_bytes(&app, "/login", None, "application/x-www-form-urlencoded", None, form_over_one_mib).await;

    assert_too_large_problem("upload over the limit", &api);
    assert_too_large_problem("a page post over the upload limit (no HTML wanted)", &page_api_client);
    assert_too_large_problem("a form over 1 MiB (no HTML wanted)", &form_client);
    for (what, answer) in [("a page post over the upload limit", &page_browser), ("a form over 1 MiB", &form_browser)] {
        assert_eq!(answer.status, 413, "{what}: {}", answer.text);
        assert!(answer.content_type.starts_with("text/html"), "{what}: a browser gets a page ({})", answer.content_type);
        assert!(answer.text.contains("Too large") && answer.csp, "{what}: {}", answer.text);
    }
    let files = app.query_i64(trellis_db::sql!("SELECT COUNT(*) FROM files")).await;
    assert_eq!(files, 0);
}

// ---------------------------------------------------------------------------------------------
// Lists

/// Every operation of the OpenAPI document with a `limit` parameter, with its path filled in.
async fn list_operations(app: &TestApp, f: &Fixture) -> Vec<(String, Value)> {
    let openapi = app.send(Method::GET, "/api/openapi.json", None, None).await.body;
    let mut lists = Vec::new();
    for (template, item) in openapi["paths"].as_object().expect("paths") {
        let Some(operation) = item.get("get") else { continue };
        let parameters = operation["parameters"].as_array().cloned().unwrap_or_default();
        if let Some(limit) = parameters.iter().find(|p| p["name"] == "limit") {
            let mut path = template.replace("{id}", f.p3.as_str());
            if parameters.iter().any(|p| p["name"] == "workspace") {
                // The public locator names its workspace when the instance hosts several.
                path = format!("{path}?workspace={}", f.workspace_id);
            }
            lists.push((path, limit.clone()));
        }
    }
    lists
}

fn with(path: &str, query: &str) -> String {
    format!("{path}{}{query}", if path.contains('?') { '&' } else { '?' })
}

#[tokio::test]
async fn limit_outside_1_to_500_and_cursors_no_page_gave_out_are_422_naming_the_parameter_on_every_list() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let lists = list_operations(&app, &f).await;
    assert!(lists.len() >= 8, "the paged lists: {lists:?}");
    let mut problems = Vec::new();
    let foreign_kind = format!("cursor={}", trellis_core::WorkspaceId::generate());

    for (path, limit) in &lists {
        if limit["in"] != "query" || limit["schema"]["minimum"] != json!(1) || limit["schema"]["maximum"] != json!(500) {
            problems.push(format!("{path}: the document says limit is {limit}"));
        }
        for (query, field) in [
            ("limit=0", "limit"),
            ("limit=501", "limit"),
            ("limit=-1", "limit"),
            ("limit=many", "limit"),
            ("limit=", "limit"),
            ("cursor=garbage", "cursor"),
            ("cursor=", "cursor"),
            // A well-formed id of another kind is no cursor of this list either.
            (foreign_kind.as_str(), "cursor"),
        ] {
            let reply = app.get(&with(path, query), &f.owner.token).await;
            let named = reply.body["errors"].as_array().into_iter().flatten().any(|e| e["field"] == field);
            if reply.status != 422 || reply.body["code"] != "validation_failed" || !named {
                problems.push(format!("{path}?{query}: {} {}", reply.status, reply.text));
            }
        }
        for query in ["limit=1", "limit=500"] {
            let reply = app.get(&with(path, query), &f.owner.token).await;
            if reply.status != 200 {
                problems.push(format!("{path}?{query}: {} {}", reply.status, reply.text));
            }
        }
    }

    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[tokio::test]
async fn a_cursor_from_the_first_page_still_reads_the_second() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;

    for list in ["/api/v1/partners", "/api/v1/audit-events"] {
        let first = app.get(&format!("{list}?limit=2"), &f.owner.token).await;
        assert_eq!(first.status, 200, "{}", first.text);
        let cursor = first.body["next_cursor"].as_str().expect("more than two rows").to_owned();
        let second = app.get(&format!("{list}?limit=2&cursor={cursor}"), &f.owner.token).await;

        assert_eq!(second.status, 200, "{list}: {}", second.text);
        let ids = |reply: &trellis_testkit::Reply| -> Vec<String> {
            reply.body["data"].as_array().into_iter().flatten().filter_map(|r| r["id"].as_str().map(str::to_owned)).collect()
        };
        let (one, two) = (ids(&first), ids(&second));
        assert_eq!((one.len(), two.len()), (2, 2), "{list}");
        assert!(one.iter().all(|id| !two.contains(id)), "{list}: the second page goes on where the first ended");
        assert!(two.iter().all(|id| id.as_str() < cursor.as_str()), "{list}: older than the cursor");
    }
}
