// `embed_migrations!` reads the migration files at compile time, but cargo only watches Rust
// sources: without this, adding a migration would not rebuild the crate and the binary would
// silently ship the old schema.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations/postgres");
    println!("cargo:rerun-if-changed=../../migrations/sqlite");
}
