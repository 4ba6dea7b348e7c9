//! `/account/confirm`: "Confirm it's you" (step-up re-authentication, issue 12). Approving
//! payouts, changing payout methods, creating keys and changing roles need the person to have
//! proven who they are within the last five minutes; when they have not, the action's page
//! answers with a redirect here (`PageError`), the browser keeps the form's page as the referrer,
//! and after the password (and the app's code) the person is sent back to that page to repeat it.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use trellis_identity::{auth, sso, totp};
use trellis_web::AppState;

use crate::forms::{FormData, FormView, field_errors};
use crate::guards::SignedForm;
use crate::pages::{Layout, PageResult, render, render_status, see_other};
use crate::routes::{PageRouter, get};
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
    Ok(ConfirmPage {
        layout: Layout::signed(state, signed, "Confirm it's you", "").await,
        csrf_token: signed.session.csrf_token.clone(),
        email: signed.session.email.to_string(),
        next,
        needs_code: totp::active_for(&state.ctx, &signed.session.user_id).await?,
        through_provider: sso::session_connection(&state.ctx, &signed.session.key).await?.is_some(),
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

pub fn routes() -> PageRouter {
    PageRouter::new().route(PAGE, get(show).post(confirm))
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
