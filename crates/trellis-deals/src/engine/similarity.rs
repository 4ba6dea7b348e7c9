//! How alike two names are, word by word: Jaro-Winkler between words that are at most an edit
//! or two apart, rarity weights so that a shared generic word ("solutions", "group") counts for
//! little and a differing distinctive word for a lot, and the acronym of a name.
//!
//! Why not Jaro-Winkler over the whole name: names sharing a long generic tail ("Vojura Logistik"
//! and "Wojuxa Logistik") score above 0.88 and would flag unrelated companies; weighting words by
//! rarity keeps those apart while typos and reordered words still score near 1.

/// An acronym shared by more entries than this (in the query's country, when it has one) is no
/// evidence for any of them and is not reported.
pub const MAX_ACRONYM_MATCHES: usize = 2;

/// Score of an acronym against the name it abbreviates ("IBM" and "International Business
/// Machines"): above the default threshold, below any exact key.
pub const ACRONYM_SCORE: f64 = 0.9;

/// Subtracted when both sides name a country and they differ: a same-named company in another
/// country is often another company (and, once, when both name a domain and they differ: two
/// registrations giving different websites are probably different companies). An exact name
/// lands on the default threshold (so it is still shown), a similar name (at most 0.99) below it;
/// an exact domain is not lowered.
pub const DIFFERENT_COUNTRY_PENALTY: f64 = 0.12;

/// Words shorter than this are not expanded to their one-edit neighbours ("ab", "de" have too
/// many), and are left out of nothing else.
pub(crate) const MIN_FUZZY_WORD_CHARS: usize = 3;

/// How many edits (optimal string alignment: insertion, deletion, substitution, transposition)
/// a word may be away from a query word and still be its neighbour, given the longer one's
/// length: one for short words, two from six characters (a second typo in a longer word leaves
/// it recognisable; the weighted score then decides, and a five-letter word with two typos is
/// another word).
pub(crate) fn max_edits(chars: usize) -> usize {
    if chars >= 6 { 2 } else { 1 }
}

/// The similarity of a query word and an indexed word that blocking found within
/// [`max_edits`]: Jaro-Winkler, which forgives a typo late in a word more than an early one.
pub(crate) fn word_similarity(query: &str, word: &str) -> f64 {
    strsim::jaro_winkler(query, word)
}

/// Whether `word` is within [`max_edits`] of `query`.
pub(crate) fn is_neighbour(query: &str, word: &str) -> bool {
    let (a, b) = (query.chars().count(), word.chars().count());
    let edits = max_edits(a.max(b));
    a.abs_diff(b) <= edits && strsim::osa_distance(query, word) <= edits
}

/// The rarity weight of a word found in `df` of `n` entries (inverse document frequency): a word
/// in every entry weighs ln 2, a word in one entry of a million about 14.
pub(crate) fn rarity(n: usize, df: usize) -> f64 {
    (1.0 + n.max(1) as f64 / df.max(1) as f64).ln()
}

/// Words an acronym leaves out ("Bank of America" is "BOA").
const ACRONYM_SKIPS: &[&str] = &["and", "of", "the", "und", "et", "de", "der", "la", "le", "y"];

/// The acronym of a normalised name, when it has at least three words that count: two letters
/// ("HP", "GE") match too many unrelated names to be evidence.
pub fn acronym<'a>(words: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let letters: String = words.into_iter().filter(|w| !ACRONYM_SKIPS.contains(w)).filter_map(|w| w.chars().next()).collect();
    (letters.chars().count() >= 3).then_some(letters)
}

/// Whether a one-word name may be an acronym: three to six letters.
pub(crate) fn may_be_acronym(word: &str) -> bool {
    (3..=6).contains(&word.chars().count()) && word.chars().all(char::is_alphabetic)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbours_are_one_edit_away_or_two_in_long_words() {
        assert!(is_neighbour("kavelr", "kavelor"));
        assert!(is_neighbour("kaevlor", "kavelor"));
        assert!(!is_neighbour("kovar", "kuvat"));
        assert!(is_neighbour("norhten", "northern"));
        assert!(is_neighbour("logisitkx", "logistik"));
        assert!(!is_neighbour("logistik", "logic"));
    }

    #[test]
    fn acronyms_skip_small_words_and_need_three_letters() {
        assert_eq!(acronym(["international", "business", "machines"]).as_deref(), Some("ibm"));
        assert_eq!(acronym(["bank", "of", "america"]), None);
        assert_eq!(acronym(["hewlett", "packard"]), None);
        assert!(may_be_acronym("ibm"));
        assert!(!may_be_acronym("ib"));
        assert!(!may_be_acronym("siemens"));
    }

    #[test]
    fn rare_words_weigh_more() {
        assert!(rarity(1_000_000, 1) > 13.0);
        assert!(rarity(1_000_000, 100_000) < 2.5);
    }
}
