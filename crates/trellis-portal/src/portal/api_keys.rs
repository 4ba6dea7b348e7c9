//! `/portal/api-keys`: the organisation's keys, for its admins: creating one (with a role the
//! creator may grant; the secret is shown once) and revoking. Other partner users get the 403 page.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use trellis_core::{ApiKeyId, Error, Page, PartnerRole};
use trellis_identity::api_keys;
use trellis_web::AppState;

use super::own_partner;
use crate::forms::{Choice, FormData, FormView, UrlQuery, field_errors};
use crate::guards::{PartnerForm, PartnerPage};
use crate::keys::{KEY_EXPLANATION, KEY_FIELDS, KeyRow, requested_scopes};
use crate::listing::{PAGE_SIZE, page_url};
use crate::pages::{Layout, OneTime, PageResult, one_time_page, path_id, render, render_status, see_other};
use crate::routes::{PageRouter, get, post};
use crate::session::Signed;

const SECTION: &str = "/portal/api-keys";

#[derive(Template)]
#[template(path = "portal/api_keys.html")]
struct KeysPage {
    layout: Layout,
    csrf_token: String,
    keys: Vec<KeyRow>,
    next_page: Option<String>,
    first_page: Option<String>,
    create: FormView,
    roles: Vec<Choice>,
}

async fn keys_page(state: &AppState, signed: &Signed, query: &FormData, create: FormView) -> Result<KeysPage, Error> {
    let (_, role) = own_partner(&signed.scope)?;
    let cursor = query.optional("cursor").and_then(|c| ApiKeyId::parse(c).ok());
    let Page { items: keys, next_cursor: next } = api_keys::list(&state.ctx, &signed.scope, cursor.as_ref(), Some(PAGE_SIZE)).await?;
    let grantable: Vec<PartnerRole> = PartnerRole::ALL.iter().copied().filter(|r| role.may_grant(*r)).collect();
    Ok(KeysPage {
        layout: Layout::signed(state, signed, "API keys", SECTION).await,
        csrf_token: signed.session.csrf_token.clone(),
        keys: keys.into_iter().map(|k| KeyRow::new(k, |_| None)).collect(),
        next_page: next.map(|c| page_url(SECTION, &[("cursor", &c)])),
        first_page: cursor.map(|_| SECTION.to_owned()),
        create,
        roles: Choice::all_of(&grantable, PartnerRole::as_str),
    })
}

/// `GET /portal/api-keys?cursor=`
async fn list_keys(State(state): State<AppState>, PartnerPage { signed, .. }: PartnerPage, UrlQuery(query): UrlQuery) -> PageResult {
    let mut page = keys_page(&state, &signed, &query, FormView::new("key", KEY_FIELDS)).await?;
    page.layout = page.layout.with_notice(&query);
    Ok(render(&page))
}

/// `POST /portal/api-keys`: creates a key of the organisation and shows its secret once.
async fn create_key(State(state): State<AppState>, PartnerForm { signed, partner_id: own, form }: PartnerForm) -> PageResult {
    let created = match form.choice("role", PartnerRole::parse) {
        Ok(role) => {
            let scopes = requested_scopes(&form);
            api_keys::create_partner_key(&state.ctx, &signed.scope, &own, form.value("name"), scopes.as_deref(), Some(role)).await
        }
        Err(err) => Err(err),
    };
    match created {
        Ok(created) => Ok(one_time_page(
            &state,
            &signed,
            SECTION,
            OneTime::api_key(&created.key.name, KEY_EXPLANATION.to_owned(), created.secret, SECTION.to_owned(), "Back to the API keys"),
        )
        .await),
        Err(err) => {
            let errors = field_errors(err, "name")?;
            let page = keys_page(&state, &signed, &FormData::default(), FormView::failed("key", KEY_FIELDS, form, errors)).await?;
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

/// `POST /portal/api-keys/{key_id}/revoke`
async fn revoke_key(State(state): State<AppState>, Path(key_id): Path<String>, PartnerForm { signed, .. }: PartnerForm) -> PageResult {
    api_keys::revoke(&state.ctx, &signed.scope, &path_id(&key_id)?).await?;
    Ok(see_other("/portal/api-keys?notice=key_revoked"))
}

pub fn routes() -> PageRouter {
    PageRouter::new().route(SECTION, get(list_keys).post(create_key)).route("/portal/api-keys/{key_id}/revoke", post(revoke_key))
}
