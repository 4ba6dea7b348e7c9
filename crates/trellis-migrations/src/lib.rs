//! The migrations of both backends, embedded in the binary. `migrations/sqlite` and
//! `migrations/postgres` hold the same file stems (a test checks it); each file is written by hand
//! in its dialect.

use sqlx::migrate::Migrator;

pub static SQLITE: Migrator = sqlx::migrate!("../../migrations/sqlite");
pub static POSTGRES: Migrator = sqlx::migrate!("../../migrations/postgres");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_backends_have_the_same_migration_versions_and_names() {
        let list = |m: &Migrator| m.iter().map(|x| (x.version, x.description.to_string())).collect::<Vec<_>>();
        assert_eq!(list(&SQLITE), list(&POSTGRES));
        assert!(SQLITE.iter().next().is_some());
    }
}
