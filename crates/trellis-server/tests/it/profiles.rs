//! Partner profiles and files: uploads checked by their bytes and size, downloads only for those
//! who can see the owning partner, a partner's legal-name and territory changes waiting for the
//! vendor, and the portal and console pages that do the same. Also the helpers the compliance
//! and locator tests share (multipart uploads, a signed-in browser).

use reqwest::header::{CONTENT_DISPOSITION, CONTENT_TYPE, COOKIE, HeaderMap, LOCATION, SET_COOKIE};
use serde_json::{Value, json};
use trellis_core::{Clock, PartnerId};
use trellis_db::sql;
use trellis_testkit::fixture::{Fixture, PASSWORD};
use trellis_testkit::{Reply, TestApp};

/// A whole 1 × 1 PNG image (logos are decoded, so a header alone no longer passes).
pub(crate) const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDAT\x78\xda\x63\xd0\xca\xbf\xf2\x1f\x00\x04\xa1\x02\x6d\xf7\x1f\x4a\xea\0\0\0\0IEND\xae\x42\x60\x82";
/// The signature every PNG starts with; a stored logo is the upload re-encoded, so tests compare
/// this and the stored hash rather than the uploaded bytes.
pub(crate) const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

pub(crate) fn pdf(text: &str) -> Vec<u8> {
    format!("%PDF-1.4\n% {text}\n%%EOF\n").into_bytes()
}

/// Today on the app's clock, as `YYYY-MM-DD`, shifted by `days`.
pub(crate) fn day(app: &TestApp, days: i64) -> String {
    let today = trellis_records::dates::today(app.clock.now());
    trellis_records::dates::format(trellis_records::dates::add_days(today, days))
}

/// A multipart body with text fields and at most one file part named `file`.
pub(crate) fn multipart(fields: &[(&str, &str)], file: Option<(&str, Option<&str>, &[u8])>) -> (String, Vec<u8>) {
    let boundary = "trellis-test-boundary-7d1f";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").into_bytes());
    }
    if let Some((filename, content_type, bytes)) = file {
        body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n").into_bytes());
        if let Some(content_type) = content_type {
            body.extend(format!("Content-Type: {content_type}\r\n").into_bytes());
        }
        body.extend(b"\r\n");
        body.extend(bytes);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{boundary}--\r\n").into_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// `POST /api/v1/partners/{partner}/files` with a purpose and a file.
pub(crate) async fn upload(
    app: &TestApp,
    bearer: &str,
    partner: &PartnerId,
    purpose: &str,
    filename: &str,
    content_type: Option<&str>,
    bytes: &[u8],
) -> Reply {
    let (content_type, body) = multipart(&[("purpose", purpose)], Some((filename, content_type, bytes)));
    let response = app
        .client
        .post(format!("{}/api/v1/partners/{partner}/files", app.base_url))
        .bearer_auth(bearer)
        .header(CONTENT_TYPE, content_type)
        .body(body)
        .send()
        .await
        .expect("request reaches the server");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap_or_default();
    Reply { status, body: serde_json::from_str(&text).unwrap_or(Value::Null), text, headers }
}

/// A download: status, headers and the raw bytes.
pub(crate) async fn download(app: &TestApp, path: &str, bearer: Option<&str>, cookie: Option<&str>) -> (u16, HeaderMap, Vec<u8>) {
    let mut request = app.client.get(format!("{}{path}", app.base_url));
    if let Some(bearer) = bearer {
        request = request.bearer_auth(bearer);
    }
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, cookie);
    }
    let response = request.send().await.expect("request reaches the server");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.bytes().await.expect("body").to_vec())
}

fn id_of(reply: &Reply) -> String {
    assert!(reply.status == 200 || reply.status == 201, "{}", reply.text);
    reply.body["id"].as_str().expect("id").to_owned()
}

fn field_messages(reply: &Reply) -> Vec<(String, String)> {
    reply.body["errors"]
        .as_array()
        .map(|errors| {
            errors.iter().map(|e| (e["field"].as_str().unwrap_or("").to_owned(), e["message"].as_str().unwrap_or("").to_owned())).collect()
        })
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// A signed-in browser (cookies carried by hand)

pub(crate) struct Page {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
}

pub(crate) struct Browser<'a> {
    app: &'a TestApp,
    pub cookie: String,
    csrf: String,
}

fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next()?.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

fn urlencoded(fields: &[(&str, &str)]) -> String {
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

pub(crate) async fn get_page(app: &TestApp, path: &str) -> Page {
    read(app.client.get(format!("{}{path}", app.base_url)).send().await.expect("request reaches the server")).await
}

/// Signs in through `/login` like a browser.
pub(crate) async fn sign_in<'a>(app: &'a TestApp, email: &str) -> Browser<'a> {
    let form = get_page(app, "/login").await;
    let login_csrf = cookie_value(&form.headers, "trellis_csrf").expect("CSRF cookie");
    let signed = app
        .client
        .post(format!("{}/login", app.base_url))
        .header(COOKIE, format!("trellis_csrf={login_csrf}"))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(urlencoded(&[("email", email), ("password", PASSWORD), ("csrf_token", &login_csrf)]))
        .send()
        .await
        .expect("sign-in");
    assert_eq!(signed.status().as_u16(), 303, "sign-in of {email} failed");
    let cookie = format!("trellis_session={}", cookie_value(signed.headers(), "trellis_session").expect("session cookie"));
    let home = read(app.client.get(format!("{}/", app.base_url)).header(COOKIE, &cookie).send().await.expect("home")).await;
    let marker = r#"name="csrf_token" value=""#;
    let start = home.text.find(marker).expect("the home page carries the CSRF token") + marker.len();
    let csrf = home.text[start..].split('"').next().expect("token").to_owned();
    Browser { app, cookie, csrf }
}

impl Browser<'_> {
    pub(crate) async fn get(&self, path: &str) -> Page {
        let request = self.app.client.get(format!("{}{path}", self.app.base_url)).header(COOKIE, &self.cookie);
        read(request.send().await.expect("request reaches the server")).await
    }

    /// Posts a form with the session's CSRF token.
    pub(crate) async fn submit(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut all = vec![("csrf_token", self.csrf.as_str())];
        all.extend_from_slice(fields);
        let request = self
            .app
            .client
            .post(format!("{}{path}", self.app.base_url))
            .header(COOKIE, &self.cookie)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(urlencoded(&all));
        read(request.send().await.expect("request reaches the server")).await
    }

    /// Posts a multipart form (fields and a file) with the session's CSRF token.
    pub(crate) async fn submit_file(&self, path: &str, fields: &[(&str, &str)], file: Option<(&str, Option<&str>, &[u8])>) -> Page {
        let mut all = vec![("csrf_token", self.csrf.as_str())];
        all.extend_from_slice(fields);
        let (content_type, body) = multipart(&all, file);
        let request = self
            .app
            .client
            .post(format!("{}{path}", self.app.base_url))
            .header(COOKIE, &self.cookie)
            .header(CONTENT_TYPE, content_type)
            .body(body);
        read(request.send().await.expect("request reaches the server")).await
    }
}

/// The CSP, viewport and no-inline-code checks every page must pass.
pub(crate) fn assert_safe_page(path: &str, page: &Page) {
    let csp = page.headers.get("content-security-policy").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(csp.contains("script-src 'self'") && !csp.contains("'unsafe-inline'"), "{path}: CSP {csp:?}");
    assert!(page.text.contains(r#"<meta name="viewport""#), "{path}: no viewport meta tag");
    assert!(!page.text.contains(" style=") && !page.text.contains(" onclick="), "{path}: inline style or handler");
    assert!(
        page.text.split("<script").skip(1).all(|tag| tag.split('>').next().is_some_and(|t| t.contains(" src="))),
        "{path}: inline script"
    );
}

// ---------------------------------------------------------------------------------------------
// Uploads and downloads

#[tokio::test]
async fn an_upload_is_typed_by_its_bytes_and_refused_when_too_big_or_of_a_kind_its_purpose_does_not_take() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let admin = &f.r1a_admin.token;
    let big_logo = [PNG, &vec![0u8; 1024 * 1024]].concat();
    let big_document = [pdf("big").as_slice(), &vec![b' '; 10 * 1024 * 1024]].concat();

    let pdf_claiming_png = upload(&app, admin, &f.r1a, "licence", "scan.png", Some("image/png"), &pdf("x")).await;
    let html_claiming_pdf = upload(&app, admin, &f.r1a, "licence", "licence.pdf", Some("application/pdf"), b"<html><script>").await;
    let pdf_as_logo = upload(&app, admin, &f.r1a, "logo", "logo.pdf", Some("application/pdf"), &pdf("x")).await;
    let logo_too_big = upload(&app, admin, &f.r1a, "logo", "logo.png", Some("image/png"), &big_logo).await;
    let document_too_big = upload(&app, admin, &f.r1a, "licence", "licence.pdf", Some("application/pdf"), &big_document).await;
    let empty = upload(&app, admin, &f.r1a, "licence", "licence.pdf", Some("application/pdf"), b"").await;
    let no_purpose = upload(&app, admin, &f.r1a, "brochure", "x.pdf", None, &pdf("x")).await;
    let logo = upload(&app, admin, &f.r1a, "logo", "../../Our Logo<b>.PNG", Some("application/octet-stream"), PNG).await;
    let document = upload(&app, admin, &f.r1a, "licence", "Lizenz Köln.pdf", None, &big_document[..9 * 1024 * 1024]).await;

    for (what, reply, message) in [
        ("a PDF declared as PNG", &pdf_claiming_png, "does not match"),
        ("HTML named .pdf", &html_claiming_pdf, "PDF, PNG or JPEG"),
        ("a PDF as logo", &pdf_as_logo, "PNG or JPEG image"),
        ("a logo over 1 MiB", &logo_too_big, "at most 1 MiB"),
        ("a document over 10 MiB", &document_too_big, "at most 10 MiB"),
        ("an empty file", &empty, "must not be empty"),
    ] {
        assert_eq!(reply.status, 422, "{what}: {}", reply.text);
        let messages = field_messages(reply);
        assert!(messages.iter().any(|(field, m)| field == "file" && m.contains(message)), "{what}: {messages:?}");
    }
    assert_eq!(no_purpose.status, 422);
    assert_eq!(field_messages(&no_purpose)[0].0, "purpose");
    assert_eq!(logo.status, 201, "{}", logo.text);
    assert_eq!(logo.body["filename"], "Our Logo_b_.png", "directories and markup are gone; the extension is the type's");
    assert_eq!(logo.body["content_type"], "image/png");
    assert_eq!(logo.body["purpose"], "logo");
    let sha = logo.body["sha256"].as_str().expect("sha256");
    let blob = std::fs::read(app.data_dir.join("files").join(sha)).expect("the blob is stored by its hash");
    assert!(blob.starts_with(PNG_SIGNATURE), "the logo is stored as a PNG");
    assert_eq!(logo.body["size"], blob.len(), "the answer describes the stored bytes");
    assert_eq!(document.status, 201, "{}", document.text);
    assert_eq!(document.body["filename"], "Lizenz Köln.pdf");
    assert_eq!(document.body["size"], 9 * 1024 * 1024);
    let stored = app.query_i64(sql!("SELECT COUNT(*) AS n FROM files WHERE workspace_id = $1", f.workspace_id.to_string())).await;
    assert_eq!(stored, 2, "refused uploads leave no row");
}

#[tokio::test]
async fn a_file_downloads_as_an_attachment_only_for_those_who_can_see_its_partner() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let contents = pdf("R1a's licence");
    let uploaded = upload(&app, &f.r1a_admin.token, &f.r1a, "licence", "licence 2026.pdf", Some("application/pdf"), &contents).await;
    let path = format!("/api/v1/files/{}", id_of(&uploaded));

    let (own, headers, bytes) = download(&app, &path, Some(&f.r1a_member.token), None).await;
    let (distributor, _, _) = download(&app, &path, Some(&f.d1_admin.token), None).await;
    let (staff, _, _) = download(&app, &path, Some(&f.viewer.token), None).await;
    let (sibling, _, sibling_body) = download(&app, &path, Some(&f.r1b_admin.token), None).await;
    let (unrelated, _, _) = download(&app, &path, Some(&f.d2_admin.token), None).await;
    let (other_vendor, _, _) = download(&app, &path, Some(&f.other_owner.token), None).await;
    let (anonymous, _, _) = download(&app, &path, None, None).await;
    let member_uploads = upload(&app, &f.r1a_member.token, &f.r1a, "licence", "x.pdf", None, &pdf("x")).await;

    assert_eq!(own, 200);
    assert_eq!(bytes, contents);
    assert_eq!(headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()), Some("application/pdf"));
    let disposition = headers.get(CONTENT_DISPOSITION).and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(disposition.starts_with("attachment;") && disposition.contains("licence 2026.pdf"), "{disposition}");
    assert_eq!(headers.get("x-content-type-options").and_then(|v| v.to_str().ok()), Some("nosniff"));
    assert_eq!((distributor, staff), (200, 200));
    assert_eq!((sibling, unrelated, other_vendor), (404, 404, 404), "a foreign partner's file does not exist for them");
    assert!(String::from_utf8_lossy(&sibling_body).contains("not_found"));
    assert_eq!(anonymous, 401);
    assert_eq!(member_uploads.status, 403, "licence documents are the partner admins' to upload");
}

// ---------------------------------------------------------------------------------------------
// Profiles and change requests

pub(crate) fn full_profile() -> Value {
    json!({
        "legal_name": "R1a Systems GmbH",
        "description": "Cloud migrations for the Mittelstand.",
        "website": "https://r1a.example",
        "territories": {"countries": ["de", "AT"], "regions": ["DACH"]},
        "specialisations": ["Cloud migration", "Backup", "cloud MIGRATION"],
        "products": ["Trellis Cloud"],
        "addresses": [{"label": "Head office", "line1": "Hauptstraße 1", "city": "Berlin", "postal_code": "10115", "country": "de"}],
        "locator_opt_in": true
    })
}

#[tokio::test]
async fn a_partners_legal_name_change_waits_for_the_vendor_and_applies_when_approved() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let profile_path = format!("/api/v1/partners/{}/profile", f.r1a);

    let saved = app.patch(&profile_path, &f.r1a_admin.token, full_profile()).await;
    let pending = app.get("/api/v1/profile-change-requests?status=pending", &f.channel_manager.token).await;
    let request_id = saved.body["pending_change_requests"][0]["id"].as_str().unwrap_or_default().to_owned();
    let by_partner = app.post(&format!("/api/v1/profile-change-requests/{request_id}/approve"), &f.r1a_admin.token, json!({})).await;
    let by_finance = app.post(&format!("/api/v1/profile-change-requests/{request_id}/approve"), &f.finance.token, json!({})).await;
    let approved = app.post(&format!("/api/v1/profile-change-requests/{request_id}/approve"), &f.channel_manager.token, json!({})).await;
    let again = app.post(&format!("/api/v1/profile-change-requests/{request_id}/approve"), &f.channel_manager.token, json!({})).await;
    let after = app.get(&profile_path, &f.r1a_member.token).await;

    assert_eq!(saved.status, 200, "{}", saved.text);
    assert_eq!(saved.body["legal_name"], Value::Null, "the legal name waits for the vendor");
    assert_eq!(saved.body["territories"], json!({"countries": [], "regions": []}), "so do the territories");
    assert_eq!(saved.body["description"], "Cloud migrations for the Mittelstand.", "the rest applies at once");
    assert_eq!(saved.body["specialisations"], json!(["Cloud migration", "Backup"]), "duplicates ignoring case are dropped");
    assert_eq!(saved.body["addresses"][0]["country"], "DE");
    assert_eq!(saved.body["complete"], false);
    let changes = &saved.body["pending_change_requests"][0]["changes"];
    assert_eq!(changes["legal_name"], "R1a Systems GmbH");
    assert_eq!(changes["territories"], json!({"countries": ["DE", "AT"], "regions": ["DACH"]}));
    assert_eq!(pending.body["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(pending.body["data"][0]["partner_name"], "R1a");
    assert_eq!((by_partner.status, by_finance.status), (403, 403));
    assert_eq!(approved.status, 200, "{}", approved.text);
    assert_eq!(approved.body["status"], "approved");
    assert_eq!(again.status, 409, "a decided request is not pending any more");
    assert_eq!(after.body["legal_name"], "R1a Systems GmbH");
    assert_eq!(after.body["territories"]["countries"], json!(["DE", "AT"]));
    assert_eq!(after.body["complete"], true);
    assert_eq!(after.body["pending_change_requests"], json!([]));
    let completed = app
        .query_i64(sql!(
            "SELECT COUNT(*) AS n FROM audit_events WHERE workspace_id = $1 AND action = 'partner.profile_completed' AND target_id = $2",
            f.workspace_id.to_string(),
            f.r1a.to_string()
        ))
        .await;
    assert_eq!(completed, 1, "completing the profile is recorded once");
    let told = app
        .query(sql!(
            "SELECT to_address, subject FROM emails WHERE workspace_id = $1 AND kind = 'profile_change_decided'",
            f.workspace_id.to_string()
        ))
        .await;
    assert_eq!(told.len(), 1);
    assert_eq!(told[0].get::<String>("to_address").expect("to"), f.r1a_admin.email);
}

#[tokio::test]
async fn a_rejected_change_leaves_the_profile_as_it_was_and_tells_the_partner_why() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let requested =
        app.patch(&format!("/api/v1/partners/{}/profile", f.p3), &f.p3_admin.token, json!({"legal_name": "P3 Holding Ltd"})).await;
    let id = requested.body["pending_change_requests"][0]["id"].as_str().expect("request").to_owned();

    let without_reason = app.post(&format!("/api/v1/profile-change-requests/{id}/reject"), &f.admin.token, json!({"reason": "  "})).await;
    let rejected = app
        .post(
            &format!("/api/v1/profile-change-requests/{id}/reject"),
            &f.admin.token,
            json!({"reason": "Send the register extract first."}),
        )
        .await;
    let profile = app.get(&format!("/api/v1/partners/{}/profile", f.p3), &f.p3_admin.token).await;
    let seen_by_partner = app.get(&format!("/api/v1/profile-change-requests/{id}"), &f.p3_admin.token).await;
    let seen_by_stranger = app.get(&format!("/api/v1/profile-change-requests/{id}"), &f.d2_admin.token).await;

    assert_eq!(without_reason.status, 422);
    assert_eq!(rejected.status, 200, "{}", rejected.text);
    assert_eq!(profile.body["legal_name"], Value::Null);
    assert_eq!(profile.body["pending_change_requests"], json!([]));
    assert_eq!(seen_by_partner.body["status"], "rejected");
    assert_eq!(seen_by_partner.body["reason"], "Send the register extract first.");
    assert_eq!(seen_by_stranger.status, 404);
    let emails = app
        .query(sql!("SELECT text_body FROM emails WHERE workspace_id = $1 AND kind = 'profile_change_decided'", f.workspace_id.to_string()))
        .await;
    assert_eq!(emails.len(), 1);
    assert!(emails[0].get::<String>("text_body").expect("body").contains("Send the register extract first."));
}

#[tokio::test]
async fn a_newer_change_request_carries_the_pending_one_on_and_supersedes_it() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let path = format!("/api/v1/partners/{}/profile", f.d1);

    let first = app.patch(&path, &f.d1_admin.token, json!({"legal_name": "Distribution One AG"})).await;
    let second = app.patch(&path, &f.d1_admin.token, json!({"territories": {"countries": ["CH"]}})).await;
    let all = app.get(&format!("/api/v1/profile-change-requests?partner_id={}", f.d1), &f.owner.token).await;

    assert_eq!(first.status, 200);
    let pending = second.body["pending_change_requests"].as_array().expect("pending");
    assert_eq!(pending.len(), 1, "one pending request per partner");
    assert_eq!(pending[0]["changes"], json!({"legal_name": "Distribution One AG", "territories": {"countries": ["CH"], "regions": []}}));
    let statuses: Vec<&str> = all.body["data"].as_array().expect("list").iter().filter_map(|r| r["status"].as_str()).collect();
    assert_eq!(statuses, vec!["pending", "superseded"], "newest first");
}

#[tokio::test]
async fn staff_edits_apply_at_once_and_every_invalid_field_is_reported_together() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let path = format!("/api/v1/partners/{}/profile", f.r1b);

    let invalid = app
        .patch(
            &path,
            &f.channel_manager.token,
            json!({
                "legal_name": " ",
                "website": "not a website",
                "territories": {"countries": ["DE", "XX"]},
                "addresses": [{"label": "HQ", "line1": "", "city": "Wien", "postal_code": "1010", "country": "Austria"}]
            }),
        )
        .await;
    let unknown_field = app.patch(&path, &f.channel_manager.token, json!({"legal_nme": "typo"})).await;
    let saved = app.patch(&path, &f.channel_manager.token, full_profile()).await;
    let by_member = app.patch(&format!("/api/v1/partners/{}/profile", f.r1a), &f.r1a_member.token, json!({"description": "x"})).await;
    let by_distributor = app.patch(&path, &f.d1_admin.token, json!({"description": "Edited by our distributor."})).await;

    assert_eq!(invalid.status, 422);
    let fields: Vec<String> = field_messages(&invalid).into_iter().map(|(field, _)| field).collect();
    for wanted in ["legal_name", "website", "territories.countries", "addresses[0].line1", "addresses[0].country"] {
        assert!(fields.iter().any(|f| f == wanted), "{wanted} missing from {fields:?}");
    }
    assert_eq!(unknown_field.status, 422);
    assert_eq!(saved.status, 200, "{}", saved.text);
    assert_eq!(saved.body["legal_name"], "R1a Systems GmbH", "staff changes apply directly");
    assert_eq!(saved.body["territories"]["regions"], json!(["DACH"]));
    assert_eq!(saved.body["pending_change_requests"], json!([]));
    assert_eq!(saved.body["complete"], true);
    assert_eq!(by_member.status, 403);
    assert_eq!(by_distributor.status, 200, "distributors manage their resellers' profiles in this workspace");
    let website = app.get(&format!("/api/v1/partners/{}", f.r1b), &f.owner.token).await;
    assert_eq!(website.body["website"], "https://r1a.example", "the profile's website is the partner's");
}

#[tokio::test]
async fn a_logo_must_be_an_uploaded_logo_of_the_same_partner() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let own_logo = id_of(&upload(&app, &f.r1a_admin.token, &f.r1a, "logo", "logo.png", Some("image/png"), PNG).await);
    let own_document = id_of(&upload(&app, &f.r1a_admin.token, &f.r1a, "licence", "l.pdf", None, &pdf("l")).await);
    let foreign_logo = id_of(&upload(&app, &f.p3_admin.token, &f.p3, "logo", "logo.png", Some("image/png"), PNG).await);
    let path = format!("/api/v1/partners/{}/profile", f.r1a);

    let foreign = app.patch(&path, &f.r1a_admin.token, json!({"logo_file_id": foreign_logo})).await;
    let document = app.patch(&path, &f.r1a_admin.token, json!({"logo_file_id": own_document})).await;
    let own = app.patch(&path, &f.r1a_admin.token, json!({"logo_file_id": own_logo})).await;
    let removed = app.patch(&path, &f.r1a_admin.token, json!({"logo_file_id": null})).await;

    assert_eq!(foreign.status, 422);
    assert_eq!(field_messages(&foreign)[0].0, "logo_file_id");
    assert_eq!(document.status, 422);
    assert_eq!(own.status, 200, "{}", own.text);
    assert_eq!(own.body["logo_file_id"], own_logo.as_str());
    assert_eq!(removed.body["logo_file_id"], Value::Null);
}

// ---------------------------------------------------------------------------------------------
// Pages

#[tokio::test]
async fn a_partner_edits_its_profile_in_the_portal_and_the_vendor_approves_the_new_legal_name_in_the_console() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let partner = sign_in(&app, &f.r1a_admin.email).await;
    let manager = sign_in(&app, &f.channel_manager.email).await;
    let member = sign_in(&app, &f.r1a_member.email).await;

    let edit_form = partner.get("/portal/profile/edit").await;
    let invalid = partner
        .submit(
            "/portal/profile/edit",
            &[
                ("legal_name", "R1a Systems GmbH"),
                ("territories.countries", "DE, Narnia"),
                ("address_label", "HQ"),
                ("address_line1", "Hauptstraße 1"),
                ("address_postal_code", "10115"),
                ("address_city", ""),
                ("address_country", "DE"),
            ],
        )
        .await;
    let saved = partner
        .submit(
            "/portal/profile/edit",
            &[
                ("legal_name", "R1a Systems GmbH"),
                ("website", "r1a.example"),
                ("description", "Cloud migrations."),
                ("territories.countries", "DE, AT"),
                ("territories.regions", "DACH"),
                ("specialisations", "Backup, Cloud migration"),
                ("locator_opt_in", "1"),
                ("address_label", "HQ"),
                ("address_line1", "Hauptstraße 1"),
                ("address_line2", ""),
                ("address_postal_code", "10115"),
                ("address_city", "Berlin"),
                ("address_region", ""),
                ("address_country", "DE"),
                ("address_label", ""),
                ("address_line1", ""),
                ("address_line2", ""),
                ("address_postal_code", ""),
                ("address_city", ""),
                ("address_region", ""),
                ("address_country", ""),
            ],
        )
        .await;
    let location = saved.headers.get(LOCATION).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let profile = partner.get(&location).await;
    let edit_again = partner.get("/portal/profile/edit").await;
    let inbox = manager.get("/console/profile-changes").await;
    let request_id = app
        .query(sql!("SELECT id FROM profile_change_requests WHERE workspace_id = $1 AND status = 'pending'", f.workspace_id.to_string()))
        .await[0]
        .get::<String>("id")
        .expect("id");
    let refused = manager.submit(&format!("/console/profile-changes/{request_id}/reject"), &[("reason", "")]).await;
    let approved = manager.submit(&format!("/console/profile-changes/{request_id}/approve"), &[]).await;
    let partner_page = manager.get(&format!("/console/partners/{}", f.r1a)).await;
    let member_edit = member.get("/portal/profile/edit").await;

    assert_eq!(edit_form.status, 200);
    assert_safe_page("/portal/profile/edit", &edit_form);
    assert_eq!(invalid.status, 422, "{}", invalid.text);
    assert!(invalid.text.contains(r#"id="profile-territories.countries-error""#), "the countries error sits by its field");
    assert!(invalid.text.contains("city: must not be empty"), "the address error sits in its address");
    assert!(invalid.text.contains(r#"value="Hauptstraße 1""#), "what was typed is kept");
    assert_eq!(saved.status, 303, "{}", saved.text);
    assert!(location.ends_with("notice=change_requested"), "{location}");
    assert!(profile.text.contains("wait for the vendor"), "the notice says the legal name waits");
    assert!(profile.text.contains("Waiting for the vendor"), "the pending change is shown");
    assert!(
        profile.text.contains("legal name to &quot;R1a Systems GmbH&quot;")
            || profile.text.contains("legal name to &#34;R1a Systems GmbH&#34;")
    );
    assert!(profile.text.contains("Cloud migrations."), "the description applied at once");
    assert!(edit_again.text.contains(r#"value="R1a Systems GmbH""#), "the form shows the pending legal name, so saving again keeps it");
    assert_eq!(inbox.status, 200);
    assert_safe_page("/console/profile-changes", &inbox);
    assert!(inbox.text.contains("R1a Systems GmbH") && inbox.text.contains("Germany, Austria, DACH"));
    assert_eq!(refused.status, 422);
    assert!(refused.text.contains("must not be empty"));
    assert_eq!(approved.status, 303);
    assert!(partner_page.text.contains("R1a Systems GmbH"), "the console shows the approved legal name");
    assert!(partner_page.text.contains("Profile change approved"), "the timeline records the decision");
    assert_eq!(member_edit.status, 403, "members read the profile but do not edit it");
}

#[tokio::test]
async fn the_profile_editor_picks_countries_by_name_stores_their_codes_and_takes_one_tag_per_box() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let partner = sign_in(&app, &f.p3_admin.email).await;

    let form = partner.get("/portal/profile/edit").await;
    let saved = partner
        .submit(
            "/portal/profile/edit",
            &[
                ("territories.countries", "DE"),
                ("territories.countries", "AT"),
                ("territories.regions", "DACH"),
                ("territories.regions", ""),
                ("specialisations", "Backup"),
                ("specialisations", "Cloud migration"),
                ("specialisations", ""),
                ("products", "Trellis Cloud, Trellis Edge"),
                ("address_label", "HQ"),
                ("address_line1", "Hauptstraße 1"),
                ("address_line2", ""),
                ("address_postal_code", "10115"),
                ("address_city", "Berlin"),
                ("address_region", ""),
                ("address_country", "DE"),
            ],
        )
        .await;
    let profile = app.get(&format!("/api/v1/partners/{}/profile", f.p3), &f.p3_admin.token).await;
    let again = partner.get("/portal/profile/edit").await;
    let summary = partner.get("/portal/profile").await;
    let countries_picker = |html: &str| -> String {
        let start = html.find(r#"name="territories.countries""#).expect("the countries picker");
        html[start..start + html[start..].find("</select>").expect("its end")].to_owned()
    };

    assert_eq!(form.status, 200);
    assert_safe_page("/portal/profile/edit", &form);
    let picker = countries_picker(&form.text);
    assert!(picker.contains(" multiple") && picker.contains(r#"<option value="DE">Germany</option>"#), "{picker}");
    assert!(form.text.contains(r#"list="sales-regions""#) && form.text.contains(r#"<option value="Nordics">"#), "regions are suggested");
    assert_eq!(saved.status, 303, "{}", saved.text);
    assert_eq!(
        profile.body["pending_change_requests"][0]["changes"]["territories"],
        json!({"countries": ["DE", "AT"], "regions": ["DACH"]})
    );
    assert_eq!(profile.body["specialisations"], json!(["Backup", "Cloud migration"]));
    assert_eq!(profile.body["products"], json!(["Trellis Cloud", "Trellis Edge"]), "a list typed into one box is split");
    assert_eq!(profile.body["addresses"][0]["country"], "DE");
    let picker = countries_picker(&again.text);
    assert!(
        picker.contains(r#"<option value="DE" selected>Germany</option>"#)
            && picker.contains(r#"<option value="AT" selected>Austria</option>"#),
        "the waiting countries are chosen, by name: {picker}"
    );
    assert!(again.text.contains(r#"value="Cloud migration""#) && again.text.contains(r#"value="Trellis Edge""#));
    assert!(again.text.contains(r#"autocomplete="section-address0 postal-code""#), "the organisation's own address autofills");
    assert!(summary.text.contains("territories to Germany, Austria, DACH"), "{}", summary.text);
}

#[tokio::test]
async fn a_partner_uploads_its_logo_in_the_portal_and_a_wrong_file_is_shown_as_a_form_error() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let partner = sign_in(&app, &f.p3_admin.email).await;

    let wrong = partner.submit_file("/portal/profile/logo", &[], Some(("logo.pdf", Some("application/pdf"), &pdf("not an image")))).await;
    let uploaded = partner.submit_file("/portal/profile/logo", &[], Some(("logo.png", Some("image/png"), PNG))).await;
    let profile = app.get(&format!("/api/v1/partners/{}/profile", f.p3), &f.p3_admin.token).await;
    let logo = profile.body["logo_file_id"].as_str().expect("the logo is set").to_owned();
    let (status, _, bytes) = download(&app, &format!("/files/{logo}"), None, Some(&partner.cookie)).await;
    let stranger = sign_in(&app, &f.d2_admin.email).await;
    let (stranger_status, _, _) = download(&app, &format!("/files/{logo}"), None, Some(&stranger.cookie)).await;

    assert_eq!(wrong.status, 422);
    assert!(wrong.text.contains(r#"id="logo-file-error""#) && wrong.text.contains("PNG or JPEG image"));
    assert_eq!(uploaded.status, 303, "{}", uploaded.text);
    assert_eq!(status, 200);
    assert!(bytes.starts_with(PNG_SIGNATURE), "the logo is served as a PNG");
    assert_eq!(stranger_status, 404);
}
