//! The bus against a real RabbitMQ (`MAILING_TEST_AMQP_URL`, default guest@127.0.0.1:5672).
//! Every test works in a namespace of its own, so they run in parallel.

mod connect;
mod helpers;
mod proxy;
mod publish_consume;
mod recovery;
mod settlement;
