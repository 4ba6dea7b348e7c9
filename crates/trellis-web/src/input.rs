//! Text the server accepts, walked before anything reads it (issue 6, F3): every string of a JSON
//! body with its path, every form field and query parameter by name, every path segment, and the
//! headers the server reads. Each is checked with the one rule, [`trellis_core::text::check_text`];
//! a refusal is 422 naming the field, before any database call.

use axum::http::{HeaderMap, Uri};
use serde_json::Value;
use trellis_core::FieldError;
use trellis_core::text::check_text;

/// The request headers whose values the server reads as text.
pub const CHECKED_HEADERS: &[&str] = &["idempotency-key", "trellis-membership"];

/// Every refused string of a JSON document (object keys included), named by its path
/// (`name`, `addresses[0].line1`, `answers.q1`).
pub fn check_json(value: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    walk(value, String::new(), &mut errors);
    errors
}

fn walk(value: &Value, path: String, errors: &mut Vec<FieldError>) {
    match value {
        Value::String(text) => {
            if let Err(err) = check_text(&path, text) {
                errors.push(err);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk(item, format!("{path}[{i}]"), errors);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                let child = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                // A key is a name, never prose: checked as a single-line text.
                if let Err(mut err) = check_text("", key) {
                    err.field.clone_from(&child);
                    errors.push(err);
                    continue;
                }
                walk(item, child, errors);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// Every refused name or value of form fields or query parameters (a value is named by its
/// field; a refused name by itself).
pub fn check_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (name, value) in pairs {
        if let Err(mut err) = check_text("", name) {
            err.field = name.to_owned();
            errors.push(err);
        } else if let Err(err) = check_text(name, value) {
            errors.push(err);
        }
    }
    errors
}

/// The request line and headers: each percent-decoded path segment (named `path`), each query
/// parameter (named by itself) and the [`CHECKED_HEADERS`] (named by the header).
pub fn check_head(uri: &Uri, headers: &HeaderMap) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for segment in uri.path().split('/') {
        let decoded = percent_encoding::percent_decode_str(segment).decode_utf8_lossy();
        if let Err(err) = check_text("path", &decoded) {
            errors.push(err);
            break;
        }
    }
    if let Some(query) = uri.query() {
        // Unparsable query strings are the extractors' to answer.
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
        errors.extend(check_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))));
    }
    for name in CHECKED_HEADERS {
        for value in headers.get_all(*name) {
            let text = String::from_utf8_lossy(value.as_bytes());
            if let Err(mut err) = check_text("", &text) {
                err.field = (*name).to_owned();
                errors.push(err);
            }
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_are_named_by_their_path() {
        let body = serde_json::json!({
            "name": "a\u{0}b",
            "description": "two\nlines",
            "addresses": [{"line1": "ok"}, {"line1": "bell\u{7}"}],
            "answers": {"q1": "x\ny", "bad\u{1}key": "v"},
        });
        let fields: Vec<String> = check_json(&body).into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["addresses[1].line1", "answers.bad\u{1}key", "name"]);
    }

    #[test]
    fn form_fields_are_named_by_themselves() {
        let fields: Vec<String> =
            check_pairs([("name", "ok"), ("reason", "a\r\nb"), ("email", "x\u{0}"), ("q", "\t")]).into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["email", "q"]);
    }
}
