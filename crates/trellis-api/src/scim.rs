//! SCIM 2.0 (RFC 7643, RFC 7644) at `/scim/v2`: a partner organisation's identity provider
//! provisions its people with the organisation's SCIM token (API.md "Identity", ADR 0024). This
//! module is the protocol — its JSON, filters, patches, discovery documents and errors;
//! `trellis_identity::provisioning` is what provisioning does.
//!
//! Only the `User` resource exists. Attribute names are matched without regard to case, as the
//! RFC asks. A filter may be `userName eq "…"`, `externalId eq "…"` or `emails.value eq "…"`
//! (what identity providers send to find a person before creating them); anything else is 400
//! `invalidFilter`.

use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use serde_json::{Map, Value, json};
use trellis_core::{Error, PartnerRole, UserId};
use trellis_identity::provisioning::{self, ProvisionedUser, UserFilter, UserInput};
use trellis_identity::{RequestMeta, Scope, auth};
use trellis_web::AppState;

const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
const CONTENT_TYPE: &str = "application/scim+json";
/// The most people one list answers (`count` above it is lowered, as RFC 7644 §3.4.2.4 allows).
const MAX_COUNT: i64 = 200;

/// The SCIM routes with their own authentication (a SCIM token and nothing else).
pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/scim/v2/Users", get(list_users).post(create_user))
        .route("/scim/v2/Users/{id}", get(get_user).put(replace_user).patch(patch_user).delete(delete_user))
        .route("/scim/v2/ServiceProviderConfig", get(service_provider_config))
        .route("/scim/v2/ResourceTypes", get(resource_types))
        .route("/scim/v2/ResourceTypes/{id}", get(resource_type))
        .route("/scim/v2/Schemas", get(schemas))
        .route("/scim/v2/Schemas/{id}", get(schema))
        .route("/scim/v2/.search", axum::routing::post(search_not_offered))
        .route("/scim/v2/Users/.search", axum::routing::post(search_not_offered))
        .route("/scim/v2/{*rest}", axum::routing::any(not_found))
        .layer(middleware::from_fn_with_state(state, authenticate))
}

/// A SCIM error (RFC 7644 §3.12).
pub struct ScimError {
    status: StatusCode,
    scim_type: Option<&'static str>,
    detail: String,
}

impl ScimError {
    fn new(status: StatusCode, scim_type: Option<&'static str>, detail: impl Into<String>) -> Self {
        ScimError { status, scim_type, detail: detail.into() }
    }

    fn bad(scim_type: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some(scim_type), detail)
    }
}

impl From<Error> for ScimError {
    fn from(err: Error) -> Self {
        match err {
            Error::Unauthorized | Error::MfaRequired | Error::MembershipRequired => {
                ScimError::new(StatusCode::UNAUTHORIZED, None, "a valid SCIM token is required")
            }
            Error::Forbidden(detail) => ScimError::new(StatusCode::FORBIDDEN, None, detail),
            Error::MfaEnrollmentRequired | Error::ReauthenticationRequired => ScimError::new(StatusCode::FORBIDDEN, None, err.to_string()),
            Error::NotFound => ScimError::new(StatusCode::NOT_FOUND, None, "no such resource"),
            Error::Conflict(detail) => ScimError::new(StatusCode::CONFLICT, Some("uniqueness"), detail),
            Error::Validation(errors) => {
                let detail = errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ");
                let mutability = errors.iter().any(|e| e.message.starts_with("cannot change"));
                ScimError::bad(if mutability { "mutability" } else { "invalidValue" }, detail)
            }
            Error::RateLimited { .. } => ScimError::new(StatusCode::TOO_MANY_REQUESTS, None, "too many requests"),
            Error::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                ScimError::new(StatusCode::INTERNAL_SERVER_ERROR, None, "something went wrong on our side; it has been logged")
            }
        }
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let mut body = json!({"schemas": [ERROR_SCHEMA], "status": self.status.as_u16().to_string(), "detail": self.detail});
        if let Some(scim_type) = self.scim_type {
            body["scimType"] = json!(scim_type);
        }
        let mut response = scim_json(self.status, &body);
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

fn scim_json(status: StatusCode, body: &Value) -> Response {
    (status, [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))], body.to_string()).into_response()
}

type ScimResult = Result<Response, ScimError>;

/// Every SCIM request carries the organisation's SCIM token; nothing else is accepted here, and
/// the token is accepted nowhere else (`auth::authenticate_bearer`).
async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let credential = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .map(str::to_owned);
    let Some(credential) = credential else { return ScimError::from(Error::Unauthorized).into_response() };
    let meta = req.extensions().get::<RequestMeta>().cloned().unwrap_or_default();
    match auth::authenticate_scim(&state.ctx, &credential, &meta).await {
        Ok(scope) => {
            req.extensions_mut().insert(scope);
            next.run(req).await
        }
        Err(err) => ScimError::from(err).into_response(),
    }
}

async fn not_found() -> ScimError {
    ScimError::from(Error::NotFound)
}

fn base_url(state: &AppState) -> String {
    format!("{}/scim/v2", state.web.public_url.trim_end_matches('/'))
}

fn user_id(id: &str) -> Result<UserId, ScimError> {
    id.parse().map_err(|_| ScimError::from(Error::NotFound))
}

/// A person as a SCIM `User` resource.
fn user_json(base: &str, user: &ProvisionedUser) -> Value {
    let mut resource = json!({
        "schemas": [USER_SCHEMA],
        "id": user.user_id.as_str(),
        "userName": user.email.as_str(),
        "name": {"givenName": user.given_name, "familyName": user.family_name, "formatted": user.formatted_name},
        "displayName": user.display_name,
        "emails": [{"value": user.email.as_str(), "type": "work", "primary": true}],
        "meta": {
            "resourceType": "User",
            "created": user.created_at.to_rfc3339(),
            "lastModified": user.updated_at.to_rfc3339(),
            "location": format!("{base}/Users/{}", user.user_id),
            "version": format!("W/\"{}\"", user.updated_at.micros()),
        },
    });
    if let Some(external_id) = &user.external_id {
        resource["externalId"] = json!(external_id);
    }
    // What the provider never said is not invented (RFC 7643 §2.5: unassigned attributes are
    // left out); the person's standing in Trellis is what it is all the same, and someone an
    // admin removed is inactive whatever the provider last said.
    let active = if user.active { user.stated_active } else { Some(false) };
    if let Some(active) = active {
        resource["active"] = json!(active);
    }
    if user.role_stated {
        resource["roles"] = json!([{"value": user.role.as_str()}]);
    }
    drop_empty_strings(&mut resource);
    resource
}

/// Unassigned attributes are left out of a resource rather than sent empty (RFC 7643 §2.5).
fn drop_empty_strings(value: &mut Value) {
    if let Value::Object(map) = value {
        map.retain(|_, v| !matches!(v, Value::String(s) if s.is_empty()));
        for v in map.values_mut() {
            drop_empty_strings(v);
        }
        map.retain(|_, v| !matches!(v, Value::Object(m) if m.is_empty()));
    }
}

fn user_response(state: &AppState, status: StatusCode, user: &ProvisionedUser) -> Response {
    user_response_projected(state, status, user, None)
}

/// A person's resource, with only the attributes a GET's `attributes`/`excludedAttributes` ask for.
fn user_response_projected(state: &AppState, status: StatusCode, user: &ProvisionedUser, query: Option<&ListQuery>) -> Response {
    let base = base_url(state);
    let mut resource = user_json(&base, user);
    if let Some(query) = query {
        project(&mut resource, query);
    }
    let mut response = scim_json(status, &resource);
    if let Ok(etag) = HeaderValue::from_str(&format!("W/\"{}\"", user.updated_at.micros())) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    if status == StatusCode::CREATED
        && let Ok(location) = HeaderValue::from_str(&format!("{base}/Users/{}", user.user_id))
    {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

/// Reads a body as a JSON object (SCIM clients send `application/scim+json` or `application/json`).
fn body_object(body: &[u8]) -> Result<Map<String, Value>, ScimError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => {
            let value = Value::Object(map);
            let refused = trellis_web::input::check_json(&value);
            if let Some(first) = refused.first() {
                return Err(ScimError::bad("invalidValue", format!("{}: {}", first.field, first.message)));
            }
            let Value::Object(map) = value else { unreachable!("checked above") };
            Ok(map)
        }
        Ok(_) => Err(ScimError::bad("invalidSyntax", "the body must be a JSON object")),
        Err(err) => Err(ScimError::bad("invalidSyntax", format!("the body is not valid JSON: {err}"))),
    }
}

/// An attribute of a JSON object, its name matched without regard to case; a name with the
/// core schema's URN in front is the same attribute.
fn attr<'a>(map: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    map.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
}

fn text_attr(map: &Map<String, Value>, name: &str, field: &str) -> Result<String, ScimError> {
    match attr(map, name) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(ScimError::bad("invalidValue", format!("{field} must be a string"))),
    }
}

/// `active` as a boolean; some providers send the strings "True"/"False".
fn bool_value(value: &Value, field: &str) -> Result<bool, ScimError> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(ScimError::bad("invalidValue", format!("{field} must be true or false"))),
    }
}

/// The role a resource asks for: the primary (or else the last) entry of `roles` — a person has
/// one role, and a provider that adds one means it to be the role; absent or empty: none asked.
fn role_of(map: &Map<String, Value>) -> Result<Option<PartnerRole>, ScimError> {
    let Some(roles) = attr(map, "roles") else { return Ok(None) };
    let Value::Array(entries) = roles else { return Err(ScimError::bad("invalidValue", "roles must be a list")) };
    let chosen = entries.iter().find(|e| e.get("primary").and_then(Value::as_bool) == Some(true)).or_else(|| entries.last());
    let Some(entry) = chosen else { return Ok(None) };
    let value = entry.as_object().and_then(|e| attr(e, "value")).and_then(Value::as_str).unwrap_or("");
    PartnerRole::parse(&value.to_lowercase()).map(Some).ok_or_else(|| {
        ScimError::bad("invalidValue", format!("roles: \"{value}\" is not a partner role (admin, sales, marketing, finance, member)"))
    })
}

/// A `User` resource read into what provisioning takes.
fn user_input(map: &Map<String, Value>) -> Result<UserInput, ScimError> {
    let user_name = match attr(map, "userName") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        _ => return Err(ScimError::bad("invalidValue", "userName is required: the person's email address")),
    };
    let name = match attr(map, "name") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(name)) => name.clone(),
        Some(_) => return Err(ScimError::bad("invalidValue", "name must be an object")),
    };
    let active = match attr(map, "active") {
        None | Some(Value::Null) => None,
        Some(value) => Some(bool_value(value, "active")?),
    };
    let external_id = match attr(map, "externalId") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(ScimError::bad("invalidValue", "externalId must be a string")),
    };
    let password = match attr(map, "password") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(ScimError::bad("invalidValue", "password must be a string")),
    };
    Ok(UserInput {
        email: user_name,
        external_id,
        given_name: text_attr(&name, "givenName", "name.givenName")?,
        family_name: text_attr(&name, "familyName", "name.familyName")?,
        formatted_name: text_attr(&name, "formatted", "name.formatted")?,
        display_name: text_attr(map, "displayName", "displayName")?,
        active,
        role: role_of(map)?,
        password,
    })
}

async fn create_user(State(state): State<AppState>, Extension(scope): Extension<Scope>, body: axum::body::Bytes) -> ScimResult {
    let input = user_input(&body_object(&body)?)?;
    let user = provisioning::create(&state.ctx, &scope, &input).await?;
    Ok(user_response(&state, StatusCode::CREATED, &user))
}

async fn get_user(
    State(state): State<AppState>,
    Extension(scope): Extension<Scope>,
    Path(id): Path<String>,
    query: Result<axum::extract::Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> ScimResult {
    let axum::extract::Query(query) =
        query.map_err(|e| ScimError::bad("invalidValue", format!("the query could not be read: {}", e.body_text())))?;
    let user = provisioning::get(&state.ctx, &scope, &user_id(&id)?).await?;
    Ok(user_response_projected(&state, StatusCode::OK, &user, Some(&query)))
}

/// `attributes=` keeps only the named attributes (and `id`, `schemas`, which are always
/// returned); `excludedAttributes=` leaves the named ones out (RFC 7644 §3.4.2.5). A name may be
/// `attr`, `attr.sub` or either with the schema's URN in front.
fn project(resource: &mut Value, query: &ListQuery) {
    let names = |list: &Option<String>| -> Vec<(String, Option<String>)> {
        list.as_deref()
            .unwrap_or("")
            .split(',')
            .map(|n| strip_urn(n.trim()))
            .filter(|n| !n.is_empty())
            .map(|n| match n.split_once('.') {
                Some((a, b)) => (a.to_ascii_lowercase(), Some(b.to_ascii_lowercase())),
                None => (n.to_ascii_lowercase(), None),
            })
            .collect()
    };
    let Value::Object(map) = resource else { return };
    let always = |k: &str| k == "id" || k == "schemas";
    if query.attributes.is_some() {
        let wanted = names(&query.attributes);
        map.retain(|k, _| always(k) || wanted.iter().any(|(a, _)| *a == k.to_ascii_lowercase()));
        for (k, v) in map.iter_mut() {
            let subs: Vec<&String> = wanted.iter().filter(|(a, _)| *a == k.to_ascii_lowercase()).filter_map(|(_, s)| s.as_ref()).collect();
            let whole = wanted.iter().any(|(a, s)| *a == k.to_ascii_lowercase() && s.is_none());
            if let (false, false, Value::Object(inner)) = (whole, subs.is_empty(), v) {
                inner.retain(|sk, _| subs.iter().any(|s| **s == sk.to_ascii_lowercase()));
            }
        }
    }
    if query.excluded_attributes.is_some() {
        for (a, sub) in names(&query.excluded_attributes) {
            match sub {
                None => map.retain(|k, _| always(k) || k.to_ascii_lowercase() != a),
                Some(sub) => {
                    if let Some((_, Value::Object(inner))) = map.iter_mut().find(|(k, _)| k.to_ascii_lowercase() == a) {
                        inner.retain(|sk, _| sk.to_ascii_lowercase() != sub);
                    }
                }
            }
        }
    }
    map.retain(|_, v| !matches!(v, Value::Object(m) if m.is_empty()));
}

/// `POST /.search` is not offered: 501, as RFC 7644 §3.4.3 lets a provider answer.
async fn search_not_offered() -> ScimError {
    ScimError::new(StatusCode::NOT_IMPLEMENTED, None, "searching with POST is not offered: use GET /Users?filter=")
}

async fn replace_user(
    State(state): State<AppState>,
    Extension(scope): Extension<Scope>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> ScimResult {
    let id = user_id(&id)?;
    let input = user_input(&body_object(&body)?)?;
    let user = provisioning::replace(&state.ctx, &scope, &id, &input).await?;
    Ok(user_response(&state, StatusCode::OK, &user))
}

async fn delete_user(State(state): State<AppState>, Extension(scope): Extension<Scope>, Path(id): Path<String>) -> ScimResult {
    provisioning::delete(&state.ctx, &scope, &user_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `PATCH` (RFC 7644 §3.5.2): the operations are applied in order to the person's current
/// resource, and the result replaces it as a `PUT` would.
async fn patch_user(
    State(state): State<AppState>,
    Extension(scope): Extension<Scope>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> ScimResult {
    let id = user_id(&id)?;
    let request = body_object(&body)?;
    let operations = match attr(&request, "Operations") {
        Some(Value::Array(ops)) if !ops.is_empty() => ops.clone(),
        _ => return Err(ScimError::bad("invalidSyntax", "Operations must be a non-empty list")),
    };
    let current = provisioning::get(&state.ctx, &scope, &id).await?;
    let Value::Object(mut resource) = user_json(&base_url(&state), &current) else { unreachable!("a resource is an object") };
    resource.remove("meta");
    for operation in &operations {
        apply(&mut resource, operation)?;
    }
    let input = user_input(&resource)?;
    let user = provisioning::replace(&state.ctx, &scope, &id, &input).await?;
    Ok(user_response(&state, StatusCode::OK, &user))
}

/// One patch operation on a resource.
fn apply(resource: &mut Map<String, Value>, operation: &Value) -> Result<(), ScimError> {
    let Some(operation) = operation.as_object() else { return Err(ScimError::bad("invalidSyntax", "an operation must be an object")) };
    let op = attr(operation, "op").and_then(Value::as_str).unwrap_or("").to_ascii_lowercase();
    let path = attr(operation, "path").and_then(Value::as_str).map(str::trim).filter(|p| !p.is_empty());
    let value = attr(operation, "value").cloned();
    match (op.as_str(), path) {
        ("add" | "replace", None) => {
            let Some(Value::Object(values)) = value else {
                return Err(ScimError::bad("invalidValue", "an operation without a path needs an object value"));
            };
            for (name, value) in values {
                set_path(resource, &name, Some(value), op == "add")?;
            }
            Ok(())
        }
        ("add" | "replace", Some(path)) => {
            let value = value.ok_or_else(|| ScimError::bad("invalidValue", format!("{op} of {path} needs a value")))?;
            set_path(resource, path, Some(value), op == "add")
        }
        ("remove", Some(path)) => set_path(resource, path, None, false),
        ("remove", None) => Err(ScimError::bad("noTarget", "remove needs a path")),
        _ => Err(ScimError::bad("invalidSyntax", format!("unknown operation \"{op}\" (add, replace or remove)"))),
    }
}

/// Sets (or with `None` removes) the attribute a patch path names: `attr`, `attr.sub`, a
/// multi-valued attribute with a filter (`emails[type eq "work"].value`), or any of those with the
/// User schema's URN in front. Paths into other schemas (extensions this server does not keep)
/// are accepted and change nothing.
fn set_path(resource: &mut Map<String, Value>, path: &str, value: Option<Value>, add: bool) -> Result<(), ScimError> {
    let path = strip_urn(path);
    if path.starts_with("urn:") {
        return Ok(());
    }
    if let Some(open) = path.find('[') {
        return set_filtered(resource, path, open, value);
    }
    let (name, sub) = match path.split_once('.') {
        Some((name, sub)) => (name, Some(sub)),
        None => (path, None),
    };
    if !is_attribute(name) {
        return Err(ScimError::bad("invalidPath", format!("\"{path}\" is not an attribute of User")));
    }
    let key = resource.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned().unwrap_or_else(|| name.to_owned());
    match (sub, value) {
        (None, None) => {
            resource.remove(&key);
        }
        (None, Some(Value::Object(values))) if add || name.eq_ignore_ascii_case("name") => {
            // A complex attribute: its sub-attributes are merged (RFC 7644 §3.5.2.1/3).
            let target = resource.entry(key).or_insert_with(|| Value::Object(Map::new()));
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            if let Value::Object(target) = target {
                for (k, v) in values {
                    let existing = target.keys().find(|e| e.eq_ignore_ascii_case(&k)).cloned().unwrap_or(k);
                    target.insert(existing, v);
                }
            }
        }
        (None, Some(Value::Array(values))) if add && name.eq_ignore_ascii_case("roles") => {
            // One role per person: the role added is the role.
            resource.insert(key, Value::Array(values));
        }
        (None, Some(Value::Array(values))) if add => {
            let target = resource.entry(key).or_insert_with(|| Value::Array(Vec::new()));
            match target {
                Value::Array(existing) => existing.extend(values),
                other => *other = Value::Array(values),
            }
        }
        (None, Some(value)) => {
            resource.insert(key, value);
        }
        (Some(sub), value) => {
            let target = resource.entry(key).or_insert_with(|| Value::Object(Map::new()));
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            if let Value::Object(target) = target {
                let existing = target.keys().find(|e| e.eq_ignore_ascii_case(sub)).cloned().unwrap_or_else(|| sub.to_owned());
                match value {
                    Some(value) => {
                        target.insert(existing, value);
                    }
                    None => {
                        target.remove(&existing);
                    }
                }
            }
        }
    }
    Ok(())
}

fn strip_urn(path: &str) -> &str {
    match path.get(..USER_SCHEMA.len()) {
        Some(prefix) if prefix.eq_ignore_ascii_case(USER_SCHEMA) => path[USER_SCHEMA.len()..].trim_start_matches(':'),
        _ => path,
    }
}

const ATTRIBUTES: &[&str] = &["userName", "name", "displayName", "emails", "active", "roles", "externalId", "password"];

fn is_attribute(name: &str) -> bool {
    ATTRIBUTES.iter().any(|a| a.eq_ignore_ascii_case(name))
}

/// `emails[type eq "work"].value` and the like: the entries of a multi-valued attribute that the
/// filter matches are changed (or, with `None` and no sub-attribute, removed).
fn set_filtered(resource: &mut Map<String, Value>, path: &str, open: usize, value: Option<Value>) -> Result<(), ScimError> {
    let name = &path[..open];
    let close = path.rfind(']').ok_or_else(|| ScimError::bad("invalidPath", format!("\"{path}\": unclosed filter")))?;
    let (field, wanted) =
        parse_eq(&path[open + 1..close]).ok_or_else(|| ScimError::bad("invalidFilter", format!("\"{path}\": only `eq` filters")))?;
    let sub = path[close + 1..].strip_prefix('.');
    if !is_attribute(name) {
        return Err(ScimError::bad("invalidPath", format!("\"{path}\" is not an attribute of User")));
    }
    let key = resource.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned().unwrap_or_else(|| name.to_owned());
    let Some(Value::Array(entries)) = resource.get_mut(&key) else {
        return Err(ScimError::bad("noTarget", format!("\"{path}\" matches nothing")));
    };
    let matches = |entry: &Value| {
        entry.as_object().and_then(|e| attr(e, &field)).is_some_and(|v| match v {
            Value::String(s) => s.eq_ignore_ascii_case(&wanted),
            // `primary eq true`: a literal compared as JSON text.
            other => serde_json::to_string(other).is_ok_and(|text| text == wanted),
        })
    };
    match (sub, value) {
        (None, None) => entries.retain(|e| !matches(e)),
        (Some(sub), value) => {
            for entry in entries.iter_mut().filter(|e| matches(e)) {
                if let Value::Object(entry) = entry {
                    let existing = entry.keys().find(|k| k.eq_ignore_ascii_case(sub)).cloned().unwrap_or_else(|| sub.to_owned());
                    match &value {
                        Some(value) => entry.insert(existing, value.clone()),
                        None => entry.remove(&existing),
                    };
                }
            }
        }
        (None, Some(value)) => {
            for entry in entries.iter_mut().filter(|e| matches(e)) {
                *entry = value.clone();
            }
        }
    }
    Ok(())
}

/// `attribute eq "value"` (or an unquoted `true`/`false`/number): the attribute and the value.
fn parse_eq(filter: &str) -> Option<(String, String)> {
    let filter = filter.trim();
    let (field, rest) = filter.split_once(char::is_whitespace)?;
    let rest = rest.trim_start();
    let (op, value) = rest.split_once(char::is_whitespace)?;
    if !op.eq_ignore_ascii_case("eq") {
        return None;
    }
    let value = value.trim();
    let value = match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(quoted) => quoted.replace("\\\"", "\"").replace("\\\\", "\\"),
        None => value.to_owned(),
    };
    Some((strip_urn(field).to_owned(), value))
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListQuery {
    filter: Option<String>,
    start_index: Option<String>,
    count: Option<String>,
    attributes: Option<String>,
    excluded_attributes: Option<String>,
}

/// `GET /Users`: `startIndex` counts from 1 (less is 1), `count` from 0 (at most [`MAX_COUNT`]).
async fn list_users(
    State(state): State<AppState>,
    Extension(scope): Extension<Scope>,
    query: Result<axum::extract::Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> ScimResult {
    let axum::extract::Query(query) =
        query.map_err(|e| ScimError::bad("invalidValue", format!("the query could not be read: {}", e.body_text())))?;
    let number = |text: &Option<String>, name: &str| -> Result<Option<i64>, ScimError> {
        text.as_deref()
            .map(|t| t.trim().parse::<i64>().map_err(|_| ScimError::bad("invalidValue", format!("{name} must be a whole number"))))
            .transpose()
    };
    let start_index = number(&query.start_index, "startIndex")?.unwrap_or(1).max(1);
    let count = number(&query.count, "count")?.unwrap_or(100).clamp(0, MAX_COUNT);
    let filter = match query.filter.as_deref().map(str::trim).filter(|f| !f.is_empty()) {
        None => UserFilter::All,
        Some(text) => {
            let (field, value) = parse_eq(text).ok_or_else(|| {
                ScimError::bad("invalidFilter", "filters supported: userName eq \"…\", externalId eq \"…\", emails.value eq \"…\"")
            })?;
            if field.eq_ignore_ascii_case("userName") || field.eq_ignore_ascii_case("emails.value") || field.eq_ignore_ascii_case("emails")
            {
                UserFilter::Email(value)
            } else if field.eq_ignore_ascii_case("externalId") {
                UserFilter::ExternalId(value)
            } else if field.eq_ignore_ascii_case("id") {
                return list_one(&state, &scope, &value, start_index, count, &query).await;
            } else {
                return Err(ScimError::bad("invalidFilter", format!("filtering on \"{field}\" is not supported")));
            }
        }
    };
    let (total, users) = provisioning::list(&state.ctx, &scope, &filter, start_index - 1, count).await?;
    Ok(list_response(&state, total, start_index, &users, &query))
}

/// `filter=id eq "…"`: the person, or nobody.
async fn list_one(state: &AppState, scope: &Scope, id: &str, start_index: i64, count: i64, query: &ListQuery) -> ScimResult {
    let found = match id.parse::<UserId>() {
        Ok(id) => match provisioning::get(&state.ctx, scope, &id).await {
            Ok(user) => vec![user],
            Err(Error::NotFound) => Vec::new(),
            Err(err) => return Err(err.into()),
        },
        Err(_) => Vec::new(),
    };
    let total = i64::try_from(found.len()).unwrap_or(0);
    let shown: Vec<_> =
        found.into_iter().skip(usize::try_from(start_index - 1).unwrap_or(usize::MAX)).take(usize::try_from(count).unwrap_or(0)).collect();
    Ok(list_response(state, total, start_index, &shown, query))
}

fn list_response(state: &AppState, total: i64, start_index: i64, users: &[ProvisionedUser], query: &ListQuery) -> Response {
    let base = base_url(state);
    let resources: Vec<Value> = users
        .iter()
        .map(|u| {
            let mut resource = user_json(&base, u);
            project(&mut resource, query);
            resource
        })
        .collect();
    scim_json(
        StatusCode::OK,
        &json!({"schemas": [LIST_SCHEMA], "totalResults": total, "startIndex": start_index, "itemsPerPage": resources.len(), "Resources": resources}),
    )
}

async fn service_provider_config(State(state): State<AppState>) -> Response {
    let base = base_url(&state);
    scim_json(
        StatusCode::OK,
        &json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
            "documentationUri": format!("{}/api/docs", state.web.public_url.trim_end_matches('/')),
            "patch": {"supported": true},
            "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
            "filter": {"supported": true, "maxResults": MAX_COUNT},
            "changePassword": {"supported": false},
            "sort": {"supported": false},
            "etag": {"supported": false},
            "authenticationSchemes": [{
                "type": "oauthbearertoken",
                "name": "SCIM token",
                "description": "The organisation's SCIM token, created by its admins in the portal (Users → Provisioning) or by the vendor's admins",
                "primary": true
            }],
            "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig")},
        }),
    )
}

fn user_resource_type(base: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": "User",
        "name": "User",
        "endpoint": "/Users",
        "description": "A person of the partner organisation",
        "schema": USER_SCHEMA,
        "schemaExtensions": [],
        "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/User")},
    })
}

/// A ListResponse of one resource (the discovery lists: there is only User).
fn list_of_one(resource: Value) -> Response {
    scim_json(
        StatusCode::OK,
        &json!({"schemas": [LIST_SCHEMA], "totalResults": 1, "startIndex": 1, "itemsPerPage": 1, "Resources": [resource]}),
    )
}

async fn resource_types(State(state): State<AppState>) -> Response {
    list_of_one(user_resource_type(&base_url(&state)))
}

async fn resource_type(State(state): State<AppState>, Path(id): Path<String>) -> ScimResult {
    if id != "User" {
        return Err(Error::NotFound.into());
    }
    Ok(scim_json(StatusCode::OK, &user_resource_type(&base_url(&state))))
}

/// An attribute definition of the User schema (RFC 7643 §7).
fn attribute(name: &str, kind: &str, required: bool, mutability: &str, uniqueness: &str, extra: Value) -> Value {
    let mut definition = json!({
        "name": name,
        "type": kind,
        "multiValued": false,
        "description": "",
        "required": required,
        "caseExact": false,
        "mutability": mutability,
        "returned": if mutability == "writeOnly" { "never" } else { "default" },
        "uniqueness": uniqueness,
    });
    if let (Value::Object(definition), Value::Object(extra)) = (&mut definition, extra) {
        definition.extend(extra);
    }
    definition
}

fn user_schema(base: &str) -> Value {
    let string = |name: &str| attribute(name, "string", false, "readWrite", "none", json!({}));
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": USER_SCHEMA,
        "name": "User",
        "description": "A person of the partner organisation; userName is their email address",
        "attributes": [
            attribute("userName", "string", true, "immutable", "server", json!({"description": "The person's email address; it cannot change"})),
            attribute("name", "complex", false, "readWrite", "none", json!({"subAttributes": [string("formatted"), string("familyName"), string("givenName")]})),
            string("displayName"),
            attribute("emails", "complex", false, "readOnly", "none", json!({
                "multiValued": true,
                "description": "The person's email address (the userName)",
                "subAttributes": [
                    attribute("value", "string", false, "readOnly", "none", json!({})),
                    attribute("type", "string", false, "readOnly", "none", json!({"canonicalValues": ["work"]})),
                    attribute("primary", "boolean", false, "readOnly", "none", json!({})),
                ],
            })),
            attribute("active", "boolean", false, "readWrite", "none", json!({})),
            attribute("password", "string", false, "writeOnly", "none", json!({"description": "Only for a new account"})),
            attribute("roles", "complex", false, "readWrite", "none", json!({
                "multiValued": true,
                "description": "The person's role in the organisation: admin, sales, marketing, finance or member",
                "subAttributes": [
                    attribute("value", "string", false, "readWrite", "none", json!({"canonicalValues": ["admin", "sales", "marketing", "finance", "member"]})),
                ],
            })),
        ],
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{USER_SCHEMA}")},
    })
}

async fn schemas(State(state): State<AppState>) -> Response {
    list_of_one(user_schema(&base_url(&state)))
}

async fn schema(State(state): State<AppState>, Path(id): Path<String>) -> ScimResult {
    if id != USER_SCHEMA {
        return Err(Error::NotFound.into());
    }
    Ok(scim_json(StatusCode::OK, &user_schema(&base_url(&state))))
}
