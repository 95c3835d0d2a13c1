//! diesel's view of the PostgreSQL tables, written by hand to match `migrations/postgres` column
//! for column. `sqlite/schema.rs` declares the same tables and columns with SQLite's types.

diesel::table! {
    operators (id) {
        id -> Int8,
        code -> Text,
        name -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        price_per_segment_micros -> Nullable<Int8>,
    }
}

diesel::table! {
    tags (id) {
        id -> Int8,
        value -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    clients (id) {
        id -> Int8,
        phone_number -> Text,
        operator_code -> Text,
        time_zone -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        attributes -> Jsonb,
    }
}

diesel::table! {
    client_tags (client_id, tag_id) {
        client_id -> Int8,
        tag_id -> Int8,
    }
}

diesel::table! {
    client_filters (id) {
        id -> Int8,
        name -> Nullable<Text>,
        operator_codes -> Array<Text>,
        tags -> Array<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        attributes -> Jsonb,
    }
}

diesel::table! {
    mailings (id) {
        id -> Int8,
        text -> Text,
        start_at -> Timestamptz,
        end_at -> Timestamptz,
        local_time -> Bool,
        send_window_start -> Nullable<Time>,
        send_window_end -> Nullable<Time>,
        filter_operator_codes -> Array<Text>,
        filter_tags -> Array<Text>,
        client_filter_id -> Nullable<Int8>,
        cancelled_at -> Nullable<Timestamptz>,
        deleted_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        expanded_at -> Nullable<Timestamptz>,
        paused_at -> Nullable<Timestamptz>,
        paused_reason -> Nullable<Text>,
        paused_ms -> Int8,
        auto_pauses -> Int4,
        cap_deferrals -> Int8,
        resend_of -> Nullable<Int8>,
        frequency_cap_max -> Nullable<Int4>,
        frequency_cap_hours -> Nullable<Int4>,
        auto_pause_enabled -> Nullable<Bool>,
        auto_pause_attempts -> Nullable<Int4>,
        auto_pause_failure_share -> Nullable<Float8>,
        filter_attributes -> Jsonb,
    }
}

diesel::table! {
    messages (id) {
        id -> Int8,
        mailing_id -> Int8,
        client_id -> Nullable<Int8>,
        status -> Text,
        attempts -> Int4,
        last_error -> Nullable<Text>,
        next_attempt_at -> Nullable<Timestamptz>,
        sent_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        expires_at -> Nullable<Timestamptz>,
        queued_at -> Nullable<Timestamptz>,
        claim_renewed_at -> Nullable<Timestamptz>,
        phone_number -> Nullable<Text>,
        cap_held_at -> Nullable<Timestamptz>,
        text -> Nullable<Text>,
        encoding -> Nullable<Text>,
        segments -> Nullable<Int4>,
    }
}

diesel::table! {
    /// A mailing's count of messages in a status is the sum of its rows (see the migration).
    message_counts (id) {
        id -> Int8,
        mailing_id -> Int8,
        status -> Text,
        messages -> Int8,
        segments -> Int8,
    }
}

diesel::table! {
    users (id) {
        id -> Int8,
        username -> Text,
        password_hash -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        role -> Text,
        disabled_at -> Nullable<Timestamptz>,
        oidc_issuer -> Nullable<Text>,
        oidc_subject -> Nullable<Text>,
        last_sign_in_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    admin_sessions (id) {
        id -> Int8,
        token_hash -> Text,
        username -> Text,
        csrf_token -> Text,
        time_zone -> Text,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        signed_in_with -> Text,
    }
}

diesel::table! {
    outbox (id) {
        id -> Int8,
        payload -> Text,
        created_at -> Timestamptz,
        claimed_until -> Nullable<Timestamptz>,
        published_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    sender_heartbeats (sender_id) {
        sender_id -> Int8,
        host -> Text,
        pid -> Int4,
        rate_limit -> Int4,
        started_at -> Timestamptz,
        beat_at -> Timestamptz,
    }
}

diesel::table! {
    /// The stored answers of POSTs sent with an `Idempotency-Key` (see the migration).
    idempotency_keys (account, key) {
        account -> Text,
        key -> Text,
        request_hash -> Text,
        created_at -> Timestamptz,
        completed_at -> Nullable<Timestamptz>,
        status_code -> Nullable<Int4>,
        content_type -> Nullable<Text>,
        location -> Nullable<Text>,
        response_body -> Nullable<Bytea>,
    }
}

diesel::table! {
    /// Numbers that must never be texted (see the migration `contacts`).
    opt_outs (phone_number) {
        phone_number -> Text,
        source -> Text,
        reason -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    /// Replies the provider forwarded, and what each did.
    inbound_messages (id) {
        id -> Int8,
        phone_number -> Text,
        text -> Text,
        action -> Text,
        received_at -> Timestamptz,
    }
}

diesel::table! {
    /// CSV imports: options, progress and report.
    imports (id) {
        id -> Int8,
        kind -> Text,
        mode -> Text,
        dry_run -> Bool,
        status -> Text,
        bytes_total -> Nullable<Int8>,
        bytes_read -> Int8,
        rows -> Int8,
        created -> Int8,
        updated -> Int8,
        unchanged -> Int8,
        rejected -> Int8,
        rejections -> Jsonb,
        error -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        finished_at -> Nullable<Timestamptz>,
    }
}

diesel::joinable!(client_tags -> clients (client_id));
diesel::joinable!(client_tags -> tags (tag_id));
diesel::joinable!(mailings -> client_filters (client_filter_id));
diesel::table! {
    /// Every pause of a mailing; at most one open (`resumed_at` NULL).
    mailing_pauses (id) {
        id -> Int8,
        mailing_id -> Int8,
        reason -> Text,
        detail -> Nullable<Text>,
        paused_at -> Timestamptz,
        resumed_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    /// A resend's recipients, fixed when it was created.
    mailing_recipients (mailing_id, client_id) {
        mailing_id -> Int8,
        client_id -> Int8,
    }
}

diesel::joinable!(messages -> mailings (mailing_id));
diesel::joinable!(mailing_pauses -> mailings (mailing_id));
diesel::joinable!(messages -> clients (client_id));
diesel::joinable!(mailing_recipients -> clients (client_id));

diesel::table! {
    /// Access tokens that may still be used (see the migration).
    access_tokens (id) {
        id -> Int8,
        token_id -> Text,
        username -> Text,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Int8,
        name -> Text,
        prefix -> Text,
        secret_hash -> Text,
        role -> Text,
        created_by -> Text,
        created_at -> Timestamptz,
        expires_at -> Nullable<Timestamptz>,
        last_used_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    sign_in_attempts (state_hash) {
        state_hash -> Text,
        nonce -> Text,
        pkce_verifier -> Text,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
    }
}

diesel::table! {
    /// Append-only: the database refuses updates and deletes.
    audit_log (id) {
        id -> Int8,
        at -> Timestamptz,
        actor_kind -> Text,
        actor -> Text,
        actor_id -> Int8,
        signed_in_with -> Text,
        interface -> Text,
        action -> Text,
        resource -> Text,
        resource_id -> Nullable<Text>,
        changes -> Jsonb,
        request_id -> Text,
        client_address -> Text,
    }
}

diesel::table! {
    /// One row per day reported on: the daily report's e-mail is sent once (see the migration).
    daily_reports (report_date) {
        report_date -> Text,
        time_zone -> Text,
        attempts -> Integer,
        claimed_by -> Nullable<Text>,
        claimed_until -> Nullable<Timestamptz>,
        next_attempt_at -> Timestamptz,
        last_error -> Nullable<Text>,
        sent_at -> Nullable<Timestamptz>,
        recipients -> Nullable<Text>,
        message_id -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    /// Each time a sender's circuit breaker stopped attempts.
    breaker_trips (id) {
        id -> Int8,
        at -> Timestamptz,
        reason -> Text,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    operators,
    tags,
    clients,
    client_tags,
    client_filters,
    mailings,
    messages,
    mailing_pauses,
    mailing_recipients,
    message_counts,
    outbox,
    users,
    admin_sessions,
    opt_outs,
    access_tokens,
    api_keys,
    audit_log,
    daily_reports,
    breaker_trips,
);

/// Guards against drift: a migration that adds, drops or renames a column must come with the
/// same change here. Types are exercised by the integration tests, which read every column.
#[cfg(all(test, feature = "testing"))]
mod tests {
    use super::*;
    use crate::testing::TestDatabase;
    use diesel::pg::{Pg, PgConnection};
    use diesel::prelude::*;
    use diesel::query_builder::QueryFragment;
    use diesel::sql_types::Text;

    #[derive(QueryableByName)]
    struct ColumnName {
        #[diesel(sql_type = Text)]
        column_name: String,
    }

    /// The column names a `SELECT` of every declared column names, in order.
    fn declared(query: impl QueryFragment<Pg>) -> Vec<String> {
        let sql = diesel::debug_query::<Pg, _>(&query).to_string();
        let list = sql
            .strip_prefix("SELECT ")
            .and_then(|rest| rest.split(" FROM ").next())
            .expect("a plain SELECT");
        list.split(", ")
            .map(|column| {
                column
                    .rsplit('.')
                    .next()
                    .unwrap()
                    .trim_matches('"')
                    .to_owned()
            })
            .collect()
    }

    fn migrated(conn: &mut PgConnection, table: &str) -> Vec<String> {
        diesel::sql_query(
            "SELECT column_name::text AS column_name FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
        )
        .bind::<Text, _>(table)
        .load::<ColumnName>(conn)
        .unwrap()
        .into_iter()
        .map(|column| column.column_name)
        .collect()
    }

    #[test]
    fn every_table_declares_the_migrated_columns() {
        let db = TestDatabase::create();
        let mut conn = PgConnection::establish(db.url()).unwrap();
        let tables = [
            (
                "operators",
                declared(operators::table.select(operators::all_columns)),
            ),
            ("tags", declared(tags::table.select(tags::all_columns))),
            (
                "clients",
                declared(clients::table.select(clients::all_columns)),
            ),
            (
                "client_tags",
                declared(client_tags::table.select(client_tags::all_columns)),
            ),
            (
                "client_filters",
                declared(client_filters::table.select(client_filters::all_columns)),
            ),
            (
                "mailings",
                declared(mailings::table.select(mailings::all_columns)),
            ),
            (
                "messages",
                declared(messages::table.select(messages::all_columns)),
            ),
            (
                "mailing_pauses",
                declared(mailing_pauses::table.select(mailing_pauses::all_columns)),
            ),
            (
                "mailing_recipients",
                declared(mailing_recipients::table.select(mailing_recipients::all_columns)),
            ),
            (
                "message_counts",
                declared(message_counts::table.select(message_counts::all_columns)),
            ),
            (
                "outbox",
                declared(outbox::table.select(outbox::all_columns)),
            ),
            ("users", declared(users::table.select(users::all_columns))),
            (
                "admin_sessions",
                declared(admin_sessions::table.select(admin_sessions::all_columns)),
            ),
            (
                "sender_heartbeats",
                declared(sender_heartbeats::table.select(sender_heartbeats::all_columns)),
            ),
            (
                "idempotency_keys",
                declared(idempotency_keys::table.select(idempotency_keys::all_columns)),
            ),
            (
                "opt_outs",
                declared(opt_outs::table.select(opt_outs::all_columns)),
            ),
            (
                "inbound_messages",
                declared(inbound_messages::table.select(inbound_messages::all_columns)),
            ),
            (
                "imports",
                declared(imports::table.select(imports::all_columns)),
            ),
            (
                "access_tokens",
                declared(access_tokens::table.select(access_tokens::all_columns)),
            ),
            (
                "api_keys",
                declared(api_keys::table.select(api_keys::all_columns)),
            ),
            (
                "sign_in_attempts",
                declared(sign_in_attempts::table.select(sign_in_attempts::all_columns)),
            ),
            (
                "audit_log",
                declared(audit_log::table.select(audit_log::all_columns)),
            ),
            (
                "daily_reports",
                declared(daily_reports::table.select(daily_reports::all_columns)),
            ),
            (
                "breaker_trips",
                declared(breaker_trips::table.select(breaker_trips::all_columns)),
            ),
        ];
        let tables_len = tables.len();
        for (table, columns) in tables {
            assert_eq!(columns, migrated(&mut conn, table), "table {table}");
        }
        let migrated_tables: i64 = diesel::sql_query(
            "SELECT count(*) AS count FROM information_schema.tables \
             WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations'",
        )
        .get_result::<Count>(&mut conn)
        .unwrap()
        .count;
        assert_eq!(
            migrated_tables, tables_len as i64,
            "a table is missing from schema.rs"
        );
    }

    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        count: i64,
    }
}
