//! `/leads/{slug}`: a program's public lead form ("Find a partner to help you"), for prospects who
//! are not signed in: its own double-submit CSRF cookie, a honeypot field hidden from people, the
//! rate limit of `trellis_leads::public_form`; an enquiry that works ends on a thank-you page
//! (post/redirect/get). Open only where the channel team opened it; otherwise the 404 page.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use trellis_core::{Error, FieldError};
use trellis_identity::secret::random_token;
use trellis_identity::workspaces::{self, PublicBrand};
use trellis_leads::public_form::{self, Enquiry};
use trellis_programs::Program;
use trellis_web::AppState;
use trellis_web::meta::Meta;

use crate::forms::{Choice, FormData, FormView};
use crate::pages::{Layout, error_page, render, see_other};
use crate::routes::{PageRouter, get};
use crate::session::{form_cookie_matches, set_cookie, with_cookie};

const ENQUIRY_CSRF_COOKIE: &str = "trellis_enquiry_csrf";
const FIELDS: &[&str] = &["company_name", "contact_name", "contact_email", "country", "region", "product_interest", "notes"];
/// The honeypot's name, as the application form's.
const HONEYPOT: &str = "company_fax";

#[derive(Template)]
#[template(path = "enquiry.html")]
struct EnquiryPage {
    layout: Layout,
    vendor: String,
    slug: String,
    csrf_token: String,
    form: FormView,
    countries: Vec<Choice>,
    honeypot: &'static str,
    problem: Option<String>,
}

#[derive(Template)]
#[template(path = "enquiry_thanks.html")]
struct ThanksPage {
    layout: Layout,
    vendor: String,
}

fn enquiry_form(
    state: &AppState,
    (vendor, program): (PublicBrand, Program),
    form: FormView,
    problem: Option<String>,
    status: StatusCode,
) -> Response {
    let csrf = random_token(32);
    let page = EnquiryPage {
        layout: Layout::public(format!("Talk to a {} partner", vendor.name), vendor.clone()),
        vendor: vendor.name,
        slug: program.slug,
        csrf_token: csrf.clone(),
        form,
        countries: crate::display::country_choices(),
        honeypot: HONEYPOT,
        problem,
    };
    with_cookie((status, render(&page)).into_response(), set_cookie(state, ENQUIRY_CSRF_COOKIE, &csrf, 3600))
}

async fn open_form(state: &AppState, slug: &str) -> Result<(PublicBrand, Program), Error> {
    let (workspace_id, program) = public_form::open_form(&state.ctx, slug).await?;
    Ok((workspaces::public_brand(&state.ctx, &workspace_id).await?, program))
}

/// `GET /leads/{slug}`
async fn show_form(State(state): State<AppState>, Path(slug): Path<String>) -> Response {
    match open_form(&state, &slug).await {
        Ok(opened) => enquiry_form(&state, opened, FormView::new("enquiry", FIELDS), None, StatusCode::OK),
        Err(err) => error_page(err),
    }
}

fn read_enquiry(form: &FormData) -> Enquiry {
    Enquiry {
        company_name: form.value("company_name").to_owned(),
        contact_name: form.value("contact_name").to_owned(),
        contact_email: form.value("contact_email").to_owned(),
        country: form.value("country").to_owned(),
        region: form.optional("region").map(str::to_owned),
        product_interest: form.optional("product_interest").map(str::to_owned),
        notes: form.optional("notes").map(str::to_owned),
        honeypot: form.optional(HONEYPOT).map(str::to_owned),
    }
}

/// `POST /leads/{slug}`: takes the enquiry, then shows the thank-you page.
async fn submit_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Meta(meta): Meta,
    Path(slug): Path<String>,
    form: FormData,
) -> Response {
    let opened = match open_form(&state, &slug).await {
        Ok(opened) => opened,
        Err(err) => return error_page(err),
    };
    if !form_cookie_matches(&state, &headers, ENQUIRY_CSRF_COOKIE, form.csrf_token()) {
        let again = FormView::failed("enquiry", FIELDS, form, Vec::new());
        return enquiry_form(
            &state,
            opened,
            again,
            Some("The form expired. Please check it and send it again.".into()),
            StatusCode::FORBIDDEN,
        );
    }
    match public_form::submit(&state.ctx, &slug, read_enquiry(&form), &meta).await {
        Ok(()) => with_cookie(see_other(&format!("/leads/{}/thanks", opened.1.slug)), set_cookie(&state, ENQUIRY_CSRF_COOKIE, "", 0)),
        Err(Error::Validation(errors)) => {
            enquiry_form(&state, opened, FormView::failed("enquiry", FIELDS, form, errors), None, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(Error::RateLimited { retry_after_secs }) => {
            let minutes = retry_after_secs.div_ceil(60);
            let problem = format!(
                "Too many enquiries came from your network recently. Please try again in {minutes} minute{}.",
                if minutes == 1 { "" } else { "s" }
            );
            let failed = FormView::failed("enquiry", FIELDS, form, Vec::<FieldError>::new());
            let mut response = enquiry_form(&state, opened, failed, Some(problem), StatusCode::TOO_MANY_REQUESTS);
            response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(retry_after_secs));
            response
        }
        Err(err) => error_page(err),
    }
}

/// `GET /leads/{slug}/thanks`
async fn thanks(State(state): State<AppState>, Path(slug): Path<String>) -> Response {
    match open_form(&state, &slug).await {
        Ok((vendor, _)) => render(&ThanksPage { layout: Layout::public("Thank you", vendor.clone()), vendor: vendor.name }),
        Err(err) => error_page(err),
    }
}

pub fn routes() -> PageRouter {
    PageRouter::new().route("/leads/{slug}", get(show_form).post(submit_form)).route("/leads/{slug}/thanks", get(thanks))
}
