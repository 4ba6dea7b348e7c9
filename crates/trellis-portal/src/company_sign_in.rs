//! "Continue with your company account" (issue 12, ADR 0026): the sign-in page's second button
//! sends the typed address to `POST /sign-in/sso`, which finds the organisation's identity
//! provider from its domain and sends the browser there (a page that moves on by itself); the provider sends it back to
//! [`sso::CALLBACK_PATH`], where the sign-in is checked and a session begins. The "Confirm it's
//! you" page uses the same start for people who signed in through a provider (`confirm=1`).
//!
//! The start is protected like the sign-in form (its double-submit cookie), or by the session's
//! token when a signed-in person confirms; the callback by the flow's own state, bound to a
//! cookie set at the start.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::header::REFERRER_POLICY;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use trellis_core::Error;
use trellis_identity::secret::same_secret;
use trellis_identity::{auth, sso};
use trellis_web::AppState;

use crate::forms::FormData;
use crate::pages::{Layout, after_sign_in, error_page, login_form, render};
use crate::routes::{PageRouter, get, post};
use crate::session::{CSRF_COOKIE, MaybeSession, SESSION_COOKIE, cookie_name, form_cookie_matches, read_cookie, set_cookie, with_cookie};

#[derive(Template)]
#[template(path = "company_sign_in.html")]
struct OnTheWay {
    layout: Layout,
    /// The provider's authorization URL.
    url: String,
}

/// The cookie binding a sign-in under way to the browser that started it.
const FLOW_COOKIE: &str = "trellis_sso";

/// `POST /sign-in/sso`: to the provider of the address's domain, or back to the sign-in page
/// saying there is none.
async fn start(State(state): State<AppState>, headers: HeaderMap, maybe: MaybeSession, form: FormData) -> Response {
    let email = form.value("email").trim().to_owned();
    let confirming = form.value("confirm") == "1";
    let (email, return_to) = match (&maybe.session, confirming) {
        // A signed-in person confirming who they are: their own address, back to their page.
        (Some(session), true) => {
            if !same_secret(&session.csrf_token, form.csrf_token()) {
                return error_page(Error::forbidden("The form expired. Please go back and try again."));
            }
            (session.email.to_string(), crate::confirm::local_path(form.value("next")))
        }
        _ => {
            let next = after_sign_in(form.optional("next")).unwrap_or("/").to_owned();
            if !form_cookie_matches(&state, &headers, CSRF_COOKIE, form.csrf_token()) {
                return login_form(&state, email, Some("The form expired. Please try again.".into()), next, StatusCode::FORBIDDEN).await;
            }
            (email, next)
        }
    };
    if email.is_empty() {
        let error = "Type your work email address, then choose \"Continue with your company account\".";
        return login_form(&state, email, Some(error.into()), return_to, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    match sso::start(&state.ctx, &email, &return_to, confirming, &maybe.meta).await {
        Ok(started) => {
            // Not a redirect: the pages' `form-action 'self'` would stop a form's redirect to the
            // provider; a page that moves on (and a link) is an ordinary navigation.
            let page = OnTheWay { layout: Layout::new("Continue with your company account", None), url: started.authorization_url };
            let mut response =
                with_cookie(render(&page).into_response(), set_cookie(&state, FLOW_COOKIE, &started.browser_token, sso::FLOW_SECONDS));
            response.headers_mut().insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
            response
        }
        Err(Error::NotFound) => {
            let error = "Your organisation does not sign in with a company account here. Sign in with your password.";
            login_form(&state, email, Some(error.into()), return_to, StatusCode::NOT_FOUND).await
        }
        Err(Error::Forbidden(message)) => login_form(&state, email, Some(message), return_to, StatusCode::FORBIDDEN).await,
        Err(Error::RateLimited { .. }) => {
            let error = "Too many sign-ins were started from here. Please wait a few minutes and try again.";
            login_form(&state, email, Some(error.into()), return_to, StatusCode::TOO_MANY_REQUESTS).await
        }
        Err(err) => error_page(err),
    }
}

#[derive(Deserialize)]
struct CallbackQuery {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
}

/// `GET /sign-in/sso/callback`: the provider's answer. Signed in, the person goes where they were
/// going (a person who confirmed gets a new session and the old one ends); refused, the sign-in
/// page says why.
async fn callback(State(state): State<AppState>, headers: HeaderMap, maybe: MaybeSession, Query(query): Query<CallbackQuery>) -> Response {
    let callback = sso::Callback {
        state: query.state,
        code: query.code,
        error: query.error,
        browser_token: read_cookie(&headers, &cookie_name(&state, FLOW_COOKIE)),
    };
    let finished = sso::finish(&state.ctx, &callback, &maybe.meta).await;
    let clear_flow = set_cookie(&state, FLOW_COOKIE, "", 0);
    match finished {
        Ok(finished) => {
            if let Some(old) = &maybe.token {
                let _ = auth::logout(&state.ctx, old).await;
            }
            let response = with_cookie(Redirect::to(&finished.return_to).into_response(), clear_flow);
            with_cookie(response, set_cookie(&state, SESSION_COOKIE, &finished.signed_in.token, 12 * 3600))
        }
        Err(Error::Forbidden(message)) => {
            with_cookie(login_form(&state, String::new(), Some(message), String::new(), StatusCode::FORBIDDEN).await, clear_flow)
        }
        Err(err) => error_page(err),
    }
}

pub fn routes() -> PageRouter {
    PageRouter::new().route("/sign-in/sso", post(start)).route(sso::CALLBACK_PATH, get(callback))
}
