use crate::helpers::*;
use mailing_domain::store::{ClientQuery, PageRequest};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

both_setups!(
    an_import_reads_mixed_phone_formats_and_reports_each_rejection,
    a_dry_run_stores_nothing_and_reports_the_same_counts,
    importing_the_same_file_again_changes_nothing,
    insert_mode_rejects_stored_numbers,
    columns_left_out_keep_stored_fields_and_tags_replace_the_set,
    attribute_columns_set_and_remove_keys,
    a_bad_header_is_refused_and_starts_nothing,
    a_file_over_the_limit_is_too_large,
    an_import_answers_at_once_and_its_job_finishes,
    an_export_imports_back_unchanged_and_into_a_fresh_database_identically,
    an_export_takes_the_list_filters,
    an_opt_out_import_suppresses_waiting_messages,
);

async fn app_with_operators() -> TestApp {
    let app = spawn_app().await;
    app.create_operator("900").await;
    app.create_operator("901").await;
    app
}

/// Imports `csv` with `query` (e.g. `wait=true&dry_run=true`) and returns the finished job.
async fn import(app: &TestApp, path: &str, query: &str, csv: &str) -> Value {
    let response = app
        .send_raw(
            Method::POST,
            &format!("{path}?wait=true&{query}"),
            Some("text/csv"),
            csv.to_owned(),
        )
        .await;
    let location = response
        .headers()
        .get("location")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let job = body(response, StatusCode::OK).await;
    assert_eq!(job["status"], "done", "{job}");
    assert_eq!(
        location.as_deref(),
        Some(format!("{path}s/{}", job["id"]).as_str()),
        "the job's place"
    );
    job
}

async fn import_clients(app: &TestApp, query: &str, csv: &str) -> Value {
    import(app, "/api/v1/clients/import", query, csv).await
}

/// `[rows, created, updated, unchanged, rejected]` of a job.
fn counts(job: &Value) -> [u64; 5] {
    ["rows", "created", "updated", "unchanged", "rejected"].map(|key| {
        job[key]
            .as_u64()
            .unwrap_or_else(|| panic!("{key} in {job}"))
    })
}

/// `(line, column, reason)` of each rejection.
fn rejections(job: &Value) -> Vec<(u64, Option<String>, String)> {
    job["rejections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["line"].as_u64().unwrap(),
                r["column"].as_str().map(str::to_owned),
                r["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn all_clients(app: &TestApp) -> Vec<Value> {
    let page = body(
        app.get("/api/v1/clients?page_size=500").await,
        StatusCode::OK,
    )
    .await;
    page["items"].as_array().unwrap().clone()
}

/// The fields an import writes, of every client, by phone number. Read from storage, which
/// holds the attributes whatever the client's JSON shows of them.
async fn snapshot(app: &TestApp) -> Vec<Value> {
    let store = app.store();
    let page = tokio::task::spawn_blocking(move || {
        store.list_clients(
            &ClientQuery::default(),
            PageRequest {
                offset: 0,
                limit: 500,
            },
        )
    })
    .await
    .unwrap()
    .unwrap();
    let mut clients: Vec<Value> = page
        .items
        .into_iter()
        .map(|c| {
            json!({
                "phone_number": c.phone.as_str(),
                "operator_code": c.operator_code.as_str(),
                "tags": c.tags.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
                "time_zone": c.time_zone.name(),
                "attributes": c.attributes.to_json(),
            })
        })
        .collect();
    clients.sort_by_key(|c| c["phone_number"].as_str().unwrap().to_owned());
    clients
}

const MIXED: &str = "phone_number,operator_code,tags,time_zone\n\
+7 (900) 123-45-67,900,vip;new,Europe/Moscow\n\
8 900 123 45 68,900,,\n\
9001234569,901,vip,Asia/Tokyo\n\
79001234570,900,,\n\
12345,900,,\n\
79001234571,999,,\n\
79001234572,,,\n\
8 (900) 123-45-67,900,,\n\
79001234573,900,vip;xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx,\n\
79001234574,900,,Mars/Base\n\
79001234575,900\n";

async fn an_import_reads_mixed_phone_formats_and_reports_each_rejection() {
    let app = app_with_operators().await;
    let job = import_clients(&app, "", MIXED).await;
    assert_eq!(counts(&job), [11, 4, 0, 0, 7], "{job}");
    assert_eq!(job["kind"], "clients");
    assert_eq!(job["mode"], "upsert");
    assert_eq!(job["dry_run"], false);
    assert_eq!(job["progress"], 1.0);
    assert_eq!(job["bytes_total"], MIXED.len() as u64);
    let found = rejections(&job);
    let columns: Vec<(u64, Option<&str>)> =
        found.iter().map(|(l, c, _)| (*l, c.as_deref())).collect();
    assert_eq!(
        columns,
        [
            (6, Some("phone_number")),
            (7, Some("operator_code")),
            (8, Some("operator_code")),
            (9, Some("phone_number")),
            (10, Some("tags")),
            (11, Some("time_zone")),
            (12, None),
        ]
    );
    assert_eq!(found[1].2, "no operator has this code");
    assert_eq!(found[2].2, "is required for a new client");
    assert_eq!(found[3].2, "repeats the phone number of line 2");
    assert_eq!(found[6].2, "the row has 2 cells, the header 4");
    assert_eq!(job["rejections"][0]["value"], "12345");

    let clients = snapshot(&app).await;
    let phones: Vec<&str> = clients
        .iter()
        .map(|c| c["phone_number"].as_str().unwrap())
        .collect();
    assert_eq!(
        phones,
        ["79001234567", "79001234568", "79001234569", "79001234570"]
    );
    assert_eq!(clients[0]["tags"], json!(["new", "vip"]));
    assert_eq!(clients[0]["time_zone"], "Europe/Moscow");
    assert_eq!(
        clients[1]["time_zone"], "UTC",
        "a new client's default zone"
    );
    assert_eq!(clients[2]["operator_code"], "901");
    let tags = body(app.get("/api/v1/tags").await, StatusCode::OK).await;
    assert_eq!(tags["total"], 2, "missing tags are created: {tags}");
}

async fn a_dry_run_stores_nothing_and_reports_the_same_counts() {
    let app = app_with_operators().await;
    app.create_client("79001234570", "900", &[]).await;
    let before = snapshot(&app).await;
    let dry = import_clients(&app, "dry_run=true", MIXED).await;
    assert_eq!(dry["dry_run"], true);
    assert_eq!(snapshot(&app).await, before, "a dry run stores nothing");
    let tags = body(app.get("/api/v1/tags").await, StatusCode::OK).await;
    assert_eq!(tags["total"], 0, "nor creates tags");
    let real = import_clients(&app, "", MIXED).await;
    assert_eq!(counts(&dry), counts(&real));
    assert_eq!(counts(&real), [11, 3, 0, 1, 7]);
    assert_eq!(dry["rejections"], real["rejections"]);
}

async fn importing_the_same_file_again_changes_nothing() {
    let app = app_with_operators().await;
    import_clients(&app, "", MIXED).await;
    let first = snapshot(&app).await;
    let again = import_clients(&app, "", MIXED).await;
    assert_eq!(counts(&again), [11, 0, 0, 4, 7]);
    assert_eq!(snapshot(&app).await, first);
}

async fn insert_mode_rejects_stored_numbers() {
    let app = app_with_operators().await;
    app.create_client("79001234567", "900", &[]).await;
    let job = import_clients(
        &app,
        "mode=insert",
        "phone_number,operator_code\n79001234567,901\n79001234568,901\n",
    )
    .await;
    assert_eq!(job["mode"], "insert");
    assert_eq!(counts(&job), [2, 1, 0, 0, 1]);
    let found = rejections(&job);
    assert_eq!(found[0].0, 2);
    assert_eq!(found[0].1.as_deref(), Some("phone_number"));
    assert!(found[0].2.contains("already exists"), "{}", found[0].2);
    assert_eq!(snapshot(&app).await[0]["operator_code"], "900");
}

async fn columns_left_out_keep_stored_fields_and_tags_replace_the_set() {
    let app = app_with_operators().await;
    import_clients(
        &app,
        "",
        "phone_number,operator_code,tags,time_zone\n79001234567,900,a;b,Europe/Moscow\n",
    )
    .await;
    let job = import_clients(&app, "", "phone_number,tags\n79001234567,c\n").await;
    assert_eq!(counts(&job), [1, 0, 1, 0, 0]);
    let client = &snapshot(&app).await[0];
    assert_eq!(client["tags"], json!(["c"]));
    assert_eq!(client["operator_code"], "900");
    assert_eq!(client["time_zone"], "Europe/Moscow");
    let job = import_clients(&app, "", "phone_number,operator_code\n79001234567,901\n").await;
    assert_eq!(counts(&job), [1, 0, 1, 0, 0]);
    let client = &snapshot(&app).await[0];
    assert_eq!(
        client["tags"],
        json!(["c"]),
        "no tags column keeps the tags"
    );
    assert_eq!(client["operator_code"], "901");
}

async fn attribute_columns_set_and_remove_keys() {
    let app = app_with_operators().await;
    let job = import_clients(
        &app,
        "",
        "phone_number,operator_code,attr.city,attr.age,attr.vip,attr.code\n\
         79001234567,900,Kazan,30,true,\"\"\"42\"\"\"\n",
    )
    .await;
    assert_eq!(counts(&job), [1, 1, 0, 0, 0]);
    assert_eq!(
        snapshot(&app).await[0]["attributes"],
        json!({"city": "Kazan", "age": 30, "vip": true, "code": "42"})
    );
    let job = import_clients(
        &app,
        "",
        "phone_number,attr.age,attr.team\n79001234567,,red\n",
    )
    .await;
    assert_eq!(counts(&job), [1, 0, 1, 0, 0]);
    assert_eq!(
        snapshot(&app).await[0]["attributes"],
        json!({"city": "Kazan", "vip": true, "code": "42", "team": "red"}),
        "an empty cell removes its key, other keys stay"
    );
    let long = "x".repeat(1000);
    let job = import_clients(
        &app,
        "",
        &format!(
            "phone_number,attr.a,attr.b,attr.c,attr.d,attr.e\n79001234567,{long},{long},{long},{long},{long}\n"
        ),
    )
    .await;
    assert_eq!(counts(&job), [1, 0, 0, 0, 1]);
    let found = rejections(&job);
    assert_eq!(found[0].1.as_deref(), Some("attr.e"));
    assert!(found[0].2.contains("4096"), "{}", found[0].2);
}

async fn a_bad_header_is_refused_and_starts_nothing() {
    let app = app_with_operators().await;
    let post = |csv: &'static str| {
        app.send_raw(
            Method::POST,
            "/api/v1/clients/import",
            Some("text/csv"),
            csv,
        )
    };
    validation(
        post("phone,operator_code,tags,tags,attr.City\n").await,
        &[
            ("header[1]", "unknown_column"),
            ("header[4]", "repeated_column"),
            ("header[5]", "attribute_key_format"),
            ("header[6]", "missing_column"),
        ],
    )
    .await;
    validation(post("").await, &[("header", "missing_header")]).await;
    validation(post("\n\n").await, &[("header", "missing_header")]).await;
    validation(
        post("operator_code\n900\n").await,
        &[("header[2]", "missing_column")],
    )
    .await;
    invalid_query(
        app.send_raw(
            Method::POST,
            "/api/v1/clients/import?mode=merge&dry_run=yes",
            Some("text/csv"),
            "phone_number\n",
        )
        .await,
        &[("mode", "unknown_mode"), ("dry_run", "invalid_type")],
    )
    .await;
    let jobs = body(app.get("/api/v1/clients/imports").await, StatusCode::OK).await;
    assert_eq!(jobs["total"], 0, "no job was made: {jobs}");
}

async fn a_file_over_the_limit_is_too_large() {
    let app = spawn_app_with(&[("MAILING_IMPORT_MAX_BYTES", "2048")]).await;
    app.create_operator("900").await;
    let mut csv = String::from("phone_number,operator_code\n");
    for n in 0..200 {
        csv.push_str(&format!("7900{n:07},900\n"));
    }
    error(
        app.send_raw(
            Method::POST,
            "/api/v1/clients/import",
            Some("text/csv"),
            csv,
        )
        .await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;
    assert!(all_clients(&app).await.is_empty());
    let jobs = body(app.get("/api/v1/clients/imports").await, StatusCode::OK).await;
    assert_eq!(jobs["total"], 0);
}

async fn an_import_answers_at_once_and_its_job_finishes() {
    let app = app_with_operators().await;
    let response = app
        .send_raw(
            Method::POST,
            "/api/v1/clients/import",
            Some("text/csv"),
            "phone_number,operator_code\n79001234567,900\n",
        )
        .await;
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let job = body(response, StatusCode::ACCEPTED).await;
    assert_eq!(location, format!("/api/v1/clients/imports/{}", job["id"]));
    let mut finished = job;
    for _ in 0..200 {
        finished = body(app.get(&location).await, StatusCode::OK).await;
        if finished["status"] != "running" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(finished["status"], "done", "{finished}");
    assert_eq!(counts(&finished), [1, 1, 0, 0, 0]);
    assert!(finished["finished_at"].is_string());
    let jobs = body(app.get("/api/v1/clients/imports").await, StatusCode::OK).await;
    assert_eq!(jobs["total"], 1);
    assert_eq!(jobs["items"][0]["id"], finished["id"]);
    let none = body(app.get("/api/v1/opt-outs/imports").await, StatusCode::OK).await;
    assert_eq!(none["total"], 0, "jobs are listed by kind");
    error(
        app.get(&format!("/api/v1/opt-outs/imports/{}", finished["id"]))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

async fn export(app: &TestApp, query: &str) -> String {
    let response = app.get(&format!("/api/v1/clients/export?{query}")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    response.text().await.unwrap()
}

const VARIED: &str = "phone_number,operator_code,tags,time_zone,attr.city,attr.age,attr.note\n\
79001234567,900,vip;new,Europe/Moscow,Kazan,30,\"says \"\"hi\"\", twice\"\n\
79001234568,901,,UTC,,,\n\
79001234569,900,vip,Asia/Tokyo,Omsk,,\"\"\"7\"\"\"\n";

async fn an_export_imports_back_unchanged_and_into_a_fresh_database_identically() {
    let app = app_with_operators().await;
    import_clients(&app, "", VARIED).await;
    let csv = export(&app, "").await;
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("phone_number,operator_code,tags,time_zone,attr.age,attr.city,attr.note")
    );
    assert_eq!(
        lines.next(),
        Some("79001234567,900,new;vip,Europe/Moscow,30,Kazan,\"says \"\"hi\"\", twice\"")
    );
    let again = import_clients(&app, "", &csv).await;
    assert_eq!(counts(&again), [3, 0, 0, 3, 0]);

    let fresh = app_with_operators().await;
    let copied = import_clients(&fresh, "", &csv).await;
    assert_eq!(counts(&copied), [3, 3, 0, 0, 0]);
    assert_eq!(snapshot(&fresh).await, snapshot(&app).await);
    assert_eq!(
        snapshot(&fresh).await[2]["attributes"],
        json!({"city": "Omsk", "note": "7"})
    );
}

async fn an_export_takes_the_list_filters() {
    let app = app_with_operators().await;
    import_clients(&app, "", VARIED).await;
    let csv = export(&app, "tag=vip&operator_code=900").await;
    let phones: Vec<&str> = csv
        .lines()
        .skip(1)
        .map(|line| line.split(',').next().unwrap())
        .collect();
    assert_eq!(phones, ["79001234567", "79001234569"]);
    let none = export(&app, "phone_prefix=7999").await;
    assert_eq!(none, "phone_number,operator_code,tags,time_zone\n");
    invalid_query(
        app.get("/api/v1/clients/export?operator_code=Beeline")
            .await,
        &[("operator_code", "operator_code_format")],
    )
    .await;
    // An export holds every client its filters select: it has no pages.
    invalid_query(
        app.get("/api/v1/clients/export?page=2&cursor=c1.3e8").await,
        &[("page", "unknown_field"), ("cursor", "unknown_field")],
    )
    .await;
}

async fn an_opt_out_import_suppresses_waiting_messages() {
    let app = app_with_operators().await;
    let kept = app.create_client("79001234567", "900", &[]).await;
    let opted = app.create_client("79001234568", "900", &[]).await;
    let mailing = app.running_mailing().await;
    app.insert_messages(vec![
        message(
            id(&mailing),
            id(&kept),
            mailing_domain::MessageStatus::Scheduled,
        ),
        message(
            id(&mailing),
            id(&opted),
            mailing_domain::MessageStatus::Scheduled,
        ),
    ])
    .await;
    let csv = "phone_number,reason\n8 900 123 45 68,asked by phone\n79001234599,\nnonsense,\n";
    let job = import(&app, "/api/v1/opt-outs/import", "dry_run=true", csv).await;
    assert_eq!(counts(&job), [3, 2, 0, 0, 1]);
    let job = import(&app, "/api/v1/opt-outs/import", "", csv).await;
    assert_eq!(job["kind"], "opt_outs");
    assert_eq!(counts(&job), [3, 2, 0, 0, 1]);
    let found = rejections(&job);
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0].0, found[0].1.as_deref()),
        (4, Some("phone_number"))
    );
    let again = import(&app, "/api/v1/opt-outs/import", "", csv).await;
    assert_eq!(
        counts(&again),
        [3, 0, 0, 2, 1],
        "numbers opted out already are unchanged"
    );
    let messages = body(
        app.get(&format!("/api/v1/messages?mailing_id={}", id(&mailing)))
            .await,
        StatusCode::OK,
    )
    .await;
    let mut statuses: Vec<(i64, String)> = messages["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["client_id"].as_i64().unwrap(),
                m["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    statuses.sort();
    assert_eq!(
        statuses,
        [
            (id(&kept), "scheduled".to_owned()),
            (id(&opted), "suppressed".to_owned())
        ]
    );
    let mode = app
        .send_raw(
            Method::POST,
            "/api/v1/opt-outs/import?mode=insert",
            Some("text/csv"),
            csv,
        )
        .await;
    invalid_query(mode, &[("mode", "unknown_mode")]).await;
    validation(
        app.send_raw(
            Method::POST,
            "/api/v1/opt-outs/import",
            Some("text/csv"),
            "phone_number,operator_code\n",
        )
        .await,
        &[("header[2]", "unknown_column")],
    )
    .await;
}
