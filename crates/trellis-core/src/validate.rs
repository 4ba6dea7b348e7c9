//! Field-level validation errors, collected so that a form or an API call reports every invalid
//! field at once (API.md `validation_failed`, `errors: [{field, message}]`).

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// Collects field errors while a request is parsed into domain values.
#[derive(Debug, Default)]
pub struct Validation {
    errors: Vec<FieldError>,
}

impl Validation {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError { field: field.to_owned(), message: message.into() });
    }

    /// Keeps the parsed value, or records the error under `field` and yields `None`.
    pub fn check<T, E: std::fmt::Display>(&mut self, field: &str, result: Result<T, E>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(err) => {
                self.add(field, err.to_string());
                None
            }
        }
    }

    /// Requires a trimmed, non-empty text of at most `max` characters, without control characters
    /// (newlines and tabs only in the multi-line fields of [`crate::text::MULTILINE_FIELDS`]).
    pub fn text(&mut self, field: &str, value: &str, max: usize) -> Option<String> {
        let trimmed = value.trim();
        if let Err(err) = crate::text::check_text(field, value) {
            self.errors.push(err);
            None
        } else if trimmed.is_empty() {
            self.add(field, "must not be empty");
            None
        } else if trimmed.chars().count() > max {
            self.add(field, format!("must be at most {max} characters"));
            None
        } else {
            Some(trimmed.to_owned())
        }
    }

    /// Like [`Validation::text`] but an empty or missing value is `Ok(None)`.
    pub fn optional_text(&mut self, field: &str, value: Option<&str>, max: usize) -> Option<Option<String>> {
        match value.map(str::trim) {
            None | Some("") => Some(None),
            Some(text) => self.text(field, text, max).map(Some),
        }
    }

    /// How many errors were recorded so far (a parser compares it before and after a part).
    pub fn error_count(&self) -> usize {
        self.errors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// `Ok(())` when nothing was recorded, else every recorded error.
    pub fn finish(self) -> Result<(), Vec<FieldError>> {
        if self.errors.is_empty() { Ok(()) } else { Err(self.errors) }
    }
}
