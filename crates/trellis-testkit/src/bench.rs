//! What the benchmarks in `bench/` share: a browser's sign-in and the median time of a page.

use std::time::{Duration, Instant};

use reqwest::header::{COOKIE, SET_COOKIE};

use crate::TestApp;

/// Page loads before the timed ones.
const WARM_UP: usize = 3;
/// Timed page loads; the median is answered.
pub const SAMPLES: usize = 15;

fn cookie(headers: &reqwest::header::HeaderMap, name: &str) -> Option<String> {
    headers.get_all(SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|v| {
        let (pair, _) = v.split_once(';').unwrap_or((v, ""));
        let (key, value) = pair.split_once('=')?;
        (key.trim() == name).then(|| value.to_owned())
    })
}

/// Signs in through `/login` as a browser would; answers the session cookie.
pub async fn sign_in(app: &TestApp, email: &str, password: &str) -> anyhow::Result<String> {
    let form = app.client.get(format!("{}/login", app.base_url)).send().await?;
    let csrf = cookie(form.headers(), "trellis_csrf").ok_or_else(|| anyhow::anyhow!("no CSRF cookie"))?;
    let signed = app
        .client
        .post(format!("{}/login", app.base_url))
        .header(COOKIE, format!("trellis_csrf={csrf}"))
        .header("content-type", "application/x-www-form-urlencoded")
        // The email and password here need no escaping beyond `@`; the token is URL-safe.
        .body(format!("email={}&password={password}&csrf_token={csrf}", email.replace('@', "%40")))
        .send()
        .await?;
    anyhow::ensure!(signed.status() == 303, "sign-in answered {}", signed.status());
    Ok(format!("trellis_session={}", cookie(signed.headers(), "trellis_session").ok_or_else(|| anyhow::anyhow!("no session"))?))
}

/// Median of `SAMPLES` sequential page loads (after a warm-up).
pub async fn median_page(app: &TestApp, path: &str, session: &str) -> anyhow::Result<Duration> {
    let load = || async {
        let reply = app.client.get(format!("{}{path}", app.base_url)).header(COOKIE, session).send().await?;
        anyhow::ensure!(reply.status() == 200, "{path}: {}", reply.status());
        reply.text().await?;
        Ok(())
    };
    for _ in 0..WARM_UP {
        load().await?;
    }
    let mut samples = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let started = Instant::now();
        load().await?;
        samples.push(started.elapsed());
    }
    samples.sort();
    Ok(samples[SAMPLES / 2])
}

/// A vendor workspace whose owner signs in with `owner_email` and `password`, and one top-level
/// distributor to hang resellers under.
pub async fn vendor_with_distributor(
    app: &TestApp,
    owner_email: &str,
    password: &str,
) -> (trellis_identity::workspaces::Bootstrapped, trellis_directory::Partner) {
    let ctx = &app.state.ctx;
    let boot = trellis_identity::workspaces::bootstrap(ctx, "Bench vendor", owner_email, password, "EUR").await.expect("bootstrap");
    let system = trellis_identity::Scope::system(boot.workspace_id.clone(), &crate::TEST_FIXTURES);
    let distributor = trellis_directory::NewPartner {
        name: "Bench distributor".into(),
        contact_email: "distributor@bench.example".into(),
        types: vec![trellis_core::PartnerType::Distributor],
        ..Default::default()
    };
    let top = trellis_directory::partners::create(ctx, &system, distributor).await.expect("the distributor");
    (boot, top)
}

/// Median of `SAMPLES` sequential API GETs with a bearer credential (after a warm-up), and how
/// many entries the answer's `data` listed (1 for an answer that is not a list).
pub async fn median_get(app: &TestApp, path: &str, bearer: &str) -> anyhow::Result<(Duration, usize)> {
    let mut listed = 0;
    for _ in 0..WARM_UP {
        let reply = app.get(path, bearer).await;
        anyhow::ensure!(reply.status == 200, "{path}: {} {}", reply.status, reply.text);
        listed = reply.body["data"].as_array().map_or(1, Vec::len);
    }
    let mut samples = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let started = Instant::now();
        let reply = app.get(path, bearer).await;
        samples.push(started.elapsed());
        anyhow::ensure!(reply.status == 200, "{path}: {}", reply.status);
    }
    samples.sort();
    Ok((samples[SAMPLES / 2], listed))
}

/// A channel manager limited to the partners assigned to them (`partner_scope: "assigned"`),
/// signed up with `email`: their user id and an API key of theirs.
pub async fn assigned_manager(
    app: &TestApp,
    workspace: &trellis_core::WorkspaceId,
    email: &str,
) -> anyhow::Result<(trellis_core::UserId, String)> {
    let fail = |e: trellis_core::Error| anyhow::anyhow!("{e:?}");
    let ctx = &app.state.ctx;
    let system = trellis_identity::Scope::system(workspace.clone(), &crate::TEST_FIXTURES);
    let role = trellis_core::VendorRole::ChannelManager;
    let invitation = trellis_identity::members::add(ctx, &system, email, None, role, Some(trellis_core::PartnerScopeSetting::Assigned))
        .await
        .map_err(fail)?;
    let user_id = trellis_server::demo::accept_as_operator(ctx, &invitation.token, None, "a long bench password").await.map_err(fail)?;
    let key = trellis_identity::api_keys::create_for_member_by_operator(ctx, workspace, email, "bench").await.map_err(fail)?;
    Ok((user_id, key))
}
