//! The OpenID Connect protocol module (`auth::oidc`) against a real provider: sign-in, and each
//! way a provider's answer must be refused.

use crate::oidc_provider::OidcProvider;
use chrono::{DateTime, TimeDelta, Utc};
use mailing_api::auth::oidc::{Identity, Oidc, OidcConfig, OidcError};
use secrecy::SecretString;
use serde_json::json;

const CLIENT_ID: &str = "mailing-admin";
const CLIENT_SECRET: &str = "client-secret-42";
const REDIRECT_URL: &str = "http://127.0.0.1:8000/admin/oidc/callback";

fn config(issuer: String, client_id: &str) -> OidcConfig {
    OidcConfig {
        issuer,
        client_id: client_id.to_owned(),
        // The provider takes any secret; this one must never show in an error.
        client_secret: SecretString::from(CLIENT_SECRET),
        redirect_url: REDIRECT_URL.to_owned(),
        groups_claim: "groups".to_owned(),
    }
}

fn oidc(provider: &OidcProvider, client_id: &str) -> Oidc {
    Oidc::new(config(provider.issuer(), client_id)).expect("valid settings")
}

/// A whole sign-in of `sub` through `oidc`.
async fn sign_in(oidc: &Oidc, provider: &OidcProvider, sub: &str) -> Result<Identity, OidcError> {
    let start = oidc.begin().await?;
    let (code, state) = provider.authorize(&start.authorize_url, sub).await;
    assert_eq!(state, start.state);
    oidc.finish(&code, &start.pkce_verifier, &start.nonce).await
}

#[track_caller]
fn assert_invalid_token(result: Result<Identity, OidcError>, reason: &str) {
    match result {
        Err(OidcError::InvalidToken(why)) => assert!(why.contains(reason), "{why}"),
        other => panic!("expected an invalid token ({reason}), got {other:?}"),
    }
}

#[tokio::test]
async fn signs_in_with_groups_and_username() {
    let provider = OidcProvider::start().await;
    provider
        .set_user(
            "u-1",
            json!({
                "preferred_username": "alice",
                "email": "alice@example.com",
                "groups": ["mailing-admins", "ops"],
            }),
        )
        .await;
    provider
        .set_user("u-2", json!({"email": "bob@example.com", "groups": "ops"}))
        .await;
    let oidc = oidc(&provider, CLIENT_ID);
    assert_eq!(oidc.provider_name(), "127.0.0.1");

    let start = oidc.begin().await.unwrap();
    let url = reqwest::Url::parse(&start.authorize_url).unwrap();
    let query = |name: &str| {
        url.query_pairs()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    };
    // The provider lists no "groups" scope, so none is asked for.
    assert_eq!(query("scope").as_deref(), Some("openid profile email"));
    assert_eq!(query("client_id").as_deref(), Some(CLIENT_ID));
    assert_eq!(query("redirect_uri").as_deref(), Some(REDIRECT_URL));
    assert_eq!(query("code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(query("state"), Some(start.state.clone()));
    assert_eq!(query("nonce"), Some(start.nonce.clone()));
    assert!(!start.authorize_url.contains(&start.pkce_verifier));

    let (code, _) = provider.authorize(&start.authorize_url, "u-1").await;
    let alice = oidc
        .finish(&code, &start.pkce_verifier, &start.nonce)
        .await
        .unwrap();
    assert_eq!(
        alice,
        Identity {
            issuer: provider.issuer(),
            subject: "u-1".to_owned(),
            username: "alice".to_owned(),
            email: Some("alice@example.com".to_owned()),
            groups: vec!["mailing-admins".to_owned(), "ops".to_owned()],
        }
    );

    // A single group name counts as one group; without preferred_username, the email names.
    let bob = sign_in(&oidc, &provider, "u-2").await.unwrap();
    assert_eq!(
        (bob.username.as_str(), bob.groups),
        ("bob@example.com", vec!["ops".to_owned()])
    );
}

#[tokio::test]
async fn a_user_without_the_groups_claim_has_no_groups() {
    let provider = OidcProvider::start().await;
    provider.set_user("u-3", json!({"name": "Carol"})).await;
    let oidc = oidc(&provider, CLIENT_ID);

    // The ID token lacks the claim, so userinfo is asked, and lacks it too.
    let carol = sign_in(&oidc, &provider, "u-3").await.unwrap();
    assert_eq!((carol.username.as_str(), carol.email), ("u-3", None));
    assert!(carol.groups.is_empty());
}

#[tokio::test]
async fn a_token_for_another_sign_in_is_refused() {
    let provider = OidcProvider::start().await;
    let oidc = oidc(&provider, CLIENT_ID);

    let start = oidc.begin().await.unwrap();
    let (code, _) = provider.authorize(&start.authorize_url, "u-1").await;
    let other = oidc.begin().await.unwrap();
    assert_ne!(other.nonce, start.nonce);
    let refused = oidc.finish(&code, &start.pkce_verifier, &other.nonce).await;
    assert_invalid_token(refused, "nonce");
}

#[tokio::test]
async fn a_code_works_once() {
    let provider = OidcProvider::start().await;
    let oidc = oidc(&provider, CLIENT_ID);

    let start = oidc.begin().await.unwrap();
    let (code, _) = provider.authorize(&start.authorize_url, "u-1").await;
    oidc.finish(&code, &start.pkce_verifier, &start.nonce)
        .await
        .unwrap();
    let replayed = oidc.finish(&code, &start.pkce_verifier, &start.nonce).await;
    match replayed {
        Err(error @ OidcError::CodeRejected(_)) => {
            let message = error.to_string();
            assert!(message.contains("invalid_grant"), "{message}");
            assert!(!message.contains(&code), "{message}");
        }
        other => panic!("expected the code refused, got {other:?}"),
    }
}

#[tokio::test]
async fn what_was_issued_to_another_client_is_refused() {
    let provider = OidcProvider::start().await;
    let ours = oidc(&provider, CLIENT_ID);
    let theirs = oidc(&provider, "another-app");

    // Their code at our client: the provider refuses it.
    let start = theirs.begin().await.unwrap();
    let (code, _) = provider.authorize(&start.authorize_url, "u-1").await;
    let refused = ours.finish(&code, &start.pkce_verifier, &start.nonce).await;
    assert!(
        matches!(refused, Err(OidcError::CodeRejected(_))),
        "{refused:?}"
    );

    // Their ID token, which they got for that same code: good for them, not for us.
    let id_token = provider
        .id_token_for("another-app", &code, REDIRECT_URL)
        .await;
    let theirs_checked = theirs.verify_id_token(&id_token, &start.nonce).await;
    assert_eq!(theirs_checked.unwrap().subject, "u-1");
    let ours_checked = ours.verify_id_token(&id_token, &start.nonce).await;
    assert_invalid_token(ours_checked, "another client");
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    fn two_hours_on() -> DateTime<Utc> {
        Utc::now() + TimeDelta::hours(2)
    }
    let provider = OidcProvider::start().await;
    // The provider's ID tokens live an hour.
    let oidc = oidc(&provider, CLIENT_ID).with_clock(two_hours_on);

    let refused = sign_in(&oidc, &provider, "u-1").await;
    assert_invalid_token(refused, "expired");
}

#[tokio::test]
async fn signs_in_after_the_provider_rotates_its_key() {
    let mut provider = OidcProvider::start().await;
    provider
        .set_user("u-1", json!({"groups": ["mailing-admins"]}))
        .await;
    let oidc = oidc(&provider, CLIENT_ID);
    sign_in(&oidc, &provider, "u-1").await.unwrap();

    // The cached keys no longer match the signature: the module fetches the new ones.
    provider.rotate_keys().await;
    let again = sign_in(&oidc, &provider, "u-1").await.unwrap();
    assert_eq!(again.groups, ["mailing-admins"]);
}

#[tokio::test]
async fn a_provider_that_is_down_is_unavailable() {
    let provider = OidcProvider::start().await;
    let oidc = oidc(&provider, CLIENT_ID);
    let start = oidc.begin().await.unwrap();
    let (code, _) = provider.authorize(&start.authorize_url, "u-1").await;
    let issuer = provider.issuer();
    drop(provider);

    // Down between the redirect and the callback: the token endpoint does not answer.
    let finished = oidc.finish(&code, &start.pkce_verifier, &start.nonce).await;
    assert!(
        matches!(finished, Err(OidcError::Unavailable(_))),
        "{finished:?}"
    );

    // Down before the first sign-in: discovery fails, and says where it looked.
    let fresh = Oidc::new(config(issuer.clone(), CLIENT_ID)).unwrap();
    match fresh.begin().await {
        Err(error @ OidcError::Unavailable(_)) => {
            let message = error.to_string();
            assert!(message.contains(&issuer), "{message}");
            assert!(!message.contains(CLIENT_SECRET), "{message}");
        }
        other => panic!("expected the provider unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn an_issuer_unlike_the_providers_own_is_a_misconfiguration() {
    let provider = OidcProvider::start().await;
    // The provider states its issuer without the trailing slash; they must match exactly.
    let oidc = Oidc::new(config(format!("{}/", provider.issuer()), CLIENT_ID)).unwrap();
    match oidc.begin().await {
        Err(error @ OidcError::Config(_)) => {
            let message = error.to_string();
            assert!(message.contains(&provider.issuer()), "{message}");
        }
        other => panic!("expected a configuration error, got {other:?}"),
    }
}
