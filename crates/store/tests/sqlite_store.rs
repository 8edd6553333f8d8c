//! The SQLite store against real files in temporary directories.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use runbook_store::{
    Gone, Lease, LockHolder, LockOutcome, NewRun, Previous, RunFilter, RunStore, SqliteOptions,
    SqliteStore, StoreError, DATABASE_FILE_NAME, RUNNING,
};
use serde_json::{json, Value};
use sqlx::{Connection, SqliteConnection};

fn new_run(run_id: &str, runbook_name: &str, started_at: &str) -> NewRun {
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

/// Long enough that no lease in these tests runs out unless a test waits for it.
const LEASE: Duration = Duration::from_secs(60);

fn holder(run_id: &str, pid: u32) -> LockHolder {
    LockHolder {
        run_id: run_id.to_owned(),
        host: "ops-1".to_owned(),
        pid,
        since: "2025-03-01T10:00:00Z".to_owned(),
    }
}

/// A connection of its own to the store's file, as another process would have.
async fn raw(dir: &Path) -> SqliteConnection {
    let url = format!("sqlite://{}", dir.join(DATABASE_FILE_NAME).display());
    SqliteConnection::connect(&url).await.unwrap()
}

async fn schema_versions(dir: &Path) -> Vec<i64> {
    let mut conn = raw(dir).await;
    sqlx::query_scalar("SELECT version FROM schema_version ORDER BY version")
        .fetch_all(&mut conn)
        .await
        .unwrap()
}

fn always_alive(_: &LockHolder) -> bool {
    true
}

fn never_alive(_: &LockHolder) -> bool {
    false
}

#[tokio::test]
async fn open_creates_a_private_directory_and_file_and_reopening_keeps_the_runs() {
    use std::os::unix::fs::PermissionsExt;
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("state/runbook");
    let store = SqliteStore::open(&dir).await.unwrap();
    assert_eq!(store.path(), dir.join("runs.sqlite3"));
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(store.path()), 0o600);

    store
        .begin_run(&new_run("r1", "deploy", "2025-03-01T10:00:00Z"))
        .await
        .unwrap();
    store
        .append("r1", &[json!({"event": "run_started"})], true, None)
        .await
        .unwrap();
    store.close().await;
    drop(store);

    let reopened = SqliteStore::open(&dir).await.unwrap();
    let run = reopened.get_run("r1").await.unwrap().unwrap();
    assert_eq!(run.status, RUNNING);
    assert_eq!(
        run.inputs,
        json!({"region": "cn-north-4", "count": 3, "tags": ["a", "b"]})
    );
    assert_eq!(
        reopened.events("r1").await.unwrap(),
        vec![json!({"event": "run_started"})]
    );
    // Opening a store that is already open in this process works too.
    let second = SqliteStore::open(&dir).await.unwrap();
    assert_eq!(
        second.list_runs(&RunFilter::default()).await.unwrap().len(),
        1
    );
}

#[tokio::test]
async fn migrations_run_once_however_often_the_store_is_opened() {
    let temp = tempfile::tempdir().unwrap();
    for _ in 0..3 {
        SqliteStore::open(temp.path()).await.unwrap().close().await;
    }
    assert_eq!(schema_versions(temp.path()).await, vec![1, 2]);
    let mut conn = raw(temp.path()).await;
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        mode, "wal",
        "WAL is a setting of the file, kept across opens"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_tasks_opening_an_empty_store_at_once_all_succeed() {
    for _round in 0..3 {
        let temp = tempfile::tempdir().unwrap();
        let dir = Arc::new(temp.path().join("new"));
        let barrier = Arc::new(tokio::sync::Barrier::new(8));
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let (dir, barrier) = (dir.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    let store = SqliteStore::open(&dir).await?;
                    store
                        .begin_run(&new_run(&format!("r{i}"), "deploy", "2025-03-01T10:00:00Z"))
                        .await?;
                    Ok::<_, StoreError>(())
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert_eq!(schema_versions(&dir).await, vec![1, 2]);
        let store = SqliteStore::open(&dir).await.unwrap();
        assert_eq!(
            store.list_runs(&RunFilter::default()).await.unwrap().len(),
            8
        );
    }
}

#[tokio::test]
async fn a_store_from_a_newer_version_is_refused_with_a_message_to_upgrade() {
    let temp = tempfile::tempdir().unwrap();
    SqliteStore::open(temp.path()).await.unwrap().close().await;
    let mut conn = raw(temp.path()).await;
    sqlx::query("INSERT INTO schema_version (version, applied_at) VALUES (7, 'later')")
        .execute(&mut conn)
        .await
        .unwrap();
    let err = SqliteStore::open(temp.path()).await.unwrap_err();
    assert!(matches!(
        err,
        StoreError::NewerSchema {
            found: 7,
            supported: 2,
            ..
        }
    ));
    let message = err.to_string();
    assert!(message.contains(&temp.path().join("runs.sqlite3").display().to_string()));
    assert!(message.contains("upgrade runbook"), "{message}");
}

#[tokio::test]
async fn a_state_dir_that_cannot_be_created_is_named_with_the_remedy() {
    let temp = tempfile::tempdir().unwrap();
    let blocker = temp.path().join("not-a-dir");
    std::fs::write(&blocker, "a file where the directory should be").unwrap();
    let dir = blocker.join("runbook");
    let err = SqliteStore::open(&dir).await.unwrap_err();
    assert!(matches!(err, StoreError::CreateDir { .. }));
    let message = err.to_string();
    assert!(
        message.starts_with(&format!(
            "cannot create the state directory {}: ",
            dir.display()
        )),
        "{message}"
    );
    assert!(
        message.contains("--state-dir or RUNBOOK_STATE_DIR"),
        "{message}"
    );
}

#[tokio::test]
async fn a_store_locked_by_another_process_past_the_busy_timeout_says_so() {
    let temp = tempfile::tempdir().unwrap();
    let options = SqliteOptions {
        busy_timeout: Duration::from_millis(200),
    };
    let store = SqliteStore::open_with(temp.path(), &options).await.unwrap();
    let mut other = raw(temp.path()).await;
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .unwrap();

    let started = std::time::Instant::now();
    let err = store
        .begin_run(&new_run("r1", "deploy", "2025-03-01T10:00:00Z"))
        .await
        .unwrap_err();
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "waited for the lock first"
    );
    assert!(matches!(err, StoreError::Busy { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "the run store at {} is locked by another process for more than 0.2 s (while \
             recording a new run); another runbook process may be stuck, or the state \
             directory is on a network file system, which SQLite does not support: use a \
             local directory",
            store.path().display()
        )
    );

    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
    store
        .begin_run(&new_run("r1", "deploy", "2025-03-01T10:00:00Z"))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_writer_in_another_process_is_waited_for_within_the_busy_timeout() {
    let temp = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(temp.path()).await.unwrap();
    let mut other = raw(temp.path()).await;
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .unwrap();
    let release = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        sqlx::query("COMMIT").execute(&mut other).await.unwrap();
    });
    let outcome = store
        .acquire_lock("deploy", &holder("r1", 1), LEASE, &always_alive)
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
    release.await.unwrap();
}

#[tokio::test]
async fn a_free_lock_is_acquired_and_a_live_holder_keeps_it() {
    let temp = tempfile::tempdir().unwrap();
    let store: Arc<dyn RunStore> = Arc::new(SqliteStore::open(temp.path()).await.unwrap());
    let asked = AtomicUsize::new(0);
    let counting_alive = |_: &LockHolder| {
        asked.fetch_add(1, Ordering::SeqCst);
        true
    };

    let first = holder("r1", 100);
    let outcome = store
        .acquire_lock("deploy/p1", &first, LEASE, &counting_alive)
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
    assert_eq!(
        asked.load(Ordering::SeqCst),
        0,
        "a free lock asks about nobody"
    );

    let outcome = store
        .acquire_lock("deploy/p1", &holder("r2", 200), LEASE, &counting_alive)
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
        .acquire_lock("deploy/p2", &holder("r2", 200), LEASE, &counting_alive)
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

#[tokio::test]
async fn a_dead_holder_is_taken_over_and_named() {
    let temp = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(temp.path()).await.unwrap();
    store
        .acquire_lock("deploy", &holder("r1", 100), LEASE, &always_alive)
        .await
        .unwrap();
    let mut second = holder("r2", 200);
    second.since = "2025-03-01T11:00:00+01:00".to_owned();
    let outcome = store
        .acquire_lock("deploy", &second, LEASE, &|h| h.pid != 100)
        .await
        .unwrap();
    assert_eq!(
        outcome,
        LockOutcome::Acquired {
            lease: Lease {
                key: "deploy".to_owned(),
                token: 2,
            },
            took_over_from: Some(Previous {
                holder: LockHolder {
                    since: "2025-03-01T10:00:00.000000Z".to_owned(),
                    ..holder("r1", 100)
                },
                gone: Gone::ProcessGone,
            })
        }
    );
    // r2 holds it now: a third party finds r2, and r1 can no longer release it.
    let outcome = store
        .acquire_lock("deploy", &holder("r3", 300), LEASE, &always_alive)
        .await
        .unwrap();
    assert_eq!(
        outcome,
        LockOutcome::Held(LockHolder {
            since: "2025-03-01T10:00:00.000000Z".to_owned(),
            ..holder("r2", 200)
        })
    );
    assert!(!store.release_lock("deploy", "r1").await.unwrap());
    assert!(store.release_lock("deploy", "r2").await.unwrap());
}

#[tokio::test]
async fn only_the_holder_releases_a_lock_and_the_same_run_may_ask_again() {
    let temp = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(temp.path()).await.unwrap();
    store
        .acquire_lock("deploy", &holder("r1", 100), LEASE, &always_alive)
        .await
        .unwrap();
    let again = store
        .acquire_lock("deploy", &holder("r1", 100), LEASE, &never_alive)
        .await
        .unwrap();
    assert!(
        matches!(
            again,
            LockOutcome::Acquired {
                took_over_from: None,
                ..
            }
        ),
        "{again:?}"
    );

    assert!(!store.release_lock("deploy", "r2").await.unwrap());
    assert!(matches!(
        store.acquire_lock("deploy", &holder("r2", 200), LEASE, &always_alive).await.unwrap(),
        LockOutcome::Held(h) if h.run_id == "r1"
    ));
    assert!(store.release_lock("deploy", "r1").await.unwrap());
    assert!(
        !store.release_lock("deploy", "r1").await.unwrap(),
        "already free"
    );
    assert!(matches!(
        store
            .acquire_lock("deploy", &holder("r2", 200), LEASE, &always_alive)
            .await
            .unwrap(),
        LockOutcome::Acquired {
            took_over_from: None,
            ..
        }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_many_stores_racing_for_one_key_exactly_one_wins() {
    const RACERS: usize = 8;
    let temp = tempfile::tempdir().unwrap();
    // Separate stores: separate pools and connections to one file, as separate processes have.
    let mut stores = Vec::new();
    for _ in 0..RACERS {
        stores.push(Arc::new(SqliteStore::open(temp.path()).await.unwrap()));
    }
    for round in 0..10 {
        let key = format!("deploy/{round}");
        let barrier = Arc::new(tokio::sync::Barrier::new(RACERS));
        let tasks: Vec<_> = stores
            .iter()
            .enumerate()
            .map(|(i, store)| {
                let (store, barrier, key) = (store.clone(), barrier.clone(), key.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    let me = holder(&format!("r{round}-{i}"), 1000 + i as u32);
                    store.acquire_lock(&key, &me, LEASE, &always_alive).await
                })
            })
            .collect();
        let mut winners = Vec::new();
        let mut holders_seen = Vec::new();
        for task in tasks {
            match task.await.unwrap().unwrap() {
                LockOutcome::Acquired { took_over_from, .. } => {
                    assert_eq!(took_over_from, None);
                    winners.push(());
                }
                LockOutcome::Held(h) => holders_seen.push(h.run_id),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}");
        holders_seen.dedup();
        assert_eq!(holders_seen.len(), 1, "every loser saw the one winner");
    }
}

#[tokio::test]
async fn events_are_appended_in_order_across_batches_and_round_trip() {
    let temp = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(temp.path()).await.unwrap();
    store
        .begin_run(&new_run("r1", "deploy", "2025-03-01T10:00:00Z"))
        .await
        .unwrap();
    store
        .begin_run(&new_run("r2", "deploy", "2025-03-01T10:00:00Z"))
        .await
        .unwrap();
    let batch1 = vec![
        json!({"version": 1, "event": "run_started", "ts": "2025-03-01T10:00:00.1Z"}),
        json!({"version": 1, "event": "step_started", "step": "start", "text": "ünïcode ✓ \"quoted\"\n"}),
    ];
    let batch2 =
        vec![json!({"version": 1, "event": "intent", "params": {"n": 1.5, "list": [null, true]}})];
    let batch3 = vec![json!({"event": "poll", "status": "executing"}); 3];
    store.append("r1", &batch1, false, None).await.unwrap();
    store
        .append("r2", &[json!({"other": "run"})], false, None)
        .await
        .unwrap();
    store.append("r1", &batch2, true, None).await.unwrap();
    store.append("r1", &[], true, None).await.unwrap();
    store.append("r1", &batch3, false, None).await.unwrap();

    let expected: Vec<Value> = batch1.into_iter().chain(batch2).chain(batch3).collect();
    assert_eq!(store.events("r1").await.unwrap(), expected);
    assert_eq!(
        store.events("r2").await.unwrap(),
        vec![json!({"other": "run"})]
    );

    let mut conn = raw(temp.path()).await;
    let seqs: Vec<i64> =
        sqlx::query_scalar("SELECT seq FROM events WHERE run_id = 'r1' ORDER BY rowid")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    assert_eq!(
        seqs,
        vec![1, 2, 3, 4, 5, 6],
        "durable and plain appends share one sequence"
    );
    let first_at: String =
        sqlx::query_scalar("SELECT at FROM events WHERE run_id = 'r1' AND seq = 1")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(
        first_at, "2025-03-01T10:00:00.100000Z",
        "`at` is the event's ts"
    );
    let second_at: String =
        sqlx::query_scalar("SELECT at FROM events WHERE run_id = 'r1' AND seq = 2")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert!(
        second_at.starts_with("20") && second_at.ends_with('Z'),
        "{second_at}: the append's time"
    );
}

#[tokio::test]
async fn appending_to_or_reading_an_unknown_run_fails_by_name() {
    let temp = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(temp.path()).await.unwrap();
    for durable in [false, true] {
        let err = store
            .append("nope", &[json!({})], durable, None)
            .await
            .unwrap_err();
        assert!(matches!(&err, StoreError::UnknownRun { run_id, .. } if run_id == "nope"));
        assert!(
            err.to_string()
                .starts_with("no run nope in the run store at "),
            "{err}"
        );
    }
    assert!(matches!(
        store.events("nope").await,
        Err(StoreError::UnknownRun { .. })
    ));
    assert!(matches!(
        store
            .finish_run("nope", "succeeded", 0, "2025-03-01T10:00:00Z", None, None)
            .await,
        Err(StoreError::UnknownRun { .. })
    ));
    store
        .begin_run(&new_run("r1", "deploy", "2025-03-01T10:00:00Z"))
        .await
        .unwrap();
    assert_eq!(store.events("r1").await.unwrap(), Vec::<Value>::new());
}

#[tokio::test]
async fn the_journal_refuses_changes_and_deletes_while_its_run_is_running() {
    let temp = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(temp.path()).await.unwrap();
    store
        .begin_run(&new_run("r1", "deploy", "2025-03-01T10:00:00Z"))
        .await
        .unwrap();
    store
        .append("r1", &[json!({"event": "intent"})], true, None)
        .await
        .unwrap();
    let mut conn = raw(temp.path()).await;
    let update = sqlx::query("UPDATE events SET event = '{}' WHERE run_id = 'r1'")
        .execute(&mut conn)
        .await
        .unwrap_err();
    assert!(update.to_string().contains("append-only"), "{update}");
    let delete = sqlx::query("DELETE FROM events WHERE run_id = 'r1'")
        .execute(&mut conn)
        .await
        .unwrap_err();
    assert!(delete.to_string().contains("running run"), "{delete}");
    assert_eq!(store.events("r1").await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_run_id_is_recorded_once_and_timestamps_must_be_rfc_3339() {
    let temp = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(temp.path()).await.unwrap();
    store
        .begin_run(&new_run("r1", "deploy", "2025-03-01T10:00:00Z"))
        .await
        .unwrap();
    let err = store
        .begin_run(&new_run("r1", "other", "2025-03-01T10:00:00Z"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::DuplicateRun { .. }), "{err:?}");
    assert!(err
        .to_string()
        .starts_with("a run with id r1 is already in the run store at "));

    let err = store
        .begin_run(&new_run("r2", "deploy", "1 March"))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "started_at is not an RFC 3339 timestamp: \"1 March\""
    );
    assert!(matches!(
        store.finish_run("r1", "failed", 1, "", None, None).await,
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
    assert!(store.get_run("r2").await.unwrap().is_none());
}

#[tokio::test]
async fn finishing_records_status_exit_code_time_and_error() {
    let temp = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(temp.path()).await.unwrap();
    store
        .begin_run(&new_run("r1", "deploy", "2025-03-01T12:00:00+02:00"))
        .await
        .unwrap();
    store
        .finish_run(
            "r1",
            "failed",
            1,
            "2025-03-01T10:05:00.25Z",
            Some("step start: HTTP 500"),
            None,
        )
        .await
        .unwrap();
    let run = store.get_run("r1").await.unwrap().unwrap();
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
}

async fn store_with_history(dir: &Path) -> SqliteStore {
    let store = SqliteStore::open(dir).await.unwrap();
    // Start times in mixed offsets: the order below is by time, not by text as given.
    let runs = [
        (
            "0191a-aaa",
            "deploy",
            "2025-03-01T10:00:00Z",
            Some("succeeded"),
        ),
        (
            "0191b-bbb",
            "backup",
            "2025-03-01T12:30:00+02:00",
            Some("failed"),
        ),
        ("0191c-ccc", "deploy", "2025-03-01T10:45:00.5Z", None),
        (
            "0192d-ddd",
            "deploy",
            "2025-03-01T11:00:00Z",
            Some("failed"),
        ),
    ];
    for (id, name, started, status) in runs {
        let mut run = new_run(id, name, started);
        run.lock_key = None;
        store.begin_run(&run).await.unwrap();
        store
            .append(id, &[json!({"run": id})], false, None)
            .await
            .unwrap();
        if let Some(status) = status {
            store
                .finish_run(
                    id,
                    status,
                    i32::from(status != "succeeded"),
                    started,
                    None,
                    None,
                )
                .await
                .unwrap();
        }
    }
    store
}

fn ids(runs: &[runbook_store::RunRecord]) -> Vec<&str> {
    runs.iter().map(|run| run.run_id.as_str()).collect()
}

#[tokio::test]
async fn runs_are_listed_newest_first_and_filtered() {
    let temp = tempfile::tempdir().unwrap();
    let store = store_with_history(temp.path()).await;
    let all = store.list_runs(&RunFilter::default()).await.unwrap();
    assert_eq!(
        ids(&all),
        ["0192d-ddd", "0191c-ccc", "0191b-bbb", "0191a-aaa"]
    );

    let deploys = RunFilter {
        runbook_name: Some("deploy".into()),
        ..RunFilter::default()
    };
    assert_eq!(
        ids(&store.list_runs(&deploys).await.unwrap()),
        ["0192d-ddd", "0191c-ccc", "0191a-aaa"]
    );
    let failed = RunFilter {
        status: Some("failed".into()),
        ..RunFilter::default()
    };
    assert_eq!(
        ids(&store.list_runs(&failed).await.unwrap()),
        ["0192d-ddd", "0191b-bbb"]
    );
    let running_deploys = RunFilter {
        status: Some(RUNNING.into()),
        ..deploys.clone()
    };
    assert_eq!(
        ids(&store.list_runs(&running_deploys).await.unwrap()),
        ["0191c-ccc"]
    );
    let two = RunFilter {
        limit: Some(2),
        ..deploys
    };
    assert_eq!(
        ids(&store.list_runs(&two).await.unwrap()),
        ["0192d-ddd", "0191c-ccc"]
    );
    let none = RunFilter {
        limit: Some(0),
        ..RunFilter::default()
    };
    assert!(store.list_runs(&none).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_run_is_found_by_its_id_or_a_unique_prefix() {
    let temp = tempfile::tempdir().unwrap();
    let store = store_with_history(temp.path()).await;
    assert_eq!(
        store
            .get_run("0191b-bbb")
            .await
            .unwrap()
            .unwrap()
            .runbook_name,
        "backup"
    );
    assert_eq!(
        store.get_run("0192").await.unwrap().unwrap().run_id,
        "0192d-ddd"
    );
    assert!(store.get_run("0193").await.unwrap().is_none());
    assert!(store.get_run("").await.unwrap().is_none());
    let err = store.get_run("0191").await.unwrap_err();
    assert!(
        matches!(&err, StoreError::AmbiguousRunId { examples, .. } if examples.len() == 3),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("\"0191\" matches several runs in "),
        "{err}"
    );
    assert!(err
        .to_string()
        .ends_with("(0191a-aaa, 0191b-bbb, 0191c-ccc, …); give more of the id"));
}

#[tokio::test]
async fn prune_deletes_finished_runs_before_the_cutoff_with_their_events_never_running_ones() {
    let temp = tempfile::tempdir().unwrap();
    let store = store_with_history(temp.path()).await;
    // Before 10:50Z: a (finished 10:00) and b (finished 10:30) go; c started at 10:45 but is
    // running; d finished at 11:00.
    assert_eq!(store.prune("2025-03-01T11:50:00+01:00").await.unwrap(), 2);
    let left = store.list_runs(&RunFilter::default()).await.unwrap();
    assert_eq!(ids(&left), ["0192d-ddd", "0191c-ccc"]);
    assert!(matches!(
        store.events("0191a-aaa").await,
        Err(StoreError::UnknownRun { .. })
    ));
    assert_eq!(
        store.events("0192d-ddd").await.unwrap(),
        vec![json!({"run": "0192d-ddd"})]
    );

    let mut conn = raw(temp.path()).await;
    let orphans: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM events WHERE run_id NOT IN (SELECT run_id FROM runs)",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(orphans, 0);

    // Far in the future: everything finished goes, the running run stays.
    assert_eq!(store.prune("2999-01-01T00:00:00Z").await.unwrap(), 1);
    assert_eq!(
        ids(&store.list_runs(&RunFilter::default()).await.unwrap()),
        ["0191c-ccc"]
    );
    assert_eq!(store.prune("2999-01-01T00:00:00Z").await.unwrap(), 0);
}

#[tokio::test]
async fn a_lock_key_and_an_active_since_time_find_a_runs_unfinished_siblings() {
    let temp = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(temp.path()).await.unwrap();
    // (id, lock key, started, finished): s5 is under another key, and s6 (below) under none.
    let runs = [
        (
            "s1",
            "deploy/p1",
            "2025-03-01T08:00:00Z",
            Some("2025-03-01T09:00:00Z"),
        ),
        // Finished exactly at the cutoff, written in another offset: still active then.
        (
            "s2",
            "deploy/p1",
            "2025-03-01T09:30:00Z",
            Some("2025-03-01T11:00:00+01:00"),
        ),
        (
            "s3",
            "deploy/p1",
            "2025-03-01T09:45:00Z",
            Some("2025-03-01T10:30:00.5Z"),
        ),
        ("s4", "deploy/p1", "2025-03-01T07:00:00Z", None),
        ("s5", "deploy/p2", "2025-03-01T10:15:00Z", None),
    ];
    for (id, key, started, finished) in runs {
        let mut run = new_run(id, "deploy", started);
        run.lock_key = Some(key.to_owned());
        store.begin_run(&run).await.unwrap();
        if let Some(finished) = finished {
            store
                .finish_run(id, "succeeded", 0, finished, None, None)
                .await
                .unwrap();
        }
    }
    let mut unlocked = new_run("s6", "deploy", "2025-03-01T10:20:00Z");
    unlocked.lock_key = None;
    store.begin_run(&unlocked).await.unwrap();

    let same_key = RunFilter {
        lock_key: Some("deploy/p1".into()),
        ..RunFilter::default()
    };
    assert_eq!(
        ids(&store.list_runs(&same_key).await.unwrap()),
        ["s3", "s2", "s1", "s4"]
    );

    // Active at or after 10:00Z: the running ones, and those that finished at 10:00 or later.
    let active = RunFilter {
        active_since: Some("2025-03-01T11:00:00+01:00".into()),
        ..RunFilter::default()
    };
    assert_eq!(
        ids(&store.list_runs(&active).await.unwrap()),
        ["s6", "s5", "s3", "s2", "s4"]
    );
    let siblings = RunFilter {
        active_since: Some("2025-03-01T10:00:00.000001Z".into()),
        ..same_key.clone()
    };
    assert_eq!(
        ids(&store.list_runs(&siblings).await.unwrap()),
        ["s3", "s4"],
        "s2 finished a microsecond before; s1 long before"
    );
    let with_the_rest = RunFilter {
        status: Some(RUNNING.into()),
        limit: Some(5),
        ..siblings
    };
    assert_eq!(ids(&store.list_runs(&with_the_rest).await.unwrap()), ["s4"]);

    let nobody = RunFilter {
        lock_key: Some("deploy/p3".into()),
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

#[tokio::test]
async fn claiming_a_running_run_makes_it_the_callers_and_a_finished_or_unknown_one_is_refused() {
    let temp = tempfile::tempdir().unwrap();
    let store: Arc<dyn RunStore> = Arc::new(SqliteStore::open(temp.path()).await.unwrap());
    store
        .begin_run(&new_run("r1", "deploy", "2025-03-01T10:00:00Z"))
        .await
        .unwrap();
    store
        .begin_run(&new_run("r2", "deploy", "2025-03-01T10:01:00Z"))
        .await
        .unwrap();

    store.claim_run("r1", "ops-2", 777).await.unwrap();
    let run = store.get_run("r1").await.unwrap().unwrap();
    assert_eq!((run.host.as_str(), run.pid), ("ops-2", 777));
    assert_eq!(run.status, RUNNING);
    assert_eq!(run.finished_at, None);
    // Claiming again (a second resume) moves it again; the other run is untouched.
    store.claim_run("r1", "ops-3", 888).await.unwrap();
    let run = store.get_run("r1").await.unwrap().unwrap();
    assert_eq!((run.host.as_str(), run.pid), ("ops-3", 888));
    let other = store.get_run("r2").await.unwrap().unwrap();
    assert_eq!((other.host.as_str(), other.pid), ("ops-1", 4242));

    store
        .finish_run(
            "r2",
            "failed",
            1,
            "2025-03-01T10:02:00Z",
            Some("boom"),
            None,
        )
        .await
        .unwrap();
    let err = store.claim_run("r2", "ops-2", 777).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::RunFinished { run_id, status, .. }
            if run_id == "r2" && status == "failed"),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.starts_with("run r2 in the run store at ")
            && message.ends_with(
                " has already finished (failed); a finished run cannot be resumed: start a \
                 new run instead"
            ),
        "{message}"
    );
    let finished = store.get_run("r2").await.unwrap().unwrap();
    assert_eq!((finished.host.as_str(), finished.pid), ("ops-1", 4242));

    let err = store.claim_run("nope", "ops-2", 777).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::UnknownRun { run_id, .. } if run_id == "nope"),
        "{err:?}"
    );
    // A prefix is not enough: claiming changes a run, so it takes the whole id.
    assert!(matches!(
        store.claim_run("r", "ops-2", 777).await,
        Err(StoreError::UnknownRun { .. })
    ));
}

mod conformance;

/// Each check of `conformance` on a store in a fresh directory.
macro_rules! conformance {
    ($($check:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $check() {
            let temp = tempfile::tempdir().unwrap();
            let store = SqliteStore::open(temp.path()).await.unwrap();
            conformance::$check(&store).await;
        }
    )*};
}

conformance!(
    a_lease_that_ran_out_is_taken_over,
    renewing_extends_a_lease_and_a_lapsed_one_stays_lapsed,
    a_newer_holder_fences_off_the_old_ones_writes,
    an_intent_needs_a_lease_that_outlasts_its_request,
    fencing_tokens_only_grow,
    one_run_per_fire,
);
