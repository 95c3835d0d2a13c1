//! The repository traits, written once for both backends.
//!
//! This module has no place of its own in the crate: `pg` and `sqlite` each include it with
//! `#[path]`, so it is compiled twice, and every name below resolves against the including
//! backend. One file per resource; a trait's statements are written with diesel's query
//! builder wherever the backends agree, which type-checks them against each backend's schema.
//! What the backends do differently is asked of the names imported here:
//! - `BackendStore`: the store the traits are implemented for, with its `read` and `write`
//!   transactions; `Backend` and `Conn`: diesel's backend type and the connection a
//!   transaction body gets;
//! - `schema`: the tables, with the same names and columns on both backends;
//! - `dialect`: the stored form of string lists, the clock rows are stamped with, row locks
//!   and the bind parameter limit;
//! - `pipeline`: the delivery pipeline's bulk statements (claims, expansion, replanning,
//!   batched renewals and outcomes) and the other reads of filter lists, which each backend
//!   writes in its own SQL.

use super::{Backend, BackendStore, Conn, dialect, pipeline, schema};
// How each backend stores an import's JSON report.
use super::imports as imports_dialect;

mod access_tokens;
mod api_keys;
mod audit;
mod campaign;
mod client_filters;
mod clients;
mod heartbeats;
mod idempotency;
mod imports;
mod mailings;
mod messages;
mod operators;
mod opt_outs;
mod outbox;
mod reports;
mod scheduler;
mod sender;
mod sessions;
mod sign_in_attempts;
mod tags;
mod users;
