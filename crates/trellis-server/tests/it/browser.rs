//! The pages in a real headless Chromium, driven over WebDriver (fantoccini and Debian's
//! chromedriver): a channel manager finds a partner and opens it; a partner admin on a 375 px
//! phone sees its own organisation, nothing of another's, and no page scrolls sideways.
//!
//! Without chromedriver the tests are skipped with a message, unless `TRELLIS_REQUIRE_BROWSER=1`
//! (set by CI), which turns a missing browser into a failure. Each test starts one Chromium;
//! nextest runs them one at a time (the `browser::` test group).

use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use trellis_db::sql;
use trellis_testkit::TestApp;
use trellis_testkit::fixture::{Fixture, PASSWORD};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
/// How long a page may take to show what a step waits for.
const STEP_TIMEOUT: Duration = Duration::from_secs(15);

/// chromedriver in a process group of its own, with the Chromium it starts. Dropping it kills
/// the whole group, so no browser outlives a test, even one that panicked halfway.
struct Browser {
    driver: Child,
    port: u16,
    profile: PathBuf,
}

impl Browser {
    /// Starts chromedriver; `None` (the test is skipped) when it is not installed and not required.
    async fn start() -> Option<Self> {
        let installed = Path::new(CHROMEDRIVER).exists() && Path::new(CHROMIUM).exists();
        if !installed {
            let required = std::env::var("TRELLIS_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
            assert!(!required, "TRELLIS_REQUIRE_BROWSER=1 but {CHROMEDRIVER} or {CHROMIUM} is missing");
            eprintln!("skipped: {CHROMEDRIVER} or {CHROMIUM} is not installed (TRELLIS_REQUIRE_BROWSER=1 makes this a failure)");
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free local port").port();
        let profile = std::env::temp_dir().join(format!("trellis-chromium-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&profile).expect("browser profile directory");
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("start chromedriver");
        let browser = Browser { driver, port, profile };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < STEP_TIMEOUT, "chromedriver did not listen on port {port}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Some(browser)
    }

    /// A new browser window; `phone` emulates a 375 × 812 screen (headless Chromium will not make
    /// a window narrower than 500 px, so device emulation stands in for a small window).
    async fn open(&self, phone: bool) -> Client {
        let mut chrome = json!({
            "binary": CHROMIUM,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                format!("--user-data-dir={}", self.profile.display()),
            ],
        });
        if phone {
            chrome["mobileEmulation"] = json!({"deviceMetrics": {"width": 375, "height": 812, "pixelRatio": 3}});
        }
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("goog:chromeOptions".to_owned(), chrome);
        // chromedriver listens on loopback over plain HTTP: no TLS stack (and no aws-lc) needed.
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("a WebDriver session in Chromium")
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The group's id is chromedriver's pid (process_group(0)); `kill -- -pgid` reaches every member.
        let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", self.driver.id())]).status();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

async fn wait_for(client: &Client, locator: Locator<'_>) -> fantoccini::elements::Element {
    let wanted = format!("{locator:?}");
    client.wait().at_most(STEP_TIMEOUT).for_element(locator).await.unwrap_or_else(|e| panic!("waiting for {wanted}: {e}"))
}

/// Waits until the browser has followed a form's redirect to a page under `prefix`: a heading the
/// old page shares (a lead's company is its deal's customer) would not tell the two pages apart.
async fn wait_for_path(client: &Client, prefix: &str) {
    let deadline = std::time::Instant::now() + STEP_TIMEOUT;
    loop {
        let url = client.current_url().await.expect("the current address");
        if url.path().starts_with(prefix) && script(client, "return document.readyState").await == "complete" {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "waiting for a page under {prefix}, still at {url}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn sign_in(client: &Client, app: &TestApp, email: &str) {
    client.goto(&format!("{}/login", app.base_url)).await.expect("open the sign-in page");
    client.find(Locator::Id("email")).await.expect("email field").send_keys(email).await.expect("type the email");
    client.find(Locator::Id("password")).await.expect("password field").send_keys(PASSWORD).await.expect("type the password");
    client.find(Locator::Css("form[action='/login'] button[type=submit]")).await.expect("sign-in button").click().await.expect("sign in");
    wait_for(client, Locator::Css("header .who .acting")).await;
}

async fn script(client: &Client, code: &str) -> Value {
    client.execute(code, Vec::new()).await.unwrap_or_else(|e| panic!("running {code:?}: {e}"))
}

/// What a person reads on the page (hidden fields, such as a random CSRF token, are not text).
async fn visible_text(client: &Client) -> String {
    script(client, "return document.body.innerText").await.as_str().unwrap_or_default().to_owned()
}

/// The layout width and the widest content: equal when nothing scrolls sideways.
async fn widths(client: &Client) -> (i64, i64) {
    let value = script(client, "return [document.documentElement.clientWidth, document.documentElement.scrollWidth]").await;
    (value[0].as_i64().unwrap_or_default(), value[1].as_i64().unwrap_or_default())
}

#[tokio::test]
async fn a_channel_manager_searches_for_a_partner_and_opens_its_page() {
    let Some(browser) = Browser::start().await else { return };
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let client = browser.open(false).await;

    sign_in(&client, &app, &f.channel_manager.email).await;
    client.find(Locator::LinkText("Partners")).await.expect("Partners in the navigation").click().await.expect("open the partners");
    wait_for(&client, Locator::XPath("//h1[normalize-space()='Partners']")).await;
    client.find(Locator::Id("filter-q")).await.expect("search box").send_keys("R1a").await.expect("type the search");
    client.find(Locator::Css("form[role=search] button[type=submit]")).await.expect("search button").click().await.expect("search");
    // The reloaded page renders the query into the field's value attribute; typing does not.
    wait_for(&client, Locator::XPath("//input[@id='filter-q' and @value='R1a']")).await;
    let rows = client.find_all(Locator::Css("table.responsive tbody tr")).await.expect("result rows");
    assert_eq!(rows.len(), 1, "only R1a matches: {}", visible_text(&client).await);
    client.find(Locator::LinkText("R1a")).await.expect("the result links to R1a").click().await.expect("open R1a");
    wait_for(&client, Locator::XPath("//h1[normalize-space()='R1a']")).await;

    let url = client.current_url().await.expect("current url");
    let text = visible_text(&client).await;
    assert_eq!(url.path(), format!("/console/partners/{}", f.r1a));
    assert!(text.contains("reseller"), "{text}");
    assert!(text.contains("contact@r1a.example"), "{text}");
    assert!(text.contains("D1"), "the distributor is shown: {text}");
    assert!(text.contains("admin@r1a.example") && text.contains("member@r1a.example"), "its users are listed: {text}");
    client.close().await.expect("close the browser session");
}

#[tokio::test]
async fn a_partner_admin_on_a_phone_sees_its_own_organisation_and_nothing_of_others() {
    let Some(browser) = Browser::start().await else { return };
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let client = browser.open(true).await;

    sign_in(&client, &app, &f.r1a_admin.email).await;
    let heading = wait_for(&client, Locator::Css("main h1")).await.text().await.expect("heading text");
    assert_eq!(heading, "R1a");
    assert_eq!(widths(&client).await.0, 375, "the page is laid out for a 375 px screen");
    for path in ["/", "/portal/profile", "/portal/users", "/portal/api-keys"] {
        client.goto(&format!("{}{path}", app.base_url)).await.expect("open a portal page");
        wait_for(&client, Locator::Css("main h1")).await;
        let (client_width, scroll_width) = widths(&client).await;
        assert!(scroll_width <= client_width, "{path} scrolls sideways: {scroll_width} > {client_width}");
        let text = visible_text(&client).await;
        assert!(text.contains("R1a") && !text.contains("D1") && !text.contains("R1b"), "{path}: {text}");
    }

    for (foreign, name) in [(&f.d1, "D1"), (&f.r1b, "R1b")] {
        client.goto(&format!("{}/console/partners/{foreign}", app.base_url)).await.expect("open a foreign partner");
        let heading = wait_for(&client, Locator::Css("main h1")).await.text().await.expect("heading text");
        let source = client.source().await.expect("page source");
        assert_eq!(heading, "Not found");
        assert!(!source.contains(name), "the 404 page shows {name}");
        let (client_width, scroll_width) = widths(&client).await;
        assert!(scroll_width <= client_width);
    }
    client.close().await.expect("close the browser session");
}

/// Clicks the element `locator` finds.
async fn click(client: &Client, locator: Locator<'_>) {
    let wanted = format!("{locator:?}");
    client
        .find(locator)
        .await
        .unwrap_or_else(|e| panic!("finding {wanted}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("clicking {wanted}: {e}"));
}

/// Types into the field with element id `id`.
async fn type_into(client: &Client, id: &str, text: &str) {
    client
        .find(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("field {id}: {e}"))
        .send_keys(text)
        .await
        .unwrap_or_else(|e| panic!("typing into {id}: {e}"));
}

/// With `TRELLIS_SCREENSHOTS=<dir>`, saves the window as `<dir>/<name>.png` (whole page height),
/// for people to look at; a test run without it writes nothing.
async fn screenshot(client: &Client, name: &str) {
    let Ok(dir) = std::env::var("TRELLIS_SCREENSHOTS") else { return };
    let height = script(client, "return document.documentElement.scrollHeight").await.as_i64().unwrap_or(900);
    let width = script(client, "return document.documentElement.clientWidth").await.as_i64().unwrap_or(375);
    // A phone window keeps its emulated width; the height grows so the shot holds the whole page.
    let _ = client.set_window_size(u32::try_from(width.max(500)).unwrap_or(1280), u32::try_from(height.min(6000)).unwrap_or(900)).await;
    let png = client.screenshot().await.expect("a screenshot");
    std::fs::create_dir_all(&dir).expect("the screenshot directory");
    std::fs::write(Path::new(&dir).join(format!("{name}.png")), png).expect("write the screenshot");
}

async fn assert_fits_the_phone(client: &Client, what: &str) {
    let (client_width, scroll_width) = widths(client).await;
    assert_eq!(client_width, 375, "{what} is laid out for a 375 px screen");
    if scroll_width > client_width {
        // Name the elements that stick out, innermost last, so the failure says what to fix.
        let wide = script(
            client,
            "return Array.from(document.querySelectorAll('body *')).filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
               .map(e => e.tagName.toLowerCase() + (e.className && e.className.baseVal === undefined ? '.' + e.className : '') + ' ' + Math.round(e.getBoundingClientRect().right))",
        )
        .await;
        panic!("{what} scrolls sideways: {scroll_width} > {client_width}; sticking out: {wide}");
    }
}

#[tokio::test]
async fn an_applicant_applies_on_a_phone_is_approved_and_onboards_until_the_partner_is_active() {
    let Some(browser) = Browser::start().await else { return };
    let (app, smtp) = TestApp::spawn_with_smtp().await;
    let f = Fixture::build(&app).await;
    let questions =
        json!([{"id": "annual_revenue", "label": "Annual revenue", "kind": "select", "required": true, "options": ["< 1M", "1M-10M"]}]);
    let program = app
        .post("/api/v1/programs", &f.owner.token, json!({"name": "Resellers", "slug": "resellers", "application_questions": questions}))
        .await;
    assert_eq!(program.status, 201, "{}", program.text);
    let program_id = program.body["id"].as_str().expect("program id");
    for step in [
        json!({"kind": "accept_agreement", "title": "Accept the reseller agreement"}),
        json!({"kind": "custom", "title": "Book your kick-off call"}),
    ] {
        let added = app.post(&format!("/api/v1/programs/{program_id}/onboarding-steps"), &f.owner.token, step).await;
        assert_eq!(added.status, 201, "{}", added.text);
    }
    let agreement = app
        .post(
            &format!("/api/v1/programs/{program_id}/agreements"),
            &f.owner.token,
            json!({"title": "Reseller agreement", "body": "You resell our products fairly."}),
        )
        .await;
    assert_eq!(agreement.status, 201, "{}", agreement.text);
    let email = "ada@acme-widgets.example";

    // The applicant fills the public form on a phone.
    let phone = browser.open(true).await;
    phone.goto(&format!("{}/apply/resellers", app.base_url)).await.expect("open the application form");
    wait_for(&phone, Locator::XPath("//h1[normalize-space()='Apply to Resellers']")).await;
    assert_fits_the_phone(&phone, "/apply/resellers").await;
    type_into(&phone, "apply-company_name", "Acme Widgets").await;
    type_into(&phone, "apply-contact_name", "Ada Lovelace").await;
    type_into(&phone, "apply-contact_email", email).await;
    type_into(&phone, "apply-website", "https://acme-widgets.example").await;
    click(&phone, Locator::Css("input[name=types][value=reseller]")).await;
    phone
        .find(Locator::Css("select[name='answers.annual_revenue']"))
        .await
        .expect("the custom question")
        .select_by_value("1M-10M")
        .await
        .expect("answer it");
    click(&phone, Locator::Css("form[action='/apply/resellers'] button[type=submit]")).await;
    wait_for(&phone, Locator::XPath("//h1[normalize-space()='Thank you']")).await;
    assert_fits_the_phone(&phone, "the thank-you page").await;
    phone.close().await.expect("close the applicant's browser");

    // A channel manager approves it in the console.
    let desk = browser.open(false).await;
    sign_in(&desk, &app, &f.channel_manager.email).await;
    // The navigation's link carries the count of applications waiting ("Applications (1 waiting)").
    let waiting = wait_for(&desk, Locator::Css("nav[aria-label=Main] a[href^='/console/applications'] .nav-count")).await;
    let count = waiting.text().await.expect("count text");
    assert!(count.contains('1') && !count.contains('2'), "the navigation counts the application waiting: {count:?}");
    click(&desk, Locator::Css("nav[aria-label=Main] a[href^='/console/applications']")).await;
    wait_for(&desk, Locator::XPath("//h1[normalize-space()='Applications']")).await;
    click(&desk, Locator::LinkText("Acme Widgets")).await;
    wait_for(&desk, Locator::XPath("//h1[normalize-space()='Acme Widgets']")).await;
    let detail = visible_text(&desk).await;
    assert!(detail.contains("Annual revenue") && detail.contains("1M-10M"), "{detail}");
    // The approve form asks for confirmation first (data-confirm); say yes.
    script(&desk, "window.confirm = function () { return true; }; return true;").await;
    click(&desk, Locator::Css("form[action$='/approve'] button[type=submit]")).await;
    wait_for(&desk, Locator::XPath("//p[contains(@class, 'notice') and contains(., 'The application was approved')]")).await;
    click(&desk, Locator::Css("form[action='/logout'] button[type=submit]")).await;
    wait_for(&desk, Locator::Id("email")).await;
    desk.close().await.expect("close the console's browser");

    // The background worker delivers the approval email to the test's SMTP server; it carries the
    // invitation link in its text and HTML parts.
    app.run_jobs().await;
    let approval =
        smtp.messages_to(email).into_iter().find(|m| m.subject().is_some_and(|s| s.starts_with("Welcome to the"))).unwrap_or_else(|| {
            panic!(
                "the approval email reached the SMTP server: {:?}",
                smtp.messages().iter().map(|m| (m.subject(), m.recipients.clone())).collect::<Vec<_>>()
            )
        });
    let text = approval.text_part().expect("a text part");
    let link = text.split_whitespace().find(|w| w.contains("/invitations/")).expect("an invitation link").to_owned();
    assert!(approval.html_part().is_some_and(|html| html.contains(&link)), "the HTML part carries the same link");
    assert!(link.starts_with(&app.base_url), "{link}");

    // The applicant chooses a password (accepting signs them in) and onboards on the phone.
    let phone = browser.open(true).await;
    phone.goto(&link).await.expect("follow the invitation link");
    wait_for(&phone, Locator::Id("password")).await;
    assert_fits_the_phone(&phone, "the invitation page").await;
    // The name the application gave is filled in: the applicant only chooses a password.
    let name = phone.find(Locator::Id("name")).await.expect("name field").prop("value").await.expect("its value");
    assert_eq!(name.as_deref(), Some("Ada Lovelace"), "the invitation form starts with the applicant's name");
    type_into(&phone, "password", PASSWORD).await;
    click(&phone, Locator::XPath("//button[normalize-space()='Create my account and accept']")).await;
    wait_for(&phone, Locator::LinkText("Continue onboarding")).await;
    let home = visible_text(&phone).await;
    assert!(home.contains("0 of 2 required steps done"), "{home}");
    assert_fits_the_phone(&phone, "the portal home").await;
    click(&phone, Locator::LinkText("Continue onboarding")).await;
    wait_for(&phone, Locator::XPath("//h1[normalize-space()='Onboarding']")).await;
    assert_fits_the_phone(&phone, "/portal/onboarding").await;
    assert!(visible_text(&phone).await.contains("You resell our products fairly."));
    click(&phone, Locator::XPath("//button[normalize-space()='I accept this agreement']")).await;
    wait_for(&phone, Locator::XPath("//p[contains(@class, 'notice') and contains(., 'You accepted the agreement')]")).await;
    click(&phone, Locator::XPath("//button[starts-with(normalize-space(), 'Mark done')]")).await;
    wait_for(&phone, Locator::XPath("//p[contains(@class, 'notice') and contains(., 'The step is done')]")).await;

    let status = wait_for(&phone, Locator::Css(".heading-row .badge")).await.text().await.expect("status text");
    assert_eq!(status, "active", "the last required step activated the partner");
    let partners = app.get("/api/v1/partners?status=active&q=Acme", &f.owner.token).await;
    assert_eq!(partners.body["data"][0]["name"], "Acme Widgets", "{}", partners.text);
    phone.close().await.expect("close the applicant's browser");
}

/// Issue 8: the console home at 1280 px and on a 375 px phone — what waits, with its count, the
/// navigation's count, the charts drawn — and nothing scrolls sideways on the phone; at 1280 px
/// no one-word table header, button or link of the partner page breaks inside its word.
#[tokio::test]
async fn the_console_home_shows_what_waits_and_its_charts_at_1280_px_and_on_a_phone() {
    let Some(browser) = Browser::start().await else { return };
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    crate::recruitment::program_with_questions(&app, &f, "resellers", json!([])).await;
    let applied =
        crate::recruitment::apply(&app, "resellers", &crate::recruitment::application("Waiting Co", "someone@waiting.example")).await;
    assert_eq!(applied.status, 201, "{}", applied.text);

    for phone in [false, true] {
        let client = browser.open(phone).await;
        if !phone {
            client.set_window_size(1280, 900).await.expect("a 1280 px window");
        }
        sign_in(&client, &app, &f.owner.email).await;
        client.goto(&format!("{}/", app.base_url)).await.expect("open the home");
        wait_for(&client, Locator::Id("queues-heading")).await;
        let text = visible_text(&client).await;
        assert!(text.contains("Applications to review"), "{text}");
        let count = script(
            &client,
            "var row = Array.from(document.querySelectorAll('.queues a')).find(a => a.textContent.includes('Applications to review'));
             return row ? row.querySelector('strong').textContent : null",
        )
        .await;
        assert_eq!(count, json!("1"), "the queue's count");
        let nav = script(&client, "return Array.from(document.querySelectorAll('nav[aria-label=Main] .nav-count')).length").await;
        assert_eq!(nav, json!(1), "one navigation link counts something waiting");
        let drawn = script(
            &client,
            "return Array.from(document.querySelectorAll('.chart svg')).map(s => Math.round(s.getBoundingClientRect().width))",
        )
        .await;
        let widths: Vec<i64> = drawn.as_array().expect("chart widths").iter().filter_map(Value::as_i64).collect();
        assert!(!widths.is_empty() && widths.iter().all(|w| *w > 250), "the charts are drawn at a readable width: {widths:?}");
        if phone {
            assert_fits_the_phone(&client, "the console home").await;
            screenshot(&client, "console-home-375").await;
        } else {
            client.goto(&format!("{}/console/partners/{}", app.base_url, f.d1)).await.expect("open a partner");
            wait_for(&client, Locator::Id("facts-heading")).await;
            let broken = script(
                &client,
                "return Array.from(document.querySelectorAll('th, td button, td a, .page-actions .button, .page-actions button'))
                   .filter(e => e.offsetParent !== null && !/\\s/.test(e.textContent.trim()))
                   .filter(e => { var r = document.createRange(); r.selectNodeContents(e);
                                  var seen = Array.from(r.getClientRects()).filter(x => x.width > 2);
                                  return new Set(seen.map(x => Math.round(x.top))).size > 1; })
                   .map(e => e.textContent.trim())",
            )
            .await;
            assert_eq!(broken, json!([]), "one-word cells and buttons broken across lines at 1280 px");
        }
        // The windows share one browser profile: sign out, so the next window signs in afresh.
        click(&client, Locator::Css("form[action='/logout'] button[type=submit]")).await;
        wait_for(&client, Locator::Id("email")).await;
        client.close().await.expect("close the browser");
    }
}

/// Issue 8: the partner list at 1280 px and on a phone — sorted by clicking the name column,
/// filtered with the pickers, exported as the filter shows it, and two ticked partners given a
/// channel manager in one bulk action; on a phone nothing scrolls sideways.
#[tokio::test]
async fn the_partner_list_sorts_filters_exports_and_changes_ticked_partners_at_1280_px_and_on_a_phone() {
    let Some(browser) = Browser::start().await else { return };
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let suspended = app.patch(&format!("/api/v1/partners/{}", f.r2a), &f.owner.token, json!({"status": "suspended"})).await;
    assert_eq!(suspended.status, 200, "{}", suspended.text);

    for phone in [false, true] {
        let client = browser.open(phone).await;
        if !phone {
            client.set_window_size(1280, 900).await.expect("a 1280 px window");
        }
        sign_in(&client, &app, &f.owner.email).await;
        client.goto(&format!("{}/console/partners", app.base_url)).await.expect("open the partners");
        wait_for(&client, Locator::XPath("//h1[normalize-space()='Partners']")).await;
        let names = "return Array.from(document.querySelectorAll('td[data-label=Name] > a')).map(a => a.textContent)";
        if phone {
            // The column heads are hidden on a phone: the sort picker sorts.
            script(&client, "document.getElementById('filter-sort').value = 'name_desc'").await;
            click(&client, Locator::Css("form[role=search] button[type=submit]")).await;
            wait_for(&client, Locator::XPath("//select[@id='filter-sort']/option[@value='name_desc' and @selected]")).await;
            let listed = script(&client, names).await;
            assert_eq!(listed[0], json!("R2a"), "Z to A: {listed}");
            assert_fits_the_phone(&client, "the partner list").await;
        } else {
            click(&client, Locator::Css("th a.sort")).await;
            wait_for(&client, Locator::Css("th[aria-sort=ascending]")).await;
            let listed: Vec<String> =
                script(&client, names).await.as_array().expect("names").iter().filter_map(|n| n.as_str().map(str::to_owned)).collect();
            let mut sorted = listed.clone();
            sorted.sort_by_key(|n| n.to_lowercase());
            assert_eq!(listed, sorted, "sorted by name");

            script(&client, "document.getElementById('filter-status').value = 'suspended'").await;
            click(&client, Locator::Css("form[role=search] button[type=submit]")).await;
            wait_for(&client, Locator::XPath("//select[@id='filter-status']/option[@value='suspended' and @selected]")).await;
            assert_eq!(script(&client, names).await, json!(["R2a"]), "only the suspended partner");
            assert!(visible_text(&client).await.contains("Showing 1–1 of 1 partners"));
            let csv = script(
                &client,
                "var link = Array.from(document.querySelectorAll('a')).find(a => a.textContent.includes('Export these'));
                 var x = new XMLHttpRequest(); x.open('GET', link.href, false); x.send(); return x.responseText",
            )
            .await;
            let rows: Vec<&str> = csv.as_str().unwrap_or_default().split("\r\n").filter(|l| !l.is_empty()).collect();
            assert_eq!(rows.len(), 2, "the header and R2a: {rows:?}");
            assert!(rows[1].contains("\"R2a\"") && rows[1].contains("\"suspended\""), "{rows:?}");

            client.goto(&format!("{}/console/partners?sort=name", app.base_url)).await.expect("all partners");
            wait_for(&client, Locator::Css("th[aria-sort=ascending]")).await;
            click(&client, Locator::Css(&format!("input[value='{}']", f.r1a))).await;
            click(&client, Locator::Css(&format!("input[value='{}']", f.r1b))).await;
            click(&client, Locator::Css("#bulk summary")).await;
            script(&client, &format!("document.getElementById('bulk-manager').value = '{}'", f.channel_manager.user_id)).await;
            click(&client, Locator::Css("#bulk button[value=assign_manager]")).await;
            wait_for(&client, Locator::XPath("//h1[contains(., '2 partners changed')]")).await;
            let text = visible_text(&client).await;
            assert!(text.contains("R1a") && text.contains("R1b"), "{text}");
        }
        click(&client, Locator::Css("form[action='/logout'] button[type=submit]")).await;
        wait_for(&client, Locator::Id("email")).await;
        client.close().await.expect("close the browser");
    }
    for id in [&f.r1a, &f.r1b] {
        let got = app.get(&format!("/api/v1/partners/{id}"), &f.owner.token).await;
        assert_eq!(got.body["manager_user_id"].as_str(), Some(f.channel_manager.user_id.as_str()), "the bulk action was saved");
    }
}

/// Issue 8: a sales rep's portal home on a 375 px phone — the programs and the tier first, the
/// channel manager named with a mail link — and nothing scrolls sideways.
#[tokio::test]
async fn a_sales_reps_portal_home_on_a_phone_leads_with_the_tier_and_names_the_channel_manager() {
    let Some(browser) = Browser::start().await else { return };
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let program = app.post("/api/v1/programs", &f.owner.token, json!({"name": "Resellers", "slug": "resellers"})).await;
    assert_eq!(program.status, 201, "{}", program.text);
    let program = program.body["id"].as_str().expect("program id").to_owned();
    let tier = json!({"name": "Registered", "rank": 0, "requirements": {"all": []},
                      "benefits": {"text": "Deal registration priority", "commission_override_bps": 1250,
                                   "mdf_allowance": {"amount_minor": 500_000, "currency": "EUR"}, "content_access": ["sales-deck"]}});
    assert_eq!(app.post(&format!("/api/v1/programs/{program}/tiers"), &f.owner.token, tier).await.status, 201);
    let enrolled = app.post(&format!("/api/v1/partners/{}/enrollments", f.p3), &f.owner.token, json!({"program_id": program})).await;
    assert_eq!(enrolled.status, 201, "{}", enrolled.text);
    let assigned =
        app.patch(&format!("/api/v1/partners/{}", f.p3), &f.owner.token, json!({"manager_user_id": f.channel_manager.user_id})).await;
    assert_eq!(assigned.status, 200, "{}", assigned.text);
    let rep = trellis_testkit::fixture::add_partner_user(
        &app,
        &f.workspace_id,
        "p3_sales",
        &f.p3,
        "rep@p3.example",
        trellis_core::PartnerRole::Sales,
    )
    .await;
    let client = browser.open(true).await;

    sign_in(&client, &app, &rep.email).await;
    client.goto(&format!("{}/", app.base_url)).await.expect("open the home");
    wait_for(&client, Locator::Id("programs-heading")).await;
    let first_card = script(&client, "return document.querySelector('main section.card h2').textContent").await;
    let mailto = script(&client, "var a = document.querySelector('a[href^=\"mailto:\"]'); return a ? a.getAttribute('href') : null").await;
    let text = visible_text(&client).await;

    assert_eq!(first_card, json!("Your programs and tiers"), "a seller's home leads with the programs");
    assert_eq!(mailto, json!(format!("mailto:{}", f.channel_manager.email)));
    assert!(text.contains("Commission rate 12.5%") && text.contains("€5,000.00") && text.contains("sales-deck"), "{text}");
    assert_fits_the_phone(&client, "the sales rep's portal home").await;
    screenshot(&client, "portal-home-sales-375").await;
    client.close().await.expect("close the browser");
}

/// Issue 8: a channel manager creates a partner with its program and first user from the new
/// partner form, reads that the invitation waits in the outbox (no mail server here), opens the
/// partner and marks its kick-off call done from the onboarding card — at 1280 px and on a phone.
#[tokio::test]
async fn a_channel_manager_creates_a_partner_with_its_first_user_and_marks_its_kick_off_call_done_at_1280_px_and_on_a_phone() {
    let Some(browser) = Browser::start().await else { return };
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let program = app.post("/api/v1/programs", &f.owner.token, json!({"name": "Resellers", "slug": "resellers"})).await;
    let program_id = program.body["id"].as_str().expect("program id").to_owned();
    let step = app
        .post(
            &format!("/api/v1/programs/{program_id}/onboarding-steps"),
            &f.owner.token,
            json!({"kind": "custom", "title": "Kick-off call"}),
        )
        .await;
    assert_eq!(step.status, 201, "{}", step.text);

    for (phone, name, email) in [(false, "Desk Partner", "ana@desk.example"), (true, "Phone Partner", "bo@phone.example")] {
        let client = browser.open(phone).await;
        if !phone {
            client.set_window_size(1280, 900).await.expect("a 1280 px window");
        }
        sign_in(&client, &app, &f.channel_manager.email).await;
        client.goto(&format!("{}/console/partners/new", app.base_url)).await.expect("open the new partner form");
        wait_for(&client, Locator::Id("new-partner-heading")).await;
        if phone {
            assert_fits_the_phone(&client, "the new partner form").await;
        }
        type_into(&client, "partner-name", name).await;
        type_into(&client, "partner-contact_email", "hello@partner.example").await;
        click(&client, Locator::Css("input[name=types][value=reseller]")).await;
        client.find(Locator::Id("partner-program_id")).await.expect("program picker").select_by_value(&program_id).await.expect("pick");
        type_into(&client, "partner-user_email", email).await;
        click(&client, Locator::XPath("//button[normalize-space()='Create partner']")).await;
        wait_for(&client, Locator::XPath(&format!("//h1[contains(., '{name} is created and {email} is invited')]"))).await;
        assert!(visible_text(&client).await.contains("waits in the outbox"), "the page says where the email is");
        if phone {
            assert_fits_the_phone(&client, "the invitation link page").await;
        }
        click(&client, Locator::LinkText("Go to the partner")).await;
        wait_for(&client, Locator::Id("onboarding-heading")).await;
        assert!(visible_text(&client).await.contains("0 of 1 required steps done"));
        click(&client, Locator::XPath("//button[starts-with(normalize-space(), 'Mark done')]")).await;
        wait_for(&client, Locator::XPath("//p[contains(@class, 'notice') and contains(., 'The step is done')]")).await;
        let text = visible_text(&client).await;
        assert!(text.contains("1 of 1 required steps done") && text.contains(&format!("by {}", f.channel_manager.email)), "{text}");
        if phone {
            assert_fits_the_phone(&client, "the partner page with its onboarding card").await;
        }
        click(&client, Locator::Css("form[action='/logout'] button[type=submit]")).await;
        wait_for(&client, Locator::Id("email")).await;
        client.close().await.expect("close the browser");
    }
}

/// Issue 8: on a 375 px phone, every page the navigation offers the owner and a distributor's
/// admin — and the pages one click further that people use most (a partner's page, the audit log
/// filtered, a reseller's page, provisioning) — fits the screen: nothing scrolls sideways.
#[tokio::test]
async fn every_page_in_the_navigation_fits_a_phone_for_the_owner_and_a_distributor_admin() {
    let Some(browser) = Browser::start().await else { return };
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let extra = [
        (
            f.owner.email.clone(),
            vec![
                format!("/console/partners/{}", f.d1),
                "/console/partners/new".to_owned(),
                "/console/audit?target_type=partner".to_owned(),
                format!("/console/partners/{}/provisioning", f.d1),
                format!("/console/partners/{}/sso", f.d1),
                "/console/settings/sso".to_owned(),
            ],
        ),
        (
            f.d1_admin.email.clone(),
            vec![format!("/portal/resellers/{}", f.r1a), "/portal/provisioning".to_owned(), "/portal/sso".to_owned()],
        ),
    ];
    for (email, more) in extra {
        let client = browser.open(true).await;
        sign_in(&client, &app, &email).await;
        let links =
            script(&client, "return Array.from(document.querySelectorAll('nav[aria-label=Main] a')).map(a => a.getAttribute('href'))")
                .await;
        let mut paths: Vec<String> =
            links.as_array().expect("navigation links").iter().filter_map(|l| l.as_str().map(str::to_owned)).collect();
        assert!(paths.len() >= 3, "{email} has a navigation: {paths:?}");
        paths.extend(more);
        for path in paths {
            client.goto(&format!("{}{path}", app.base_url)).await.unwrap_or_else(|e| panic!("open {path}: {e}"));
            wait_for(&client, Locator::Css("main h1")).await;
            assert_fits_the_phone(&client, &format!("{path} as {email}")).await;
        }
        click(&client, Locator::Css("form[action='/logout'] button[type=submit]")).await;
        wait_for(&client, Locator::Id("email")).await;
        client.close().await.expect("close the browser");
    }
}

#[tokio::test]
async fn a_partner_admin_on_a_phone_picks_countries_by_name_and_adds_tags_one_box_at_a_time() {
    let Some(browser) = Browser::start().await else { return };
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let phone = browser.open(true).await;
    sign_in(&phone, &app, &f.p3_admin.email).await;

    phone.goto(&format!("{}/portal/profile/edit", app.base_url)).await.expect("open the profile editor");
    wait_for(&phone, Locator::Id("profile-territories.countries-find")).await;
    let select_hidden = script(&phone, "return document.getElementById('profile-territories.countries').hidden").await;
    for name in ["Germany\n", "Austria\n"] {
        type_into(&phone, "profile-territories.countries-find", name).await;
    }
    let chips = script(
        &phone,
        "return Array.from(document.querySelectorAll('#profile-territories\\\\.countries-chosen li')).map(li => li.firstChild.textContent)",
    )
    .await;
    click(&phone, Locator::Css("button[aria-label='Remove Austria']")).await;
    type_into(&phone, "profile-specialisations-1", "Backup\n").await;
    type_into(&phone, "profile-specialisations-2", "Cloud migration\n").await;
    let boxes = script(&phone, "return document.querySelectorAll('#profile-specialisations input').length").await;
    type_into(&phone, "profile-specialisations-3", "Security").await;
    assert_fits_the_phone(&phone, "the profile editor with chips").await;
    click(&phone, Locator::Css("form[action='/portal/profile/edit'] button[type=submit]:not([class])")).await;
    wait_for(&phone, Locator::Css(".notice")).await;
    let profile = app.get(&format!("/api/v1/partners/{}/profile", f.p3), &f.p3_admin.token).await;

    assert_eq!(select_hidden, json!(true), "the list box gives way to the picker");
    assert_eq!(chips, json!(["Austria", "Germany"]), "chosen countries show by name, in the order of the list");
    assert_eq!(boxes, json!(3), "Enter in the last box adds one instead of submitting");
    assert_eq!(profile.body["pending_change_requests"][0]["changes"]["territories"]["countries"], json!(["DE"]), "{}", profile.text);
    assert_eq!(profile.body["specialisations"], json!(["Backup", "Cloud migration", "Security"]));
    phone.close().await.expect("close the browser session");
}

/// Fills the registration form of the page shown (the date through the field's value: typing
/// into a date input depends on the browser's locale).
async fn fill_registration(client: &Client, customer: &str, website: &str, amount: &str) {
    type_into(client, "deal-customer_name", customer).await;
    type_into(client, "deal-customer_domain", website).await;
    type_into(client, "deal-amount", amount).await;
    script(client, "document.getElementById('deal-expected_close_date').value = '2031-06-30'; return true").await;
}

#[tokio::test]
async fn two_partners_register_the_same_customer_on_a_phone_and_the_second_reads_the_conflict_without_the_first_ones_name() {
    let Some(browser) = Browser::start().await else { return };
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    crate::deal_pages::deal_program(&app, &f, &[&f.d2, &f.p3]).await;
    let client = browser.open(true).await;

    // Partner A (D2) registers Globex through the form at 375 px.
    sign_in(&client, &app, "admin@d2.example").await;
    click(&client, Locator::Css("nav[aria-label=Main] a[href='/portal/deals']")).await;
    wait_for(&client, Locator::XPath("//h1[normalize-space()='Deals']")).await;
    click(&client, Locator::LinkText("Register a deal")).await;
    wait_for(&client, Locator::XPath("//h1[normalize-space()='Register a deal']")).await;
    assert_fits_the_phone(&client, "the registration form").await;
    let required = script(&client, "return document.querySelectorAll('form[action=\"/portal/deals\"] [required]').length").await;
    assert!(required.as_i64().is_some_and(|n| n <= 6), "at most six required fields: {required}");
    screenshot(&client, "deal-register-form-phone").await;
    fill_registration(&client, "Globex Corporation", "globex.example", "12500").await;
    click(&client, Locator::Css("form[action='/portal/deals'] button[type=submit]")).await;
    wait_for(&client, Locator::XPath("//h1[normalize-space()='Globex Corporation']")).await;
    let text = visible_text(&client).await;
    assert!(text.contains("€12,500.00") && text.contains("Submitted"), "{text}");
    assert_fits_the_phone(&client, "A's deal page").await;
    screenshot(&client, "deal-page-first-partner-phone").await;
    click(&client, Locator::Css("form[action='/logout'] button")).await;
    wait_for(&client, Locator::Id("email")).await;

    // Partner B (P3) registers the same customer minutes later and reads why it conflicts.
    sign_in(&client, &app, "admin@p3.example").await;
    client.goto(&format!("{}/portal/deals/new", app.base_url)).await.expect("open the form");
    wait_for(&client, Locator::XPath("//h1[normalize-space()='Register a deal']")).await;
    fill_registration(&client, "Globex Corp.", "https://www.globex.example", "9.000,00").await;
    click(&client, Locator::Css("form[action='/portal/deals'] button[type=submit]")).await;
    wait_for(&client, Locator::Id("conflicts-heading")).await;
    let text = visible_text(&client).await;
    assert!(text.contains("Under review") && text.contains("Another partner registered the same customer"), "{text}");
    assert!(text.contains("The other came first"), "{text}");
    assert!(!text.contains("D2"), "the first partner is never named: {text}");
    assert_fits_the_phone(&client, "B's deal page with its conflict").await;
    screenshot(&client, "deal-page-conflict-phone").await;
    client.goto(&format!("{}/portal/deals", app.base_url)).await.expect("open the pipeline");
    wait_for(&client, Locator::XPath("//h1[normalize-space()='Deals']")).await;
    assert_fits_the_phone(&client, "B's pipeline").await;
    screenshot(&client, "deal-list-phone").await;
    client.close().await.expect("close the browser session");
}

/// Issue 9: a partner disputes a rejected registration on a 375 px phone — what a dispute means,
/// the form, then the dispute's status and its timeline (day and time) — and the channel team
/// resolves it from the console on a phone; the partner reads the outcome.
#[tokio::test]
async fn a_partner_disputes_a_rejection_on_a_phone_follows_its_timeline_and_staff_overturn_it() {
    let Some(browser) = Browser::start().await else { return };
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    crate::deal_pages::deal_program(&app, &f, &[&f.p3]).await;
    let p3 = crate::pages::sign_in(&app, "admin@p3.example").await;
    let deal = crate::deal_pages::registered_deal(&p3.submit("/portal/deals", &crate::deal_pages::globex()).await);
    let owner = crate::pages::sign_in(&app, &f.owner.email).await;
    let staff_deal = deal.replace("/portal/", "/console/");
    let rejected = owner.submit(&format!("{staff_deal}/transition"), &[("to", "rejected"), ("reason", "The customer buys direct.")]).await;
    assert_eq!(rejected.status, 303, "{}", rejected.text);
    let client = browser.open(true).await;

    // The partner opens the dispute from the rejected deal's page.
    sign_in(&client, &app, "admin@p3.example").await;
    client.goto(&format!("{}{deal}", app.base_url)).await.expect("open the deal");
    click(&client, Locator::LinkText("Dispute this decision")).await;
    wait_for(&client, Locator::XPath("//h1[starts-with(normalize-space(), 'Dispute the rejection')]")).await;
    let text = visible_text(&client).await;
    assert!(text.contains("How a dispute works") && text.contains("The customer buys direct."), "{text}");
    assert_fits_the_phone(&client, "the dispute form").await;
    screenshot(&client, "dispute-form-phone").await;
    type_into(&client, "dispute-reason", "We have met their CTO every month since March.").await;
    click(&client, Locator::Css("form[action$='/dispute'] button[type=submit]")).await;
    wait_for(&client, Locator::XPath("//h1[normalize-space()='Dispute: Globex Corporation']")).await;
    let text = visible_text(&client).await;
    assert!(text.contains("Your dispute was sent to the channel team") && text.contains("Open: waiting for the channel team"), "{text}");
    assert!(text.contains("Registration rejected") && text.contains("Dispute opened"), "{text}");
    assert!(text.contains("We have met their CTO every month since March."), "{text}");
    assert!(text.contains(" UTC"), "the timeline says the day and the time: {text}");
    assert_fits_the_phone(&client, "the partner's dispute page").await;
    screenshot(&client, "dispute-partner-open-phone").await;
    let dispute_path = script(&client, "return window.location.pathname").await.as_str().expect("a path").to_owned();
    click(&client, Locator::Css("form[action='/logout'] button")).await;
    wait_for(&client, Locator::Id("email")).await;

    // The owner finds it in the console's queue and overturns the rejection.
    sign_in(&client, &app, &f.owner.email).await;
    client.goto(&format!("{}/console/disputes", app.base_url)).await.expect("open the disputes");
    wait_for(&client, Locator::XPath("//h1[normalize-space()='Disputes']")).await;
    assert_fits_the_phone(&client, "the disputes queue").await;
    screenshot(&client, "dispute-queue-phone").await;
    click(&client, Locator::Css(&format!("a[href='{}']", dispute_path.replace("/portal/", "/console/")))).await;
    wait_for(&client, Locator::Id("resolve-heading")).await;
    let text = visible_text(&client).await;
    assert!(text.contains("P3") && text.contains("We have met their CTO every month since March."), "{text}");
    assert_fits_the_phone(&client, "the console's dispute page").await;
    click(&client, Locator::Css("input[name=outcome][value=overturned]")).await;
    type_into(&client, "resolve-note", "You were first after all: back to review.").await;
    screenshot(&client, "dispute-resolve-phone").await;
    click(&client, Locator::Css("form[action$='/resolve'] button[type=submit]")).await;
    wait_for(&client, Locator::XPath("//p[contains(., 'No open disputes')]")).await;
    click(&client, Locator::Css("form[action='/logout'] button")).await;
    wait_for(&client, Locator::Id("email")).await;

    // The partner reads the outcome and the note on the dispute's page.
    sign_in(&client, &app, "admin@p3.example").await;
    client.goto(&format!("{}{dispute_path}", app.base_url)).await.expect("open the dispute");
    wait_for(&client, Locator::XPath("//h1[normalize-space()='Dispute: Globex Corporation']")).await;
    let text = visible_text(&client).await;
    assert!(text.contains("Decision overturned") && text.contains("You were first after all: back to review."), "{text}");
    assert_fits_the_phone(&client, "the overturned dispute").await;
    screenshot(&client, "dispute-partner-overturned-phone").await;
    client.close().await.expect("close the browser session");
}

/// Issue 9: registering on a partner's behalf among tens of thousands of partners — typing part
/// of a name asks the server for a page of matches; a single match is chosen at once.
#[tokio::test]
async fn a_channel_manager_finds_the_partner_to_register_for_by_typing_part_of_its_name() {
    let Some(browser) = Browser::start().await else { return };
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    crate::deal_pages::deal_program(&app, &f, &[&f.p3]).await;
    trellis_testkit::bulk::add_resellers(&app, &f.workspace_id, &f.d1, "Acme Reseller", 45).await;
    let client = browser.open(true).await;
    sign_in(&client, &app, &f.owner.email).await;
    client.goto(&format!("{}/console/deals/new", app.base_url)).await.expect("open the form");
    wait_for(&client, Locator::XPath("//h1[normalize-space()='Register a deal']")).await;
    let options = "return Array.from(document.getElementById('deal-partner_id').options).map(o => o.text)";
    let before = script(&client, options).await;
    assert!(before.as_array().is_some_and(|o| o.len() <= 22), "a page of partners, not the directory: {before}");
    let find_shown = script(&client, "return getComputedStyle(document.querySelector('.partner-find button')).display").await;
    assert_eq!(find_shown, json!("none"), "typing searches: no Find button");
    type_into(&client, "deal-partner_id-find", "p3").await;
    client
        .wait()
        .at_most(STEP_TIMEOUT)
        .for_element(Locator::Css(&format!("#deal-partner_id option[value='{}']", f.p3)))
        .await
        .expect("P3 among the matches");
    let chosen = script(&client, "return document.getElementById('deal-partner_id').value").await;
    assert_eq!(chosen, json!(f.p3.to_string()), "the only match is chosen");
    assert_fits_the_phone(&client, "the registration form with its partner picker").await;
    screenshot(&client, "deal-register-on-behalf-phone").await;
    client.close().await.expect("close the browser session");
}

#[tokio::test]
async fn a_partner_admin_sets_the_payout_method_on_a_phone_and_reads_it_masked() {
    let Some(browser) = Browser::start().await else { return };
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let client = browser.open(true).await;

    sign_in(&client, &app, &f.r1a_admin.email).await;
    wait_for(&client, Locator::Css("main h1")).await;
    click(&client, Locator::LinkText("Payout method")).await;
    wait_for(&client, Locator::XPath("//h1[normalize-space()='Payout method']")).await;
    type_into(&client, "payout-account_holder", "R1a GmbH").await;
    type_into(&client, "payout-iban", "de89 3704 0044 0532 0130 00").await;
    click(&client, Locator::Css("form[action='/portal/payout-method'] button[type=submit]")).await;
    wait_for(&client, Locator::XPath("//dd[normalize-space()='DE•••• 3000']")).await;
    screenshot(&client, "payout-method-phone").await;

    let (client_width, scroll_width) = widths(&client).await;
    let text = visible_text(&client).await;
    assert_eq!(client_width, 375, "the page is laid out for a 375 px screen");
    assert!(scroll_width <= client_width, "the payout method page scrolls sideways: {scroll_width} > {client_width}");
    assert!(text.contains("The payout method was saved.") && text.contains("R1a GmbH"), "{text}");
    assert!(!text.contains("0532") && !text.contains("3704"), "the IBAN is shown masked only: {text}");
    client.close().await.expect("close the browser session");
}

#[tokio::test]
async fn a_partner_reads_its_earnings_and_finance_sets_a_commission_plan_on_a_phone() {
    let Some(browser) = Browser::start().await else { return };
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let program = crate::commissions::program(&app, &f, "phone-money").await;
    crate::commissions::set_plan(&app, &f, &program, json!({"sale": {"percent_bps": 2000}, "hold_days": 30, "parent_override_bps": 500}))
        .await;
    let sale = json!({"kind": "sale", "invoice_id": "INV-PHONE-1", "customer_external_id": "cus_phone", "partner_id": f.r1a,
        "amount": crate::commissions::money(1_234_500), "invoice_status": "open"});
    assert_eq!(app.post("/api/v1/conversions", &f.owner_key, sale).await.status, 201);
    let refund = json!({"kind": "refund", "invoice_id": "CR-PHONE-1", "customer_external_id": "cus_phone", "refunds_invoice_id": "INV-PHONE-1",
        "amount": crate::commissions::money(100_000)});
    assert_eq!(app.post("/api/v1/conversions", &f.owner_key, refund).await.status, 201);
    let tier = app
        .post(
            &format!("/api/v1/programs/{program}/tiers"),
            &f.owner.token,
            json!({"name": "Gold", "rank": 1, "requirements": {"all": []}, "benefits": {"text": "Gold"}}),
        )
        .await;
    assert_eq!(tier.status, 201, "{}", tier.text);

    // The partner admin: earnings from the navigation, the chart and the amounts readable at 375 px.
    let client = browser.open(true).await;
    sign_in(&client, &app, &f.r1a_admin.email).await;
    click(&client, Locator::Css("nav[aria-label=Main] a[href='/portal/earnings']")).await;
    wait_for(&client, Locator::XPath("//h1[normalize-space()='Earnings']")).await;
    wait_for(&client, Locator::Css("figure.chart svg")).await;
    let text = visible_text(&client).await;
    assert!(text.contains("€2,469.00") && text.contains("−€200.00") && text.contains("Refund of the sale"), "{text}");
    assert_fits_the_phone(&client, "the earnings overview").await;
    screenshot(&client, "earnings-phone").await;
    click(&client, Locator::LinkText("All commissions")).await;
    wait_for(&client, Locator::XPath("//h1[normalize-space()='Commissions']")).await;
    assert_fits_the_phone(&client, "the commissions list").await;
    screenshot(&client, "commissions-phone").await;
    // The windows share a profile: sign out so the next one signs in afresh.
    click(&client, Locator::Css("form[action='/logout'] button[type=submit]")).await;
    wait_for(&client, Locator::Id("email")).await;
    client.close().await.expect("close the browser");

    // Finance: the plan editor from the program page, a percent and a tier's rate typed, saved.
    let client = browser.open(true).await;
    sign_in(&client, &app, &f.finance.email).await;
    client.goto(&format!("{}/console/programs/{program}", app.base_url)).await.expect("open the program");
    click(&client, Locator::LinkText("Commission plan and its versions")).await;
    wait_for(&client, Locator::XPath("//h1[normalize-space()='Commission plan']")).await;
    assert_fits_the_phone(&client, "the plan editor").await;
    let sale_box = client.find(Locator::Id("plan-sale_percent")).await.expect("sale percent");
    sale_box.clear().await.expect("clear");
    sale_box.send_keys("22.5").await.expect("type the percent");
    let tier_box = format!("plan-tier-{}", tier.body["id"].as_str().expect("tier id"));
    type_into(&client, &tier_box, "25").await;
    screenshot(&client, "plan-editor-phone").await;
    click(&client, Locator::Css("form[action$='/commission-plan'] button[type=submit]")).await;
    wait_for(&client, Locator::XPath("//*[contains(normalize-space(), 'The commission plan was saved')]")).await;
    let text = visible_text(&client).await;
    assert!(text.contains("A sale earns 22.5% of its amount") && text.contains("Partners in the tier Gold earn 25% of a sale"), "{text}");
    assert!(text.contains("Version 2"), "{text}");
    assert_fits_the_phone(&client, "the saved plan").await;
    for path in [
        "/console/commissions",
        "/console/commissions/held",
        "/console/conversions",
        "/console/commissions/bonus",
        "/console/invoices/paid",
        "/console/payout-runs",
    ] {
        client.goto(&format!("{}{path}", app.base_url)).await.unwrap_or_else(|e| panic!("open {path}: {e}"));
        wait_for(&client, Locator::Css("main h1")).await;
        assert_fits_the_phone(&client, path).await;
    }
    // A payout run's page with its buttons (created by another person: finance may approve it).
    let run = app.post("/api/v1/payout-runs", &f.owner_key, json!({"currency": "EUR"})).await;
    assert_eq!(run.status, 201, "{}", run.text);
    let path = format!("/console/payout-runs/{}", run.body["id"].as_str().expect("run id"));
    client.goto(&format!("{}{path}", app.base_url)).await.unwrap_or_else(|e| panic!("open {path}: {e}"));
    wait_for(&client, Locator::Css("form[action$='/approve'] button[type=submit]")).await;
    assert_fits_the_phone(&client, &path).await;
    client.close().await.expect("close the browser");
}

#[tokio::test]
async fn a_partner_opens_its_statement_on_a_phone_with_a_print_button_and_staff_from_the_run() {
    let Some(browser) = Browser::start().await else { return };
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let run = crate::payout_run_pages::approved_run(&app, &f, "phone-statement").await;

    let client = browser.open(true).await;
    sign_in(&client, &app, &f.r1a_admin.email).await;
    click(&client, Locator::Css("nav[aria-label=Main] a[href='/portal/statements']")).await;
    wait_for(&client, Locator::XPath("//h1[normalize-space()='Statements']")).await;
    assert_fits_the_phone(&client, "the statements list").await;
    click(&client, Locator::Css(&format!("a[href='/portal/statements/{run}']"))).await;
    wait_for(&client, Locator::XPath("//h1[normalize-space()='Payout statement']")).await;
    // app.js shows the Print button (the page has no inline script).
    wait_for(&client, Locator::XPath("//button[@data-print and not(@hidden)]")).await;
    let text = visible_text(&client).await;
    assert!(text.contains("€200.00") && text.contains("Total paid") && text.contains("Vendor"), "{text}");
    assert_fits_the_phone(&client, "the printable statement").await;
    screenshot(&client, "statement-phone").await;
    click(&client, Locator::Css("form[action='/logout'] button[type=submit]")).await;
    wait_for(&client, Locator::Id("email")).await;
    client.close().await.expect("close the browser");

    let client = browser.open(true).await;
    sign_in(&client, &app, &f.finance.email).await;
    client.goto(&format!("{}/console/payout-runs/{run}", app.base_url)).await.expect("open the run");
    click(&client, Locator::Css(&format!("a[href='/console/partners/{}/statements/{run}']", f.r1a))).await;
    wait_for(&client, Locator::XPath("//h1[normalize-space()='Payout statement']")).await;
    assert_fits_the_phone(&client, "the console's statement").await;
    client.close().await.expect("close the browser");
}

#[tokio::test]
async fn a_sales_rep_creates_a_referral_link_on_a_phone_and_shares_its_address_and_qr_code() {
    let Some(browser) = Browser::start().await else { return };
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    crate::referral_links::allow_example_com(&app).await;
    let client = browser.open(true).await;
    sign_in(&client, &app, &f.r1a_member.email).await;
    click(&client, Locator::Css("nav[aria-label=Main] a[href='/portal/links']")).await;
    wait_for(&client, Locator::XPath("//h1[normalize-space()='Links']")).await;
    type_into(&client, "link-destination_url", "https://www.example.com/pricing").await;
    type_into(&client, "link-name", "Trade fair flyer").await;
    click(&client, Locator::Css("form[action='/portal/links'] button[type=submit]")).await;
    wait_for(&client, Locator::XPath("//h1[contains(normalize-space(), 'Trade fair flyer')]")).await;
    let text = visible_text(&client).await;
    assert!(text.contains("The link was created") && text.contains("/r/") && text.contains("Clicks in the last 14 days"), "{text}");
    // The QR code is an image the browser loaded (its natural width is the SVG's).
    let loaded = script(&client, "const i = document.querySelector('img.qr'); return i.complete && i.naturalWidth > 0").await;
    assert_eq!(loaded, json!(true), "the QR code loads");
    assert_fits_the_phone(&client, "a link's page").await;
    screenshot(&client, "link-phone").await;
    click(&client, Locator::LinkText("← Links")).await;
    wait_for(&client, Locator::XPath("//a[normalize-space()='Trade fair flyer']")).await;
    assert_fits_the_phone(&client, "the links list").await;
    click(&client, Locator::Css("form[action='/logout'] button[type=submit]")).await;
    wait_for(&client, Locator::Id("email")).await;
    client.close().await.expect("close the browser");

    // The channel team finds it from the money pages, with its partner named.
    let client = browser.open(true).await;
    sign_in(&client, &app, &f.channel_manager.email).await;
    client.goto(&format!("{}/console/commissions", app.base_url)).await.expect("open the commissions");
    click(&client, Locator::LinkText("Referral links")).await;
    wait_for(&client, Locator::XPath("//h1[normalize-space()='Referral links']")).await;
    assert_fits_the_phone(&client, "the console's referral links").await;
    click(&client, Locator::LinkText("Trade fair flyer")).await;
    wait_for(&client, Locator::XPath("//button[normalize-space()='Disable the link']")).await;
    assert!(visible_text(&client).await.contains("A link of"), "the owner is named");
    assert_fits_the_phone(&client, "the console's link page").await;
    client.close().await.expect("close the browser");
}

#[tokio::test]
async fn a_partner_rep_changes_their_password_on_a_phone() {
    let Some(browser) = Browser::start().await else { return };
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let client = browser.open(true).await;
    sign_in(&client, &app, &f.r1a_member.email).await;
    click(&client, Locator::Css("header .who a[href='/account']")).await;
    wait_for(&client, Locator::XPath("//h1[normalize-space()='Your account']")).await;
    assert_fits_the_phone(&client, "the account page").await;
    type_into(&client, "password-current_password", PASSWORD).await;
    type_into(&client, "password-new_password", "abcdefgh").await;
    click(&client, Locator::Css("form[action='/account/password'] button[type=submit]")).await;
    wait_for(&client, Locator::XPath("//*[contains(normalize-space(), 'is too easy to guess')]")).await;
    assert_fits_the_phone(&client, "the refused password").await;
    type_into(&client, "password-current_password", PASSWORD).await;
    type_into(&client, "password-new_password", "amber lantern over quiet hills").await;
    click(&client, Locator::Css("form[action='/account/password'] button[type=submit]")).await;
    wait_for(&client, Locator::XPath("//*[contains(normalize-space(), 'Your password was changed')]")).await;
    client.close().await.expect("close the browser");
}

/// Issue 12: a rep who forgot their password resets it from the sign-in page on their phone,
/// then signs out a session they no longer trust and reads their sign-in history.
#[tokio::test]
async fn a_partner_rep_resets_a_forgotten_password_and_signs_out_an_old_session_on_a_phone() {
    let Some(browser) = Browser::start().await else { return };
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let email = f.r1a_member.email.clone();
    let client = browser.open(true).await;
    client.goto(&format!("{}/login", app.base_url)).await.expect("open the sign-in page");
    click(&client, Locator::LinkText("Forgot your password?")).await;
    wait_for(&client, Locator::XPath("//h1[normalize-space()='Reset your password']")).await;
    type_into(&client, "reset-email", &email).await;
    click(&client, Locator::Css("form[action='/password-reset'] button[type=submit]")).await;
    wait_for(&client, Locator::XPath("//h1[normalize-space()='Check your email']")).await;
    assert_fits_the_phone(&client, "the reset request").await;

    // The emailed link (no SMTP here: the outbox holds it until it is delivered).
    let body: String =
        app.query(sql!("SELECT text_body FROM emails WHERE kind = 'password_reset'")).await[0].get("text_body").expect("body");
    let link = body.split_whitespace().find(|word| word.contains("/password-reset/")).expect("a link").to_owned();
    client.goto(&link).await.expect("follow the link");
    wait_for(&client, Locator::XPath("//h1[normalize-space()='Choose a new password']")).await;
    type_into(&client, "set-new_password", "password").await;
    click(&client, Locator::Css("form button[type=submit]")).await;
    wait_for(&client, Locator::XPath("//*[contains(normalize-space(), 'is too easy to guess')]")).await;
    assert_fits_the_phone(&client, "the refused new password").await;
    let new_password = "copper kettle beside the harbour";
    type_into(&client, "set-new_password", new_password).await;
    click(&client, Locator::Css("form button[type=submit]")).await;
    wait_for(&client, Locator::XPath("//h1[normalize-space()='Your password is set']")).await;
    assert_eq!(app.get("/api/v1/me", &f.r1a_member.token).await.status, 401, "every earlier session ended");

    // Signed in with the new password, next to a script's token.
    let script_token = app.login(&email, new_password).await;
    click(&client, Locator::LinkText("Sign in")).await;
    client.find(Locator::Id("email")).await.expect("email field").send_keys(&email).await.expect("type the email");
    client.find(Locator::Id("password")).await.expect("password field").send_keys(new_password).await.expect("type");
    click(&client, Locator::Css("form[action='/login'] button[type=submit]")).await;
    wait_for(&client, Locator::Css("header .who .acting")).await;
    click(&client, Locator::Css("header .who a[href='/account']")).await;
    wait_for(&client, Locator::XPath("//h2[normalize-space()='Where you are signed in']")).await;
    let text = visible_text(&client).await;
    assert!(text.contains("This browser") && text.contains("API sign-in token"), "{text}");
    assert!(text.contains("Password reset with an emailed link") && text.contains("Reset link asked for"), "{text}");
    assert_fits_the_phone(&client, "the account page with sessions and sign-ins").await;
    click(&client, Locator::XPath("//tr[contains(., 'API sign-in token')]//button[contains(., 'Sign out')]")).await;
    wait_for(&client, Locator::XPath("//*[contains(normalize-space(), 'That session was signed out')]")).await;
    assert_eq!(app.get("/api/v1/me", &script_token).await.status, 401);
    client.close().await.expect("close the browser");
}

/// Issue 12: a channel manager turns two-step sign-in on from the account page on a phone (QR
/// code, first code, recovery codes shown once), then signs in with the password and the code.
#[tokio::test]
async fn a_channel_manager_turns_on_two_step_sign_in_and_signs_in_with_a_code_on_a_phone() {
    let Some(browser) = Browser::start().await else { return };
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let client = browser.open(true).await;
    sign_in(&client, &app, &f.channel_manager.email).await;
    client.goto(&format!("{}/account", app.base_url)).await.expect("open the account page");
    click(&client, Locator::Css("form[action='/account/totp'] button[type=submit]")).await;
    wait_for(&client, Locator::Css("#mfa div.qr svg")).await;
    assert_fits_the_phone(&client, "the authenticator's QR code").await;
    let secret = client.find(Locator::Css("#mfa code.secret-key")).await.expect("the key").text().await.expect("its text");
    let code = crate::two_step::app_code(&app, secret.trim(), 0);
    type_into(&client, "totp-code", &code).await;
    click(&client, Locator::Css("form[action='/account/totp/confirm'] button[type=submit]")).await;
    wait_for(&client, Locator::XPath("//*[contains(normalize-space(), 'Save these recovery codes now')]")).await;
    let codes = client.find_all(Locator::Css("ul.recovery-codes li")).await.expect("the codes");
    assert_eq!(codes.len(), 10);
    assert_fits_the_phone(&client, "the recovery codes").await;

    // Signing in again: the password, then the code of the next step (this one was used).
    click(&client, Locator::Css("form[action='/logout'] button[type=submit]")).await;
    client.goto(&format!("{}/login", app.base_url)).await.expect("open the sign-in page");
    client.find(Locator::Id("email")).await.expect("email field").send_keys(&f.channel_manager.email).await.expect("type");
    client.find(Locator::Id("password")).await.expect("password field").send_keys(PASSWORD).await.expect("type");
    click(&client, Locator::Css("form[action='/login'] button[type=submit]")).await;
    wait_for(&client, Locator::Id("totp")).await;
    assert_fits_the_phone(&client, "the sign-in's second step").await;
    type_into(&client, "totp", "000000").await;
    click(&client, Locator::Css("form[action='/login'] button[type=submit]")).await;
    wait_for(&client, Locator::XPath("//*[contains(normalize-space(), 'That code is not right')]")).await;
    app.clock.advance_seconds(30);
    type_into(&client, "totp", &crate::two_step::app_code(&app, secret.trim(), 0)).await;
    click(&client, Locator::Css("form[action='/login'] button[type=submit]")).await;
    wait_for(&client, Locator::Css("header .who .acting")).await;
    client.goto(&format!("{}/account", app.base_url)).await.expect("open the account page");
    let text = visible_text(&client).await;
    assert!(text.contains("10 recovery codes left"), "{text}");
    client.close().await.expect("close the browser");
}

/// WebDriver's "Add Virtual Authenticator" (WebAuthn Level 2 §11.3): a platform authenticator
/// that keeps discoverable passkeys and verifies its user (a phone's fingerprint), answering every
/// request by itself.
#[derive(Debug)]
struct AddVirtualAuthenticator;

impl fantoccini::wd::WebDriverCompatibleCommand for AddVirtualAuthenticator {
    fn endpoint(&self, base_url: &url::Url, session_id: Option<&str>) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/webauthn/authenticator", session_id.unwrap_or_default()))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (reqwest::Method, Option<String>) {
        let body = json!({
            "protocol": "ctap2", "transport": "internal", "hasResidentKey": true, "hasUserVerification": true,
            "isUserVerified": true, "automaticPresenceSimulation": true,
        });
        (reqwest::Method::POST, Some(body.to_string()))
    }
}

#[tokio::test]
async fn a_person_on_a_phone_adds_a_passkey_then_signs_in_with_it_without_typing_anything() {
    let Some(browser) = Browser::start().await else { return };
    // Passkeys need a domain name: the app's public URL is http://localhost:<port>.
    let app = TestApp::spawn_at_localhost().await;
    let f = Fixture::build(&app).await;
    let client = browser.open(true).await;
    client.issue_cmd(AddVirtualAuthenticator).await.expect("a virtual authenticator in Chromium");
    sign_in(&client, &app, &f.r1a_member.email).await;

    client.goto(&format!("{}/account#passkeys", app.base_url)).await.expect("open the account page");
    assert_fits_the_phone(&client, "the account page").await;
    click(&client, Locator::Css("form[action='/account/passkeys'] button[type=submit]")).await;
    // app.js asks the authenticator at once and sends its answer: back on the account page.
    wait_for(&client, Locator::Css("p.notice")).await;
    let text = visible_text(&client).await;
    assert!(text.contains("The passkey was added"), "{text}");
    screenshot(&client, "passkey-added-phone").await;
    let stored = app.query_i64(sql!("SELECT COUNT(*) AS n FROM passkeys WHERE user_id = $1", &f.r1a_member.user_id)).await;
    assert_eq!(stored, 1);

    // Signed out, "Sign in with a passkey": nothing to type.
    click(&client, Locator::Css("form[action='/logout'] button")).await;
    wait_for(&client, Locator::Id("email")).await;
    click(&client, Locator::Css("button[formaction='/sign-in/passkey']")).await;
    wait_for(&client, Locator::Css("header .who .acting")).await;
    let history =
        app.query(sql!("SELECT method, outcome FROM sign_ins WHERE email = $1 ORDER BY id DESC", f.r1a_member.email.as_str())).await;
    assert_eq!(
        (history[0].get::<String>("method").expect("method"), history[0].get::<String>("outcome").expect("outcome")),
        ("passkey".to_owned(), "success".to_owned())
    );
    client.goto(&format!("{}/account#passkeys", app.base_url)).await.expect("open the account page");
    let text = visible_text(&client).await;
    assert!(text.contains("Signed in with a passkey"), "the history says how: {text}");
    assert_fits_the_phone(&client, "the account page with a passkey").await;
    screenshot(&client, "passkey-account-phone").await;
    client.close().await.expect("close the browser");
}

#[tokio::test]
async fn a_partner_on_a_phone_reads_why_a_lead_came_to_it_accepts_it_and_converts_it_into_a_deal() {
    let Some(browser) = Browser::start().await else { return };
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let programs = trellis_testkit::fixture::deal_programs(&app, &f).await;
    let scope = trellis_identity::Scope::system(f.workspace_id.clone(), &trellis_testkit::TEST_FIXTURES);
    let input = trellis_leads::leads::NewLead {
        company_name: "Huber Logistik GmbH".into(),
        contact_name: Some("Grete Huber".into()),
        country: "DE".into(),
        product_interest: Some("Cloud migration".into()),
        estimated_value: Some((4_500_000, None)),
        notes: Some("Moving 40 servers before the summer.".into()),
        program_id: Some(programs.main.clone()),
        ..Default::default()
    };
    let lead = trellis_leads::leads::create(&app.state.ctx, &scope, input).await.expect("a lead");
    trellis_leads::routing::offer(&app.state.ctx, &scope, &lead.id, Some(&f.p3)).await.expect("offered to P3");

    // The channel team's lead page at 375 px: the candidates and their bars fit.
    let client = browser.open(true).await;
    sign_in(&client, &app, &f.channel_manager.email).await;
    client.goto(&format!("{}/console/leads/{}", app.base_url, lead.id)).await.expect("the lead page");
    wait_for(&client, Locator::XPath("//h2[starts-with(normalize-space(), 'Why')]")).await;
    assert_fits_the_phone(&client, "the console's lead page").await;
    screenshot(&client, "lead-console-phone").await;
    click(&client, Locator::Css("form[action='/logout'] button")).await;
    wait_for(&client, Locator::Id("email")).await;

    sign_in(&client, &app, &f.p3_admin.email).await;
    wait_for(&client, Locator::Css("main h1")).await;
    click(&client, Locator::LinkText("Leads")).await;
    wait_for(&client, Locator::XPath("//h1[normalize-space()='Leads for you']")).await;
    assert_fits_the_phone(&client, "Leads for you").await;
    let text = visible_text(&client).await;
    assert!(text.contains("Huber Logistik GmbH") && text.contains("2 days 0 h left"), "{text}");
    screenshot(&client, "leads-for-you-phone").await;
    click(&client, Locator::LinkText("Answer")).await;
    wait_for(&client, Locator::XPath("//h2[normalize-space()='Why you']")).await;
    assert_fits_the_phone(&client, "a lead's page").await;
    assert!(!visible_text(&client).await.contains("Grete Huber"), "the contact once accepted");
    click(&client, Locator::XPath("//button[normalize-space()='Accept the lead']")).await;
    wait_for(&client, Locator::XPath("//h2[normalize-space()='Convert to a deal']")).await;
    let text = visible_text(&client).await;
    assert!(text.contains("You accepted the lead") && text.contains("Grete Huber"), "{text}");
    assert_fits_the_phone(&client, "an accepted lead's page").await;
    screenshot(&client, "lead-accepted-phone").await;
    click(&client, Locator::XPath("//button[normalize-space()='Convert to a deal']")).await;
    wait_for_path(&client, "/portal/deals/deal_").await;
    wait_for(&client, Locator::XPath("//h1[contains(normalize-space(), 'Huber Logistik GmbH')]")).await;
    assert!(visible_text(&client).await.contains("45,000.00"), "the estimate became the deal's amount");
    client.close().await.expect("close the browser session");
}
