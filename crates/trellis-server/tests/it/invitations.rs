//! Invitations ask for consent (issue 6, F2): inviting an address answers the same whether or not
//! it has an account and touches no account; an existing account joins only when it accepts with
//! its own credential; accepting never renames or re-passwords an account; a credential issued
//! before keeps acting as the membership it was issued for; pending invitations are listed,
//! cancellable and declinable.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{Value, json};
use trellis_db::sql;
use trellis_testkit::fixture::{Fixture, PASSWORD};
use trellis_testkit::{Reply, TestApp};

use crate::pages::{cookie_value, csrf_field, get_page, post_form, sign_in};

fn token_of(invited: &Reply) -> String {
    let url = invited.body["invitation_url"].as_str().unwrap_or_else(|| panic!("an invitation_url: {}", invited.text));
    url.rsplit('/').next().expect("token").to_owned()
}

fn keys(body: &Value) -> BTreeSet<String> {
    body.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default()
}

async fn me(app: &TestApp, credential: &str) -> Reply {
    app.get("/api/v1/me", credential).await
}

async fn accept(app: &TestApp, token: &str, bearer: Option<&str>, body: Value) -> Reply {
    app.send(Method::POST, &format!("/api/v1/invitations/{token}/accept"), bearer, Some(&body)).await
}

async fn user_row(app: &TestApp, email: &str) -> (String, Option<String>) {
    let rows = app.query(sql!("SELECT name, password_hash FROM users WHERE email = $1", email)).await;
    let row = rows.first().expect("the account exists");
    (row.get("name").expect("name"), row.get("password_hash").expect("hash"))
}

async fn memberships_of(app: &TestApp, email: &str) -> i64 {
    app.query_i64(sql!(
        "SELECT (SELECT COUNT(*) FROM members m JOIN users u ON u.id = m.user_id WHERE u.email = $1)
              + (SELECT COUNT(*) FROM partner_users pu JOIN users u ON u.id = pu.user_id WHERE u.email = $1) AS n",
        email
    ))
    .await
}

#[tokio::test]
async fn inviting_an_address_answers_the_same_whether_or_not_it_has_an_account_and_touches_nothing() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let victim = f.d2_admin.email.clone();
    let (name_before, hash_before) = user_row(&app, &victim).await;
    let victims_token = f.d2_admin.token.clone();

    // A partner admin of an unrelated organisation and a workspace admin both invite the address.
    let by_partner =
        app.post(&format!("/api/v1/partners/{}/users", f.r1a), &f.r1a_admin.token, json!({"email": victim, "role": "member"})).await;
    let fresh_by_partner = app
        .post(
            &format!("/api/v1/partners/{}/users", f.r1a),
            &f.r1a_admin.token,
            json!({"email": "nobody-yet@r1a.example", "role": "member"}),
        )
        .await;
    let by_staff = app.post("/api/v1/members", &f.admin.token, json!({"email": victim, "role": "viewer"})).await;
    let fresh_by_staff = app.post("/api/v1/members", &f.admin.token, json!({"email": "nobody-yet@vendor.example", "role": "viewer"})).await;

    for (reply, what) in [
        (&by_partner, "partner invite"),
        (&fresh_by_partner, "fresh partner invite"),
        (&by_staff, "staff invite"),
        (&fresh_by_staff, "fresh staff invite"),
    ] {
        assert_eq!(reply.status, 201, "{what}: {}", reply.text);
        assert_eq!(reply.body["status"], "invited", "{what}");
        assert!(reply.body.get("user_id").is_none() && reply.body.get("name").is_none(), "{what} names no account: {}", reply.text);
        assert!(!reply.text.contains(&name_before), "{what} does not reveal the account's name");
    }
    assert_eq!(keys(&by_partner.body), keys(&fresh_by_partner.body), "the same shape for an existing account and a new address");
    assert_eq!(keys(&by_staff.body), keys(&fresh_by_staff.body));
    // Nothing happened to the account: same name, same password, no new membership, and its
    // token (one membership, no Trellis-Membership header) still works as before.
    assert_eq!(user_row(&app, &victim).await, (name_before.clone(), hash_before.clone()));
    assert_eq!(memberships_of(&app, &victim).await, 1, "no membership is attached before acceptance");
    let still = me(&app, &victims_token).await;
    assert_eq!(still.status, 200, "the existing token keeps working: {}", still.text);
    assert_eq!(still.body["partner_id"], f.d2.as_str());
    // The link page offers both ways in and says nothing about the account either.
    let page = get_page(&app, &format!("/invitations/{}", token_of(&by_partner)), None).await;
    let fresh_page = get_page(&app, &format!("/invitations/{}", token_of(&fresh_by_partner)), None).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("Sign in to accept") && page.text.contains("Choose a password"), "{}", page.text);
    assert!(!page.text.contains(&name_before), "the page does not show the account's name");
    // Apart from the address, the link's token, its CSRF token and its expiry time, the two pages
    // are the same text.
    let normalise = |text: &str, email: &str, token: &str, csrf: &str| -> String {
        let text = text.replace(email, "EMAIL").replace(token, "TOKEN").replace(csrf, "CSRF");
        let (before, after) = text.split_once("The link works until").expect("the expiry sentence");
        format!("{before}{}", after.split_once("</p>").map_or("", |(_, rest)| rest))
    };
    let csrf_of = |page: &crate::pages::Page| cookie_value(&page.headers, "trellis_csrf").expect("csrf cookie");
    assert_eq!(
        normalise(&page.text, &victim, &token_of(&by_partner), &csrf_of(&page)),
        normalise(&fresh_page.text, "nobody-yet@r1a.example", &token_of(&fresh_by_partner), &csrf_of(&fresh_page)),
        "the page reads the same for an existing account and a new address"
    );
}

#[tokio::test]
async fn an_existing_account_joins_only_with_its_own_credential_and_keeps_its_name_password_and_tokens() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let invitee = f.d2_admin.clone();
    let (name_before, hash_before) = user_row(&app, &invitee.email).await;
    let token_before = invitee.token.clone();
    let invited = app
        .post(
            &format!("/api/v1/partners/{}/users", f.p3),
            &f.p3_admin.token,
            json!({"email": invitee.email, "name": "Renamed By Inviter", "role": "sales"}),
        )
        .await;
    assert_eq!(invited.status, 201, "{}", invited.text);
    let token = token_of(&invited);

    // The inviter holds the link: without the account's credential it can neither attach the
    // account nor set its name or password.
    let by_link = accept(&app, &token, None, json!({"password": "inviter-chosen-password", "name": "Renamed By Inviter"})).await;
    assert_eq!(by_link.status, 409, "{}", by_link.text);
    let page = get_page(&app, &format!("/invitations/{token}"), None).await;
    let csrf = cookie_value(&page.headers, "trellis_csrf").expect("csrf cookie");
    let by_form = post_form(
        &app,
        &format!("/invitations/{token}"),
        &format!("trellis_csrf={csrf}"),
        &[("csrf_token", &csrf), ("name", "Renamed By Form"), ("password", "inviter-chosen-password")],
    )
    .await;
    assert_eq!(by_form.status, 409, "{}", by_form.text);
    assert!(by_form.text.contains("Sign in to accept"), "the page offers signing in instead");
    // Someone else's sign-in token is refused too.
    let other = accept(&app, &token, Some(&f.p3_admin.token), json!({})).await;
    assert_eq!(other.status, 403, "{}", other.text);
    assert_eq!(memberships_of(&app, &invitee.email).await, 1);
    assert_eq!(user_row(&app, &invitee.email).await, (name_before.clone(), hash_before.clone()));

    // The invitee accepts with their own token.
    let accepted = accept(&app, &token, Some(&invitee.token), json!({})).await;
    assert_eq!(accepted.status, 200, "{}", accepted.text);
    assert_eq!(accepted.body["membership"]["partner_id"], f.p3.as_str());
    assert_eq!(accepted.body["membership"]["role"], "sales");
    assert_eq!(accepted.body["user_id"], invitee.user_id.as_str());
    assert_eq!(user_row(&app, &invitee.email).await, (name_before, hash_before), "accepting changes neither name nor password");
    assert_eq!(memberships_of(&app, &invitee.email).await, 2);
    let again = accept(&app, &token, Some(&invitee.token), json!({})).await;
    assert_eq!(again.status, 404, "a link works once: {}", again.text);

    // The token issued before the second membership still acts as the first, without a header.
    let old = me(&app, &token_before).await;
    assert_eq!(old.status, 200, "{}", old.text);
    assert_eq!(old.body["partner_id"], f.d2.as_str());
    // A token issued now has two memberships and must name one.
    let fresh = app.login(&invitee.email, PASSWORD).await;
    let unnamed = me(&app, &fresh).await;
    assert_eq!((unnamed.status, unnamed.body["code"].as_str()), (422, Some("membership_required")), "{}", unnamed.text);
    let events = app.get(&format!("/api/v1/audit-events?target_id={}", invitee.user_id), &f.owner.token).await;
    assert!(events.text.contains("partner_user.added"), "{}", events.text);
}

#[tokio::test]
async fn a_new_address_accepts_once_with_a_password_and_can_sign_in() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let invited = app
        .post("/api/v1/members", &f.owner.token, json!({"email": "Newcomer@Vendor.example", "name": "New Comer", "role": "finance"}))
        .await;
    assert_eq!(invited.status, 201, "{}", invited.text);
    assert_eq!(invited.body["email"], "newcomer@vendor.example");
    let token = token_of(&invited);
    let listed = app.get("/api/v1/members", &f.owner.token).await;
    assert!(!listed.text.contains("newcomer@vendor.example"), "not a member before accepting");

    let short = accept(&app, &token, None, json!({"password": "short"})).await;
    assert_eq!(short.status, 422, "{}", short.text);
    let accepted = accept(&app, &token, None, json!({"password": "a long enough passphrase"})).await;
    assert_eq!(accepted.status, 200, "{}", accepted.text);
    assert_eq!(accepted.body["membership"]["role"], "finance");
    let again = accept(&app, &token, None, json!({"password": "a long enough passphrase"})).await;
    assert_eq!(again.status, 404, "{}", again.text);
    let signed_in = app.login("newcomer@vendor.example", "a long enough passphrase").await;
    let who = me(&app, &signed_in).await;
    assert_eq!((who.body["kind"].as_str(), who.body["role"].as_str()), (Some("staff"), Some("finance")), "{}", who.text);
    assert_eq!(user_row(&app, "newcomer@vendor.example").await.0, "New Comer");
}

#[tokio::test]
async fn pending_invitations_are_listed_cancelled_and_declined() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let staff = app.post("/api/v1/members", &f.owner.token, json!({"email": "pending@vendor.example", "role": "viewer"})).await;
    let partner = app
        .post(&format!("/api/v1/partners/{}/users", f.r1a), &f.r1a_admin.token, json!({"email": "pending@r1a.example", "role": "sales"}))
        .await;
    let declined = app
        .post(&format!("/api/v1/partners/{}/users", f.r1a), &f.r1a_admin.token, json!({"email": "no-thanks@r1a.example", "role": "member"}))
        .await;
    let staff_id = staff.body["invitation_id"].as_str().expect("id").to_owned();
    let partner_id = partner.body["invitation_id"].as_str().expect("id").to_owned();

    let staff_list = app.get("/api/v1/invitations", &f.admin.token).await;
    assert_eq!(staff_list.status, 200);
    let ids: Vec<&str> = staff_list.body["data"].as_array().expect("data").iter().filter_map(|i| i["invitation_id"].as_str()).collect();
    assert!(ids.contains(&staff_id.as_str()) && !ids.contains(&partner_id.as_str()), "{}", staff_list.text);
    assert_eq!(app.get("/api/v1/invitations", &f.channel_manager.token).await.status, 403);
    let partner_list = app.get(&format!("/api/v1/partners/{}/invitations", f.r1a), &f.r1a_admin.token).await;
    assert_eq!(partner_list.body["data"].as_array().map(Vec::len), Some(2), "{}", partner_list.text);
    assert_eq!(app.get(&format!("/api/v1/partners/{}/invitations", f.r1a), &f.d2_admin.token).await.status, 404);

    // Cancelled: the link stops working at once.
    assert_eq!(app.delete(&format!("/api/v1/invitations/{partner_id}"), &f.r1a_admin.token).await.status, 204);
    assert_eq!(app.delete(&format!("/api/v1/invitations/{partner_id}"), &f.r1a_admin.token).await.status, 409);
    assert_eq!(accept(&app, &token_of(&partner), None, json!({"password": PASSWORD})).await.status, 404);
    assert_eq!(get_page(&app, &format!("/invitations/{}", token_of(&partner)), None).await.status, 404);
    // Declined: no account needed, nothing created.
    let no = app.send(Method::POST, &format!("/api/v1/invitations/{}/decline", token_of(&declined)), None, None).await;
    assert_eq!((no.status, no.body["status"].as_str()), (200, Some("declined")), "{}", no.text);
    assert_eq!(accept(&app, &token_of(&declined), None, json!({"password": PASSWORD})).await.status, 404);
    assert_eq!(app.query_i64(sql!("SELECT COUNT(*) AS n FROM users WHERE email = 'no-thanks@r1a.example'")).await, 0);
    let left = app.get(&format!("/api/v1/partners/{}/invitations", f.r1a), &f.r1a_admin.token).await;
    assert_eq!(left.body["data"].as_array().map(Vec::len), Some(0), "{}", left.text);
    // Sending again renews the link: the earlier one stops working.
    let renewed = app.post("/api/v1/members", &f.owner.token, json!({"email": "pending@vendor.example", "role": "viewer"})).await;
    assert_eq!(renewed.status, 201);
    assert_eq!(accept(&app, &token_of(&staff), None, json!({"password": PASSWORD})).await.status, 404, "the replaced link");
    assert_eq!(accept(&app, &token_of(&renewed), None, json!({"password": PASSWORD})).await.status, 200, "the new link");
}

#[tokio::test]
async fn in_the_pages_an_existing_account_signs_in_from_the_link_and_accepts_with_one_click() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let invitee = f.d2_admin.clone();
    let staff = sign_in(&app, &f.admin.email).await;
    let invited =
        staff.submit("/console/staff", &[("email", &invitee.email), ("name", ""), ("role", "viewer"), ("partner_scope", "all")]).await;
    assert_eq!(invited.status, 200, "{}", invited.text);
    let start = invited.text.find("/invitations/").expect("the link is shown once") + "/invitations/".len();
    let token: String = invited.text[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect();
    let console = staff.get("/console/staff").await;
    assert!(console.text.contains("Waiting for an answer") && console.text.contains(&invitee.email), "the staff page lists it");

    // Signing in from the link comes back to it; the invitee accepts and works as the new membership.
    let login = get_page(&app, &format!("/login?next=/invitations/{token}"), None).await;
    assert!(login.text.contains(&format!("value=\"/invitations/{token}\"")), "{}", login.text);
    let csrf = cookie_value(&login.headers, "trellis_csrf").expect("csrf");
    let signed = post_form(
        &app,
        "/login",
        &format!("trellis_csrf={csrf}"),
        &[("email", &invitee.email), ("password", PASSWORD), ("csrf_token", &csrf), ("next", &format!("/invitations/{token}"))],
    )
    .await;
    assert_eq!(signed.status, 303);
    assert_eq!(signed.headers.get("location").and_then(|v| v.to_str().ok()), Some(format!("/invitations/{token}").as_str()));
    let cookie = format!("trellis_session={}", cookie_value(&signed.headers, "trellis_session").expect("session"));
    let page = get_page(&app, &format!("/invitations/{token}"), Some(&cookie)).await;
    assert!(page.text.contains("Accept the invitation"), "{}", page.text);
    let session_csrf = csrf_field(&page.text).expect("csrf");
    let accepted = post_form(&app, &format!("/invitations/{token}"), &cookie, &[("csrf_token", &session_csrf)]).await;
    assert_eq!(accepted.status, 303, "{}", accepted.text);
    let home = get_page(&app, "/", Some(&cookie)).await;
    assert!(home.text.contains("/console/staff"), "the session now acts as the new staff membership");
    assert_eq!(memberships_of(&app, &invitee.email).await, 2);
    // An unsafe `next` is ignored.
    let elsewhere = get_page(&app, "/login?next=https://evil.example/", None).await;
    assert!(!elsewhere.text.contains("evil.example"), "{}", elsewhere.text);
}

#[tokio::test]
async fn a_person_signing_in_sees_the_invitations_addressed_to_them_and_answers_without_the_link() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let invitee = f.r1b_admin.clone();
    let to_p3 =
        app.post(&format!("/api/v1/partners/{}/users", f.p3), &f.p3_admin.token, json!({"email": invitee.email, "role": "sales"})).await;
    let to_staff = app.post("/api/v1/members", &f.owner.token, json!({"email": invitee.email, "role": "viewer"})).await;
    let for_someone_else =
        app.post("/api/v1/members", &f.owner.token, json!({"email": "someone-else@vendor.example", "role": "viewer"})).await;
    assert_eq!((to_p3.status, to_staff.status, for_someone_else.status), (201, 201, 201));

    // Signing in lands on the invitations.
    let login = get_page(&app, "/login", None).await;
    let csrf = cookie_value(&login.headers, "trellis_csrf").expect("csrf");
    let signed = post_form(
        &app,
        "/login",
        &format!("trellis_csrf={csrf}"),
        &[("email", &invitee.email), ("password", PASSWORD), ("csrf_token", &csrf)],
    )
    .await;
    assert_eq!(signed.headers.get("location").and_then(|v| v.to_str().ok()), Some("/memberships"));
    let cookie = format!("trellis_session={}", cookie_value(&signed.headers, "trellis_session").expect("session"));
    let page = get_page(&app, "/memberships", Some(&cookie)).await;
    assert!(page.text.contains("Invitations for you"), "{}", page.text);
    let p3_name = app.get(&format!("/api/v1/partners/{}", f.p3), &f.owner.token).await.body["name"].as_str().expect("name").to_owned();
    assert!(page.text.contains(&p3_name) && page.text.contains("the staff of"), "{}", page.text);
    let session_csrf = csrf_field(&page.text).expect("csrf");
    let p3_invitation = to_p3.body["invitation_id"].as_str().expect("id");
    let staff_invitation = to_staff.body["invitation_id"].as_str().expect("id");
    let foreign = for_someone_else.body["invitation_id"].as_str().expect("id");

    // Another person's invitation cannot be answered by id (404, nothing changes).
    let not_mine = post_form(&app, &format!("/memberships/invitations/{foreign}/accept"), &cookie, &[("csrf_token", &session_csrf)]).await;
    assert_eq!(not_mine.status, 404, "{}", not_mine.text);
    let not_mine_either =
        post_form(&app, &format!("/memberships/invitations/{foreign}/decline"), &cookie, &[("csrf_token", &session_csrf)]).await;
    assert_eq!(not_mine_either.status, 404);
    let pending = app.get("/api/v1/invitations", &f.owner.token).await;
    assert!(pending.text.contains(foreign), "someone else's invitation is still pending");

    let declined =
        post_form(&app, &format!("/memberships/invitations/{staff_invitation}/decline"), &cookie, &[("csrf_token", &session_csrf)]).await;
    assert_eq!(declined.status, 303, "{}", declined.text);
    let accepted =
        post_form(&app, &format!("/memberships/invitations/{p3_invitation}/accept"), &cookie, &[("csrf_token", &session_csrf)]).await;
    assert_eq!(accepted.status, 303, "{}", accepted.text);
    let home = get_page(&app, "/", Some(&cookie)).await;
    assert!(home.text.contains(&p3_name), "the session works for the new partner: {}", home.text);
    assert_eq!(memberships_of(&app, &invitee.email).await, 2, "R1b and P3; the staff invitation was declined");
    let after = get_page(&app, "/memberships", Some(&cookie)).await;
    assert!(!after.text.contains("Invitations for you"), "nothing is waiting any more");
}

#[tokio::test]
async fn accepting_an_invitation_from_its_link_signs_the_new_account_in_and_lands_on_its_home() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    crate::recruitment::program_with_questions(&app, &f, "resellers", json!([])).await;
    let applied = crate::recruitment::apply(&app, "resellers", &crate::recruitment::application("Newco", "ada@newco.example")).await;
    assert_eq!(applied.status, 201, "{}", applied.text);
    let partner_id = applied.body["id"].as_str().expect("id").to_owned();
    let approved = app.post(&format!("/api/v1/partners/{partner_id}/approve"), &f.owner.token, json!(null)).await;
    assert_eq!(approved.status, 200, "{}", approved.text);
    app.patch("/api/v1/workspace", &f.owner.token, json!({"brand_colour": "#0b5394"})).await;
    let (_, _, text) = crate::recruitment::emails_to(&app, "ada@newco.example")
        .await
        .into_iter()
        .find(|(kind, _, _)| kind == "application_approved")
        .expect("approval email");
    let token = crate::recruitment::invitation_token(&text);

    let page = crate::pages::get_page(&app, &format!("/invitations/{token}"), None).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains(r#"value="Ada Lovelace""#), "the name from the application is filled in: {}", page.text);
    assert!(page.text.contains("style.css?v=0b5394"), "the invitation carries the vendor's branding");
    let csrf = crate::pages::cookie_value(&page.headers, "trellis_csrf").expect("csrf cookie");
    let accepted = crate::pages::post_form(
        &app,
        &format!("/invitations/{token}"),
        &format!("trellis_csrf={csrf}"),
        &[("csrf_token", &csrf), ("name", "Ada Lovelace"), ("password", "a long enough passphrase")],
    )
    .await;
    assert_eq!(accepted.status, 303, "{}", accepted.text);
    assert_eq!(accepted.headers.get("location").and_then(|v| v.to_str().ok()), Some("/"));
    let session = crate::pages::cookie_value(&accepted.headers, "trellis_session").expect("signed in at once");
    let home = app
        .client
        .get(format!("{}/", app.base_url))
        .header(reqwest::header::COOKIE, format!("trellis_session={session}"))
        .send()
        .await
        .expect("home");
    assert_eq!(home.status().as_u16(), 200, "no second sign-in");
    let html = home.text().await.expect("body");
    assert!(html.contains("Newco") && html.contains(r#"href="/portal/profile""#), "the partner's home: {html}");
    let name = app.query(trellis_db::sql!("SELECT name FROM users WHERE email = $1", "ada@newco.example")).await;
    assert_eq!(name[0].get::<String>("name").expect("name"), "Ada Lovelace");
}
