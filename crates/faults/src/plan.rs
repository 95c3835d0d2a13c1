//! What goes wrong during a run, and when: a list of steps drawn from a seed, each due once the
//! probe has accepted a given number of messages. Tying steps to delivery progress rather than
//! to the clock keeps every one of them inside the mailing whatever the machine's speed, while
//! the seed makes the moments random and a run repeatable.

use crate::scale::Scale;
use crate::servers::Stop;
use mailing_e2e::Service;
use rand::rngs::SmallRng;
use rand::seq::SliceRandom as _;
use rand::{Rng, SeedableRng};
use std::time::Duration;

/// Which server of the deployment a step restarts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    Postgres,
    RabbitMq,
}

/// How the probe simulator misbehaves from a step on.
#[derive(Debug, Clone, PartialEq)]
pub enum ProbeChange {
    /// Answers slowly: uniform latency in the range, in milliseconds (always below the
    /// sender's timeout, so a slow answer is still an answer).
    Slow { min_ms: u64, max_ms: u64 },
    /// Answers a share of requests 500, 429, with a malformed body, or not at all (a hang
    /// past the sender's timeout). None of those is a delivery.
    Failing,
    /// Back to the baseline: every request answered OK after the baseline latency.
    Healthy,
    /// Down for a while: 503 to every request, or (`drop_connections`) connections closed
    /// unanswered.
    Outage {
        seconds: f64,
        drop_connections: bool,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// SIGKILL one replica of a service after `delay`, start it again after `down_for`.
    Kill {
        service: Service,
        replica: usize,
        delay: Duration,
        down_for: Duration,
    },
    /// Stop a server as `stop` says, start it again after `down_for`.
    Restart {
        server: Server,
        stop: Stop,
        down_for: Duration,
    },
    Probe(ProbeChange),
    /// Move the ending mailing's end to a moment shortly ahead, while it is being delivered.
    EndMailing,
    /// Create the late mailing through the api, then SIGKILL the api after `kill_after`
    /// (before its outbox relay may have published the event) and restart it after `down_for`.
    CreateMailingThenKillApi {
        kill_after: Duration,
        down_for: Duration,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Due once the probe has accepted this many messages.
    pub at_deliveries: u64,
    pub action: Action,
}

/// How many of each fault a run has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub sender_kills: usize,
    pub scheduler_kills: usize,
    /// Besides the one right after the late mailing is created.
    pub api_kills: usize,
    /// Stops of PostgreSQL, alternating crash and graceful, crash first.
    pub postgres_restarts: usize,
    /// Stops of RabbitMQ, alternating crash and graceful, crash first.
    pub rabbitmq_restarts: usize,
    /// Probe outages, alternating 503 answers and dropped connections.
    pub probe_outages: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub seed: u64,
    pub steps: Vec<Step>,
}

impl Plan {
    /// The steps of a run at `scale`, drawn from `seed`: every fault of the scale's shape at a
    /// random moment between 3 % and 85 % of the main mailing's deliveries, a slow and a
    /// failing probe phase, the ending mailing's end at 40 % of its own recipients (it is
    /// delivered first), and the late mailing between 20 % and 50 %.
    pub fn draw(scale: &Scale, seed: u64) -> Plan {
        let mut rng = SmallRng::seed_from_u64(seed);
        let main = scale.recipients;
        let span = |rng: &mut SmallRng, from: f64, to: f64| {
            (rng.random_range(from..to) * main as f64).round() as u64
        };
        let moment = |rng: &mut SmallRng| span(rng, 0.03, 0.85);
        let shape = scale.shape;
        let mut steps = Vec::new();
        let replicas = [
            (Service::Sender, shape.sender_kills, scale.senders),
            (Service::Scheduler, shape.scheduler_kills, scale.schedulers),
            (Service::Api, shape.api_kills, 1),
        ];
        for (service, kills, count) in replicas {
            // Every replica is killed at least once when there are kills enough.
            let mut order: Vec<usize> = (0..kills).map(|kill| kill % count).collect();
            order.shuffle(&mut rng);
            for replica in order {
                steps.push(Step {
                    at_deliveries: moment(&mut rng),
                    action: Action::Kill {
                        service,
                        replica,
                        delay: Duration::from_millis(rng.random_range(0..500)),
                        down_for: scale.process_downtime.draw(&mut rng),
                    },
                });
            }
        }
        for (server, restarts) in [
            (Server::Postgres, shape.postgres_restarts),
            (Server::RabbitMq, shape.rabbitmq_restarts),
        ] {
            for restart in 0..restarts {
                steps.push(Step {
                    at_deliveries: moment(&mut rng),
                    action: Action::Restart {
                        server,
                        stop: if restart % 2 == 0 {
                            Stop::Crash
                        } else {
                            Stop::Graceful
                        },
                        down_for: scale.server_downtime.draw(&mut rng),
                    },
                });
            }
        }
        for outage in 0..shape.probe_outages {
            steps.push(Step {
                at_deliveries: moment(&mut rng),
                action: Action::Probe(ProbeChange::Outage {
                    seconds: scale.probe_outage.draw(&mut rng).as_secs_f64(),
                    drop_connections: outage % 2 == 1,
                }),
            });
        }
        // The slow phase in the first half, the failing one in the second: each ends before
        // the other begins, so what the probe does at any moment is one thing.
        for (phase, from, to) in [
            (
                ProbeChange::Slow {
                    min_ms: 100,
                    max_ms: 500,
                },
                0.05,
                0.35,
            ),
            (ProbeChange::Failing, 0.45, 0.75),
        ] {
            let start = span(&mut rng, from, to);
            steps.push(Step {
                at_deliveries: start,
                action: Action::Probe(phase),
            });
            steps.push(Step {
                at_deliveries: start + (0.1 * main as f64).round() as u64,
                action: Action::Probe(ProbeChange::Healthy),
            });
        }
        steps.push(Step {
            at_deliveries: (0.4 * scale.ending_recipients() as f64).round() as u64,
            action: Action::EndMailing,
        });
        steps.push(Step {
            at_deliveries: span(&mut rng, 0.2, 0.5),
            action: Action::CreateMailingThenKillApi {
                kill_after: Duration::from_millis(rng.random_range(0..100)),
                down_for: scale.process_downtime.draw(&mut rng),
            },
        });
        // Stable: steps due at once keep the order they were drawn in.
        steps.sort_by_key(|step| step.at_deliveries);
        Plan { seed, steps }
    }
}

/// A range of durations a step draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Between(pub Duration, pub Duration);

impl Between {
    pub fn draw(self, rng: &mut impl Rng) -> Duration {
        if self.0 >= self.1 {
            return self.0;
        }
        rng.random_range(self.0..self.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(plan: &Plan, wanted: impl Fn(&Action) -> bool) -> usize {
        plan.steps.iter().filter(|s| wanted(&s.action)).count()
    }

    #[test]
    fn a_plan_holds_every_fault_of_its_shape() {
        for scale in [Scale::full(), Scale::short()] {
            let plan = Plan::draw(&scale, 7);
            let shape = scale.shape;
            let kills = |service| {
                count(
                    &plan,
                    |a| matches!(a, Action::Kill { service: s, .. } if *s == service),
                )
            };
            assert_eq!(kills(Service::Sender), shape.sender_kills);
            assert_eq!(kills(Service::Scheduler), shape.scheduler_kills);
            assert_eq!(kills(Service::Api), shape.api_kills);
            let restarts = |server, stop| {
                count(
                    &plan,
                    |a| matches!(a, Action::Restart { server: s, stop: t, .. } if *s == server && *t == stop),
                )
            };
            assert_eq!(
                restarts(Server::Postgres, Stop::Crash)
                    + restarts(Server::Postgres, Stop::Graceful),
                shape.postgres_restarts
            );
            assert!(restarts(Server::Postgres, Stop::Crash) >= 1);
            assert!(restarts(Server::RabbitMq, Stop::Crash) >= 1);
            assert_eq!(
                count(&plan, |a| matches!(
                    a,
                    Action::Probe(ProbeChange::Outage { .. })
                )),
                shape.probe_outages
            );
            for once in [
                |a: &Action| matches!(a, Action::EndMailing),
                |a: &Action| matches!(a, Action::CreateMailingThenKillApi { .. }),
                |a: &Action| matches!(a, Action::Probe(ProbeChange::Slow { .. })),
                |a: &Action| matches!(a, Action::Probe(ProbeChange::Failing)),
            ] {
                assert_eq!(count(&plan, once), 1);
            }
            assert_eq!(
                count(&plan, |a| matches!(a, Action::Probe(ProbeChange::Healthy))),
                2
            );
        }
    }

    #[test]
    fn every_step_falls_inside_the_mailing_in_order() {
        let scale = Scale::full();
        for seed in 0..50 {
            let plan = Plan::draw(&scale, seed);
            let moments: Vec<u64> = plan.steps.iter().map(|s| s.at_deliveries).collect();
            assert!(moments.is_sorted(), "seed {seed}: {moments:?}");
            let last = *moments.last().unwrap();
            assert!(
                last < scale.recipients,
                "seed {seed}: a step at {last} deliveries might come after the mailing"
            );
            // Each killed service's replicas are all hit when there are kills enough.
            for (service, replicas) in [
                (Service::Sender, scale.senders),
                (Service::Scheduler, scale.schedulers),
            ] {
                let hit: std::collections::BTreeSet<usize> = plan
                    .steps
                    .iter()
                    .filter_map(|s| match s.action {
                        Action::Kill {
                            service: k,
                            replica,
                            ..
                        } if k == service => Some(replica),
                        _ => None,
                    })
                    .collect();
                assert_eq!(
                    hit.len(),
                    replicas,
                    "seed {seed}: {service:?} replicas hit {hit:?}"
                );
            }
        }
    }

    #[test]
    fn probe_phases_do_not_overlap() {
        for seed in 0..50 {
            let plan = Plan::draw(&Scale::full(), seed);
            let phases: Vec<&ProbeChange> = plan
                .steps
                .iter()
                .filter_map(|s| match &s.action {
                    Action::Probe(
                        change @ (ProbeChange::Slow { .. }
                        | ProbeChange::Failing
                        | ProbeChange::Healthy),
                    ) => Some(change),
                    _ => None,
                })
                .collect();
            assert_eq!(phases.len(), 4, "seed {seed}");
            assert!(
                matches!(phases[0], ProbeChange::Slow { .. }),
                "seed {seed}: {phases:?}"
            );
            assert_eq!(phases[1], &ProbeChange::Healthy, "seed {seed}: {phases:?}");
            assert_eq!(phases[2], &ProbeChange::Failing, "seed {seed}: {phases:?}");
            assert_eq!(phases[3], &ProbeChange::Healthy, "seed {seed}: {phases:?}");
        }
    }

    #[test]
    fn a_seed_gives_one_plan() {
        let scale = Scale::full();
        assert_eq!(Plan::draw(&scale, 3), Plan::draw(&scale, 3));
        assert_ne!(Plan::draw(&scale, 3), Plan::draw(&scale, 4));
    }
}
