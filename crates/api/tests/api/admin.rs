//! The admin web UI as a browser meets it over HTTP: sessions, CSRF, field errors and the
//! mailing form's times, against the same database-backed service the distributed setup runs.
//! (The headless-browser suite in `crates/api/browser` clicks through it end to end.)

use crate::helpers::{
    TestApp, at, body, id, running_mailing_body, scheduled_mailing_body, spawn_app, spawn_app_with,
    with,
};
use chrono::{Duration, Utc};
use mailing_domain::TimeZone;
use mailing_domain::store::{ClientQuery, NewAdminSession, PageRequest};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

both_setups!(
    pages_need_a_session_and_the_login_form_checks_the_password,
    the_session_cookie_is_http_only_strict_and_secure_behind_tls,
    a_form_without_the_sessions_csrf_token_is_refused_and_stores_nothing,
    a_bad_field_is_explained_beside_it_and_nothing_is_stored,
    logging_out_ends_the_session_and_an_expired_one_is_refused,
    the_mailing_form_reads_times_in_the_viewers_zone_and_counts_matching_clients,
    unknown_admin_pages_answer_with_a_page_not_json,
    a_running_mailings_form_locks_what_cannot_change_and_saves_the_rest,
    pages_refresh_their_live_parts_until_nothing_shown_can_change,
    the_time_zone_field_suggests_names_from_a_list_browsers_keep,
    a_mailings_page_shows_the_apis_warnings_about_it,
    a_tag_in_use_is_deleted_only_once_taking_it_off_is_agreed,
    an_uploaded_dry_run_reports_each_rejection_and_stores_nothing,
    an_uploaded_file_with_a_bad_header_is_explained_on_the_form,
    the_clients_search_downloads_as_csv,
    numbers_are_opted_out_searched_and_removed_in_the_admin_ui,
    replies_are_listed_with_what_they_did,
);

/// A logged-in browser: its session cookie and the CSRF token its pages carry.
struct Browser<'a> {
    app: &'a TestApp,
    cookie: String,
    csrf: String,
}

fn set_cookies(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

fn cookie_value(set_cookie: &str) -> &str {
    set_cookie.split(';').next().unwrap()
}

fn hidden_csrf(html: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).expect("the page has a CSRF field") + marker.len();
    html[start..start + 64].to_owned()
}

/// Opens the login form: the login cookie and the token the form carries.
async fn login_form(app: &TestApp) -> (String, String) {
    let response = app.get_without_token("/admin/login").await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = cookie_value(&set_cookies(&response)[0]).to_owned();
    let html = response.text().await.unwrap();
    (cookie, hidden_csrf(&html))
}

pub(crate) async fn submit_login(
    app: &TestApp,
    password: &str,
    extra_headers: &[(&str, &str)],
) -> reqwest::Response {
    let (cookie, csrf) = login_form(app).await;
    let mut request = app
        .request_without_token(reqwest::Method::POST, "/admin/login")
        .header(COOKIE, cookie)
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("username", "admin"),
            ("password", password),
            ("time_zone", "Asia/Yekaterinburg"),
        ]);
    for (name, value) in extra_headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

impl<'a> Browser<'a> {
    async fn login(app: &'a TestApp) -> Browser<'a> {
        let response = submit_login(app, "12345", &[]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let session = set_cookies(&response)
            .into_iter()
            .find(|c| c.starts_with("mailing_admin_session="))
            .expect("a session cookie");
        let mut browser = Browser {
            app,
            cookie: cookie_value(&session).to_owned(),
            csrf: String::new(),
        };
        let (status, html) = browser.get("/admin").await;
        assert_eq!(status, StatusCode::OK);
        browser.csrf = hidden_csrf(&html);
        browser
    }

    async fn get(&self, path: &str) -> (StatusCode, String) {
        let response = self
            .app
            .request_without_token(reqwest::Method::GET, path)
            .header(COOKIE, &self.cookie)
            .send()
            .await
            .unwrap();
        (response.status(), response.text().await.unwrap())
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.app
            .request_without_token(reqwest::Method::POST, path)
            .header(COOKIE, &self.cookie)
            .form(form)
            .send()
            .await
            .unwrap()
    }

    async fn post_with_csrf(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let mut fields = vec![("csrf_token", self.csrf.as_str())];
        fields.extend_from_slice(form);
        self.post(path, &fields).await
    }
}

async fn pages_need_a_session_and_the_login_form_checks_the_password() {
    let app = spawn_app().await;
    let response = app.get_without_token("/admin/clients").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/admin/login");

    let refused = submit_login(&app, "wrong", &[]).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(
        !set_cookies(&refused)
            .iter()
            .any(|c| c.starts_with("mailing_admin_session="))
    );
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("Wrong username or password.")
    );

    // A login posted from elsewhere carries no matching login cookie.
    let forged = app
        .request_without_token(reqwest::Method::POST, "/admin/login")
        .form(&[("username", "admin"), ("password", "12345")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
}

async fn the_session_cookie_is_http_only_strict_and_secure_behind_tls() {
    let app = spawn_app().await;
    let plain = submit_login(&app, "12345", &[]).await;
    let cookie = set_cookies(&plain)
        .into_iter()
        .find(|c| c.starts_with("mailing_admin_session="))
        .unwrap();
    for flag in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/admin",
        "Max-Age=28800",
    ] {
        assert!(cookie.contains(flag), "{cookie} lacks {flag}");
    }
    assert!(!cookie.contains("Secure"), "{cookie}");

    let behind_tls = submit_login(&app, "12345", &[("X-Forwarded-Proto", "https")]).await;
    let cookie = set_cookies(&behind_tls)
        .into_iter()
        .find(|c| c.starts_with("mailing_admin_session="))
        .unwrap();
    assert!(cookie.contains("Secure"), "{cookie}");
}

async fn a_form_without_the_sessions_csrf_token_is_refused_and_stores_nothing() {
    let app = spawn_app().await;
    let browser = Browser::login(&app).await;
    let missing = browser
        .post(
            "/admin/operators",
            &[("code", "nocsrf"), ("name", "No CSRF")],
        )
        .await;
    assert_eq!(missing.status(), StatusCode::FORBIDDEN);
    let wrong = browser
        .post(
            "/admin/operators",
            &[
                ("csrf_token", &"0".repeat(64)),
                ("code", "nocsrf"),
                ("name", "x"),
            ],
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    let operators = app
        .store()
        .list_operators(PageRequest {
            offset: 0,
            limit: 100,
        })
        .unwrap();
    assert_eq!(operators.total, 0);

    let saved = browser
        .post_with_csrf("/admin/operators", &[("code", "bln"), ("name", "Beeline")])
        .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    assert_eq!(saved.headers()[LOCATION], "/admin/operators?notice=saved");
    let (_, list) = browser.get("/admin/operators?notice=saved").await;
    assert!(list.contains("Operator saved.") && list.contains("Beeline"));
}

async fn a_bad_field_is_explained_beside_it_and_nothing_is_stored() {
    let app = spawn_app().await;
    app.create_operator("bln").await;
    let browser = Browser::login(&app).await;
    let response = browser
        .post_with_csrf(
            "/admin/clients",
            &[
                ("phone_number", "12345"),
                ("operator_code", "bln"),
                ("tags", "vip, "),
                ("time_zone", "Mars/Olympus"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    // In the form's words, beside each field, whose control names it.
    assert!(html.contains(
        "<p class=\"field-error\" id=\"phone_number-error\">Phone number: write 11 digits starting with 7, e.g. 79001234567</p>"
    ), "{html}");
    assert!(html.contains("id=\"time_zone-error\">Time zone: not a time zone name;"));
    assert!(html.contains("aria-describedby=\"phone_number-error phone_number-hint\""));
    // What was typed stays in the form.
    assert!(html.contains("value=\"12345\""));
    let clients = app
        .store()
        .list_clients(
            &ClientQuery::default(),
            PageRequest {
                offset: 0,
                limit: 10,
            },
        )
        .unwrap();
    assert_eq!(clients.total, 0);
}

async fn logging_out_ends_the_session_and_an_expired_one_is_refused() {
    let app = spawn_app().await;
    let browser = Browser::login(&app).await;
    let out = browser.post_with_csrf("/admin/logout", &[]).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert!(
        set_cookies(&out)
            .iter()
            .any(|c| c.starts_with("mailing_admin_session=;") && c.contains("Max-Age=0"))
    );
    let after = app
        .request_without_token(reqwest::Method::GET, "/admin")
        .header(COOKIE, &browser.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), StatusCode::SEE_OTHER);

    // A session past its expiry opens nothing, even with its cookie still in the browser.
    let token = "e".repeat(64);
    let now = Utc::now();
    app.store()
        .create_session(&NewAdminSession {
            token_hash: sha256_hex(&token),
            username: "admin".into(),
            signed_in_with: mailing_domain::SignInMethod::Password,
            csrf_token: "c".repeat(64),
            time_zone: TimeZone::utc(),
            created_at: now - Duration::hours(9),
            expires_at: now - Duration::seconds(1),
        })
        .unwrap();
    let expired = app
        .request_without_token(reqwest::Method::GET, "/admin")
        .header(COOKIE, format!("mailing_admin_session={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(expired.status(), StatusCode::SEE_OTHER);
    assert_eq!(expired.headers()[LOCATION], "/admin/login");
}

fn sha256_hex(token: &str) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn the_mailing_form_reads_times_in_the_viewers_zone_and_counts_matching_clients() {
    let app = spawn_app().await;
    app.create_operator("bln").await;
    app.create_operator("mts").await;
    app.create_client("79000000001", "bln", &["vip"]).await;
    app.create_client("79000000002", "bln", &[]).await;
    app.create_client("79000000003", "mts", &["vip"]).await;
    let browser = Browser::login(&app).await;

    let (_, count) = browser
        .get("/admin/mailings/matching?operator_codes=bln")
        .await;
    assert_eq!(count, "2 clients match");
    let (_, count) = browser
        .get("/admin/mailings/matching?operator_codes=bln&tags=vip")
        .await;
    assert_eq!(count, "1 client matches");
    let (_, count) = browser.get("/admin/mailings/matching").await;
    assert_eq!(count, "3 clients match");

    let response = browser
        .post_with_csrf(
            "/admin/mailings",
            &[
                ("text", "Sale\r\ntoday"),
                ("start_at", "2040-01-01T10:00"),
                ("end_at", "2040-01-02T10:00"),
                ("tags", "vip"),
                ("window_start", "09:00"),
                ("window_end", "21:00"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let mailing = app
        .get("/api/v1/mailings/1")
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap();
    // Asia/Yekaterinburg is UTC+5, and the textarea's CRLF became a plain line break.
    assert_eq!(mailing["start_at"], "2040-01-01T05:00:00Z");
    assert_eq!(mailing["text"], "Sale\ntoday");
    assert_eq!(mailing["filter"]["tags"], serde_json::json!(["vip"]));
    assert_eq!(mailing["send_window"]["start"], "09:00");

    let (status, page) = browser.get("/admin/mailings/1").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("2040-01-01 10:00"),
        "the start in the viewer's zone"
    );
    assert!(page.contains("Asia/Yekaterinburg"));

    // A message search the API's rules refuse is explained beside its fields.
    let (status, page) = browser.get("/admin/mailings/1?status=bogus&phone=7a").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("id=\"status-error\""), "{page}");
    assert!(
        page.contains("id=\"phone-error\">Phone must be 1 to 11 digits"),
        "{page}"
    );

    // An end before the start is the domain's rule, shown beside End.
    let refused = browser
        .post_with_csrf(
            "/admin/mailings",
            &[
                ("text", "x"),
                ("start_at", "2040-01-02T10:00"),
                ("end_at", "2040-01-01T10:00"),
            ],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = refused.text().await.unwrap();
    assert!(
        html.contains("id=\"end_at-error\">End must be later than Start"),
        "{html}"
    );
}

async fn unknown_admin_pages_answer_with_a_page_not_json() {
    let app = spawn_app().await;
    let browser = Browser::login(&app).await;
    let response = app
        .request_without_token(reqwest::Method::GET, "/admin/nowhere")
        .header(COOKIE, &browser.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let (status, _) = browser.get("/admin/mailings/999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, page) = browser.get("/admin/clients/abc/edit").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(page.contains("there is no such page"), "{page}");
}

/// The `data-every` of the page's self-refreshing part, if it refreshes.
fn refresh_every(html: &str) -> Option<&str> {
    let start = html.find("data-every=\"")? + "data-every=\"".len();
    html[start..].split('"').next()
}

async fn a_running_mailings_form_locks_what_cannot_change_and_saves_the_rest() {
    let app = spawn_app().await;
    app.create_operator("bln").await;
    let saved = app
        .create_client_filter(&serde_json::json!({ "name": "Beeline", "operator_codes": ["bln"] }))
        .await;
    let body_json = with(
        &running_mailing_body(),
        serde_json::json!({ "filter": null, "client_filter_id": saved["id"] }),
    );
    let mailing = app.create_mailing(&body_json).await;
    // The saved filter changes after the mailing copied it; the mailing keeps its copy.
    let changed = app
        .put_json(
            &format!("/api/v1/client-filters/{}", saved["id"]),
            &serde_json::json!({ "name": "Beeline", "operator_codes": [] }),
        )
        .await;
    body(changed, StatusCode::OK).await;
    let browser = Browser::login(&app).await;

    let (status, form) = browser.get("/admin/mailings/1/edit").await;
    assert_eq!(status, StatusCode::OK);
    assert!(form.contains("id=\"locked-note\""), "{form}");
    let start = form.split("id=\"start_at\"").nth(1).unwrap();
    assert!(
        start.split('>').next().unwrap().contains(" disabled"),
        "{form}"
    );
    assert!(
        form.contains("id=\"start_at-hint\">Locked: cannot change once the mailing has started.")
    );
    assert!(form.contains("<fieldset class=\"recipients\" disabled"));
    let end = form.split("id=\"end_at\"").nth(1).unwrap();
    assert!(!end.split('>').next().unwrap().contains(" disabled"));

    // What a browser sends from this form: no locked field. An end before the start is
    // explained in the form's words, and the locked fields stay read-only.
    let refused = browser
        .post_with_csrf(
            "/admin/mailings/1",
            &[("text", "Still happening"), ("end_at", "2000-01-01T10:00")],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = refused.text().await.unwrap();
    assert!(
        html.contains("id=\"end_at-error\">End must be later than Start"),
        "{html}"
    );
    assert!(html.contains("<fieldset class=\"recipients\" disabled"));

    let end_at = chrono::DateTime::parse_from_rfc3339(&at(Duration::days(2)))
        .unwrap()
        .with_timezone(&chrono_tz::Asia::Yekaterinburg)
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let saved_form = browser
        .post_with_csrf(
            "/admin/mailings/1",
            &[
                ("text", "Still happening"),
                ("end_at", &end_at),
                ("window_start", "09:00"),
                ("window_end", "21:00"),
            ],
        )
        .await;
    assert_eq!(saved_form.status(), StatusCode::SEE_OTHER);
    let stored = body(app.get("/api/v1/mailings/1").await, StatusCode::OK).await;
    assert_eq!(stored["text"], "Still happening");
    assert_eq!(stored["send_window"]["start"], "09:00");
    assert_eq!(stored["start_at"], mailing["start_at"]);
    assert_eq!(stored["filter"], mailing["filter"], "the recipients stay");
    assert_eq!(stored["client_filter_id"], saved["id"]);
}

async fn pages_refresh_their_live_parts_until_nothing_shown_can_change() {
    let app = spawn_app().await;
    let browser = Browser::login(&app).await;
    let (_, dashboard) = browser.get("/admin").await;
    assert_eq!(refresh_every(&dashboard), None, "nothing to watch");

    // Only an upcoming mailing: the dashboard and the lists watch it, slowly while its start
    // is far.
    let tomorrow = app
        .create_mailing(&serde_json::json!({
            "text": "Tomorrow",
            "start_at": at(Duration::days(1)),
            "end_at": at(Duration::days(2)),
            "filter": {},
        }))
        .await;
    let (_, dashboard) = browser.get("/admin").await;
    assert!(
        dashboard.contains("data-live=\"/admin/live\""),
        "{dashboard}"
    );
    assert_eq!(refresh_every(&dashboard), Some("15000"));
    let (_, list) = browser.get("/admin/mailings").await;
    assert!(
        list.contains("id=\"mailings-live\" data-live=\"/admin/mailings/live\""),
        "{list}"
    );
    let (_, page) = browser.get("/admin/mailings/1?status=sent&page=2").await;
    assert!(
        page.contains("data-live=\"/admin/mailings/1/live?status=sent&#38;page=2\""),
        "the page refreshes its own search and page: {page}"
    );

    // The fragment holds every part that changes, each with the id of the part it replaces.
    let (status, parts) = browser
        .get("/admin/mailings/1/live?status=sent&page=2")
        .await;
    assert_eq!(status, StatusCode::OK);
    for id in ["mailing-progress", "mailing-messages", "mailing-actions"] {
        assert!(parts.contains(&format!("id=\"{id}\"")), "{id} in {parts}");
    }
    assert!(!parts.contains("<html"), "a fragment, not a page");
    let (status, cards) = browser.get("/admin/mailings/live").await;
    assert_eq!(status, StatusCode::OK);
    assert!(cards.contains("Mailing #1"));

    // A start within a minute is watched closely.
    app.create_mailing(&serde_json::json!({
        "text": "Soon",
        "start_at": at(Duration::seconds(40)),
        "end_at": at(Duration::days(1)),
        "filter": {},
    }))
    .await;
    let (_, dashboard) = browser.get("/admin").await;
    assert_eq!(refresh_every(&dashboard), Some("2000"));

    // Cancelled, nothing can change: no page refreshes any more.
    for id in [tomorrow["id"].clone(), serde_json::json!(2)] {
        let cancelled = app.post(&format!("/api/v1/mailings/{id}/cancel")).await;
        assert_eq!(cancelled.status(), StatusCode::OK);
    }
    let (_, dashboard) = browser.get("/admin").await;
    assert_eq!(refresh_every(&dashboard), None);
    let (_, list) = browser.get("/admin/mailings").await;
    assert_eq!(refresh_every(&list), None);
    let (_, page) = browser.get("/admin/mailings/1").await;
    assert_eq!(refresh_every(&page), None);
    assert!(!page.contains("Cancel mailing"));
}

async fn the_time_zone_field_suggests_names_from_a_list_browsers_keep() {
    let app = spawn_app().await;
    let browser = Browser::login(&app).await;
    let (_, form) = browser.get("/admin/clients/new").await;
    let marker = "data-time-zones=\"";
    let start = form.find(marker).expect("the field names its list") + marker.len();
    let url = form[start..].split('"').next().unwrap().to_owned();
    assert!(form.contains("list=\"time-zones\"") && form.contains("<datalist id=\"time-zones\">"));
    let response = app.get_without_token(&url).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    let names = response.text().await.unwrap();
    assert!(names.lines().any(|name| name == "Europe/Moscow"));
    assert!(names.lines().any(|name| name == "UTC"));
}

async fn a_mailings_page_shows_the_apis_warnings_about_it() {
    let app = spawn_app().await;
    app.create_tag("vip").await;
    let mailing = app
        .create_mailing(&with(
            &scheduled_mailing_body(),
            serde_json::json!({ "filter": { "tags": ["vip"] } }),
        ))
        .await;
    let browser = Browser::login(&app).await;
    let page = format!("/admin/mailings/{}", id(&mailing));
    let (status, html) = browser.get(&page).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("class=\"warnings\"") && html.contains("No client matches the filter now"),
        "{html}"
    );

    app.create_operator("bln").await;
    app.create_client("79001234567", "bln", &["vip"]).await;
    let (_, html) = browser.get(&page).await;
    assert!(
        !html.contains("No client matches"),
        "the warning goes once a client matches"
    );
}

async fn a_tag_in_use_is_deleted_only_once_taking_it_off_is_agreed() {
    let app = spawn_app().await;
    app.create_operator("bln").await;
    let client = app.create_client("79001234567", "bln", &["vip"]).await;
    let tags = crate::helpers::body(app.get("/api/v1/tags").await, StatusCode::OK).await;
    let vip = crate::helpers::id(&tags["items"][0]);
    let browser = Browser::login(&app).await;
    let delete = format!("/admin/tags/{vip}/delete");

    let refused = browser.post_with_csrf(&delete, &[]).await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    let page = refused.text().await.unwrap();
    assert!(page.contains("Delete tag vip"), "{page}");
    assert!(page.contains("The tag is carried by 1 client."), "{page}");
    assert!(page.contains("name=\"detach\" value=\"true\""), "{page}");
    assert!(page.contains("Take it off and delete"), "{page}");
    assert_eq!(app.counts().await.tags, 1);

    // A filter that names it keeps it, whatever the viewer agrees to.
    let filter = app
        .create_client_filter(&serde_json::json!({ "tags": ["vip"] }))
        .await;
    let named = browser.post_with_csrf(&delete, &[("detach", "true")]).await;
    assert_eq!(named.status(), StatusCode::CONFLICT);
    let page = named.text().await.unwrap();
    let link = format!("/admin/client-filters/{}/edit", crate::helpers::id(&filter));
    assert!(page.contains(&link), "{page}");
    assert!(!page.contains("name=\"detach\""), "{page}");
    let filter_path = format!("/api/v1/client-filters/{}", crate::helpers::id(&filter));
    assert_eq!(
        app.delete(&filter_path).await.status(),
        StatusCode::NO_CONTENT
    );

    let deleted = browser.post_with_csrf(&delete, &[("detach", "true")]).await;
    assert_eq!(deleted.status(), StatusCode::SEE_OTHER);
    assert_eq!(deleted.headers()[LOCATION], "/admin/tags?notice=deleted");
    assert_eq!(app.counts().await.tags, 0);
    let client_path = format!("/api/v1/clients/{}", crate::helpers::id(&client));
    let untagged = crate::helpers::body(app.get(&client_path).await, StatusCode::OK).await;
    assert_eq!(untagged["tags"], serde_json::json!([]));
}

/// A multipart form as a browser sends it: its text fields, then the file.
fn multipart(fields: &[(&str, &str)], file: &str) -> (String, String) {
    let boundary = "----mailing-test-boundary-7d1f";
    let mut body = String::new();
    for (name, value) in fields {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str(&format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"list.csv\"\r\n\
         Content-Type: text/csv\r\n\r\n{file}\r\n--{boundary}--\r\n"
    ));
    (format!("multipart/form-data; boundary={boundary}"), body)
}

impl Browser<'_> {
    async fn upload(&self, fields: &[(&str, &str)], file: &str) -> reqwest::Response {
        let mut all = vec![("csrf_token", self.csrf.as_str())];
        all.extend_from_slice(fields);
        let (content_type, body) = multipart(&all, file);
        self.app
            .request_without_token(reqwest::Method::POST, "/admin/imports/new")
            .header(COOKIE, &self.cookie)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// The job page once its import is over.
    async fn finished_job(&self, location: &str) -> String {
        for _ in 0..200 {
            let (status, html) = self.get(location).await;
            assert_eq!(status, StatusCode::OK);
            if !html.contains("data-live=") {
                return html;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the import at {location} did not finish");
    }
}

const UPLOAD: &str = "phone_number,operator_code,tags\n\
                      +7 (900) 123-45-67,bln,vip\n\
                      8 900 123 45 68,bln,\n\
                      12345,bln,\n\
                      79001234569,bln,new\n";

fn client_count(app: &TestApp) -> u64 {
    app.store()
        .list_clients(
            &ClientQuery::default(),
            PageRequest {
                offset: 0,
                limit: 10,
            },
        )
        .unwrap()
        .total
}

async fn an_uploaded_dry_run_reports_each_rejection_and_stores_nothing() {
    let app = spawn_app().await;
    app.create_operator("bln").await;
    let browser = Browser::login(&app).await;
    let (status, form) = browser.get("/admin/imports/new?kind=clients").await;
    assert_eq!(status, StatusCode::OK);
    assert!(form.contains("enctype=\"multipart/form-data\"") && form.contains("name=\"mode\""));

    let refused = {
        let (content_type, body) = multipart(&[("csrf_token", &"0".repeat(64))], UPLOAD);
        app.request_without_token(reqwest::Method::POST, "/admin/imports/new")
            .header(COOKIE, &browser.cookie)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body)
            .send()
            .await
            .unwrap()
    };
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);

    let response = browser
        .upload(
            &[("kind", "clients"), ("mode", "upsert"), ("dry_run", "on")],
            UPLOAD,
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(location.starts_with("/admin/imports/"), "{location}");
    let html = browser.finished_job(&location).await;
    for (count, value) in [
        ("rows", 4),
        ("created", 3),
        ("updated", 0),
        ("unchanged", 0),
        ("rejected", 1),
    ] {
        assert!(
            html.contains(&format!("<dd data-count=\"{count}\">{value}</dd>")),
            "{count} {value}: {html}"
        );
    }
    assert!(html.contains("<td class=\"number\">4</td><td><code>phone_number</code></td>"));
    assert!(html.contains("<td>12345</td>"), "{html}");
    assert!(html.contains("id=\"dry-run-note\""));
    assert!(html.contains("<progress id=\"import-progress\" max=\"1000\" value=\"1000\">"));
    assert_eq!(client_count(&app), 0, "a dry run stores nothing");

    let real = browser
        .upload(&[("kind", "clients"), ("mode", "upsert")], UPLOAD)
        .await;
    assert_eq!(real.status(), StatusCode::SEE_OTHER);
    let location = real.headers()[LOCATION].to_str().unwrap().to_owned();
    let html = browser.finished_job(&location).await;
    assert!(html.contains("<dd data-count=\"created\">3</dd>"));
    assert!(!html.contains("id=\"dry-run-note\""));
    assert_eq!(client_count(&app), 3);
    let (_, list) = browser.get("/admin/imports").await;
    assert!(list.contains("(dry run)") && list.contains(&format!("href=\"{location}\"")));
}

async fn an_uploaded_file_with_a_bad_header_is_explained_on_the_form() {
    let app = spawn_app().await;
    let browser = Browser::login(&app).await;
    let response = browser
        .upload(
            &[("kind", "clients"), ("mode", "insert")],
            "phone_number,colour,attr.Bad\n79001234567,red,x\n",
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    assert!(html.contains("id=\"file-error\""), "{html}");
    assert!(
        html.contains("Column 2 (&#34;colour&#34;)")
            || html.contains("Column 2 (&quot;colour&quot;)"),
        "{html}"
    );
    assert!(html.contains("Column 3"), "{html}");
    assert!(
        html.contains("<option value=\"insert\" selected>"),
        "the mode stays as chosen"
    );

    let empty = browser.upload(&[("kind", "opt_outs")], "").await;
    assert_eq!(empty.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = empty.text().await.unwrap();
    assert!(html.contains("The file is empty"), "{html}");
    assert!(
        !html.contains("name=\"mode\""),
        "opt-out imports have no mode"
    );
    let jobs = app
        .store()
        .list_imports(
            mailing_domain::import::ImportKind::Clients,
            PageRequest {
                offset: 0,
                limit: 10,
            },
        )
        .unwrap();
    assert_eq!(jobs.total, 0, "a refused file starts nothing");
}

async fn the_clients_search_downloads_as_csv() {
    let app = spawn_app().await;
    app.create_operator("bln").await;
    let browser = Browser::login(&app).await;
    let response = browser
        .upload(
            &[("kind", "clients")],
            "phone_number,operator_code,tags,attr.city\n\
             79001234567,bln,vip,Kazan\n\
             79001234568,bln,,Omsk\n",
        )
        .await;
    let location = response.headers()[LOCATION].to_str().unwrap().to_owned();
    browser.finished_job(&location).await;
    let (_, list) = browser
        .get("/admin/clients?attributes=city+%3D+Kazan")
        .await;
    assert!(
        list.contains("href=\"/admin/clients/export?attributes=city+%3D+Kazan\""),
        "{list}"
    );
    let (status, csv) = browser
        .get("/admin/clients/export?attributes=city+%3D+Kazan")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        csv,
        "phone_number,operator_code,tags,time_zone,attr.city\n79001234567,bln,vip,UTC,Kazan\n"
    );
    let outsider = app.get_without_token("/admin/clients/export").await;
    assert_eq!(
        outsider.status(),
        StatusCode::SEE_OTHER,
        "a session is needed"
    );
}

async fn numbers_are_opted_out_searched_and_removed_in_the_admin_ui() {
    let app = spawn_app().await;
    let browser = Browser::login(&app).await;

    let refused = browser
        .post_with_csrf(
            "/admin/opt-outs",
            &[("phone_number", "12-34"), ("reason", "")],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = refused.text().await.unwrap();
    assert!(page.contains("id=\"phone_number-error\""), "{page}");
    assert!(page.contains("value=\"12-34\""), "{page}");
    let listed = body(app.get("/api/v1/opt-outs").await, StatusCode::OK).await;
    assert_eq!(listed["total"], 0);

    let added = browser
        .post_with_csrf(
            "/admin/opt-outs",
            &[
                ("phone_number", "+7 (900) 123-45-67"),
                ("reason", "asked by phone"),
            ],
        )
        .await;
    assert_eq!(added.status(), StatusCode::OK);
    let page = added.text().await.unwrap();
    assert!(
        page.contains("79001234567 opted out; no waiting messages suppressed."),
        "{page}"
    );
    let stored = body(
        app.get("/api/v1/opt-outs/79001234567").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(stored["source"], "ui");
    assert_eq!(stored["reason"], "asked by phone");
    let again = browser
        .post_with_csrf("/admin/opt-outs", &[("phone_number", "89001234567")])
        .await;
    let page = again.text().await.unwrap();
    assert!(page.contains("79001234567 had opted out already"), "{page}");

    let (status, found) = browser.get("/admin/opt-outs?phone=8+900+123+45+67").await;
    assert_eq!(status, StatusCode::OK);
    assert!(found.contains("<td>79001234567</td>"), "{found}");
    assert!(found.contains("<td>ui</td>"), "{found}");
    let (_, by_prefix) = browser.get("/admin/opt-outs?phone=7901").await;
    assert!(!by_prefix.contains("<td>79001234567</td>"), "{by_prefix}");
    let (status, bad) = browser.get("/admin/opt-outs?phone=abc").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(bad.contains("id=\"phone-error\""), "{bad}");

    let removed = browser
        .post_with_csrf("/admin/opt-outs/79001234567/delete", &[])
        .await;
    assert_eq!(removed.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        removed.headers()[LOCATION],
        "/admin/opt-outs?notice=removed"
    );
    let listed = body(app.get("/api/v1/opt-outs").await, StatusCode::OK).await;
    assert_eq!(listed["total"], 0);
    let gone = browser
        .post_with_csrf("/admin/opt-outs/79001234567/delete", &[])
        .await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
}

async fn replies_are_listed_with_what_they_did() {
    const SECRET: &str = "the provider's secret";
    let app = spawn_app_with(&[("MAILING_INBOUND_SECRET", SECRET)]).await;
    for (from, text) in [("8 900 123 45 67", " стоп "), ("79007654321", "hello")] {
        let raw = serde_json::to_vec(&serde_json::json!({ "from": from, "text": text })).unwrap();
        let signed = mailing_runtime::signature::sign(SECRET.as_bytes(), &raw);
        let response = app
            .request_without_token(reqwest::Method::POST, "/api/v1/inbound")
            .header("Content-Type", "application/json")
            .header("X-Signature", signed)
            .body(raw)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{}", response.status());
    }
    let browser = Browser::login(&app).await;

    let (status, page) = browser.get("/admin/inbound").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<td>79001234567</td>"), "{page}");
    assert!(page.contains("<td>Opted out</td>"), "{page}");
    assert!(page.contains("<td>79007654321</td>"), "{page}");
    assert!(page.contains("<td>hello</td>"), "{page}");

    let (status, one) = browser.get("/admin/inbound?phone=%2B7+900+765-43-21").await;
    assert_eq!(status, StatusCode::OK);
    assert!(one.contains("<td>79007654321</td>"), "{one}");
    assert!(!one.contains("<td>79001234567</td>"), "{one}");
}
