//! Client attributes: kept, replaced and cleared with the client; required by saved and
//! inline filters; every malformed object refused with each problem named.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

both_setups!(
    clients_keep_replace_and_clear_their_attributes,
    malformed_attributes_are_refused_naming_each_problem,
    saved_filters_require_attribute_values,
    inline_mailing_filters_require_attribute_values,
);

/// A client of operator `bln` holding `attributes`.
async fn client_holding(app: &TestApp, phone: &str, attributes: Value) -> Value {
    let response = app
        .post_json(
            "/api/v1/clients",
            &json!({"phone_number": phone, "operator_code": "bln", "attributes": attributes}),
        )
        .await;
    body(response, StatusCode::CREATED).await
}

async fn clients_keep_replace_and_clear_their_attributes() {
    let app = spawn_app().await;
    app.create_operator("bln").await;
    let created = client_holding(
        &app,
        "79001234567",
        json!({"city": "Kazan", "age": 30.0, "vip": true, "zip": "007"}),
    )
    .await;
    // Whole numbers are kept as integers.
    let held = json!({"age": 30, "city": "Kazan", "vip": true, "zip": "007"});
    assert_eq!(created["attributes"], held);
    let path = format!("/api/v1/clients/{}", id(&created));
    assert_eq!(
        body(app.get(&path).await, StatusCode::OK).await["attributes"],
        held
    );

    // A patch leaving attributes out keeps them; one giving them replaces the whole object.
    let renamed = app.patch_json(&path, &json!({"tags": ["x"]})).await;
    assert_eq!(body(renamed, StatusCode::OK).await["attributes"], held);
    let replaced = app
        .patch_json(&path, &json!({"attributes": {"city": "Perm"}}))
        .await;
    assert_eq!(
        body(replaced, StatusCode::OK).await["attributes"],
        json!({"city": "Perm"})
    );
    let cleared = app.patch_json(&path, &json!({"attributes": null})).await;
    assert_eq!(body(cleared, StatusCode::OK).await["attributes"], json!({}));

    // PUT sets every field: attributes left out are none.
    let put = app
        .put_json(
            &path,
            &json!({"phone_number": "79001234567", "operator_code": "bln",
                    "attributes": {"score": 1.5}}),
        )
        .await;
    assert_eq!(
        body(put, StatusCode::OK).await["attributes"],
        json!({"score": 1.5})
    );
    let put_without = app
        .put_json(
            &path,
            &json!({"phone_number": "79001234567", "operator_code": "bln"}),
        )
        .await;
    assert_eq!(
        body(put_without, StatusCode::OK).await["attributes"],
        json!({})
    );

    let listed = body(app.get("/api/v1/clients").await, StatusCode::OK).await;
    assert_eq!(listed["items"][0]["attributes"], json!({}));
}

async fn malformed_attributes_are_refused_naming_each_problem() {
    let app = spawn_app().await;
    app.create_operator("bln").await;
    let many: serde_json::Map<String, Value> =
        (0..51).map(|i| (format!("k{i}"), json!(i))).collect();
    let large = json!({"note": "x".repeat(4100)});
    let cases = [
        (json!("Kazan"), vec![("attributes", "attributes_object")]),
        (json!([1]), vec![("attributes", "attributes_object")]),
        (
            json!({"City": "Kazan", "ok": null, "list": [1], "": 1}),
            vec![
                ("attributes.City", "attribute_key_format"),
                ("attributes.ok", "attribute_value_type"),
                ("attributes.list", "attribute_value_type"),
                ("attributes.", "attribute_key_format"),
            ],
        ),
        (Value::Object(many), vec![("attributes", "too_many")]),
        (large, vec![("attributes", "too_large")]),
    ];
    for (attributes, expected) in &cases {
        let refused = validation(
            app.post_json(
                "/api/v1/clients",
                &json!({"phone_number": "79001234567", "operator_code": "bln",
                        "attributes": attributes}),
            )
            .await,
            expected,
        )
        .await;
        for detail in refused["details"].as_array().unwrap() {
            assert!(
                detail["message"].as_str().unwrap().contains("e.g.")
                    || detail["message"].as_str().unwrap().contains("for example"),
                "a problem shows a valid value: {detail}"
            );
        }
        // The same object in a saved filter and in a mailing's own filter.
        let in_filter: Vec<(String, &str)> = expected
            .iter()
            .map(|(field, code)| (field.to_string(), *code))
            .collect();
        let pairs: Vec<(&str, &str)> = in_filter.iter().map(|(f, c)| (f.as_str(), *c)).collect();
        validation(
            app.post_json("/api/v1/client-filters", &json!({"attributes": attributes}))
                .await,
            &pairs,
        )
        .await;
        let inline: Vec<(String, &str)> = expected
            .iter()
            .map(|(field, code)| (format!("filter.{field}"), *code))
            .collect();
        let pairs: Vec<(&str, &str)> = inline.iter().map(|(f, c)| (f.as_str(), *c)).collect();
        let mailing = with(
            &scheduled_mailing_body(),
            json!({"filter": {"attributes": attributes}}),
        );
        validation(app.post_json("/api/v1/mailings", &mailing).await, &pairs).await;
    }
    let nothing = body(app.get("/api/v1/clients").await, StatusCode::OK).await;
    assert_eq!(nothing["total"], 0);
    let no_filters = body(app.get("/api/v1/client-filters").await, StatusCode::OK).await;
    assert_eq!(no_filters["total"], 0);
    let no_mailings = body(app.get("/api/v1/mailings").await, StatusCode::OK).await;
    assert_eq!(no_mailings["total"], 0);
}

async fn saved_filters_require_attribute_values() {
    let app = spawn_app().await;
    app.create_operator("bln").await;
    let filter = app
        .create_client_filter(&json!({"name": "Kazan VIPs",
                                       "attributes": {"city": "Kazan", "vip": true}}))
        .await;
    assert_eq!(filter["attributes"], json!({"city": "Kazan", "vip": true}));
    let path = format!("/api/v1/client-filters/{}", id(&filter));

    // A patch of another field keeps them; a patch of them replaces them; null clears them.
    let named = body(
        app.patch_json(&path, &json!({"name": "Kazan"})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(named["attributes"], filter["attributes"]);
    let aged = body(
        app.patch_json(&path, &json!({"attributes": {"age": 30}}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(aged["attributes"], json!({"age": 30}));
    let cleared = body(
        app.patch_json(&path, &json!({"attributes": null})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(cleared["attributes"], json!({}));
    let replaced = body(
        app.put_json(
            &path,
            &json!({"attributes": {"city": "Kazan"}, "operator_codes": ["bln"]}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(replaced["attributes"], json!({"city": "Kazan"}));

    // A mailing copies the filter, attributes and all; nobody matches yet, and it says so.
    let from_saved = with(
        &scheduled_mailing_body(),
        json!({"filter": null, "client_filter_id": id(&filter)}),
    );
    let mailing = body(
        app.post_json("/api/v1/mailings", &from_saved).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(mailing["filter"]["attributes"], json!({"city": "Kazan"}));
    assert_eq!(mailing["warnings"][0]["code"], "no_matching_clients");

    // A client in Perm does not match; one in Kazan does.
    client_holding(&app, "79000000001", json!({"city": "Perm"})).await;
    let mailing_path = format!("/api/v1/mailings/{}", id(&mailing));
    let still = body(app.get(&mailing_path).await, StatusCode::OK).await;
    assert_eq!(still["warnings"][0]["code"], "no_matching_clients");
    client_holding(&app, "79000000002", json!({"city": "Kazan", "age": 40})).await;
    let now = body(app.get(&mailing_path).await, StatusCode::OK).await;
    assert_eq!(now["warnings"], json!([]), "{now}");
}

async fn inline_mailing_filters_require_attribute_values() {
    let app = spawn_app().await;
    app.create_operator("bln").await;
    client_holding(&app, "79000000001", json!({"age": "30"})).await;
    let thirty = with(
        &scheduled_mailing_body(),
        json!({"filter": {"attributes": {"age": 30}}}),
    );
    let mailing = body(
        app.post_json("/api/v1/mailings", &thirty).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(mailing["filter"]["attributes"], json!({"age": 30}));
    // The text "30" is not the number 30.
    assert_eq!(mailing["warnings"][0]["code"], "no_matching_clients");

    let text = with(
        &scheduled_mailing_body(),
        json!({"filter": {"attributes": {"age": "30"}}}),
    );
    let matching = body(
        app.post_json("/api/v1/mailings", &text).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(matching["warnings"], json!([]));

    // A patch replacing the filter replaces its attributes too.
    let path = format!("/api/v1/mailings/{}", id(&mailing));
    let patched = body(
        app.patch_json(&path, &json!({"filter": {"attributes": {"age": "30"}}}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(patched["filter"]["attributes"], json!({"age": "30"}));
    assert_eq!(patched["warnings"], json!([]));
}
