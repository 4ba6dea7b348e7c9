//! Reading forms and query strings, and what a form shows: the values to fill in (after a failed
//! submission, what the person typed) and each field's error, rendered next to the field with
//! `aria-invalid` and `aria-describedby` (WCAG 3.3.1, 3.3.3).
//!
//! Bodies and query strings are read as name/value pairs rather than into structs so that
//! checkbox groups (repeated names) work and a missing or mistyped field becomes an error shown on
//! the form, not a bare rejection.

use std::str::FromStr;

use axum::extract::{Form, FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::response::Response;
use trellis_core::{Error, FieldError};

use crate::pages::error_page;

/// The name/value pairs of a submitted form or a query string, in order.
#[derive(Debug, Clone, Default)]
pub struct FormData {
    pairs: Vec<(String, String)>,
}

impl FormData {
    /// Name/value pairs read some other way (the text fields of a multipart form).
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        Self { pairs }
    }

    /// The first value of `name`, or "" when absent.
    pub fn value(&self, name: &str) -> &str {
        self.pairs.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
    }

    /// The first value of `name`, trimmed, when not blank.
    pub fn optional(&self, name: &str) -> Option<&str> {
        Some(self.value(name).trim()).filter(|v| !v.is_empty())
    }

    /// Every value of `name` (a checkbox group).
    pub fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.pairs.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The entries of a list field (tag boxes, a multiple select): every value of `name`, each
    /// split at commas, semicolons and newlines (a list pasted into one box), trimmed, blanks
    /// dropped.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.values(name).flat_map(|v| v.split([',', ';', '\n'])).map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned).collect()
    }

    /// Whether a checkbox named `name` was ticked.
    pub fn is_checked(&self, name: &str) -> bool {
        self.pairs.iter().any(|(k, _)| k == name)
    }

    pub fn csrf_token(&self) -> &str {
        self.value("csrf_token")
    }

    // The readers below fail only for values the form never offered (a hand-edited request), so
    // they stop at the first problem; what a person can get wrong is checked by the domain
    // services, which report every field at once.

    /// A required choice (a select or a radio group).
    pub fn choice<T>(&self, name: &str, parse: impl Fn(&str) -> Option<T>) -> Result<T, Error> {
        parse(self.value(name)).ok_or_else(|| not_offered(name))
    }

    /// Every ticked value of a checkbox group.
    pub fn choices<T>(&self, name: &str, parse: impl Fn(&str) -> Option<T>) -> Result<Vec<T>, Error> {
        self.values(name).map(|v| parse(v).ok_or_else(|| not_offered(name))).collect()
    }

    /// An optional id from a select; the blank option means none.
    pub fn optional_id<T: FromStr>(&self, name: &str) -> Result<Option<T>, Error> {
        self.optional(name).map(|v| v.parse().map_err(|_| not_offered(name))).transpose()
    }
}

fn not_offered(name: &str) -> Error {
    Error::invalid(name, "is not one of the offered choices")
}

impl FormData {
    /// 422 naming every field whose name or value holds a control character it may not
    /// (`trellis_core::text`; newlines only in the multi-line fields), before anything reads it.
    pub fn check_text(&self) -> Result<(), Response> {
        let refused = trellis_web::input::check_pairs(self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        if refused.is_empty() { Ok(()) } else { Err(error_page(Error::Validation(refused))) }
    }
}

/// Reads a urlencoded form body as pairs: 413 when larger than the body limit, an error page when
/// unreadable, 422 when a field holds a control character.
async fn read_pairs<S: Send + Sync>(req: Request, state: &S) -> Result<FormData, Response> {
    let html = crate::pages::wants_html(req.headers());
    let form = match Form::<Vec<(String, String)>>::from_request(req, state).await {
        Ok(Form(pairs)) => FormData { pairs },
        Err(err) if err.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => return Err(crate::pages::payload_too_large(html)),
        Err(_) => return Err(error_page(Error::invalid("form", "could not be read; reload the page and try again"))),
    };
    form.check_text()?;
    Ok(form)
}

impl<S: Send + Sync> FromRequest<S> for FormData {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        read_pairs(req, state).await
    }
}

/// A form read into a struct (pages with a fixed set of fields), after the same checks as
/// [`FormData`].
pub struct PageForm<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for PageForm<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let form = read_pairs(req, state).await?;
        serde_urlencoded::to_string(&form.pairs)
            .ok()
            .and_then(|encoded| serde_urlencoded::from_str(&encoded).ok())
            .map(PageForm)
            .ok_or_else(|| error_page(Error::invalid("form", "could not be read; reload the page and try again")))
    }
}

/// The query string of a page request, as pairs.
pub struct UrlQuery(pub FormData);

impl<S: Send + Sync> FromRequestParts<S> for UrlQuery {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<Vec<(String, String)>>::from_request_parts(parts, state).await {
            Ok(Query(pairs)) => {
                let query = FormData { pairs };
                query.check_text()?;
                Ok(Self(query))
            }
            Err(_) => Err(error_page(Error::NotFound)),
        }
    }
}

/// One form as a page shows it. `prefix` makes element ids unique when a page has several forms.
#[derive(Debug, Clone)]
pub struct FormView {
    prefix: &'static str,
    values: FormData,
    errors: Vec<FieldError>,
    /// The fields the form displays; errors about other fields are listed above the form.
    fields: &'static [&'static str],
}

impl FormView {
    /// A blank form.
    pub fn new(prefix: &'static str, fields: &'static [&'static str]) -> Self {
        Self { prefix, values: FormData::default(), errors: Vec::new(), fields }
    }

    /// A form filled with current values (an edit form).
    pub fn filled(prefix: &'static str, fields: &'static [&'static str], values: Vec<(&str, String)>) -> Self {
        let pairs = values.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        Self { prefix, values: FormData { pairs }, errors: Vec::new(), fields }
    }

    /// The form again after a failed submission: the submitted values and the errors.
    pub fn failed(prefix: &'static str, fields: &'static [&'static str], submitted: FormData, errors: Vec<FieldError>) -> Self {
        Self { prefix, values: submitted, errors, fields }
    }

    /// The element id of field `name`.
    pub fn id(&self, name: impl AsRef<str>) -> String {
        format!("{}-{}", self.prefix, name.as_ref())
    }

    pub fn value(&self, name: impl AsRef<str>) -> &str {
        self.values.value(name.as_ref())
    }

    /// Whether `value` is among the values of `name` (a ticked checkbox, a selected option).
    pub fn has(&self, name: impl AsRef<str>, value: impl AsRef<str>) -> bool {
        self.values.values(name.as_ref()).any(|v| v == value.as_ref())
    }

    /// The boxes of a list field: its non-blank values, then `blanks` empty boxes for more.
    pub fn tag_values(&self, name: impl AsRef<str>, blanks: usize) -> Vec<String> {
        let mut values: Vec<String> = self.values.values(name.as_ref()).filter(|v| !v.trim().is_empty()).map(str::to_owned).collect();
        values.extend(std::iter::repeat_n(String::new(), blanks));
        values
    }

    pub fn error(&self, name: impl AsRef<str>) -> Option<&str> {
        self.errors.iter().find(|e| e.field == name.as_ref()).map(|e| e.message.as_str())
    }

    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// Errors about fields the form does not display, as sentences.
    pub fn other_errors(&self) -> Vec<String> {
        self.errors
            .iter()
            .filter(|e| !self.fields.contains(&e.field.as_str()))
            .map(|e| if e.field.is_empty() { e.message.clone() } else { format!("{}: {}", e.field.replace('_', " "), e.message) })
            .collect()
    }
}

/// The errors a form shows for a failed submission: the field errors of a validation failure, and
/// a conflict (such as "already a member") placed at `conflict_field`. Any other error is a page
/// of its own.
pub fn field_errors(err: Error, conflict_field: &str) -> Result<Vec<FieldError>, Error> {
    match err {
        Error::Validation(errors) => Ok(errors),
        Error::Conflict(message) => Ok(vec![FieldError { field: conflict_field.to_owned(), message }]),
        other => Err(other),
    }
}

/// An option of a select, a radio group or a checkbox group.
#[derive(Debug, Clone)]
pub struct Choice {
    pub value: String,
    pub label: String,
}

impl Choice {
    /// The options of a string enum (roles, types, statuses): the code as value, in words as label.
    pub fn all_of<T: Copy>(values: &[T], code: impl Fn(T) -> &'static str) -> Vec<Choice> {
        values.iter().map(|v| Choice { value: code(*v).to_owned(), label: crate::display::words(code(*v)) }).collect()
    }
}
