//! One run: private servers, a deployment of two schedulers and three senders on them, the
//! mailings, the plan carried out, then, once everything settled, the evidence read and judged.

use crate::blame::blame;
use crate::chaos::{Chaos, HANG_MS, Incident};
use crate::integrator::Integrator;
use crate::mailings::Mailing;
use crate::plan::{Action, Plan};
use crate::scale::Scale;
use crate::servers::{Postgres, RabbitMq};
use crate::verdict::{Evidence, Exposure, MailingEvidence, Verdict};
use anyhow::Context as _;
use chrono::{DateTime, Utc};
use mailing_e2e::cluster::{free_port, log_dir};
use mailing_e2e::db::{self, Session};
use mailing_e2e::sim::Delivered;
use mailing_e2e::{Cluster, ClusterOptions, Servers, Service, Setup, SimStats};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The sender's probe timeout in a run: above the slow phase's latencies, so a slow answer is
/// an answer, and below a hang.
pub const PROBE_TIMEOUT_MS: u64 = 3_000;
/// How long a sender's claim lasts without renewal, and how often senders renew: the ratio of
/// the binaries' defaults (300 s and 30 s), shortened so a lost claim comes back within a run.
const CLAIM_LEASE_SECONDS: u64 = 10;
const CLAIM_RENEW_MS: u64 = 1_000;

/// What a run did and found.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub scale: &'static str,
    pub seed: u64,
    pub incidents: Vec<Incident>,
    pub verdict: Verdict,
    pub probe: SimStats,
    /// The deliveries the database does not account for, by the fault they followed (`None`:
    /// no fault struck between a message's deliveries).
    pub extra_by_fault: Vec<(Option<String>, u64)>,
    pub took: Duration,
    /// Where the services' logs are, and the servers'.
    pub logs: Vec<PathBuf>,
}

/// Runs the plan drawn from `seed` at `scale` and judges the outcome.
///
/// # Panics
/// When the deployment cannot be set up, a service does not come back after a fault, or
/// the mailings do not settle within the scale's limit: each a failed run.
pub async fn run(scale: &Scale, seed: u64) -> anyhow::Result<RunReport> {
    let name = format!("faults-{}-{seed}", scale.name);
    let server_logs = log_dir(&format!("{name}-servers"));
    let _ = std::fs::remove_dir_all(&server_logs);
    std::fs::create_dir_all(&server_logs)
        .with_context(|| format!("creating {}", server_logs.display()))?;
    let (mut postgres, mut rabbitmq) = tokio::task::block_in_place(|| {
        let postgres = Postgres::start(free_port(), server_logs.join("postgres.log"))?;
        let rabbitmq = RabbitMq::start(free_port(), free_port(), server_logs.join("rabbitmq.log"))?;
        anyhow::Ok((postgres, rabbitmq))
    })
    .context("starting the suite's own PostgreSQL and RabbitMQ")?;

    let (min, max) = scale.baseline_latency_ms;
    let options = ClusterOptions::new(&name, Setup::Distributed)
        .servers(Servers {
            database_admin_url: postgres.admin_url(),
            amqp_url: rabbitmq.url(),
        })
        .replicas(Service::Scheduler, scale.schedulers)
        .replicas(Service::Sender, scale.senders)
        .sim("PROBE_SIM_LATENCY_MS", format!("{min}..{max}"))
        .sim("PROBE_SIM_SEED", seed)
        .scheduler("MAILING_SCHEDULER_CLAIM_LEASE_SECONDS", CLAIM_LEASE_SECONDS)
        .sender("MAILING_SENDER_CLAIM_RENEW_MS", CLAIM_RENEW_MS)
        .sender("MAILING_SENDER_CONCURRENCY", scale.sender_concurrency)
        .sender("MAILING_PROBE_TIMEOUT_MS", PROBE_TIMEOUT_MS)
        // The probe outages would pause the mailings by themselves, as they should in
        // production, and leave them waiting for an operator: the run judges the pipeline
        // under failures, so it keeps them sending.
        .sender("MAILING_SENDER_AUTO_PAUSE", false);
    let logs = vec![log_dir(options.name()), server_logs];
    let plan = Plan::draw(scale, seed);
    let started = Instant::now();
    let mut cluster = Cluster::start(&options).await;
    cluster
        .insert_generated_clients(0, scale.recipients, "UTC")
        .await;

    let integrator = Integrator::start(cluster.api().clone());
    let far_end = Utc::now() + chrono::Duration::hours(2);
    let mut mailings = Vec::new();
    // The ending mailing first: its messages go out ahead of the main mailing's.
    for mailing in [Mailing::Ending, Mailing::Main] {
        let id = cluster
            .api()
            .create_mailing(&mailing.body(Utc::now(), far_end))
            .await;
        integrator.watch(id);
        mailings.push((mailing, id, far_end));
    }

    let (incidents, mailings) = {
        let mut chaos = Chaos {
            scale,
            cluster: &mut cluster,
            postgres: &mut postgres,
            rabbitmq: &mut rabbitmq,
            integrator: &integrator,
            started,
            incidents: Vec::new(),
            mailings,
        };
        tokio::time::timeout(scale.limit, chaos.carry_out(&plan))
            .await
            .context("the plan did not finish within the run's limit")?;
        (chaos.incidents, chaos.mailings)
    };

    let remaining = scale.limit.saturating_sub(started.elapsed());
    settle(&cluster, &mailings, remaining).await;
    let api = integrator.finish().await;
    let unready = unready_processes(&cluster).await;
    let evidence = Evidence {
        mailings: read_mailings(&cluster, &mailings, scale.recipients).await,
        received: cluster.sim().received().await,
        duplicate_rows: db::duplicate_pairs(cluster.database_url()).await as u64,
        exposure: Exposure {
            sender_concurrency: scale.sender_concurrency,
            senders: scale.senders as u64,
            sender_kills: plan
                .steps
                .iter()
                .filter(|s| {
                    matches!(
                        s.action,
                        Action::Kill {
                            service: Service::Sender,
                            ..
                        }
                    )
                })
                .count() as u64,
            ends_during_run: 1,
        },
        api,
        unready,
    };
    let extra = extra_deliveries(&cluster, &evidence).await;
    let extra_by_fault = blame(&incidents, &extra)
        .into_iter()
        .map(|(culprit, count)| (culprit.map(|index| incidents[index].what.clone()), count))
        .collect();
    Ok(RunReport {
        scale: scale.name,
        seed,
        verdict: Verdict::of(&evidence),
        probe: cluster.sim().stats().await,
        extra_by_fault,
        incidents,
        took: started.elapsed(),
        logs,
    })
}

/// Waits until no message of the run can still reach the probe, and no request to it is
/// still open.
async fn settle(cluster: &Cluster, mailings: &[(Mailing, i64, DateTime<Utc>)], limit: Duration) {
    let session = Session::open(cluster.database_url()).await;
    cluster
        .wait_until("every message to settle", limit, || async {
            let mut unsettled = BTreeMap::new();
            for (mailing, id, _) in mailings {
                let count = session.unsettled(*id).await;
                if count > 0 {
                    unsettled.insert(mailing.name(), count);
                }
            }
            if unsettled.is_empty() {
                Ok(())
            } else {
                Err(format!("unsettled messages: {unsettled:?}"))
            }
        })
        .await;
    // A hang counts as in flight until it ends; none of them is a delivery.
    cluster
        .wait_until(
            "the probe's last requests to end",
            Duration::from_millis(HANG_MS) * 2,
            || async {
                match cluster.sim().stats().await.in_flight {
                    0 => Ok(()),
                    n => Err(format!("{n} in flight")),
                }
            },
        )
        .await;
}

/// Each process that does not answer its readiness check, by binary and replica.
async fn unready_processes(cluster: &Cluster) -> Vec<String> {
    let mut unready = Vec::new();
    for service in [Service::Api, Service::Scheduler, Service::Sender] {
        for replica in 0..cluster.replicas(service) {
            if !cluster.replica_ready(service, replica).await {
                unready.push(format!("{} #{replica}", cluster.binary(service)));
            }
        }
    }
    unready
}

async fn read_mailings(
    cluster: &Cluster,
    mailings: &[(Mailing, i64, DateTime<Utc>)],
    clients: u64,
) -> Vec<MailingEvidence> {
    let mut evidence = Vec::new();
    for &(mailing, id, end_at) in mailings {
        let messages = cluster.messages(id).await;
        // Times and contents at the probe for the mailing whose end came during the run;
        // the others end long after it.
        let deliveries = match mailing {
            Mailing::Ending => {
                let ids: Vec<i64> = messages.iter().map(|row| row.id).collect();
                Some(cluster.sim().delivered_many(ids).await)
            }
            Mailing::Main | Mailing::Late => None,
        };
        evidence.push(MailingEvidence {
            mailing,
            end_at,
            recipients: mailing.recipient_phones(clients),
            messages,
            deliveries,
        });
    }
    evidence
}

/// The probe's record of each message it accepted more often than the database accounts for:
/// more than once, or at all while the database says unsent.
async fn extra_deliveries(cluster: &Cluster, evidence: &Evidence) -> Vec<Delivered> {
    let ids: Vec<i64> = evidence
        .mailings
        .iter()
        .flat_map(|mailing| &mailing.messages)
        .filter(|row| {
            let accepted = evidence.received.get(&row.id).copied().unwrap_or(0);
            accepted > 1 || (accepted == 1 && row.status != "sent")
        })
        .map(|row| row.id)
        .collect();
    cluster.sim().delivered_many(ids).await
}
