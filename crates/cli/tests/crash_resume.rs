#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(unix)]
//! Crash and resume, with the `runbook` binary as processes: the canonical runbook against
//! `runbook sandbox serve` with latency and lost answers (`apply_then_drop`) on every request
//! that starts or changes something, SIGKILLed at random moments (many of them while such a
//! request waits for its answer), then run again with the same command until an invocation
//! ends by itself. Every job must end as an uninterrupted run ends, with exactly one execution
//! per workflow, read from the sandbox's inspection routes.
//!
//! Each job has its own sandbox and run store, so every execution in that sandbox is the
//! job's; four workers run jobs side by side. A job's kill moments and its sandbox's `--seed`
//! (which draws the lost answers) come from one seed, printed with any failure. To replay:
//! `CRASH_SEED=N` (the run's seed), `CRASH_JOB=K` (only job K: the same kill moments, as
//! fractions of the uninterrupted run's duration, and the same faults for the same requests;
//! timing still varies), `CRASH_JOBS=N` (N jobs instead of 100).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{runbook, workspace, write_temp, Served};

const PROJECT: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";
const CREDENTIALS: (&str, &str) = ("SANDBOXAKEXAMPLE0001", "sandbox-secret-key-0001");
const DEFAULT_SEED: u64 = 0x5EED_C4A5_0001;
const JOBS: usize = 100;
const WORKERS: usize = 4;

/// The operations the canonical runbook sends that start or change something. Each gets a
/// latency, so a kill often lands between sending one and recording its answer, and loses
/// some answers after applying them.
const CHANGES: [&str; 5] = [
    "StartWorkflowExecution",
    "ExecuteWorkflow",
    "StartPausingWorkflowExecutions",
    "StartSyncWorkflowExecution",
    "CreateCallbackWorkflow",
];
const LATENCY: Duration = Duration::from_millis(300);
const LOST_ANSWERS: f64 = 0.15;
/// The workflows one job runs, each exactly once.
const WORKFLOWS: [&str; 3] = ["wf-flaky", "fg-callback", "fg-echo"];

/// Invocations after this many are never killed, so a job always gets to finish.
const KILLED_INVOCATIONS: usize = 4;
/// A job that has not finished after this many invocations has failed.
const MAX_INVOCATIONS: usize = 10;
/// An invocation still running after this long is stuck (an uninterrupted run takes ~2.5 s).
const INVOCATION_LIMIT: Duration = Duration::from_secs(30);
/// No job starts after this; the jobs left are reported as not run.
const BUDGET: Duration = Duration::from_secs(8 * 60);

#[test]
fn sigkilled_runs_resumed_by_the_same_command_end_as_uninterrupted_runs_do() {
    let started = Instant::now();
    let plan = Plan::from_env();
    println!(
        "crash/resume: seed {:#x} (CRASH_SEED to replay), {} job(s), {} worker(s)",
        plan.seed,
        plan.jobs.len(),
        plan.workers()
    );
    let dir = tempfile::tempdir().unwrap();
    let files = Files {
        runbook: short_poll_canonical(&dir),
        calm: write_temp(&dir, "calm.yaml", &scenario(false)),
        faulty: write_temp(&dir, "faulty.yaml", &scenario(true)),
        state: dir.path().join("state"),
    };
    let next = AtomicUsize::new(0);
    let reports = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for worker in 0..plan.workers() {
            let (plan, files, next, reports) = (&plan, &files, &next, &reports);
            scope.spawn(move || {
                let worker = Worker::start(worker, plan, files);
                while started.elapsed() < BUDGET {
                    let Some(&job) = plan.jobs.get(next.fetch_add(1, Ordering::SeqCst)) else {
                        break;
                    };
                    let report = worker.run_job(job);
                    println!("{}", report.one_line());
                    reports.lock().unwrap().push(report);
                }
            });
        }
    });
    let mut reports = reports.into_inner().unwrap();
    reports.sort_by_key(|r| r.job);
    let verdict = Verdict::of(&plan, &reports, started.elapsed());
    println!("{}", verdict.summary);
    assert!(verdict.passed, "{}", verdict.text());
}

// ---------------------------------------------------------------------------------------
// The set-up: the runbook, the scenarios, the plan.

/// `runbooks/canonical.yaml` with only the wait's poll shortened, so a job takes seconds.
fn short_poll_canonical(dir: &tempfile::TempDir) -> String {
    let text = std::fs::read_to_string(workspace().join("runbooks/canonical.yaml")).unwrap();
    let (long, short) = (
        "poll: {min: 2s, max: 30s}",
        "poll: {min: 100ms, max: 500ms}",
    );
    assert_eq!(
        text.matches(long).count(),
        1,
        "canonical.yaml's wait no longer polls with `{long}`: update this test"
    );
    write_temp(dir, "canonical.yaml", &text.replace(long, short))
}

/// The default scenario's project and credentials with the three workflows the canonical
/// runbook uses, made short; with `lost_answers`, some answers to changes are lost after the
/// change is applied.
fn scenario(lost_answers: bool) -> String {
    let (ak, sk) = CREDENTIALS;
    let mut text = format!(
        "projects:
  - id: {PROJECT}
    credentials:
      - {{ak: {ak}, sk: {sk}}}
    aom_workflows:
      - id: wf-flaky
        nodes:
          - {{id: prepare, behaviour: succeed, duration: 150ms}}
          - {{id: migrate, behaviour: fail, fail_attempts: 1, duration: 150ms, output: {{migrated: 3}}}}
          - {{id: finish, behaviour: succeed, duration: 150ms}}
    functiongraph_workflows:
      - id: fg-echo
        kind: {{type: express, outcome: echo, duration: 100ms}}
      - id: fg-callback
        kind:
          type: standard
          states:
            - {{id: prepare, kind: run, duration: 100ms, output: {{prepared: true}}}}
            - {{id: await-approval, kind: callback}}
            - {{id: finish, kind: run, duration: 100ms}}
faults:
"
    );
    for operation in CHANGES {
        let lost = if lost_answers {
            format!(", apply_then_drop: {LOST_ANSWERS}")
        } else {
            String::new()
        };
        writeln!(
            text,
            "  {operation}: {{latency: {}ms{lost}}}",
            LATENCY.as_millis()
        )
        .unwrap();
    }
    text
}

struct Files {
    runbook: String,
    /// Latency only: where the uninterrupted reference run goes.
    calm: String,
    /// Latency and lost answers: where the jobs go.
    faulty: String,
    state: std::path::PathBuf,
}

/// Which jobs to run, and the seed their kill moments come from.
struct Plan {
    seed: u64,
    jobs: Vec<usize>,
}

impl Plan {
    fn from_env() -> Self {
        let number = |name: &str| {
            std::env::var(name).ok().map(|text| {
                let text = text.trim();
                match text.strip_prefix("0x") {
                    Some(hex) => u64::from_str_radix(hex, 16),
                    None => text.parse(),
                }
                .unwrap_or_else(|e| panic!("{name}={text}: {e}"))
            })
        };
        let seed = number("CRASH_SEED").unwrap_or(DEFAULT_SEED);
        let jobs = match number("CRASH_JOB") {
            Some(job) => vec![job as usize],
            None => (1..=number("CRASH_JOBS").map_or(JOBS, |n| n as usize)).collect(),
        };
        Self { seed, jobs }
    }

    fn workers(&self) -> usize {
        WORKERS.min(self.jobs.len()).max(1)
    }

    /// The job's seed (its sandbox's too), and when to kill each invocation, as a fraction
    /// of the uninterrupted run's duration. The first is always killed, before it can finish;
    /// the next few half the time, at any moment up to a little past the end; the rest run
    /// to the end.
    fn kill_fractions(&self, job: usize) -> (u64, Vec<Option<f64>>) {
        let seed = splitmix(self.seed ^ (job as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut rng = Rng(seed | 1);
        let mut fractions = vec![Some(0.95 * rng.unit())];
        for _ in 1..KILLED_INVOCATIONS {
            let kill = rng.unit() < 0.5;
            let at = 1.2 * rng.unit();
            fractions.push(kill.then_some(at));
        }
        (seed, fractions)
    }
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// xorshift64*: enough for kill moments, and no new dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// In [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

// ---------------------------------------------------------------------------------------
// A worker: its reference run, then one job after another.

struct Worker<'a> {
    number: usize,
    plan: &'a Plan,
    files: &'a Files,
    reference: Reference,
}

/// What an uninterrupted run of the same command reaches, and how long it takes.
struct Reference {
    shape: Shape,
    duration: Duration,
}

impl<'a> Worker<'a> {
    fn start(number: usize, plan: &'a Plan, files: &'a Files) -> Self {
        let reference = Self::reference(number, files);
        println!(
            "worker {number}: an uninterrupted run took {} ms and reached {:?}",
            reference.duration.as_millis(),
            reference.shape
        );
        Self {
            number,
            plan,
            files,
            reference,
        }
    }

    /// One run nobody kills, against a sandbox that loses no answers but has the same
    /// latency, measured while the other workers do the same (so under the same load).
    fn reference(number: usize, files: &Files) -> Reference {
        let calm = Served::start_seeded(&files.calm, 1);
        let state = files.state.join(format!("reference-{number}"));
        let command = run_command(&calm, &files.runbook, &state);
        let invocation = Invocation::run(command, None);
        let summary: Option<Value> = serde_json::from_str(&invocation.stdout).ok();
        let Some(run) = summary
            .as_ref()
            .filter(|_| matches!(invocation.end, End::Exited(0)))
            .map(|s| &s["run"])
            .filter(|run| run["status"] == "succeeded")
        else {
            panic!(
                "worker {number}: the uninterrupted reference run did not succeed ({}), so there is nothing to compare with:\n{}\n{}",
                invocation.end.describe(invocation.elapsed),
                invocation.stdout,
                invocation.stderr
            );
        };
        Reference {
            shape: Shape::of(run),
            duration: invocation.elapsed,
        }
    }

    fn run_job(&self, job: usize) -> JobReport {
        let (seed, fractions) = self.plan.kill_fractions(job);
        let served = Served::start_seeded(&self.files.faulty, seed);
        let state = self.files.state.join(format!("job-{job:03}"));
        let mut report = JobReport {
            job,
            worker: self.number,
            run_seed: self.plan.seed,
            seed,
            fractions: fractions.clone(),
            reference_ms: self.reference.duration.as_millis(),
            invocations: Vec::new(),
            ended: None,
            problems: Vec::new(),
        };
        let mut last_kill = None;
        for n in 0..MAX_INVOCATIONS {
            let kill_at = fractions
                .get(n)
                .copied()
                .flatten()
                .map(|f| self.reference.duration.mul_f64(f));
            let command = run_command(&served, &self.files.runbook, &state);
            let invocation = Invocation::run(command, kill_at);
            let end = invocation.end;
            report.invocations.push(invocation);
            match end {
                End::Exited(_) => {
                    report.ended = Some(Ended::from_summary(&report.invocations, n));
                    break;
                }
                End::Killed => {
                    last_kill = Some(Instant::now());
                    // The kill may have come after the run was recorded as finished: then it
                    // is over, and running the command again would rightly start a new run.
                    if let Some(ended) = Ended::from_store(&state, n) {
                        report.ended = Some(ended);
                        break;
                    }
                }
                End::Stuck => {
                    report.problem(
                        "an invocation got stuck",
                        format!(
                            "invocation {} was still running after {} s and was killed",
                            n + 1,
                            INVOCATION_LIMIT.as_secs()
                        ),
                    );
                    break;
                }
            }
        }
        if report.ended.is_none() && report.problems.is_empty() {
            report.problem(
                "never finished",
                format!("no invocation ended by itself in {MAX_INVOCATIONS}"),
            );
        }
        // A killed process's request still reaches the sandbox and is applied after its
        // latency: let it land before looking.
        if let Some(at) = last_kill {
            let settled = at + LATENCY + Duration::from_millis(300);
            std::thread::sleep(settled.saturating_duration_since(Instant::now()));
        }
        let sandbox = Snapshot::take(&served);
        if let Some(ended) = report.ended.take() {
            report.check_end(&ended, &self.reference.shape);
            report.ended = Some(ended);
        }
        report.check_executions(&sandbox);
        report
    }
}

fn run_command(served: &Served, runbook: &str, state: &Path) -> Command {
    let mut command = served.run_command(runbook, CREDENTIALS, PROJECT);
    command.arg("--state-dir").arg(state);
    command
}

// ---------------------------------------------------------------------------------------
// One invocation: spawned, maybe killed, its output kept.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Exited(i32),
    /// Killed by the test at its planned moment.
    Killed,
    /// Killed by the test because it ran past `INVOCATION_LIMIT`.
    Stuck,
}

impl End {
    fn describe(self, elapsed: Duration) -> String {
        let ms = elapsed.as_millis();
        match self {
            End::Exited(code) => format!("exited {code} after {ms} ms"),
            End::Killed => format!("SIGKILLed at {ms} ms"),
            End::Stuck => format!("stuck, SIGKILLed at {ms} ms"),
        }
    }
}

struct Invocation {
    end: End,
    elapsed: Duration,
    stdout: String,
    stderr: String,
}

impl Invocation {
    /// Runs `command`, sending SIGKILL at `kill_at` if it is still running then.
    fn run(mut command: Command, kill_at: Option<Duration>) -> Self {
        let started = Instant::now();
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Drained as they come, so a full pipe never blocks the child.
        let stdout = drain(child.stdout.take().unwrap());
        let stderr = drain(child.stderr.take().unwrap());
        let limit = kill_at.map_or(INVOCATION_LIMIT, |at| at.min(INVOCATION_LIMIT));
        let end = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break End::Exited(status.code().unwrap_or(-1));
            }
            if started.elapsed() >= limit {
                // `Child::kill` is SIGKILL on unix: no handler, no `finally`, no flush.
                child.kill().unwrap();
                child.wait().unwrap();
                break if kill_at.is_some_and(|at| at <= INVOCATION_LIMIT) {
                    End::Killed
                } else {
                    End::Stuck
                };
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        let elapsed = started.elapsed();
        Self {
            end,
            elapsed,
            stdout: stdout.join().unwrap(),
            stderr: stderr.join().unwrap(),
        }
    }

    /// Where the run stood when it was killed, from its JSON log.
    fn moment(&self) -> String {
        moment(&self.stderr)
    }
}

fn drain(mut pipe: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// The actions whose request starts or changes something.
const CHANGE_ACTIONS: [&str; 4] = [
    "functiongraph.start",
    "aom.start",
    "functiongraph.run_sync",
    "functiongraph.callback",
];

/// Where a killed run stood, from its JSON log: the step under way, and whether a request
/// that starts or changes something had gone out (or was a few milliseconds from going out:
/// the step has begun) without its answer being logged. A step that starts something logs
/// `execution_started` when the answer comes; a wait logs a `node_action` once a restart is
/// answered, after the poll that saw the node fail.
fn moment(stderr: &str) -> String {
    let (mut began, mut finished) = (false, false);
    let mut open: Option<(String, String)> = None;
    let (mut answered, mut restart_sent) = (false, false);
    for event in stderr
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
    {
        let text = |key: &str| event[key].as_str().unwrap_or_default().to_owned();
        match text("event").as_str() {
            "run_started" | "run_resumed" => began = true,
            "run_finished" => finished = true,
            "step_started" => {
                open = Some((text("step"), text("action")));
                (answered, restart_sent) = (false, false);
            }
            "step_finished" | "step_skipped" => open = None,
            "execution_started" => answered = true,
            "poll" => restart_sent = event["status"] == "fail",
            "node_action" => restart_sent = false,
            _ => {}
        }
    }
    if finished {
        return "after the run finished".into();
    }
    if !began {
        return "before the run began".into();
    }
    match open {
        None => "between steps".into(),
        Some((step, action)) if action == "aom.wait" && restart_sent => {
            format!("{step}: a node restart sent, no answer yet")
        }
        Some((step, action)) if action == "aom.wait" => format!("{step}: polling"),
        Some((step, action)) if CHANGE_ACTIONS.contains(&action.as_str()) && !answered => {
            format!("{step} ({action}) sent or about to be, no answer yet")
        }
        Some((step, action)) => format!("{step} ({action}) answered, not finished"),
    }
}

// ---------------------------------------------------------------------------------------
// How a job ended, and what its run looked like.

struct Ended {
    code: i64,
    run: Value,
    /// Where the final state was read.
    from: String,
}

impl Ended {
    /// From the `--output json` summary of invocation `n`, which ended by itself.
    fn from_summary(invocations: &[Invocation], n: usize) -> Self {
        let invocation = &invocations[n];
        let End::Exited(code) = invocation.end else {
            unreachable!("only an invocation that exited has a summary")
        };
        let run = match serde_json::from_str::<Value>(&invocation.stdout) {
            Ok(summary) => summary["run"].clone(),
            Err(e) => serde_json::json!({
                "unparsed": format!("stdout is not the JSON summary ({e}): {}", clip(&invocation.stdout, 300))
            }),
        };
        Self {
            code: i64::from(code),
            run,
            from: format!("invocation {}'s summary", n + 1),
        }
    }

    /// From the run store, when its newest run has finished (it has an exit code).
    fn from_store(state: &Path, n: usize) -> Option<Self> {
        let state = state.display().to_string();
        let runs = |args: &[&str]| -> Option<Value> {
            let output = runbook()
                .args(["runs", "--state-dir", &state])
                .args(args)
                .args(["--output", "json"])
                .output()
                .unwrap();
            serde_json::from_slice(&output.stdout).ok()
        };
        let listed = runs(&["list", "--limit", "1"])?;
        let newest = listed.as_array()?.first()?;
        let code = newest["exit_code"].as_i64()?;
        let id = newest["run_id"].as_str()?;
        let shown = runs(&["show", id])?;
        Some(Self {
            code,
            run: shown["state"].clone(),
            from: format!(
                "the run store: run {id} had finished when invocation {} was killed",
                n + 1
            ),
        })
    }
}

/// What two runs of the job must share: execution ids and times differ, these may not.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Shape {
    status: String,
    steps: BTreeMap<String, String>,
    outputs: BTreeSet<String>,
    /// The workflows of the executions the run says it started, sorted.
    started: Vec<String>,
}

impl Shape {
    fn of(run: &Value) -> Self {
        let text = |v: &Value| v.as_str().unwrap_or("?").to_owned();
        let steps = run["steps"]
            .as_object()
            .map(|steps| {
                steps
                    .iter()
                    .map(|(id, step)| (id.clone(), text(&step["status"])))
                    .collect()
            })
            .unwrap_or_default();
        let outputs = run["outputs"]
            .as_object()
            .map(|outputs| outputs.keys().cloned().collect())
            .unwrap_or_default();
        let mut started: Vec<String> = run["executions"]
            .as_array()
            .map(|list| list.iter().map(|e| text(&e["workflow_id"])).collect())
            .unwrap_or_default();
        started.sort();
        Self {
            status: text(&run["status"]),
            steps,
            outputs,
            started,
        }
    }

    /// Each way `self` differs from `reference`.
    fn differences(&self, reference: &Shape) -> Vec<String> {
        let mut differences = Vec::new();
        if self.status != reference.status {
            differences.push(format!(
                "run status {} (uninterrupted: {})",
                self.status, reference.status
            ));
        }
        let ids: BTreeSet<&String> = self.steps.keys().chain(reference.steps.keys()).collect();
        for id in ids {
            let (got, want) = (self.steps.get(id), reference.steps.get(id));
            if got != want {
                differences.push(format!(
                    "step {id} {} (uninterrupted: {})",
                    got.map_or("absent", String::as_str),
                    want.map_or("absent", String::as_str)
                ));
            }
        }
        if self.outputs != reference.outputs {
            differences.push(format!(
                "outputs {:?} (uninterrupted: {:?})",
                self.outputs, reference.outputs
            ));
        }
        if self.started != reference.started {
            differences.push(format!(
                "executions started {:?} (uninterrupted: {:?})",
                self.started, reference.started
            ));
        }
        differences
    }
}

// ---------------------------------------------------------------------------------------
// The sandbox's view.

struct Snapshot {
    /// Every execution, AOM and FunctionGraph, as `/__sandbox/executions` shows it, by
    /// workflow.
    executions: BTreeMap<String, Vec<Value>>,
    /// How many `StartSyncWorkflowExecution` requests reached the sandbox, from
    /// `/__sandbox/requests`.
    sync_runs: u64,
}

impl Snapshot {
    fn take(served: &Served) -> Self {
        let all = served.inspect("executions");
        let mut executions: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for service in ["aom", "functiongraph"] {
            for execution in all[service].as_array().into_iter().flatten() {
                let workflow = execution["workflow_id"].as_str().unwrap_or("?");
                executions
                    .entry(workflow.to_owned())
                    .or_default()
                    .push(execution.clone());
            }
        }
        Self {
            executions,
            sync_runs: served.inspect("requests")["StartSyncWorkflowExecution"]
                .as_u64()
                .unwrap_or(0),
        }
    }
}

/// `id status`, with the id shortened to its distinctive tail.
fn brief(execution: &Value) -> String {
    let id = execution["execution_id"].as_str().unwrap_or("?");
    let tail = id.rsplit('-').next().unwrap_or(id).trim_start_matches('0');
    format!("…{tail} {}", execution["status"].as_str().unwrap_or("?"))
}

/// The status of a FunctionGraph execution's state `id`, from its node details.
fn state_status<'v>(execution: &'v Value, id: &str) -> Option<&'v str> {
    execution["node_execution_details"]
        .as_array()?
        .iter()
        .find(|node| node["node_id"] == id)?["executions"][0]["status"]
        .as_str()
}

// ---------------------------------------------------------------------------------------
// A job's report and the verdict over all of them.

struct Problem {
    /// Short, for the tally across jobs.
    kind: String,
    text: String,
}

struct JobReport {
    job: usize,
    worker: usize,
    /// The test run's seed, `CRASH_SEED`.
    run_seed: u64,
    /// The job's seed, from the run's: its kill moments and its sandbox's `--seed`.
    seed: u64,
    fractions: Vec<Option<f64>>,
    reference_ms: u128,
    invocations: Vec<Invocation>,
    ended: Option<Ended>,
    problems: Vec<Problem>,
}

impl JobReport {
    fn problem(&mut self, kind: impl Into<String>, text: String) {
        self.problems.push(Problem {
            kind: kind.into(),
            text,
        });
    }

    fn kills(&self) -> impl Iterator<Item = &Invocation> {
        self.invocations.iter().filter(|i| i.end == End::Killed)
    }

    fn check_end(&mut self, ended: &Ended, reference: &Shape) {
        if ended.code != 0 {
            let run = &ended.run;
            let unknown = run["unknown_outcomes"]
                .as_array()
                .map(|list| {
                    list.iter()
                        .map(|u| format!("{} {}", u["operation"], u["workflow_id"]))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            self.problem(
                format!("ended with exit {}", ended.code),
                format!(
                    "ended with exit {} (want 0), read from {}: status {}, error {}{}{}",
                    ended.code,
                    ended.from,
                    run["status"],
                    run["error"],
                    run.get("unparsed")
                        .map(|u| format!(", {u}"))
                        .unwrap_or_default(),
                    if unknown.is_empty() {
                        String::new()
                    } else {
                        format!(", unknown outcomes: {unknown}")
                    }
                ),
            );
        }
        let differences = Shape::of(&ended.run).differences(reference);
        if !differences.is_empty() {
            self.problem(
                "final state differs from an uninterrupted run's",
                format!(
                    "the final state differs from an uninterrupted run's: {}",
                    differences.join("; ")
                ),
            );
        }
    }

    fn check_executions(&mut self, sandbox: &Snapshot) {
        let (new, sync_runs) = (&sandbox.executions, sandbox.sync_runs);
        for workflow in WORKFLOWS {
            let executions = new.get(workflow).map(Vec::as_slice).unwrap_or_default();
            if executions.len() != 1 {
                let listed: Vec<String> = executions.iter().map(brief).collect();
                let mut text = format!(
                    "{workflow}: {} executions for this job [{}], want exactly 1",
                    executions.len(),
                    listed.join(", ")
                );
                if workflow == "fg-echo" && executions.is_empty() && sync_runs > 0 {
                    write!(
                        text,
                        " (yet {sync_runs} StartSyncWorkflowExecution request(s) reached the sandbox: does /__sandbox/executions list synchronous runs?)"
                    )
                    .unwrap();
                }
                self.problem(format!("{workflow} ran {} times", executions.len()), text);
            }
            for execution in executions {
                match workflow {
                    "wf-flaky" if execution["status"] != "success" => self.problem(
                        "wf-flaky not succeeded",
                        format!("wf-flaky {} did not succeed", brief(execution)),
                    ),
                    "fg-callback" => self.check_callback_flow(execution),
                    _ => {}
                }
            }
        }
        for (workflow, executions) in new {
            if !WORKFLOWS.contains(&workflow.as_str()) {
                self.problem(
                    "unexpected workflow",
                    format!(
                        "{workflow} ran {} times; the runbook never runs it",
                        executions.len()
                    ),
                );
            }
        }
    }

    /// The flow must have heard the verdict: past its callback state, told success.
    fn check_callback_flow(&mut self, execution: &Value) {
        let waiting = state_status(execution, "await-approval");
        let heard = waiting == Some("success")
            && (execution["status"] == "success" || execution["status"] == "running");
        if !heard {
            let state = match waiting {
                None => "not reached yet",
                Some("running") => "still waiting: its callback never came",
                Some("fail") => "failed: the callback said the deploy failed",
                Some(other) => other,
            };
            self.problem(
                "fg-callback did not hear success",
                format!(
                    "fg-callback {}: its state await-approval is {state}",
                    brief(execution)
                ),
            );
        }
    }

    fn one_line(&self) -> String {
        let steps: Vec<String> = self
            .invocations
            .iter()
            .map(|i| match i.end {
                End::Killed => format!("kill@{}ms[{}]", i.elapsed.as_millis(), i.moment()),
                other => other.describe(i.elapsed),
            })
            .collect();
        let verdict = if self.problems.is_empty() {
            "ok".to_owned()
        } else {
            format!("FAILED ({} problems)", self.problems.len())
        };
        format!(
            "job {:3} (worker {}): {} → {verdict}",
            self.job,
            self.worker,
            steps.join(", ")
        )
    }

    /// Everything needed to see what went wrong and to replay it.
    fn details(&self) -> String {
        let fractions: Vec<String> = self
            .fractions
            .iter()
            .map(|f| f.map_or("-".to_owned(), |f| format!("{f:.3}")))
            .collect();
        let mut text = format!(
            "job {} (worker {}; replay with CRASH_SEED={:#x} CRASH_JOB={}; sandbox --seed {}; kill moments as fractions of the uninterrupted {} ms: {})\n",
            self.job,
            self.worker,
            self.run_seed,
            self.job,
            self.seed,
            self.reference_ms,
            fractions.join(", ")
        );
        for (n, invocation) in self.invocations.iter().enumerate() {
            let at = if invocation.end == End::Killed {
                format!(" — {}", invocation.moment())
            } else {
                String::new()
            };
            writeln!(
                text,
                "  invocation {}: {}{at}",
                n + 1,
                invocation.end.describe(invocation.elapsed)
            )
            .unwrap();
            for line in tail(&invocation.stderr, 4) {
                writeln!(text, "      | {}", clip(line, 220)).unwrap();
            }
        }
        if let Some(ended) = &self.ended {
            writeln!(text, "  final state read from {}", ended.from).unwrap();
        }
        for problem in &self.problems {
            writeln!(text, "  ✗ {}", problem.text).unwrap();
        }
        text
    }
}

fn tail(text: &str, lines: usize) -> Vec<&str> {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].to_vec()
}

fn clip(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

struct Verdict {
    passed: bool,
    summary: String,
    details: String,
}

impl Verdict {
    fn of(plan: &Plan, reports: &[JobReport], elapsed: Duration) -> Self {
        let failed: Vec<&JobReport> = reports.iter().filter(|r| !r.problems.is_empty()).collect();
        let kills: Vec<&Invocation> = reports.iter().flat_map(JobReport::kills).collect();
        let mut moments: BTreeMap<String, usize> = BTreeMap::new();
        for kill in &kills {
            *moments.entry(kill.moment()).or_default() += 1;
        }
        let in_flight: usize = moments
            .iter()
            .filter(|(moment, _)| moment.contains("no answer yet"))
            .map(|(_, n)| n)
            .sum();
        let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
        for report in &failed {
            let kinds_of_job: BTreeSet<&str> =
                report.problems.iter().map(|p| p.kind.as_str()).collect();
            for kind in kinds_of_job {
                *kinds.entry(kind).or_default() += 1;
            }
        }

        let mut summary = format!(
            "crash/resume: {} of {} job(s) ended as an uninterrupted run does, in {:.0} s (seed {:#x}); {} SIGKILLs, {in_flight} of them while a change awaited its answer\n  kill moments: {moments:?}\n",
            reports.len() - failed.len(),
            plan.jobs.len(),
            elapsed.as_secs_f64(),
            plan.seed,
            kills.len(),
        );
        let mut passed = failed.is_empty();
        if reports.len() < plan.jobs.len() {
            passed = false;
            writeln!(
                summary,
                "  {} job(s) not run: the test's {} s budget ran out",
                plan.jobs.len() - reports.len(),
                BUDGET.as_secs()
            )
            .unwrap();
        }
        // A pass proves little unless the test killed often, and often mid-change. (When jobs
        // fail, a run that ended by itself before its kill is one of the failures.)
        let judged_coverage = failed.is_empty();
        if judged_coverage && kills.len() < reports.len() {
            passed = false;
            writeln!(
                summary,
                "  too few kills: {} for {} jobs",
                kills.len(),
                reports.len()
            )
            .unwrap();
        }
        if judged_coverage && reports.len() >= 20 && in_flight < reports.len() / 10 {
            passed = false;
            writeln!(
                summary,
                "  too few kills while a change awaited its answer: {in_flight} (the latency no longer makes this test meaningful)"
            )
            .unwrap();
        }
        if !kinds.is_empty() {
            writeln!(summary, "  failed jobs by problem: {kinds:?}").unwrap();
        }
        let details = failed
            .iter()
            .map(|r| r.details())
            .collect::<Vec<_>>()
            .join("\n");
        Self {
            passed,
            summary,
            details,
        }
    }

    fn text(&self) -> String {
        format!("{}\n{}", self.summary, self.details)
    }
}
