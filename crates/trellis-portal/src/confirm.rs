//! `/account/confirm`: "Confirm it's you" (step-up re-authentication, issue 12). Approving
//! payouts, changing payout methods, creating keys and changing roles need the person to have
//! proven who they are within the last five minutes; when they have not, the action's page
//! answers with a redirect here (`PageError`), the browser keeps the form's page as the referrer,
//! and after the password (and the app's code) — or one of their passkeys — the person is sent
//! back to that page to repeat it.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use trellis_identity::{auth, passkeys, sso, totp};
use trellis_web::AppState;

use crate::forms::{FormData, FormView, field_errors};
use crate::guards::SignedForm;
use crate::pages::{Layout, PageResult, render, render_status, see_other};
use crate::routes::{PageRouter, get, post};
use crate::session::Signed;

pub const PAGE: &str = "/account/confirm";
const FIELDS: &[&str] = &["password", "totp"];

#[derive(Template)]
#[template(path = "confirm.html")]
struct ConfirmPage {
    layout: Layout,
    csrf_token: String,
    email: String,
    /// Where the person goes back to, a path on this site.
    next: String,
    needs_code: bool,
    /// Signed in through an identity provider: the person confirms there (ADR 0026).
    through_provider: bool,
    /// The person has a passkey (and the instance offers them): "Use a passkey instead".
    has_passkey: bool,
    /// A confirmation with a passkey under way: its ceremony id and WebAuthn options (JSON).
    passkey: Option<(String, String)>,
    form: FormView,
}

/// A path on this site to go back to: the path and query of `link` (a full URL, as a referrer
/// is, or a path), never another site's address.
pub(crate) fn local_path(link: &str) -> String {
    let path = match link.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => link,
    };
    let safe = path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') && !path.starts_with(PAGE) && path.len() <= 2000;
    if safe { path.to_owned() } else { "/".to_owned() }
}

async fn page(state: &AppState, signed: &Signed, next: String, form: FormView) -> Result<ConfirmPage, trellis_core::Error> {
    with_passkey(state, signed, next, form, None).await
}

async fn with_passkey(
    state: &AppState,
    signed: &Signed,
    next: String,
    form: FormView,
    passkey: Option<(String, String)>,
) -> Result<ConfirmPage, trellis_core::Error> {
    let has_passkey = passkeys::available(&state.ctx) && passkeys::has_any(&state.ctx, &signed.session.user_id).await?;
    Ok(ConfirmPage {
        layout: Layout::signed(state, signed, "Confirm it's you", "").await,
        csrf_token: signed.session.csrf_token.clone(),
        email: signed.session.email.to_string(),
        next,
        needs_code: totp::active_for(&state.ctx, &signed.session.user_id).await?,
        through_provider: sso::session_connection(&state.ctx, &signed.session.key).await?.is_some(),
        has_passkey,
        passkey,
        form,
    })
}

/// `GET /account/confirm`: the form; it sends the person back to the page they came from.
async fn show(State(state): State<AppState>, signed: Signed, headers: HeaderMap) -> PageResult {
    let from = headers.get(header::REFERER).and_then(|v| v.to_str().ok()).map_or_else(|| "/".to_owned(), local_path);
    Ok(render(&page(&state, &signed, from, FormView::new("confirm", FIELDS)).await?))
}

/// `POST /account/confirm`: the password (and code) right, back to `next`; wrong, the form again.
async fn confirm(State(state): State<AppState>, SignedForm { signed, form }: SignedForm) -> PageResult {
    let next = local_path(form.value("next"));
    let meta = signed.scope.meta().clone();
    let code = form.optional("totp").filter(|c| !c.trim().is_empty());
    match auth::reauthenticate(&state.ctx, &signed.session.key, form.value("password"), code, &meta).await {
        Ok(_) => Ok(see_other(&next)),
        Err(err) => {
            let errors = field_errors(err, "password")?;
            let failed = FormView::failed("confirm", FIELDS, FormData::default(), errors);
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page(&state, &signed, next, failed).await?))
        }
    }
}

/// `POST /account/confirm/passkey`: begins confirming with one of the person's passkeys; the
/// page asks the browser for it.
async fn start_passkey(State(state): State<AppState>, SignedForm { signed, form }: SignedForm) -> PageResult {
    let next = local_path(form.value("next"));
    let started = match passkeys::start_confirmation(&state.ctx, &signed.session.key, signed.scope.meta()).await {
        Ok(started) => started,
        // No passkey (removed meanwhile): the password form, saying so.
        Err(trellis_core::Error::Conflict(message)) => {
            let failed =
                FormView::failed("confirm", FIELDS, FormData::default(), vec![trellis_core::FieldError { field: String::new(), message }]);
            return Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page(&state, &signed, next, failed).await?));
        }
        Err(err) => return Err(err.into()),
    };
    let options = serde_json::to_string(&started.options).map_err(|err| trellis_core::Error::Internal(err.to_string()))?;
    let page = with_passkey(&state, &signed, next, FormView::new("confirm", FIELDS), Some((started.ceremony_id, options))).await?;
    Ok(render(&page))
}

/// `POST /account/confirm/passkey/finish`: the passkey's answer right, back to `next`; refused,
/// the form again saying so.
async fn finish_passkey(State(state): State<AppState>, SignedForm { signed, form }: SignedForm) -> PageResult {
    let next = local_path(form.value("next"));
    let credential = serde_json::from_str::<serde_json::Value>(form.value("credential")).unwrap_or_default();
    let meta = signed.scope.meta().clone();
    match passkeys::finish_confirmation(&state.ctx, &signed.session.key, form.value("ceremony_id"), &credential, &meta).await {
        Ok(_) => Ok(see_other(&next)),
        Err(err) => {
            let errors = field_errors(err, "password")?;
            let failed = FormView::failed("confirm", FIELDS, FormData::default(), errors);
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page(&state, &signed, next, failed).await?))
        }
    }
}

pub fn routes() -> PageRouter {
    PageRouter::new()
        .route(PAGE, get(show).post(confirm))
        .route("/account/confirm/passkey", post(start_passkey))
        .route("/account/confirm/passkey/finish", post(finish_passkey))
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn only_a_path_of_this_site_is_gone_back_to() {
        assert_eq!(local_path("https://partners.example.com/console/payout-runs/pr_1?x=1"), "/console/payout-runs/pr_1?x=1");
        assert_eq!(local_path("/portal/api-keys"), "/portal/api-keys");
        assert_eq!(local_path("https://evil.example"), "/");
        assert_eq!(local_path("//evil.example/x"), "/");
        assert_eq!(local_path("/\\evil.example"), "/");
        assert_eq!(local_path("javascript:alert(1)"), "/");
        assert_eq!(local_path("/account/confirm"), "/", "not back to itself");
    }
}
