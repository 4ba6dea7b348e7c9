//! `/console/api-keys`: the caller's workspace keys (owners and admins see every key of the
//! workspace), creating one (its secret is shown once) and revoking.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use trellis_core::{ApiKeyId, Error, Page};
use trellis_identity::{api_keys, members};
use trellis_web::AppState;

use super::staff_role;
use crate::forms::{FormData, FormView, UrlQuery, field_errors};
use crate::guards::{StaffForm, StaffPage};
use crate::keys::{KEY_EXPLANATION, KEY_FIELDS, KeyRow, requested_scopes};
use crate::listing::{PAGE_SIZE, page_url};
use crate::pages::{Layout, OneTime, PageResult, one_time_page, path_id, render, render_status, see_other};
use crate::routes::{PageRouter, get, post};
use crate::session::Signed;

const SECTION: &str = "/console/api-keys";

#[derive(Template)]
#[template(path = "console/api_keys.html")]
struct KeysPage {
    layout: Layout,
    csrf_token: String,
    keys: Vec<KeyRow>,
    sees_all: bool,
    next_page: Option<String>,
    first_page: Option<String>,
    create: FormView,
}

async fn keys_page(state: &AppState, signed: &Signed, query: &FormData, create: FormView) -> Result<KeysPage, Error> {
    let role = staff_role(&signed.scope)?;
    let cursor = query.optional("cursor").and_then(|c| ApiKeyId::parse(c).ok());
    let Page { items: keys, next_cursor: next } = api_keys::list(&state.ctx, &signed.scope, cursor.as_ref(), Some(PAGE_SIZE)).await?;
    // Owners and admins see everyone's keys: name the staff member each one acts as. Others see
    // only their own.
    let owners: HashMap<String, String> = if role.is_workspace_admin() {
        members::list(&state.ctx, &signed.scope).await?.into_iter().map(|m| (m.user_id.to_string(), m.email.to_string())).collect()
    } else {
        signed.scope.user_id().map(|me| (me.to_string(), "you".to_owned())).into_iter().collect()
    };
    Ok(KeysPage {
        layout: Layout::signed(state, signed, "API keys", SECTION).await,
        csrf_token: signed.session.csrf_token.clone(),
        keys: keys.into_iter().map(|k| KeyRow::new(k, |user| owners.get(user).cloned())).collect(),
        sees_all: role.is_workspace_admin(),
        next_page: next.map(|c| page_url(SECTION, &[("cursor", &c)])),
        first_page: cursor.map(|_| SECTION.to_owned()),
        create,
    })
}

/// `GET /console/api-keys?cursor=`
async fn list_keys(State(state): State<AppState>, StaffPage { signed, .. }: StaffPage, UrlQuery(query): UrlQuery) -> PageResult {
    let mut page = keys_page(&state, &signed, &query, FormView::new("key", KEY_FIELDS)).await?;
    page.layout = page.layout.with_notice(&query);
    Ok(render(&page))
}

/// `POST /console/api-keys`: creates a key acting as the caller and shows its secret once.
async fn create_key(State(state): State<AppState>, StaffForm { signed, form }: StaffForm) -> PageResult {
    let scopes = requested_scopes(&form);
    match api_keys::create_workspace_key(&state.ctx, &signed.scope, form.value("name"), scopes.as_deref()).await {
        Ok(created) => Ok(one_time_page(
            &state,
            &signed,
            SECTION,
            OneTime::api_key(
                &created.key.name,
                format!("It acts as you, with your role. {KEY_EXPLANATION}"),
                created.secret,
                SECTION.to_owned(),
                "Back to the API keys",
            ),
        )
        .await),
        Err(err) => {
            let errors = field_errors(err, "name")?;
            let page = keys_page(&state, &signed, &FormData::default(), FormView::failed("key", KEY_FIELDS, form, errors)).await?;
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

/// `POST /console/api-keys/{key_id}/revoke`
async fn revoke_key(State(state): State<AppState>, Path(key_id): Path<String>, StaffForm { signed, .. }: StaffForm) -> PageResult {
    api_keys::revoke(&state.ctx, &signed.scope, &path_id(&key_id)?).await?;
    Ok(see_other("/console/api-keys?notice=key_revoked"))
}

pub fn routes() -> PageRouter {
    PageRouter::new()
        .route("/console/api-keys", get(list_keys).post(create_key))
        .route("/console/api-keys/{key_id}/revoke", post(revoke_key))
}
