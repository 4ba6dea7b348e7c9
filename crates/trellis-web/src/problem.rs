//! Errors as RFC 9457 problem documents with a stable `code` (API.md "Errors"): every API answer
//! that is not a success, and what the server's edges and the pages answer to clients that are
//! not browsers (an unknown path, a control character, an oversized body). Internal errors are
//! logged with their detail and answered with a generic message: no SQL, no stack.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use trellis_core::{Error, FieldError};

/// An error answered as a problem document (by the API, and by the edges and pages to clients
/// that do not ask for HTML).
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub title: &'static str,
    pub detail: String,
    pub errors: Vec<FieldError>,
    pub retry_after: Option<u64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable, machine-readable: `malformed_request`, `validation_failed`, `unauthorized`,
    /// `forbidden`, `not_found`, `conflict`, `idempotency_key_reused`, `membership_required`,
    /// `payload_too_large`, `rate_limited`, `internal_error`.
    pub code: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ProblemField>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ProblemField {
    pub field: String,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, title: &'static str, detail: impl Into<String>) -> Self {
        Self { status, code, title, detail: detail.into(), errors: Vec::new(), retry_after: None }
    }

    pub fn malformed(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "malformed_request", "Malformed request", detail)
    }

    pub fn validation(errors: Vec<FieldError>) -> Self {
        let mut err =
            Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", "Validation failed", "the request has invalid fields");
        err.errors = errors;
        err
    }

    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError { field: field.to_owned(), message: message.into() }])
    }

    /// 413: the body is larger than the route accepts (1 MiB of JSON or form fields; file
    /// uploads up to their document limit).
    pub fn payload_too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "Payload too large",
            "the request body is larger than this endpoint accepts (JSON and forms: 1 MiB; file uploads: 10 MiB)",
        )
    }

    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized", "a valid credential is required")
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "Not found", "no such object")
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden", detail)
    }
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        match err {
            Error::Unauthorized => ApiError::unauthorized(),
            Error::MfaRequired => ApiError::new(StatusCode::UNAUTHORIZED, "mfa_required", "Second factor required", err.to_string()),
            Error::ReauthenticationRequired => {
                ApiError::new(StatusCode::FORBIDDEN, "reauthentication_required", "Confirm it's you", err.to_string())
            }
            Error::MfaEnrollmentRequired => {
                ApiError::new(StatusCode::FORBIDDEN, "mfa_enrollment_required", "Two-step sign-in required", err.to_string())
            }
            Error::MembershipRequired => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "membership_required", "Membership required", err.to_string())
            }
            Error::Forbidden(detail) => ApiError::forbidden(detail),
            Error::NotFound => ApiError::not_found(),
            Error::Conflict(detail) => ApiError::new(StatusCode::CONFLICT, "conflict", "Conflict", detail),
            Error::Validation(errors) => ApiError::validation(errors),
            Error::RateLimited { retry_after_secs } => {
                let mut e =
                    ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "Too many requests", "too many attempts; retry later");
                e.retry_after = Some(retry_after_secs);
                e
            }
            Error::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_error",
                    "Internal error",
                    "something went wrong on our side; it has been logged",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = Problem {
            kind: format!("/api/docs#problem-{}", self.code),
            title: self.title.to_owned(),
            status: self.status.as_u16(),
            detail: self.detail,
            code: self.code.to_owned(),
            errors: self.errors.into_iter().map(|e| ProblemField { field: e.field, message: e.message }).collect(),
        };
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let Some(seconds) = self.retry_after
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            headers.insert(header::RETRY_AFTER, value);
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
