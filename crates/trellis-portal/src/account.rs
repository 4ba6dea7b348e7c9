//! `/account`: the signed-in person's own account, whoever they are (staff or any partner role):
//! change the password (issue 12) — the current one, then a new one that passes the policy;
//! every other session of theirs ends, this one stays.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use trellis_identity::auth;
use trellis_web::AppState;

use crate::forms::{FormData, FormView, UrlQuery, field_errors};
use crate::guards::SignedForm;
use crate::pages::{Layout, PageResult, render, render_status, see_other};
use crate::routes::{PageRouter, get, post};
use crate::session::Signed;

const PAGE: &str = "/account";
const PASSWORD_FIELDS: &[&str] = &["current_password", "new_password"];

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    layout: Layout,
    csrf_token: String,
    email: String,
    password: FormView,
}

async fn account_page(state: &AppState, signed: &Signed, query: &FormData, password: FormView) -> AccountPage {
    AccountPage {
        layout: Layout::signed(state, signed, "Your account", PAGE).await.with_notice(query),
        csrf_token: signed.session.csrf_token.clone(),
        email: signed.session.email.to_string(),
        password,
    }
}

/// `GET /account`
async fn show(State(state): State<AppState>, signed: Signed, UrlQuery(query): UrlQuery) -> PageResult {
    Ok(render(&account_page(&state, &signed, &query, FormView::new("password", PASSWORD_FIELDS)).await))
}

/// `POST /account/password`: changes the password; back to the account page saying so, or the
/// form again with what to fix (the passwords are never sent back).
async fn change_password(State(state): State<AppState>, SignedForm { signed, form }: SignedForm) -> PageResult {
    let session = &signed.session;
    let meta = signed.scope.meta().clone();
    match auth::change_password(
        &state.ctx,
        &session.user_id,
        &session.key,
        form.value("current_password"),
        form.value("new_password"),
        &meta,
    )
    .await
    {
        Ok(_) => Ok(see_other(&format!("{PAGE}?notice=password_changed"))),
        Err(err) => {
            let errors = field_errors(err, "new_password")?;
            let failed = FormView::failed("password", PASSWORD_FIELDS, FormData::default(), errors);
            let page = account_page(&state, &signed, &FormData::default(), failed).await;
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

pub fn routes() -> PageRouter {
    PageRouter::new().route(PAGE, get(show)).route("/account/password", post(change_password))
}
