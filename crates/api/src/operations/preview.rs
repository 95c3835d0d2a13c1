//! A mailing's preview before it is saved: the clients it would reach now, its text rendered
//! for each of them and counted in SMS parts, what that costs at each operator's price, and the
//! warnings saving it would give. The JSON API and the admin UI's mailing form both show it.

use crate::error::ApiError;
use crate::operations::client_filters;
use crate::operations::mailings::{self, MailingInput, MailingWarning, Reach};
use crate::state::AppState;
use chrono::Utc;
use mailing_domain::preview::{Cost, Tally};
use mailing_domain::store::{ApiStore, FilterSource, PageRequest, StoreError};
use mailing_domain::{ClientFilter, ClientId, OperatorCode, Price, Segments, Template};
use std::collections::HashMap;

/// Clients read per query while a preview walks its recipients.
const CLIENTS_PER_READ: u32 = 5_000;

/// What a mailing would send if it were saved now.
pub struct MailingPreview {
    pub tally: Tally,
    pub cost: Cost,
    /// The text with each variable's fallback in its place, counted: what the form's counter
    /// shows.
    pub text: Segments,
    /// Whether the text shows something of each client.
    pub has_variables: bool,
    pub warnings: Vec<MailingWarning>,
}

/// Previews the mailing `input` describes, checked as creating it would be (a problem is the
/// same 422), without storing anything.
pub async fn preview(state: &AppState, input: MailingInput) -> Result<MailingPreview, ApiError> {
    let draft = input.parse(state, Utc::now()).await?;
    let filter = match draft.filter {
        FilterSource::Inline(filter) => filter,
        FilterSource::Saved(id) => client_filters::get(state, id).await?.filter,
    };
    let template = Template::parse(draft.text.as_str())
        .unwrap_or_else(|_| Template::literal(draft.text.as_str()));
    let (tally, prices) = {
        let template = template.clone();
        state
            .run(move |store| Ok((tally(store, &filter, &template)?, prices(store)?)))
            .await?
    };
    // The walk over the clients gives what saving would count for its warnings as well.
    let now = Utc::now();
    let reach = Reach {
        zones: tally.by_zone.iter().map(|(zone, n)| (*zone, *n)).collect(),
        lacking: template
            .attributes_without_fallback()
            .into_iter()
            .map(|key| {
                let lacking = tally.missing.get(&key).copied().unwrap_or(0);
                (key, lacking)
            })
            .collect(),
    };
    let status = draft.schedule.status(now, false, false);
    let warnings = mailings::warnings_of(status, &draft.schedule, reach, now);
    Ok(MailingPreview {
        cost: tally.cost(&prices),
        text: Segments::of(&template.with_fallbacks()),
        has_variables: template.has_variables(),
        tally,
        warnings,
    })
}

/// Renders the text for every client `filter` matches, a batch of clients at a time.
fn tally(
    store: &dyn ApiStore,
    filter: &ClientFilter,
    template: &Template,
) -> Result<Tally, StoreError> {
    let mut tally = Tally::default();
    let mut after: Option<ClientId> = None;
    loop {
        let clients = store.matching_clients_after(filter, after, CLIENTS_PER_READ)?;
        let full = clients.len() == CLIENTS_PER_READ as usize;
        after = clients.last().map(|client| client.id);
        for client in clients {
            tally.add(template, client);
        }
        if !full {
            return Ok(tally);
        }
    }
}

/// Every operator's price per part, where one is set.
fn prices(store: &dyn ApiStore) -> Result<HashMap<OperatorCode, Price>, StoreError> {
    const PER_PAGE: u32 = 500;
    let mut prices = HashMap::new();
    let mut offset = 0;
    loop {
        let page = store.list_operators(PageRequest {
            offset,
            limit: PER_PAGE,
        })?;
        let read = page.items.len();
        prices.extend(
            page.items
                .into_iter()
                .filter_map(|operator| Some((operator.code, operator.price_per_segment?))),
        );
        offset += read as u64;
        if read < PER_PAGE as usize || offset >= page.total {
            return Ok(prices);
        }
    }
}
