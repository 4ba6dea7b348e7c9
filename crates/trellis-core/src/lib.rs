//! Pure domain types shared by every Trellis crate: public ids, validated values (email, domain,
//! currency, IBAN), roles and partner vocabulary, a page of a list, timestamps and the injectable clock, and the
//! field-level validation error. No I/O lives here; everything is constructible only through
//! parsing, so code that holds one of these values never re-checks it.

pub mod clock;
pub mod error;
pub mod id;
pub mod page;
pub mod roles;
pub mod text;
pub mod transitions;
pub mod validate;
pub mod values;

pub use clock::{Clock, ManualClock, SystemClock, Timestamp};
pub use error::{Error, Result};
pub use id::*;
pub use page::Page;
pub use roles::*;
pub use validate::{FieldError, Validation};
pub use values::{Bic, Currency, Domain, Email, Iban};

/// For the exported `string_enum!` macro.
#[doc(hidden)]
pub use serde;
