//! `sqlx::migrate!` reads the migration folders at compile time; without this, a new migration
//! file would not rebuild the crate and a stale binary would silently lack it.

fn main() {
    println!("cargo:rerun-if-changed=../../migrations/sqlite");
    println!("cargo:rerun-if-changed=../../migrations/postgres");
}
