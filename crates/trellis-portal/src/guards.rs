//! What a page route needs of its caller, as extractors, so that a handler's signature says it and
//! no handler can forget a check (ADR 0010):
//!
//! - [`StaffPage`]: signed in and acting as workspace staff — the console's pages;
//! - [`StaffForm`]: the same for a submitted form, whose CSRF token is checked;
//! - [`PartnerPage`] and [`PartnerForm`]: signed in and acting for a partner organisation — the
//!   portal's pages, always about the caller's own organisation.
//!
//! Without a session each answers the redirect to `/login` (a session without a membership: to
//! `/memberships`, [`Signed`]); acting for the other kind of membership, the 404 page (API.md
//! "Conventions": what the caller may not see is 404, like what does not exist). A form's body is
//! read (413, or 422 for a control character) and its CSRF token checked (403) before the
//! membership, in the order the handlers checked them by hand. What a role may do is the domain
//! services' to say (403), with the same role sets the navigation is built from.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::response::Response;
use trellis_core::{Error, PartnerId, PartnerRole, VendorRole};
use trellis_web::AppState;

use crate::forms::FormData;
use crate::pages::error_page;
use crate::session::{Signed, check_csrf};
use crate::uploads::UploadForm;

/// A request of a signed-in staff member; `role` is their vendor role.
pub struct StaffPage {
    pub signed: Signed,
    pub role: VendorRole,
}

/// A request of a signed-in member of a partner organisation: `partner_id` is the caller's own
/// organisation and `role` their role there.
pub struct PartnerPage {
    pub signed: Signed,
    pub partner_id: PartnerId,
    pub role: PartnerRole,
}

/// Someone the workspace requires two-step sign-in of, without an authenticator app yet, is sent
/// to their account page to set one up: no console or portal page opens before.
pub(crate) fn require_mfa_enrolled(signed: &Signed) -> Result<(), Response> {
    if signed.scope.mfa_enrolment_pending() {
        return Err(crate::pages::see_other("/account?notice=mfa_required#mfa"));
    }
    Ok(())
}

impl StaffPage {
    fn of(signed: Signed) -> Result<Self, Response> {
        require_mfa_enrolled(&signed)?;
        match signed.scope.vendor_role() {
            Some(role) => Ok(Self { signed, role }),
            None => Err(error_page(Error::NotFound)),
        }
    }
}

impl PartnerPage {
    fn of(signed: Signed) -> Result<Self, Response> {
        require_mfa_enrolled(&signed)?;
        match signed.scope.partner().map(|(id, role)| (id.clone(), role)) {
            Some((partner_id, role)) => Ok(Self { signed, partner_id, role }),
            None => Err(error_page(Error::NotFound)),
        }
    }
}

impl FromRequestParts<AppState> for StaffPage {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Self::of(Signed::from_request_parts(parts, state).await?)
    }
}

impl FromRequestParts<AppState> for PartnerPage {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Self::of(Signed::from_request_parts(parts, state).await?)
    }
}

/// A form a page submits: the fields carry the session's CSRF token.
pub trait SubmittedForm: FromRequest<AppState, Rejection = Response> {
    fn csrf_token(&self) -> &str;
}

impl SubmittedForm for FormData {
    fn csrf_token(&self) -> &str {
        FormData::csrf_token(self)
    }
}

impl SubmittedForm for UploadForm {
    fn csrf_token(&self) -> &str {
        self.fields.csrf_token()
    }
}

/// The session of a form's request and its form, read and CSRF-checked.
async fn signed_form<F: SubmittedForm>(req: Request, state: &AppState) -> Result<(Signed, F), Response> {
    let (mut parts, body) = req.into_parts();
    let signed = Signed::from_request_parts(&mut parts, state).await?;
    let form = F::from_request(Request::from_parts(parts, body), state).await?;
    check_csrf(&signed.session, form.csrf_token())?;
    Ok((signed, form))
}

/// A form submitted by anyone signed in, staff or partner (their own account's pages), its CSRF
/// token checked.
pub struct SignedForm<F = FormData> {
    pub signed: Signed,
    pub form: F,
}

impl<F: SubmittedForm> FromRequest<AppState> for SignedForm<F> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (signed, form) = signed_form(req, state).await?;
        Ok(Self { signed, form })
    }
}

/// A form submitted by a signed-in staff member (see [`StaffPage`]), its CSRF token checked. What
/// the role may do, the service it calls decides.
pub struct StaffForm<F = FormData> {
    pub signed: Signed,
    pub form: F,
}

impl<F: SubmittedForm> FromRequest<AppState> for StaffForm<F> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (signed, form) = signed_form(req, state).await?;
        let StaffPage { signed, .. } = StaffPage::of(signed)?;
        Ok(Self { signed, form })
    }
}

/// A form submitted by a signed-in member of a partner organisation (see [`PartnerPage`]), its
/// CSRF token checked. What the role may do, the service it calls decides.
pub struct PartnerForm<F = FormData> {
    pub signed: Signed,
    pub partner_id: PartnerId,
    pub form: F,
}

impl<F: SubmittedForm> FromRequest<AppState> for PartnerForm<F> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (signed, form) = signed_form(req, state).await?;
        let PartnerPage { signed, partner_id, .. } = PartnerPage::of(signed)?;
        Ok(Self { signed, partner_id, form })
    }
}
