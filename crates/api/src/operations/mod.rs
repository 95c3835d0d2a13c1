//! What can be done with each resource, the same whoever asks: the JSON API's handlers and the
//! admin UI's pages both call these. A module per resource holds the input it accepts (bodies
//! and queries), how that input is read into domain values, so each rule is written once and
//! names the field it concerns, and the writes that store the result; a write that stores a
//! mailing event also wakes the outbox relay.
//!
//! Reading one record by its id is here too, since both faces show one; lists are a single
//! storage call shaped by each face's own query, which each face makes itself.

pub mod api_keys;
pub mod audit_log;
pub mod client_filters;
pub mod clients;
pub mod examples;
pub mod imports;
pub mod inbound;
pub mod input;
pub mod mailings;
pub mod messages;
pub mod operators;
pub mod opt_outs;
pub mod paging;
pub mod preview;
pub mod problems;
pub mod references;
pub mod reports;
pub mod tags;
pub mod users;
