//! The PostgreSQL store against a real server: every test gets its own database.

mod client_filters;
mod clients;
mod connect;
mod helpers;
mod mailings;
mod messages;
mod operators;
mod tags;
mod users;
