//! The conflict engine's matching core: normalised customer keys and an in-memory index that
//! finds the entries naming the same customer (exact domain or name, then similar names).
//! Pure: no I/O, no deal semantics (which entries are live, whose they are) — the deal service
//! keeps those beside the index.
//!
//! Interim exact-key version while the full matcher (suffixes, diacritics, fuzzy blocking) is
//! being written on its own branch (issue 9).

use std::collections::{HashMap, HashSet};
use std::hash::Hash;

pub const DEFAULT_SIMILARITY_THRESHOLD: f64 = 0.88;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerKeys {
    pub name_key: String,
    pub domain: Option<String>,
    pub country: Option<String>,
}

impl CustomerKeys {
    pub fn new(name: &str, domain_or_website: Option<&str>, email: Option<&str>, country: Option<&str>) -> Self {
        let domain = domain_or_website.and_then(domain_key).or_else(|| email.and_then(email_domain_key));
        Self { name_key: normalise_name(name), domain, country: country.and_then(country_key) }
    }
}

pub fn normalise_name(name: &str) -> String {
    name.to_lowercase().split(|c: char| !c.is_alphanumeric()).filter(|t| !t.is_empty()).collect::<Vec<_>>().join(" ")
}

pub fn domain_key(website_or_domain: &str) -> Option<String> {
    let text = website_or_domain.trim().to_lowercase();
    let text = text.split("://").last().unwrap_or_default();
    let host = text.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit('@').next().unwrap_or_default().split(':').next().unwrap_or_default();
    let host = host.strip_prefix("www.").unwrap_or(host);
    (host.contains('.') && !host.starts_with('.')).then(|| host.to_owned())
}

pub fn email_domain_key(email: &str) -> Option<String> {
    let (_, domain) = email.rsplit_once('@')?;
    domain_key(domain).filter(|d| !["gmail.com", "outlook.com", "hotmail.com", "yahoo.com"].contains(&d.as_str()))
}

pub fn country_key(country: &str) -> Option<String> {
    let code = country.trim().to_uppercase();
    (code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase())).then_some(code)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchKind {
    SameDomain,
    SameName,
    SimilarName,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Match<K> {
    pub id: K,
    pub kind: MatchKind,
    pub score: f64,
}

pub struct Index<K> {
    keys: HashMap<K, CustomerKeys>,
    by_name: HashMap<String, HashSet<K>>,
    by_domain: HashMap<String, HashSet<K>>,
}

impl<K: Copy + Eq + Hash> Default for Index<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Copy + Eq + Hash> Index<K> {
    pub fn new() -> Self {
        Self { keys: HashMap::new(), by_name: HashMap::new(), by_domain: HashMap::new() }
    }

    pub fn insert(&mut self, id: K, keys: &CustomerKeys) {
        self.remove(id);
        self.by_name.entry(keys.name_key.clone()).or_default().insert(id);
        if let Some(domain) = &keys.domain {
            self.by_domain.entry(domain.clone()).or_default().insert(id);
        }
        self.keys.insert(id, keys.clone());
    }

    pub fn remove(&mut self, id: K) {
        if let Some(keys) = self.keys.remove(&id) {
            if let Some(ids) = self.by_name.get_mut(&keys.name_key) {
                ids.remove(&id);
            }
            if let Some(domain) = &keys.domain
                && let Some(ids) = self.by_domain.get_mut(domain)
            {
                ids.remove(&id);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn find(&self, keys: &CustomerKeys, _threshold: f64, limit: usize) -> Vec<Match<K>> {
        let mut out: Vec<Match<K>> = Vec::new();
        if let Some(domain) = &keys.domain {
            for id in self.by_domain.get(domain).into_iter().flatten() {
                out.push(Match { id: *id, kind: MatchKind::SameDomain, score: 1.0 });
            }
        }
        for id in self.by_name.get(&keys.name_key).into_iter().flatten() {
            if !out.iter().any(|m| m.id == *id) {
                out.push(Match { id: *id, kind: MatchKind::SameName, score: 1.0 });
            }
        }
        out.truncate(limit);
        out
    }
}
