//! The api under load: requests per second and latency percentiles of reading a mailing's
//! statistics (a million messages, and a hundred), listing clients (by page number, the first
//! page, a deep page by cursor, and filtered by tag, operator, phone prefix and attribute) and
//! creating them, with the load client of this crate on the deployment the expansion scenario
//! prepared.

use super::expansion::{Prepared, SMALL_MAILING};
use super::{MemoryRecord, progress};
use crate::cli::Options;
use crate::load::{self, Load, LoadResult};
use crate::procfs::{CpuMeter, CpuShare};
use mailing_e2e::Setup;
use serde::Serialize;
use serde_json::json;
use std::time::Duration;

const WARMUP: Duration = Duration::from_secs(1);
/// Phones of created clients: `791` and eight digits, apart from generated clients (`790`)
/// and the small mailing's (`792`). Each run takes its own block.
const CREATED_PER_RUN_BLOCK: u64 = 10_000_000;

/// One endpoint measured at one concurrency.
#[derive(Debug, Clone, Serialize)]
pub struct Phase {
    /// Short name, stable across versions of the benchmark (`stats_big_1`, ...).
    pub name: String,
    pub request: String,
    pub result: LoadResult,
    pub cpu: Vec<CpuShare>,
}

/// The phases of one run.
#[derive(Debug, Clone, Serialize)]
pub struct ApiRun {
    pub run: u32,
    pub big_mailing_messages: i64,
    pub phases: Vec<Phase>,
}

/// Clients given an attribute for the attribute-filtered list: one in this many of the
/// generated ones, spread over the whole table.
const ATTRIBUTE_EVERY: i64 = 100;
/// How many clients get the attribute, through the API, before the list phases.
const ATTRIBUTE_HOLDERS: i64 = 2_000;

/// What each phase requests.
#[derive(Clone)]
enum Request {
    Stats {
        mailing: i64,
        messages: i64,
    },
    ListClients {
        page_size: u32,
    },
    /// One page of the client list with this query, the same at every request.
    ListQuery {
        query: String,
    },
    CreateClient {
        first_phone: u64,
    },
}

/// Gives clients spread over the table the attribute `city=Kazan` and returns how many took
/// it, then a cursor deep into the list: the page after the clients numbered `7900090…`, 90 %
/// of the way through a million generated clients.
async fn prepare_lists(http: &reqwest::Client, base: &str, token: &str) -> (i64, Option<String>) {
    let mut held = 0;
    for i in 0..ATTRIBUTE_HOLDERS {
        let id = 1 + i * ATTRIBUTE_EVERY;
        let response = http
            .patch(format!("{base}/api/v1/clients/{id}"))
            .bearer_auth(token)
            .json(&json!({"attributes": {"city": "Kazan"}}))
            .send()
            .await;
        if response.is_ok_and(|r| r.status().is_success()) {
            held += 1;
        }
    }
    let deep: Option<serde_json::Value> = match http
        .get(format!(
            "{base}/api/v1/clients?page_size=1&phone_prefix=7900090"
        ))
        .bearer_auth(token)
        .send()
        .await
    {
        Ok(response) => response.json().await.ok(),
        Err(_) => None,
    };
    let cursor = deep.and_then(|page| page["next_cursor"].as_str().map(str::to_owned));
    (held, cursor)
}

/// Runs every phase once on the prepared deployment.
pub async fn run_once(options: &Options, setup: Setup, prepared: &Prepared, run: u32) -> ApiRun {
    let api = prepared.deployment.cluster.api();
    let base = api.base_url().to_owned();
    let token = api.token().to_owned();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(options.api_connections as usize)
        .timeout(Duration::from_secs(60))
        .build()
        .expect("an HTTP client");
    let connections = options.api_connections;
    let big = prepared.big_messages;
    let big_stats = Request::Stats {
        mailing: prepared.big_mailing,
        messages: big,
    };
    let created_from = 79_100_000_000 + u64::from(run - 1) * CREATED_PER_RUN_BLOCK;
    progress(
        setup,
        "api",
        run,
        "giving clients an attribute, finding a deep cursor",
    );
    let (holders, deep_cursor) = prepare_lists(&http, &base, &token).await;
    let list = |query: String| Request::ListQuery { query };
    let mut list_phases = vec![
        ("list_first_50", list("page_size=50".to_owned())),
        ("list_tag_50", list("page_size=50&tag=Important".to_owned())),
        (
            "list_operator_50",
            list("page_size=50&operator_code=mts".to_owned()),
        ),
        (
            "list_prefix_50",
            list("page_size=50&phone_prefix=790005".to_owned()),
        ),
        (
            "list_attribute_50",
            list("page_size=50&attr.city=Kazan".to_owned()),
        ),
    ];
    if let Some(cursor) = deep_cursor {
        list_phases.insert(
            1,
            (
                "list_deep_50",
                list(format!("page_size=50&cursor={cursor}")),
            ),
        );
    }
    let list_phases = list_phases.into_iter().flat_map(|(name, request)| {
        [
            (format!("{name}_1"), 1, request.clone()),
            (format!("{name}_{connections}"), connections, request),
        ]
    });
    let phases = [
        ("stats_big_1".to_owned(), 1, big_stats.clone()),
        (format!("stats_big_{connections}"), connections, big_stats),
        (
            format!("stats_small_{connections}"),
            connections,
            Request::Stats {
                mailing: prepared.small_mailing,
                messages: SMALL_MAILING as i64,
            },
        ),
        (
            format!("list_clients_50_{connections}"),
            connections,
            Request::ListClients { page_size: 50 },
        ),
        (
            format!("list_clients_500_{connections}"),
            connections,
            Request::ListClients { page_size: 500 },
        ),
        (
            format!("create_client_{connections}"),
            connections,
            Request::CreateClient {
                first_phone: created_from,
            },
        ),
    ]
    .into_iter()
    .chain(list_phases);
    let mut results = Vec::new();
    for (name, connections, request) in phases {
        let described = describe(&request, holders);
        progress(
            setup,
            "api",
            run,
            &format!("{described}, {connections} connection(s)"),
        );
        let load = Load {
            connections,
            warmup: WARMUP,
            duration: Duration::from_secs(options.api_seconds),
        };
        let cpu = CpuMeter::start(&prepared.deployment.cluster);
        let base = base.clone();
        let token = token.clone();
        let result = load::run(&http, load, move |http, n| {
            build(http, &base, &token, &request, n)
        })
        .await;
        results.push(Phase {
            name,
            request: described,
            result,
            cpu: cpu.finish(),
        });
    }
    ApiRun {
        run,
        big_mailing_messages: big,
        phases: results,
    }
}

/// The memory of the prepared deployment now that the api scenario is over.
pub fn memory(prepared: &Prepared) -> MemoryRecord {
    let mut record = prepared.deployment.memory_with_peaks();
    record.scenario = "expansion+api".to_owned();
    record
}

fn describe(request: &Request, attribute_holders: i64) -> String {
    match request {
        Request::Stats { messages, .. } => format!(
            "GET /api/v1/mailings/{{id}}/stats of {} messages",
            crate::report::thousands(*messages as f64)
        ),
        Request::ListClients { page_size } => {
            format!("GET /api/v1/clients?page_size={page_size}, pages 1-10")
        }
        Request::ListQuery { query } if query.contains("attr.") => format!(
            "GET /api/v1/clients?{query} ({attribute_holders} holders, 1 in {ATTRIBUTE_EVERY})"
        ),
        Request::ListQuery { query } if query.contains("cursor=") => {
            "GET /api/v1/clients?page_size=50&cursor=<90 % deep>".to_owned()
        }
        Request::ListQuery { query } => format!("GET /api/v1/clients?{query}"),
        Request::CreateClient { .. } => "POST /api/v1/clients".to_owned(),
    }
}

fn build(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    request: &Request,
    n: u64,
) -> reqwest::RequestBuilder {
    match request {
        Request::ListQuery { query } => http.get(format!("{base}/api/v1/clients?{query}")),
        Request::Stats { mailing, .. } => {
            http.get(format!("{base}/api/v1/mailings/{mailing}/stats"))
        }
        Request::ListClients { page_size } => http.get(format!(
            "{base}/api/v1/clients?page_size={page_size}&page={}",
            n % 10 + 1
        )),
        Request::CreateClient { first_phone } => {
            http.post(format!("{base}/api/v1/clients")).json(&json!({
                "phone_number": (first_phone + n).to_string(),
                "operator_code": "bln",
                "tags": ["Important"],
                "time_zone": "Europe/Moscow",
            }))
        }
    }
    .bearer_auth(token)
}
