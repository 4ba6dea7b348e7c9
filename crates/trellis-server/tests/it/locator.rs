//! The public partner locator: only active, compliant partners who opted in, in name order, counted,
//! with a contact action only from what the profile publishes, with filters by
//! country, region, type, tier and specialisation that work alone and together; logos only of
//! listed partners; the page works without scripts.

use serde_json::{Value, json};
use trellis_core::{PartnerId, TierId};
use trellis_identity::Scope;
use trellis_programs::{NewProgram, enrollments, programs, tiers};
use trellis_testkit::fixture::Fixture;
use trellis_testkit::{TEST_FIXTURES, TestApp};

use crate::profiles::{PNG, assert_safe_page, get_page, upload};

async fn describe(app: &TestApp, f: &Fixture, partner: &PartnerId, profile: Value) {
    let reply = app.patch(&format!("/api/v1/partners/{partner}/profile"), &f.owner.token, profile).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

/// Profiles for the fixture: D1, R1a, R1b and P3 opted in (R1b then suspended), D2 not.
async fn listed_world(app: &TestApp, f: &Fixture) {
    describe(app, f, &f.d1, json!({"description": "Distribution across DACH.", "territories": {"countries": ["DE", "AT", "CH"], "regions": ["DACH"]}, "specialisations": ["Cloud migration"], "locator_opt_in": true})).await;
    describe(app, f, &f.r1a, json!({"description": "Backups for small offices.", "territories": {"countries": ["DE"]}, "specialisations": ["Backup"], "locator_opt_in": true})).await;
    describe(app, f, &f.r1b, json!({"description": "Suspended reseller.", "territories": {"countries": ["DE"]}, "locator_opt_in": true}))
        .await;
    describe(app, f, &f.d2, json!({"description": "Not listed.", "territories": {"countries": ["DE"]}, "locator_opt_in": false})).await;
    describe(app, f, &f.p3, json!({"description": "Referrals in France.", "territories": {"countries": ["FR"], "regions": ["Western Europe"]}, "specialisations": ["backup"], "locator_opt_in": true})).await;
    let suspended = app.patch(&format!("/api/v1/partners/{}", f.r1b), &f.owner.token, json!({"status": "suspended"})).await;
    assert_eq!(suspended.status, 200);
    let other =
        app.patch(&format!("/api/v1/partners/{}/profile", f.other_partner), &f.other_owner.token, json!({"locator_opt_in": true})).await;
    assert_eq!(other.status, 200);
}

async fn names(app: &TestApp, query: &str) -> Vec<String> {
    let reply = app.send(reqwest::Method::GET, &format!("/api/v1/public/partners?{query}"), None, None).await;
    assert_eq!(reply.status, 200, "{query}: {}", reply.text);
    reply.body["data"].as_array().expect("data").iter().map(|p| p["name"].as_str().expect("name").to_owned()).collect()
}

#[tokio::test]
async fn the_locator_lists_only_active_partners_who_opted_in_by_name_without_credentials() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    listed_world(&app, &f).await;
    let ws = format!("workspace={}", f.workspace_id);

    let all = app.send(reqwest::Method::GET, &format!("/api/v1/public/partners?{ws}"), None, None).await;
    let unnamed = app.send(reqwest::Method::GET, "/api/v1/public/partners", None, None).await;
    let first_page = app.send(reqwest::Method::GET, &format!("/api/v1/public/partners?{ws}&limit=2"), None, None).await;
    let cursor = first_page.body["next_cursor"].as_str().expect("a next page").to_owned();
    let second_page = names(&app, &format!("{ws}&limit=2&cursor={cursor}")).await;

    assert_eq!(all.status, 200, "{}", all.text);
    let listed: Vec<&str> = all.body["data"].as_array().expect("data").iter().filter_map(|p| p["name"].as_str()).collect();
    assert_eq!(listed, vec!["D1", "P3", "R1a"], "suspended, opted-out and other vendors' partners are not listed");
    let d1 = &all.body["data"][0];
    assert_eq!(d1["countries"], json!(["DE", "AT", "CH"]));
    assert_eq!(d1["regions"], json!(["DACH"]));
    assert_eq!(d1["types"], json!(["distributor"]));
    assert_eq!(d1["specialisations"], json!(["Cloud migration"]));
    assert!(d1.get("contact_email").is_none() && d1.get("status").is_none(), "only public fields: {d1}");
    assert_eq!(unnamed.status, 422, "two workspaces on this instance: the locator needs to know which");
    assert_eq!(first_page.body["data"].as_array().map(Vec::len), Some(2));
    assert_eq!(second_page, vec!["R1a"]);
}

#[tokio::test]
async fn locator_filters_narrow_by_country_region_type_tier_and_specialisation() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    listed_world(&app, &f).await;
    let system = Scope::system(f.workspace_id.clone(), &TEST_FIXTURES);
    let program = programs::create(
        &app.state.ctx,
        &system,
        NewProgram { name: "Resellers".into(), slug: "locator-resellers".into(), ..Default::default() },
    )
    .await
    .expect("program");
    let silver =
        tiers::create(&app.state.ctx, &system, &program.id, tiers::NewTier { name: "Silver".into(), rank: 1, ..Default::default() })
            .await
            .expect("tier");
    let gold: TierId =
        tiers::create(&app.state.ctx, &system, &program.id, tiers::NewTier { name: "Gold".into(), rank: 2, ..Default::default() })
            .await
            .expect("tier")
            .id;
    let mut tx = system.write(&app.state.ctx).await.expect("tx");
    enrollments::enroll_in(&mut tx, &system, &f.r1a, &program.id, Some(&gold), app.state.ctx.now()).await.expect("enroll");
    enrollments::enroll_in(&mut tx, &system, &f.d1, &program.id, Some(&silver.id), app.state.ctx.now()).await.expect("enroll");
    tx.commit().await.expect("commit");
    let ws = format!("workspace={}", f.workspace_id);

    assert_eq!(names(&app, &format!("{ws}&country=DE")).await, vec!["D1", "R1a"]);
    assert_eq!(names(&app, &format!("{ws}&country=de")).await, vec!["D1", "R1a"]);
    assert_eq!(names(&app, &format!("{ws}&region=dach")).await, vec!["D1"]);
    assert_eq!(names(&app, &format!("{ws}&type=referral")).await, vec!["P3"]);
    assert_eq!(names(&app, &format!("{ws}&specialisation=Backup")).await, vec!["P3", "R1a"]);
    assert_eq!(names(&app, &format!("{ws}&tier=gold")).await, vec!["R1a"]);
    assert_eq!(names(&app, &format!("{ws}&country=DE&specialisation=backup")).await, vec!["R1a"]);
    assert_eq!(names(&app, &format!("{ws}&q=france")).await, vec!["P3"]);
    assert_eq!(names(&app, &format!("{ws}&country=FR&type=distributor")).await, Vec::<String>::new());
    let tiers_of_d1 = app.send(reqwest::Method::GET, &format!("/api/v1/public/partners?{ws}&region=DACH"), None, None).await;
    assert_eq!(tiers_of_d1.body["data"][0]["tiers"], json!(["Silver"]));
    let bad_country = app.send(reqwest::Method::GET, &format!("/api/v1/public/partners?{ws}&country=XX"), None, None).await;
    assert_eq!(bad_country.status, 422);
    let bad_type = app.send(reqwest::Method::GET, &format!("/api/v1/public/partners?{ws}&type=wizard"), None, None).await;
    assert_eq!(bad_type.status, 422);
}

#[tokio::test]
async fn the_public_logo_route_serves_only_logos_of_listed_partners() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    listed_world(&app, &f).await;
    let logo_of = |reply: trellis_testkit::Reply| reply.body["id"].as_str().expect("id").to_owned();
    let d1_logo = logo_of(upload(&app, &f.d1_admin.token, &f.d1, "logo", "d1.png", Some("image/png"), PNG).await);
    let d2_logo = logo_of(upload(&app, &f.d2_admin.token, &f.d2, "logo", "d2.png", Some("image/png"), PNG).await);
    let d1_licence = logo_of(upload(&app, &f.d1_admin.token, &f.d1, "licence", "l.pdf", None, b"%PDF-1.4\n").await);
    for (partner, logo) in [(&f.d1, &d1_logo), (&f.d2, &d2_logo)] {
        let set = app.patch(&format!("/api/v1/partners/{partner}/profile"), &f.owner.token, json!({"logo_file_id": logo})).await;
        assert_eq!(set.status, 200, "{}", set.text);
    }

    let listed =
        app.send(reqwest::Method::GET, &format!("/api/v1/public/partners?workspace={}&region=DACH", f.workspace_id), None, None).await;
    let served = app.client.get(format!("{}/partners/logos/{d1_logo}", app.base_url)).send().await.expect("logo");
    let content_type = served.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let bytes = served.bytes().await.expect("bytes");
    let not_listed = get_page(&app, &format!("/partners/logos/{d2_logo}")).await;
    let not_a_logo = get_page(&app, &format!("/partners/logos/{d1_licence}")).await;

    assert_eq!(listed.body["data"][0]["logo_url"], format!("{}/partners/logos/{d1_logo}", app.base_url));
    assert_eq!(content_type.as_deref(), Some("image/png"));
    assert!(bytes.starts_with(crate::profiles::PNG_SIGNATURE), "the logo is served as a PNG");
    assert_eq!(not_listed.status, 404, "an opted-out partner's logo is not public");
    assert_eq!(not_a_logo.status, 404);
}

#[tokio::test]
async fn the_locator_page_filters_with_a_plain_form_and_shows_only_listed_partners() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    listed_world(&app, &f).await;

    let all = get_page(&app, &format!("/partners?workspace={}", f.workspace_id)).await;
    let germany = get_page(&app, &format!("/partners?workspace={}&country=DE&type=&tier=&q=", f.workspace_id)).await;
    let unnamed = get_page(&app, "/partners").await;

    assert_eq!(all.status, 200, "{}", all.text);
    assert_safe_page("/partners", &all);
    assert!(all.text.contains("Find a partner") && all.text.contains(r#"<form method="get" action="/partners""#));
    assert!(all.text.contains(r#"<a class="brand" href="/">Vendor</a>"#), "the vendor's name, not Trellis's");
    assert!(all.text.contains("Distribution across DACH.") && all.text.contains("Referrals in France."));
    assert!(!all.text.contains("Suspended reseller.") && !all.text.contains("Not listed."));
    assert!(all.text.contains(r#"<option value="DE">Germany</option>"#), "countries are offered by name");
    assert!(all.text.contains(&format!(r#"name="workspace" value="{}""#, f.workspace_id)), "the form keeps the workspace");
    assert_eq!(germany.status, 200);
    assert!(germany.text.contains("Backups for small offices.") && !germany.text.contains("Referrals in France."));
    assert!(germany.text.contains(r#"<option value="DE" selected>"#));
    assert_eq!(unnamed.status, 422);
}

#[tokio::test]
async fn the_locator_counts_offers_a_contact_and_hides_suspended_and_non_compliant_partners() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    listed_world(&app, &f).await;
    let website = app.patch(&format!("/api/v1/partners/{}/profile", f.p3), &f.owner.token, json!({"website": "https://p3.example"})).await;
    assert_eq!(website.status, 200, "{}", website.text);
    let ws = f.workspace_id.to_string();

    let before = get_page(&app, &format!("/partners?workspace={ws}")).await;
    assert!(before.text.contains("3 partners found"), "{}", before.text);

    // R1a's licence lapsed without a successor: not compliant. D1's lapsed one has a valid successor.
    let licence = |partner: &trellis_core::PartnerId, number: &str, from: i64, until: i64| {
        (
            format!("/api/v1/partners/{partner}/licences"),
            json!({"kind": "broker", "number": number, "jurisdiction": "DE", "valid_from": crate::profiles::day(&app, from), "valid_until": crate::profiles::day(&app, until)}),
        )
    };
    for (partner, number, from, until) in [(&f.r1a, "R-1", -400, -1), (&f.d1, "D-1", -400, -1), (&f.d1, "D-2", -1, 400)] {
        let (path, body) = licence(partner, number, from, until);
        let created = app.post(&path, &f.owner.token, body).await;
        assert_eq!(created.status, 201, "{}", created.text);
    }

    let page = get_page(&app, &format!("/partners?workspace={ws}")).await;
    assert_eq!(page.status, 200);
    assert_safe_page("/partners", &page);
    assert!(page.text.contains("2 partners found"), "{}", page.text);
    assert!(page.text.contains("<h2>D1</h2>") && page.text.contains("<h2>P3</h2>"), "{}", page.text);
    assert!(!page.text.contains("<h2>R1a</h2>"), "a partner that is not compliant is hidden");
    assert!(!page.text.contains("<h2>R1b</h2>"), "a suspended partner is hidden");
    assert!(page.text.contains("Contact P3"), "the contact action goes to the website the partner published");
    assert!(page.text.contains("p3.example"), "{}", page.text);
    assert!(!page.text.contains("mailto:"), "no email address the partner did not publish");
    let api = app.send(reqwest::Method::GET, &format!("/api/v1/public/partners?workspace={ws}"), None, None).await;
    let names: Vec<&str> = api.body["data"].as_array().expect("data").iter().filter_map(|p| p["name"].as_str()).collect();
    assert_eq!(names, vec!["D1", "P3"]);
    let one = get_page(&app, &format!("/partners?workspace={ws}&q=p3")).await;
    assert!(one.text.contains("1 partner found"), "{}", one.text);
    let none = get_page(&app, &format!("/partners?workspace={ws}&q=nobody")).await;
    assert!(none.text.contains("0 partners found"), "{}", none.text);
}
