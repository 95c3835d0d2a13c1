use crate::backend::{Backend, TestDb, each_backend};
use crate::helpers::*;
use mailing_domain::import::{
    ClientHeader, ClientImportRow, ImportId, ImportKind, ImportMode, ImportStatus, ImportTally,
    NewImport, OptOutImportRow, RowOutcome, RowRejection,
};
use mailing_domain::store::{ClientQuery, Entity};
use mailing_domain::{Attributes, ClientId};
use serde_json::json;

fn rows(csv_rows: &[&[&str]]) -> Vec<ClientImportRow> {
    let header = ClientHeader::parse(csv_rows[0]).unwrap();
    csv_rows[1..]
        .iter()
        .enumerate()
        .map(|(index, cells)| header.row(index as u64 + 2, cells).unwrap())
        .collect()
}

const HEADER: &[&str] = &[
    "phone_number",
    "operator_code",
    "tags",
    "time_zone",
    "attr.city",
];

each_backend!(a_batch_classifies_each_row_and_a_dry_run_writes_nothing);
fn a_batch_classifies_each_row_and_a_dry_run_writes_nothing(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    operator(&*store, "bln");
    let same = client(&*store, "79000000001", "bln", &["vip"]);
    let changed = client(&*store, "79000000002", "bln", &[]);
    let batch = rows(&[
        HEADER,
        &["79000000001", "bln", "vip", "Europe/Moscow", ""],
        &["79000000002", "", "new", "", "Kazan"],
        &["79000000003", "bln", "a;b", "", ""],
        &["79000000004", "mts", "", "", ""],
        &["79000000005", "", "", "", ""],
    ]);
    let expected = vec![
        RowOutcome::Unchanged,
        RowOutcome::Updated,
        RowOutcome::Created,
        RowOutcome::Rejected(
            RowRejection::new(5, "operator_code", "no operator has this code").with_value("mts"),
        ),
        RowOutcome::Rejected(RowRejection::new(
            6,
            "operator_code",
            "is required for a new client",
        )),
    ];
    let dry = store
        .import_clients(&batch, ImportMode::Upsert, true)
        .unwrap();
    assert_eq!(dry, expected);
    assert_eq!(
        store
            .list_clients(&ClientQuery::default(), ALL)
            .unwrap()
            .total,
        2
    );
    assert_eq!(
        store.list_tags(ALL).unwrap().total,
        1,
        "a dry run creates no tags"
    );

    let real = store
        .import_clients(&batch, ImportMode::Upsert, false)
        .unwrap();
    assert_eq!(real, expected);
    assert_eq!(
        store.get_client(same.id).unwrap(),
        same,
        "unchanged, not even touched"
    );
    let updated = store.get_client(changed.id).unwrap();
    assert_eq!(updated.tags, vec![tag("new")]);
    assert_eq!(
        updated.attributes,
        Attributes::from_json(&json!({"city": "Kazan"})).unwrap()
    );
    let created = store
        .clients_after(&ClientQuery::default(), Some(changed.id), 10)
        .unwrap();
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].phone, phone("79000000003"));
    assert_eq!(created[0].tags, vec![tag("a"), tag("b")]);
    assert_eq!(created[0].time_zone.name(), "UTC");

    let again = store
        .import_clients(&batch, ImportMode::Upsert, false)
        .unwrap();
    assert_eq!(&again[..3], &[const { RowOutcome::Unchanged }; 3]);
    let inserted = store
        .import_clients(&batch[..1], ImportMode::Insert, false)
        .unwrap();
    assert!(
        matches!(&inserted[0], RowOutcome::Rejected(r) if r.column.as_deref() == Some("phone_number"))
    );
}

each_backend!(the_export_reads_in_keyset_batches_with_the_attribute_keys);
fn the_export_reads_in_keyset_batches_with_the_attribute_keys(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    operator(&*store, "bln");
    let batch = rows(&[
        HEADER,
        &["79000000001", "bln", "", "", "Kazan"],
        &["79000000002", "bln", "", "", ""],
        &["79000000003", "bln", "", "", "Omsk"],
    ]);
    store
        .import_clients(&batch, ImportMode::Upsert, false)
        .unwrap();
    let all = ClientQuery::default();
    let first = store.clients_after(&all, None, 2).unwrap();
    let rest = store.clients_after(&all, Some(first[1].id), 2).unwrap();
    let phones: Vec<&str> = first
        .iter()
        .chain(&rest)
        .map(|c| c.phone.as_str())
        .collect();
    assert_eq!(phones, ["79000000001", "79000000002", "79000000003"]);
    assert!(
        store
            .clients_after(&all, Some(ClientId(i64::MAX - 1)), 2)
            .unwrap()
            .is_empty()
    );
    let keys: Vec<String> = store
        .client_attribute_keys(&all)
        .unwrap()
        .iter()
        .map(|key| key.as_str().to_owned())
        .collect();
    assert_eq!(keys, ["city"]);
    let none = ClientQuery {
        phone_prefix: Some("7999".into()),
        ..ClientQuery::default()
    };
    assert!(store.client_attribute_keys(&none).unwrap().is_empty());
}

each_backend!(opt_outs_import_once_and_suppress_waiting_messages);
fn opt_outs_import_once_and_suppress_waiting_messages(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    let row = |line, number: &str| OptOutImportRow {
        line,
        phone: phone(number),
        reason: Some("asked".into()),
    };
    let batch = [row(2, "79000000001"), row(3, "79000000002")];
    assert_eq!(
        store.import_opt_outs(&batch, true).unwrap(),
        [RowOutcome::Created, RowOutcome::Created]
    );
    assert_eq!(
        store.import_opt_outs(&batch[..1], false).unwrap(),
        [RowOutcome::Created],
        "the dry run stored nothing"
    );
    assert_eq!(
        store.import_opt_outs(&batch, false).unwrap(),
        [RowOutcome::Unchanged, RowOutcome::Created]
    );
}

each_backend!(a_job_adds_its_batches_and_keeps_the_first_rejections);
fn a_job_adds_its_batches_and_keeps_the_first_rejections(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    let job = store
        .create_import(&NewImport {
            kind: ImportKind::Clients,
            mode: ImportMode::Insert,
            dry_run: true,
            bytes_total: 1000,
        })
        .unwrap();
    assert_eq!(job.status, ImportStatus::Running);
    assert_eq!((job.bytes_read, job.bytes_total), (0, Some(1000)));
    let mut batch = ImportTally::default();
    for line in 2..=701 {
        batch.add(RowOutcome::Rejected(RowRejection::new(
            line,
            "phone_number",
            "bad",
        )));
    }
    batch.add(RowOutcome::Created);
    store.record_import_progress(job.id, &batch, 400).unwrap();
    store.record_import_progress(job.id, &batch, 1000).unwrap();
    store.finish_import(job.id, None).unwrap();
    let done = store.get_import(job.id).unwrap();
    assert_eq!(done.status, ImportStatus::Done);
    assert_eq!(done.bytes_read, 1000);
    assert_eq!(
        (done.tally.rows, done.tally.created, done.tally.rejected),
        (1402, 2, 1400)
    );
    assert_eq!(
        done.tally.rejections.len(),
        1000,
        "the first thousand are kept"
    );
    assert_eq!(done.tally.rejections[999].line, 301);
    assert!(done.finished_at.is_some() && done.mode == ImportMode::Insert && done.dry_run);
    assert!(
        store.finish_import(job.id, None).is_err(),
        "a job ends once"
    );

    let list = store.list_imports(ImportKind::Clients, ALL).unwrap();
    assert_eq!(list.total, 1);
    assert_eq!(
        store.list_imports(ImportKind::OptOuts, ALL).unwrap().total,
        0
    );
    assert_not_found(store.get_import(ImportId(999)), Entity::Import);
}

each_backend!(stale_running_jobs_are_failed_with_the_reason);
fn stale_running_jobs_are_failed_with_the_reason(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    let new = NewImport {
        kind: ImportKind::OptOuts,
        mode: ImportMode::Upsert,
        dry_run: false,
        bytes_total: 10,
    };
    let job = store.create_import(&new).unwrap();
    let past = job.updated_at - chrono::TimeDelta::minutes(1);
    assert_eq!(store.fail_stale_imports(past, "stopped").unwrap(), 0);
    let future = job.updated_at + chrono::TimeDelta::minutes(1);
    assert_eq!(store.fail_stale_imports(future, "stopped").unwrap(), 1);
    let failed = store.get_import(job.id).unwrap();
    assert_eq!(failed.status, ImportStatus::Failed);
    assert_eq!(failed.error.as_deref(), Some("stopped"));
    assert_eq!(store.fail_stale_imports(future, "stopped").unwrap(), 0);
}

/// What the planner knows of the clients table: PostgreSQL's row estimate (-1 before the first
/// `ANALYZE`), or whether SQLite holds statistics of it.
fn planner_knows(db: &TestDb) -> i64 {
    match db.backend() {
        Backend::Postgres => db.count(
            "SELECT reltuples::bigint AS count FROM pg_class WHERE oid = 'clients'::regclass",
        ),
        Backend::Sqlite => {
            db.count("SELECT count(*) AS count FROM sqlite_master WHERE name = 'sqlite_stat1'")
        }
    }
}

each_backend!(a_finished_import_brings_the_planners_statistics_up_to_date);
fn a_finished_import_brings_the_planners_statistics_up_to_date(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    operator(&*store, "bln");
    let before = planner_knows(&db);
    let mut csv: Vec<Vec<String>> = vec![HEADER.iter().map(|h| h.to_string()).collect()];
    for n in 0..2_000 {
        csv.push(
            [&format!("7900{n:07}"), "bln", "vip", "UTC", "Kazan"]
                .map(str::to_owned)
                .to_vec(),
        );
    }
    let csv: Vec<Vec<&str>> = csv
        .iter()
        .map(|row| row.iter().map(String::as_str).collect())
        .collect();
    let csv: Vec<&[&str]> = csv.iter().map(Vec::as_slice).collect();
    let batch = rows(&csv);
    let mut runs = vec![];
    for dry_run in [true, false] {
        let job = store
            .create_import(&NewImport {
                kind: ImportKind::Clients,
                mode: ImportMode::Upsert,
                dry_run,
                bytes_total: 1,
            })
            .unwrap();
        let mut tally = ImportTally::default();
        for outcome in store
            .import_clients(&batch, ImportMode::Upsert, dry_run)
            .unwrap()
        {
            tally.add(outcome);
        }
        store.record_import_progress(job.id, &tally, 1).unwrap();
        store.finish_import(job.id, None).unwrap();
        runs.push(planner_knows(&db));
    }
    match backend {
        // Never analyzed before; the dry run wrote nothing, the import 2,000 clients.
        Backend::Postgres => assert_eq!((before, runs[0], runs[1]), (-1, -1, 2_000)),
        Backend::Sqlite => assert_eq!((before, runs[0], runs[1]), (0, 0, 1)),
    }
}

each_backend!(only_postgresql_takes_an_imports_batches_two_at_once);
fn only_postgresql_takes_an_imports_batches_two_at_once(backend: Backend) {
    let db = TestDb::create(backend);
    let expected = match backend {
        Backend::Postgres => 2,
        // One writer at a time: a second batch upgrading its read to a write would be refused.
        Backend::Sqlite => 1,
    };
    assert_eq!(db.store().concurrent_import_batches(), expected);
}
