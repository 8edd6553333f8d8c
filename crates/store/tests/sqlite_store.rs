//! The SQLite store against real files in temporary directories.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use runbook_store::{
    LockHolder, LockOutcome, NewRun, RunFilter, RunStore, SqliteOptions, SqliteStore, StoreError,
    DATABASE_FILE_NAME, RUNNING,
};
use serde_json::json;
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
        .append(
            "r1",
            &conformance::new_events(&[json!({"event": "run_started"})]),
            true,
            None,
        )
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

/// What the conformance checks cannot see: how events are stored.
#[tokio::test]
async fn durable_and_plain_appends_share_one_sequence_and_at_is_the_events_ts() {
    let temp = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(temp.path()).await.unwrap();
    store
        .begin_run(&new_run("r1", "deploy", "2025-03-01T10:00:00Z"))
        .await
        .unwrap();
    let stamped = json!({"event": "run_started", "ts": "2025-03-01T11:00:00.1+01:00"});
    store
        .append(
            "r1",
            &conformance::new_events(&[stamped, json!({"event": "a"})]),
            false,
            None,
        )
        .await
        .unwrap();
    store
        .append(
            "r1",
            &conformance::new_events(&[json!({"event": "b"})]),
            true,
            None,
        )
        .await
        .unwrap();
    store
        .append(
            "r1",
            &conformance::new_events(&vec![json!({"event": "c"}); 3]),
            false,
            None,
        )
        .await
        .unwrap();

    let mut conn = raw(temp.path()).await;
    let rows: Vec<(i64, String)> =
        sqlx::query_as("SELECT seq, at FROM events WHERE run_id = 'r1' ORDER BY rowid")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    let seqs: Vec<i64> = rows.iter().map(|(seq, _)| *seq).collect();
    assert_eq!(seqs, vec![1, 2, 3, 4, 5, 6]);
    assert_eq!(
        rows[0].1, "2025-03-01T10:00:00.100000Z",
        "`at` is the event's ts"
    );
    let second_at = &rows[1].1;
    assert!(
        second_at.starts_with("20") && second_at.ends_with('Z') && second_at.len() == 27,
        "{second_at}: the append's time"
    );
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
        .append(
            "r1",
            &conformance::new_events(&[json!({"event": "intent"})]),
            true,
            None,
        )
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

/// After a prune, no event is left without its run.
#[tokio::test]
async fn prune_leaves_no_event_without_its_run() {
    let temp = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(temp.path()).await.unwrap();
    conformance::prune_deletes_finished_runs_before_the_cutoff_with_their_events_never_running_ones(&store).await;
    let mut conn = raw(temp.path()).await;
    let orphans: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM events WHERE run_id NOT IN (SELECT run_id FROM runs)",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(orphans, 0);
    let events: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(events, 1, "the running run's one event");
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

conformance::every_check!(conformance);
