//! `/account`: the signed-in person's own account, whoever they are (staff or any partner role):
//! change the password (issue 12) — the current one, then a new one that passes the policy;
//! every other session of theirs ends, this one stays — see and end their sessions, and read
//! their sign-in history; set up two-step sign-in; add and remove passkeys (ADR 0027: adding one
//! needs a recent sign-in, then the browser's authenticator answers the page's WebAuthn options,
//! `static/app.js`).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use trellis_core::Error;
use trellis_identity::{auth, partner_users, passkeys, sign_ins, totp};
use trellis_web::AppState;

use crate::display;
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
    sessions: Vec<SessionRow>,
    sign_ins: Vec<SignInRow>,
    mfa: MfaView,
    /// The form of the authenticator's code (confirming it, or turning it off).
    totp: FormView,
    passkeys: PasskeysView,
}

/// The passkeys section of the account page.
pub struct PasskeysView {
    /// False when the server's public address is an IP address (browsers refuse passkeys there).
    pub available: bool,
    pub list: Vec<PasskeyRow>,
    /// A registration under way: its ceremony id, WebAuthn options (JSON) and the passkey's name,
    /// for the form that asks the browser to create the passkey.
    pub registering: Option<Registering>,
    /// The name asked for first (suggested: the browser and system the passkey is made on).
    pub form: FormView,
}

pub struct Registering {
    pub ceremony_id: String,
    pub options: String,
    pub name: String,
}

/// One passkey as the account page lists it.
pub struct PasskeyRow {
    pub id: String,
    pub name: String,
    pub added: String,
    pub last_used: String,
}

const PASSKEY_FIELDS: &[&str] = &["name"];

async fn passkeys_view(
    state: &AppState,
    signed: &Signed,
    registering: Option<Registering>,
    form: Option<FormView>,
) -> Result<PasskeysView, Error> {
    let list = passkeys::list(&state.ctx, &signed.session.user_id)
        .await?
        .into_iter()
        .map(|p| PasskeyRow {
            id: p.id,
            name: p.name,
            added: display::time(p.created_at),
            last_used: p.last_used_at.map_or_else(|| "never".to_owned(), display::time),
        })
        .collect();
    let suggested = display::device(signed.scope.meta().user_agent.as_deref());
    Ok(PasskeysView {
        available: passkeys::available(&state.ctx),
        list,
        registering,
        form: form.unwrap_or_else(|| FormView::filled("passkey", PASSKEY_FIELDS, vec![("name", suggested)])),
    })
}

/// The two-step sign-in section of the account page.
pub struct MfaView {
    pub active: bool,
    pub codes_left: i64,
    /// An authenticator being set up: its seed as text and as a QR code (SVG).
    pub enrolling: Option<(String, String)>,
    /// Recovery codes just issued: shown this once.
    pub recovery_codes: Vec<String>,
}

/// The name authenticator apps show beside the code.
const ISSUER: &str = "Trellis";
const TOTP_FIELDS: &[&str] = &["code"];

async fn mfa_view(state: &AppState, user_id: &trellis_core::UserId, recovery_codes: Vec<String>) -> Result<MfaView, Error> {
    let active = totp::active_for(&state.ctx, user_id).await?;
    let enrolling = match totp::pending(&state.ctx, user_id, ISSUER).await? {
        Some(enrolment) => Some((enrolment.secret, trellis_tracking::links::qr_svg(&enrolment.otpauth_url)?)),
        None => None,
    };
    let codes_left = if active { totp::recovery_codes_left(&state.ctx, user_id).await? } else { 0 };
    Ok(MfaView { active, codes_left, enrolling, recovery_codes })
}

/// A session as the account page lists it.
pub struct SessionRow {
    pub id: String,
    pub what: String,
    pub device: String,
    pub ip: String,
    pub started: String,
    pub last_seen: String,
    pub current: bool,
}

/// A sign-in attempt as the pages list it (the account page, a staff member's or partner user's
/// sign-ins).
pub struct SignInRow {
    pub at: String,
    pub what: &'static str,
    pub failed: bool,
    pub ip: String,
    pub device: String,
}

/// The rows of a sign-in history.
pub fn sign_in_rows(history: Vec<sign_ins::SignIn>) -> Vec<SignInRow> {
    history
        .into_iter()
        .map(|s| SignInRow {
            at: display::time(s.at),
            what: display::sign_in_outcome(&s.method, &s.outcome),
            failed: !matches!(s.outcome.as_str(), "success" | "reset_requested"),
            ip: if s.ip.is_empty() { "—".to_owned() } else { s.ip },
            device: display::device(s.user_agent.as_deref()),
        })
        .collect()
}

/// The account page shows this many of the newest attempts.
const HISTORY_SHOWN: usize = 20;

async fn account_page(state: &AppState, signed: &Signed, query: &FormData, password: FormView) -> Result<AccountPage, Error> {
    let passkeys = passkeys_view(state, signed, None, None).await?;
    account_page_with(state, signed, query, password, FormView::new("totp", TOTP_FIELDS), Vec::new(), passkeys).await
}

async fn account_page_with(
    state: &AppState,
    signed: &Signed,
    query: &FormData,
    password: FormView,
    totp_form: FormView,
    recovery_codes: Vec<String>,
    passkeys: PasskeysView,
) -> Result<AccountPage, Error> {
    let session = &signed.session;
    let sessions = auth::list_sessions(&state.ctx, &session.user_id, &session.key)
        .await?
        .into_iter()
        .map(|s| SessionRow {
            what: match (s.current, s.kind) {
                (true, _) => "This browser".to_owned(),
                (false, "token") => "API sign-in token".to_owned(),
                (false, _) => "Browser".to_owned(),
            },
            device: display::device(s.user_agent.as_deref()),
            ip: s.ip.unwrap_or_else(|| "—".to_owned()),
            started: display::time(s.created_at),
            last_seen: display::time(s.last_seen_at),
            current: s.current,
            id: s.id,
        })
        .collect();
    let mut history = sign_ins::own_history(&state.ctx, &session.user_id).await?;
    history.truncate(HISTORY_SHOWN);
    Ok(AccountPage {
        layout: Layout::signed(state, signed, "Your account", PAGE).await.with_notice(query),
        csrf_token: session.csrf_token.clone(),
        email: session.email.to_string(),
        password,
        sessions,
        sign_ins: sign_in_rows(history),
        mfa: mfa_view(state, &session.user_id, recovery_codes).await?,
        totp: totp_form,
        passkeys,
    })
}

/// `GET /account`
async fn show(State(state): State<AppState>, signed: Signed, UrlQuery(query): UrlQuery) -> PageResult {
    Ok(render(&account_page(&state, &signed, &query, FormView::new("password", PASSWORD_FIELDS)).await?))
}

/// `POST /account/sessions/{id}/end`: ends one of the person's other sessions.
async fn end_session(State(state): State<AppState>, Path(id): Path<String>, SignedForm { signed, .. }: SignedForm) -> PageResult {
    auth::end_own_session(&state.ctx, &signed.session.user_id, &id).await?;
    Ok(see_other(&format!("{PAGE}?notice=session_ended")))
}

/// `POST /account/sessions/end-others`: ends every session of the person but this one.
async fn end_other_sessions(State(state): State<AppState>, SignedForm { signed, .. }: SignedForm) -> PageResult {
    let session = &signed.session;
    for other in auth::list_sessions(&state.ctx, &session.user_id, &session.key).await?.into_iter().filter(|s| !s.current) {
        match auth::end_own_session(&state.ctx, &session.user_id, &other.id).await {
            // Ended meanwhile (expired, or by another request): what was asked is done.
            Ok(()) | Err(Error::NotFound) => {}
            Err(err) => return Err(err.into()),
        }
    }
    Ok(see_other(&format!("{PAGE}?notice=sessions_ended")))
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
            let page = account_page(&state, &signed, &FormData::default(), failed).await?;
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

/// `POST /account/totp`: starts setting up an authenticator app (shown on the account page until
/// confirmed).
async fn enrol_totp(State(state): State<AppState>, SignedForm { signed, .. }: SignedForm) -> PageResult {
    totp::enrol(&state.ctx, &signed.session.user_id, ISSUER).await?;
    Ok(see_other(&format!("{PAGE}#mfa")))
}

/// `POST /account/totp/confirm`: the app's first code turns two-step sign-in on; the recovery
/// codes are shown this once.
async fn confirm_totp(State(state): State<AppState>, SignedForm { signed, form }: SignedForm) -> PageResult {
    let session = &signed.session;
    match totp::confirm(&state.ctx, &session.user_id, form.value("code"), &session.key).await {
        Ok(codes) => {
            let passkeys = passkeys_view(&state, &signed, None, None).await?;
            let page = account_page_with(&state, &signed, &FormData::default(), password_form(), totp_form(), codes, passkeys).await?;
            Ok(render(&page))
        }
        Err(err) => totp_failed(&state, &signed, err).await,
    }
}

/// `POST /account/totp/disable`: a code (or a recovery code) turns two-step sign-in off.
async fn disable_totp(State(state): State<AppState>, SignedForm { signed, form }: SignedForm) -> PageResult {
    let session = &signed.session;
    match totp::disable(&state.ctx, &session.user_id, form.value("code"), &session.key).await {
        Ok(()) => Ok(see_other(&format!("{PAGE}?notice=totp_off"))),
        Err(err) => totp_failed(&state, &signed, err).await,
    }
}

/// The account page again with what was wrong with the code.
async fn totp_failed(state: &AppState, signed: &Signed, err: Error) -> PageResult {
    let errors = field_errors(err, "code")?;
    let failed = FormView::failed("totp", TOTP_FIELDS, FormData::default(), errors);
    let passkeys = passkeys_view(state, signed, None, None).await?;
    let page = account_page_with(state, signed, &FormData::default(), password_form(), failed, Vec::new(), passkeys).await?;
    Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
}

/// `POST /account/passkeys`: begins adding a passkey named `name` (a sign-in or confirmation
/// within five minutes first: "Confirm it's you" otherwise) and shows the form that asks the
/// browser to create it.
async fn start_passkey(State(state): State<AppState>, SignedForm { signed, form }: SignedForm) -> PageResult {
    let name = form.value("name").trim().to_owned();
    if name.is_empty() || name.chars().count() > passkeys::NAME_MAX_CHARS {
        let error = Error::invalid("name", format!("must be 1 to {} characters, e.g. Work laptop", passkeys::NAME_MAX_CHARS));
        return passkey_failed(&state, &signed, form, error).await;
    }
    let started = match passkeys::start_registration(&state.ctx, &signed.session.key, signed.scope.meta()).await {
        Ok(started) => started,
        Err(err @ Error::Conflict(_)) => return passkey_failed(&state, &signed, form, err).await,
        Err(err) => return Err(err.into()),
    };
    let options = serde_json::to_string(&started.options).map_err(|err| Error::Internal(err.to_string()))?;
    let registering = Registering { ceremony_id: started.ceremony_id, options, name };
    let view = passkeys_view(&state, &signed, Some(registering), None).await?;
    let page = account_page_with(&state, &signed, &FormData::default(), password_form(), totp_form(), Vec::new(), view).await?;
    Ok(render(&page))
}

/// `POST /account/passkeys/finish`: the browser's answer (`credential`, JSON) registers the
/// passkey; refused, the section says why and offers to start again.
async fn finish_passkey(State(state): State<AppState>, SignedForm { signed, form }: SignedForm) -> PageResult {
    let credential = serde_json::from_str::<serde_json::Value>(form.value("credential")).map_err(|_| {
        Error::invalid(
            "credential",
            "Your browser did not create a passkey: it needs JavaScript and a passkey provider. Try again, or use another browser.",
        )
    });
    let result = match credential {
        Ok(credential) => {
            passkeys::finish_registration(&state.ctx, &signed.session.key, form.value("ceremony_id"), form.value("name"), &credential).await
        }
        Err(err) => Err(err),
    };
    match result {
        Ok(_) => Ok(see_other(&format!("{PAGE}?notice=passkey_added#passkeys"))),
        Err(err) => passkey_failed(&state, &signed, form, err).await,
    }
}

/// The account page again with what went wrong adding a passkey, and its name to try again.
async fn passkey_failed(state: &AppState, signed: &Signed, form: FormData, err: Error) -> PageResult {
    let errors = field_errors(err, "name")?;
    let failed = FormView::failed("passkey", PASSKEY_FIELDS, form, errors);
    let view = passkeys_view(state, signed, None, Some(failed)).await?;
    let page = account_page_with(state, signed, &FormData::default(), password_form(), totp_form(), Vec::new(), view).await?;
    Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
}

/// `POST /account/passkeys/{id}/remove`: removes one of the person's passkeys; the sessions
/// begun with it end.
async fn remove_passkey(State(state): State<AppState>, Path(id): Path<String>, SignedForm { signed, .. }: SignedForm) -> PageResult {
    passkeys::remove(&state.ctx, &signed.session.user_id, &id, &signed.session.key).await?;
    Ok(see_other(&format!("{PAGE}?notice=passkey_removed#passkeys")))
}

fn password_form() -> FormView {
    FormView::new("password", PASSWORD_FIELDS)
}

fn totp_form() -> FormView {
    FormView::new("totp", TOTP_FIELDS)
}

pub fn routes() -> PageRouter {
    PageRouter::new()
        .route(PAGE, get(show))
        .route("/account/password", post(change_password))
        .route("/account/sessions/{id}/end", post(end_session))
        .route("/account/sessions/end-others", post(end_other_sessions))
        .route("/account/totp", post(enrol_totp))
        .route("/account/totp/confirm", post(confirm_totp))
        .route("/account/totp/disable", post(disable_totp))
        .route("/account/passkeys", post(start_passkey))
        .route("/account/passkeys/finish", post(finish_passkey))
        .route("/account/passkeys/{id}/remove", post(remove_passkey))
}

/// A person's sign-in history as staff and partner admins see it (`sign_ins.html`): the console's
/// staff member and partner user, the portal's user.
#[derive(Template)]
#[template(path = "sign_ins.html")]
pub struct SignInsPage {
    pub layout: Layout,
    pub csrf_token: String,
    pub person: String,
    pub email: String,
    pub back: String,
    pub back_label: &'static str,
    pub rows: Vec<SignInRow>,
    /// Where "Sign out everywhere" posts, when the caller may end the person's sessions.
    pub end_path: Option<String>,
}

/// The sign-in page of a user of `partner_id` (its users' forms post under `users_path`): 404 when they are not one of its users (or the
/// partner is not visible), 403 for callers who may not read it.
pub async fn partner_user_sign_ins(
    state: &AppState,
    signed: &Signed,
    partner_id: &trellis_core::PartnerId,
    user_id: &trellis_core::UserId,
    (back, back_label): (String, &'static str),
    users_path: &str,
    section: &str,
) -> Result<SignInsPage, Error> {
    let history = partner_users::sign_in_history(&state.ctx, &signed.scope, user_id).await?;
    let user = partner_users::list(&state.ctx, &signed.scope, partner_id)
        .await?
        .into_iter()
        .find(|u| &u.user_id == user_id)
        .ok_or(Error::NotFound)?;
    let person = if user.name.is_empty() { user.email.to_string() } else { user.name.clone() };
    Ok(SignInsPage {
        layout: Layout::signed(state, signed, format!("Sign-ins of {person}"), section).await,
        csrf_token: signed.session.csrf_token.clone(),
        person,
        email: user.email.to_string(),
        end_path: Some(format!("{users_path}/{user_id}/sessions/end")),
        back,
        back_label,
        rows: sign_in_rows(history),
    })
}
