//! The bus against both adapters: a real RabbitMQ (`MAILING_TEST_AMQP_URL`, default
//! guest@127.0.0.1:5672) and the in-process bus.
//!
//! A behaviour both adapters promise is written once, as `async fn name(adapter: Adapter)`,
//! and [`for_each_adapter!`] runs it as `name::rabbitmq` and `name::memory`
//! (`cargo test -p mailing-bus --all-features memory` runs the in-process ones alone). What
//! only one adapter has stays with it: outages, proxies and `rabbitmqctl` in `recovery`,
//! broker URLs in `connect`, names and sharing in `memory`.
//!
//! Every test works in a namespace of its own, so they run in parallel.

#[macro_use]
mod helpers;
mod connect;
mod memory;
mod proxy;
mod publish_consume;
mod recovery;
mod settlement;
