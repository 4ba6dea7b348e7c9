//! `Sql`: a statement and its bound values, built once for both backends. Static statements use
//! `$1…$n` placeholders; dynamic ones (filters) append fragments with [`Sql::push`] and bind values
//! with [`Sql::bind`], which returns the next `$n`. Values are always bound, never spliced in.

use std::borrow::Cow;

use crate::value::{ToValue, Value};

#[derive(Debug, Clone)]
pub struct Sql {
    pub(crate) text: Cow<'static, str>,
    pub(crate) params: Vec<Value>,
}

impl Sql {
    /// A statement with its parameters in `$1…$n` order.
    pub fn new(text: &'static str, params: Vec<Value>) -> Self {
        Self { text: Cow::Borrowed(text), params }
    }

    /// Starts a statement that will be extended with `push`/`bind`.
    pub fn build(start: &'static str) -> Self {
        Self { text: Cow::Borrowed(start), params: Vec::new() }
    }

    /// Appends SQL text written in our code (never input).
    pub fn push(&mut self, fragment: &str) -> &mut Self {
        self.text.to_mut().push_str(fragment);
        self
    }

    /// Binds a value and returns its placeholder (`$n`) without appending it.
    pub fn bind(&mut self, value: impl ToValue) -> String {
        self.params.push(value.to_value());
        format!("${}", self.params.len())
    }

    /// SQLite only: binds a value and appends the anonymous placeholder `?`, which takes the
    /// values in order of appearance. Every placeholder of such a statement must be `?`. Worth it
    /// for statements of thousands of values: SQLite finds a numbered parameter's name by a
    /// linear scan, so binding `$1…$n` costs O(n²) (measured: the click writer, ADR 0021).
    pub fn push_bind_anonymous(&mut self, value: impl ToValue) -> &mut Self {
        self.params.push(value.to_value());
        self.push("?")
    }

    /// Binds a value and appends its placeholder.
    pub fn push_bind(&mut self, value: impl ToValue) -> &mut Self {
        let placeholder = self.bind(value);
        self.push(&placeholder)
    }

    /// Appends `(… $a, $b …)` binding every value; an empty list becomes `(NULL)`, which matches
    /// nothing in an `IN`.
    pub fn push_in_list<T: ToValue>(&mut self, values: &[T]) -> &mut Self {
        if values.is_empty() {
            return self.push("(NULL)");
        }
        let placeholders: Vec<String> = values.iter().map(|v| self.bind(v)).collect();
        self.push("(");
        self.push(&placeholders.join(", "));
        self.push(")")
    }

    pub fn text(&self) -> &str {
        &self.text
    }
}

/// Builds a [`Sql`] from a static statement and its parameters: `sql!("… $1 …", id)`.
#[macro_export]
macro_rules! sql {
    ($text:literal $(, $param:expr)* $(,)?) => {
        $crate::Sql::new($text, vec![$($crate::ToValue::to_value(&$param)),*])
    };
}
