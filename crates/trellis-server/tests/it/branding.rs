//! The workspace's branding (issue 8): an accent colour checked for contrast and a PNG or JPEG
//! logo, set in the console and through the API by owners and admins only, shown on the public
//! pages through a per-workspace stylesheet and logo route (no inline style).

use reqwest::header::CONTENT_TYPE;
use serde_json::json;
use trellis_testkit::fixture::Fixture;
use trellis_testkit::{Reply, TestApp};

use crate::profiles::{PNG, PNG_SIGNATURE, assert_safe_page, download, get_page, multipart, sign_in};

const SVG: &[u8] = br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#;

/// `PUT /api/v1/workspace/logo` with a file.
async fn put_logo(app: &TestApp, bearer: &str, filename: &str, content_type: Option<&str>, bytes: &[u8]) -> Reply {
    let (multipart_type, body) = multipart(&[], Some((filename, content_type, bytes)));
    let response = app
        .client
        .put(format!("{}/api/v1/workspace/logo", app.base_url))
        .bearer_auth(bearer)
        .header(CONTENT_TYPE, multipart_type)
        .body(body)
        .send()
        .await
        .expect("request reaches the server");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap_or_default();
    Reply { status, body: serde_json::from_str(&text).unwrap_or(serde_json::Value::Null), text, headers }
}

async fn workspace(app: &TestApp, f: &Fixture) -> serde_json::Value {
    let reply = app.get("/api/v1/workspace", &f.owner.token).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.body
}

#[tokio::test]
async fn owners_brand_the_public_pages_in_the_console_and_bad_colours_or_files_change_nothing() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    crate::recruitment::program_with_questions(&app, &f, "resellers", json!([])).await;
    let owner = sign_in(&app, &f.owner.email).await;

    let settings = owner.get("/console/settings").await;
    assert_eq!(settings.status, 200, "{}", settings.text);
    assert_safe_page("/console/settings", &settings);
    assert!(settings.text.contains(r#"href="/console/settings""#), "owners find the settings in the navigation");

    // Refused colours and files are field errors and change nothing.
    let too_light = owner.submit("/console/settings", &[("brand_colour", "#ffff00")]).await;
    assert_eq!(too_light.status, 422, "{}", too_light.text);
    assert!(too_light.text.contains("too light"), "{}", too_light.text);
    assert!(too_light.text.contains(r#"aria-invalid="true""#), "the error is next to the field");
    let not_a_colour = owner.submit("/console/settings", &[("brand_colour", "red; } body { display: none")]).await;
    assert_eq!(not_a_colour.status, 422);
    let svg = owner.submit_file("/console/settings/logo", &[], Some(("logo.svg", Some("image/svg+xml"), SVG))).await;
    assert_eq!(svg.status, 422, "{}", svg.text);
    assert!(svg.text.contains("must be a PNG or JPEG image"), "{}", svg.text);
    let big = [PNG, &vec![0u8; 1024 * 1024]].concat();
    let too_big = owner.submit_file("/console/settings/logo", &[], Some(("big.png", Some("image/png"), &big))).await;
    assert_eq!(too_big.status, 422, "{}", too_big.text);
    assert!(too_big.text.contains("at most 1 MiB"), "{}", too_big.text);
    let unchanged = workspace(&app, &f).await;
    assert_eq!((unchanged["brand_colour"].clone(), unchanged["brand_logo_url"].clone()), (json!(null), json!(null)));

    // Accepted: the colour (normalised) and the logo.
    let saved = owner.submit("/console/settings", &[("brand_colour", "#7B1FA2")]).await;
    assert_eq!(saved.status, 303, "{}", saved.text);
    let logo = owner.submit_file("/console/settings/logo", &[], Some(("logo.png", Some("image/png"), PNG))).await;
    assert_eq!(logo.status, 303, "{}", logo.text);
    let branded = workspace(&app, &f).await;
    assert_eq!(branded["brand_colour"], "#7b1fa2");
    let logo_url = branded["brand_logo_url"].as_str().expect("a logo url").to_owned();
    let ws = f.workspace_id.to_string();
    assert!(logo_url.starts_with(&format!("/brand/{ws}/logo?v=")), "{logo_url}");

    // Every public page links the stylesheet and shows the logo; none has an inline style.
    let stylesheet = format!(r#"<link rel="stylesheet" href="/brand/{ws}/style.css?v=7b1fa2">"#);
    let logo_tag = format!(r#"<img src="{}""#, logo_url.replace('/', "&#x2f;").replace('=', "&#x3d;"));
    for path in ["/apply/resellers".to_owned(), "/apply/resellers/thanks".to_owned(), format!("/partners?workspace={ws}")] {
        let page = get_page(&app, &path).await;
        assert_eq!(page.status, 200, "{path}: {}", page.text);
        assert_safe_page(&path, &page);
        assert!(page.text.contains(&stylesheet), "{path}: no brand stylesheet in {}", page.text);
        assert!(page.text.contains(&logo_tag) || page.text.contains(&format!(r#"<img src="{logo_url}""#)), "{path}: no logo");
        assert!(!page.text.contains("· Trellis</title>"), "{path}: the vendor's name, not Trellis's");
    }
    let (status, headers, css) = download(&app, &format!("/brand/{ws}/style.css?v=7b1fa2"), None, None).await;
    assert_eq!(status, 200);
    assert!(headers[CONTENT_TYPE].to_str().unwrap_or("").starts_with("text/css"));
    assert!(headers["cache-control"].to_str().unwrap_or("").contains("public"));
    assert!(String::from_utf8_lossy(&css).contains("--accent: #7b1fa2;"), "{}", String::from_utf8_lossy(&css));
    let (status, headers, bytes) = download(&app, &logo_url, None, None).await;
    assert_eq!(status, 200);
    assert_eq!(headers[CONTENT_TYPE], "image/png");
    assert!(bytes.starts_with(PNG_SIGNATURE));
    let (other_status, _, _) = download(&app, &format!("/brand/{}/logo", f.other_workspace_id), None, None).await;
    assert_eq!(other_status, 404, "a workspace without a logo has none");

    // Signed-in pages keep Trellis's own look.
    let home = owner.get("/").await;
    assert!(!home.text.contains("/brand/"), "the console is not branded");

    // Removing the logo.
    let removed = owner.submit("/console/settings/logo/remove", &[]).await;
    assert_eq!(removed.status, 303, "{}", removed.text);
    assert_eq!(workspace(&app, &f).await["brand_logo_url"], json!(null));
    assert_eq!(download(&app, &logo_url, None, None).await.0, 404);
}

#[tokio::test]
async fn only_owners_and_admins_change_the_branding_in_the_console() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let viewer = sign_in(&app, &f.viewer.email).await;
    let manager = sign_in(&app, &f.channel_manager.email).await;
    let partner = sign_in(&app, &f.d1_admin.email).await;
    let admin = sign_in(&app, &f.admin.email).await;

    assert_eq!(viewer.get("/console/settings").await.status, 403);
    assert!(!viewer.get("/").await.text.contains(r#"href="/console/settings""#), "not in a viewer's navigation");
    assert_eq!(viewer.submit("/console/settings", &[("brand_colour", "#0b5394")]).await.status, 403);
    assert_eq!(manager.submit("/console/settings", &[("brand_colour", "#0b5394")]).await.status, 403);
    assert_eq!(viewer.submit_file("/console/settings/logo", &[], Some(("logo.png", Some("image/png"), PNG))).await.status, 403);
    assert_eq!(viewer.submit("/console/settings/logo/remove", &[]).await.status, 403);
    assert_eq!(partner.get("/console/settings").await.status, 404);
    assert_eq!(partner.submit("/console/settings", &[("brand_colour", "#0b5394")]).await.status, 404);
    let unchanged = workspace(&app, &f).await;
    assert_eq!((unchanged["brand_colour"].clone(), unchanged["brand_logo_url"].clone()), (json!(null), json!(null)));

    assert_eq!(admin.submit("/console/settings", &[("brand_colour", "#0b5394")]).await.status, 303);
    assert_eq!(workspace(&app, &f).await["brand_colour"], "#0b5394");
    let audit = app.get("/api/v1/audit-events?action=workspace.updated", &f.owner.token).await;
    assert!(audit.text.contains("#0b5394"), "the change is audited: {}", audit.text);
}

#[tokio::test]
async fn the_api_sets_and_removes_the_branding_for_owners_and_admins_only() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;

    let colour = app.patch("/api/v1/workspace", &f.admin.token, json!({"brand_colour": "#0B5394"})).await;
    assert_eq!(colour.status, 200, "{}", colour.text);
    assert_eq!(colour.body["brand_colour"], "#0b5394");
    for bad in ["#fff", "0b5394", "#eeeeee", "#12345g"] {
        let refused = app.patch("/api/v1/workspace", &f.owner.token, json!({"brand_colour": bad})).await;
        assert_eq!(refused.status, 422, "{bad}: {}", refused.text);
        assert_eq!(refused.body["errors"][0]["field"], "brand_colour", "{}", refused.text);
    }
    let by_viewer = app.patch("/api/v1/workspace", &f.viewer.token, json!({"brand_colour": "#000000"})).await;
    assert_eq!(by_viewer.status, 403);
    assert_eq!(workspace(&app, &f).await["brand_colour"], "#0b5394", "refused changes change nothing");

    let svg = put_logo(&app, &f.owner.token, "logo.svg", Some("image/svg+xml"), SVG).await;
    assert_eq!(svg.status, 422, "{}", svg.text);
    let pdf_as_png = put_logo(&app, &f.owner.token, "logo.png", Some("image/png"), b"%PDF-1.4\n").await;
    assert_eq!(pdf_as_png.status, 422, "{}", pdf_as_png.text);
    let by_partner = put_logo(&app, &f.d1_admin.token, "logo.png", Some("image/png"), PNG).await;
    assert_eq!(by_partner.status, 403, "{}", by_partner.text);
    let by_viewer = put_logo(&app, &f.viewer.token, "logo.png", Some("image/png"), PNG).await;
    assert_eq!(by_viewer.status, 403, "{}", by_viewer.text);
    assert_eq!(workspace(&app, &f).await["brand_logo_url"], json!(null));

    let stored = put_logo(&app, &f.owner.token, "logo.png", Some("image/png"), PNG).await;
    assert_eq!(stored.status, 200, "{}", stored.text);
    let url = stored.body["brand_logo_url"].as_str().expect("logo url").to_owned();
    let (status, _, bytes) = download(&app, &url, None, None).await;
    assert_eq!(status, 200);
    assert!(bytes.starts_with(PNG_SIGNATURE));
    let apply_page = get_page(&app, &format!("/partners?workspace={}", f.workspace_id)).await;
    assert!(apply_page.text.contains("style.css?v=0b5394"), "{}", apply_page.text);

    let removed = app.delete("/api/v1/workspace/logo", &f.owner.token).await;
    assert_eq!(removed.status, 200, "{}", removed.text);
    assert_eq!(removed.body["brand_logo_url"], json!(null));
    let cleared = app.patch("/api/v1/workspace", &f.owner.token, json!({"brand_colour": null})).await;
    assert_eq!(cleared.body["brand_colour"], json!(null));
    let page = get_page(&app, &format!("/partners?workspace={}", f.workspace_id)).await;
    assert!(!page.text.contains("/brand/"), "no branding left: {}", page.text);
}
