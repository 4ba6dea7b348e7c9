//! Page handlers: sign-in, sign-out, memberships, invitations, and the home pages of the console
//! and the portal. One typed struct per rendered page (docs.rs style).

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;
use trellis_api::AppState;
use trellis_core::Error;
use trellis_identity::auth::{self, BrowserSession, SessionKind};
use trellis_identity::secret::{random_token, same_secret};
use trellis_identity::{Membership, members};
use trellis_partners::partners;

use crate::assets::asset_url;
use crate::session::{
    CSRF_COOKIE, MaybeSession, SESSION_COOKIE, Signed, check_csrf, check_same_site, cookie_name, read_cookie, set_cookie, with_cookie,
};

/// What the shared layout shows: the title, and for a signed-in person the navigation.
pub struct Layout {
    pub title: String,
    pub css: String,
    pub js: String,
    pub nav: Option<Nav>,
}

pub struct Nav {
    pub email: String,
    pub acting_as: String,
    pub is_staff: bool,
    pub csrf_token: String,
    pub has_several_memberships: bool,
}

impl Layout {
    pub fn new(title: impl Into<String>, session: Option<&BrowserSession>) -> Self {
        let nav = session.map(|s| Nav {
            email: s.email.to_string(),
            acting_as: s.current.as_ref().map(membership_label).unwrap_or_default(),
            is_staff: s.current.as_ref().is_some_and(|m| m.partner_id.is_none()),
            csrf_token: s.csrf_token.clone(),
            has_several_memberships: s.memberships.len() > 1,
        });
        Self { title: title.into(), css: asset_url("app.css"), js: asset_url("app.js"), nav }
    }
}

fn membership_label(m: &trellis_identity::auth::MembershipInfo) -> String {
    match &m.partner_name {
        Some(partner) => format!("{partner} · {} ({})", m.workspace_name, m.role),
        None => format!("{} ({})", m.workspace_name, m.role.replace('_', " ")),
    }
}

/// Renders a template, or an error page if rendering fails.
pub fn render<T: Template>(page: &T) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
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
        Error::Unauthorized => (StatusCode::UNAUTHORIZED, "Please sign in", "Your session has ended.".to_owned()),
        Error::NotFound => (StatusCode::NOT_FOUND, "Not found", "This page does not exist, or you do not have access to it.".to_owned()),
        Error::Forbidden(m) => (StatusCode::FORBIDDEN, "Not allowed", m.clone()),
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

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    layout: Layout,
    csrf_token: String,
    email: String,
    error: Option<String>,
}

#[derive(Deserialize)]
struct LoginForm {
    email: String,
    password: String,
    csrf_token: String,
}

/// `GET /login`: the sign-in form, with a fresh double-submit CSRF cookie.
async fn login_page(State(state): State<AppState>, maybe: MaybeSession) -> Response {
    if maybe.session.is_some() {
        return Redirect::to("/").into_response();
    }
    login_form(&state, String::new(), None, StatusCode::OK)
}

fn login_form(state: &AppState, email: String, error: Option<String>, status: StatusCode) -> Response {
    let csrf = random_token(32);
    let page = LoginPage { layout: Layout::new("Sign in", None), csrf_token: csrf.clone(), email, error };
    with_cookie((status, render(&page)).into_response(), set_cookie(state, CSRF_COOKIE, &csrf, 3600))
}

/// `POST /login`: checks the password and starts a new session (new id: no fixation).
async fn login_submit(State(state): State<AppState>, headers: HeaderMap, maybe: MaybeSession, Form(form): Form<LoginForm>) -> Response {
    if let Err(response) = check_same_site(&headers) {
        return response;
    }
    let cookie = read_cookie(&headers, &cookie_name(&state, CSRF_COOKIE)).unwrap_or_default();
    if cookie.is_empty() || !same_secret(&cookie, &form.csrf_token) {
        return login_form(&state, form.email, Some("The form expired. Please sign in again.".into()), StatusCode::FORBIDDEN);
    }
    if let Some(old) = &maybe.token {
        let _ = auth::logout(&state.ctx, old).await;
    }
    match auth::login(&state.ctx, &form.email, &form.password, SessionKind::Browser, &maybe.meta).await {
        Ok(signed_in) => {
            let response = with_cookie(Redirect::to("/").into_response(), set_cookie(&state, SESSION_COOKIE, &signed_in.token, 12 * 3600));
            with_cookie(response, set_cookie(&state, CSRF_COOKIE, "", 0))
        }
        Err(Error::RateLimited { .. }) => login_form(
            &state,
            form.email,
            Some("Too many attempts. Please wait a few minutes and try again.".into()),
            StatusCode::TOO_MANY_REQUESTS,
        ),
        Err(Error::Unauthorized) => {
            login_form(&state, form.email, Some("The email or password is not right.".into()), StatusCode::UNAUTHORIZED)
        }
        Err(other) => error_page(other),
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf_token: String,
}

/// `POST /logout`: ends the session server-side.
async fn logout(State(state): State<AppState>, headers: HeaderMap, maybe: MaybeSession, Form(form): Form<CsrfForm>) -> Response {
    if let (Some(token), Some(session)) = (&maybe.token, &maybe.session) {
        if let Err(response) = check_csrf(&headers, session, &form.csrf_token) {
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
}

/// `GET /memberships`: choose which workspace or partner to act as.
async fn memberships_page(maybe: MaybeSession) -> Response {
    let Some(session) = maybe.session else { return Redirect::to("/login").into_response() };
    let choices = session.memberships.iter().map(|m| (m.header_value(), membership_label(m))).collect();
    render(&MembershipsPage {
        layout: Layout::new("Choose where to work", Some(&session)),
        csrf_token: session.csrf_token.clone(),
        choices,
    })
}

#[derive(Deserialize)]
struct SwitchForm {
    csrf_token: String,
    membership: String,
}

async fn switch_membership(
    State(state): State<AppState>,
    headers: HeaderMap,
    maybe: MaybeSession,
    Form(form): Form<SwitchForm>,
) -> Response {
    let (Some(token), Some(session)) = (maybe.token, maybe.session) else { return Redirect::to("/login").into_response() };
    if let Err(response) = check_csrf(&headers, &session, &form.csrf_token) {
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
    counts: Vec<(String, i64)>,
}

#[derive(Template)]
#[template(path = "portal_home.html")]
struct PortalHome {
    layout: Layout,
    partner: trellis_partners::Partner,
    role: String,
}

/// `GET /`: the console for staff, the portal for partner users, the sign-in page otherwise.
async fn home(State(state): State<AppState>, signed: Signed) -> Response {
    let layout = Layout::new("Home", Some(&signed.session));
    match signed.scope.membership().clone() {
        Membership::Staff { .. } | Membership::System => {
            let counts = match partners::count_by_status(&state.ctx, &signed.scope).await {
                Ok(c) => c.into_iter().map(|(s, n)| (s.as_str().to_owned(), n)).collect(),
                Err(err) => return error_page(err),
            };
            let workspace_name = signed.session.current.as_ref().map(|m| m.workspace_name.clone()).unwrap_or_default();
            render(&ConsoleHome { layout, workspace_name, counts })
        }
        Membership::Partner { partner_id, role, .. } => match partners::get(&state.ctx, &signed.scope, &partner_id).await {
            Ok(partner) => render(&PortalHome { layout, partner, role: role.as_str().to_owned() }),
            Err(err) => error_page(err),
        },
    }
}

#[derive(Template)]
#[template(path = "invitation.html")]
struct InvitationPage {
    layout: Layout,
    token: String,
    csrf_token: String,
    email: String,
    workspace_name: String,
    needs_password: bool,
    error: Option<String>,
}

#[derive(Deserialize)]
struct InvitationForm {
    csrf_token: String,
    name: Option<String>,
    password: Option<String>,
}

fn invitation_form(
    state: &AppState,
    token: String,
    pending: members::PendingInvitation,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let csrf = random_token(32);
    let page = InvitationPage {
        layout: Layout::new("Accept your invitation", None),
        token,
        csrf_token: csrf.clone(),
        email: pending.email.to_string(),
        workspace_name: pending.workspace_name,
        needs_password: pending.needs_password,
        error,
    };
    with_cookie((status, render(&page)).into_response(), set_cookie(state, CSRF_COOKIE, &csrf, 3600))
}

/// `GET /invitations/{token}`: set a password for a new account.
async fn invitation_page(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    match members::find_invitation(&state.ctx, &token).await {
        Ok(pending) => invitation_form(&state, token, pending, None, StatusCode::OK),
        Err(err) => error_page(err),
    }
}

async fn invitation_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
    Form(form): Form<InvitationForm>,
) -> Response {
    if let Err(response) = check_same_site(&headers) {
        return response;
    }
    let pending = match members::find_invitation(&state.ctx, &token).await {
        Ok(p) => p,
        Err(err) => return error_page(err),
    };
    let cookie = read_cookie(&headers, &cookie_name(&state, CSRF_COOKIE)).unwrap_or_default();
    if cookie.is_empty() || !same_secret(&cookie, &form.csrf_token) {
        return invitation_form(&state, token, pending, Some("The form expired. Please try again.".into()), StatusCode::FORBIDDEN);
    }
    let password = form.password.unwrap_or_default();
    match members::accept_invitation(&state.ctx, &token, form.name.as_deref(), &password).await {
        Ok(_) => Redirect::to("/login").into_response(),
        Err(Error::Validation(errors)) => {
            let message = errors.iter().map(|e| format!("Password {}", e.message)).collect::<Vec<_>>().join(". ");
            invitation_form(&state, token, pending, Some(message), StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(err) => error_page(err),
    }
}

/// The HTML 404 of unknown page paths.
pub async fn not_found() -> Response {
    error_page(Error::NotFound)
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login_page).post(login_submit))
        .route("/logout", axum::routing::post(logout))
        .route("/memberships", get(memberships_page).post(switch_membership))
        .route("/invitations/{token}", get(invitation_page).post(invitation_submit))
}
