//! Secrets stay secret: after a mailing, refused logins and refused tokens, with every service
//! logging at debug level, no log line and no error body holds the admin password, a password
//! someone tried, the JWT secret, an issued token or the provider's token.

use crate::helpers::mailing_to_all;
use chrono::{Duration as Span, Utc};
use mailing_e2e::{Cluster, ClusterOptions, Service, Setup, bounded};
use reqwest::Method;
use serde_json::json;
use std::time::Duration;

const NAME: &str = "secrets";

async fn no_secret_reaches_a_log_or_an_error_body(setup: Setup) {
    let unique = format!("{:016x}", rand::random::<u64>());
    let admin_password = format!("Admin-Pa55-{unique}");
    let jwt_secret = format!("jwt-secret-{unique}-0123456789abcdef");
    let tried_password = format!("Guessed-Pa55-{unique}");
    let options = [Service::Api, Service::Scheduler, Service::Sender]
        .into_iter()
        .fold(ClusterOptions::new(NAME, setup), |options, service| {
            options.env(service, "RUST_LOG", "debug")
        })
        .api("MAILING_ADMIN_PASSWORD", &admin_password)
        .api("MAILING_JWT_SECRET", &jwt_secret);
    bounded(options.name(), Duration::from_secs(120), async {
        let cluster = Cluster::start(&options).await;
        let api = cluster.api();
        api.create_fixtures().await;
        let now = Utc::now();
        let mailing_id = api
            .create_mailing(&mailing_to_all(
                "Secrets",
                now - Span::minutes(1),
                now + Span::minutes(30),
            ))
            .await;
        cluster
            .wait_settled(mailing_id, Duration::from_secs(60))
            .await;

        let mut error_bodies = Vec::new();
        for password in [tried_password.as_str(), ""] {
            let (status, body) = api
                .request_without_token(
                    Method::POST,
                    "/api/v1/auth/token",
                    Some(&json!({ "username": "admin", "password": password })),
                )
                .await;
            assert_eq!(status.as_u16(), 401, "{body}");
            error_bodies.push(body.to_string());
        }
        let (status, body) = api
            .request_with_token(Method::GET, "/api/v1/clients", &format!("{jwt_secret}.x.y"))
            .await;
        assert_eq!(status.as_u16(), 401, "{body}");
        error_bodies.push(body.to_string());

        let secrets = [
            ("the admin password", admin_password.as_str()),
            ("a tried password", tried_password.as_str()),
            ("the JWT secret", jwt_secret.as_str()),
            ("an issued token", api.token()),
            ("the provider's token", cluster.probe_token()),
        ];
        let logs: Vec<(String, String)> = cluster
            .service_logs()
            .into_iter()
            .map(|path| {
                let text = std::fs::read_to_string(path).expect("a service log");
                (path.display().to_string(), text)
            })
            .collect();
        assert!(
            logs.iter().any(|(_, text)| text.contains("DEBUG")),
            "the services logged at debug level"
        );
        for (what, secret) in secrets {
            for (path, text) in &logs {
                assert!(!text.contains(secret), "{what} is in {path}");
            }
            for body in &error_bodies {
                assert!(!body.contains(secret), "{what} is in an error body: {body}");
            }
        }
    })
    .await;
}

scenario!(no_secret_reaches_a_log_or_an_error_body);
