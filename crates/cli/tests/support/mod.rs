//! Running the `runbook` binary as a process and reading what it says.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

/// The credential variables a test must not inherit from the machine.
pub const CREDENTIAL_VARS: &[&str] = &[
    "HUAWEICLOUD_SDK_AK",
    "HUAWEICLOUD_SDK_SK",
    "HUAWEICLOUD_SDK_SECURITY_TOKEN",
    "HUAWEICLOUD_SDK_AUTH_TOKEN",
    "HUAWEICLOUD_SDK_PROJECT_ID",
    "HUAWEICLOUD_SDK_REGION",
    "CLOUD_SDK_AK",
    "CLOUD_SDK_SK",
    "CLOUD_SDK_PROJECT_ID",
];

/// A `goto` loop of steps that take no time and never wait on anything. Each `tick` renders an
/// empty loop so that the 10,000 jumps take seconds and a signal comes in the middle of them:
/// bare `log` steps finished them in 0.3 s.
pub const SPIN_RUNBOOK: &str = r#"
version: 1
name: spin
steps:
  - id: tick
    log: "{% for i in range(20000) %}{% endfor %}tick"
  - id: again
    assert: {that: "false", message: once more}
    on_failure: {goto: tick, max: 10000}
"#;

/// Writes `text` to `name` in `dir` and returns the path.
pub fn write_temp(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `runbook` in the workspace root, with none of the machine's runbook or cloud settings
/// (nothing a test starts may reach a real store or cloud), and a run store of this test
/// binary's own (never the user's, nor one an earlier test run left).
pub fn runbook() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_runbook"));
    command.current_dir(workspace());
    for var in CREDENTIAL_VARS {
        command.env_remove(var);
    }
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("RUNBOOK_") || name.starts_with("HUAWEICLOUD_") {
            command.env_remove(name.as_ref());
        }
    }
    command.env("RUNBOOK_STATE_DIR", state_dir());
    command
}

/// The state directory the commands of this test binary share unless a test names another.
fn state_dir() -> &'static Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().unwrap()).path()
}

/// A finished `runbook run … --log-format json --output json`.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// Every stderr line, each parsed as JSON.
    pub events: Vec<Value>,
    /// stdout parsed: `{exit_code, run}`.
    pub summary: Value,
}

impl Run {
    pub fn run(&self) -> &Value {
        &self.summary["run"]
    }

    pub fn step_status(&self, step: &str) -> &str {
        self.run()["steps"][step]["status"].as_str().unwrap_or("")
    }

    pub fn events_of(&self, kind: &str) -> Vec<&Value> {
        self.events.iter().filter(|e| e["event"] == kind).collect()
    }

    pub fn node_actions(&self, action: &str) -> Vec<String> {
        self.events_of("node_action")
            .into_iter()
            .filter(|e| e["action"] == action)
            .map(|e| e["node"].as_str().unwrap_or("").to_owned())
            .collect()
    }
}

pub fn parse(output: Output) -> Run {
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    let events = stderr
        .lines()
        .map(|line| {
            serde_json::from_str::<Value>(line)
                .unwrap_or_else(|e| panic!("stderr line is not JSON ({e}): {line}\n{stderr}"))
        })
        .collect();
    let summary = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {stdout}\nstderr: {stderr}"));
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout,
        stderr,
        events,
        summary,
    }
}

/// `runbook run FILE --sandbox ARGS… --log-format json --output json`.
pub fn run_in_sandbox(file: &str, args: &[&str]) -> Run {
    parse(sandbox_run(file, args))
}

/// `runbook run FILE --sandbox --log-format json --output json ARGS…`, as it ended.
pub fn sandbox_run(file: &str, args: &[&str]) -> Output {
    runbook()
        .args([
            "run",
            file,
            "--sandbox",
            "--log-format",
            "json",
            "--output",
            "json",
        ])
        .args(args)
        .output()
        .unwrap()
}

/// Reads a run's JSON log lines until one satisfies `seen`, then sends `signal` (`INT`,
/// `TERM`, …); returns the exit code, the summary and every log line.
pub fn signal_when(
    mut child: Child,
    signal: &str,
    seen: impl Fn(&Value) -> bool,
    before_signal: impl Fn(),
) -> (i32, Value, Vec<Value>) {
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "ended early: {lines:?}"
        );
        let event: Value = serde_json::from_str(&line).unwrap();
        let hit = seen(&event);
        lines.push(event);
        if hit {
            break;
        }
    }
    before_signal();
    let sent = Command::new("kill")
        .args([format!("-{signal}"), child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    lines.extend(
        rest.lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap()),
    );
    let output = child.wait_with_output().unwrap();
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    (output.status.code().unwrap_or(-1), summary, lines)
}

/// `runbook sandbox serve` as a separate process, so the test can inspect it.
pub struct Served {
    child: Child,
    pub url: String,
}

impl Served {
    /// `runbook run FILE` against this sandbox as `ak`/`sk` in `project`, with JSON logs and
    /// a JSON summary.
    pub fn run_command(&self, file: &str, (ak, sk): (&str, &str), project: &str) -> Command {
        let mut command = runbook();
        command
            .args([
                "run",
                file,
                "--endpoint",
                &self.url,
                "--region",
                "cn-north-4",
            ])
            .args(["--log-format", "json", "--output", "json"])
            .env("HUAWEICLOUD_SDK_AK", ak)
            .env("HUAWEICLOUD_SDK_SK", sk)
            .env("HUAWEICLOUD_SDK_PROJECT_ID", project);
        command
    }

    pub fn start(scenario: &str) -> Self {
        Self::start_seeded(scenario, 7)
    }

    /// With `--seed seed`, which draws the scenario's faults and the execution ids.
    pub fn start_seeded(scenario: &str, seed: u64) -> Self {
        let mut child = runbook()
            .args(["sandbox", "serve", "--listen", "127.0.0.1:0", "--seed"])
            .arg(seed.to_string())
            .args(["--scenario", scenario])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().unwrap().unwrap();
        let url = first
            .strip_prefix("sandbox listening on ")
            .expect(&first)
            .to_owned();
        std::thread::spawn(move || lines.for_each(drop));
        Self { child, url }
    }

    pub fn inspect(&self, what: &str) -> Value {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            reqwest::get(format!("{}/__sandbox/{what}", self.url))
                .await
                .unwrap()
                .json()
                .await
                .unwrap()
        })
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
