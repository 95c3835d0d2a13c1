//! The stores against real databases: every behavioural test runs on PostgreSQL and on
//! SQLite (see `backend`), each run in a database of its own.

mod access;
mod backend;
mod campaign;
mod campaign_cap;
mod client_filters;
mod client_lists;
mod clients;
mod connect;
mod heartbeats;
mod helpers;
mod idempotency;
mod imports;
mod mailings;
mod message_counts;
mod message_references;
mod message_text;
mod messages;
mod operators;
mod opt_outs;
mod pipeline;
mod pipeline_claims;
mod pipeline_expand;
mod pipeline_outbox;
mod pipeline_replan;
mod pipeline_sender;
mod reports;
mod schema_status;
mod sessions;
mod sqlite;
mod tags;
mod upgrade;
mod users;
