//! The in-memory index of customer keys: exact maps (domain, normalised name, acronym), a
//! vocabulary of words with the sorted slots of the entries using each, and the words' one-edit
//! deletion neighbourhood (SymSpell-style, over the first [`NEAR_PREFIX`] characters) so that a
//! typo inside a word still finds the word.
//!
//! Memory is what bounds it at a million entries: an entry keeps its words as vocabulary ids and
//! its domain as a 64-bit hash (never its strings), and hashed keys map to a slot inline, with a
//! list only for keys that several entries share ([`Buckets`]).

use std::collections::HashMap;
use std::collections::hash_map::Entry as MapEntry;
use std::hash::{BuildHasherDefault, Hash, Hasher};

use super::similarity::{
    ACRONYM_SCORE, DIFFERENT_COUNTRY_PENALTY, MAX_ACRONYM_MATCHES, MIN_FUZZY_WORD_CHARS, acronym, is_neighbour, max_edits, may_be_acronym,
    rarity, word_similarity,
};
use super::{CustomerKeys, Match, MatchKind};

/// A word's deletion neighbourhood covers its first characters only: a typo further in leaves
/// that prefix intact (so the prefix itself matches), and a word then has at most this many plus
/// one keys (memory at a million entries).
const NEAR_PREFIX: usize = 7;

/// About how many distinct deletion keys an entry adds to the index (measured on the synthetic
/// accounts: 5.6 at a million), for [`Index::with_capacity`].
const NEAR_KEYS_PER_ENTRY: usize = 6;

/// A word used by more entries than this is frequent ("solutions", "group", "gmbh" if it were
/// kept): its entries are not gathered one by one, only intersected with another word's when the
/// query has nothing rarer — so a frequent word never makes the candidate list explode.
const FREQUENT_WORD: usize = 1_000;

/// At most this many candidates are scored per query (the rarest words' entries first), which
/// bounds the check's latency whatever the data.
const MAX_CANDIDATES: usize = 2_000;

/// A similar name scoring this much below the best name match of the query (an exact name, or
/// the most similar one) is not reported: at a million names most names have neighbours one
/// letter away that are other companies ("Rapro Beratung", "Raprot Beratung"), and the name
/// typed is nearer to the one it means than to those. One edit in a word of five to eight
/// letters costs its Jaro-Winkler about 0.05-0.1, weighted by that word's share of the name.
const AMBIGUITY_MARGIN: f64 = 0.03;

/// A hasher for keys that are already hashes (or small integers): the maps of hashed strings do
/// not run SipHash twice, only a cheap finaliser.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        // The splitmix64 finaliser: the table takes its bucket from the low bits and its control
        // byte from the high ones, so every bit must depend on every input bit.
        let mut x = self.0;
        x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        x ^ (x >> 31)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    // A key of several fields (an id type of the deal service) writes several times: each write
    // is mixed into the state rather than replacing it.
    fn write_u32(&mut self, n: u32) {
        self.0 = (self.0 ^ u64::from(n)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type KeyMap<Q, V> = HashMap<Q, V, BuildHasherDefault<KeyHasher>>;

/// Multiplies and folds the 128-bit product (the mixing step of wyhash-like hashes).
fn fold(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    (product as u64) ^ ((product >> 64) as u64)
}

const HASH_SEED: u64 = 0x243F_6A88_85A3_08D3;
const HASH_MULTIPLIER: u64 = 0x9E37_79B9_7F4A_7C15;

/// The 64-bit hash a string is stored under: eight bytes per multiply (SipHash cost most of the
/// build at a million entries). Fixed, so stable within a run (the index is rebuilt at start,
/// never persisted); a collision only puts two keys in one bucket, which every lookup then tells
/// apart by the entry's text.
fn hash_str(text: &str) -> u64 {
    let bytes = text.as_bytes();
    let mut hash = HASH_SEED ^ bytes.len() as u64;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        hash = fold(hash ^ u64::from_le_bytes(word), HASH_MULTIPLIER);
    }
    let rest = chunks.remainder();
    let mut word = [0u8; 8];
    word[..rest.len()].copy_from_slice(rest);
    fold(hash ^ u64::from_le_bytes(word), HASH_MULTIPLIER ^ 0xff)
}

/// A word's first [`NEAR_PREFIX`] characters, on the stack (the deletion keys are computed for
/// every new word at build and for every query word).
struct Prefix {
    chars: [char; NEAR_PREFIX],
    len: usize,
}

impl Prefix {
    fn of(word: &str) -> Self {
        let mut chars = ['\0'; NEAR_PREFIX];
        let mut len = 0;
        for (slot, c) in chars.iter_mut().zip(word.chars()) {
            *slot = c;
            len += 1;
        }
        Prefix { chars, len }
    }

    /// The 32-bit key of the prefix without the characters at `skip` (a deletion-neighbourhood
    /// key; `usize::MAX` skips nothing): it depends only on the characters kept, so one word's
    /// prefix without two characters meets another's without one. 32 bits keep the largest map
    /// small, and a collision only adds a candidate word that [`is_neighbour`] then rejects.
    fn key(&self, skip: [usize; 2]) -> u32 {
        let mut hash = HASH_SEED;
        for (i, c) in self.chars[..self.len].iter().enumerate() {
            if !skip.contains(&i) {
                hash = fold(hash ^ u64::from(u32::from(*c)), HASH_MULTIPLIER);
            }
        }
        fold(hash ^ 0xff, HASH_MULTIPLIER) as u32
    }
}

const NO_SKIP: usize = usize::MAX;

/// Calls `f` with each deletion-neighbourhood key of a word: its prefix, and the prefix without
/// each one of its characters.
fn near_keys(word: &str, mut f: impl FnMut(u32)) {
    let prefix = Prefix::of(word);
    f(prefix.key([NO_SKIP; 2]));
    for skip in 0..prefix.len {
        f(prefix.key([skip, NO_SKIP]));
    }
}

/// Calls `f` with the keys a query word probes: its own deletion neighbourhood and, for a word
/// long enough to allow two edits, its prefix without two characters (which meets an indexed
/// word's one-deletion key when the typos were two insertions, or an insertion and a
/// substitution, early in the word).
fn probe_keys(word: &str, mut f: impl FnMut(u32)) {
    near_keys(word, &mut f);
    if max_edits(word.chars().count()) < 2 {
        return;
    }
    let prefix = Prefix::of(word);
    for first in 0..prefix.len {
        for second in first + 1..prefix.len {
            f(prefix.key([first, second]));
        }
    }
}

/// The tag of a [`Buckets`] value that indexes a shared list rather than holding the one value.
const LIST_TAG: u32 = 1 << 31;

/// Values (slots or word ids, below 2^31) under a hashed key. Most keys have one value, stored
/// inline; a key with several points at a sorted list (`LIST_TAG | index`: values mostly arrive
/// in increasing order, so building appends), and emptied lists are reused.
struct Buckets<Q> {
    map: KeyMap<Q, u32>,
    lists: Vec<Vec<u32>>,
    free_lists: Vec<u32>,
}

impl<Q: Copy + Eq + Hash> Buckets<Q> {
    fn with_capacity(keys: usize) -> Self {
        Buckets { map: KeyMap::with_capacity_and_hasher(keys, BuildHasherDefault::default()), lists: Vec::new(), free_lists: Vec::new() }
    }

    fn get(&self, key: Q) -> &[u32] {
        match self.map.get(&key) {
            None => &[],
            Some(v) if v & LIST_TAG != 0 => &self.lists[(v & !LIST_TAG) as usize],
            Some(v) => std::slice::from_ref(v),
        }
    }

    fn insert(&mut self, key: Q, value: u32) {
        match self.map.entry(key) {
            MapEntry::Vacant(e) => {
                e.insert(value);
            }
            MapEntry::Occupied(mut e) => {
                let held = *e.get();
                if held & LIST_TAG != 0 {
                    let list = &mut self.lists[(held & !LIST_TAG) as usize];
                    if let Err(at) = list.binary_search(&value) {
                        list.insert(at, value);
                    }
                } else if held != value {
                    let list = if held < value { vec![held, value] } else { vec![value, held] };
                    let at = match self.free_lists.pop() {
                        Some(at) => {
                            self.lists[at as usize] = list;
                            at
                        }
                        None => {
                            self.lists.push(list);
                            (self.lists.len() - 1) as u32
                        }
                    };
                    e.insert(LIST_TAG | at);
                }
            }
        }
    }

    fn remove(&mut self, key: Q, value: u32) {
        let MapEntry::Occupied(mut e) = self.map.entry(key) else { return };
        let held = *e.get();
        if held & LIST_TAG == 0 {
            if held == value {
                e.remove();
            }
            return;
        }
        let at = held & !LIST_TAG;
        let list = &mut self.lists[at as usize];
        if let Ok(found) = list.binary_search(&value) {
            list.remove(found);
        }
        if let [single] = list[..] {
            e.insert(single);
            self.lists[at as usize] = Vec::new();
            self.free_lists.push(at);
        }
    }
}

/// A distinct word of the indexed names and the sorted slots of the entries that use it (stale
/// words with no entries stay: they cost a few bytes and match nothing).
struct Word {
    text: Box<str>,
    slots: Vec<u32>,
}

/// One indexed customer: its words as vocabulary ids in name order, the hash of its domain, its
/// country code.
struct Entry<K> {
    id: K,
    words: Box<[u32]>,
    domain: Option<u64>,
    country: Option<[u8; 2]>,
}

/// The index of customer keys by id (see the module comment for its layout, [`Index::find`] for
/// the matching).
pub struct Index<K> {
    entries: Vec<Option<Entry<K>>>,
    free_slots: Vec<u32>,
    slot_of: KeyMap<K, u32>,
    by_name: Buckets<u64>,
    by_domain: Buckets<u64>,
    by_acronym: Buckets<u64>,
    word_ids: Buckets<u64>,
    words: Vec<Word>,
    near: Buckets<u32>,
}

impl<K: Copy + Eq + Hash> Default for Index<K> {
    fn default() -> Self {
        Self::new()
    }
}

/// A query word and the indexed words it may stand for, each with its similarity.
struct QueryWord<'q> {
    text: &'q str,
    exact: Option<u32>,
    matches: Vec<(u32, f64)>,
    weight: f64,
}

impl<K: Copy + Eq + Hash> Index<K> {
    /// An empty index.
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// An empty index sized for about `entries` entries, so that loading them does not grow
    /// (and rehash) every map several times over: at a million entries that was a third of the
    /// build.
    pub fn with_capacity(entries: usize) -> Self {
        Index {
            entries: Vec::with_capacity(entries),
            free_slots: Vec::new(),
            slot_of: KeyMap::with_capacity_and_hasher(entries, BuildHasherDefault::default()),
            by_name: Buckets::with_capacity(entries),
            by_domain: Buckets::with_capacity(entries),
            by_acronym: Buckets::with_capacity(entries / 4),
            word_ids: Buckets::with_capacity(entries),
            words: Vec::with_capacity(entries),
            // Most entries bring a new distinctive word, with its prefix and up to seven
            // one-deletion keys, many of them shared.
            near: Buckets::with_capacity(entries * NEAR_KEYS_PER_ENTRY),
        }
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.slot_of.len()
    }

    /// Whether the index has no entry.
    pub fn is_empty(&self) -> bool {
        self.slot_of.is_empty()
    }

    /// Adds the keys of `id`, replacing the entry of that id if there is one (a registration
    /// whose customer was edited).
    pub fn insert(&mut self, id: K, keys: &CustomerKeys) {
        self.remove(id);
        let slot = match self.free_slots.pop() {
            Some(slot) => slot,
            None => {
                self.entries.push(None);
                (self.entries.len() - 1) as u32
            }
        };
        let words: Box<[u32]> = keys.name_key.split(' ').filter(|w| !w.is_empty()).map(|w| self.intern(w)).collect();
        for &word in words.iter() {
            let slots = &mut self.words[word as usize].slots;
            if let Err(at) = slots.binary_search(&slot) {
                slots.insert(at, slot);
            }
        }
        self.by_name.insert(hash_str(&keys.name_key), slot);
        let domain = keys.domain.as_deref().map(hash_str);
        if let Some(domain) = domain {
            self.by_domain.insert(domain, slot);
        }
        if let Some(acronym) = acronym(self.texts(&words)) {
            self.by_acronym.insert(hash_str(&acronym), slot);
        }
        let country = keys.country.as_deref().and_then(country_code);
        self.entries[slot as usize] = Some(Entry { id, words, domain, country });
        self.slot_of.insert(id, slot);
    }

    /// Adds many entries, as [`Index::insert`] of each in turn would (a later one of an id
    /// replacing the earlier), faster: the entries and their words are added first, then the
    /// new words' deletion neighbourhoods on a second thread while this one adds the exact keys
    /// (the two touch different maps). Loading a workspace's or the benchmark's million entries.
    pub fn extend<'k>(&mut self, items: impl IntoIterator<Item = (K, &'k CustomerKeys)>) {
        let items: Vec<(K, &CustomerKeys)> = items.into_iter().collect();
        let mut seen: KeyMap<K, ()> = KeyMap::with_capacity_and_hasher(items.len(), BuildHasherDefault::default());
        if !items.iter().all(|(id, _)| !self.slot_of.contains_key(id) && seen.insert(*id, ()).is_none()) {
            // Replacements: their old keys must leave every map first, one by one.
            for (id, keys) in items {
                self.insert(id, keys);
            }
            return;
        }
        drop(seen);
        let first_new_word = self.words.len();
        let mut added: Vec<(u32, K, &CustomerKeys)> = Vec::with_capacity(items.len());
        for (id, keys) in items {
            let slot = match self.free_slots.pop() {
                Some(slot) => slot,
                None => {
                    self.entries.push(None);
                    (self.entries.len() - 1) as u32
                }
            };
            let words: Box<[u32]> = keys.name_key.split(' ').filter(|w| !w.is_empty()).map(|w| self.intern_word(w)).collect();
            for &word in words.iter() {
                let slots = &mut self.words[word as usize].slots;
                if let Err(at) = slots.binary_search(&slot) {
                    slots.insert(at, slot);
                }
            }
            let domain = keys.domain.as_deref().map(hash_str);
            let country = keys.country.as_deref().and_then(country_code);
            self.entries[slot as usize] = Some(Entry { id, words, domain, country });
            added.push((slot, id, keys));
        }
        let Index { entries, slot_of, by_name, by_domain, by_acronym, words, near, .. } = self;
        let words = &*words;
        std::thread::scope(|scope| {
            scope.spawn(|| {
                for (id, word) in words.iter().enumerate().skip(first_new_word) {
                    index_near_keys(near, &word.text, id as u32);
                }
            });
            for &(slot, id, keys) in &added {
                by_name.insert(hash_str(&keys.name_key), slot);
                let Some(entry) = entries[slot as usize].as_ref() else { continue };
                if let Some(domain) = entry.domain {
                    by_domain.insert(domain, slot);
                }
                if let Some(acronym) = acronym(entry.words.iter().map(|&w| &*words[w as usize].text)) {
                    by_acronym.insert(hash_str(&acronym), slot);
                }
                slot_of.insert(id, slot);
            }
        });
    }

    /// Removes the entry of `id`, if any.
    pub fn remove(&mut self, id: K) {
        let Some(slot) = self.slot_of.remove(&id) else { return };
        let Some(entry) = self.entries[slot as usize].take() else { return };
        for &word in entry.words.iter() {
            let slots = &mut self.words[word as usize].slots;
            if let Ok(at) = slots.binary_search(&slot) {
                slots.remove(at);
            }
        }
        self.by_name.remove(hash_str(&self.name_of(&entry.words)), slot);
        if let Some(domain) = entry.domain {
            self.by_domain.remove(domain, slot);
        }
        if let Some(acronym) = acronym(self.texts(&entry.words)) {
            self.by_acronym.remove(hash_str(&acronym), slot);
        }
        self.free_slots.push(slot);
    }

    /// Entries naming the same customer: the same domain, the same normalised name, then similar
    /// names gathered through the query's words and their one-edit neighbours (and unambiguous
    /// acronyms), scored by [`Index::similarity`] and lowered by [`DIFFERENT_COUNTRY_PENALTY`]
    /// when the countries or the domains differ; those at or above `threshold`, the strongest kind
    /// first and then the best score, at most `limit`. A similar name is reported only within
    /// [`AMBIGUITY_MARGIN`] of the best name match. An entry appears once, with its strongest
    /// kind.
    pub fn find(&self, keys: &CustomerKeys, threshold: f64, limit: usize) -> Vec<Match<K>> {
        let mut found: KeyMap<u32, (MatchKind, f64)> = KeyMap::default();
        let country = keys.country.as_deref().and_then(country_code);
        let domain = keys.domain.as_deref().map(hash_str);
        if let Some(domain) = domain {
            for &slot in self.by_domain.get(domain) {
                if self.entry(slot).is_some_and(|e| e.domain == Some(domain)) {
                    found.insert(slot, (MatchKind::SameDomain, 1.0));
                }
            }
        }
        let penalty = |e: &Entry<K>| penalty(country, e.country, domain, e.domain);
        let query = self.query_words(&keys.name_key);
        let mut record = |slot: u32, kind: MatchKind, score: f64| {
            if score >= threshold {
                let held = found.entry(slot).or_insert((kind, score));
                if (kind_rank(kind), score) > (kind_rank(held.0), held.1) {
                    *held = (kind, score);
                }
            }
        };
        let mut best = f64::MIN;
        for &slot in self.by_name.get(hash_str(&keys.name_key)) {
            if let Some(entry) = self.entry(slot).filter(|e| self.name_of(&e.words) == keys.name_key) {
                let score = 1.0 - penalty(entry);
                best = best.max(score);
                record(slot, MatchKind::SameName, score);
            }
        }
        let similar: Vec<(u32, f64)> = self
            .candidates(&query)
            .into_iter()
            .filter_map(|slot| self.entry(slot).map(|entry| (slot, self.similarity(&query, entry) - penalty(entry))))
            .filter(|&(_, score)| score >= threshold)
            .collect();
        best = similar.iter().map(|&(_, score)| score).fold(best, f64::max);
        for (slot, score) in similar {
            if score >= best - AMBIGUITY_MARGIN {
                record(slot, MatchKind::SimilarName, score);
            }
        }
        // An acronym shared by many entries (in the query's country, when it has one) is no
        // evidence for any one of them: only a nearly unambiguous one is reported.
        let plausible = |e: &Entry<K>| country.is_none() || e.country.is_none() || e.country == country;
        if let [word] = &query[..]
            && may_be_acronym(word.text)
        {
            let slots: Vec<u32> = self
                .by_acronym
                .get(hash_str(word.text))
                .iter()
                .copied()
                .filter(|&slot| {
                    self.entry(slot).is_some_and(|e| plausible(e) && acronym(self.texts(&e.words)).as_deref() == Some(word.text))
                })
                .collect();
            if slots.len() <= MAX_ACRONYM_MATCHES {
                for slot in slots {
                    record(slot, MatchKind::SimilarName, ACRONYM_SCORE);
                }
            }
        }
        if let Some(acronym) = acronym(query.iter().map(|w| w.text)) {
            let slots: Vec<u32> = self
                .by_name
                .get(hash_str(&acronym))
                .iter()
                .copied()
                .filter(|&slot| self.entry(slot).is_some_and(|e| plausible(e) && self.name_of(&e.words) == acronym))
                .collect();
            if slots.len() <= MAX_ACRONYM_MATCHES {
                for slot in slots {
                    record(slot, MatchKind::SimilarName, ACRONYM_SCORE);
                }
            }
        }
        let mut matches: Vec<Match<K>> =
            found.into_iter().filter_map(|(slot, (kind, score))| self.entry(slot).map(|e| Match { id: e.id, kind, score })).collect();
        matches.sort_by(|a, b| kind_rank(b.kind).cmp(&kind_rank(a.kind)).then(b.score.total_cmp(&a.score)));
        matches.truncate(limit);
        matches
    }

    fn entry(&self, slot: u32) -> Option<&Entry<K>> {
        self.entries.get(slot as usize).and_then(Option::as_ref)
    }

    /// The vocabulary id of a word, added (with its deletion neighbourhood) if new.
    fn intern(&mut self, text: &str) -> u32 {
        let count = self.words.len();
        let id = self.intern_word(text);
        if self.words.len() > count {
            index_near_keys(&mut self.near, text, id);
        }
        id
    }

    /// The vocabulary id of a word, added if new but without its deletion neighbourhood (the
    /// caller adds it: [`Index::intern`] at once, [`Index::extend`] on another thread).
    fn intern_word(&mut self, text: &str) -> u32 {
        let key = hash_str(text);
        if let Some(&id) = self.word_ids.get(key).iter().find(|&&id| *self.words[id as usize].text == *text) {
            return id;
        }
        let id = self.words.len() as u32;
        self.words.push(Word { text: text.into(), slots: Vec::new() });
        self.word_ids.insert(key, id);
        id
    }

    fn word_id(&self, text: &str) -> Option<u32> {
        self.word_ids.get(hash_str(text)).iter().copied().find(|&id| *self.words[id as usize].text == *text)
    }

    fn texts<'a>(&'a self, words: &'a [u32]) -> impl Iterator<Item = &'a str> + 'a {
        words.iter().map(|&w| &*self.words[w as usize].text)
    }

    fn name_of(&self, words: &[u32]) -> String {
        self.texts(words).collect::<Vec<_>>().join(" ")
    }

    /// The rarity weight of an indexed word among the current entries.
    fn weight(&self, word: u32) -> f64 {
        rarity(self.len(), self.words[word as usize].slots.len())
    }

    /// The distinct words of a normalised name, each with the indexed words it may stand for:
    /// itself if indexed, and its indexed neighbours within a typo or two. A word the index does
    /// not know weighs like the rarest (it is evidence against every candidate lacking it), a
    /// word it knows weighs by its rarity.
    fn query_words<'q>(&self, name_key: &'q str) -> Vec<QueryWord<'q>> {
        let mut out: Vec<QueryWord<'q>> = Vec::new();
        for text in name_key.split(' ').filter(|w| !w.is_empty()) {
            if out.iter().any(|w| w.text == text) {
                continue;
            }
            let exact = self.word_id(text);
            let mut matches: Vec<(u32, f64)> = exact.map(|id| (id, 1.0)).into_iter().collect();
            if text.chars().count() >= MIN_FUZZY_WORD_CHARS {
                probe_keys(text, |k| {
                    for &id in self.near.get(k) {
                        if Some(id) != exact && !matches.iter().any(|(m, _)| *m == id) {
                            let word = &self.words[id as usize].text;
                            if is_neighbour(text, word) {
                                matches.push((id, word_similarity(text, word)));
                            }
                        }
                    }
                });
            }
            let weight = match exact {
                Some(id) => self.weight(id),
                None => rarity(self.len(), 1),
            };
            out.push(QueryWord { text, exact, matches, weight });
        }
        out
    }

    /// The entries worth scoring: those of every non-frequent word the query may contain, the
    /// rarest words first, at most [`MAX_CANDIDATES`]; when all of the query's words are
    /// frequent, the entries having both of its two rarest words.
    fn candidates(&self, query: &[QueryWord<'_>]) -> Vec<u32> {
        let mut lists: Vec<&[u32]> =
            query.iter().flat_map(|w| w.matches.iter().map(|&(id, _)| &self.words[id as usize].slots[..])).collect();
        lists.sort_by_key(|l| l.len());
        let mut out: Vec<u32> = Vec::new();
        let mut any_rare = false;
        for list in lists.iter().filter(|l| l.len() <= FREQUENT_WORD) {
            any_rare = true;
            if out.len() + list.len() > MAX_CANDIDATES {
                break;
            }
            out.extend_from_slice(list);
        }
        if !any_rare {
            let mut frequent: Vec<&[u32]> = query.iter().filter_map(|w| w.exact).map(|id| &self.words[id as usize].slots[..]).collect();
            frequent.sort_by_key(|l| l.len());
            if let [a, b, ..] = frequent[..] {
                out = b.iter().copied().filter(|slot| a.binary_search(slot).is_ok()).take(MAX_CANDIDATES).collect();
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// How alike the query's name and an entry's are: the rarity-weighted share of the query's
    /// words found in the entry (each scoring its best Jaro-Winkler against the entry's words
    /// within a typo or two, 0 when none is), averaged with the same share from the entry's side.
    /// Word order does not matter; a differing rare word costs much, a differing generic one little.
    fn similarity(&self, query: &[QueryWord<'_>], entry: &Entry<K>) -> f64 {
        let columns = entry.words.len();
        let mut table = vec![0.0; query.len() * columns];
        for (i, w) in query.iter().enumerate() {
            for (j, &word) in entry.words.iter().enumerate() {
                table[i * columns + j] = match w.matches.iter().find(|(m, _)| *m == word) {
                    Some((_, s)) => *s,
                    // A neighbour that blocking missed (two edits early in the word): found here
                    // because another word brought the entry.
                    None if w.exact.is_none() => {
                        let text = &self.words[word as usize].text;
                        if is_neighbour(w.text, text) { word_similarity(w.text, text) } else { 0.0 }
                    }
                    None => 0.0,
                };
            }
        }
        let (mut forward, mut forward_total) = (0.0, 0.0);
        for (i, w) in query.iter().enumerate() {
            forward += w.weight * table[i * columns..(i + 1) * columns].iter().copied().fold(0.0, f64::max);
            forward_total += w.weight;
        }
        let (mut backward, mut backward_total) = (0.0, 0.0);
        for (j, &word) in entry.words.iter().enumerate() {
            let weight = self.weight(word);
            backward += weight * (0..query.len()).map(|i| table[i * columns + j]).fold(0.0, f64::max);
            backward_total += weight;
        }
        if forward_total == 0.0 || backward_total == 0.0 {
            return 0.0;
        }
        (forward / forward_total + backward / backward_total) / 2.0
    }
}

/// Adds a new word's deletion neighbourhood (words too short to have fuzzy neighbours have none).
fn index_near_keys(near: &mut Buckets<u32>, text: &str, id: u32) {
    if text.chars().count() >= MIN_FUZZY_WORD_CHARS {
        near_keys(text, |k| near.insert(k, id));
    }
}

/// The strength of a match's kind, for keeping the strongest and ordering the results.
fn kind_rank(kind: MatchKind) -> u8 {
    match kind {
        MatchKind::SameDomain => 3,
        MatchKind::SameName => 2,
        MatchKind::SimilarName => 1,
    }
}

/// The two bytes of an ISO alpha-2 code as [`CustomerKeys`] holds it.
fn country_code(code: &str) -> Option<[u8; 2]> {
    <[u8; 2]>::try_from(code.as_bytes()).ok()
}

/// The score lost when both sides have a country and they differ, or both have a domain and they
/// differ (two registrations naming different websites are probably different companies). Lost
/// once when both differ: an exact name then still lands on the default threshold.
fn penalty(query: Option<[u8; 2]>, entry: Option<[u8; 2]>, query_domain: Option<u64>, entry_domain: Option<u64>) -> f64 {
    fn differ<T: PartialEq>(query: Option<T>, entry: Option<T>) -> bool {
        matches!((query, entry), (Some(q), Some(e)) if q != e)
    }
    if differ(query, entry) || differ(query_domain, entry_domain) { DIFFERENT_COUNTRY_PENALTY } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::DEFAULT_SIMILARITY_THRESHOLD as T;

    fn keys(name: &str, website: Option<&str>, country: Option<&str>) -> CustomerKeys {
        CustomerKeys::new(name, website, None, country)
    }

    fn index(names: &[(u32, &str, Option<&str>, Option<&str>)]) -> Index<u32> {
        let mut index = Index::new();
        for &(id, name, website, country) in names {
            index.insert(id, &keys(name, website, country));
        }
        index
    }

    fn sample() -> Index<u32> {
        index(&[
            (1, "Kavelor Logistik GmbH", Some("kavelor.de"), Some("DE")),
            (2, "Vojura Logistik GmbH", Some("vojura.de"), Some("DE")),
            (3, "International Business Machines Corporation", Some("ibm.com"), Some("US")),
            (4, "Müller & Schmidt Maschinenbau AG", None, Some("DE")),
            (5, "Nordic Data Solutions AB", None, Some("SE")),
            (6, "Nordic Data Systems AB", None, Some("SE")),
            (7, "Brightwater Analytics Ltd", Some("brightwater.co.uk"), Some("GB")),
        ])
    }

    fn ids(matches: &[Match<u32>]) -> Vec<(u32, MatchKind)> {
        matches.iter().map(|m| (m.id, m.kind)).collect()
    }

    #[test]
    fn the_same_domain_matches_whatever_the_name_and_country() {
        let found = sample().find(&keys("Totally Different", Some("https://www.kavelor.de/impressum"), Some("FR")), T, 10);
        assert_eq!(ids(&found), [(1, MatchKind::SameDomain)]);
        assert_eq!(found[0].score, 1.0);
    }

    #[test]
    fn the_same_name_after_normalising_matches_exactly() {
        let found = sample().find(&keys("KAVELOR LOGISTIK, G.m.b.H.", None, Some("Germany")), T, 10);
        assert_eq!(ids(&found), [(1, MatchKind::SameName)]);
        assert_eq!(found[0].score, 1.0);
    }

    #[test]
    fn a_typo_finds_a_similar_name_and_not_its_neighbour() {
        let found = sample().find(&keys("Kavelro Logistik", None, Some("DE")), T, 10);
        assert_eq!(ids(&found), [(1, MatchKind::SimilarName)]);
        assert!(found[0].score > 0.9 && found[0].score < 1.0);
        assert_eq!(ids(&sample().find(&keys("Brigthwatre Analytics", None, None), T, 10)), [(7, MatchKind::SimilarName)]);
    }

    #[test]
    fn reordered_words_score_as_the_same_name() {
        let found = sample().find(&keys("Schmidt und Müller Maschinenbau", None, None), T, 10);
        assert_eq!(ids(&found), [(4, MatchKind::SimilarName)]);
        let found = sample().find(&keys("Logistik Kavelor", None, None), T, 10);
        assert_eq!(ids(&found), [(1, MatchKind::SimilarName)]);
        assert!(found[0].score > 0.99);
    }

    #[test]
    fn an_acronym_finds_the_name_it_abbreviates_both_ways() {
        assert_eq!(ids(&sample().find(&keys("IBM", None, None), T, 10)), [(3, MatchKind::SimilarName)]);
        let mut index = sample();
        index.insert(8, &keys("NDS Inc", None, Some("SE")));
        assert_eq!(
            ids(&index.find(&keys("Nordic Data Solutions", None, None), T, 10))[..],
            [(5, MatchKind::SameName), (8, MatchKind::SimilarName)]
        );
    }

    #[test]
    fn a_different_country_lowers_a_similar_name_below_the_threshold_but_not_an_exact_one() {
        assert!(sample().find(&keys("Kavelro Logistik", None, Some("AT")), T, 10).is_empty());
        let found = sample().find(&keys("Kavelor Logistik", None, Some("AT")), T, 10);
        assert_eq!(ids(&found), [(1, MatchKind::SameName)]);
        assert!((found[0].score - (1.0 - DIFFERENT_COUNTRY_PENALTY)).abs() < 1e-9);
    }

    #[test]
    fn different_companies_sharing_generic_words_do_not_match() {
        assert!(sample().find(&keys("Wojuxa Logistik", None, Some("DE")), T, 10).is_empty());
        assert_eq!(ids(&sample().find(&keys("Nordic Data Solutions", None, None), T, 10)), [(5, MatchKind::SameName)]);
    }

    #[test]
    fn removing_and_replacing_entries_updates_every_key() {
        let mut index = sample();
        assert_eq!(index.len(), 7);
        index.remove(1);
        index.remove(1);
        assert_eq!(index.len(), 6);
        assert!(index.find(&keys("Kavelor Logistik", Some("kavelor.de"), None), T, 10).is_empty());
        index.insert(3, &keys("Kavelor Logistik", Some("kavelor.de"), Some("DE")));
        assert_eq!(index.len(), 6);
        assert_eq!(ids(&index.find(&keys("Kavelor Logistik", None, None), T, 10)), [(3, MatchKind::SameName)]);
        assert!(index.find(&keys("IBM", Some("ibm.com"), None), T, 10).is_empty());
        index.insert(9, &keys("Kavelor Logistik", None, Some("DE")));
        let found = ids(&index.find(&keys("Kavelor Logistik", Some("kavelor.de"), None), T, 10));
        assert_eq!(found, [(3, MatchKind::SameDomain), (9, MatchKind::SameName)]);
    }

    #[test]
    fn extending_finds_what_inserting_one_by_one_finds() {
        let names = [
            (1, "Kavelor Logistik GmbH", Some("kavelor.de"), Some("DE")),
            (2, "International Business Machines Corporation", Some("ibm.com"), Some("US")),
            (3, "Nordic Data Solutions AB", None, Some("SE")),
            (2, "Brightwater Analytics Ltd", Some("brightwater.co.uk"), Some("GB")),
        ];
        let all: Vec<(u32, CustomerKeys)> = names.iter().map(|&(id, n, w, c)| (id, keys(n, w, c))).collect();
        for batches in [&all[..3], &all[..]] {
            let mut extended = Index::new();
            extended.extend(batches.iter().map(|(id, k)| (*id, k)));
            let one_by_one = index(&names[..batches.len()]);
            assert_eq!(extended.len(), one_by_one.len());
            for query in ["Kavelro Logistik", "IBM", "Data Nordic Solutions", "Brigthwater Analytics", "ibm.com"] {
                let query = keys(query, query.contains('.').then_some(query), None);
                assert_eq!(ids(&extended.find(&query, T, 10)), ids(&one_by_one.find(&query, T, 10)));
            }
        }
        let mut extended = sample();
        extended.extend(all.iter().map(|(id, k)| (*id + 100, k)));
        assert_eq!(extended.len(), 10);
        assert_eq!(ids(&extended.find(&keys("Kavelor Logistik", Some("kavelor.de"), None), T, 10)).len(), 2);
    }

    #[test]
    fn the_limit_keeps_the_strongest() {
        let mut index = Index::new();
        for id in 0..20 {
            index.insert(id, &keys("Kavelor Logistik", None, None));
        }
        assert_eq!(index.find(&keys("Kavelor Logistik", None, None), T, 5).len(), 5);
    }

    #[test]
    fn frequent_words_alone_still_find_a_typo() {
        let mut index = Index::new();
        for id in 0..5_000u32 {
            let name = match id % 3 {
                0 => "Global Data Solutions",
                1 => "Global Solutions",
                _ => "Data Solutions",
            };
            index.insert(id, &keys(&format!("{name} {id}"), None, None));
        }
        index.insert(9_999, &keys("Global Data Solutions Group", None, None));
        let found = index.find(&keys("Global Data Solutoins Group", None, None), T, 10);
        assert_eq!(found.first().map(|m| m.id), Some(9_999));
    }
}
