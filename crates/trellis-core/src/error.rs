//! The error every domain service returns. The API turns it into an RFC 9457 problem document
//! with a stable `code`, the portal into an HTML page; neither ever shows SQL or a stack trace.

use crate::FieldError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 401: no valid credential.
    #[error("authentication required")]
    Unauthorized,
    /// 401 `mfa_required`: the password was right and the account also needs its second factor.
    #[error("this account needs the code of its authenticator app (or a recovery code) in `totp`")]
    MfaRequired,
    /// 403 `mfa_enrollment_required`: the workspace requires two-step sign-in of this person,
    /// who has no authenticator app yet: only setting one up (and their own account) is open.
    #[error("your workspace requires two-step sign-in: set up an authenticator app first (POST /api/v1/auth/totp, or the account page)")]
    MfaEnrollmentRequired,
    /// 403 `reauthentication_required`: this needs the person to have proven who they are within
    /// the last five minutes (`POST /api/v1/auth/reauthenticate`, or signing in again).
    #[error(
        "confirm it's you first: POST /api/v1/auth/reauthenticate with your password (and code), or sign in again; then repeat this within 5 minutes"
    )]
    ReauthenticationRequired,
    /// 422 `membership_required`: the credential has several memberships and none was named.
    #[error("this credential has several memberships; name one in the Trellis-Membership header")]
    MembershipRequired,
    /// 403: the object is visible but the caller's role may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// 404: missing, or not visible to the caller (indistinguishable on purpose).
    #[error("not found")]
    NotFound,
    /// 409: the object's state does not allow the action.
    #[error("{0}")]
    Conflict(String),
    /// 422: well-formed but invalid input.
    #[error("the request has invalid fields")]
    Validation(Vec<FieldError>),
    /// 429 with `Retry-After`.
    #[error("too many attempts; retry later")]
    RateLimited { retry_after_secs: u64 },
    /// 500: logged with its detail, shown to clients as a generic message.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn forbidden(message: impl Into<String>) -> Self {
        Error::Forbidden(message.into())
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Error::Conflict(message.into())
    }

    /// A single invalid field.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Error::Validation(vec![FieldError { field: field.to_owned(), message: message.into() }])
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
