//! The probe simulator: a stand-in for the external SMS delivery provider ("probe") that honours
//! its contract (`POST /v1/send/{msgId}` with an HS256 bearer JWT; `docs/probe-api.yaml` at the
//! repository's root), injects the latency and failures a test or benchmark asks for, and
//! records what it delivered so the test can check it.
//!
//! The admin API under `/_sim/` takes no credentials: the simulator is a test and development
//! tool and must never be exposed beyond the network of the tests or the developer.

pub mod arrivals;
pub mod faults;
pub mod record;
pub mod replies;
pub mod routes;
pub mod settings;
pub mod startup;
pub mod state;
pub mod token;

pub use settings::{DEV_JWT_SECRET, SimSettings};
pub use startup::Simulator;
pub use state::SimState;
