//! Black-box tests of the HTTP API: each test starts the application on a random port against
//! its own fresh database and talks to it over HTTP only (plus storage, to arrange messages and
//! to check that refused requests stored nothing).

mod auth;
mod helpers;
