//! What every `RunStore` must do about leases, fencing and schedule fires, written once and
//! run against each backend: `sqlite_store.rs` on a real file, `pg_store.rs` on a real
//! PostgreSQL server. Each check makes its own ids and keys, so checks can share a database.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// Calls `$test!` with every check of this module: the one list that every backend's suite
/// (`sqlite_store.rs`, `pg_store.rs`) runs, so a check added to it runs on all of them.
macro_rules! every_check {
    ($test:ident) => {
        $test!(
            events_are_appended_in_order_across_batches_and_round_trip,
            appending_to_or_reading_an_unknown_run_fails_by_name,
            a_run_id_is_recorded_once_and_timestamps_must_be_rfc_3339,
            finishing_records_status_exit_code_time_and_error,
            runs_are_listed_newest_first_and_filtered,
            a_run_is_found_by_its_id_or_a_unique_prefix,
            prune_deletes_finished_runs_before_the_cutoff_with_their_events_never_running_ones,
            a_lock_key_and_an_active_since_time_find_a_runs_unfinished_siblings,
            claiming_a_running_run_makes_it_the_callers_and_a_finished_or_unknown_one_is_refused,
            a_free_lock_is_acquired_and_a_live_holder_keeps_it,
            a_dead_holder_is_taken_over_and_named,
            only_the_holder_releases_a_lock_and_the_same_run_may_ask_again,
            a_lease_that_ran_out_is_taken_over,
            renewing_extends_a_lease_and_a_lapsed_one_stays_lapsed,
            a_newer_holder_fences_off_the_old_ones_writes,
            an_intent_needs_a_lease_that_outlasts_its_request,
            fencing_tokens_only_grow,
            one_run_per_fire,
        );
    };
}
pub(crate) use every_check;

use runbook_store::{
    Fence, Fire, Gone, Lease, LockHolder, LockOutcome, NewEvent, NewRun, Previous, RunFilter,
    RunRecord, RunStore, StoreError, RUNNING,
};
use serde_json::{json, Value};

/// Events to append, each timed by its `ts` as the journal's are.
pub fn new_events(values: &[Value]) -> Vec<NewEvent> {
    values.iter().map(NewEvent::from_value).collect()
}

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
        .append(
            &run_id,
            &new_events(&[json!({"event": "one"})]),
            false,
            Some(&old_fence),
        )
        .await
        .unwrap();
    tokio::time::sleep(ms(450)).await;
    let new = acquired(store, &key, &holder(&run_id, "host-b"), ms(5_000)).await;
    assert!(new.token > old.token);

    for durable in [false, true] {
        let refused = store
            .append(
                &run_id,
                &new_events(&[json!({"event": "stale"})]),
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
        .append(
            &run_id,
            &new_events(&[json!({"event": "two"})]),
            true,
            Some(&new_fence),
        )
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
            &new_events(&[json!({"event": "late"})]),
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
            &new_events(&[json!({"event": "intent"})]),
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
            &new_events(&[json!({"event": "intent"})]),
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

/// Long enough that no lease in these checks runs out unless a check waits for it.
const LEASE: Duration = Duration::from_secs(60);

/// A run of `runbook_name` (its lock key `<name>/project`), with inputs of several JSON types.
pub fn named_run(run_id: &str, runbook_name: &str, started_at: &str) -> NewRun {
    NewRun {
        run_id: run_id.to_owned(),
        runbook_name: runbook_name.to_owned(),
        runbook_path: format!("runbooks/{runbook_name}.yaml"),
        runbook_digest: "sha256:0f3c".to_owned(),
        inputs: json!({"region": "cn-north-4", "count": 3, "tags": ["a", "b"]}),
        lock_key: Some(format!("{runbook_name}/project")),
        started_at: started_at.to_owned(),
        host: "ops-1".to_owned(),
        pid: 4242,
        fire: None,
    }
}

/// A holder on host `ops-1` with process `pid`.
pub fn holder_pid(run_id: &str, pid: u32) -> LockHolder {
    LockHolder {
        run_id: run_id.to_owned(),
        host: "ops-1".to_owned(),
        pid,
        since: "2025-03-01T10:00:00Z".to_owned(),
    }
}

fn never_alive(_: &LockHolder) -> bool {
    false
}

fn ids(runs: &[RunRecord]) -> Vec<&str> {
    runs.iter().map(|run| run.run_id.as_str()).collect()
}

/// `runs` reduced to those with the ids in `ours`, in the order listed: the checks share the
/// database with other checks (and earlier test runs), so a listing of everything also has
/// their runs.
fn only<'r>(runs: &'r [RunRecord], ours: &[&str]) -> Vec<&'r str> {
    ids(runs)
        .into_iter()
        .filter(|id| ours.contains(id))
        .collect()
}

/// Events in several batches (one empty, some durable, one of a thousand: more than one
/// statement's worth) come back in order, as appended, and each run has its own journal.
pub async fn events_are_appended_in_order_across_batches_and_round_trip(store: &dyn RunStore) {
    let (r1, r2) = (unique("run"), unique("run"));
    for id in [&r1, &r2] {
        store
            .begin_run(&named_run(id, "deploy", "2025-03-01T10:00:00Z"))
            .await
            .unwrap();
    }
    let batch1 = vec![
        json!({"version": 1, "event": "run_started", "ts": "2025-03-01T10:00:00.1Z"}),
        json!({"version": 1, "event": "step_started", "step": "start", "text": "ünïcode ✓ \"quoted\"\n"}),
    ];
    let batch2 =
        vec![json!({"version": 1, "event": "intent", "params": {"n": 1.5, "list": [null, true]}})];
    let batch3 = vec![json!({"event": "poll", "status": "executing"}); 3];
    let batch4: Vec<Value> = (0..1000)
        .map(|n| json!({"event": "poll", "n": n}))
        .collect();
    store
        .append(&r1, &new_events(&batch1), false, None)
        .await
        .unwrap();
    store
        .append(&r2, &new_events(&[json!({"other": "run"})]), false, None)
        .await
        .unwrap();
    store
        .append(&r1, &new_events(&batch2), true, None)
        .await
        .unwrap();
    store
        .append(&r1, &new_events(&[]), true, None)
        .await
        .unwrap();
    store
        .append(&r1, &new_events(&batch3), false, None)
        .await
        .unwrap();
    store
        .append(&r1, &new_events(&batch4), false, None)
        .await
        .unwrap();

    let expected: Vec<Value> = batch1
        .into_iter()
        .chain(batch2)
        .chain(batch3)
        .chain(batch4)
        .collect();
    assert_eq!(store.events(&r1).await.unwrap(), expected);
    assert_eq!(
        store.events(&r2).await.unwrap(),
        vec![json!({"other": "run"})]
    );
}

/// Appending to, finishing or reading a run that was never begun fails, naming it; a run
/// with no events has an empty journal.
pub async fn appending_to_or_reading_an_unknown_run_fails_by_name(store: &dyn RunStore) {
    let nope = unique("nope");
    for durable in [false, true] {
        let err = store
            .append(&nope, &new_events(&[json!({})]), durable, None)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::UnknownRun { run_id, .. } if run_id == &nope),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .starts_with(&format!("no run {nope} in the run store at ")),
            "{err}"
        );
    }
    assert!(matches!(
        store.events(&nope).await,
        Err(StoreError::UnknownRun { .. })
    ));
    assert!(matches!(
        store
            .finish_run(&nope, "succeeded", 0, "2025-03-01T10:00:00Z", None, None)
            .await,
        Err(StoreError::UnknownRun { .. })
    ));
    let r1 = unique("run");
    store
        .begin_run(&named_run(&r1, "deploy", "2025-03-01T10:00:00Z"))
        .await
        .unwrap();
    assert_eq!(store.events(&r1).await.unwrap(), Vec::<Value>::new());
}

/// A run id is recorded once; timestamps that are not RFC 3339 are refused by field name,
/// and a refused run is not recorded.
pub async fn a_run_id_is_recorded_once_and_timestamps_must_be_rfc_3339(store: &dyn RunStore) {
    let (r1, r2) = (unique("run"), unique("run"));
    store
        .begin_run(&named_run(&r1, "deploy", "2025-03-01T10:00:00Z"))
        .await
        .unwrap();
    let err = store
        .begin_run(&named_run(&r1, "other", "2025-03-01T10:00:00Z"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::DuplicateRun { .. }), "{err:?}");
    assert!(
        err.to_string().starts_with(&format!(
            "a run with id {r1} is already in the run store at "
        )),
        "{err}"
    );

    let err = store
        .begin_run(&named_run(&r2, "deploy", "1 March"))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "started_at is not an RFC 3339 timestamp: \"1 March\""
    );
    assert!(matches!(
        store.finish_run(&r1, "failed", 1, "", None, None).await,
        Err(StoreError::InvalidTimestamp {
            field: "finished_at",
            ..
        })
    ));
    assert!(matches!(
        store.prune("30d").await,
        Err(StoreError::InvalidTimestamp {
            field: "finished_before",
            ..
        })
    ));
    assert!(store.get_run(&r2).await.unwrap().is_none());
    assert_eq!(
        store.get_run(&r1).await.unwrap().unwrap().status,
        RUNNING,
        "the refused finish changed nothing"
    );
}

/// `finish_run` records status, exit code, time (in UTC) and error; the rest stays.
pub async fn finishing_records_status_exit_code_time_and_error(store: &dyn RunStore) {
    let r1 = unique("run");
    store
        .begin_run(&named_run(&r1, "deploy", "2025-03-01T12:00:00+02:00"))
        .await
        .unwrap();
    store
        .finish_run(
            &r1,
            "failed",
            1,
            "2025-03-01T10:05:00.25Z",
            Some("step start: HTTP 500"),
            None,
        )
        .await
        .unwrap();
    let run = store.get_run(&r1).await.unwrap().unwrap();
    assert_eq!(run.status, "failed");
    assert_eq!(run.exit_code, Some(1));
    assert_eq!(run.started_at, "2025-03-01T10:00:00.000000Z");
    assert_eq!(
        run.finished_at.as_deref(),
        Some("2025-03-01T10:05:00.250000Z")
    );
    assert_eq!(run.error.as_deref(), Some("step start: HTTP 500"));
    assert_eq!(run.lock_key.as_deref(), Some("deploy/project"));
    assert_eq!((run.host.as_str(), run.pid), ("ops-1", 4242));
    assert_eq!(
        run.inputs,
        json!({"region": "cn-north-4", "count": 3, "tags": ["a", "b"]})
    );
    assert_eq!(run.runbook_path, "runbooks/deploy.yaml");
    assert_eq!(run.fire_key, None);
}

/// Four runs of two runbooks whose names no other check uses, ids sharing a prefix no other
/// run has: `<prefix>-0191a-aaa` (deploy, succeeded), `-0191b-bbb` (backup, failed),
/// `-0191c-ccc` (deploy, running), `-0192d-ddd` (deploy, failed); each finished when it started,
/// each with one event.
struct History {
    prefix: String,
    deploy: String,
    backup: String,
    a: String,
    b: String,
    c: String,
    d: String,
}

async fn history(store: &dyn RunStore, day: &str) -> History {
    let prefix = unique("h");
    let history = History {
        deploy: format!("{prefix}-deploy"),
        backup: format!("{prefix}-backup"),
        a: format!("{prefix}-0191a-aaa"),
        b: format!("{prefix}-0191b-bbb"),
        c: format!("{prefix}-0191c-ccc"),
        d: format!("{prefix}-0192d-ddd"),
        prefix,
    };
    // Start times in mixed offsets: the order below is by time, not by text as given.
    let runs = [
        (&history.a, &history.deploy, "10:00:00Z", Some("succeeded")),
        (
            &history.b,
            &history.backup,
            "12:30:00+02:00",
            Some("failed"),
        ),
        (&history.c, &history.deploy, "10:45:00.5Z", None),
        (&history.d, &history.deploy, "11:00:00Z", Some("failed")),
    ];
    for (id, name, time, status) in runs {
        let started = format!("{day}T{time}");
        let mut run = named_run(id, name, &started);
        run.lock_key = None;
        store.begin_run(&run).await.unwrap();
        store
            .append(id, &new_events(&[json!({"run": id})]), false, None)
            .await
            .unwrap();
        if let Some(status) = status {
            store
                .finish_run(
                    id,
                    status,
                    i32::from(status != "succeeded"),
                    &started,
                    None,
                    None,
                )
                .await
                .unwrap();
        }
    }
    history
}

/// Newest first (by time, whatever the offset given), filtered by runbook and status, and
/// limited.
pub async fn runs_are_listed_newest_first_and_filtered(store: &dyn RunStore) {
    let h = history(store, "2025-03-01").await;
    let ours = [h.a.as_str(), &h.b, &h.c, &h.d];
    let all = store.list_runs(&RunFilter::default()).await.unwrap();
    assert_eq!(only(&all, &ours), [&h.d, &h.c, &h.b, &h.a]);

    let deploys = RunFilter {
        runbook_name: Some(h.deploy.clone()),
        ..RunFilter::default()
    };
    assert_eq!(
        ids(&store.list_runs(&deploys).await.unwrap()),
        [&h.d, &h.c, &h.a]
    );
    let backups = RunFilter {
        runbook_name: Some(h.backup.clone()),
        ..RunFilter::default()
    };
    let listed = store.list_runs(&backups).await.unwrap();
    assert_eq!(ids(&listed), [&h.b]);
    assert_eq!(listed[0].started_at, "2025-03-01T10:30:00.000000Z");
    let failed = RunFilter {
        status: Some("failed".into()),
        ..RunFilter::default()
    };
    assert_eq!(
        only(&store.list_runs(&failed).await.unwrap(), &ours),
        [&h.d, &h.b]
    );
    let failed_deploys = RunFilter {
        status: Some("failed".into()),
        ..deploys.clone()
    };
    assert_eq!(
        ids(&store.list_runs(&failed_deploys).await.unwrap()),
        [&h.d]
    );
    let running_deploys = RunFilter {
        status: Some(RUNNING.into()),
        ..deploys.clone()
    };
    assert_eq!(
        ids(&store.list_runs(&running_deploys).await.unwrap()),
        [&h.c]
    );
    let two = RunFilter {
        limit: Some(2),
        ..deploys
    };
    assert_eq!(ids(&store.list_runs(&two).await.unwrap()), [&h.d, &h.c]);
    let none = RunFilter {
        limit: Some(0),
        ..RunFilter::default()
    };
    assert!(store.list_runs(&none).await.unwrap().is_empty());
    let nobody = RunFilter {
        runbook_name: Some(unique("nobody")),
        ..RunFilter::default()
    };
    assert!(store.list_runs(&nobody).await.unwrap().is_empty());
}

/// A run is found by its whole id or by a prefix only it has; a prefix several have is
/// ambiguous and the error shows some of them, in id order.
pub async fn a_run_is_found_by_its_id_or_a_unique_prefix(store: &dyn RunStore) {
    let h = history(store, "2025-03-01").await;
    let p = &h.prefix;
    assert_eq!(
        store.get_run(&h.b).await.unwrap().unwrap().runbook_name,
        h.backup
    );
    assert_eq!(
        store
            .get_run(&format!("{p}-0192"))
            .await
            .unwrap()
            .unwrap()
            .run_id,
        h.d
    );
    assert!(store.get_run(&format!("{p}-0193")).await.unwrap().is_none());
    assert!(store.get_run("").await.unwrap().is_none());
    let ambiguous = format!("{p}-0191");
    let err = store.get_run(&ambiguous).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::AmbiguousRunId { examples, .. } if examples.len() == 3),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.starts_with(&format!("\"{ambiguous}\" matches several runs in ")),
        "{message}"
    );
    assert!(
        message.ends_with(&format!(
            "({}, {}, {}, …); give more of the id",
            h.a, h.b, h.c
        )),
        "{message}"
    );
}

/// Prune deletes the runs that finished before the cutoff, with their journals; a running
/// run stays however old. (Its runs are from 1990, a time no other check uses, so that it
/// can count what it deletes in a database other checks share.)
pub async fn prune_deletes_finished_runs_before_the_cutoff_with_their_events_never_running_ones(
    store: &dyn RunStore,
) {
    // What an interrupted earlier run of this check left behind.
    store.prune("1991-01-01T00:00:00Z").await.unwrap();
    let h = history(store, "1990-01-01").await;
    let ours = [h.a.as_str(), &h.b, &h.c, &h.d];
    // Before 10:50Z: a (finished 10:00) and b (finished 10:30) go; c started at 10:45 but is
    // running; d finished at 11:00. The cutoff is given in another offset.
    assert_eq!(store.prune("1990-01-01T11:50:00+01:00").await.unwrap(), 2);
    let left = store.list_runs(&RunFilter::default()).await.unwrap();
    assert_eq!(only(&left, &ours), [&h.d, &h.c]);
    assert!(matches!(
        store.events(&h.a).await,
        Err(StoreError::UnknownRun { .. })
    ));
    assert!(store.get_run(&h.b).await.unwrap().is_none());
    assert_eq!(
        store.events(&h.d).await.unwrap(),
        vec![json!({"run": h.d.as_str()})]
    );
    assert_eq!(
        store.events(&h.c).await.unwrap(),
        vec![json!({"run": h.c.as_str()})]
    );

    // Later: everything finished (in 1990) goes, the running run stays.
    assert_eq!(store.prune("1990-12-31T00:00:00Z").await.unwrap(), 1);
    let left = store.list_runs(&RunFilter::default()).await.unwrap();
    assert_eq!(only(&left, &ours), [&h.c]);
    assert_eq!(store.prune("1990-12-31T00:00:00Z").await.unwrap(), 0);
    assert_eq!(store.get_run(&h.c).await.unwrap().unwrap().status, RUNNING);
}

/// `lock_key` with `active_since` finds the runs under the same lock that were unfinished,
/// or ended, at or after a time.
pub async fn a_lock_key_and_an_active_since_time_find_a_runs_unfinished_siblings(
    store: &dyn RunStore,
) {
    let p = unique("s");
    let (p1, p2) = (format!("{p}/deploy/p1"), format!("{p}/deploy/p2"));
    let id = |n: u32| format!("{p}-s{n}");
    // (id, lock key, started, finished): s5 is under another key, and s6 (below) under none.
    let runs = [
        (1, &p1, "2025-03-01T08:00:00Z", Some("2025-03-01T09:00:00Z")),
        // Finished exactly at the cutoff, written in another offset: still active then.
        (
            2,
            &p1,
            "2025-03-01T09:30:00Z",
            Some("2025-03-01T11:00:00+01:00"),
        ),
        (
            3,
            &p1,
            "2025-03-01T09:45:00Z",
            Some("2025-03-01T10:30:00.5Z"),
        ),
        (4, &p1, "2025-03-01T07:00:00Z", None),
        (5, &p2, "2025-03-01T10:15:00Z", None),
    ];
    for (n, key, started, finished) in runs {
        let mut run = named_run(&id(n), "deploy", started);
        run.lock_key = Some(key.to_owned());
        store.begin_run(&run).await.unwrap();
        if let Some(finished) = finished {
            store
                .finish_run(&id(n), "succeeded", 0, finished, None, None)
                .await
                .unwrap();
        }
    }
    let mut unlocked = named_run(&id(6), "deploy", "2025-03-01T10:20:00Z");
    unlocked.lock_key = None;
    store.begin_run(&unlocked).await.unwrap();
    let all: Vec<String> = (1..=6).map(id).collect();
    let ours: Vec<&str> = all.iter().map(String::as_str).collect();

    let same_key = RunFilter {
        lock_key: Some(p1.clone()),
        ..RunFilter::default()
    };
    assert_eq!(
        ids(&store.list_runs(&same_key).await.unwrap()),
        [id(3), id(2), id(1), id(4)]
    );

    // Active at or after 10:00Z: the running ones, and those that finished at 10:00 or later.
    let active = RunFilter {
        active_since: Some("2025-03-01T11:00:00+01:00".into()),
        ..RunFilter::default()
    };
    assert_eq!(
        only(&store.list_runs(&active).await.unwrap(), &ours),
        [id(6), id(5), id(3), id(2), id(4)]
    );
    let siblings = RunFilter {
        active_since: Some("2025-03-01T10:00:00.000001Z".into()),
        ..same_key.clone()
    };
    assert_eq!(
        ids(&store.list_runs(&siblings).await.unwrap()),
        [id(3), id(4)],
        "s2 finished a microsecond before; s1 long before"
    );
    let with_the_rest = RunFilter {
        status: Some(RUNNING.into()),
        limit: Some(5),
        ..siblings
    };
    assert_eq!(
        ids(&store.list_runs(&with_the_rest).await.unwrap()),
        [id(4)]
    );

    let nobody = RunFilter {
        lock_key: Some(format!("{p}/deploy/p3")),
        ..RunFilter::default()
    };
    assert!(store.list_runs(&nobody).await.unwrap().is_empty());
    let bad = RunFilter {
        active_since: Some("an hour ago".into()),
        ..RunFilter::default()
    };
    assert!(matches!(
        store.list_runs(&bad).await,
        Err(StoreError::InvalidTimestamp {
            field: "active_since",
            ..
        })
    ));
}

/// Claiming a running run records the caller's host and pid on it; a finished run or an
/// unknown one (a prefix is not enough) is refused and nothing changes.
pub async fn claiming_a_running_run_makes_it_the_callers_and_a_finished_or_unknown_one_is_refused(
    store: &dyn RunStore,
) {
    let (r1, r2) = (unique("run"), unique("run"));
    store
        .begin_run(&named_run(&r1, "deploy", "2025-03-01T10:00:00Z"))
        .await
        .unwrap();
    store
        .begin_run(&named_run(&r2, "deploy", "2025-03-01T10:01:00Z"))
        .await
        .unwrap();

    store.claim_run(&r1, "ops-2", 777).await.unwrap();
    let run = store.get_run(&r1).await.unwrap().unwrap();
    assert_eq!((run.host.as_str(), run.pid), ("ops-2", 777));
    assert_eq!(run.status, RUNNING);
    assert_eq!(run.finished_at, None);
    // Claiming again (a second resume) moves it again; the other run is untouched.
    store.claim_run(&r1, "ops-3", 888).await.unwrap();
    let run = store.get_run(&r1).await.unwrap().unwrap();
    assert_eq!((run.host.as_str(), run.pid), ("ops-3", 888));
    let other = store.get_run(&r2).await.unwrap().unwrap();
    assert_eq!((other.host.as_str(), other.pid), ("ops-1", 4242));

    store
        .finish_run(&r2, "failed", 1, "2025-03-01T10:02:00Z", Some("boom"), None)
        .await
        .unwrap();
    let err = store.claim_run(&r2, "ops-2", 777).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::RunFinished { run_id, status, .. }
            if run_id == &r2 && status == "failed"),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.starts_with(&format!("run {r2} in the run store at "))
            && message.ends_with(
                " has already finished (failed); a finished run cannot be resumed: start a \
                 new run instead"
            ),
        "{message}"
    );
    let finished = store.get_run(&r2).await.unwrap().unwrap();
    assert_eq!((finished.host.as_str(), finished.pid), ("ops-1", 4242));

    let nope = unique("nope");
    let err = store.claim_run(&nope, "ops-2", 777).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::UnknownRun { run_id, .. } if run_id == &nope),
        "{err:?}"
    );
    // A prefix is not enough: claiming changes a run, so it takes the whole id.
    assert!(matches!(
        store.claim_run(&r1[..r1.len() - 1], "ops-2", 777).await,
        Err(StoreError::UnknownRun { .. })
    ));
}

/// A free lock is taken without asking about anybody; a live holder keeps it (asked once)
/// and is shown as it was recorded; another key is another lock.
pub async fn a_free_lock_is_acquired_and_a_live_holder_keeps_it(store: &dyn RunStore) {
    let (k1, k2) = (unique("deploy/p1"), unique("deploy/p2"));
    let asked = AtomicUsize::new(0);
    let counting_alive = |_: &LockHolder| {
        asked.fetch_add(1, Ordering::SeqCst);
        true
    };

    let first = holder_pid("r1", 100);
    let outcome = store
        .acquire_lock(&k1, &first, LEASE, &counting_alive)
        .await
        .unwrap();
    assert!(
        matches!(
            &outcome,
            LockOutcome::Acquired {
                took_over_from: None,
                lease,
            } if lease.key == k1
        ),
        "{outcome:?}"
    );
    assert_eq!(
        asked.load(Ordering::SeqCst),
        0,
        "a free lock asks about nobody"
    );

    let outcome = store
        .acquire_lock(&k1, &holder_pid("r2", 200), LEASE, &counting_alive)
        .await
        .unwrap();
    let expected = LockHolder {
        since: "2025-03-01T10:00:00.000000Z".to_owned(),
        ..first.clone()
    };
    assert_eq!(outcome, LockOutcome::Held(expected));
    assert_eq!(asked.load(Ordering::SeqCst), 1);

    // Another key is another lock.
    let outcome = store
        .acquire_lock(&k2, &holder_pid("r2", 200), LEASE, &counting_alive)
        .await
        .unwrap();
    assert!(
        matches!(
            outcome,
            LockOutcome::Acquired {
                took_over_from: None,
                ..
            }
        ),
        "{outcome:?}"
    );
}

/// A holder that `is_alive` says is gone is taken over at once (its lease notwithstanding),
/// and the outcome names it; the new holder has a greater token, and the old one can no
/// longer release the lock.
pub async fn a_dead_holder_is_taken_over_and_named(store: &dyn RunStore) {
    let key = unique("deploy");
    let first = acquired(store, &key, &holder_pid("r1", 100), LEASE).await;
    let mut second = holder_pid("r2", 200);
    second.since = "2025-03-01T11:00:00+01:00".to_owned();
    let outcome = store
        .acquire_lock(&key, &second, LEASE, &|h| h.pid != 100)
        .await
        .unwrap();
    let LockOutcome::Acquired {
        lease,
        took_over_from,
    } = outcome
    else {
        panic!("expected a takeover, got {outcome:?}");
    };
    assert_eq!(lease.key, key);
    assert!(lease.token > first.token, "{lease:?} after {first:?}");
    assert_eq!(
        took_over_from,
        Some(Previous {
            holder: LockHolder {
                since: "2025-03-01T10:00:00.000000Z".to_owned(),
                ..holder_pid("r1", 100)
            },
            gone: Gone::ProcessGone,
        })
    );
    // r2 holds it now: a third party finds r2, and r1 can no longer release it.
    let outcome = store
        .acquire_lock(&key, &holder_pid("r3", 300), LEASE, &alive)
        .await
        .unwrap();
    assert_eq!(
        outcome,
        LockOutcome::Held(LockHolder {
            since: "2025-03-01T10:00:00.000000Z".to_owned(),
            ..holder_pid("r2", 200)
        })
    );
    assert!(!store.release_lock(&key, "r1").await.unwrap());
    assert!(store.release_lock(&key, "r2").await.unwrap());
}

/// Only the holder's run releases a lock; the same run asking again gets it again (without
/// `is_alive` being consulted about itself), and a released lock is free.
pub async fn only_the_holder_releases_a_lock_and_the_same_run_may_ask_again(store: &dyn RunStore) {
    let key = unique("deploy");
    let first = acquired(store, &key, &holder_pid("r1", 100), LEASE).await;
    let again = store
        .acquire_lock(&key, &holder_pid("r1", 100), LEASE, &never_alive)
        .await
        .unwrap();
    assert_eq!(
        again,
        LockOutcome::Acquired {
            lease: first,
            took_over_from: None,
        }
    );

    assert!(!store.release_lock(&key, "r2").await.unwrap());
    assert!(matches!(
        store.acquire_lock(&key, &holder_pid("r2", 200), LEASE, &alive).await.unwrap(),
        LockOutcome::Held(h) if h.run_id == "r1"
    ));
    assert!(store.release_lock(&key, "r1").await.unwrap());
    assert!(
        !store.release_lock(&key, "r1").await.unwrap(),
        "already free"
    );
    assert!(matches!(
        store
            .acquire_lock(&key, &holder_pid("r2", 200), LEASE, &alive)
            .await
            .unwrap(),
        LockOutcome::Acquired {
            took_over_from: None,
            ..
        }
    ));
}
