//! `/apply/{slug}`: a program's public application form, for people who are not signed in. It
//! carries a double-submit CSRF cookie of its own (like the sign-in form: there is no session),
//! a honeypot field hidden from people, and the program's custom questions; a submission that
//! works ends on a thank-you page (post/redirect/get).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use trellis_core::{Error, FieldError, PartnerType};
use trellis_identity::secret::random_token;
use trellis_identity::workspaces::{self, PublicBrand};
use trellis_programs::{Program, programs};
use trellis_recruitment::applications::{self, NewApplication};
use trellis_web::AppState;
use trellis_web::meta::Meta;

use crate::forms::{Choice, FormData, FormView};
use crate::pages::{Layout, error_page, render, see_other};
use crate::routes::{PageRouter, get};
use crate::session::{form_cookie_matches, set_cookie, with_cookie};

/// Its own cookie, so that a sign-in form opened in another tab does not expire this one.
const APPLY_CSRF_COOKIE: &str = "trellis_apply_csrf";
/// The form's fixed fields; answers are `answers.{question_id}`.
const APPLY_FIELDS: &[&str] = &["company_name", "contact_name", "contact_email", "website", "country", "types"];
/// The honeypot's name: a field a bot fills in gladly, hidden from people and screen readers.
const HONEYPOT: &str = "company_fax";

/// A custom question as the form shows it.
struct QuestionField {
    name: String,
    label: String,
    kind: String,
    required: bool,
    options: Vec<Choice>,
}

fn question_fields(program: &Program) -> Vec<QuestionField> {
    program
        .application_questions
        .iter()
        .map(|q| QuestionField {
            name: format!("answers.{}", q.id),
            label: q.label.clone(),
            kind: q.kind.clone(),
            required: q.required,
            options: q.options.iter().map(|o| Choice { value: o.clone(), label: o.clone() }).collect(),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "apply.html")]
struct ApplyPage {
    layout: Layout,
    program: Program,
    csrf_token: String,
    form: FormView,
    types: Vec<Choice>,
    /// Every country by name; the code is what the application stores.
    countries: Vec<Choice>,
    questions: Vec<QuestionField>,
    honeypot: &'static str,
    /// A problem with the submission as a whole (an expired form, too many attempts).
    problem: Option<String>,
}

#[derive(Template)]
#[template(path = "apply_thanks.html")]
struct ThanksPage {
    layout: Layout,
    program_name: String,
}

/// The form with a fresh CSRF cookie.
fn apply_form(
    state: &AppState,
    (vendor, program): (PublicBrand, Program),
    form: FormView,
    problem: Option<String>,
    status: StatusCode,
) -> Response {
    let csrf = random_token(32);
    let page = ApplyPage {
        layout: Layout::public(format!("Apply to {}", program.name), vendor),
        questions: question_fields(&program),
        program,
        csrf_token: csrf.clone(),
        form,
        types: Choice::all_of(PartnerType::ALL, PartnerType::as_str),
        countries: crate::display::country_choices(),
        honeypot: HONEYPOT,
        problem,
    };
    with_cookie((status, render(&page)).into_response(), set_cookie(state, APPLY_CSRF_COOKIE, &csrf, 3600))
}

/// The program taking applications at `slug`, with its vendor's name for the page's header.
async fn open_program(state: &AppState, slug: &str) -> Result<(PublicBrand, Program), Error> {
    let (workspace_id, program) = applications::open_program(&state.ctx, slug).await?;
    Ok((workspaces::public_brand(&state.ctx, &workspace_id).await?, program))
}

/// `GET /apply/{slug}`: unknown programs and programs not taking applications are 404.
async fn show_form(State(state): State<AppState>, Path(slug): Path<String>) -> Response {
    match open_program(&state, &slug).await {
        Ok(opened) => apply_form(&state, opened, FormView::new("apply", APPLY_FIELDS), None, StatusCode::OK),
        Err(err) => error_page(err),
    }
}

fn read_application(form: &FormData, program: &Program) -> NewApplication {
    NewApplication {
        company_name: form.value("company_name").to_owned(),
        contact_name: form.value("contact_name").to_owned(),
        contact_email: form.value("contact_email").to_owned(),
        website: form.optional("website").map(str::to_owned),
        country: form.optional("country").map(str::to_owned),
        // Values the form never offered are left out; none left is reported as "no type".
        types: form.values("types").filter_map(PartnerType::parse).collect(),
        answers: program
            .application_questions
            .iter()
            .map(|q| (q.id.clone(), form.value(&format!("answers.{}", q.id)).to_owned()))
            .filter(|(_, answer)| !answer.trim().is_empty())
            .collect(),
        honeypot: form.optional(HONEYPOT).map(str::to_owned),
    }
}

/// `POST /apply/{slug}`: takes the application, then shows the thank-you page.
async fn submit_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Meta(meta): Meta,
    Path(slug): Path<String>,
    form: FormData,
) -> Response {
    let (vendor, program) = match open_program(&state, &slug).await {
        Ok(opened) => opened,
        Err(err) => return error_page(err),
    };
    if !form_cookie_matches(&state, &headers, APPLY_CSRF_COOKIE, form.csrf_token()) {
        let again = FormView::failed("apply", APPLY_FIELDS, form, Vec::new());
        let expired = Some("The form expired. Please check it and send it again.".to_owned());
        return apply_form(&state, (vendor, program), again, expired, StatusCode::FORBIDDEN);
    }
    let input = read_application(&form, &program);
    match applications::submit(&state.ctx, &slug, input, &meta).await {
        Ok(_) => with_cookie(see_other(&format!("/apply/{}/thanks", program.slug)), set_cookie(&state, APPLY_CSRF_COOKIE, "", 0)),
        Err(Error::Validation(errors)) => {
            let failed = FormView::failed("apply", APPLY_FIELDS, form, errors);
            apply_form(&state, (vendor, program), failed, None, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(Error::RateLimited { retry_after_secs }) => {
            // Like the API's 429: the seconds until the sliding window lets this address in again.
            let failed = FormView::failed("apply", APPLY_FIELDS, form, Vec::<FieldError>::new());
            let minutes = retry_after_secs.div_ceil(60);
            let problem = format!(
                "Too many applications came from your network recently. Please try again in {minutes} minute{}.",
                if minutes == 1 { "" } else { "s" }
            );
            let mut response = apply_form(&state, (vendor, program), failed, Some(problem), StatusCode::TOO_MANY_REQUESTS);
            response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(retry_after_secs));
            response
        }
        Err(err) => error_page(err),
    }
}

/// `GET /apply/{slug}/thanks`
async fn thanks(State(state): State<AppState>, Path(slug): Path<String>) -> Response {
    let found = match programs::find_by_slug(&state.ctx, &slug).await {
        Ok((workspace_id, program)) => workspaces::public_brand(&state.ctx, &workspace_id).await.map(|vendor| (vendor, program)),
        Err(err) => Err(err),
    };
    match found {
        Ok((vendor, program)) => render(&ThanksPage { layout: Layout::public("Thank you", vendor), program_name: program.name }),
        Err(err) => error_page(err),
    }
}

pub fn routes() -> PageRouter {
    PageRouter::new().route("/apply/{slug}", get(show_form).post(submit_form)).route("/apply/{slug}/thanks", get(thanks))
}
