//! A real OpenID Connect provider for the sign-in tests: `oidc-provider-mock` from PyPI, which
//! `make test` installs into the workspace's .venv. Each test starts its own on a port of its
//! own. It accepts any client id and secret, signs in any subject without a browser through a
//! form POST, and makes a new signing key each time it starts, which is how it rotates keys.

use reqwest::StatusCode;
use reqwest::header::LOCATION;
use serde_json::Value;
use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Python starting on a machine busy compiling can take a while.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

pub struct OidcProvider {
    port: u16,
    process: Child,
    log: PathBuf,
    /// Never follows redirects: the authorization endpoint's answer is one.
    http: reqwest::Client,
    /// Replayed after a restart, which forgets them.
    users: Mutex<Vec<(String, Value)>>,
}

impl OidcProvider {
    /// Starts a provider that requires a nonce, and waits until it answers.
    pub async fn start() -> Self {
        let program = program();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("HTTP client");
        // Another test may take the port between our probe and the provider's bind: try anew.
        for _ in 0..3 {
            let port = free_port();
            let log = std::env::temp_dir().join(format!("oidc-provider-mock-{port}.log"));
            let mut provider = Self {
                port,
                process: spawn(&program, port, &log),
                log,
                http: http.clone(),
                users: Mutex::new(Vec::new()),
            };
            if provider.wait_until_ready().await {
                return provider;
            }
        }
        panic!("oidc-provider-mock did not start on any of three ports");
    }

    /// The issuer URL, as the provider states it in its discovery document.
    pub fn issuer(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Sets the claims of the user `sub` (besides `sub`): standard ones reach the ID token as
    /// the scopes allow, any other (such as `groups`) always, and userinfo gets the same.
    pub async fn set_user(&self, sub: &str, claims: Value) {
        self.put_user(sub, &claims).await;
        self.users
            .lock()
            .unwrap()
            .push((sub.to_owned(), claims.clone()));
    }

    /// Signs `sub` in at the `authorize_url` an `Oidc::begin` made, as the login form would,
    /// and returns the code and state the provider sends the browser back with.
    pub async fn authorize(&self, authorize_url: &str, sub: &str) -> (String, String) {
        let response = self
            .http
            .post(authorize_url)
            .form(&[("sub", sub)])
            .send()
            .await
            .expect("authorization request");
        let status = response.status();
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|location| location.to_str().ok())
            .map(str::to_owned);
        let Some(location) = location.filter(|_| status == StatusCode::FOUND) else {
            panic!(
                "the provider did not redirect ({status}): {}",
                response.text().await.unwrap_or_default()
            );
        };
        let location = reqwest::Url::parse(&location).expect("redirect URL");
        let param = |name: &str| {
            location
                .query_pairs()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.into_owned())
                .unwrap_or_else(|| panic!("no {name} in the redirect to {location}"))
        };
        (param("code"), param("state"))
    }

    /// Exchanges `code` as the client `client_id` and returns the ID token it is given: a
    /// token issued to that client, to show to another one.
    pub async fn id_token_for(&self, client_id: &str, code: &str, redirect_url: &str) -> String {
        let response = self
            .http
            .post(format!("{}/oauth2/token", self.issuer()))
            .basic_auth(client_id, Some("any secret"))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", redirect_url),
            ])
            .send()
            .await
            .expect("token request");
        assert_eq!(response.status(), StatusCode::OK, "token request refused");
        let body: Value = response.json().await.expect("token response");
        body["id_token"].as_str().expect("an ID token").to_owned()
    }

    /// Makes the provider sign with a new key: it keeps none across a restart, so restarts it
    /// on the same port (same issuer) and gives it back its users. Codes it issued are lost.
    pub async fn rotate_keys(&mut self) {
        let old_keys = self.keys().await;
        self.stop();
        self.process = spawn(&program(), self.port, &self.log);
        assert!(
            self.wait_until_ready().await,
            "oidc-provider-mock did not restart on port {}",
            self.port
        );
        let users = self.users.lock().unwrap().clone();
        for (sub, claims) in &users {
            self.put_user(sub, claims).await;
        }
        assert_ne!(
            self.keys().await,
            old_keys,
            "the restart kept the signing key"
        );
    }

    async fn keys(&self) -> Value {
        self.http
            .get(format!("{}/jwks", self.issuer()))
            .send()
            .await
            .expect("JWKS request")
            .json()
            .await
            .expect("JWKS")
    }

    async fn put_user(&self, sub: &str, claims: &Value) {
        let response = self
            .http
            .put(format!("{}/users/{sub}", self.issuer()))
            .json(claims)
            .send()
            .await
            .expect("user request");
        assert_eq!(
            response.status(),
            StatusCode::NO_CONTENT,
            "user {sub} refused"
        );
    }

    /// Whether the discovery document answers before the process exits or time runs out.
    async fn wait_until_ready(&mut self) -> bool {
        let url = format!("{}/.well-known/openid-configuration", self.issuer());
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.process.try_wait() {
                // Most likely the port was taken; the log says.
                eprintln!(
                    "oidc-provider-mock exited on port {}:\n{}",
                    self.port,
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
                return false;
            }
            let answered = self.http.get(&url).send().await;
            if answered.is_ok_and(|response| response.status().is_success()) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.stop();
        panic!(
            "oidc-provider-mock did not answer on port {} within {STARTUP_TIMEOUT:?}:\n{}",
            self.port,
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }

    fn stop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// The workspace's .venv/bin/oidc-provider-mock, which must be there.
fn program() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/oidc-provider-mock");
    assert!(
        path.is_file(),
        "{} is missing: `make test` installs it (or `make .venv/oidc-requirements.txt` alone)",
        path.display()
    );
    path
}

fn spawn(program: &Path, port: u16, log: &Path) -> Child {
    let log = File::create(log).expect("provider log file");
    Command::new(program)
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--require-nonce", "true"])
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("provider log file"))
        .stderr(log)
        .spawn()
        .unwrap_or_else(|error| panic!("cannot start {}: {error}", program.display()))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}
