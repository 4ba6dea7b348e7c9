//! The conflict engine's matching core: normalised customer keys and an in-memory index that
//! finds the entries naming the same customer (exact domain or name, then similar names).
//! Pure: no I/O, no deal semantics (which entries are live, whose they are) — the deal service
//! keeps those beside the index.
