//! SCIM 2.0 provisioning per partner organisation (issue 12; API.md "Identity", ADR 0024): who may
//! create a token, what the token opens (only `/scim/v2`, only its own organisation), the User
//! lifecycle through create, filter, replace, patch and delete, and the security promise: a person
//! deactivated or deleted by the identity provider loses every session and the keys they created
//! at once, and an existing account is never renamed, re-passworded or shown to the provider.

use reqwest::Method;
use serde_json::{Value, json};
use trellis_db::sql;
use trellis_testkit::fixture::{Fixture, PASSWORD};
use trellis_testkit::{Reply, TestApp};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const NEW_PASSWORD: &str = "lantern over the quiet fjord";

async fn scim(app: &TestApp, method: Method, path: &str, token: &str, body: Option<&Value>) -> Reply {
    app.send(method, &format!("/scim/v2{path}"), Some(token), body).await
}

async fn token_for(app: &TestApp, partner: &str, bearer: &str) -> Reply {
    app.post(&format!("/api/v1/partners/{partner}/scim-tokens"), bearer, json!({"name": "Okta"})).await
}

fn person(email: &str, given: &str, family: &str) -> Value {
    json!({"schemas": [USER], "userName": email, "name": {"givenName": given, "familyName": family}, "displayName": format!("{given} {family}"), "externalId": format!("okta-{given}"), "active": true})
}

fn deactivate() -> Value {
    // As Microsoft Entra ID sends it: capitalised op, the value a string.
    json!({"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]})
}

#[tokio::test]
async fn only_the_organisations_admins_and_workspace_admins_create_tokens_and_a_token_opens_only_scim_of_its_own_organisation() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let r1a = f.r1a.to_string();
    for (who, bearer, expected) in [
        ("the partner's admin", f.r1a_admin.token.as_str(), 201),
        ("a workspace admin", f.admin.token.as_str(), 201),
        ("the owner's key", f.owner_key.as_str(), 201),
        ("a partner member", f.r1a_member.token.as_str(), 403),
        ("the distributor's admin", f.d1_admin.token.as_str(), 403),
        ("a channel manager", f.channel_manager.token.as_str(), 403),
        ("a sibling's admin", f.d2_admin.token.as_str(), 404),
        ("another workspace", f.other_owner.token.as_str(), 404),
    ] {
        let reply = token_for(&app, &r1a, bearer).await;
        assert_eq!(reply.status, expected, "{who}: {}", reply.text);
    }
    let created = token_for(&app, &r1a, &f.r1a_admin.token).await;
    let token = created.body["token"].as_str().expect("token").to_owned();
    assert!(created.body["scim_url"].as_str().expect("url").ends_with("/scim/v2"), "{}", created.text);
    // Without a body too (the contract's `POST … → 201 {token}`).
    let bare = app.send(Method::POST, &format!("/api/v1/partners/{r1a}/scim-tokens"), Some(&f.admin.token), None).await;
    assert_eq!(bare.status, 201, "{}", bare.text);
    assert_eq!(bare.body["name"], "SCIM");

    // The token is nothing at /api/v1, and a normal key nothing at /scim/v2.
    assert_eq!(app.get("/api/v1/me", &token).await.status, 401);
    assert_eq!(app.get("/api/v1/partners", &token).await.status, 401);
    let refused = scim(&app, Method::GET, "/Users", &f.r1a_key, None).await;
    assert_eq!(refused.status, 401, "{}", refused.text);
    assert_eq!(refused.body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error");
    assert_eq!(refused.headers["content-type"], "application/scim+json");
    assert_eq!(app.send(Method::GET, "/scim/v2/Users", None, None).await.status, 401);
    assert_eq!(scim(&app, Method::GET, "/Users", &f.r1a_admin.token, None).await.status, 401, "a sign-in token is not a SCIM token");

    // It lists the organisation's own people, never its resellers' or its distributor's.
    let listed = scim(&app, Method::GET, "/Users?count=50", &token, None).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    let emails: Vec<&str> = listed.body["Resources"].as_array().expect("resources").iter().filter_map(|u| u["userName"].as_str()).collect();
    assert!(emails.contains(&f.r1a_admin.email.as_str()) && emails.contains(&f.r1a_member.email.as_str()), "{emails:?}");
    assert!(!emails.contains(&f.d1_admin.email.as_str()) && !emails.contains(&f.r1b_admin.email.as_str()), "{emails:?}");
    assert_eq!(listed.body["totalResults"], emails.len());
    let d1_token = token_for(&app, &f.d1.to_string(), &f.d1_admin.token).await.body["token"].as_str().expect("token").to_owned();
    let other = format!("/Users/{}", f.r1a_member.user_id);
    assert_eq!(scim(&app, Method::GET, &other, &d1_token, None).await.status, 404, "a distributor's token stops at its own organisation");
    assert_eq!(scim(&app, Method::DELETE, &other, &d1_token, None).await.status, 404);
    assert_eq!(scim(&app, Method::GET, &other, &token, None).await.status, 200);

    // A revoked token, or one of a suspended partner, is 401 at once.
    let revoke = app.delete(&format!("/api/v1/api-keys/{}", bare.body["id"].as_str().expect("id")), &f.admin.token).await;
    assert_eq!(revoke.status, 204, "{}", revoke.text);
    assert_eq!(scim(&app, Method::GET, "/Users", bare.body["token"].as_str().expect("token"), None).await.status, 401);
    let suspended = app.patch(&format!("/api/v1/partners/{r1a}"), &f.admin.token, json!({"status": "suspended"})).await;
    assert_eq!(suspended.status, 200, "{}", suspended.text);
    assert_eq!(scim(&app, Method::GET, "/Users", &token, None).await.status, 401);
}

#[tokio::test]
async fn provisioned_people_sign_in_and_lose_every_session_and_key_when_deactivated_or_deleted() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let token = token_for(&app, &f.r1a.to_string(), &f.r1a_admin.token).await.body["token"].as_str().expect("token").to_owned();

    // Create: a new account with a password and the role the provider names.
    let mut ada = person("Ada.Lovelace@r1a.example", "Ada", "Lovelace");
    ada["password"] = json!(NEW_PASSWORD);
    ada["roles"] = json!([{"value": "admin", "primary": true}]);
    let created = scim(&app, Method::POST, "/Users", &token, Some(&ada)).await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.headers["content-type"], "application/scim+json");
    let id = created.body["id"].as_str().expect("id").to_owned();
    assert!(created.headers["location"].to_str().expect("location").ends_with(&format!("/scim/v2/Users/{id}")));
    assert_eq!(created.body["userName"], "ada.lovelace@r1a.example");
    assert_eq!(created.body["active"], true);
    assert_eq!(created.body["roles"][0]["value"], "admin");
    assert_eq!(created.body["externalId"], "okta-Ada");
    assert!(created.body.get("password").is_none(), "never returned");
    assert_eq!(created.body["meta"]["resourceType"], "User");
    // The same person again, or another with the same externalId, is 409 uniqueness.
    let again = scim(&app, Method::POST, "/Users", &token, Some(&person("ada.lovelace@r1a.example", "Ada", "L"))).await;
    assert_eq!((again.status, again.body["scimType"].as_str()), (409, Some("uniqueness")), "{}", again.text);
    let same_external = scim(&app, Method::POST, "/Users", &token, Some(&person("someone@r1a.example", "Ada", "Other"))).await;
    assert_eq!(same_external.status, 409, "{}", same_external.text);

    // Filters find her; paging counts from 1.
    let found = scim(&app, Method::GET, "/Users?filter=userName%20eq%20%22ADA.lovelace%40r1a.example%22", &token, None).await;
    assert_eq!((found.status, found.body["totalResults"].as_i64()), (200, Some(1)), "{}", found.text);
    assert_eq!(found.body["Resources"][0]["id"], id.as_str());
    let by_external = scim(&app, Method::GET, "/Users?filter=externalId%20eq%20%22okta-Ada%22", &token, None).await;
    assert_eq!(by_external.body["totalResults"], 1, "{}", by_external.text);
    let nobody = scim(&app, Method::GET, "/Users?filter=userName%20eq%20%22nobody%40r1a.example%22", &token, None).await;
    assert_eq!((nobody.body["totalResults"].as_i64(), nobody.body["Resources"].as_array().map(Vec::len)), (Some(0), Some(0)));
    let all = scim(&app, Method::GET, "/Users", &token, None).await.body["totalResults"].as_i64().expect("total");
    let second = scim(&app, Method::GET, "/Users?startIndex=2&count=1", &token, None).await;
    assert_eq!(
        (second.body["startIndex"].as_i64(), second.body["itemsPerPage"].as_i64(), second.body["totalResults"].as_i64()),
        (Some(2), Some(1), Some(all))
    );
    let unsupported = scim(&app, Method::GET, "/Users?filter=displayName%20co%20%22Ada%22", &token, None).await;
    assert_eq!((unsupported.status, unsupported.body["scimType"].as_str()), (400, Some("invalidFilter")), "{}", unsupported.text);

    // She signs in with the password the provider set, acts as the organisation's admin and
    // creates a key for it.
    let session = app.login("ada.lovelace@r1a.example", NEW_PASSWORD).await;
    assert_eq!(app.get("/api/v1/me", &session).await.status, 200);
    let key = app.post(&format!("/api/v1/partners/{}/api-keys", f.r1a), &session, json!({"name": "Ada's script"})).await;
    assert_eq!(key.status, 201, "{}", key.text);
    let key = key.body["key"].as_str().expect("key").to_owned();
    assert_eq!(app.get("/api/v1/partners", &key).await.status, 200);

    // Replace: the name of an account this provisioning created follows; userName cannot move.
    let mut renamed = person("ada.lovelace@r1a.example", "Ada", "King");
    renamed["externalId"] = json!("okta-Ada");
    let replaced = scim(&app, Method::PUT, &format!("/Users/{id}"), &token, Some(&renamed)).await;
    assert_eq!(replaced.status, 200, "{}", replaced.text);
    assert_eq!(replaced.body["name"]["familyName"], "King");
    assert!(replaced.body.get("roles").is_none(), "no role stated: none shown: {}", replaced.text);
    let users = app.get(&format!("/api/v1/partners/{}/users", f.r1a), &f.r1a_admin.token).await;
    let ada_role = users.body["data"].as_array().expect("users").iter().find(|u| u["user_id"] == id.as_str()).map(|u| u["role"].clone());
    assert_eq!(ada_role, Some(json!("admin")), "a replace without roles keeps the role: {}", users.text);
    let name: String = app.query(sql!("SELECT name FROM users WHERE id = $1", id.as_str())).await[0].get("name").expect("name");
    assert_eq!(name, "Ada King");
    let moved = scim(&app, Method::PUT, &format!("/Users/{id}"), &token, Some(&person("ada@elsewhere.example", "Ada", "King"))).await;
    assert_eq!((moved.status, moved.body["scimType"].as_str()), (400, Some("mutability")), "{}", moved.text);

    // Deactivate: her session and the key she created stop at once; she is listed inactive.
    let off = scim(&app, Method::PATCH, &format!("/Users/{id}"), &token, Some(&deactivate())).await;
    assert_eq!(off.status, 200, "{}", off.text);
    assert_eq!(off.body["active"], false);
    assert_eq!(app.get("/api/v1/me", &session).await.status, 401);
    assert_eq!(app.get("/api/v1/partners", &key).await.status, 401);
    let relogin = app
        .send(Method::POST, "/api/v1/auth/login", None, Some(&json!({"email": "ada.lovelace@r1a.example", "password": NEW_PASSWORD})))
        .await;
    assert_eq!(relogin.status, 200, "the account stays; it has no membership left");
    assert_eq!(relogin.body["memberships"].as_array().map(Vec::len), Some(0), "{}", relogin.text);
    let users = app.get(&format!("/api/v1/partners/{}/users", f.r1a), &f.r1a_admin.token).await;
    assert!(!users.text.contains("ada.lovelace"), "not among the partner's users: {}", users.text);
    let shown = scim(&app, Method::GET, &format!("/Users/{id}"), &token, None).await;
    assert_eq!(shown.body["active"], false);
    let listed_once = |reply: &Reply| {
        assert_eq!(reply.body["totalResults"].as_i64(), Some(all), "{}", reply.text);
        let rows =
            reply.body["Resources"].as_array().expect("resources").iter().filter(|r| r["id"] == id.as_str()).cloned().collect::<Vec<_>>();
        assert_eq!(rows.len(), 1, "{}", reply.text);
        rows[0].clone()
    };
    let row = listed_once(&scim(&app, Method::GET, "/Users?count=1000", &token, None).await);
    assert_eq!(row["active"], false);
    let audit = app.get(&format!("/api/v1/audit-events?target_id={id}"), &f.owner_key).await;
    assert!(audit.text.contains("partner_user.provisioning_updated") && audit.text.contains("api_keys_revoked"), "{}", audit.text);

    // Reactivate (Okta's shape: no path, an object value): the role comes back, the key does not.
    let on = json!({"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": true}}]});
    let on = scim(&app, Method::PATCH, &format!("/Users/{id}"), &token, Some(&on)).await;
    assert_eq!((on.status, on.body["active"].as_bool()), (200, Some(true)), "{}", on.text);
    let session = app.login("ada.lovelace@r1a.example", NEW_PASSWORD).await;
    assert_eq!(app.get(&format!("/api/v1/partners/{}/users", f.r1a), &session).await.status, 200, "admin again");
    assert_eq!(app.get("/api/v1/partners", &key).await.status, 401, "a revoked key stays revoked");
    // Patch paths with the schema's URN and filtered multi-valued paths are understood.
    let patched = json!({"schemas": [PATCH], "Operations": [
        {"op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:User:displayName", "value": "Countess Ada"},
        {"op": "replace", "path": "name.givenName", "value": "Augusta"},
        {"op": "add", "path": "roles", "value": [{"value": "sales"}]},
        {"op": "replace", "path": "roles[value eq \"sales\"].value", "value": "marketing"},
        {"op": "remove", "path": "externalId"}
    ]});
    let patched = scim(&app, Method::PATCH, &format!("/Users/{id}"), &token, Some(&patched)).await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    assert_eq!((patched.body["displayName"].as_str(), patched.body["name"]["givenName"].as_str()), (Some("Countess Ada"), Some("Augusta")));
    assert_eq!(patched.body["roles"], json!([{"value": "marketing"}]));
    assert!(patched.body.get("externalId").is_none(), "{}", patched.text);

    // An admin removes her the usual way: the provider sees her inactive, listed once, with the
    // role she had, and reactivating her restores it.
    let removed = app.send(Method::DELETE, &format!("/api/v1/partners/{}/users/{id}", f.r1a), Some(&f.r1a_admin.token), None).await;
    assert_eq!(removed.status, 204, "{}", removed.text);
    assert_eq!(app.get("/api/v1/me", &session).await.status, 401);
    let row = listed_once(&scim(&app, Method::GET, "/Users?count=1000", &token, None).await);
    assert_eq!((row["active"].as_bool(), row["roles"].clone()), (Some(false), json!([{"value": "marketing"}])), "{row}");
    let on = json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": true}]});
    assert_eq!(scim(&app, Method::PATCH, &format!("/Users/{id}"), &token, Some(&on)).await.status, 200);
    let row = listed_once(&scim(&app, Method::GET, "/Users?count=1000", &token, None).await);
    assert_eq!((row["active"].as_bool(), row["roles"].clone()), (Some(true), json!([{"value": "marketing"}])), "{row}");
    let session = app.login("ada.lovelace@r1a.example", NEW_PASSWORD).await;

    // Delete: gone from the organisation, her session with it.
    assert_eq!(scim(&app, Method::DELETE, &format!("/Users/{id}"), &token, None).await.status, 204);
    assert_eq!(app.get("/api/v1/me", &session).await.status, 401);
    assert_eq!(scim(&app, Method::GET, &format!("/Users/{id}"), &token, None).await.status, 404);
    assert_eq!(scim(&app, Method::DELETE, &format!("/Users/{id}"), &token, None).await.status, 404);
}

#[tokio::test]
async fn an_existing_account_joins_without_its_name_or_password_changing_or_showing_and_bad_input_changes_nothing() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let token = token_for(&app, &f.r1a.to_string(), &f.admin.token).await.body["token"].as_str().expect("token").to_owned();
    // D2's admin also works for R1a: the provider knows them by other names and sends a password.
    let account_name: String =
        app.query(sql!("SELECT name FROM users WHERE id = $1", f.d2_admin.user_id.as_str())).await[0].get("name").expect("name");
    let mut body = person(&f.d2_admin.email, "Dee", "Two");
    body["password"] = json!(NEW_PASSWORD);
    let created = scim(&app, Method::POST, "/Users", &token, Some(&body)).await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.body["displayName"], "Dee Two", "the organisation's own view, not the account's name");
    assert!(!created.text.contains(&account_name), "{}", created.text);
    let renamed =
        scim(&app, Method::PUT, &format!("/Users/{}", f.d2_admin.user_id), &token, Some(&person(&f.d2_admin.email, "X", "Y"))).await;
    assert_eq!(renamed.status, 200, "{}", renamed.text);
    let name_now: String =
        app.query(sql!("SELECT name FROM users WHERE id = $1", f.d2_admin.user_id.as_str())).await[0].get("name").expect("name");
    assert_eq!(name_now, account_name, "an account that existed keeps its own name");
    let with_new =
        app.send(Method::POST, "/api/v1/auth/login", None, Some(&json!({"email": f.d2_admin.email, "password": NEW_PASSWORD}))).await;
    assert_eq!(with_new.status, 401, "its password did not change");
    let session = app.login(&f.d2_admin.email, PASSWORD).await;
    let me = app
        .send_with(Method::GET, "/api/v1/me", Some(&session), None, &[("trellis-membership", &format!("{}/{}", f.workspace_id, f.r1a))])
        .await;
    assert_eq!(me.status, 200, "a member of R1a now: {}", me.text);
    // Deleting them from R1a leaves their own organisation alone.
    assert_eq!(scim(&app, Method::DELETE, &format!("/Users/{}", f.d2_admin.user_id), &token, None).await.status, 204);
    assert_eq!(app.get("/api/v1/me", &f.d2_admin.token).await.status, 200, "the session bound to D2 goes on");

    // Bad input is a SCIM 400 and creates nothing.
    let before = app.query_i64(sql!("SELECT COUNT(*) AS n FROM users")).await;
    for (what, body, scim_type) in [
        ("not an address", json!({"schemas": [USER], "userName": "ada"}), "invalidValue"),
        ("no userName", json!({"schemas": [USER], "displayName": "Ada"}), "invalidValue"),
        ("an unknown role", json!({"userName": "r@r1a.example", "roles": [{"value": "emperor"}]}), "invalidValue"),
        ("a weak password", json!({"userName": "w@r1a.example", "password": "password1"}), "invalidValue"),
        ("active not a boolean", json!({"userName": "b@r1a.example", "active": "perhaps"}), "invalidValue"),
        ("a name too long", json!({"userName": "l@r1a.example", "displayName": "x".repeat(201)}), "invalidValue"),
    ] {
        let reply = scim(&app, Method::POST, "/Users", &token, Some(&body)).await;
        assert_eq!((reply.status, reply.body["scimType"].as_str()), (400, Some(scim_type)), "{what}: {}", reply.text);
    }
    let garbled = app.send_raw(Method::POST, "/scim/v2/Users", Some(&token), Some("application/scim+json"), "{not json").await;
    assert_eq!((garbled.status, garbled.body["scimType"].as_str()), (400, Some("invalidSyntax")), "{}", garbled.text);
    let bad_patch = json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "favouriteColour", "value": "red"}]});
    let bad_patch = scim(&app, Method::PATCH, &format!("/Users/{}", f.r1a_member.user_id), &token, Some(&bad_patch)).await;
    assert_eq!((bad_patch.status, bad_patch.body["scimType"].as_str()), (400, Some("invalidPath")), "{}", bad_patch.text);
    assert_eq!(app.query_i64(sql!("SELECT COUNT(*) AS n FROM users")).await, before);

    // Discovery documents for the provider's set-up.
    for path in ["/ServiceProviderConfig", "/ResourceTypes", "/Schemas", "/ResourceTypes/User", &format!("/Schemas/{USER}")] {
        let reply = scim(&app, Method::GET, path, &token, None).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text);
    }
    assert_eq!(scim(&app, Method::GET, "/Groups", &token, None).await.status, 404);
}

#[tokio::test]
async fn the_provisioning_pages_create_tokens_show_who_was_deactivated_and_a_deactivated_persons_cookie_stops_working() {
    use crate::pages::{assert_safe_page, sign_in};
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let admin = sign_in(&app, &f.r1a_admin.email).await;
    let users = admin.get("/portal/users").await;
    assert!(users.text.contains("/portal/provisioning"), "Users links provisioning");
    let page = admin.get("/portal/provisioning").await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert_safe_page("/portal/provisioning", &page);
    assert!(page.text.contains("/scim/v2") && page.text.contains("No SCIM token yet"), "{}", page.text);
    let refused = admin.submit("/portal/provisioning/tokens", &[("name", "")]).await;
    assert_eq!(refused.status, 422, "a token needs a name");
    let shown = admin.submit("/portal/provisioning/tokens", &[("name", "Entra ID")]).await;
    assert_eq!(shown.status, 200, "{}", shown.text);
    let token = shown
        .text
        .split("trl_")
        .nth(1)
        .and_then(|rest| rest.split(['<', '"', ' ']).next())
        .map(|t| format!("trl_{t}"))
        .expect("the token, once");
    assert!(admin.get("/portal/provisioning").await.text.contains("Entra ID"));
    let member = sign_in(&app, &f.r1a_member.email).await;
    assert_eq!(member.get("/portal/provisioning").await.status, 403, "members do not manage provisioning");

    // The provider deactivates the member: their browser session ends, the page lists them.
    let member_page = member.get("/portal/profile").await;
    assert_eq!(member_page.status, 200);
    let off = scim(&app, Method::PATCH, &format!("/Users/{}", f.r1a_member.user_id), &token, Some(&deactivate())).await;
    assert_eq!(off.status, 200, "{}", off.text);
    let after = member.get("/portal/profile").await;
    assert_eq!(after.status, 303, "the old cookie no longer signs anyone in");
    assert!(after.headers["location"].to_str().expect("location").starts_with("/login"));
    let listed = admin.get("/portal/provisioning").await;
    assert!(listed.text.contains(&f.r1a_member.email), "{}", listed.text);

    // The vendor's admin sees the same page for the partner, and revokes the token there.
    let vendor = sign_in(&app, &f.admin.email).await;
    let partner = vendor.get(&format!("/console/partners/{}", f.r1a)).await;
    assert!(partner.text.contains(&format!("/console/partners/{}/provisioning", f.r1a)));
    let console = vendor.get(&format!("/console/partners/{}/provisioning", f.r1a)).await;
    assert_eq!(console.status, 200, "{}", console.text);
    assert!(console.text.contains("Entra ID") && console.text.contains(&f.r1a_member.email));
    let key_id =
        console.text.split("/provisioning/tokens/").nth(1).and_then(|rest| rest.split('/').next()).expect("a revoke form").to_owned();
    let revoked = vendor.submit(&format!("/console/partners/{}/provisioning/tokens/{key_id}/revoke", f.r1a), &[]).await;
    assert_eq!(revoked.status, 303, "{}", revoked.text);
    assert_eq!(scim(&app, Method::GET, "/Users", &token, None).await.status, 401);
    let viewer = sign_in(&app, &f.viewer.email).await;
    assert_eq!(viewer.get(&format!("/console/partners/{}/provisioning", f.r1a)).await.status, 403);
}

#[tokio::test]
async fn the_demo_has_an_organisation_whose_identity_provider_provisioned_one_person_and_deactivated_another() {
    let app = TestApp::spawn().await;
    trellis_server::demo::seed(&app.state.ctx).await.expect("demo seeding");
    let rows =
        app.query(sql!("SELECT u.email, si.active FROM scim_identities si JOIN users u ON u.id = si.user_id ORDER BY u.email")).await;
    let seen: Vec<(String, Option<bool>)> =
        rows.iter().map(|r| (r.get("email").expect("email"), r.get("active").expect("active"))).collect();
    assert_eq!(seen, vec![("lee@northwind.example".to_owned(), Some(true)), ("pat@northwind.example".to_owned(), Some(false))]);
    let pat_member = app
        .query_i64(sql!(
            "SELECT COUNT(*) AS n FROM partner_users pu JOIN users u ON u.id = pu.user_id WHERE u.email = 'pat@northwind.example'"
        ))
        .await;
    assert_eq!(pat_member, 0, "Pat left: no membership");
    let tokens = app.query_i64(sql!("SELECT COUNT(*) AS n FROM api_keys WHERE scopes = 'scim' AND revoked_at IS NULL")).await;
    assert_eq!(tokens, 1);
    // Its single sign-on is set up and switched off: the sign-in page does not offer it yet.
    let sso = app.query(sql!("SELECT c.enabled, d.domain FROM sso_connections c JOIN sso_domains d ON d.connection_id = c.id")).await;
    assert_eq!(sso.len(), 1);
    assert_eq!(
        (sso[0].get::<bool>("enabled").expect("enabled"), sso[0].get::<String>("domain").expect("domain")),
        (false, "northwind.example".to_owned())
    );
    let offered = trellis_identity::sso::start(&app.state.ctx, "lee@northwind.example", "/", false, &Default::default()).await;
    assert!(matches!(offered, Err(trellis_core::Error::NotFound)), "{:?}", offered.map(|s| s.authorization_url));
}
