//! The PostgreSQL store against a real server, named by `RUNBOOK_TEST_POSTGRES` (a throw-away
//! one: `bash scripts/test.sh` starts one and sets it). Without it, each test that needs a
//! server says it was skipped and passes; the tests of unreachable servers and malformed URLs
//! run anyway.
//!
//! The tests share the server's database with each other and with earlier test runs: every
//! test makes its own ids, keys and runbook names. Those that need a new database make one
//! with a unique name and drop it at the end.

#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use runbook_store::{
    Fire, LockHolder, LockOutcome, NewRun, PgOptions, PgStore, RunStore, StoreError,
    DEFAULT_IDLE_IN_TRANSACTION, DEFAULT_LOCK_TIMEOUT, RUNNING,
};
use serde_json::json;
use sqlx::{Connection, PgConnection};

const URL_ENV: &str = "RUNBOOK_TEST_POSTGRES";

/// The test server's URL, or `None` after saying the test is skipped.
fn server() -> Option<String> {
    match std::env::var(URL_ENV) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            println!(
                "skipped: set {URL_ENV} to a throw-away PostgreSQL server (bash scripts/test.sh \
                 starts one)"
            );
            None
        }
    }
}

async fn store() -> Option<PgStore> {
    let url = server()?;
    Some(PgStore::connect(&url).await.unwrap())
}

/// A connection of its own, as another program (psql) would have.
async fn raw(url: &str) -> PgConnection {
    PgConnection::connect(url).await.unwrap()
}

fn with_database(url: &str, database: &str) -> String {
    let mut parsed = url::Url::parse(url).unwrap();
    parsed.set_path(&format!("/{database}"));
    let kept: Vec<(String, String)> = parsed
        .query_pairs()
        .filter(|(key, _)| key != "dbname")
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    parsed.query_pairs_mut().clear().extend_pairs(kept);
    parsed.to_string()
}

fn with_password(url: &str, password: &str) -> String {
    let mut parsed = url::Url::parse(url).unwrap();
    parsed.set_password(Some(password)).unwrap();
    parsed.to_string()
}

/// Where the URL's server is, as messages name it: the socket directory, or the host.
fn server_place(url: &str) -> String {
    let parsed = url::Url::parse(url).unwrap();
    parsed
        .query_pairs()
        .find(|(key, _)| key == "host")
        .map(|(_, value)| value.into_owned())
        .or_else(|| parsed.host_str().map(str::to_owned))
        .unwrap()
}

/// Runs `body` with the URL of a new, empty database, and drops the database afterwards
/// (also when `body` panics).
async fn with_fresh_database<F, Fut>(url: &str, body: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let name = conformance::unique("runbook_fresh")
        .to_ascii_lowercase()
        .replace('-', "_");
    let mut admin = raw(url).await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .unwrap();
    let outcome = tokio::spawn(body(with_database(url, &name))).await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE {name} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await
    .unwrap();
    if let Err(failed) = outcome {
        std::panic::resume_unwind(failed.into_panic());
    }
}

fn holder(run_id: &str, pid: u32) -> LockHolder {
    LockHolder {
        run_id: run_id.to_owned(),
        host: "ops-1".to_owned(),
        pid,
        since: "2025-03-01T10:00:00Z".to_owned(),
    }
}

fn always_alive(_: &LockHolder) -> bool {
    true
}

const LEASE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_hosts_connecting_to_a_new_database_at_once_apply_each_migration_once() {
    let Some(url) = server() else { return };
    for _round in 0..3 {
        with_fresh_database(&url, |fresh| async move {
            let barrier = Arc::new(tokio::sync::Barrier::new(8));
            let tasks: Vec<_> = (0..8)
                .map(|i| {
                    let (fresh, barrier) = (fresh.clone(), barrier.clone());
                    tokio::spawn(async move {
                        barrier.wait().await;
                        let store = PgStore::connect(&fresh).await?;
                        let mut run = conformance::run(&format!("r{i}"), None);
                        run.runbook_name = "migrated".to_owned();
                        store.begin_run(&run).await?;
                        store.close().await;
                        Ok::<_, StoreError>(())
                    })
                })
                .collect();
            for task in tasks {
                task.await.unwrap().unwrap();
            }
            let mut conn = raw(&fresh).await;
            let versions: Vec<i64> =
                sqlx::query_scalar("SELECT version FROM schema_version ORDER BY version")
                    .fetch_all(&mut conn)
                    .await
                    .unwrap();
            assert_eq!(versions, vec![1, 2]);
            let store = PgStore::connect(&fresh).await.unwrap();
            assert_eq!(store.schema_version().await.unwrap(), 2);
            assert_eq!(store.migrate().await.unwrap(), 2, "nothing left to do");
            let runs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM runs")
                .fetch_one(&mut conn)
                .await
                .unwrap();
            assert_eq!(runs, 8);
            store.close().await;
            conn.close().await.unwrap();
        })
        .await;
    }
}

#[tokio::test]
async fn a_database_from_a_newer_version_is_refused_with_a_message_to_upgrade() {
    let Some(url) = server() else { return };
    with_fresh_database(&url, |fresh| async move {
        PgStore::connect(&fresh).await.unwrap().close().await;
        let mut conn = raw(&fresh).await;
        sqlx::query("INSERT INTO schema_version (version, applied_at) VALUES (7, 'later')")
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        let err = PgStore::connect(&fresh).await.unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::NewerSchema {
                    found: 7,
                    supported: 2,
                    ..
                }
            ),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(message.contains("upgrade runbook"), "{message}");
        assert!(message.contains("/runbook_fresh_"), "{message}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_many_stores_racing_for_one_key_exactly_one_wins() {
    const RACERS: usize = 8;
    let Some(url) = server() else { return };
    // Separate stores: separate pools and connections, as separate hosts have.
    let mut stores = Vec::new();
    for _ in 0..RACERS {
        stores.push(Arc::new(PgStore::connect(&url).await.unwrap()));
    }
    for round in 0..10 {
        let key = conformance::unique(&format!("deploy/{round}"));
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
                LockOutcome::Acquired {
                    took_over_from,
                    lease,
                } => {
                    assert_eq!(took_over_from, None);
                    winners.push(lease);
                }
                LockOutcome::Held(h) => holders_seen.push(h.run_id),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}");
        holders_seen.sort();
        holders_seen.dedup();
        assert_eq!(holders_seen.len(), 1, "every loser saw the one winner");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_many_stores_beginning_runs_for_one_fire_exactly_one_is_recorded() {
    const RACERS: usize = 8;
    let Some(url) = server() else { return };
    let mut stores = Vec::new();
    for _ in 0..RACERS {
        stores.push(Arc::new(PgStore::connect(&url).await.unwrap()));
    }
    for round in 0..5 {
        let fire = Fire {
            scope: conformance::unique("deploy@project"),
            key: format!("2025-03-01T10:0{round}"),
        };
        let barrier = Arc::new(tokio::sync::Barrier::new(RACERS));
        let tasks: Vec<_> = stores
            .iter()
            .map(|store| {
                let (store, barrier) = (store.clone(), barrier.clone());
                let run = conformance::run(&conformance::unique("run"), Some(fire.clone()));
                tokio::spawn(async move {
                    barrier.wait().await;
                    store.begin_run(&run).await.map(|()| run.run_id)
                })
            })
            .collect();
        let mut recorded = Vec::new();
        let mut named = Vec::new();
        for task in tasks {
            match task.await.unwrap() {
                Ok(run_id) => recorded.push(run_id),
                Err(StoreError::FireTaken(taken)) => named.push(taken.run_id),
                Err(other) => panic!("round {round}: {other:?}"),
            }
        }
        assert_eq!(recorded.len(), 1, "round {round}: {recorded:?}");
        assert_eq!(named.len(), RACERS - 1);
        assert!(
            named.iter().all(|id| id == &recorded[0]),
            "each refusal names the run that has the fire"
        );
        let store = &stores[0];
        let winner = store.get_run(&recorded[0]).await.unwrap().unwrap();
        assert_eq!(winner.fire_key.as_deref(), Some(fire.key.as_str()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn appends_from_many_stores_to_one_run_are_numbered_without_gaps() {
    const WRITERS: usize = 8;
    let Some(url) = server() else { return };
    let run_id = conformance::unique("run");
    let first = PgStore::connect(&url).await.unwrap();
    first
        .begin_run(&conformance::run(&run_id, None))
        .await
        .unwrap();
    let mut stores = vec![Arc::new(first)];
    for _ in 1..WRITERS {
        stores.push(Arc::new(PgStore::connect(&url).await.unwrap()));
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(WRITERS));
    let tasks: Vec<_> = stores
        .iter()
        .enumerate()
        .map(|(writer, store)| {
            let (store, barrier, run_id) = (store.clone(), barrier.clone(), run_id.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                for n in 0..10 {
                    let batch = [
                        json!({"writer": writer, "n": n, "half": 0}),
                        json!({"writer": writer, "n": n, "half": 1}),
                    ];
                    store
                        .append(&run_id, &conformance::new_events(&batch), n % 2 == 0, None)
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let events = stores[0].events(&run_id).await.unwrap();
    assert_eq!(events.len(), WRITERS * 10 * 2);
    // Each batch stays together, and each writer's batches stay in its order.
    for pair in events.chunks(2) {
        assert_eq!(pair[0]["writer"], pair[1]["writer"]);
        assert_eq!(pair[0]["n"], pair[1]["n"]);
        assert_eq!(
            (pair[0]["half"].as_i64(), pair[1]["half"].as_i64()),
            (Some(0), Some(1))
        );
    }
    for writer in 0..WRITERS {
        let ns: Vec<i64> = events
            .iter()
            .filter(|event| event["writer"] == writer && event["half"] == 0)
            .map(|event| event["n"].as_i64().unwrap())
            .collect();
        assert_eq!(ns, (0..10).collect::<Vec<_>>());
    }
    let mut conn = raw(&url).await;
    let seqs: Vec<i64> =
        sqlx::query_scalar("SELECT seq FROM events WHERE run_id = $1 ORDER BY seq")
            .bind(&run_id)
            .fetch_all(&mut conn)
            .await
            .unwrap();
    assert_eq!(seqs, (1..=160).collect::<Vec<i64>>());
}

/// What the conformance checks cannot see: how events are stored.
#[tokio::test]
async fn durable_and_plain_appends_share_one_sequence_and_at_is_the_events_ts() {
    let Some(url) = server() else { return };
    let store = PgStore::connect(&url).await.unwrap();
    let run_id = conformance::unique("run");
    store
        .begin_run(&conformance::run(&run_id, None))
        .await
        .unwrap();
    let stamped = json!({"event": "run_started", "ts": "2025-03-01T11:00:00.1+01:00"});
    store
        .append(
            &run_id,
            &conformance::new_events(&[stamped, json!({"event": "a"})]),
            false,
            None,
        )
        .await
        .unwrap();
    store
        .append(
            &run_id,
            &conformance::new_events(&[json!({"event": "b"})]),
            true,
            None,
        )
        .await
        .unwrap();
    store
        .append(
            &run_id,
            &conformance::new_events(&vec![json!({"event": "c"}); 3]),
            false,
            None,
        )
        .await
        .unwrap();
    let mut conn = raw(&url).await;
    let rows: Vec<(i64, String, String)> =
        sqlx::query_as("SELECT seq, at, event FROM events WHERE run_id = $1 ORDER BY seq")
            .bind(&run_id)
            .fetch_all(&mut conn)
            .await
            .unwrap();
    let seqs: Vec<i64> = rows.iter().map(|(seq, _, _)| *seq).collect();
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
    assert_eq!(
        rows[2].2, r#"{"event":"b"}"#,
        "the event's text, exactly as serialized"
    );
}

#[tokio::test]
async fn the_journal_refuses_changes_and_deletes_while_its_run_is_running() {
    let Some(url) = server() else { return };
    let store = PgStore::connect(&url).await.unwrap();
    let run_id = conformance::unique("run");
    store
        .begin_run(&conformance::run(&run_id, None))
        .await
        .unwrap();
    store
        .append(
            &run_id,
            &conformance::new_events(&[json!({"event": "intent"})]),
            true,
            None,
        )
        .await
        .unwrap();
    let mut conn = raw(&url).await;
    let update = sqlx::query("UPDATE events SET event = '{}' WHERE run_id = $1")
        .bind(&run_id)
        .execute(&mut conn)
        .await
        .unwrap_err();
    assert!(update.to_string().contains("append-only"), "{update}");
    let delete = sqlx::query("DELETE FROM events WHERE run_id = $1")
        .bind(&run_id)
        .execute(&mut conn)
        .await
        .unwrap_err();
    assert!(delete.to_string().contains("running run"), "{delete}");
    assert_eq!(store.events(&run_id).await.unwrap().len(), 1);

    // Once the run has finished, its events may go (prune deletes them with the run).
    store
        .finish_run(&run_id, "succeeded", 0, "2025-03-01T10:05:00Z", None, None)
        .await
        .unwrap();
    let update = sqlx::query("UPDATE events SET event = '{}' WHERE run_id = $1")
        .bind(&run_id)
        .execute(&mut conn)
        .await
        .unwrap_err();
    assert!(update.to_string().contains("append-only"), "{update}");
    let deleted = sqlx::query("DELETE FROM events WHERE run_id = $1")
        .bind(&run_id)
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(deleted.rows_affected(), 1);
}

#[tokio::test]
async fn the_location_names_the_server_and_database_but_never_the_password() {
    let Some(url) = server() else { return };
    let store = PgStore::connect(&url).await.unwrap();
    let password = url::Url::parse(&url)
        .unwrap()
        .password()
        .unwrap_or_default()
        .to_owned();
    let location = store.location();
    let debug = format!("{store:?}");
    for shown in [&location, &debug] {
        if !password.is_empty() {
            assert!(!shown.contains(&password), "{shown}");
        }
        assert!(shown.contains(&server_place(&url)), "{shown}");
    }
    assert!(location.starts_with("postgres"), "{location}");
    let database = url::Url::parse(&url).unwrap().path().to_owned();
    assert!(location.contains(&database), "{location} names {database}");
    assert!(
        location.contains(":5432") || location.contains("port="),
        "{location}"
    );
}

#[tokio::test]
async fn a_wrong_password_is_a_config_error_that_names_the_server_but_not_the_password() {
    let Some(url) = server() else { return };
    const WRONG: &str = "Wr0ng-Pa55word-Zq9x";
    let started = Instant::now();
    let err = PgStore::connect(&with_password(&url, WRONG))
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5), "no retrying");
    assert!(matches!(err, StoreError::Config { .. }), "{err:?}");
    let (message, debug) = (err.to_string(), format!("{err:?}"));
    for shown in [&message, &debug] {
        assert!(!shown.contains(WRONG), "{shown}");
        assert!(!shown.contains("Pa55word"), "{shown}");
    }
    assert!(message.contains(&server_place(&url)), "{message}");
    assert!(
        message.contains("password authentication failed"),
        "{message}"
    );
    assert!(
        message.contains("fix --store or RUNBOOK_STORE"),
        "{message}"
    );
    assert!(!err.is_temporary());
}

#[tokio::test]
async fn a_database_that_does_not_exist_is_a_config_error() {
    let Some(url) = server() else { return };
    let err = PgStore::connect(&with_database(&url, "no_such_runbook_db"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Config { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("no_such_runbook_db"), "{message}");
    assert!(message.contains("does not exist"), "{message}");
}

const SECRET: &str = "S3cret-Unseen-Pw";

/// `err` shown as a person (or a log) would see it must not have the password.
fn assert_no_secret(err: &StoreError) {
    for shown in [err.to_string(), format!("{err:?}")] {
        assert!(!shown.contains(SECRET), "{shown}");
        assert!(!shown.contains("Unseen"), "{shown}");
    }
}

#[tokio::test]
async fn a_socket_directory_without_a_server_is_unreachable() {
    let started = Instant::now();
    let err = PgStore::connect(&format!(
        "postgres://runbook:{SECRET}@localhost/runbook?host=/nonexistent-dir"
    ))
    .await
    .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(matches!(err, StoreError::Unreachable { .. }), "{err:?}");
    assert!(err.is_temporary());
    assert_no_secret(&err);
    let message = err.to_string();
    assert!(
        message.contains("there is no socket /nonexistent-dir/.s.PGSQL.5432"),
        "{message}"
    );
    assert!(message.ends_with("; try again later"), "{message}");
}

#[tokio::test]
async fn a_port_nobody_listens_on_is_unreachable() {
    let started = Instant::now();
    let err = PgStore::connect(&format!("postgres://u:{SECRET}@127.0.0.1:1/db"))
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(matches!(err, StoreError::Unreachable { .. }), "{err:?}");
    assert_no_secret(&err);
    let message = err.to_string();
    assert!(
        message.starts_with("the run store postgres://u@127.0.0.1:1/db cannot be reached: "),
        "{message}"
    );
    assert!(
        message.contains("127.0.0.1:1 refused the connection"),
        "{message}"
    );
}

#[tokio::test]
async fn a_server_that_never_answers_is_unreachable_after_the_connect_timeout() {
    // Accepts connections and says nothing, as a host behind a black hole would (the SYN
    // itself is answered here: this machine must not send traffic elsewhere).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let options = PgOptions {
        connect_timeout: Duration::from_millis(500),
        ..PgOptions::default()
    };
    let started = Instant::now();
    let err = PgStore::connect_with(
        &format!("postgres://u:{SECRET}@127.0.0.1:{port}/db"),
        &options,
    )
    .await
    .unwrap_err();
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(500) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    assert!(matches!(err, StoreError::Unreachable { .. }), "{err:?}");
    assert_no_secret(&err);
    let message = err.to_string();
    assert!(
        message.contains(&format!("127.0.0.1:{port} did not answer within 0.5 s")),
        "{message}"
    );
    silent.abort();
}

/// A holder frozen inside a transaction (SIGSTOP between two statements) holds the lock's
/// row; the server ends its session after `idle_in_transaction_session_timeout`, which the
/// store sets shorter than its `lock_timeout`, so a taker waiting for the row gets it.
#[tokio::test]
async fn a_session_frozen_inside_a_transaction_does_not_keep_a_taker_out() {
    let Some(url) = server() else { return };
    assert!(DEFAULT_IDLE_IN_TRANSACTION < DEFAULT_LOCK_TIMEOUT);
    let store = PgStore::connect(&url).await.unwrap();
    let key = conformance::unique("lock");
    store
        .acquire_lock(
            &key,
            &holder("r1", 1),
            Duration::from_millis(200),
            &always_alive,
        )
        .await
        .unwrap();
    let mut frozen = raw(&url).await;
    let idle = format!("{}ms", DEFAULT_IDLE_IN_TRANSACTION.as_millis());
    sqlx::query("SELECT set_config('idle_in_transaction_session_timeout', $1, false)")
        .bind(&idle)
        .execute(&mut frozen)
        .await
        .unwrap();
    sqlx::query("BEGIN").execute(&mut frozen).await.unwrap();
    sqlx::query("SELECT 1 FROM locks WHERE key = $1 FOR SHARE")
        .bind(&key)
        .execute(&mut frozen)
        .await
        .unwrap();
    // The lease runs out: taking it over needs the row the frozen session holds.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let outcome = store
        .acquire_lock(&key, &holder("r2", 2), LEASE, &always_alive)
        .await
        .unwrap();
    assert!(
        matches!(
            &outcome,
            LockOutcome::Acquired {
                took_over_from: Some(_),
                ..
            }
        ),
        "{outcome:?}"
    );
    assert!(
        started.elapsed() < DEFAULT_LOCK_TIMEOUT,
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_row_lock_held_past_the_lock_timeout_is_reported_as_try_later() {
    let Some(url) = server() else { return };
    let options = PgOptions {
        lock_timeout: Duration::from_millis(300),
        ..PgOptions::default()
    };
    let store = PgStore::connect_with(&url, &options).await.unwrap();
    let key = conformance::unique("lock");
    store
        .acquire_lock(&key, &holder("r1", 1), LEASE, &always_alive)
        .await
        .unwrap();
    // Another session (a process frozen inside its transaction) holds the lock's row.
    let mut other = raw(&url).await;
    sqlx::query("BEGIN").execute(&mut other).await.unwrap();
    sqlx::query("SELECT 1 FROM locks WHERE key = $1 FOR UPDATE")
        .bind(&key)
        .execute(&mut other)
        .await
        .unwrap();
    let started = Instant::now();
    let err = store
        .acquire_lock(&key, &holder("r2", 2), LEASE, &always_alive)
        .await
        .unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(matches!(err, StoreError::Unreachable { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("locked for more than 0.3 s (while taking a lock)"),
        "{message}"
    );
    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
    assert!(matches!(
        store
            .acquire_lock(&key, &holder("r2", 2), LEASE, &always_alive)
            .await
            .unwrap(),
        LockOutcome::Held(h) if h.run_id == "r1"
    ));
}

#[tokio::test]
async fn a_session_the_server_ended_is_replaced_without_the_caller_noticing() {
    let Some(url) = server() else { return };
    // A name of its own, so that only this test's sessions are ended.
    let name = conformance::unique("runbook-ended");
    let mut parsed = url::Url::parse(&url).unwrap();
    parsed
        .query_pairs_mut()
        .append_pair("application_name", &name);
    let store = PgStore::connect(parsed.as_str()).await.unwrap();
    let run_id = conformance::unique("run");
    store
        .begin_run(&conformance::run(&run_id, None))
        .await
        .unwrap();
    let mut admin = raw(&url).await;
    let ended: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
    )
    .bind(&name)
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert!(
        !ended.is_empty() && ended.iter().all(|ended| *ended),
        "{ended:?}"
    );
    store
        .append(
            &run_id,
            &conformance::new_events(&[json!({"event": "after"})]),
            true,
            None,
        )
        .await
        .unwrap();
    assert_eq!(store.events(&run_id).await.unwrap().len(), 1);
}

#[tokio::test]
async fn malformed_urls_are_config_errors_without_the_password() {
    for (url, says) in [
        ("postgres://[::1".to_owned(), "malformed"),
        (
            format!("postgres://u:{SECRET}@host:notaport/db"),
            "invalid port number",
        ),
        (format!("postgres://u:{SECRET}@[::1/db"), "malformed"),
        // A password with characters that end the user info, not escaped.
        (
            format!("postgres://u:pa?{SECRET}@host/db"),
            "invalid port number",
        ),
        (
            format!("postgres://u:pa/{SECRET}@host/db"),
            "invalid port number",
        ),
        (
            format!("postgres://u:a@{SECRET}@h:x/db"),
            "invalid port number",
        ),
        (
            format!("mysql://u:{SECRET}@host/db"),
            "not a PostgreSQL URL",
        ),
        (
            format!("postgres://u:{SECRET}@host/db?sslmode=sideways"),
            "sideways",
        ),
        (
            format!("postgres://u@host/db?password={SECRET}&sslmode=sideways"),
            "sideways",
        ),
        (
            format!("postgres://u@host/db?port=x&password={SECRET}"),
            "cannot be used",
        ),
    ] {
        let err = PgStore::connect(&url).await.unwrap_err();
        assert!(matches!(err, StoreError::Config { .. }), "{url}: {err:?}");
        assert_no_secret(&err);
        let message = err.to_string();
        assert!(message.contains(says), "{url}: {message}");
        assert!(
            message.ends_with("; fix --store or RUNBOOK_STORE"),
            "{message}"
        );
    }
}

#[tokio::test]
async fn an_unusable_sslrootcert_is_a_config_error() {
    let temp = tempfile::tempdir().unwrap();
    let not_pem = temp.path().join("ca.pem");
    std::fs::write(&not_pem, "not a certificate").unwrap();
    for (rootcert, says) in [
        (
            temp.path().join("missing.pem").display().to_string(),
            "cannot read the sslrootcert file",
        ),
        (not_pem.display().to_string(), "holds no PEM certificate"),
    ] {
        let err = PgStore::connect(&format!(
            "postgres://u:{SECRET}@127.0.0.1:1/db?sslmode=verify-full&sslrootcert={rootcert}"
        ))
        .await
        .unwrap_err();
        assert!(matches!(err, StoreError::Config { .. }), "{err:?}");
        assert_no_secret(&err);
        let message = err.to_string();
        assert!(message.contains(says), "{message}");
        assert!(message.contains(&rootcert), "{message}");
    }
}

#[tokio::test]
async fn fencing_tokens_come_from_one_sequence_across_stores() {
    let Some(url) = server() else { return };
    let (one, two) = (
        PgStore::connect(&url).await.unwrap(),
        PgStore::connect(&url).await.unwrap(),
    );
    let mut last = 0;
    for i in 0..6 {
        let store = if i % 2 == 0 { &one } else { &two };
        let key = conformance::unique("lock");
        match store
            .acquire_lock(&key, &holder("r1", 1), LEASE, &always_alive)
            .await
            .unwrap()
        {
            LockOutcome::Acquired { lease, .. } => {
                assert!(lease.token > last, "{} after {last}", lease.token);
                last = lease.token;
            }
            held => panic!("{held:?}"),
        }
    }
    let run = NewRun {
        lock_key: None,
        ..conformance::run(&conformance::unique("run"), None)
    };
    one.begin_run(&run).await.unwrap();
    assert_eq!(
        two.get_run(&run.run_id).await.unwrap().unwrap().status,
        RUNNING
    );
}

mod conformance;

/// Each check of `conformance` on a store connected to the test server.
macro_rules! conformance {
    ($($check:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $check() {
            let Some(store) = store().await else { return };
            conformance::$check(&store).await;
        }
    )*};
}

conformance::every_check!(conformance);
