//! Black-box tests of the probe simulator: each test starts its own simulator in-process on a
//! random port and talks to it over HTTP.

mod admin;
mod auth;
mod cli;
mod contract;
mod determinism;
mod faults;
mod helpers;
mod outage;
mod record;
mod replies;
