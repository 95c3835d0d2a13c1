//! The development fixtures, loaded into a database that has none of its own yet, so a first
//! run finds operators, tags and clients to try a mailing on.

use mailing_api::fixtures::Fixtures;
use mailing_domain::store::{ApiStore, PageRequest};
use mailing_runtime::blocking;
use std::sync::Arc;

const FIXTURES: &str = include_str!("../../../fixtures/dev.json");

/// Loads the fixtures into a database that has no operator yet.
pub(crate) async fn load_on_first_start(store: Arc<dyn ApiStore>) -> anyhow::Result<()> {
    blocking::run(move || {
        let first = PageRequest {
            offset: 0,
            limit: 1,
        };
        if store.list_operators(first)?.total == 0 {
            let loaded = Fixtures::from_json(FIXTURES)?.load(store.as_ref())?;
            tracing::info!(
                operators = loaded.operators,
                tags = loaded.tags,
                clients = loaded.clients,
                client_filters = loaded.client_filters,
                "fixtures loaded on first start"
            );
        }
        Ok(())
    })
    .await
}
