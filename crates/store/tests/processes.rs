//! Several OS processes on one new store: this test binary runs itself as the children.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use runbook_store::{LockHolder, LockOutcome, RunStore, SqliteStore};

/// Set in a child: the state directory to open. Unset, the child test does nothing.
const CHILD_DIR: &str = "RUNBOOK_STORE_TEST_CHILD_DIR";
/// Set in a child: the file whose appearance starts all children at once.
const CHILD_GO: &str = "RUNBOOK_STORE_TEST_CHILD_GO";
const CHILD_TEST: &str = "child_opens_the_store_and_races_for_the_lock";

/// The child's part (a no-op in a normal test run): wait for the start signal, open the
/// store, which may be new, and race for the lock; print the outcome.
#[test]
fn child_opens_the_store_and_races_for_the_lock() {
    let (Some(dir), Some(go)) = (std::env::var_os(CHILD_DIR), std::env::var_os(CHILD_GO)) else {
        return;
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !Path::new(&go).exists() {
        assert!(Instant::now() < deadline, "no start signal");
        std::thread::sleep(Duration::from_millis(1));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let outcome = runtime.block_on(async {
        let store = SqliteStore::open(&PathBuf::from(dir)).await.unwrap();
        let pid = std::process::id();
        let me = LockHolder {
            run_id: format!("run-{pid}"),
            host: runbook_store::host_name(),
            pid,
            since: "2025-03-01T10:00:00Z".to_owned(),
        };
        // Every holder counts as alive, so the winner's exit cannot let a late loser in.
        store
            .acquire_lock(
                "deploy/project",
                &me,
                std::time::Duration::from_secs(30),
                &|_| true,
            )
            .await
            .unwrap()
    });
    match outcome {
        LockOutcome::Acquired { .. } => println!("OUTCOME acquired"),
        LockOutcome::Held(holder) => println!("OUTCOME held-by {}", holder.run_id),
    }
}

#[tokio::test]
async fn processes_opening_a_new_store_at_once_all_succeed_and_exactly_one_takes_the_lock() {
    const PROCESSES: usize = 6;
    let exe = std::env::current_exe().unwrap();
    for round in 0..3 {
        let temp = tempfile::tempdir().unwrap();
        // Not created yet: the children race to create the directory, the file, WAL and schema.
        let dir = temp.path().join("state");
        let go = temp.path().join("go");
        let children: Vec<_> = (0..PROCESSES)
            .map(|_| {
                Command::new(&exe)
                    .args(["--exact", CHILD_TEST, "--nocapture", "--test-threads=1"])
                    .env(CHILD_DIR, &dir)
                    .env(CHILD_GO, &go)
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        // Let every child reach its wait loop, then start them together.
        tokio::time::sleep(Duration::from_millis(300)).await;
        std::fs::write(&go, "").unwrap();

        let mut acquired = Vec::new();
        let mut held_by = Vec::new();
        for child in children {
            let pid = child.id();
            let output = child.wait_with_output().unwrap();
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert!(
                output.status.success(),
                "round {round}, child {pid}:\n{stdout}\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
            let outcome = stdout
                .lines()
                .find_map(|line| line.split_once("OUTCOME ").map(|(_, outcome)| outcome))
                .unwrap_or_else(|| panic!("child {pid} printed no outcome:\n{stdout}"))
                .to_owned();
            match outcome.strip_prefix("held-by ") {
                Some(holder) => held_by.push(holder.to_owned()),
                None => acquired.push(format!("run-{pid}")),
            }
        }
        assert_eq!(acquired.len(), 1, "round {round}: {acquired:?} {held_by:?}");
        assert!(
            held_by.iter().all(|holder| *holder == acquired[0]),
            "round {round}: every loser names the winner: {acquired:?} {held_by:?}"
        );

        let store = SqliteStore::open(&dir).await.unwrap();
        let url = format!("sqlite://{}", store.path().display());
        let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url)
            .await
            .unwrap();
        let versions: Vec<i64> = sqlx::query_scalar("SELECT version FROM schema_version")
            .fetch_all(&mut conn)
            .await
            .unwrap();
        assert_eq!(
            versions,
            vec![1, 2],
            "round {round}: each migration applied exactly once"
        );
        assert!(store
            .release_lock("deploy/project", &acquired[0])
            .await
            .unwrap());
    }
}
