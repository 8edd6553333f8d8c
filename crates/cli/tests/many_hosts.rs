#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(unix)]
//! Many hosts sharing one run store, with the `runbook` binary as processes: each "host" is a
//! process with its own `RUNBOOK_HOST` and state directory, so none can see whether another's
//! process is alive — only leases say when a holder is gone.
//!
//! The shared store is PostgreSQL when `RUNBOOK_TEST_POSTGRES` names a throw-away server
//! (`bash scripts/test.sh` starts one); every check also runs on the embedded SQLite store
//! (one file shared by the processes of one host), which must behave the same.

mod support;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{runbook, write_temp, Served};

const PROJECT: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";
const CREDENTIALS: (&str, &str) = ("SANDBOXAKEXAMPLE0001", "sandbox-secret-key-0001");
const SKIPPED: i32 = 75;
const POSTGRES_ENV: &str = "RUNBOOK_TEST_POSTGRES";

/// Short leases, so that a takeover happens in about a second: a request may take 400 ms,
/// renewals come every 200 ms, a lease lasts 1 s.
const FAST_LEASE: [&str; 6] = [
    "--lease",
    "1s",
    "--heartbeat",
    "200ms",
    "--request-timeout",
    "400ms",
];

/// Where the hosts keep their runs.
#[derive(Debug, Clone)]
enum Shared {
    Postgres(String),
    Sqlite(PathBuf),
}

/// The stores every check runs on: SQLite always, PostgreSQL when the test server is there.
fn stores(dir: &tempfile::TempDir) -> Vec<Shared> {
    let mut stores = vec![Shared::Sqlite(dir.path().join("shared-state"))];
    match std::env::var(POSTGRES_ENV) {
        Ok(url) if !url.is_empty() => stores.push(Shared::Postgres(url)),
        _ => println!(
            "PostgreSQL part skipped: set {POSTGRES_ENV} to a throw-away server (bash scripts/test.sh starts one)"
        ),
    }
    stores
}

/// A name no earlier run in a shared database has: runbook names, and so lock keys and
/// fires, are per test run.
fn unique(what: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{what}-{}-{nanos}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

/// One host: a name and a state directory of its own.
struct Host {
    name: String,
    state: PathBuf,
}

impl Host {
    fn new(dir: &tempfile::TempDir, name: &str) -> Host {
        Host {
            name: name.to_owned(),
            state: dir.path().join(format!("state-{name}")),
        }
    }

    /// `runbook ARGS` as this host, against `store`.
    fn command(&self, store: &Shared) -> Command {
        let mut command = runbook();
        command.env("RUNBOOK_HOST", &self.name).env_remove("RUNBOOK_STORE");
        match store {
            Shared::Postgres(url) => {
                command.env("RUNBOOK_STORE", url);
                command.env("RUNBOOK_STATE_DIR", &self.state);
            }
            Shared::Sqlite(dir) => {
                command.env("RUNBOOK_STATE_DIR", dir);
            }
        }
        command
    }

    /// `runbook run FILE` against the sandbox, as this host.
    fn run(&self, store: &Shared, served: &Served, file: &str, extra: &[&str]) -> Command {
        let (ak, sk) = CREDENTIALS;
        let mut command = self.command(store);
        command
            .args(["run", file, "--endpoint", &served.url, "--region", "cn-north-4"])
            .args(["--log-format", "json", "--output", "json"])
            .args(extra)
            .env("HUAWEICLOUD_SDK_AK", ak)
            .env("HUAWEICLOUD_SDK_SK", sk)
            .env("HUAWEICLOUD_SDK_PROJECT_ID", PROJECT);
        command
    }
}

/// A scenario with the default project and one AOM workflow `wf-one` whose single node runs
/// for `node`, and another, `wf-two`, likewise.
fn scenario(dir: &tempfile::TempDir, node: &str) -> String {
    let (ak, sk) = CREDENTIALS;
    let text = format!(
        "projects:
  - id: {PROJECT}
    credentials:
      - {{ak: {ak}, sk: {sk}}}
    aom_workflows:
      - id: wf-one
        nodes:
          - {{id: only, behaviour: succeed, duration: {node}}}
      - id: wf-two
        nodes:
          - {{id: only, behaviour: succeed, duration: {node}}}
"
    );
    write_temp(dir, &format!("scenario-{node}.yaml"), &text)
}

/// A runbook named `name` (so its lock and fires are its own) that runs `wf-one` and, with
/// `two`, then `wf-two`, each to success. Its lock waits: the next host takes over as soon as
/// the holder's lease runs out.
fn runbook_file(dir: &tempfile::TempDir, name: &str, two: bool) -> String {
    let step = |n: &str| {
        format!(
            "  - id: start_{n}
    aom.start:
      workflow_id: wf-{n}
  - id: wait_{n}
    aom.wait:
      workflow_id: wf-{n}
      execution_id: \"{{{{ steps.start_{n}.execution_id }}}}\"
      poll: {{min: 50ms, max: 100ms}}
"
        )
    };
    let mut text = format!(
        "version: 1
name: {name}
lock: {{policy: wait}}
timeout: 2m
steps:
{}",
        step("one")
    );
    if two {
        text.push_str(&step("two"));
    }
    write_temp(dir, &format!("{name}.yaml"), &text)
}

/// Every execution the sandbox started, by workflow id.
fn starts(served: &Served, workflow: &str) -> usize {
    served.inspect("executions")["aom"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["workflow_id"] == workflow)
        .count()
}

/// `runbook runs list` of runbook `name`, as any host sees it.
fn runs_of(host: &Host, store: &Shared, name: &str) -> Vec<Value> {
    let output = host
        .command(store)
        .args(["runs", "list", "--runbook", name, "--output", "json"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let listed: Value = serde_json::from_slice(&output.stdout).unwrap();
    listed.as_array().cloned().unwrap_or_default()
}

fn stderr_of(child: Child) -> (i32, String) {
    let output = child.wait_with_output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn three_hosts_firing_one_schedule_twenty_times_make_exactly_twenty_runs() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(&scenario(&dir, "150ms"));
    for store in stores(&dir) {
        let name = unique("fired");
        let file = runbook_file(&dir, &name, false);
        let hosts: Vec<Host> = ["host-a", "host-b", "host-c"]
            .iter()
            .map(|h| Host::new(&dir, h))
            .collect();
        let before = starts(&served, "wf-one");
        for fire in 0..20 {
            let key = format!("2026-12-02T{:02}:00", fire);
            let children: Vec<Child> = hosts
                .iter()
                .map(|host| {
                    host.run(&store, &served, &file, &["--fire-key", &key])
                        .stdout(Stdio::null())
                        .stderr(Stdio::piped())
                        .spawn()
                        .unwrap()
                })
                .collect();
            let ended: Vec<(i32, String)> = children.into_iter().map(stderr_of).collect();
            let winners = ended.iter().filter(|(code, _)| *code == 0).count();
            assert_eq!(winners, 1, "{store:?} fire {fire}: {ended:#?}");
            for (code, stderr) in ended.iter().filter(|(code, _)| *code != 0) {
                assert_eq!(*code, SKIPPED, "{store:?} fire {fire}: {stderr}");
                assert!(
                    stderr.contains("already taken by run") || stderr.contains("is held by run"),
                    "{store:?} fire {fire}: a loser says who has it: {stderr}"
                );
                assert!(
                    ["host-a", "host-b", "host-c"].iter().any(|h| stderr.contains(h)),
                    "{store:?} fire {fire}: and on which host: {stderr}"
                );
            }
        }
        let runs = runs_of(&hosts[0], &store, &name);
        assert_eq!(runs.len(), 20, "{store:?}: {runs:#?}");
        assert!(runs.iter().all(|run| run["status"] == "succeeded"), "{runs:#?}");
        let mut fires: Vec<&str> = runs.iter().filter_map(|r| r["fire_key"].as_str()).collect();
        fires.sort_unstable();
        fires.dedup();
        assert_eq!(fires.len(), 20, "one run per fire: {runs:#?}");
        assert_eq!(
            starts(&served, "wf-one") - before,
            20,
            "{store:?}: the workflow started once per run"
        );
    }
}
