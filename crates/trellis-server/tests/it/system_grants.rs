//! Every named system grant (the only way to open a transaction that row security does not
//! restrict, ADR 0009) is listed in docs/ARCHITECTURE.md "System context", and the table lists
//! nothing else: the crates' `SYSTEM_GRANTS` and the grants declared in the sources must both
//! equal the table's first column.

use std::collections::BTreeSet;
use std::path::Path;

const ARCHITECTURE: &str = include_str!("../../../../docs/ARCHITECTURE.md");
const SECTION: &str = "### System context";

/// The grant names of the table under "System context": the backticked first cell of each row.
fn documented() -> Vec<String> {
    let start = ARCHITECTURE.find(SECTION).expect("ARCHITECTURE.md has a System context section");
    let section = &ARCHITECTURE[start + SECTION.len()..];
    let section = &section[..section.find("\n#").unwrap_or(section.len())];
    section.lines().filter_map(|line| line.strip_prefix("| `")).map(|rest| rest.split('`').next().unwrap_or_default().to_owned()).collect()
}

/// Every crate that declares grants, with what it exports.
fn exported() -> Vec<&'static trellis_db::SystemGrant> {
    [
        trellis_identity::SYSTEM_GRANTS,
        trellis_jobs::SYSTEM_GRANTS,
        trellis_records::SYSTEM_GRANTS,
        trellis_programs::SYSTEM_GRANTS,
        trellis_deals::SYSTEM_GRANTS,
        trellis_incentives::SYSTEM_GRANTS,
        trellis_tracking::SYSTEM_GRANTS,
        trellis_leads::SYSTEM_GRANTS,
        trellis_recruitment::SYSTEM_GRANTS,
        trellis_api::SYSTEM_GRANTS,
        trellis_server::SYSTEM_GRANTS,
        trellis_testkit::SYSTEM_GRANTS,
    ]
    .concat()
}

/// The names of the grants declared in the crates' sources (each `SystemGrant` literal), so a
/// grant that a crate forgot to export is caught too.
fn declared() -> BTreeSet<String> {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut names = BTreeSet::new();
    let mut pending = vec![crates];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("read crate directory").flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("read source");
                for (at, opening) in text.match_indices("SystemGrant {") {
                    if let Some(rest) = text[at + opening.len()..].trim_start().strip_prefix("name: \"") {
                        names.insert(rest[..rest.find('"').expect("closing quote")].to_owned());
                    }
                }
            }
        }
    }
    names
}

#[test]
fn the_architecture_lists_exactly_the_system_grants_the_crates_declare() {
    let documented = documented();
    let in_table: BTreeSet<String> = documented.iter().cloned().collect();
    assert_eq!(in_table.len(), documented.len(), "a grant is listed twice in ARCHITECTURE.md: {documented:?}");

    let grants = exported();
    let exported: BTreeSet<String> = grants.iter().map(|g| g.name.to_owned()).collect();
    assert_eq!(exported.len(), grants.len(), "two grants share a name");
    for grant in &grants {
        assert!(!grant.reason.trim().is_empty(), "grant {} has no reason", grant.name);
    }

    assert_eq!(in_table, exported, "ARCHITECTURE.md \"System context\" (left) and the crates' SYSTEM_GRANTS (right) differ");
    assert_eq!(declared(), exported, "a SystemGrant is declared in the sources (left) but not in its crate's SYSTEM_GRANTS (right)");
}
