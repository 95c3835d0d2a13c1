//! Loads a fixture file (operators, tags, clients, saved client filters) through the storage
//! interface. Loading twice changes nothing: records that already exist are left as they are.

use crate::operations::client_filters::FilterInput;
use anyhow::{Context as _, bail};
use mailing_domain::store::{
    ApiStore, NewClient, NewOperator, NewSavedFilter, NewTag, PageRequest, Rejection, StoreError,
};
use mailing_domain::{OperatorCode, OperatorName, PhoneNumber, Price, TagValue, TimeZone};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixtures {
    #[serde(default)]
    operators: Vec<OperatorFixture>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    clients: Vec<ClientFixture>,
    #[serde(default)]
    client_filters: Vec<FilterFixture>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OperatorFixture {
    code: String,
    name: String,
    /// A decimal string such as "0.45".
    #[serde(default)]
    price_per_segment: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientFixture {
    phone_number: String,
    operator_code: String,
    #[serde(default)]
    tags: Vec<String>,
    time_zone: String,
    #[serde(default)]
    attributes: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FilterFixture {
    name: String,
    #[serde(default)]
    operator_codes: Vec<String>,
    #[serde(default)]
    tags: Vec<String>,
}

/// What a load created.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Loaded {
    pub operators: usize,
    pub tags: usize,
    pub clients: usize,
    pub client_filters: usize,
}

impl Fixtures {
    pub fn from_json(text: &str) -> anyhow::Result<Self> {
        serde_json::from_str(text).context("reading the fixture file")
    }

    pub fn load(&self, store: &dyn ApiStore) -> anyhow::Result<Loaded> {
        let mut loaded = Loaded::default();
        for op in &self.operators {
            let new = NewOperator {
                code: OperatorCode::parse(&op.code).context("operator code")?,
                name: OperatorName::parse(&op.name).context("operator name")?,
                price_per_segment: op
                    .price_per_segment
                    .as_deref()
                    .map(Price::parse)
                    .transpose()
                    .context("operator price_per_segment")?,
            };
            loaded.operators += created(
                store.create_operator(&new),
                Rejection::DuplicateOperatorCode,
            )?;
        }
        for value in &self.tags {
            let new = NewTag {
                value: TagValue::parse(value).context("tag value")?,
            };
            loaded.tags += created(store.create_tag(&new), Rejection::DuplicateTag)?;
        }
        for client in &self.clients {
            let new = NewClient {
                phone: PhoneNumber::parse(&client.phone_number).context("client phone_number")?,
                operator_code: OperatorCode::parse(&client.operator_code)
                    .context("client operator_code")?,
                tags: client
                    .tags
                    .iter()
                    .map(|t| TagValue::parse(t))
                    .collect::<Result<_, _>>()
                    .context("client tags")?,
                time_zone: TimeZone::parse(&client.time_zone).context("client time_zone")?,
                attributes: match &client.attributes {
                    Some(json) => {
                        mailing_domain::Attributes::from_json(json).map_err(|problems| {
                            anyhow::anyhow!("client attributes: {}", problems[0])
                        })?
                    }
                    None => mailing_domain::Attributes::default(),
                },
            };
            loaded.clients += created(store.create_client(&new), Rejection::DuplicatePhone)?;
        }
        let existing = saved_filter_names(store)?;
        for fixture in &self.client_filters {
            if existing.contains(&fixture.name) {
                continue;
            }
            let mut problems = crate::operations::problems::Problems::default();
            let body = FilterInput::new(fixture.operator_codes.clone(), fixture.tags.clone());
            let Some(filter) = body.parse("", &mut problems) else {
                bail!("client filter {:?} is invalid: {problems:?}", fixture.name);
            };
            store.create_client_filter(&NewSavedFilter {
                name: Some(fixture.name.clone()),
                filter,
            })?;
            loaded.client_filters += 1;
        }
        Ok(loaded)
    }
}

/// 1 if the record was created, 0 if `duplicate` says it existed already.
fn created<T>(result: Result<T, StoreError>, duplicate: Rejection) -> anyhow::Result<usize> {
    match result {
        Ok(_) => Ok(1),
        Err(StoreError::Rejected(rejection)) if rejection == duplicate => Ok(0),
        Err(error) => Err(error.into()),
    }
}

fn saved_filter_names(store: &dyn ApiStore) -> anyhow::Result<Vec<String>> {
    let mut names = vec![];
    let mut offset = 0;
    loop {
        let page = store.list_client_filters(PageRequest { offset, limit: 500 })?;
        let count = page.items.len() as u64;
        names.extend(page.items.into_iter().filter_map(|f| f.name));
        offset += count;
        if count == 0 || offset >= page.total {
            return Ok(names);
        }
    }
}
