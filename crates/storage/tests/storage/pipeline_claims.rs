//! Claiming due messages for senders, giving claims back, and expiring late messages.

use crate::backend::{Backend, each_backend};
use crate::pipeline::*;
use chrono::{DateTime, Duration, Utc};
use mailing_domain::MessageStatus::{
    Cancelled, Expired, Failed, Queued, Retrying, Scheduled, Sent,
};
use mailing_domain::store::storage_instant;
use mailing_domain::{MailingId, MessageId};
use std::collections::HashSet;

fn noon() -> DateTime<Utc> {
    crate::helpers::utc(2030, 5, 1, 12, 0)
}

fn minutes(n: i64) -> Duration {
    Duration::minutes(n)
}

/// A mailing to hang seeded messages on; its schedule does not matter to claims.
fn host(f: &Fixture) -> MailingId {
    crate::helpers::mailing(&*f.store).id
}

each_backend!(claim_due_takes_only_waiting_messages_whose_time_has_come);
fn claim_due_takes_only_waiting_messages_whose_time_has_come(backend: Backend) {
    let f = Fixture::new(backend);
    let m = host(&f);
    let now = noon();
    let later = now + Duration::hours(6);
    let seed = |s| f.seed(m, s);

    let due_scheduled = seed(Seed::waiting(Scheduled, now - minutes(5), later));
    let due_retrying = seed(Seed::waiting(Retrying, now - minutes(1), later));
    let due_exactly_now = seed(Seed::waiting(Scheduled, now, later));
    let not_yet = [
        seed(Seed::waiting(Scheduled, now + minutes(1), later)),
        seed(Seed::waiting(Retrying, now + minutes(1), later)),
    ];
    // Their deadline passed (or is now): sending would be late.
    let too_late = [
        seed(Seed::waiting(Scheduled, now - minutes(10), now)),
        seed(Seed::waiting(Retrying, now - minutes(10), now - minutes(1))),
    ];
    let elsewhere = [
        seed(Seed::queued(now - minutes(3), later)),
        seed(Seed::finished(Sent, now - minutes(3), later)),
        seed(Seed::finished(Failed, now - minutes(3), later)),
        seed(Seed::finished(Expired, now - minutes(3), later)),
        seed(Seed::finished(Cancelled, now - minutes(3), later)),
    ];
    let before: Vec<Row> = not_yet
        .iter()
        .chain(&too_late)
        .chain(&elsewhere)
        .map(|&id| f.row(id))
        .collect();

    let claimed = f.store.claim_due(now, 100).unwrap();
    assert_eq!(
        sorted(claimed.clone()),
        sorted(vec![due_scheduled, due_retrying, due_exactly_now])
    );
    for id in claimed {
        let row = f.row(id);
        row.assert_status(Queued);
        assert_eq!(row.queued_at, Some(now));
    }
    for row in before {
        assert_eq!(f.row(row.id()), row, "untouched");
    }
    assert!(f.store.claim_due(now, 100).unwrap().is_empty());
}

each_backend!(claim_due_respects_the_limit_earliest_first);
fn claim_due_respects_the_limit_earliest_first(backend: Backend) {
    let f = Fixture::new(backend);
    let m = host(&f);
    let now = noon();
    let expires = now + Duration::hours(1);
    // Seeded latest first, so id order and due order disagree.
    let mut by_due: Vec<MessageId> = (0..10)
        .map(|i| f.seed(m, Seed::waiting(Scheduled, now - minutes(i), expires)))
        .collect();
    by_due.reverse();

    let first = f.store.claim_due(now, 3).unwrap();
    assert_eq!(sorted(first), sorted(by_due[..3].to_vec()));
    let rest = f.store.claim_due(now, 100).unwrap();
    assert_eq!(sorted(rest), sorted(by_due[3..].to_vec()));
    assert!(f.store.claim_due(now, 100).unwrap().is_empty());
    assert!(f.store.claim_due(now, 0).unwrap().is_empty());
}

each_backend!(concurrent_claims_are_disjoint_and_cover_every_due_message);
fn concurrent_claims_are_disjoint_and_cover_every_due_message(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    let total = 3_000;
    f.bulk_clients(total, UTC);
    let start = crate::helpers::utc(2030, 5, 1, 0, 0);
    let m = spec(start, start + Duration::days(1)).create(store);
    store.expand_mailing(m.id, start).unwrap().unwrap();
    let now = start + minutes(1);

    let go = std::sync::Barrier::new(2);
    let claim_all = || {
        go.wait();
        let mut mine = Vec::new();
        loop {
            let batch = store.claim_due(now, 50).unwrap();
            if batch.is_empty() {
                return mine;
            }
            mine.extend(batch);
        }
    };
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(claim_all);
        let b = s.spawn(claim_all);
        (a.join().unwrap(), b.join().unwrap())
    });

    assert_eq!(
        a.len() + b.len(),
        total as usize,
        "every message exactly once"
    );
    let all: HashSet<MessageId> = a.iter().chain(&b).copied().collect();
    assert_eq!(all.len(), total as usize, "no message handed out twice");
    // SQLite's write lock is not fair: one claimer may take every batch while the other waits
    // its turn. PostgreSQL's claims run side by side, and there both must have had a share.
    if backend == Backend::Postgres {
        assert!(!a.is_empty() && !b.is_empty(), "both claimers took part");
    }
    assert_eq!(
        store.count_messages(m.id).unwrap().get(Queued),
        u64::from(total)
    );
}

each_backend!(released_messages_wait_again_and_can_be_claimed);
fn released_messages_wait_again_and_can_be_claimed(backend: Backend) {
    let f = Fixture::new(backend);
    let m = host(&f);
    let now = noon();
    let expires = now + Duration::hours(1);
    for _ in 0..3 {
        f.seed(m, Seed::waiting(Scheduled, now - minutes(1), expires));
    }
    let sent = f.seed(m, Seed::finished(Sent, now - minutes(1), expires));
    let claimed = sorted(f.store.claim_due(now, 10).unwrap());

    let back_at = now + minutes(2);
    let released = f.store.release(&[claimed[0], claimed[1], sent], back_at);
    assert_eq!(released.unwrap(), 2, "only queued messages are released");
    for &id in &claimed[..2] {
        let row = f.row(id);
        row.assert_status(Scheduled);
        assert_eq!((row.queued_at, row.next_attempt_at), (None, Some(back_at)));
    }
    f.row(claimed[2]).assert_status(Queued);
    f.row(sent).assert_status(Sent);
    assert_eq!(f.store.release(&[], back_at).unwrap(), 0);

    assert_eq!(
        sorted(f.store.claim_due(back_at, 10).unwrap()),
        claimed[..2].to_vec()
    );
}

each_backend!(reclaim_stale_takes_back_only_claims_older_than_the_cutoff);
fn reclaim_stale_takes_back_only_claims_older_than_the_cutoff(backend: Backend) {
    let f = Fixture::new(backend);
    let m = host(&f);
    let t1 = noon();
    let t2 = t1 + minutes(5);
    let expires = t1 + Duration::hours(1);
    for _ in 0..2 {
        f.seed(m, Seed::waiting(Scheduled, t1 - minutes(1), expires));
    }
    let old = f.store.claim_due(t1, 10).unwrap();
    for _ in 0..2 {
        f.seed(m, Seed::waiting(Scheduled, t2 - minutes(1), expires));
    }
    let fresh = f.store.claim_due(t2, 10).unwrap();
    assert_eq!((old.len(), fresh.len()), (2, 2));

    let now = t2 + minutes(1);
    // A claim made exactly at the cutoff is not stale yet.
    assert_eq!(f.store.reclaim_stale(t2, now).unwrap(), 2);
    for id in old {
        let row = f.row(id);
        row.assert_status(Scheduled);
        assert_eq!((row.queued_at, row.next_attempt_at), (None, Some(now)));
    }
    for id in fresh {
        let row = f.row(id);
        row.assert_status(Queued);
        assert_eq!(row.queued_at, Some(t2));
    }
    assert_eq!(f.store.reclaim_stale(t2, now).unwrap(), 0);
}

each_backend!(claims_are_renewed_only_under_their_exact_claim);
/// A sender renews the claims it still holds, named by their claim time: a renewed claim is not
/// taken back, one that changed hands is not renewed.
fn claims_are_renewed_only_under_their_exact_claim(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    let m = host(&f);
    let expires = noon() + Duration::hours(6);
    let [a, b, c] =
        std::array::from_fn(|_| f.seed(m, Seed::waiting(Scheduled, noon() - minutes(1), expires)));
    // Storage keeps microseconds: the claim time is `now` without its last digits.
    let now = noon() + Duration::nanoseconds(1_234_567_891);
    let claim = storage_instant(now);
    assert_eq!(
        sorted(store.claim_due(now, 10).unwrap()),
        sorted(vec![a, b, c])
    );
    assert_eq!(f.row(a).queued_at, Some(claim));

    // The untruncated instant names the same claim; another instant names none.
    let later = now + minutes(5);
    let renewed = store
        .renew_claims(
            &[
                (a, now),
                (b, now + Duration::seconds(1)),
                (MessageId(999_999), claim),
            ],
            later,
        )
        .unwrap();
    assert_eq!(renewed, vec![a]);
    assert!(store.renew_claims(&[], later).unwrap().is_empty());

    // Only claims neither made nor renewed since the cutoff go back.
    assert_eq!(store.reclaim_stale(now + minutes(1), later).unwrap(), 2);
    let kept = f.row(a);
    kept.assert_status(Queued);
    assert_eq!(kept.queued_at, Some(claim), "a renewal keeps the claim");
    for id in [b, c] {
        f.row(id).assert_planned(storage_instant(later), expires);
    }
    assert!(
        store.renew_claims(&[(b, claim)], later).unwrap().is_empty(),
        "a claim taken back is not renewed"
    );
}

each_backend!(expire_overdue_expires_only_waiting_messages_past_their_deadline);
fn expire_overdue_expires_only_waiting_messages_past_their_deadline(backend: Backend) {
    let f = Fixture::new(backend);
    let m = host(&f);
    let now = noon();
    let past = now - minutes(1);
    let seed = |s| f.seed(m, s);

    let overdue = [
        seed(Seed::waiting(Scheduled, past - minutes(30), past)),
        seed(Seed::waiting(Retrying, past + minutes(30), past)),
        seed(Seed::waiting(Scheduled, past, now)),
    ];
    let in_time = seed(Seed::waiting(
        Scheduled,
        now + minutes(5),
        now + minutes(10),
    ));
    // A sender holds it; its outcome decides.
    let queued = seed(Seed::queued(past - minutes(30), past));
    let finished = [
        seed(Seed::finished(Sent, past - minutes(30), past)),
        seed(Seed::finished(Failed, past - minutes(30), past)),
        seed(Seed::finished(Cancelled, past - minutes(30), past)),
    ];
    let before: Vec<Row> = [in_time, queued]
        .iter()
        .chain(&finished)
        .map(|&id| f.row(id))
        .collect();

    // The retrying one failed before.
    f.db.execute(&format!(
        "UPDATE messages SET last_error = 'probe answered 500' WHERE id = {}",
        overdue[1].0
    ))
    .unwrap();

    assert_eq!(f.store.expire_overdue(now).unwrap(), 3);
    for id in overdue {
        let row = f.row(id);
        row.assert_status(Expired);
        assert_eq!((row.next_attempt_at, row.queued_at), (None, None));
        // Each says why: its last failure, or that its turn never came.
        let reason = if id == overdue[1] {
            "the mailing ended before delivery succeeded; last attempt: probe answered 500"
        } else {
            "the mailing ended before its turn came"
        };
        assert_eq!(row.last_error.as_deref(), Some(reason), "message {id}");
    }
    for row in before {
        assert_eq!(f.row(row.id()), row, "untouched");
    }
    assert_eq!(f.store.expire_overdue(now).unwrap(), 0);
}

each_backend!(due_backlog_counts_due_messages_not_yet_claimed);
fn due_backlog_counts_due_messages_not_yet_claimed(backend: Backend) {
    let f = Fixture::new(backend);
    let m = host(&f);
    let now = noon();
    let expires = now + Duration::hours(1);
    for i in 0..4 {
        f.seed(m, Seed::waiting(Scheduled, now - minutes(i), expires));
    }
    f.seed(m, Seed::waiting(Retrying, now - minutes(1), expires));
    f.seed(m, Seed::waiting(Scheduled, now + minutes(1), expires));
    f.seed(m, Seed::queued(now - minutes(1), expires));
    f.seed(m, Seed::finished(Sent, now - minutes(1), expires));

    assert_eq!(f.store.due_backlog(now).unwrap(), 5);
    assert_eq!(f.store.due_backlog(now + minutes(1)).unwrap(), 6);
    assert_eq!(f.store.due_backlog(now - Duration::hours(1)).unwrap(), 0);
    f.store.claim_due(now, 2).unwrap();
    assert_eq!(f.store.due_backlog(now).unwrap(), 3);
    assert_eq!(f.claim_mismatches(), 0);
}
