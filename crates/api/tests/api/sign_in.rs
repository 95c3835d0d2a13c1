//! Single sign-on to the admin UI end to end over HTTP, against a real OpenID provider: the
//! login page's button, the provider's answer, the session it opens with the role the groups
//! give, and every way a sign-in is refused: a state from another browser, a replayed
//! callback, no mapped group, a name another account holds; and a key rotation at the
//! provider, after which people still sign in.

use crate::helpers::*;
use crate::oidc_provider::OidcProvider;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

both_setups!(
    a_viewer_signs_in_sees_everything_and_can_change_nothing,
    a_manager_signs_in_and_the_role_follows_the_providers_groups,
    a_callback_is_good_once_and_only_in_the_browser_that_began_it,
    someone_whose_groups_map_to_no_role_is_refused_and_nothing_is_stored,
    sign_in_survives_a_key_rotation_at_the_provider,
);

async fn app_with(provider: &OidcProvider) -> TestApp {
    spawn_app_with(&[
        ("MAILING_OIDC_ISSUER", &provider.issuer()),
        ("MAILING_OIDC_CLIENT_ID", "mailing-admin"),
        ("MAILING_OIDC_CLIENT_SECRET", "client-secret-42"),
        // The test carries the provider's answer to the app itself.
        (
            "MAILING_OIDC_REDIRECT_URL",
            "http://127.0.0.1:9/admin/oidc/callback",
        ),
        ("MAILING_OIDC_PROVIDER_NAME", "Staff SSO"),
    ])
    .await
}

async fn provider_with_people() -> OidcProvider {
    let provider = OidcProvider::start().await;
    for (sub, name, groups) in [
        ("u-vera", "vera", json!(["mailing-viewers", "staff"])),
        ("u-max", "max", json!(["mailing-managers"])),
        ("u-olga", "olga", json!(["staff"])),
        ("u-mallory", "admin", json!(["mailing-admins"])),
        ("u-long", &"x".repeat(101), json!(["mailing-viewers"])),
    ] {
        provider
            .set_user(sub, json!({ "preferred_username": name, "groups": groups }))
            .await;
    }
    provider
}

fn cookies(response: &Response) -> Vec<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .filter(|cookie| !cookie.ends_with('='))
        .collect()
}

/// A sign-in begun in one browser: its cookies and where the provider sent it back to.
struct Begun {
    cookies: String,
    callback: String,
}

async fn begin(app: &TestApp, provider: &OidcProvider, sub: &str) -> Begun {
    let start = app
        .get_without_token("/admin/oidc/start?time_zone=Europe%2FMoscow")
        .await;
    assert_eq!(start.status(), StatusCode::SEE_OTHER);
    let authorize_url = start.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(
        authorize_url.starts_with(&provider.issuer()),
        "{authorize_url}"
    );
    for part in [
        "code_challenge_method=S256",
        "nonce=",
        "state=",
        "client_id=mailing-admin",
    ] {
        assert!(authorize_url.contains(part), "{part} in {authorize_url}");
    }
    let cookies = cookies(&start).join("; ");
    let (code, state) = provider.authorize(&authorize_url, sub).await;
    Begun {
        cookies,
        callback: format!(
            "/admin/oidc/callback?code={}&state={}",
            urlencode(&code),
            urlencode(&state)
        ),
    }
}

fn urlencode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

async fn callback(app: &TestApp, begun: &Begun, cookies: &str) -> Response {
    send(
        app.request_without_token(Method::GET, &begun.callback)
            .header(COOKIE, cookies),
    )
    .await
}

/// Signs `sub` in: the session cookie.
async fn sign_in(app: &TestApp, provider: &OidcProvider, sub: &str) -> String {
    let begun = begin(app, provider, sub).await;
    let response = callback(app, &begun, &begun.cookies).await;
    assert_eq!(response.status(), StatusCode::OK);
    let session = cookies(&response)
        .into_iter()
        .find(|c| c.starts_with("mailing_admin_session="))
        .expect("a session cookie");
    let page = response.text().await.unwrap();
    assert!(
        page.contains("url=/admin"),
        "the page goes on to the dashboard: {page}"
    );
    session
}

async fn page(app: &TestApp, session: &str, path: &str) -> (StatusCode, String) {
    let response = send(
        app.request_without_token(Method::GET, path)
            .header(COOKIE, session),
    )
    .await;
    (response.status(), response.text().await.unwrap())
}

fn csrf(html: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let at = html.find(marker).expect("a CSRF field") + marker.len();
    html[at..at + 64].to_owned()
}

async fn user(app: &TestApp, username: &str) -> Option<Value> {
    body(app.get("/api/v1/users").await, StatusCode::OK).await["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|user| user["username"] == username)
        .cloned()
}

async fn a_viewer_signs_in_sees_everything_and_can_change_nothing() {
    let provider = provider_with_people().await;
    let app = app_with(&provider).await;
    let (_, login) = page(&app, "", "/admin/login").await;
    assert!(login.contains("Log in with Staff SSO"), "{login}");
    app.create_tag("vip").await;

    let session = sign_in(&app, &provider, "u-vera").await;
    let (status, dashboard) = page(&app, &session, "/admin").await;
    assert_eq!(status, StatusCode::OK);
    assert!(dashboard.contains("vera") && dashboard.contains("(viewer)"));
    assert!(
        !dashboard.contains("New mailing"),
        "no control a viewer cannot use"
    );
    assert!(
        !dashboard.contains("/admin/users"),
        "no admin pages in the menu"
    );
    let (status, tags) = page(&app, &session, "/admin/tags").await;
    assert_eq!(status, StatusCode::OK);
    assert!(tags.contains("vip") && !tags.contains("New tag") && !tags.contains("/delete"));
    for path in [
        "/admin/mailings",
        "/admin/clients",
        "/admin/operators",
        "/admin/opt-outs",
    ] {
        assert_eq!(page(&app, &session, path).await.0, StatusCode::OK, "{path}");
    }
    let (status, refused) = page(&app, &session, "/admin/mailings/new").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(refused.contains("needs the manager role"), "{refused}");
    assert_eq!(
        page(&app, &session, "/admin/users").await.0,
        StatusCode::FORBIDDEN
    );
    let saved = send(
        app.request_without_token(Method::POST, "/admin/tags")
            .header(COOKIE, &session)
            .form(&[
                ("csrf_token", csrf(&dashboard).as_str()),
                ("value", "loyal"),
            ]),
    )
    .await;
    assert_eq!(saved.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.counts().await.tags, 1, "nothing stored");

    let vera = user(&app, "vera").await.expect("an account for vera");
    assert_eq!(
        (
            &vera["role"],
            &vera["single_sign_on"],
            &vera["has_password"]
        ),
        (&json!("viewer"), &json!(true), &json!(false))
    );
    let log = body(
        app.get("/api/v1/audit-log?actor=vera").await,
        StatusCode::OK,
    )
    .await;
    let entry = &log["items"][0];
    assert_eq!(
        (
            &entry["action"],
            &entry["actor"]["signed_in_with"],
            &entry["interface"]
        ),
        (&json!("sign_in"), &json!("oidc"), &json!("admin_ui"))
    );
    assert_eq!(log["total"], 1, "the refused form left nothing: {log}");
    assert_eq!(
        entry["changes"],
        json!({}),
        "no code nor state in the log: {entry}"
    );
}

async fn a_manager_signs_in_and_the_role_follows_the_providers_groups() {
    let provider = provider_with_people().await;
    let app = app_with(&provider).await;
    let session = sign_in(&app, &provider, "u-max").await;
    let (_, tags) = page(&app, &session, "/admin/tags").await;
    let saved = send(
        app.request_without_token(Method::POST, "/admin/tags")
            .header(COOKIE, &session)
            .form(&[("csrf_token", csrf(&tags).as_str()), ("value", "vip")]),
    )
    .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.counts().await.tags, 1);
    let log = body(
        app.get("/api/v1/audit-log?actor=max&resource=tags").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(log["items"][0]["actor"]["signed_in_with"], "oidc");

    // Moved to the viewers at the provider: a viewer from the next sign-in on.
    provider
        .set_user(
            "u-max",
            json!({ "preferred_username": "max", "groups": ["mailing-viewers"] }),
        )
        .await;
    let again = sign_in(&app, &provider, "u-max").await;
    let (_, dashboard) = page(&app, &again, "/admin").await;
    assert!(dashboard.contains("(viewer)"));
    assert_eq!(user(&app, "max").await.unwrap()["role"], "viewer");
}

async fn a_callback_is_good_once_and_only_in_the_browser_that_began_it() {
    let provider = provider_with_people().await;
    let app = app_with(&provider).await;
    // Another browser's callback (a link someone was sent): no state cookie here.
    let begun = begin(&app, &provider, "u-max").await;
    let foreign = callback(&app, &begun, "").await;
    assert_eq!(foreign.status(), StatusCode::BAD_REQUEST);
    assert!(
        foreign
            .text()
            .await
            .unwrap()
            .contains("did not start in this browser")
    );
    // That spent the state: not even the right browser can use it now.
    let spent = callback(&app, &begun, &begun.cookies).await;
    assert_eq!(spent.status(), StatusCode::BAD_REQUEST);

    // A wrong state with the right cookie.
    let begun = begin(&app, &provider, "u-max").await;
    let tampered = Begun {
        cookies: begun.cookies.clone(),
        callback: begun.callback.replace("state=", "state=x"),
    };
    assert_eq!(
        callback(&app, &tampered, &tampered.cookies).await.status(),
        StatusCode::BAD_REQUEST
    );

    // The right one works once; replayed, it is refused.
    let begun = begin(&app, &provider, "u-max").await;
    assert_eq!(
        callback(&app, &begun, &begun.cookies).await.status(),
        StatusCode::OK
    );
    let replayed = callback(&app, &begun, &begun.cookies).await;
    assert_eq!(replayed.status(), StatusCode::BAD_REQUEST);

    // The provider's own refusal is shown, not a server error.
    let denied = send(
        app.request_without_token(
            Method::GET,
            "/admin/oidc/callback?error=access_denied&error_description=The+user+said+no",
        )
        .header(COOKIE, &begun.cookies),
    )
    .await;
    assert_eq!(denied.status(), StatusCode::UNAUTHORIZED);
    assert!(denied.text().await.unwrap().contains("access_denied"));
}

async fn someone_whose_groups_map_to_no_role_is_refused_and_nothing_is_stored() {
    let provider = provider_with_people().await;
    let app = app_with(&provider).await;
    let begun = begin(&app, &provider, "u-olga").await;
    let refused = callback(&app, &begun, &begun.cookies).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(
        cookies(&refused)
            .iter()
            .all(|c| !c.starts_with("mailing_admin_session="))
    );
    let page = refused.text().await.unwrap();
    assert!(
        page.contains("You signed in as olga, but your groups are staff"),
        "{page}"
    );
    assert!(page.contains("mailing-viewers (viewer)"), "{page}");
    assert_eq!(user(&app, "olga").await, None);

    // A provider user named like an account that signs in with a password gets nothing of it.
    let begun = begin(&app, &provider, "u-mallory").await;
    let clash = callback(&app, &begun, &begun.cookies).await;
    assert_eq!(clash.status(), StatusCode::CONFLICT);
    assert!(
        clash
            .text()
            .await
            .unwrap()
            .contains("belongs to an account")
    );
    assert_eq!(
        user(&app, ADMIN_USERNAME).await.unwrap()["single_sign_on"],
        false
    );

    // A name no page nor log line can carry is refused, not stored.
    let begun = begin(&app, &provider, "u-long").await;
    let long = callback(&app, &begun, &begun.cookies).await;
    assert_eq!(long.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        long.text()
            .await
            .unwrap()
            .contains("longer than 100 characters")
    );
}

async fn sign_in_survives_a_key_rotation_at_the_provider() {
    let mut provider = provider_with_people().await;
    let app = app_with(&provider).await;
    sign_in(&app, &provider, "u-vera").await;
    provider.rotate_keys().await;
    let session = sign_in(&app, &provider, "u-vera").await;
    assert_eq!(page(&app, &session, "/admin").await.0, StatusCode::OK);
}
