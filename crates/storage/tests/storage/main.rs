//! The PostgreSQL store against a real server: every test gets its own database.

mod client_filters;
mod clients;
mod connect;
mod helpers;
mod mailings;
mod messages;
mod operators;
mod pipeline;
mod pipeline_claims;
mod pipeline_expand;
mod pipeline_outbox;
mod pipeline_replan;
mod pipeline_sender;
mod sqlite_basics;
mod sqlite_store;
mod tags;
mod users;
