//! End-to-end smoke tests of the foundation.

use serde_json::json;
use trellis_testkit::TestApp;
use trellis_testkit::fixture::Fixture;

#[tokio::test]
async fn a_distributor_sees_its_resellers_but_a_reseller_sees_only_itself() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;

    let distributor = app.get("/api/v1/partners", &f.d1_admin.token).await;
    let reseller = app.get("/api/v1/partners", &f.r1a_admin.token).await;

    let names = |reply: &trellis_testkit::Reply| {
        let mut names: Vec<String> =
            reply.body["data"].as_array().expect("data").iter().map(|p| p["name"].as_str().unwrap_or("").to_owned()).collect();
        names.sort();
        names
    };
    assert_eq!(names(&distributor), ["D1", "R1a", "R1b"]);
    assert_eq!(names(&reseller), ["R1a"]);
    assert_eq!(app.get(&format!("/api/v1/partners/{}", f.d1), &f.r1a_admin.token).await.status, 404);
}

#[tokio::test]
async fn malformed_and_invalid_bodies_are_problems_and_change_nothing() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let before = app.get("/api/v1/partners?limit=500", &f.owner.token).await.body["data"].as_array().map(Vec::len);

    let unknown_type =
        app.post("/api/v1/partners", &f.owner.token, json!({"name": "X", "contact_email": "x@x.example", "types": ["wholesaler"]})).await;
    let bad_email =
        app.post("/api/v1/partners", &f.owner.token, json!({"name": "X", "contact_email": "nope", "types": ["reseller"]})).await;
    let syntax =
        app.send_with(reqwest::Method::POST, "/api/v1/partners", Some(&f.owner.token), None, &[("content-type", "application/json")]).await;

    assert_eq!(unknown_type.status, 422);
    assert_eq!(unknown_type.body["code"], "validation_failed");
    assert_eq!(unknown_type.body["errors"][0]["field"], "types[0]");
    assert_eq!(bad_email.status, 422);
    assert_eq!(bad_email.body["errors"][0]["field"], "contact_email");
    assert_eq!(syntax.status, 400);
    assert_eq!(syntax.body["code"], "malformed_request");
    let after = app.get("/api/v1/partners?limit=500", &f.owner.token).await.body["data"].as_array().map(Vec::len);
    assert_eq!(before, after);
}
