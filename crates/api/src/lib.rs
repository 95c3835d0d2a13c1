//! The integrator-facing HTTP API of the mailing service: operators, tags, clients, client
//! filters, mailings, messages and statistics under `/api/v1`, with roles, access tokens, API
//! keys and an audit log of every change, an OpenAPI document and Swagger UI; the admin web UI under `/admin` for people who work in a
//! browser; and `/healthz`, `/readyz` and `/metrics` for operators.
//!
//! The JSON handlers and the admin pages both hand what they were sent to [`operations`], which
//! reads it into domain values and calls storage through the domain's repository traits;
//! nothing here sees the database library.

pub mod admin;
pub mod audit;
pub mod auth;
pub mod client_address;
pub mod error;
pub mod error_codes;
pub mod extract;
pub mod fixtures;
pub mod health;
pub mod idempotency;
pub mod observe;
pub mod openapi;
pub mod operations;
pub mod outbox;
pub mod prepare;
pub mod routes;
pub mod startup;
pub mod state;
