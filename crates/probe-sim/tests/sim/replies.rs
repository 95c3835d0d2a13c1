//! Replies the simulator makes up: posted, signed, to a receiver that stands in for the api,
//! for every N-th send answered OK and on demand.

use crate::helpers::{PHONE, SECRET, TestSim, body, spawn_sim, spawn_sim_with, token};
use actix_web::web::{Bytes, Data};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use mailing_runtime::signature;
use probe_sim::SimSettings;
use reqwest::{StatusCode, Url};
use secrecy::SecretString;
use serde_json::{Value, json};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const REPLY_SECRET: &str = "the secret shared with the api";

/// A request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    content_type: Option<String>,
    signature: Option<String>,
    body: Vec<u8>,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON reply")
    }

    /// Whether the signature is the one the shared secret gives this body.
    fn signed_with(&self, secret: &str) -> bool {
        self.signature.as_deref() == Some(&signature::sign(secret.as_bytes(), &self.body))
    }
}

type Log = Arc<Mutex<Vec<Received>>>;

/// An HTTP server that records every request and answers 201 with a small JSON body, as the
/// api answers a reply it recorded.
struct Receiver {
    url: Url,
    log: Log,
}

impl Receiver {
    async fn start() -> Self {
        let log = Log::default();
        let listener = TcpListener::bind("127.0.0.1:0").expect("an ephemeral port");
        let port = listener.local_addr().unwrap().port();
        let shared = Data::new(log.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(shared.clone())
                .default_service(web::to(record))
        })
        .listen(listener)
        .expect("the receiver listens")
        .workers(1)
        .run();
        tokio::spawn(server);
        Self {
            url: Url::parse(&format!("http://127.0.0.1:{port}/api/v1/inbound")).unwrap(),
            log,
        }
    }

    fn received(&self) -> Vec<Received> {
        self.log.lock().unwrap().clone()
    }

    /// The requests once there are `count`; panics if they do not come within seconds.
    async fn wait_for(&self, count: usize) -> Vec<Received> {
        for _ in 0..100 {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{count} replies expected, got {}", self.received().len());
    }
}

async fn record(request: HttpRequest, body: Bytes, log: Data<Log>) -> HttpResponse {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let mut log = log.lock().unwrap();
    log.push(Received {
        path: request.path().to_owned(),
        content_type: header("content-type"),
        signature: header(signature::HEADER),
        body: body.to_vec(),
    });
    HttpResponse::Created().json(json!({ "id": log.len(), "action": "opt_out" }))
}

/// A simulator that posts its replies to `url`, replying to every `every`-th send.
async fn sim_replying_to(url: &Url, every: u64) -> TestSim {
    let url = url.clone();
    spawn_sim_with(move |settings: &mut SimSettings| {
        settings.replies.url = Some(url);
        settings.replies.secret = Some(SecretString::from(REPLY_SECRET));
        settings.replies.every = every;
    })
    .await
}

async fn trigger(sim: &TestSim, request: Value) -> reqwest::Response {
    sim.post("/_sim/replies")
        .json(&request)
        .send()
        .await
        .expect("reply request")
}

/// Long enough for a background post to a local receiver to arrive if one were made.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn every_nth_accepted_send_gets_a_signed_reply_from_its_number() {
    let receiver = Receiver::start().await;
    let sim = sim_replying_to(&receiver.url, 3).await;

    for id in 1..=2 {
        assert_eq!(sim.send(id).await.status(), StatusCode::OK);
    }
    // Refused sends are no accepted sends and do not bring the next reply closer.
    let refused = sim
        .post("/v1/send/99")
        .bearer_auth(token("another secret", 3600))
        .json(&crate::helpers::msg(99))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    settle().await;
    assert!(receiver.received().is_empty(), "two sends: no reply yet");

    assert_eq!(sim.send(3).await.status(), StatusCode::OK);
    let received = receiver.wait_for(1).await;
    let reply = &received[0];
    assert_eq!(reply.path, "/api/v1/inbound");
    assert_eq!(reply.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        reply.json(),
        json!({ "from": PHONE.to_string(), "text": "STOP" })
    );
    assert!(reply.signed_with(REPLY_SECRET), "{reply:?}");
    assert!(!reply.signed_with(SECRET));

    for id in 4..=5 {
        assert_eq!(sim.send(id).await.status(), StatusCode::OK);
    }
    settle().await;
    assert_eq!(receiver.received().len(), 1, "five sends: one reply");
    assert_eq!(sim.send(6).await.status(), StatusCode::OK);
    let received = receiver.wait_for(2).await;
    assert!(received[1].signed_with(REPLY_SECRET));

    // The simulator counts a reply once the receiver's answer is back, which can be a moment
    // after the receiver has recorded it.
    let mut stats = sim.stats().await;
    for _ in 0..100 {
        if stats["replies_sent"].as_u64() >= Some(2) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        stats = sim.stats().await;
    }
    assert_eq!(
        (
            stats["replies_sent"].as_u64(),
            stats["replies_failed"].as_u64()
        ),
        (Some(2), Some(0))
    );
}

#[tokio::test]
async fn the_trigger_posts_now_and_relays_the_answer() {
    let receiver = Receiver::start().await;
    let sim = sim_replying_to(&receiver.url, 0).await;
    assert_eq!(sim.send(1).await.status(), StatusCode::OK);
    settle().await;
    assert!(
        receiver.received().is_empty(),
        "on demand only: no reply to sends"
    );

    let response = trigger(&sim, json!({ "from": "79001234567", "text": "СТОП" })).await;
    let answer = body(response, StatusCode::CREATED).await;
    assert_eq!(answer, json!({ "id": 1, "action": "opt_out" }));
    let received = receiver.received();
    assert_eq!(
        received[0].json(),
        json!({ "from": "79001234567", "text": "СТОП" })
    );
    assert!(received[0].signed_with(REPLY_SECRET));

    let response = trigger(&sim, json!({ "from": "79001234567" })).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(
        receiver.received()[1].json()["text"],
        "STOP",
        "the configured text"
    );

    for bad in [
        json!({ "text": "STOP" }),
        json!({ "from": "" }),
        json!({ "from": "7", "to": "8" }),
    ] {
        assert_eq!(
            trigger(&sim, bad.clone()).await.status(),
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
    assert_eq!(receiver.received().len(), 2);
}

#[tokio::test]
async fn without_a_reply_url_the_trigger_and_reply_every_are_refused_clearly() {
    let sim = spawn_sim().await;
    let response = trigger(&sim, json!({ "from": "79001234567" })).await;
    let error = body(response, StatusCode::CONFLICT).await;
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("PROBE_SIM_REPLY_URL"), "{message}");

    let response = sim.put_config(json!({ "reply_every": 2 })).await;
    let error = body(response, StatusCode::BAD_REQUEST).await;
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .starts_with("reply_every"),
        "{error}"
    );
    let response = sim
        .put_config(json!({ "reply_url": "http://127.0.0.1:1/inbound" }))
        .await;
    let error = body(response, StatusCode::BAD_REQUEST).await;
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .starts_with("reply_secret"),
        "{error}"
    );
    let response = sim
        .put_config(json!({ "reply_url": "ftp://127.0.0.1/inbound", "reply_secret": "s" }))
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(sim.get_json("/_sim/config", StatusCode::OK).await["reply_url"].is_null());
}

#[tokio::test]
async fn replies_configured_at_run_time_never_show_their_secret() {
    let receiver = Receiver::start().await;
    let sim = spawn_sim().await;
    let config = sim
        .configure(json!({
            "reply_url": receiver.url.as_str(),
            "reply_secret": REPLY_SECRET,
            "reply_text": "СТОП",
            "reply_every": 1,
        }))
        .await;
    let shown = sim.get_json("/_sim/config", StatusCode::OK).await;
    assert_eq!(config, shown);
    assert_eq!(shown["reply_url"], receiver.url.as_str());
    assert_eq!(shown["reply_secret"], "[redacted]");
    assert_eq!(
        (shown["reply_text"].as_str(), shown["reply_every"].as_u64()),
        (Some("СТОП"), Some(1))
    );
    assert!(!shown.to_string().contains(REPLY_SECRET), "{shown}");

    assert_eq!(sim.send(1).await.status(), StatusCode::OK);
    let received = receiver.wait_for(1).await;
    assert_eq!(received[0].json()["text"], "СТОП");
    assert!(received[0].signed_with(REPLY_SECRET));

    let off = sim
        .configure(json!({ "reply_url": null, "reply_every": 0 }))
        .await;
    assert!(off["reply_url"].is_null());
    let response = trigger(&sim, json!({ "from": "79001234567" })).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn an_unreachable_target_fails_the_reply_and_never_the_send() {
    // A port that was free a moment ago: nothing answers there.
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = Url::parse(&format!("http://127.0.0.1:{closed}/api/v1/inbound")).unwrap();
    let sim = sim_replying_to(&url, 1).await;
    assert_eq!(sim.send(1).await.status(), StatusCode::OK);
    for _ in 0..100 {
        if sim.stats().await["replies_failed"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stats = sim.stats().await;
    assert_eq!(
        (
            stats["replies_sent"].as_u64(),
            stats["replies_failed"].as_u64()
        ),
        (Some(0), Some(1))
    );

    let response = trigger(&sim, json!({ "from": "79001234567" })).await;
    let error = body(response, StatusCode::BAD_GATEWAY).await;
    assert!(!error.to_string().contains(REPLY_SECRET), "{error}");
    assert_eq!(sim.stats().await["replies_failed"], 2);
}
