//! Extractors: the authenticated caller, JSON bodies and query strings whose rejections are
//! problem documents (400 for unparsable input, 422 for well-formed but invalid input).

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::Method;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use trellis_identity::{RequestMeta, Scope};

use crate::error::ApiError;

/// The authenticated caller's scope, put into the request by the auth middleware. Handlers that
/// take a `Caller` answer 401 without a valid credential; read-only keys may only read.
pub struct Caller(pub Scope);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let scope = parts.extensions.get::<Scope>().cloned().ok_or_else(ApiError::unauthorized)?;
        if scope.is_read_only() && !matches!(parts.method, Method::GET | Method::HEAD) {
            return Err(ApiError::forbidden("this API key is read-only"));
        }
        Ok(Caller(scope))
    }
}

/// Where the request came from (set by the request-meta middleware).
pub fn request_meta(parts: &Parts) -> RequestMeta {
    parts.extensions.get::<RequestMeta>().cloned().unwrap_or_default()
}

/// The request's origin, for handlers that record it.
pub struct Meta(pub RequestMeta);

impl<S: Send + Sync> FromRequestParts<S> for Meta {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Meta(request_meta(parts)))
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

/// A JSON body: unparsable or not JSON → 400 `malformed_request`; wrong shape → 422.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(JsonRejection::JsonDataError(err)) => Err(field_error(&err.body_text())),
            Err(JsonRejection::JsonSyntaxError(err)) => {
                Err(ApiError::malformed(format!("the body is not valid JSON: {}", err.body_text().rsplit(": ").next().unwrap_or(""))))
            }
            Err(JsonRejection::MissingJsonContentType(_)) => {
                Err(ApiError::malformed("send the body as JSON with Content-Type: application/json"))
            }
            Err(other) => Err(ApiError::malformed(other.body_text())),
        }
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
