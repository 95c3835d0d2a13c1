//! diesel's view of the SQLite tables, written by hand to match `migrations/sqlite` column for
//! column. The same tables and columns as `pg/schema.rs` (the PostgreSQL view); only the SQL
//! types differ: instants are `TimestamptzSqlite` text, the filter lists JSON `Text`.

diesel::table! {
    operators (id) {
        id -> BigInt,
        code -> Text,
        name -> Text,
        created_at -> TimestamptzSqlite,
        updated_at -> TimestamptzSqlite,
        price_per_segment_micros -> Nullable<BigInt>,
    }
}

diesel::table! {
    tags (id) {
        id -> BigInt,
        value -> Text,
        created_at -> TimestamptzSqlite,
    }
}

diesel::table! {
    clients (id) {
        id -> BigInt,
        phone_number -> Text,
        operator_code -> Text,
        time_zone -> Text,
        created_at -> TimestamptzSqlite,
        updated_at -> TimestamptzSqlite,
        attributes -> Text,
    }
}

diesel::table! {
    client_tags (client_id, tag_id) {
        client_id -> BigInt,
        tag_id -> BigInt,
    }
}

diesel::table! {
    client_filters (id) {
        id -> BigInt,
        name -> Nullable<Text>,
        operator_codes -> Text,
        tags -> Text,
        created_at -> TimestamptzSqlite,
        updated_at -> TimestamptzSqlite,
        attributes -> Text,
    }
}

diesel::table! {
    mailings (id) {
        id -> BigInt,
        text -> Text,
        start_at -> TimestamptzSqlite,
        end_at -> TimestamptzSqlite,
        local_time -> Bool,
        send_window_start -> Nullable<Time>,
        send_window_end -> Nullable<Time>,
        filter_operator_codes -> Text,
        filter_tags -> Text,
        client_filter_id -> Nullable<BigInt>,
        cancelled_at -> Nullable<TimestamptzSqlite>,
        deleted_at -> Nullable<TimestamptzSqlite>,
        created_at -> TimestamptzSqlite,
        updated_at -> TimestamptzSqlite,
        expanded_at -> Nullable<TimestamptzSqlite>,
        paused_at -> Nullable<TimestamptzSqlite>,
        paused_reason -> Nullable<Text>,
        paused_ms -> BigInt,
        auto_pauses -> Integer,
        cap_deferrals -> BigInt,
        resend_of -> Nullable<BigInt>,
        frequency_cap_max -> Nullable<Integer>,
        frequency_cap_hours -> Nullable<Integer>,
        auto_pause_enabled -> Nullable<Bool>,
        auto_pause_attempts -> Nullable<Integer>,
        auto_pause_failure_share -> Nullable<Double>,
        filter_attributes -> Text,
    }
}

diesel::table! {
    messages (id) {
        id -> BigInt,
        mailing_id -> BigInt,
        client_id -> Nullable<BigInt>,
        status -> Text,
        attempts -> Integer,
        last_error -> Nullable<Text>,
        next_attempt_at -> Nullable<TimestamptzSqlite>,
        sent_at -> Nullable<TimestamptzSqlite>,
        created_at -> TimestamptzSqlite,
        updated_at -> TimestamptzSqlite,
        expires_at -> Nullable<TimestamptzSqlite>,
        queued_at -> Nullable<TimestamptzSqlite>,
        claim_renewed_at -> Nullable<TimestamptzSqlite>,
        phone_number -> Nullable<Text>,
        cap_held_at -> Nullable<TimestamptzSqlite>,
        text -> Nullable<Text>,
        encoding -> Nullable<Text>,
        segments -> Nullable<Integer>,
    }
}

diesel::table! {
    /// A mailing's count of messages in a status is the sum of its rows (see the migration).
    message_counts (id) {
        id -> BigInt,
        mailing_id -> BigInt,
        status -> Text,
        messages -> BigInt,
        segments -> BigInt,
    }
}

diesel::table! {
    users (id) {
        id -> BigInt,
        username -> Text,
        password_hash -> Text,
        created_at -> TimestamptzSqlite,
        updated_at -> TimestamptzSqlite,
        role -> Text,
        disabled_at -> Nullable<TimestamptzSqlite>,
        oidc_issuer -> Nullable<Text>,
        oidc_subject -> Nullable<Text>,
        last_sign_in_at -> Nullable<TimestamptzSqlite>,
    }
}

diesel::table! {
    admin_sessions (id) {
        id -> BigInt,
        token_hash -> Text,
        username -> Text,
        csrf_token -> Text,
        time_zone -> Text,
        created_at -> TimestamptzSqlite,
        expires_at -> TimestamptzSqlite,
        signed_in_with -> Text,
    }
}

diesel::table! {
    outbox (id) {
        id -> BigInt,
        payload -> Text,
        created_at -> TimestamptzSqlite,
        claimed_until -> Nullable<TimestamptzSqlite>,
        published_at -> Nullable<TimestamptzSqlite>,
    }
}

diesel::table! {
    sender_heartbeats (sender_id) {
        sender_id -> BigInt,
        host -> Text,
        pid -> Integer,
        rate_limit -> Integer,
        started_at -> TimestamptzSqlite,
        beat_at -> TimestamptzSqlite,
    }
}

diesel::table! {
    /// The stored answers of POSTs sent with an `Idempotency-Key` (see the migration).
    idempotency_keys (account, key) {
        account -> Text,
        key -> Text,
        request_hash -> Text,
        created_at -> TimestamptzSqlite,
        completed_at -> Nullable<TimestamptzSqlite>,
        status_code -> Nullable<Integer>,
        content_type -> Nullable<Text>,
        location -> Nullable<Text>,
        response_body -> Nullable<Binary>,
    }
}

diesel::table! {
    /// Numbers that must never be texted (see the migration `contacts`).
    opt_outs (phone_number) {
        phone_number -> Text,
        source -> Text,
        reason -> Nullable<Text>,
        created_at -> TimestamptzSqlite,
    }
}

diesel::table! {
    /// Replies the provider forwarded, and what each did.
    inbound_messages (id) {
        id -> BigInt,
        phone_number -> Text,
        text -> Text,
        action -> Text,
        received_at -> TimestamptzSqlite,
    }
}

diesel::table! {
    /// CSV imports: options, progress and report.
    imports (id) {
        id -> BigInt,
        kind -> Text,
        mode -> Text,
        dry_run -> Bool,
        status -> Text,
        bytes_total -> Nullable<BigInt>,
        bytes_read -> BigInt,
        rows -> BigInt,
        created -> BigInt,
        updated -> BigInt,
        unchanged -> BigInt,
        rejected -> BigInt,
        rejections -> Text,
        error -> Nullable<Text>,
        created_at -> TimestamptzSqlite,
        updated_at -> TimestamptzSqlite,
        finished_at -> Nullable<TimestamptzSqlite>,
    }
}

diesel::joinable!(client_tags -> clients (client_id));
diesel::joinable!(client_tags -> tags (tag_id));
diesel::joinable!(mailings -> client_filters (client_filter_id));
diesel::table! {
    /// Every pause of a mailing; at most one open (`resumed_at` NULL).
    mailing_pauses (id) {
        id -> BigInt,
        mailing_id -> BigInt,
        reason -> Text,
        detail -> Nullable<Text>,
        paused_at -> TimestamptzSqlite,
        resumed_at -> Nullable<TimestamptzSqlite>,
    }
}

diesel::table! {
    /// A resend's recipients, fixed when it was created.
    mailing_recipients (mailing_id, client_id) {
        mailing_id -> BigInt,
        client_id -> BigInt,
    }
}

diesel::joinable!(messages -> mailings (mailing_id));
diesel::joinable!(mailing_pauses -> mailings (mailing_id));
diesel::joinable!(messages -> clients (client_id));
diesel::joinable!(mailing_recipients -> clients (client_id));

diesel::table! {
    /// Access tokens that may still be used (see the migration).
    access_tokens (id) {
        id -> BigInt,
        token_id -> Text,
        username -> Text,
        created_at -> TimestamptzSqlite,
        expires_at -> TimestamptzSqlite,
    }
}

diesel::table! {
    api_keys (id) {
        id -> BigInt,
        name -> Text,
        prefix -> Text,
        secret_hash -> Text,
        role -> Text,
        created_by -> Text,
        created_at -> TimestamptzSqlite,
        expires_at -> Nullable<TimestamptzSqlite>,
        last_used_at -> Nullable<TimestamptzSqlite>,
    }
}

diesel::table! {
    sign_in_attempts (state_hash) {
        state_hash -> Text,
        nonce -> Text,
        pkce_verifier -> Text,
        created_at -> TimestamptzSqlite,
        expires_at -> TimestamptzSqlite,
    }
}

diesel::table! {
    /// Append-only: the database refuses updates and deletes.
    audit_log (id) {
        id -> BigInt,
        at -> TimestamptzSqlite,
        actor_kind -> Text,
        actor -> Text,
        actor_id -> BigInt,
        signed_in_with -> Text,
        interface -> Text,
        action -> Text,
        resource -> Text,
        resource_id -> Nullable<Text>,
        changes -> Text,
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
        claimed_until -> Nullable<TimestamptzSqlite>,
        next_attempt_at -> TimestamptzSqlite,
        last_error -> Nullable<Text>,
        sent_at -> Nullable<TimestamptzSqlite>,
        recipients -> Nullable<Text>,
        message_id -> Nullable<Text>,
        created_at -> TimestamptzSqlite,
        updated_at -> TimestamptzSqlite,
    }
}

diesel::table! {
    /// Each time a sender's circuit breaker stopped attempts.
    breaker_trips (id) {
        id -> BigInt,
        at -> TimestamptzSqlite,
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

/// Guards against drift between the two backends and between this file and the SQLite
/// migrations: both migration folders must end in the same tables and columns (with the same
/// nullability), and this view must name every migrated column in order.
#[cfg(all(test, feature = "testing"))]
mod tests {
    use super::*;
    use crate::testing::{TestDatabase, TestSqliteDatabase};
    use diesel::pg::PgConnection;
    use diesel::prelude::*;
    use diesel::query_builder::QueryFragment;
    use diesel::sql_types::{Bool, Text};
    use diesel::sqlite::{Sqlite, SqliteConnection};
    use std::collections::BTreeMap;

    /// Table name → its columns in order, each with whether it may be NULL.
    type Shape = BTreeMap<String, Vec<(String, bool)>>;

    #[derive(QueryableByName)]
    struct ColumnRow {
        #[diesel(sql_type = Text)]
        table_name: String,
        #[diesel(sql_type = Text)]
        column_name: String,
        #[diesel(sql_type = Bool)]
        nullable: bool,
    }

    fn shape(rows: Vec<ColumnRow>) -> Shape {
        let mut shape = Shape::new();
        for row in rows {
            shape
                .entry(row.table_name)
                .or_default()
                .push((row.column_name, row.nullable));
        }
        shape
    }

    fn postgres_shape(conn: &mut PgConnection) -> Shape {
        shape(
            diesel::sql_query(
                "SELECT table_name::text AS table_name, column_name::text AS column_name,
                        is_nullable = 'YES' AS nullable
                 FROM information_schema.columns
                 WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations'
                 ORDER BY table_name, ordinal_position",
            )
            .load(conn)
            .unwrap(),
        )
    }

    fn sqlite_shape(conn: &mut SqliteConnection) -> Shape {
        // A primary key column is NOT NULL on PostgreSQL; SQLite reports `notnull` = 0 for
        // INTEGER PRIMARY KEY and composite keys, though neither can hold NULL in practice.
        shape(
            diesel::sql_query(
                "SELECT m.name AS table_name, c.name AS column_name,
                        (c.\"notnull\" = 0 AND c.pk = 0) AS nullable
                 FROM sqlite_schema m, pragma_table_info(m.name) c
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'
                   AND m.name <> '__diesel_schema_migrations'
                 ORDER BY m.name, c.cid",
            )
            .load(conn)
            .unwrap(),
        )
    }

    #[test]
    fn both_backends_migrate_to_the_same_tables_and_columns() {
        let pg = TestDatabase::create();
        let sqlite = TestSqliteDatabase::create();
        let postgres = postgres_shape(&mut PgConnection::establish(pg.url()).unwrap());
        let lite = sqlite_shape(
            &mut SqliteConnection::establish(sqlite.path().to_str().unwrap()).unwrap(),
        );
        assert_eq!(postgres.len(), 24, "{postgres:?}");
        assert_eq!(lite, postgres);
    }

    #[test]
    fn both_backends_apply_the_same_migration_versions() {
        let pg = TestDatabase::create();
        let sqlite = TestSqliteDatabase::create();
        #[derive(QueryableByName, PartialEq, Debug)]
        struct Version {
            #[diesel(sql_type = Text)]
            version: String,
        }
        let query = "SELECT version FROM __diesel_schema_migrations ORDER BY version";
        let postgres: Vec<Version> = diesel::sql_query(query)
            .load(&mut PgConnection::establish(pg.url()).unwrap())
            .unwrap();
        let lite: Vec<Version> = diesel::sql_query(query)
            .load(&mut SqliteConnection::establish(sqlite.path().to_str().unwrap()).unwrap())
            .unwrap();
        assert_eq!(lite, postgres);
    }

    fn declared(query: impl QueryFragment<Sqlite>) -> Vec<String> {
        let sql = diesel::debug_query::<Sqlite, _>(&query).to_string();
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
                    .trim_matches('`')
                    .trim_matches('"')
                    .to_owned()
            })
            .collect()
    }

    #[test]
    fn every_table_declares_the_migrated_columns() {
        let db = TestSqliteDatabase::create();
        let mut conn = SqliteConnection::establish(db.path().to_str().unwrap()).unwrap();
        let migrated = sqlite_shape(&mut conn);
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
        assert_eq!(tables.len(), migrated.len(), "a table is missing here");
        for (table, columns) in tables {
            let names: Vec<String> = migrated[table].iter().map(|(n, _)| n.clone()).collect();
            assert_eq!(columns, names, "table {table}");
        }
    }
}
