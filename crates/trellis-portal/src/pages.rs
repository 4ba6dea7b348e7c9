//! What every page shares — the layout and its navigation, rendering, HTML error pages, the
//! one-time page for a new secret — and the pages outside the console and the portal: sign-in,
//! sign-out, memberships, invitations, and the home page. One typed struct per rendered page
//! (docs.rs style).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use trellis_core::Error;
use trellis_directory::{partners, work_queues};
use trellis_identity::Membership;
use trellis_identity::auth::{self, BrowserSession, SessionKind};
use trellis_identity::invitations::{self, Acceptor};
use trellis_identity::secret::{random_token, same_secret};
use trellis_identity::workspaces::{self, PublicBrand};
use trellis_recruitment::capabilities::{Area, capabilities, role_areas};
use trellis_web::AppState;

use crate::assets::asset_url;
use crate::forms::{FormData, PageForm, UrlQuery};
use crate::routes::{PageRouter, get, post};
use crate::session::{
    CSRF_COOKIE, DEVICE_COOKIE, DEVICE_COOKIE_SECONDS, MaybeSession, SESSION_COOKIE, Signed, check_csrf, cookie_name, form_cookie_matches,
    read_cookie, set_cookie, with_cookie,
};

/// What the shared layout shows: the title, for a signed-in person the navigation, and a notice
/// confirming what the previous request did.
pub struct Layout {
    pub title: String,
    /// The name in the header and the window title: the vendor's on its public pages, Trellis
    /// elsewhere.
    pub brand: String,
    pub css: String,
    /// The vendor's accent-colour stylesheet, on its public pages when it has set one.
    pub brand_css: Option<String>,
    /// The vendor's logo, on its public pages when it has uploaded one.
    pub brand_logo: Option<String>,
    pub js: String,
    pub nav: Option<Nav>,
    pub notice: Option<&'static str>,
}

pub struct Nav {
    pub email: String,
    pub acting_as: String,
    pub csrf_token: String,
    pub has_several_memberships: bool,
    pub links: Vec<NavLink>,
}

/// A link of the main navigation; `current` marks the section shown (`aria-current="page"`).
pub struct NavLink {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
    /// How many things wait behind the link ("3", "99+"), from the work queues; none when
    /// nothing waits.
    pub count: Option<String>,
}

/// The navigation link of each area (`trellis_recruitment::capabilities`).
fn link_of(area: Area) -> (&'static str, &'static str) {
    match area {
        Area::Partners => ("/console/partners", "Partners"),
        Area::Deals => ("/console/deals", "Deals"),
        Area::Leads => ("/console/leads", "Leads"),
        Area::Staff => ("/console/staff", "Staff"),
        Area::StaffApiKeys => ("/console/api-keys", "API keys"),
        Area::Programs => ("/console/programs", "Programs"),
        Area::Compliance => ("/console/compliance", "Compliance"),
        Area::ProfileChanges => ("/console/profile-changes", "Profile changes"),
        Area::Commissions => ("/console/commissions", "Commissions"),
        Area::Applications => ("/console/applications?status=applied", "Applications"),
        Area::Audit => ("/console/audit", "Audit log"),
        Area::Outbox => ("/console/outbox", "Outbox"),
        Area::Settings => ("/console/settings", "Settings"),
        Area::Profile => ("/portal/profile", "Profile"),
        Area::PartnerDeals => ("/portal/deals", "Deals"),
        Area::PartnerLeads => ("/portal/leads", "Leads"),
        Area::Earnings => ("/portal/earnings", "Earnings"),
        Area::Links => ("/portal/links", "Links"),
        Area::Statements => ("/portal/statements", "Statements"),
        Area::Users => ("/portal/users", "Users"),
        Area::Onboarding => ("/portal/onboarding", "Onboarding"),
        Area::Licences => ("/portal/licences", "Licences"),
        Area::Contracts => ("/portal/contracts", "Contracts"),
        Area::PartnerApiKeys => ("/portal/api-keys", "API keys"),
        Area::PayoutMethod => ("/portal/payout-method", "Payout method"),
        Area::Resellers => ("/portal/resellers", "Resellers"),
    }
}

/// Puts on each navigation link the number of things waiting behind it, summed over the work
/// queues registered for it (`trellis_directory::work_queues`; capped counts, one read
/// transaction). A count that cannot be read leaves the links without counts: the navigation
/// must not fail a page.
async fn add_waiting_counts(state: &AppState, signed: &Signed, links: &mut [NavLink]) {
    let waiting = match work_queues::waiting(&state.ctx, &signed.scope, true).await {
        Ok(waiting) => waiting,
        Err(err) => {
            tracing::warn!(%err, "could not count the work queues for the navigation");
            return;
        }
    };
    put_waiting_counts(&waiting, links);
}

/// Puts the counts of `waiting` (every queue, or those with a navigation link) on the links.
fn put_waiting_counts(waiting: &[work_queues::Waiting], links: &mut [NavLink]) {
    for link in links.iter_mut() {
        let count: i64 = waiting.iter().filter(|w| w.queue.nav == Some(link.href)).map(|w| w.count).sum();
        if count > 0 {
            link.count = Some(work_queues::count_text(count));
        }
    }
}

/// The sections a membership's navigation offers: exactly the areas its capabilities name.
fn nav_links(areas: &[Area], section: &str) -> Vec<NavLink> {
    areas
        .iter()
        .map(|area| {
            let (href, label) = link_of(*area);
            NavLink { href, label, current: href == section, count: None }
        })
        .collect()
}

impl Layout {
    /// The layout of pages outside a membership (sign-in, choosing a membership, errors).
    pub fn new(title: impl Into<String>, session: Option<&BrowserSession>) -> Self {
        let nav = session.map(|s| nav(s, nav_links(&s.scope.as_ref().map(role_areas).unwrap_or_default(), "")));
        Self {
            title: title.into(),
            brand: "Trellis".to_owned(),
            css: asset_url("app.css"),
            brand_css: None,
            brand_logo: None,
            js: asset_url("app.js"),
            nav,
            notice: None,
        }
    }

    /// The layout of a page of the console or the portal; `section` is the navigation link to mark.
    pub async fn signed(state: &AppState, signed: &Signed, title: impl Into<String>, section: &str) -> Self {
        Self::signed_counted(state, signed, title, section, None).await
    }

    /// [`Layout::signed`] whose navigation counts come from `waiting` when the page has counted
    /// the work queues already (the console home): each queue is counted once per page.
    async fn signed_counted(
        state: &AppState,
        signed: &Signed,
        title: impl Into<String>,
        section: &str,
        waiting: Option<&[work_queues::Waiting]>,
    ) -> Self {
        let areas = match capabilities(&state.ctx, &signed.scope).await {
            Ok(areas) => areas,
            Err(err) => {
                // The navigation must not fail a page; the page itself reports its own errors.
                tracing::warn!(%err, "could not tell whether the partner manages resellers");
                role_areas(&signed.scope)
            }
        };
        let mut links = nav_links(&areas, section);
        match waiting {
            Some(waiting) => put_waiting_counts(waiting, &mut links),
            None if signed.scope.vendor_role().is_some() => add_waiting_counts(state, signed, &mut links).await,
            None => {}
        }
        Self { nav: Some(nav(&signed.session, links)), ..Self::new(title, None) }
    }

    /// A public page of a vendor's (nobody signed in): its header and title carry the vendor's
    /// name, logo and accent colour, not Trellis's.
    pub fn public(title: impl Into<String>, vendor: PublicBrand) -> Self {
        Self::new(title, None).branded(vendor)
    }

    /// This layout with a vendor's name, logo and accent colour (a page outside a membership that
    /// knows its workspace: an invitation link, sign-in on the way to one).
    pub fn branded(self, vendor: PublicBrand) -> Self {
        Self {
            brand_css: vendor.colour.as_deref().map(|c| crate::brand::stylesheet_url(&vendor.workspace_id, c)),
            brand_logo: vendor.logo.as_ref().map(|l| crate::brand::logo_url(&vendor.workspace_id, l)),
            brand: vendor.name,
            ..self
        }
    }

    /// Shows the confirmation named by `?notice=` (post/redirect/get keeps no message in the session).
    pub fn with_notice(mut self, query: &FormData) -> Self {
        self.notice = query.optional("notice").and_then(notice_text);
        self
    }
}

fn nav(session: &BrowserSession, links: Vec<NavLink>) -> Nav {
    Nav {
        email: session.email.to_string(),
        acting_as: session.current.as_ref().map(membership_label).unwrap_or_default(),
        csrf_token: session.csrf_token.clone(),
        has_several_memberships: session.memberships.len() > 1,
        links,
    }
}

/// The confirmations a redirect may name. Fixed texts: a query parameter is never echoed.
fn notice_text(code: &str) -> Option<&'static str> {
    Some(match code {
        "partner_created" => "The partner was created.",
        "none_ticked" => "Tick at least one partner in the list, then choose what to change.",
        "saved" => "Your changes were saved.",
        "status_changed" => "The status was changed.",
        "role_changed" => "The role was changed.",
        "keeps_an_admin" => "The organisation must keep at least one admin: make someone else an admin first.",
        "user_removed" => "The user was removed.",
        "member_updated" => "The staff member was updated.",
        "member_removed" => "The staff member was removed.",
        "invitation_cancelled" => "The invitation was cancelled. Its link no longer works.",
        "application_approved" => "The application was approved. The applicant was emailed an invitation to the portal.",
        "application_rejected" => "The application was rejected. The applicant was emailed the reason.",
        "application_approved_outbox" => {
            "The application was approved. No mail server is configured: the invitation to the portal waits in the outbox."
        }
        "application_rejected_outbox" => {
            "The application was rejected. No mail server is configured: the email with the reason waits in the outbox."
        }
        "step_added" => "The step was added to the checklist.",
        "step_saved" => "The step was saved.",
        "step_deleted" => "The step was removed from the checklist.",
        "agreement_published" => "The new agreement version is in force.",
        "step_completed" => "The step is done.",
        "agreement_accepted" => "You accepted the agreement for your organisation.",
        "key_revoked" => "The API key was revoked. It stops working with the next request.",
        "sso_saved" => "Saved. People of its email domains can continue with their company account on the sign-in page.",
        "sso_removed" => "Single sign-on was removed. The sessions begun through it ended.",
        "two_step_policy_saved" => "Saved. People it applies to without an authenticator app are asked to set one up before anything else.",
        "mfa_required" => {
            "Your workspace requires two-step sign-in. Set up an authenticator app below to continue — or, if you have a passkey, sign out and sign in with it."
        }
        "passkey_added" => "The passkey was added. Next time, choose \"Sign in with a passkey\" on the sign-in page.",
        "passkey_removed" => "The passkey was removed. The sessions begun with it were signed out.",
        "reseller_created" => "The reseller was created.",
        "change_requested" => "Saved. The new legal name or territories wait for the vendor's approval.",
        "logo_uploaded" => "The logo was uploaded.",
        "logo_removed" => "The logo was removed.",
        "branding_saved" => "The branding was saved. The public pages show it now.",
        "payout_account_saved" => "The account payouts are paid from was saved.",
        "payout_account_removed" => "The account payouts are paid from was removed.",
        "contract_added" => "The contract was added.",
        "contract_deleted" => "The contract was deleted.",
        "licence_added" => "The licence was added.",
        "licence_deleted" => "The licence was deleted.",
        "change_approved" => "The change was approved and applied.",
        "change_rejected" => "The change was rejected; the partner is told why.",
        "email_queued" => "The email is queued and goes out with the next run of the background worker.",
        "job_retried" => "The job is queued for one more attempt.",
        "program_created" => "The program was created. Add its tiers below.",
        "tier_added" => "The tier was added.",
        "tier_deleted" => "The tier was deleted.",
        "enrolled" => "The partner was enrolled.",
        "unenrolled" => "The partner left the program.",
        "tier_overridden" => "The tier was set by hand. Evaluations leave it alone until the override is removed.",
        "override_removed" => "The override was removed and the tier evaluated again.",
        "metric_recorded" => "The metric was recorded. It counts from the next evaluation.",
        "tiers_evaluated" => "The partner's tiers were evaluated.",
        "deal_registered" => "The deal was registered and checked against the other registrations.",
        "partner_credited" => "The partner was credited on the deal.",
        "payout_method_saved" => "The payout method was saved.",
        "commission_rejected" => "The commission was rejected: a reversal nets its money, and the partner sees why.",
        "lead_created" => "The lead was saved. Offer it to the best match below, or to a partner you choose.",
        "lead_offered" => "The lead was offered. The partner was emailed why it was chosen and has until the time shown to accept.",
        "lead_closed" => "The lead was closed.",
        "lead_accepted" => "You accepted the lead: the contact is yours to follow up. Convert it to a deal when it is qualified.",
        "lead_passed_on" => "The lead was passed on: your reseller was emailed and has until the time shown to accept.",
        "lead_given_back" => "The lead was given back. It goes to another partner.",
        "link_created" => "The link was created: share its address or its QR code.",
        "password_changed" => "Your password was changed, and every other session of yours was signed out.",
        "session_ended" => "That session was signed out.",
        "totp_off" => "Two-step sign-in is off: your password alone signs you in. Every other session of yours was signed out.",
        "sessions_ended" => "Every other session of yours was signed out.",
        "user_sessions_ended" => "Every session of that person was signed out. They sign in again with their password.",
        "password_reset" => "Your password was set. Sign in with it now: every earlier session of yours was signed out.",
        "link_disabled" => "The link was disabled: its address now answers \"not found\".",
        "link_enabled" => "The link was enabled again.",
        "plan_saved" => "The commission plan was saved. It applies to conversions from now on.",
        "plan_unchanged" => "The plan is the one in force already: nothing changed.",
        "commission_held" => "The commission is on hold. Payout runs leave it out until it is released.",
        "commission_released" => "The hold was released.",
        "bonus_awarded" => "The award was recorded.",
        "run_created" => "The draft run was created. Another person approves it.",
        "run_approved" => "The run was approved. Its money waits for the bank: mark it paid once the bank has paid it.",
        "run_paid" => "The run was marked paid.",
        "run_cancelled" => "The run was cancelled. Its commissions are payable again.",
        _ => return None,
    })
}

/// Why a page handler did not render its page: a domain error (shown as an HTML error page) or
/// a response already made (a refused CSRF token, an unreadable form).
pub enum PageError {
    Domain(Error),
    Response(Response),
}

impl From<Error> for PageError {
    fn from(err: Error) -> Self {
        PageError::Domain(err)
    }
}

impl From<Response> for PageError {
    fn from(response: Response) -> Self {
        PageError::Response(response)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            // Step-up: to "Confirm it's you", which sends the person back to the form's page
            // (the browser keeps it as the referrer through the redirect).
            PageError::Domain(Error::ReauthenticationRequired) => see_other(crate::confirm::PAGE),
            PageError::Domain(err) => error_page(err),
            PageError::Response(response) => response,
        }
    }
}

pub type PageResult = Result<Response, PageError>;

/// Parses an id from the path; a malformed id is a 404 like any unknown one.
pub fn path_id<T: std::str::FromStr>(text: &str) -> Result<T, Error> {
    text.parse().map_err(|_| Error::NotFound)
}

/// A POST-redirect-GET answer: 303 to `to`.
pub fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// Renders a page with a status other than 200 (422 for a form shown again with its errors).
pub fn render_status<T: Template>(status: StatusCode, page: &T) -> Response {
    (status, render(page)).into_response()
}

/// What [`one_time_page`] shows.
pub struct OneTime {
    pub heading: String,
    pub explanation: String,
    pub label: &'static str,
    pub secret: String,
    pub back_href: String,
    pub back_label: String,
}

impl OneTime {
    /// Shows a new person's one-time invitation link (the heading says what happened to them).
    /// `emails_delivered`: whether an SMTP server is configured; without one the email waits in
    /// the outbox, and the page says so rather than "it was emailed".
    pub fn invitation(heading: String, email: &str, link: String, back_href: String, back_label: &str, emails_delivered: bool) -> Self {
        let sent = if emails_delivered {
            format!("It was emailed to {email}; you may also pass it on yourself.")
        } else {
            format!("No mail server is configured, so the email to {email} waits in the outbox: pass the link on yourself.")
        };
        Self {
            heading,
            explanation: format!(
                "{sent} Behind it they accept: new to Trellis, they choose a password; with an account for this address, they sign in. They join only when they accept. It works once, and expires in 7 days."
            ),
            label: "Invitation link",
            secret: link,
            back_href,
            back_label: back_label.to_owned(),
        }
    }

    /// Shows a new SCIM token, which is never shown again.
    pub fn scim_token(name: &str, explanation: String, secret: String, back_href: String, back_label: &str) -> Self {
        Self {
            heading: format!("SCIM token \"{name}\" created"),
            explanation,
            label: "SCIM token",
            secret,
            back_href,
            back_label: back_label.to_owned(),
        }
    }

    /// Shows a new API key's secret, which is never shown again.
    pub fn api_key(name: &str, explanation: String, secret: String, back_href: String, back_label: &str) -> Self {
        Self {
            heading: format!("API key \"{name}\" created"),
            explanation,
            label: "API key",
            secret,
            back_href,
            back_label: back_label.to_owned(),
        }
    }
}

#[derive(Template)]
#[template(path = "one_time.html")]
struct OneTimePage {
    layout: Layout,
    shown: OneTime,
}

/// The answer to a POST that created a secret (an API key, an invitation link): shown in this
/// response only, never stored, never cached.
pub async fn one_time_page(state: &AppState, signed: &Signed, section: &str, shown: OneTime) -> Response {
    render(&OneTimePage { layout: Layout::signed(state, signed, shown.heading.clone(), section).await, shown })
}

fn membership_label(m: &trellis_identity::auth::MembershipInfo) -> String {
    match &m.partner_name {
        Some(partner) => format!("{partner} · {} ({})", m.workspace_name, m.role),
        None => format!("{} ({})", m.workspace_name, m.role.replace('_', " ")),
    }
}

/// Renders a template, or an error page if rendering fails. Pages show one person's data, and
/// some show a secret once: no cache may keep them.
pub fn render<T: Template>(page: &T) -> Response {
    match page.render() {
        Ok(html) => ([(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))], Html(html)).into_response(),
        Err(err) => {
            tracing::error!(%err, "template rendering failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    layout: Layout,
    heading: String,
    message: String,
}

/// An HTML error page with a way back; never internal details.
pub fn error_page(err: Error) -> Response {
    let (status, heading, message) = match &err {
        Error::Unauthorized | Error::MfaRequired => (StatusCode::UNAUTHORIZED, "Please sign in", "Your session has ended.".to_owned()),
        Error::NotFound => (StatusCode::NOT_FOUND, "Not found", "This page does not exist, or you do not have access to it.".to_owned()),
        Error::Forbidden(m) => (StatusCode::FORBIDDEN, "Not allowed", m.clone()),
        Error::ReauthenticationRequired => (
            StatusCode::FORBIDDEN,
            "Confirm it's you",
            "This needs you to have confirmed who you are in the last 5 minutes: confirm it on /account/confirm, then do it again."
                .to_owned(),
        ),
        Error::MfaEnrollmentRequired => (
            StatusCode::FORBIDDEN,
            "Two-step sign-in required",
            "Your workspace requires two-step sign-in: set up an authenticator app on your account page first.".to_owned(),
        ),
        Error::Conflict(m) => (StatusCode::CONFLICT, "Not possible right now", m.clone()),
        Error::RateLimited { .. } => {
            (StatusCode::TOO_MANY_REQUESTS, "Too many attempts", "Please wait a few minutes and try again.".to_owned())
        }
        Error::Validation(errors) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "Please check the form",
            errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "),
        ),
        Error::MembershipRequired => (StatusCode::UNPROCESSABLE_ENTITY, "Choose a workspace", "Pick the workspace to act in.".to_owned()),
        Error::Internal(detail) => {
            tracing::error!(%detail, "internal error on a page");
            (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong", "It has been logged. Please try again.".to_owned())
        }
    };
    let page = ErrorPage { layout: Layout::new(heading, None), heading: heading.to_owned(), message };
    (status, render(&page)).into_response()
}

/// Whether the client reads HTML (a browser) rather than JSON.
pub fn wants_html(headers: &HeaderMap) -> bool {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("text/html"))
}

/// 413 for a form whose body is larger than the server accepts (issue 6, F6): a page for people,
/// a problem document (`payload_too_large`) for other clients, as the API answers.
pub fn payload_too_large(wants_html: bool) -> Response {
    if !wants_html {
        return trellis_web::problem::ApiError::payload_too_large().into_response();
    }
    let heading = "Too large";
    let message = "What you sent is larger than Trellis accepts: forms up to 1 MiB, files up to 10 MiB. Go back and send less.";
    let page = ErrorPage { layout: Layout::new(heading, None), heading: heading.to_owned(), message: message.to_owned() };
    (StatusCode::PAYLOAD_TOO_LARGE, render(&page)).into_response()
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    layout: Layout,
    csrf_token: String,
    email: String,
    error: Option<String>,
    /// Where to go once signed in (an invitation link), or empty for home.
    next: String,
    /// The second step: the password was right, the account needs its authenticator's code.
    challenge: Option<String>,
    /// Whether the instance offers passkeys (not when served at an IP address).
    passkeys: bool,
}

#[derive(Deserialize)]
struct LoginForm {
    /// Sent by both steps (empty in the second), so that a post without it is refused as unread.
    email: String,
    #[serde(default)]
    password: String,
    /// The second step's code and the challenge naming the account (`auth::FirstStep`).
    totp: Option<String>,
    challenge: Option<String>,
    csrf_token: String,
    next: Option<String>,
}

/// Where sign-in may lead besides home: only back to an invitation link (never to another site).
pub(crate) fn after_sign_in(next: Option<&str>) -> Option<&str> {
    next.filter(|n| {
        n.strip_prefix("/invitations/")
            .is_some_and(|token| !token.is_empty() && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
    })
}

/// `GET /login`: the sign-in form, with a fresh double-submit CSRF cookie.
async fn login_page(State(state): State<AppState>, maybe: MaybeSession, UrlQuery(query): UrlQuery) -> Response {
    let next = after_sign_in(query.optional("next")).map(str::to_owned);
    if maybe.session.is_some() {
        return Redirect::to(next.as_deref().unwrap_or("/")).into_response();
    }
    login_form(&state, String::new(), None, next.unwrap_or_default(), StatusCode::OK).await
}

/// The branding of the workspace an invitation link names, for pages on the way to accepting it.
async fn invitation_brand(state: &AppState, token: &str) -> Option<PublicBrand> {
    let pending = invitations::find(&state.ctx, token).await.ok()?;
    workspaces::public_brand(&state.ctx, &pending.workspace_id).await.ok()
}

/// The sign-in form; on the way to an invitation it carries the inviting workspace's branding.
pub(crate) async fn login_form(state: &AppState, email: String, error: Option<String>, next: String, status: StatusCode) -> Response {
    let csrf = random_token(32);
    let mut layout = Layout::new("Sign in", None);
    if let Some(brand) = match next.strip_prefix("/invitations/") {
        Some(token) => invitation_brand(state, token).await,
        None => None,
    } {
        layout = layout.branded(brand);
    }
    let passkeys = trellis_identity::passkeys::available(&state.ctx);
    let page = LoginPage { layout, csrf_token: csrf.clone(), email, error, next, challenge: None, passkeys };
    with_cookie((status, render(&page)).into_response(), set_cookie(state, CSRF_COOKIE, &csrf, 3600))
}

/// The sign-in page's second step: the code of the account's authenticator app.
fn code_form(state: &AppState, challenge: String, error: Option<String>, next: String, status: StatusCode) -> Response {
    let csrf = random_token(32);
    let page = LoginPage {
        layout: Layout::new("Sign in", None),
        csrf_token: csrf.clone(),
        email: String::new(),
        error,
        next,
        challenge: Some(challenge),
        passkeys: false,
    };
    with_cookie((status, render(&page)).into_response(), set_cookie(state, CSRF_COOKIE, &csrf, 3600))
}

/// `POST /login`: checks the password and starts a new session (new id: no fixation).
async fn login_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    maybe: MaybeSession,
    PageForm(form): PageForm<LoginForm>,
) -> Response {
    let next = after_sign_in(form.next.as_deref()).unwrap_or_default().to_owned();
    if !form_cookie_matches(&state, &headers, CSRF_COOKIE, &form.csrf_token) {
        return login_form(&state, form.email, Some("The form expired. Please sign in again.".into()), next, StatusCode::FORBIDDEN).await;
    }
    if let Some(old) = &maybe.token {
        let _ = auth::logout(&state.ctx, old).await;
    }
    let device = read_cookie(&headers, &cookie_name(&state, DEVICE_COOKIE));
    let signed_in = match (&form.challenge, &form.totp) {
        (Some(challenge), code) => {
            let code = code.as_deref().unwrap_or_default();
            match auth::complete_second_factor(&state.ctx, challenge, code, device.as_deref(), &maybe.meta).await {
                Ok(signed_in) => Ok(signed_in),
                Err(Error::Unauthorized) => {
                    let error = "That code is not right, or was used already. Type the code your app shows now — or start again if more than five minutes passed.";
                    return code_form(&state, challenge.clone(), Some(error.to_owned()), next, StatusCode::UNAUTHORIZED);
                }
                Err(other) => Err(other),
            }
        }
        (None, _) => {
            match auth::sign_in(&state.ctx, &form.email, &form.password, None, SessionKind::Browser, device.as_deref(), &maybe.meta).await {
                Ok(auth::FirstStep::SignedIn(signed_in)) => Ok(*signed_in),
                Ok(auth::FirstStep::SecondFactor { challenge }) => return code_form(&state, challenge, None, next, StatusCode::OK),
                Err(other) => Err(other),
            }
        }
    };
    match signed_in {
        Ok(signed_in) => signed_in_response(&state, &signed_in, &next).await,
        Err(Error::RateLimited { .. }) => {
            login_form(
                &state,
                form.email,
                Some("Too many attempts. Please wait a few minutes and try again.".into()),
                next,
                StatusCode::TOO_MANY_REQUESTS,
            )
            .await
        }
        Err(Error::Unauthorized) => {
            login_form(&state, form.email, Some("The email or password is not right.".into()), next, StatusCode::UNAUTHORIZED).await
        }
        Err(other) => error_page(other),
    }
}

/// Where a browser goes once signed in, with its session and device cookies: to `next` (an
/// invitation link), else to the invitations waiting for the person, else home.
pub(crate) async fn signed_in_response(state: &AppState, signed_in: &auth::SignedIn, next: &str) -> Response {
    let waiting = invitations::addressed_to(&state.ctx, &signed_in.user_id).await.map(|w| !w.is_empty()).unwrap_or(false);
    let to = match (next.is_empty(), waiting) {
        (false, _) => next,
        (true, true) => "/memberships",
        (true, false) => "/",
    };
    let response = with_cookie(Redirect::to(to).into_response(), set_cookie(state, SESSION_COOKIE, &signed_in.token, 12 * 3600));
    let response = with_cookie(response, set_cookie(state, DEVICE_COOKIE, &signed_in.device_token, DEVICE_COOKIE_SECONDS));
    with_cookie(response, set_cookie(state, CSRF_COOKIE, "", 0))
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf_token: String,
}

/// `POST /logout`: ends the session server-side.
async fn logout(State(state): State<AppState>, maybe: MaybeSession, PageForm(form): PageForm<CsrfForm>) -> Response {
    if let (Some(token), Some(session)) = (&maybe.token, &maybe.session) {
        if let Err(response) = check_csrf(session, &form.csrf_token) {
            return response;
        }
        if let Err(err) = auth::logout(&state.ctx, token).await {
            return error_page(err);
        }
    }
    with_cookie(Redirect::to("/login").into_response(), set_cookie(&state, SESSION_COOKIE, "", 0))
}

#[derive(Template)]
#[template(path = "memberships.html")]
struct MembershipsPage {
    layout: Layout,
    csrf_token: String,
    choices: Vec<(String, String)>,
    /// Invitations addressed to the signed-in account: (id, what they offer in words).
    invitations: Vec<(String, String)>,
}

/// `GET /memberships`: the invitations waiting for the person, and which workspace or partner to
/// act as.
async fn memberships_page(State(state): State<AppState>, maybe: MaybeSession) -> Response {
    let Some(session) = maybe.session else { return Redirect::to("/login").into_response() };
    let choices = session.memberships.iter().map(|m| (m.header_value(), membership_label(m))).collect();
    let invitations = match invitations::addressed_to(&state.ctx, &session.user_id).await {
        Ok(list) => list
            .into_iter()
            .map(|a| {
                let role = crate::display::words(a.invitation.offer.role());
                let what = match a.partner_name {
                    Some(partner) => format!("{partner} in the {} partner portal, as {role}", a.workspace_name),
                    None => format!("the staff of {}, as {role}", a.workspace_name),
                };
                (a.invitation.id.to_string(), what)
            })
            .collect(),
        Err(err) => return error_page(err),
    };
    render(&MembershipsPage {
        layout: Layout::new("Choose where to work", Some(&session)),
        csrf_token: session.csrf_token.clone(),
        choices,
        invitations,
    })
}

/// `POST /memberships/invitations/{id}/accept`: the signed-in invitee accepts an invitation
/// addressed to them, and works in the new membership at once.
async fn accept_addressed(
    State(state): State<AppState>,
    maybe: MaybeSession,
    Path(id): Path<String>,
    PageForm(form): PageForm<CsrfForm>,
) -> Response {
    let (Some(token), Some(session)) = (maybe.token, maybe.session) else { return Redirect::to("/login").into_response() };
    if let Err(response) = check_csrf(&session, &form.csrf_token) {
        return response;
    }
    let Ok(id) = path_id(&id) else { return error_page(Error::NotFound) };
    let accepted = match invitations::accept_addressed(&state.ctx, &session.user_id, &id).await {
        Ok(accepted) => accepted,
        Err(err) => return error_page(err),
    };
    let refreshed = match auth::authenticate_browser(&state.ctx, &token, &maybe.meta).await {
        Ok(Some(refreshed)) => refreshed,
        Ok(None) => return Redirect::to("/login").into_response(),
        Err(err) => return error_page(err),
    };
    match auth::switch_membership(&state.ctx, &token, &refreshed, &accepted.membership.header_value()).await {
        Ok(()) => Redirect::to("/").into_response(),
        Err(err) => error_page(err),
    }
}

/// `POST /memberships/invitations/{id}/decline`
async fn decline_addressed(
    State(state): State<AppState>,
    maybe: MaybeSession,
    Path(id): Path<String>,
    PageForm(form): PageForm<CsrfForm>,
) -> Response {
    let Some(session) = maybe.session else { return Redirect::to("/login").into_response() };
    if let Err(response) = check_csrf(&session, &form.csrf_token) {
        return response;
    }
    let Ok(id) = path_id(&id) else { return error_page(Error::NotFound) };
    match invitations::decline_addressed(&state.ctx, &session.user_id, &id).await {
        Ok(()) => Redirect::to("/memberships").into_response(),
        Err(err) => error_page(err),
    }
}

#[derive(Deserialize)]
struct SwitchForm {
    csrf_token: String,
    membership: String,
}

async fn switch_membership(State(state): State<AppState>, maybe: MaybeSession, PageForm(form): PageForm<SwitchForm>) -> Response {
    let (Some(token), Some(session)) = (maybe.token, maybe.session) else { return Redirect::to("/login").into_response() };
    if let Err(response) = check_csrf(&session, &form.csrf_token) {
        return response;
    }
    match auth::switch_membership(&state.ctx, &token, &session, &form.membership).await {
        Ok(()) => Redirect::to("/").into_response(),
        Err(err) => error_page(err),
    }
}

#[derive(Template)]
#[template(path = "console_home.html")]
struct ConsoleHome {
    layout: Layout,
    workspace_name: String,
    /// The queues where something waits for this person, each with its count and link.
    waiting: Vec<QueueRow>,
    /// The queues where nothing waits, as one line of links ("nothing waits" is worth knowing,
    /// but on a phone it must not push what waits off the screen).
    clear: Vec<QueueRow>,
    charts: Vec<crate::charts::BarChart>,
}

struct QueueRow {
    title: &'static str,
    href: &'static str,
    count: i64,
    count_text: String,
}

#[derive(Template)]
#[template(path = "portal_home.html")]
struct PortalHome {
    layout: Layout,
    partner: trellis_directory::Partner,
    role: String,
    /// What the page leads with (see [`HomeFocus`]).
    focus: HomeFocus,
    /// The partner's status in plain words when it is not onboarding or active, with whom to
    /// contact.
    status_note: Option<StatusNote>,
    /// The partner's programs and tiers, with what the next tier needs.
    programs: Vec<crate::tiers::StandingRow>,
    /// Onboarding progress while the partner is onboarding.
    onboarding: Option<crate::portal::onboarding::OnboardingCard>,
    /// Whom to contact at the vendor: the channel manager, or the workspace's owner.
    contact: Option<trellis_directory::contacts::VendorContact>,
    /// For admins: what keeps the organisation from being compliant (an expired licence…).
    attention: Vec<String>,
}

/// What the portal home leads with, by the user's role (issue 8: the portal as a partner's daily
/// tool). The onboarding card and the status note come first for everyone.
/// - `Admin` (admins): the organisation's facts, the admin shortcuts (users, profile, contracts,
///   licences) with what needs attention, then the programs and the channel manager.
/// - `Selling` (sales, marketing): selling first — the programs, the tier, what it gives and the
///   content it opens, and the channel manager; the organisation in one line, no admin chores.
///   Until deal registration exists this is what a seller's day starts from.
/// - `Reading` (finance, member): the programs and the channel manager, then the organisation's
///   facts; no admin shortcuts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HomeFocus {
    Admin,
    Selling,
    Reading,
}

impl HomeFocus {
    fn of(role: trellis_core::PartnerRole) -> Self {
        use trellis_core::PartnerRole;
        match role {
            PartnerRole::Admin => HomeFocus::Admin,
            PartnerRole::Sales | PartnerRole::Marketing => HomeFocus::Selling,
            PartnerRole::Finance | PartnerRole::Member => HomeFocus::Reading,
        }
    }

    fn is_admin(&self) -> bool {
        *self == HomeFocus::Admin
    }

    fn is_selling(&self) -> bool {
        *self == HomeFocus::Selling
    }
}

/// The partner's status explained to its people — a heading and a sentence — when it is neither
/// onboarding nor active (an onboarding partner has its checklist; an active one needs no
/// explanation).
fn status_note(status: trellis_core::PartnerStatus) -> Option<StatusNote> {
    use trellis_core::PartnerStatus;
    let (heading, text) = match status {
        PartnerStatus::Onboarding | PartnerStatus::Active => return None,
        PartnerStatus::Applied => (
            "Your application is being reviewed",
            "You will be emailed when it is decided; until then the programs and their benefits are not open to you.",
        ),
        PartnerStatus::Suspended => {
            ("Your partnership is suspended", "Deals, benefits and the portal's tools are paused until the vendor reactivates it.")
        }
        PartnerStatus::Terminated => ("Your partnership has ended", "Your records stay readable; nothing new can be started."),
        PartnerStatus::Rejected => ("Your application was not accepted", "The vendor decided not to take the partnership further."),
    };
    Some(StatusNote { heading, text })
}

struct StatusNote {
    heading: &'static str,
    text: &'static str,
}

/// Weeks the home's chart of applications covers.
const APPLICATION_WEEKS: i64 = 12;

/// The console home: the work queues first, then the channel in charts.
async fn console_home(state: &AppState, signed: &Signed) -> Result<ConsoleHome, Error> {
    use crate::charts::{Bar, horizontal_bars};
    use trellis_core::PartnerStatus;
    let scope = &signed.scope;
    let waiting = work_queues::waiting(&state.ctx, scope, false).await?;
    let layout = Layout::signed_counted(state, signed, "Home", "", Some(&waiting)).await;
    let (waiting_rows, clear): (Vec<QueueRow>, Vec<QueueRow>) = waiting
        .into_iter()
        .map(|w| QueueRow { title: w.queue.title, href: w.queue.href, count: w.count, count_text: w.count_text() })
        .partition(|q| q.count > 0);
    let by_status = partners::count_by_status(&state.ctx, scope).await?;
    let count_of = |status: PartnerStatus| by_status.iter().find(|(s, _)| *s == status).map_or(0, |(_, n)| *n);
    let status_bar = |status: PartnerStatus| Bar {
        label: crate::display::words(status.as_str()),
        value: count_of(status),
        href: Some(format!("/console/partners?status={}", status.as_str())),
    };
    let mut charts = vec![horizontal_bars("Partners by status", PartnerStatus::ALL.iter().map(|s| status_bar(*s)).collect())];
    let funnel = [PartnerStatus::Applied, PartnerStatus::Onboarding, PartnerStatus::Active];
    charts.push(horizontal_bars("Onboarding funnel: applied, onboarding, active", funnel.iter().map(|s| status_bar(*s)).collect()));
    let tiers = trellis_programs::enrollments::tier_counts(&state.ctx, scope).await?;
    if !tiers.is_empty() {
        let bars = tiers
            .into_iter()
            .map(|t| Bar {
                label: format!("{}: {}", t.program_name, t.tier_name.as_deref().unwrap_or("no tier yet")),
                value: t.count,
                href: None,
            })
            .collect();
        charts.push(horizontal_bars("Partners by tier", bars));
    }
    if scope.has_vendor_role(trellis_recruitment::applications::READERS) {
        let weekly = trellis_recruitment::applications::weekly_counts(&state.ctx, scope, APPLICATION_WEEKS).await?;
        let today = trellis_records::dates::today(state.ctx.now());
        let bars = weekly
            .into_iter()
            .enumerate()
            .map(|(i, n)| {
                let weeks_back = APPLICATION_WEEKS - i64::try_from(i).unwrap_or(0);
                let start = trellis_records::dates::add_days(today, -7 * weeks_back + 1);
                Bar { label: format!("week of {}", crate::display::date(start)), value: n, href: None }
            })
            .collect();
        charts.push(horizontal_bars(format!("New applications per week, last {APPLICATION_WEEKS} weeks"), bars));
    }
    let workspace_name = signed.session.current.as_ref().map(|m| m.workspace_name.clone()).unwrap_or_default();
    Ok(ConsoleHome { layout, workspace_name, waiting: waiting_rows, clear, charts })
}

/// `GET /`: the console for staff, the portal for partner users, the sign-in page otherwise.
async fn home(State(state): State<AppState>, signed: Signed) -> Response {
    if let Err(to_account) = crate::guards::require_mfa_enrolled(&signed) {
        return to_account;
    }
    match signed.scope.membership().clone() {
        Membership::Staff { .. } | Membership::System => match console_home(&state, &signed).await {
            Ok(page) => render(&page),
            Err(err) => error_page(err),
        },
        Membership::Partner { partner_id, role, .. } => {
            let layout = Layout::signed(&state, &signed, "Home", "").await;
            match portal_home(&state, &signed, layout, &partner_id, role).await {
                Ok(page) => render(&page),
                Err(err) => error_page(err),
            }
        }
    }
}

/// The portal home of a partner user (see [`HomeFocus`] for what each role sees first).
async fn portal_home(
    state: &AppState,
    signed: &Signed,
    layout: Layout,
    partner_id: &trellis_core::PartnerId,
    role: trellis_core::PartnerRole,
) -> Result<PortalHome, Error> {
    let scope = &signed.scope;
    let partner = partners::get(&state.ctx, scope, partner_id).await?;
    let registry = trellis_directory::metric_registry::Registry::of(&state.ctx)?;
    let programs = trellis_programs::evaluation::standings(&state.ctx, scope, partner_id)
        .await?
        .into_iter()
        .map(|s| crate::tiers::StandingRow::for_partner(s, registry))
        .collect();
    let onboarding = crate::portal::onboarding::home_card(state, scope, partner_id).await?;
    let contact = trellis_directory::contacts::own_vendor_contact(&state.ctx, scope).await?;
    let focus = HomeFocus::of(role);
    let attention =
        if focus.is_admin() { trellis_records::compliance::get(&state.ctx, scope, partner_id).await?.blockers } else { Vec::new() };
    Ok(PortalHome {
        layout,
        status_note: status_note(partner.status),
        partner,
        role: role.as_str().to_owned(),
        focus,
        programs,
        onboarding,
        contact,
        attention,
    })
}

#[derive(Template)]
#[template(path = "invitation.html")]
struct InvitationPage {
    layout: Layout,
    token: String,
    csrf_token: String,
    email: String,
    /// What the invitation offers, in words: "the staff of Acme" or "Northwind in the Acme partner portal".
    what: String,
    role: String,
    expires: String,
    /// The new-account form's name, as the inviter gave it.
    name: String,
    /// The address of the signed-in account, if any.
    signed_in_as: Option<String>,
    /// Whether that account is the invited address (it may accept with one click).
    is_invitee: bool,
    error: Option<String>,
    /// After a new-account attempt for an address that has an account: offer sign-in.
    offer_sign_in: bool,
}

#[derive(Deserialize)]
struct InvitationForm {
    csrf_token: String,
    name: Option<String>,
    password: Option<String>,
}

/// What the page behind an invitation link says. For a visitor who is not signed in it offers
/// both ways in — a new password, or signing in — so the page says nothing about whether the
/// address already has an account.
struct InvitationView<'a> {
    token: String,
    pending: invitations::PendingInvitation,
    session: Option<&'a BrowserSession>,
    error: Option<String>,
    offer_sign_in: bool,
    /// The inviting workspace's branding.
    brand: Option<PublicBrand>,
}

fn invitation_form(state: &AppState, view: InvitationView<'_>, status: StatusCode) -> Response {
    let InvitationView { token, pending, session, error, offer_sign_in, brand } = view;
    let (csrf, double_submit) = match session {
        Some(s) => (s.csrf_token.clone(), false),
        None => (random_token(32), true),
    };
    let what = match &pending.partner_name {
        Some(partner) => format!("{partner} in the {} partner portal", pending.workspace_name),
        None => format!("the staff of {}", pending.workspace_name),
    };
    let page = InvitationPage {
        layout: match brand {
            Some(brand) => Layout::new("Your invitation", session).branded(brand),
            None => Layout::new("Your invitation", session),
        },
        token,
        csrf_token: csrf.clone(),
        email: pending.email.to_string(),
        what,
        role: pending.role,
        expires: crate::display::time(pending.expires_at),
        name: pending.name.clone(),
        signed_in_as: session.map(|s| s.email.to_string()),
        is_invitee: session.is_some_and(|s| s.email == pending.email),
        error,
        offer_sign_in,
    };
    let response = (status, render(&page)).into_response();
    if double_submit { with_cookie(response, set_cookie(state, CSRF_COOKIE, &csrf, 3600)) } else { response }
}

/// Checks a form posted from the invitation page: the session's token when signed in, the
/// double-submit cookie otherwise.
fn check_invitation_csrf(state: &AppState, headers: &HeaderMap, session: Option<&BrowserSession>, submitted: &str) -> bool {
    match session {
        Some(s) => same_secret(&s.csrf_token, submitted),
        None => form_cookie_matches(state, headers, CSRF_COOKIE, submitted),
    }
}

/// `GET /invitations/{token}`: accept (signed in as the invitee, or with a new password) or decline.
async fn invitation_page(State(state): State<AppState>, maybe: MaybeSession, Path(token): Path<String>) -> Response {
    match invitations::find(&state.ctx, &token).await {
        Ok(pending) => {
            let brand = workspaces::public_brand(&state.ctx, &pending.workspace_id).await.ok();
            invitation_form(
                &state,
                InvitationView { token, pending, session: maybe.session.as_ref(), error: None, offer_sign_in: false, brand },
                StatusCode::OK,
            )
        }
        Err(err) => error_page(err),
    }
}

/// `POST /invitations/{token}`: accepts. Signed in as the invited address, the membership is
/// added to that account (and the session switches to it); otherwise a new account is made
/// with the password given, and signed in.
async fn invitation_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    maybe: MaybeSession,
    Path(token): Path<String>,
    PageForm(form): PageForm<InvitationForm>,
) -> Response {
    let pending = match invitations::find(&state.ctx, &token).await {
        Ok(p) => p,
        Err(err) => return error_page(err),
    };
    let session = maybe.session.as_ref();
    let brand = workspaces::public_brand(&state.ctx, &pending.workspace_id).await.ok();
    let show = |pending, error: String, offer_sign_in, status| {
        let view = InvitationView { token: token.clone(), pending, session, error: Some(error), offer_sign_in, brand: brand.clone() };
        invitation_form(&state, view, status)
    };
    if !check_invitation_csrf(&state, &headers, session, &form.csrf_token) {
        return show(pending, "The form expired. Please try again.".into(), false, StatusCode::FORBIDDEN);
    }
    if let (Some(session), Some(cookie_token)) = (session, maybe.token.as_deref()) {
        let accepted = match invitations::accept(&state.ctx, &token, Acceptor::Account { user_id: &session.user_id }).await {
            Ok(accepted) => accepted,
            Err(err) => return error_page(err),
        };
        // Work in the new membership straight away; the session's other memberships stay.
        let refreshed = match auth::authenticate_browser(&state.ctx, cookie_token, &maybe.meta).await {
            Ok(Some(refreshed)) => refreshed,
            Ok(None) => return Redirect::to("/login").into_response(),
            Err(err) => return error_page(err),
        };
        return match auth::switch_membership(&state.ctx, cookie_token, &refreshed, &accepted.membership.header_value()).await {
            Ok(()) => Redirect::to("/").into_response(),
            Err(err) => error_page(err),
        };
    }
    let password = form.password.unwrap_or_default();
    match invitations::accept(&state.ctx, &token, Acceptor::NewAccount { name: form.name.as_deref(), password: &password }).await {
        Ok(accepted) => match auth::start_session(&state.ctx, &accepted.user_id, SessionKind::Browser, None, &maybe.meta).await {
            Ok(signed_in) => {
                let response =
                    with_cookie(Redirect::to("/").into_response(), set_cookie(&state, SESSION_COOKIE, &signed_in.token, 12 * 3600));
                let response = with_cookie(response, set_cookie(&state, DEVICE_COOKIE, &signed_in.device_token, DEVICE_COOKIE_SECONDS));
                with_cookie(response, set_cookie(&state, CSRF_COOKIE, "", 0))
            }
            Err(err) => error_page(err),
        },
        Err(Error::Validation(errors)) => {
            let message = errors.iter().map(|e| format!("Password {}", e.message)).collect::<Vec<_>>().join(". ");
            show(pending, message, false, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(Error::Conflict(message)) => show(pending, message, true, StatusCode::CONFLICT),
        Err(err) => error_page(err),
    }
}

#[derive(Template)]
#[template(path = "invitation_declined.html")]
struct InvitationDeclinedPage {
    layout: Layout,
}

/// `POST /invitations/{token}/decline`: no account needed; the link stops working.
async fn invitation_decline(
    State(state): State<AppState>,
    headers: HeaderMap,
    maybe: MaybeSession,
    Path(token): Path<String>,
    PageForm(form): PageForm<CsrfForm>,
) -> Response {
    if !check_invitation_csrf(&state, &headers, maybe.session.as_ref(), &form.csrf_token) {
        return error_page(Error::forbidden("the form has expired; open the invitation link again"));
    }
    match invitations::decline(&state.ctx, &token).await {
        Ok(()) => render(&InvitationDeclinedPage { layout: Layout::new("Invitation declined", maybe.session.as_ref()) }),
        Err(err) => error_page(err),
    }
}

/// The HTML 404 of unknown page paths.
pub async fn not_found() -> Response {
    error_page(Error::NotFound)
}

pub fn routes() -> PageRouter {
    PageRouter::new()
        .route("/", get(home))
        .route("/login", get(login_page).post(login_submit))
        .route("/logout", post(logout))
        .route("/memberships", get(memberships_page).post(switch_membership))
        .route("/memberships/invitations/{id}/accept", post(accept_addressed))
        .route("/memberships/invitations/{id}/decline", post(decline_addressed))
        .route("/invitations/{token}", get(invitation_page).post(invitation_submit))
        .route("/invitations/{token}/decline", post(invitation_decline))
}

/// After removing a partner user or changing their role on the users page at `page`: back to it
/// with the notice `done`, or, when the service refused because the organisation would have no
/// admin left, back to it saying so (not an error page: the person stays where they were).
pub(crate) fn keeps_an_admin<T>(outcome: Result<T, Error>, page: &str, done: &str) -> PageResult {
    match outcome {
        Ok(_) => Ok(see_other(&format!("{page}?notice={done}#users"))),
        Err(Error::Conflict(_)) => Ok(see_other(&format!("{page}?notice=keeps_an_admin#users"))),
        Err(err) => Err(err.into()),
    }
}
