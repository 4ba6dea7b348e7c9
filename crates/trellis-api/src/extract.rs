//! Extractors: the authenticated caller, JSON bodies and query strings whose rejections are
//! problem documents (400 for unparsable input, 422 for well-formed but invalid input).

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use serde::de::DeserializeOwned;
use trellis_identity::Scope;

/// The authenticated caller's scope, put into the request by the auth middleware. Handlers that
/// take a `Caller` answer 401 without a valid credential; read-only keys may only read.
pub struct Caller(pub Scope);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let scope = parts.extensions.get::<Scope>().cloned().ok_or_else(ApiError::unauthorized)?;
        if scope.mfa_enrolment_pending() {
            // Setting up the app (`/auth/totp`) and one's own account take the sign-in token, not a Caller.
            return Err(trellis_core::Error::MfaEnrollmentRequired.into());
        }
        if scope.is_read_only() && !matches!(parts.method, Method::GET | Method::HEAD) {
            return Err(ApiError::forbidden("this API key is read-only"));
        }
        Ok(Caller(scope))
    }
}

/// The sign-in token (`trs_…`) of the request, for what only a signed-in person may do with it
/// (log out, change the password); an API key or nothing is 401, before the body is read.
pub struct SignInToken(pub String);

impl<S: Send + Sync> FromRequestParts<S> for SignInToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| t.starts_with(trellis_identity::auth::TOKEN_PREFIX))
            .map(|t| SignInToken(t.to_owned()))
            .ok_or_else(ApiError::unauthorized)
    }
}

/// Turns serde's "path: message" text into a field error.
fn field_error(text: &str) -> ApiError {
    // axum: "Failed to deserialize the JSON body into the target type: types[0]: unknown value …"
    let text = text.split_once("target type: ").map_or(text, |(_, rest)| rest);
    let (field, message) = match text.split_once(": ") {
        Some((path, message)) if !path.contains(' ') => (path.to_owned(), message.to_owned()),
        _ => (String::new(), text.to_owned()),
    };
    let message = message.split(" at line ").next().unwrap_or(&message).to_owned();
    let field = if field.is_empty() {
        // "missing field `name`" names the field in the message.
        message.split('`').nth(1).unwrap_or("").to_owned()
    } else {
        field
    };
    ApiError::field(&field, message)
}

/// A JSON body: unparsable or not JSON → 400 `malformed_request`; larger than the body limit →
/// 413 `payload_too_large`; anything but an object, a string with a control character it may not
/// hold (checked on every string before the body is read into `T`,
/// [`trellis_web::input::check_json`]) or a wrong shape → 422.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let mut value = match axum::Json::<serde_json::Value>::from_request(req, state).await {
            Ok(axum::Json(value)) => value,
            Err(JsonRejection::JsonDataError(err)) => return Err(field_error(&err.body_text())),
            Err(JsonRejection::JsonSyntaxError(err)) => {
                return Err(ApiError::malformed(format!(
                    "the body is not valid JSON: {}",
                    err.body_text().rsplit(": ").next().unwrap_or("")
                )));
            }
            Err(JsonRejection::MissingJsonContentType(_)) => {
                return Err(ApiError::malformed("send the body as JSON with Content-Type: application/json"));
            }
            Err(other) if other.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(ApiError::payload_too_large()),
            Err(other) => return Err(ApiError::malformed(other.body_text())),
        };
        // Every request body is an object (docs/API.md); serde would also read a struct from an
        // array of its fields in order (`[null, null]` an empty patch), which the document forbids.
        if !value.is_object() {
            return Err(ApiError::field("", "the body must be a JSON object"));
        }
        let refused = trellis_web::input::check_json(&value);
        if !refused.is_empty() {
            return Err(ApiError::validation(refused));
        }
        whole_numbers_as_integers(&mut value);
        // serde_path_to_error names the field as axum::Json does ("types[0]: unknown variant …").
        serde_path_to_error::deserialize(value).map(ApiJson).map_err(|err| field_error(&err.to_string()))
    }
}

/// An optional JSON body: a request without a `Content-Type` and without a body is `None`;
/// anything else is read as [`ApiJson`] (and refused as it would be).
impl<T: DeserializeOwned, S: Send + Sync> axum::extract::OptionalFromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Option<Self>, Self::Rejection> {
        let typed = req.headers().contains_key(axum::http::header::CONTENT_TYPE);
        let length =
            req.headers().get(axum::http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
        if !typed && length.is_none_or(|n| n == 0) {
            let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|_| ApiError::malformed("the body could not be read"))?;
            if bytes.is_empty() {
                return Ok(None);
            }
            return Err(ApiError::malformed("send the body as JSON with Content-Type: application/json"));
        }
        <ApiJson<T> as FromRequest<S>>::from_request(req, state).await.map(Some)
    }
}

/// JSON (and the document's JSON Schema) does not tell `3` from `3.0`: both are the integer 3.
/// serde reads `3.0` only into a float, so a number with no fraction becomes an integer before
/// the body is read into its struct (`{"rank": 3.0}` is rank 3; `3.5` is still refused).
fn whole_numbers_as_integers(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Number(n) if n.is_f64() => {
            // Only where the float is exactly that integer (|x| < 2^53).
            if let Some(f) = n.as_f64()
                && f.fract() == 0.0
                && f.abs() < 9_007_199_254_740_992.0
            {
                #[allow(clippy::cast_possible_truncation)]
                let whole = f as i64;
                *value = Value::from(whole);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_numbers_as_integers),
        Value::Object(map) => map.values_mut().for_each(whole_numbers_as_integers),
        _ => {}
    }
}

/// A query string whose invalid values are 422 with the parameter named.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(ApiQuery(value)),
            Err(QueryRejection::FailedToDeserializeQueryString(err)) => {
                // axum: "Failed to deserialize query string: status: unknown value …", or
                // "…query string: unknown field `foo`, expected …" (the parameter in backticks).
                let text = err.body_text();
                let text = text.split_once("query string: ").map_or(text.as_str(), |(_, r)| r);
                let (field, message) = match text.split_once(": ") {
                    Some((name, message)) if !name.contains(' ') => (name, message),
                    _ => (text.split('`').nth(1).unwrap_or(""), text),
                };
                Err(ApiError::field(field, message.to_owned()))
            }
            Err(other) => Err(ApiError::malformed(other.body_text())),
        }
    }
}

/// `?limit=` of a list: 1 to 500 (API.md "Lists"), 50 when absent; anything else is 422 naming
/// `limit` (never clamped silently).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLimit(i64);

impl PageLimit {
    pub const DEFAULT: i64 = trellis_core::page::DEFAULT_PAGE_SIZE;
    pub const MIN: i64 = 1;
    pub const MAX: i64 = trellis_core::page::MAX_PAGE_SIZE;

    /// The page size of a request: the given limit, or the default.
    pub fn of(limit: Option<PageLimit>) -> i64 {
        limit.map_or(Self::DEFAULT, |l| l.0)
    }
}

impl<'de> Deserialize<'de> for PageLimit {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = i64::deserialize(d)?;
        if (Self::MIN..=Self::MAX).contains(&n) {
            Ok(PageLimit(n))
        } else {
            Err(serde::de::Error::custom(format!("must be between {} and {}", Self::MIN, Self::MAX)))
        }
    }
}

/// `?cursor=` of a list: the `next_cursor` an earlier page answered, which is the id of that
/// page's last row. Anything that is not such an id is 422 naming `cursor` (never ignored, which
/// would silently restart the list at its first page).
#[derive(Debug, Clone)]
pub struct Cursor<T>(pub T);

impl<T> Cursor<T> {
    pub fn into_inner(cursor: Option<Self>) -> Option<T> {
        cursor.map(|c| c.0)
    }
}

impl<'de, T: std::str::FromStr> Deserialize<'de> for Cursor<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.trim().parse().map(Cursor).map_err(|_| serde::de::Error::custom("is not a cursor this list gave out (use next_cursor)"))
    }
}

/// Parses an id from the path; a malformed id is a 404 like any other unknown object.
pub fn path_id<T: std::str::FromStr>(text: &str) -> Result<T, ApiError> {
    text.parse().map_err(|_| ApiError::not_found())
}

/// Deserialises a field that may be absent (leave as is), `null` (clear) or a value (set).
pub fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

use serde::Deserialize;
use trellis_web::problem::ApiError;
