//! Black-box tests of the HTTP API: each test starts the application on a random port against
//! its own fresh database and bus and talks to it over HTTP, reaching into storage only to
//! arrange messages (which no endpoint writes) and to check that refused requests stored
//! nothing, and into the bus to see the mailing events each change publishes. Every test runs
//! on both setups: PostgreSQL with RabbitMQ, and SQLite with the in-process bus.

#[macro_use]
mod helpers;

mod access;
mod admin;
mod attributes;
mod audit_log;
mod auth;
mod campaign;
mod client_address;
mod client_filters;
mod clients;
mod docs_and_health;
mod fuzz_findings;
mod idempotency;
mod imports;
mod inbound;
mod lists;
mod mailings;
mod malformed;
mod messages;
mod observability;
mod oidc;
mod oidc_provider;
mod operators;
mod opt_outs;
mod plain_errors;
mod reports;
mod sign_in;
mod stats;
mod tags;
mod text;
