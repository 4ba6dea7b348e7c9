//! Issue 8: the OpenAPI document says what the server accepts, and the server accepts what the
//! document says (schemathesis runs every check against both in CI, `bench/api-conformance.sh`).
//! These tests pin the document's narrowed input and the server-side fixes the run found.

use reqwest::Method;
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};
use trellis_db::sql;
use trellis_testkit::TestApp;
use trellis_testkit::fixture::Fixture;

use crate::profiles::{PNG, multipart};

async fn document(app: &TestApp) -> Value {
    app.send(Method::GET, "/api/openapi.json", None, None).await.body
}

fn parameter<'a>(document: &'a Value, path: &str, method: &str, name: &str) -> &'a Value {
    document["paths"][path][method]["parameters"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == name))
        .unwrap_or_else(|| panic!("{method} {path} declares {name}"))
}

#[tokio::test]
async fn the_document_describes_ids_cursors_filters_and_texts_as_the_server_checks_them() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let document = document(&app).await;

    // Every path parameter has a pattern or an enum: nothing the path check refuses is promised.
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("item") {
            for p in operation["parameters"].as_array().into_iter().flatten() {
                let schema = &p["schema"];
                if schema["type"] == "string" {
                    assert!(
                        schema.get("pattern").is_some() || schema.get("enum").is_some(),
                        "{method} {path} {}: a free string (control characters are refused)",
                        p["name"]
                    );
                }
            }
        }
    }
    // An id in the path: its type's prefix and 26 base32 characters; a real id fits the shape.
    let id = parameter(&document, "/api/v1/partners/{id}", "get", "id")["schema"]["pattern"].as_str().expect("pattern");
    assert_eq!(id, "^ptn_[0-7][0-9a-hjkmnp-tv-z]{25}$");
    let real = f.p3.to_string();
    assert!(real.starts_with("ptn_") && real.len() == 30, "{real}");
    // A cursor is an id of the list's own objects; an empty cursor (422) does not fit.
    let cursor = &parameter(&document, "/api/v1/audit-events", "get", "cursor")["schema"];
    assert_eq!(cursor["pattern"], "^aud_[0-7][0-9a-hjkmnp-tv-z]{25}$");
    let empty = app.get("/api/v1/audit-events?cursor=", &f.owner.token).await;
    assert_eq!(empty.status, 422, "{}", empty.text);
    // Parsed filters are enums (an unknown or empty status is 422).
    let status = &parameter(&document, "/api/v1/partners", "get", "status")["schema"];
    assert_eq!(status["enum"], json!(["applied", "onboarding", "active", "suspended", "terminated", "rejected"]));
    assert_eq!(app.get("/api/v1/partners?status=", &f.owner.token).await.status, 422);
    // A required name is not blank and has no control characters; its limit is declared.
    let name = &document["components"]["schemas"]["CreateApiKeyRequest"]["properties"]["name"];
    assert_eq!((name["minLength"].clone(), name["maxLength"].clone()), (json!(1), json!(100)), "{name}");
    assert!(name["pattern"].as_str().is_some_and(|p| p.contains(r"\u0000-\u001f")), "{name}");
    let blank = app.post("/api/v1/api-keys", &f.owner.token, json!({"name": "   "})).await;
    assert_eq!(blank.status, 422, "{}", blank.text);
    // Multi-line fields allow newline and tab, and nothing else below U+0020.
    let reason = document["components"]["schemas"]["RejectRequest"]["properties"]["reason"]["pattern"].as_str().expect("reason");
    assert!(reason.contains(r"\u0000-\u0008\u000b\u000c\u000e-\u001f"), "{reason}");
    // A download is declared with the types the server stores.
    let download = document["paths"]["/api/v1/files/{id}"]["get"]["responses"]["200"]["content"].as_object().expect("content");
    let mut types: Vec<&String> = download.keys().collect();
    types.sort();
    assert_eq!(types, ["application/pdf", "image/jpeg", "image/png"]);
}

#[tokio::test]
async fn the_metrics_of_the_requirements_schema_are_the_registry() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let document = document(&app).await;
    let rules =
        &document["components"]["schemas"]["CreateTierRequest"]["properties"]["requirements"]["properties"]["all"]["items"]["oneOf"];
    let named = |i: usize| -> Vec<String> {
        rules[i]["properties"]["metric"]["enum"].as_array().expect("metrics").iter().map(|m| m.as_str().unwrap_or("").to_owned()).collect()
    };
    let (mut integers, mut booleans) = (named(0), named(1));
    let registry = app.get("/api/v1/metrics", &f.owner.token).await;
    let of_type = |kind: &str| -> Vec<String> {
        let mut names: Vec<String> = registry.body["data"]
            .as_array()
            .expect("data")
            .iter()
            .filter(|m| m["type"] == kind)
            .map(|m| m["name"].as_str().unwrap_or("").to_owned())
            .collect();
        names.sort();
        names
    };
    integers.sort();
    booleans.sort();
    assert_eq!(integers, of_type("integer"), "{}", registry.text);
    assert_eq!(booleans, of_type("boolean"), "{}", registry.text);
}

/// JSON Schema's integer 3 may be written `3.0`; the server reads it as 3 (a fraction is still
/// refused).
#[tokio::test]
async fn a_whole_number_written_with_a_fraction_is_an_integer() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let program = app.post("/api/v1/programs", &f.owner.token, json!({"name": "Floats", "slug": "floats"})).await;
    assert_eq!(program.status, 201, "{}", program.text);
    let tiers = format!("/api/v1/programs/{}/tiers", program.body["id"].as_str().expect("id"));

    let whole = app.post(&tiers, &f.owner.token, json!({"name": "Gold", "rank": 3.0})).await;
    let fraction = app.post(&tiers, &f.owner.token, json!({"name": "Silver", "rank": 2.5})).await;

    assert_eq!((whole.status, whole.body["rank"].clone()), (201, json!(3)), "{}", whole.text);
    assert_eq!(fraction.status, 422, "{}", fraction.text);
    assert_eq!(fraction.body["errors"][0]["field"], "rank", "{}", fraction.text);
}

/// A body is an object: an array of a patch's fields in order (which serde would read into the
/// struct) is refused and changes nothing (found by schemathesis on `PATCH /contracts/{id}`).
#[tokio::test]
async fn a_body_that_is_not_an_object_is_refused() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let path = format!("/api/v1/partners/{}", f.r1a);
    let before = app.get(&path, &f.owner.token).await;

    for body in [json!([null, null]), json!(["Renamed"]), json!("Renamed"), json!(3)] {
        let refused = app.patch(&path, &f.owner.token, body.clone()).await;
        assert_eq!(refused.status, 422, "{body}: {}", refused.text);
    }
    let after = app.get(&path, &f.owner.token).await;
    let renamed = app.patch(&path, &f.owner.token, json!({"name": "Renamed"})).await;

    assert_eq!(after.body, before.body, "the refused bodies changed nothing");
    assert_eq!(renamed.status, 200, "{}", renamed.text);
    assert_eq!(renamed.body["name"], "Renamed");
}

/// An upload's parts are `purpose` and `file` (the document says `additionalProperties: false`);
/// another part is refused like an unknown JSON field, and nothing is stored.
#[tokio::test]
async fn an_upload_with_a_part_the_document_does_not_list_is_refused() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let (content_type, body) = multipart(&[("purpose", "logo"), ("caption", "ours")], Some(("logo.png", Some("image/png"), PNG)));
    let response = app
        .client
        .post(format!("{}/api/v1/partners/{}/files", app.base_url, f.p3))
        .bearer_auth(&f.owner.token)
        .header(CONTENT_TYPE, content_type)
        .body(body)
        .send()
        .await
        .expect("request reaches the server");
    let status = response.status().as_u16();
    let reply: Value = response.json().await.unwrap_or(Value::Null);

    assert_eq!(status, 422, "{reply}");
    assert_eq!(reply["errors"][0]["field"], "caption", "{reply}");
    assert_eq!(app.query_i64(sql!("SELECT COUNT(*) FROM files")).await, 0, "nothing was stored");
}

/// A question's label is at most 300 characters (the document's `maxLength` counts characters,
/// not bytes).
#[tokio::test]
async fn a_question_label_is_counted_in_characters() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let program = app.post("/api/v1/programs", &f.owner.token, json!({"name": "Labels", "slug": "labels"})).await;
    let path = format!("/api/v1/programs/{}", program.body["id"].as_str().expect("id"));
    let question = |label: String| json!({"application_questions": [{"id": "q1", "label": label, "kind": "text"}]});

    let at_limit = app.patch(&path, &f.owner.token, question("é".repeat(300))).await;
    let over = app.patch(&path, &f.owner.token, question("é".repeat(301))).await;

    assert_eq!(at_limit.status, 200, "300 two-byte characters: {}", at_limit.text);
    assert_eq!(over.status, 422, "{}", over.text);
}
