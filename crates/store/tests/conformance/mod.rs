//! What every `RunStore` must do about leases, fencing and schedule fires, written once and
//! run against each backend: `sqlite_store.rs` on a real file, `pg_store.rs` on a real
//! PostgreSQL server. Each check makes its own ids and keys, so checks can share a database.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use runbook_store::{
    Fence, Fire, Gone, Lease, LockHolder, LockOutcome, NewRun, RunStore, StoreError, RUNNING,
};
use serde_json::json;

/// Ids no other check (or earlier test run against the same database) uses.
pub fn unique(what: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    format!("{what}-{}-{}-{n}", std::process::id(), uuid_ish())
}

fn uuid_ish() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

pub fn run(run_id: &str, fire: Option<Fire>) -> NewRun {
    NewRun {
        run_id: run_id.to_owned(),
        runbook_name: "deploy".to_owned(),
        runbook_path: "runbooks/deploy.yaml".to_owned(),
        runbook_digest: "sha256:0f3c".to_owned(),
        inputs: json!({"region": "cn-north-4"}),
        lock_key: None,
        started_at: "2025-03-01T10:00:00Z".to_owned(),
        host: "ops-1".to_owned(),
        pid: 4242,
        fire,
    }
}

pub fn holder(run_id: &str, host: &str) -> LockHolder {
    LockHolder {
        run_id: run_id.to_owned(),
        host: host.to_owned(),
        pid: 100,
        since: "2025-03-01T10:00:00Z".to_owned(),
    }
}

fn alive(_: &LockHolder) -> bool {
    true
}

async fn acquired(store: &dyn RunStore, key: &str, who: &LockHolder, lease: Duration) -> Lease {
    match store.acquire_lock(key, who, lease, &alive).await.unwrap() {
        LockOutcome::Acquired { lease, .. } => lease,
        held => panic!("{key}: expected to acquire, got {held:?}"),
    }
}

/// A holder whose lease ran out is taken over even though `is_alive` says it lives (it may
/// be frozen, or on a host that lost the network), and the outcome says why.
pub async fn a_lease_that_ran_out_is_taken_over(store: &dyn RunStore) {
    let key = unique("lock");
    let first = acquired(store, &key, &holder("r1", "host-a"), ms(300)).await;
    let outcome = store
        .acquire_lock(&key, &holder("r2", "host-b"), ms(300), &alive)
        .await
        .unwrap();
    assert!(
        matches!(&outcome, LockOutcome::Held(h) if h.run_id == "r1"),
        "{outcome:?}"
    );
    tokio::time::sleep(ms(450)).await;
    match store
        .acquire_lock(&key, &holder("r2", "host-b"), ms(300), &alive)
        .await
        .unwrap()
    {
        LockOutcome::Acquired {
            lease,
            took_over_from: Some(previous),
        } => {
            assert_eq!(previous.gone, Gone::LeaseExpired);
            assert_eq!(previous.holder.run_id, "r1");
            assert_eq!(previous.holder.host, "host-a");
            assert!(lease.token > first.token, "{lease:?} after {first:?}");
        }
        other => panic!("expected a takeover, got {other:?}"),
    }
}

/// A live holder's lease is extended by renewing; once it has run out it is never revived,
/// and the same run asking again keeps its token.
pub async fn renewing_extends_a_lease_and_a_lapsed_one_stays_lapsed(store: &dyn RunStore) {
    let key = unique("lock");
    let me = holder("r1", "host-a");
    let lease = acquired(store, &key, &me, ms(400)).await;
    for _ in 0..3 {
        tokio::time::sleep(ms(200)).await;
        assert!(store.renew_lock(&key, lease.token, ms(400)).await.unwrap());
    }
    // 600 ms after it was taken, a 400 ms lease stands because it was renewed.
    let outcome = store
        .acquire_lock(&key, &holder("r2", "host-b"), ms(400), &alive)
        .await
        .unwrap();
    assert!(
        matches!(&outcome, LockOutcome::Held(h) if h.run_id == "r1"),
        "{outcome:?}"
    );
    let again = acquired(store, &key, &me, ms(400)).await;
    assert_eq!(again.token, lease.token, "the same run keeps its token");

    tokio::time::sleep(ms(550)).await;
    assert!(
        !store.renew_lock(&key, lease.token, ms(400)).await.unwrap(),
        "a lapsed lease is not revived"
    );
    assert!(!store
        .renew_lock(&unique("lock"), lease.token, ms(400))
        .await
        .unwrap());
}

/// Once a newer holder exists, the old holder's appends and its end are refused and change
/// nothing; the new holder's go through.
pub async fn a_newer_holder_fences_off_the_old_ones_writes(store: &dyn RunStore) {
    let key = unique("lock");
    let run_id = unique("run");
    store.begin_run(&run(&run_id, None)).await.unwrap();
    let old = acquired(store, &key, &holder(&run_id, "host-a"), ms(300)).await;
    let old_fence = Fence::of(&old);
    store
        .append(&run_id, &[json!({"event": "one"})], false, Some(&old_fence))
        .await
        .unwrap();
    tokio::time::sleep(ms(450)).await;
    let new = acquired(store, &key, &holder(&run_id, "host-b"), ms(5_000)).await;
    assert!(new.token > old.token);

    for durable in [false, true] {
        let refused = store
            .append(
                &run_id,
                &[json!({"event": "stale"})],
                durable,
                Some(&old_fence),
            )
            .await
            .unwrap_err();
        assert!(matches!(&refused, StoreError::Fenced { .. }), "{refused:?}");
        let message = refused.to_string();
        assert!(message.contains("newer holder"), "{message}");
        assert!(message.contains(&key), "{message}");
    }
    let refused = store
        .finish_run(
            &run_id,
            "succeeded",
            0,
            "2025-03-01T10:05:00Z",
            None,
            Some(&old_fence),
        )
        .await
        .unwrap_err();
    assert!(matches!(refused, StoreError::Fenced { .. }), "{refused:?}");
    assert!(!store.renew_lock(&key, old.token, ms(300)).await.unwrap());

    let events = store.events(&run_id).await.unwrap();
    assert_eq!(
        events,
        vec![json!({"event": "one"})],
        "refused writes left nothing"
    );
    assert_eq!(
        store.get_run(&run_id).await.unwrap().unwrap().status,
        RUNNING
    );

    let new_fence = Fence::of(&new);
    store
        .append(&run_id, &[json!({"event": "two"})], true, Some(&new_fence))
        .await
        .unwrap();
    store
        .finish_run(
            &run_id,
            "succeeded",
            0,
            "2025-03-01T10:05:00Z",
            None,
            Some(&new_fence),
        )
        .await
        .unwrap();
    assert_eq!(store.events(&run_id).await.unwrap().len(), 2);

    // A released lock fences too: its holding is over.
    assert!(store.release_lock(&key, &run_id).await.unwrap());
    let refused = store
        .append(
            &run_id,
            &[json!({"event": "late"})],
            false,
            Some(&new_fence),
        )
        .await
        .unwrap_err();
    assert!(matches!(refused, StoreError::Fenced { .. }), "{refused:?}");
}

/// The intent of a request is written only while the lease outlasts the request.
pub async fn an_intent_needs_a_lease_that_outlasts_its_request(store: &dyn RunStore) {
    let key = unique("lock");
    let run_id = unique("run");
    store.begin_run(&run(&run_id, None)).await.unwrap();
    let lease = acquired(store, &key, &holder(&run_id, "host-a"), ms(2_000)).await;
    let needs = |outlast| Fence {
        outlast,
        ..Fence::of(&lease)
    };
    let refused = store
        .append(
            &run_id,
            &[json!({"event": "intent"})],
            true,
            Some(&needs(ms(30_000))),
        )
        .await
        .unwrap_err();
    let message = refused.to_string();
    assert!(matches!(refused, StoreError::Fenced { .. }), "{refused:?}");
    assert!(message.contains("less than the 30000 ms"), "{message}");
    store
        .append(
            &run_id,
            &[json!({"event": "intent"})],
            true,
            Some(&needs(ms(500))),
        )
        .await
        .unwrap();
    assert_eq!(store.events(&run_id).await.unwrap().len(), 1);
}

/// Fencing tokens only grow: across keys, and when a key is released and taken again.
pub async fn fencing_tokens_only_grow(store: &dyn RunStore) {
    let (k1, k2) = (unique("lock"), unique("lock"));
    let a = acquired(store, &k1, &holder("r1", "h"), ms(5_000)).await;
    assert!(store.release_lock(&k1, "r1").await.unwrap());
    let b = acquired(store, &k1, &holder("r2", "h"), ms(5_000)).await;
    let c = acquired(store, &k2, &holder("r3", "h"), ms(5_000)).await;
    assert!(a.token < b.token && b.token < c.token, "{a:?} {b:?} {c:?}");
}

/// Of runs given the same fire, the first is recorded and the rest are refused, naming it;
/// another key or another scope is another fire.
pub async fn one_run_per_fire(store: &dyn RunStore) {
    let scope = unique("deploy@project");
    let fire = |key: &str| {
        Some(Fire {
            scope: scope.clone(),
            key: key.to_owned(),
        })
    };
    let first = unique("run");
    store
        .begin_run(&run(&first, fire("2025-03-01T10:00")))
        .await
        .unwrap();
    let second = unique("run");
    let refused = store
        .begin_run(&run(&second, fire("2025-03-01T10:00")))
        .await
        .unwrap_err();
    match &refused {
        StoreError::FireTaken(taken) => {
            assert_eq!(taken.run_id, first);
            assert_eq!(taken.host, "ops-1");
            assert_eq!(taken.key, "2025-03-01T10:00");
        }
        other => panic!("expected FireTaken, got {other:?}"),
    }
    assert!(refused.to_string().contains(&first), "{refused}");
    assert_eq!(
        store.get_run(&second).await.unwrap(),
        None,
        "nothing recorded"
    );

    store
        .begin_run(&run(&second, fire("2025-03-01T11:00")))
        .await
        .unwrap();
    let recorded = store.get_run(&second).await.unwrap().unwrap();
    assert_eq!(recorded.fire_key.as_deref(), Some("2025-03-01T11:00"));
    let other_scope = NewRun {
        fire: Some(Fire {
            scope: unique("other@project"),
            key: "2025-03-01T10:00".to_owned(),
        }),
        ..run(&unique("run"), None)
    };
    store.begin_run(&other_scope).await.unwrap();
    store.begin_run(&run(&unique("run"), None)).await.unwrap();
    store.begin_run(&run(&unique("run"), None)).await.unwrap();
    // A taken id is still a duplicate run, not a taken fire.
    let duplicate = store
        .begin_run(&run(&first, fire("2025-03-01T12:00")))
        .await
        .unwrap_err();
    assert!(
        matches!(duplicate, StoreError::DuplicateRun { .. }),
        "{duplicate:?}"
    );
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}
