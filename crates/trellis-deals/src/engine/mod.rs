//! The conflict engine's matching core: normalised customer keys and an in-memory index that
//! finds the entries naming the same customer (exact domain or name, then similar names).
//! Pure: no I/O, no deal semantics (which entries are live, whose they are) — the deal service
//! keeps those beside the index.
//!
//! The flow (docs: DESIGN.md "Hot paths", deal conflict check): [`CustomerKeys::new`] normalises
//! what was typed; [`Index::find`] looks up the exact keys, then gathers fuzzy candidates through
//! blocking keys (the query's words, their one-edit neighbours, acronyms) and scores them with a
//! rarity-weighted token-set similarity built on Jaro-Winkler (`similarity.rs`), lowered when the
//! countries or the domains differ; a similar name is reported only near the query's best name
//! match, because at a million names most names have one-letter neighbours that are other
//! companies. [`Index::extend`] loads many entries at once (two threads).
//! [`synthetic`] generates the labelled accounts and queries that the accuracy test and
//! `bench/conflicts.sh` measure it with.

mod index;
mod normalise;
mod similarity;
pub mod synthetic;

#[cfg(test)]
mod accuracy_tests;

pub use index::Index;
pub use normalise::{CustomerKeys, country_key, domain_key, email_domain_key, normalise_name};
pub use similarity::{ACRONYM_SCORE, DIFFERENT_COUNTRY_PENALTY, acronym};

/// The score at or above which a similar name is reported: the accuracy test and the benchmark
/// measure recall and precision at this value (typos and reorders score above it, different
/// companies sharing generic words below).
pub const DEFAULT_SIMILARITY_THRESHOLD: f64 = 0.88;

/// Why an entry was found; the deal service words its conflict notice after it, and a reviewer
/// weighs an exact domain more than a similar name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MatchKind {
    /// The same registrable domain (website or business email).
    SameDomain,
    /// The same normalised name.
    SameName,
    /// A similar name: a typo, reordered words, an acronym.
    SimilarName,
}

/// One entry naming (probably) the same customer as the query.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Match<K> {
    /// The entry's id as the deal service inserted it.
    pub id: K,
    /// The strongest reason it was found.
    pub kind: MatchKind,
    /// How alike the two are, 0..=1: 1.0 for an exact key, less for a similar name or when the
    /// countries differ.
    pub score: f64,
}
