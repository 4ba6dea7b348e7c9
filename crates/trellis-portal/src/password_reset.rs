//! The password reset pages (issue 12, ADR 0023), public like the sign-in page and protected the
//! same way (a double-submit CSRF cookie set with the form):
//! - `/password-reset`: the address to send a link to; the answer is the same whether or not an
//!   account has it ("if an account has this address, a link is on its way").
//! - `/password-reset/{token}`: the emailed link; a new password, then every session of the
//!   person ends and they sign in with it. A link that does not work says so and offers a new one.
//!   The page tells browsers not to send its address (with the token) on to anywhere.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::header::REFERRER_POLICY;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use trellis_core::Error;
use trellis_identity::password_reset;
use trellis_identity::secret::random_token;
use trellis_web::AppState;
use trellis_web::meta::Meta;

use crate::forms::{FormData, FormView};
use crate::pages::{Layout, error_page, render_status};
use crate::routes::{PageRouter, get};
use crate::session::{form_cookie_matches, set_cookie, with_cookie};

const RESET_CSRF_COOKIE: &str = "trellis_reset_csrf";
const ASK_FIELDS: &[&str] = &["email"];
const SET_FIELDS: &[&str] = &["new_password"];

/// Where the person is in the reset.
enum Step {
    /// The address form.
    Ask(FormView),
    /// A link was asked for.
    Sent,
    /// The new password form of a working link.
    Choose { email: String, form: FormView },
    /// The link does not work (unknown, used or expired).
    Dead,
    /// The password was set.
    Done,
}

#[derive(Template)]
#[template(path = "password_reset.html")]
struct ResetPage {
    layout: Layout,
    csrf_token: String,
    step: Step,
    error: Option<String>,
}

/// The page at `step`, with a fresh CSRF cookie, never sending its address as a referrer.
fn page(state: &AppState, step: Step, error: Option<String>, status: StatusCode) -> Response {
    let csrf = random_token(32);
    let title = match step {
        Step::Choose { .. } => "Choose a new password",
        _ => "Reset your password",
    };
    let page = ResetPage { layout: Layout::new(title, None), csrf_token: csrf.clone(), step, error };
    let mut response = with_cookie(render_status(status, &page).into_response(), set_cookie(state, RESET_CSRF_COOKIE, &csrf, 3600));
    response.headers_mut().insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

fn form_is_fresh(state: &AppState, headers: &HeaderMap, form: &FormData) -> bool {
    form_cookie_matches(state, headers, RESET_CSRF_COOKIE, form.csrf_token())
}

const EXPIRED: &str = "The form expired. Please send it again.";

/// `GET /password-reset`
async fn ask(State(state): State<AppState>) -> Response {
    page(&state, Step::Ask(FormView::new("reset", ASK_FIELDS)), None, StatusCode::OK)
}

/// `POST /password-reset`: the same page whatever the address (unless the form expired).
async fn send(State(state): State<AppState>, headers: HeaderMap, Meta(meta): Meta, form: FormData) -> Response {
    if !form_is_fresh(&state, &headers, &form) {
        let again = FormView::failed("reset", ASK_FIELDS, form, Vec::new());
        return page(&state, Step::Ask(again), Some(EXPIRED.to_owned()), StatusCode::FORBIDDEN);
    }
    let email = form.value("email").trim();
    if email.is_empty() || email.chars().count() > 320 {
        let errors = vec![trellis_core::FieldError { field: "email".into(), message: "is needed: the address you sign in with".into() }];
        return page(&state, Step::Ask(FormView::failed("reset", ASK_FIELDS, form, errors)), None, StatusCode::UNPROCESSABLE_ENTITY);
    }
    match password_reset::request(&state.ctx, email, &meta).await {
        Ok(()) => page(&state, Step::Sent, None, StatusCode::OK),
        Err(err) => error_page(err),
    }
}

/// `GET /password-reset/{token}`: the new password form, or why the link does not work.
async fn choose(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    match password_reset::find(&state.ctx, &token).await {
        Ok(Some(email)) => {
            page(&state, Step::Choose { email: email.to_string(), form: FormView::new("set", SET_FIELDS) }, None, StatusCode::OK)
        }
        Ok(None) => page(&state, Step::Dead, None, StatusCode::NOT_FOUND),
        Err(err) => error_page(err),
    }
}

/// `POST /password-reset/{token}`: sets the password; every session of the person ends.
async fn set(State(state): State<AppState>, headers: HeaderMap, Meta(meta): Meta, Path(token): Path<String>, form: FormData) -> Response {
    let email = match password_reset::find(&state.ctx, &token).await {
        Ok(Some(email)) => email.to_string(),
        Ok(None) => return page(&state, Step::Dead, None, StatusCode::NOT_FOUND),
        Err(err) => return error_page(err),
    };
    if !form_is_fresh(&state, &headers, &form) {
        let again = FormView::new("set", SET_FIELDS);
        return page(&state, Step::Choose { email, form: again }, Some(EXPIRED.to_owned()), StatusCode::FORBIDDEN);
    }
    match password_reset::complete(&state.ctx, &token, form.value("new_password"), &meta).await {
        Ok(_) => with_cookie(page(&state, Step::Done, None, StatusCode::OK), set_cookie(&state, RESET_CSRF_COOKIE, "", 0)),
        Err(Error::Validation(errors)) if errors.iter().any(|e| e.field == "token") => {
            page(&state, Step::Dead, None, StatusCode::NOT_FOUND)
        }
        Err(Error::Validation(errors)) => {
            let failed = FormView::failed("set", SET_FIELDS, FormData::default(), errors);
            page(&state, Step::Choose { email, form: failed }, None, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(Error::RateLimited { .. }) => page(
            &state,
            Step::Dead,
            Some("Too many links that do not work came from your network. Please wait a few minutes.".to_owned()),
            StatusCode::TOO_MANY_REQUESTS,
        ),
        Err(err) => error_page(err),
    }
}

pub fn routes() -> PageRouter {
    PageRouter::new().route("/password-reset", get(ask).post(send)).route("/password-reset/{token}", get(choose).post(set))
}
