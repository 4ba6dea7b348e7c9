//! Control characters in text (issue 6, F3). One rule for every text the server accepts — JSON
//! strings, form fields, query parameters, path segments, the headers it reads — and for the
//! domain's own validation: no C0 control character (U+0000..U+001F) and no DEL (U+007F), except
//! that the multi-line fields listed in [`MULTILINE_FIELDS`] may contain newline, carriage return
//! and tab.
//!
//! Why: PostgreSQL refuses NUL in text (`invalid byte sequence for encoding "UTF8": 0x00`, which
//! would surface as a 500), and SQLite stores it — and BEL or a newline in a name — without a
//! word. The HTTP edges call [`check_text`] before any database call; `Validation::text` calls it
//! too, a second line of defence for callers that are not HTTP (the CLI, the demo).

use crate::validate::FieldError;

/// The fields that hold prose and may contain newlines and tabs, as paths without list indexes:
/// `name` matches the field `name` at any depth (`x.name`), `parent.name` only under `parent`, and
/// `*` matches any one segment (`answers.*` is every answer of an application).
pub const MULTILINE_FIELDS: &[&str] = &[
    // programs, onboarding steps, partner profiles
    "description",
    // agreement text
    "body",
    // rejections, tier overrides, dispute and change-request reasons
    "reason",
    // manual metric readings
    "note",
    // answers to a program's application questions (a question may be a textarea)
    "answers.*",
    // a tier's benefits in words (API `benefits.text`, console form `benefit_text`)
    "benefits.text",
    "benefit_text",
    // a CSV file sent whole (deal imports: API `csv`, console form `csv`)
    "csv",
];

/// The message of a refused text.
pub const CONTROL_CHARACTER_MESSAGE: &str = "must not contain control characters";
/// The message of a refused text in a multi-line field.
pub const MULTILINE_CONTROL_CHARACTER_MESSAGE: &str = "must not contain control characters other than newline and tab";

/// Whether `field` (a path such as `addresses[0].line1` or `answers.q1`) may hold several lines.
pub fn is_multiline(field: &str) -> bool {
    let segments: Vec<&str> = field.split('.').map(|s| s.split('[').next().unwrap_or(s)).filter(|s| !s.is_empty()).collect();
    MULTILINE_FIELDS.iter().any(|pattern| {
        let pattern: Vec<&str> = pattern.split('.').collect();
        segments.len() >= pattern.len()
            && segments[segments.len() - pattern.len()..].iter().zip(&pattern).all(|(segment, p)| *p == "*" || segment == p)
    })
}

/// Whether `c` is refused in a field (a C0 control or DEL; newline, carriage return and tab are
/// allowed when `multiline`).
fn refused(c: char, multiline: bool) -> bool {
    let control = c <= '\u{1f}' || c == '\u{7f}';
    control && !(multiline && matches!(c, '\n' | '\r' | '\t'))
}

/// The one check of text input: `Ok` when `value` has no control character `field` may not hold,
/// else the field error to answer (422).
pub fn check_text(field: &str, value: &str) -> Result<(), FieldError> {
    let multiline = is_multiline(field);
    if value.chars().any(|c| refused(c, multiline)) {
        let message = if multiline { MULTILINE_CONTROL_CHARACTER_MESSAGE } else { CONTROL_CHARACTER_MESSAGE };
        Err(FieldError { field: field.to_owned(), message: message.to_owned() })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_c0_control_and_del_is_refused_in_a_single_line_field() {
        for c in ('\u{0}'..='\u{1f}').chain(['\u{7f}']) {
            assert!(check_text("name", &format!("a{c}b")).is_err(), "{:?}", c);
        }
        assert!(check_text("name", "Ada Lovelace – ÄÖÜ 東京 🙂").is_ok());
        assert!(check_text("name", "\u{80}\u{9f}").is_ok(), "C1 controls are not C0");
    }

    #[test]
    fn multi_line_fields_take_newlines_and_tabs_but_not_nul() {
        for field in ["description", "body", "reason", "note", "answers.q1", "benefits.text", "benefit_text", "x.description"] {
            assert!(is_multiline(field), "{field}");
            assert!(check_text(field, "line 1\r\nline 2\tend").is_ok(), "{field}");
            let err = check_text(field, "a\u{0}b").expect_err("NUL is refused");
            assert_eq!((err.field.as_str(), err.message.as_str()), (field, MULTILINE_CONTROL_CHARACTER_MESSAGE));
            assert!(check_text(field, "bell\u{7}").is_err(), "{field}");
        }
        for field in ["name", "answers", "benefits", "text", "addresses[0].line1", "description_html", "q"] {
            assert!(!is_multiline(field), "{field}");
            assert!(check_text(field, "two\nlines").is_err(), "{field}");
        }
    }

    #[test]
    fn list_indexes_do_not_change_what_a_field_is() {
        assert!(is_multiline("steps[3].description"));
        assert!(is_multiline("answers.q[1]"));
        assert!(!is_multiline("addresses[0].city"));
    }
}
