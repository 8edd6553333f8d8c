#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The recipes in deploy/ fit the `runbook` they deploy: the scheduler treats exit 75 as "not
//! a failure", gives a stopping run more than `--grace` to suspend, takes the secrets from a
//! secret store; every flag and variable they use is one `runbook run` documents; and their
//! command line, pointed at the sandbox, runs.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;
use support::{runbook, workspace};

mod support;

/// Exit code of a run that was skipped, suspended or lost its lock (`EX_TEMPFAIL`).
const SKIPPED: i64 = 75;

/// `--grace` when a recipe does not pass it (`runbook run --help`).
const DEFAULT_GRACE: Duration = Duration::from_secs(10);

/// What a stopping run needs beyond `--grace`: checkpoint the run in the store, release the
/// lock, exit.
const SUSPEND_MARGIN: Duration = Duration::from_secs(10);

/// The Huawei Cloud variables the CLI reads. They are not clap arguments, so `run --help`
/// shows no `[env: …]` for them.
const CLOUD_ENV: &[&str] = support::CREDENTIAL_VARS;

/// The variables whose names the recipes must take from what the CLI documents.
fn is_ours(name: &str) -> bool {
    name.starts_with("RUNBOOK_") || name.starts_with("HUAWEICLOUD_SDK_")
}

fn read(relative: &str) -> String {
    let path = workspace().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {relative}: {e}"))
}

fn text(output: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `runbook run --help`: the flags and variables the CLI documents.
fn run_help() -> String {
    let output = runbook().args(["run", "--help"]).output().unwrap();
    assert!(
        output.status.success(),
        "runbook run --help: {}",
        text(&output)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Whether `word` occurs in `text` on its own: not as part of a longer flag or name.
fn mentions(text: &str, word: &str) -> bool {
    let part_of_word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        !before.is_some_and(part_of_word) && !after.is_some_and(part_of_word)
    })
}

fn documents_variable(help: &str, name: &str) -> bool {
    // A clap argument shows `[env: NAME=]`; others are named in the text (`$RUNBOOK_STATE_DIR`).
    CLOUD_ENV.contains(&name) || mentions(help, name)
}

fn duration(text: &str) -> Duration {
    // systemd reads a bare number as seconds.
    match text.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => humantime::parse_duration(text)
            .unwrap_or_else(|e| panic!("`{text}` is not a duration: {e}")),
    }
}

/// A recipe's `runbook` command line, and the variables it sets (None: from a secret or the
/// downward API).
struct Recipe {
    name: &'static str,
    argv: Vec<String>,
    env: Vec<(String, Option<String>)>,
}

impl Recipe {
    /// The value of `--flag VALUE` or `--flag=VALUE`.
    fn flag(&self, flag: &str) -> Option<&str> {
        let mut args = self.argv.iter();
        while let Some(arg) = args.next() {
            if arg == flag {
                return args.next().map(String::as_str);
            }
            if let Some(value) = arg.strip_prefix(flag).and_then(|v| v.strip_prefix('=')) {
                return Some(value);
            }
        }
        None
    }

    fn grace(&self) -> Duration {
        self.flag("--grace").map_or(DEFAULT_GRACE, duration)
    }

    /// Problems with the command line and variables, against `runbook run --help`.
    fn problems(&self, help: &str) -> Vec<String> {
        let mut problems = Vec::new();
        let program = self.argv.first().map(|p| Path::new(p).file_name());
        if program != Some(Some("runbook".as_ref())) {
            problems.push(format!(
                "{}: the program is not `runbook`: {:?}",
                self.name, self.argv
            ));
        }
        if self.argv.get(1).map(String::as_str) != Some("run") {
            problems.push(format!(
                "{}: the subcommand is not `run`: {:?}",
                self.name, self.argv
            ));
        }
        if self.argv.get(2).is_none_or(|file| file.starts_with('-')) {
            problems.push(format!(
                "{}: no runbook file after `run`: {:?}",
                self.name, self.argv
            ));
        }
        for arg in self.argv.iter().skip(2).filter(|a| a.starts_with('-')) {
            let flag = arg.split('=').next().unwrap_or(arg);
            if !mentions(help, flag) {
                problems.push(format!(
                    "{}: `{flag}` is not in `runbook run --help`",
                    self.name
                ));
            }
        }
        for (name, _) in &self.env {
            if is_ours(name) && !documents_variable(help, name) {
                problems.push(format!(
                    "{}: sets {name}, which `runbook run --help` does not document (nor is it \
                     one of the cloud variables {CLOUD_ENV:?})",
                    self.name
                ));
            }
        }
        problems
    }

    /// Runs the command line against the sandbox: the built-in scenario, the canonical
    /// runbook, a throw-away state directory, none of the recipe's secrets.
    fn run_in_sandbox(&self) -> Output {
        let state = tempfile::tempdir().unwrap();
        let mut args: Vec<String> = self.argv[1..].to_vec();
        args[1] = "runbooks/canonical.yaml".to_owned();
        args.extend(["--sandbox".to_owned(), "--state-dir".to_owned()]);
        args.push(state.path().display().to_string());
        let mut command = runbook();
        command.args(&args);
        // Keep only what cannot point at a real store or cloud; a variable filled in by the
        // platform (the pod's name) gets a stand-in.
        for (name, value) in &self.env {
            if name == "RUNBOOK_STORE" || CLOUD_ENV.contains(&name.as_str()) {
                continue;
            }
            let value = value
                .clone()
                .unwrap_or_else(|| "runbook-28000000-x7k2p".to_owned());
            command.env(name, value);
        }
        command.output().unwrap()
    }
}

// ---------------------------------------------------------------------------------------
// Kubernetes

fn yaml_documents(text: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|document| Value::deserialize(document).unwrap())
        .filter(|document| !document.is_null())
        .collect()
}

fn cronjob() -> Value {
    let documents = yaml_documents(&read("deploy/kubernetes/cronjob.yaml"));
    documents
        .into_iter()
        .find(|d| d["kind"] == "CronJob")
        .expect("deploy/kubernetes/cronjob.yaml has no CronJob")
}

fn runbook_container(cronjob: &Value) -> &Value {
    cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
        .as_array()
        .expect("the CronJob's pod has no containers")
        .iter()
        .find(|c| c["name"] == "runbook")
        .expect("the CronJob's pod has no container named `runbook` (podFailurePolicy names it)")
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|item| match item {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn kubernetes_recipe() -> Recipe {
    let cronjob = cronjob();
    let container = runbook_container(&cronjob);
    let mut argv = strings(&container["command"]);
    argv.extend(strings(&container["args"]));
    let env = container["env"]
        .as_array()
        .map(|env| {
            env.iter()
                .map(|var| {
                    let name = var["name"].as_str().unwrap_or_default().to_owned();
                    (name, var["value"].as_str().map(str::to_owned))
                })
                .collect()
        })
        .unwrap_or_default();
    Recipe {
        name: "deploy/kubernetes/cronjob.yaml",
        argv,
        env,
    }
}

/// Whether a podFailurePolicy rule matches the runbook container exiting with `code`.
fn rule_matches_exit(rule: &Value, code: i64) -> bool {
    let on = &rule["onExitCodes"];
    if on.is_null() || !(on["containerName"].is_null() || on["containerName"] == "runbook") {
        return false;
    }
    let listed = on["values"]
        .as_array()
        .is_some_and(|values| values.iter().any(|v| v.as_i64() == Some(code)));
    match on["operator"].as_str() {
        Some("In") => listed,
        Some("NotIn") => !listed,
        _ => false,
    }
}

#[test]
fn the_kubernetes_cronjob_lets_a_run_skip_suspend_and_keep_its_secrets() {
    let cronjob = cronjob();
    assert_eq!(
        cronjob["apiVersion"], "batch/v1",
        "the CronJob's apiVersion"
    );
    let spec = &cronjob["spec"];
    assert_eq!(
        spec["concurrencyPolicy"], "Forbid",
        "a CronJob must not start a Job while the previous one runs"
    );
    assert!(
        spec["startingDeadlineSeconds"]
            .as_u64()
            .is_some_and(|s| s >= 10),
        "startingDeadlineSeconds must be set (and at least 10: the controller looks every 10 s)"
    );
    let job = &spec["jobTemplate"]["spec"];
    assert!(
        job["backoffLimit"].is_u64(),
        "the Job needs an explicit backoffLimit"
    );
    let pod = &job["template"]["spec"];
    assert_eq!(
        pod["restartPolicy"], "Never",
        "podFailurePolicy requires restartPolicy: Never"
    );

    // "Try later" is not a failure, and must not be an ignored failure either: Kubernetes
    // replaces such a pod at once, and the replacement would be skipped again and again.
    // The container says so itself: exit 0 instead of 75.
    let rules = job["podFailurePolicy"]["rules"]
        .as_array()
        .expect("the Job has no podFailurePolicy.rules");
    assert!(
        !rules.iter().any(|rule| rule_matches_exit(rule, SKIPPED)),
        "no podFailurePolicy rule may match exit code 75 (an ignored failure is replaced at \
         once, a counted one fails the Job): {rules:?}"
    );
    let env = &runbook_container(&cronjob)["env"];
    let try_later = env.as_array().and_then(|env| {
        env.iter()
            .find(|e| e["name"] == "RUNBOOK_TRY_LATER_EXIT_CODE")
    });
    assert_eq!(
        try_later.map(|e| &e["value"]),
        Some(&Value::from("0")),
        "the container must set RUNBOOK_TRY_LATER_EXIT_CODE=\"0\" so that a skipped or \
         suspended run ends the Job as done"
    );
    assert!(
        rules.iter().any(|rule| rule["action"] == "Ignore"
            && rule["onPodConditions"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c["type"] == "DisruptionTarget"))),
        "an evicted or preempted pod is not the run's failure: a DisruptionTarget rule must \
         ignore it: {rules:?}"
    );

    let recipe = kubernetes_recipe();
    let termination = pod["terminationGracePeriodSeconds"]
        .as_u64()
        .map(Duration::from_secs)
        .expect("the pod needs terminationGracePeriodSeconds");
    assert!(
        termination > recipe.grace() + SUSPEND_MARGIN,
        "terminationGracePeriodSeconds {termination:?} leaves no time to suspend after \
         --grace {:?} (needs more than {:?})",
        recipe.grace(),
        recipe.grace() + SUSPEND_MARGIN
    );

    let container = runbook_container(&cronjob);
    let from_secret = |name: &str| {
        container["env"]
            .as_array()
            .and_then(|env| env.iter().find(|var| var["name"] == name))
            .is_some_and(|var| var["valueFrom"]["secretKeyRef"]["key"].is_string())
    };
    for secret in ["RUNBOOK_STORE", "HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK"] {
        assert!(
            from_secret(secret),
            "{secret} must come from a Secret (valueFrom.secretKeyRef)"
        );
    }
    let host = container["env"]
        .as_array()
        .and_then(|env| env.iter().find(|var| var["name"] == "RUNBOOK_HOST"));
    assert_eq!(
        host.map(|var| &var["valueFrom"]["fieldRef"]["fieldPath"]),
        Some(&Value::from("metadata.name")),
        "RUNBOOK_HOST must be the pod's name (downward API)"
    );

    // The runbook file is in the mounted ConfigMap.
    let file = recipe
        .argv
        .get(2)
        .expect("no runbook file in the command line");
    let mount = container["volumeMounts"]
        .as_array()
        .and_then(|mounts| {
            mounts.iter().find(|m| {
                m["mountPath"]
                    .as_str()
                    .is_some_and(|path| file.starts_with(&format!("{path}/")))
            })
        })
        .unwrap_or_else(|| panic!("{file} is not under a volume mount"));
    let volume = pod["volumes"]
        .as_array()
        .and_then(|volumes| volumes.iter().find(|v| v["name"] == mount["name"]))
        .expect("the runbooks' volume mount names no volume");
    assert!(
        volume["configMap"]["name"].is_string(),
        "the runbooks come from a ConfigMap: {volume:?}"
    );

    // The fire window is the schedule's period: one run per fire.
    assert_eq!(
        recipe.flag("--fire-window").map(duration),
        Some(period(spec["schedule"].as_str().unwrap_or_default())),
        "--fire-window must be the schedule's period"
    );
}

// ---------------------------------------------------------------------------------------
// systemd

/// An ini file as systemd reads it: `[Section]`, `Key=Value` (a key may repeat), comments
/// (`#`, `;`) and blank lines ignored, a trailing backslash continues the line.
fn ini(text: &str) -> BTreeMap<String, Vec<(String, String)>> {
    let mut sections: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut section = String::new();
    let mut pending = String::new();
    for line in text.lines() {
        let line = line.trim();
        if pending.is_empty() && (line.is_empty() || line.starts_with(['#', ';'])) {
            continue;
        }
        if let Some(head) = line.strip_suffix('\\') {
            pending.push_str(head);
            pending.push(' ');
            continue;
        }
        let line = std::mem::take(&mut pending) + line;
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_owned();
            sections.entry(section.clone()).or_default();
        } else {
            let (key, value) = line
                .split_once('=')
                .unwrap_or_else(|| panic!("not `Key=Value`: {line}"));
            sections
                .entry(section.clone())
                .or_default()
                .push((key.trim().to_owned(), value.trim().to_owned()));
        }
    }
    sections
}

/// The last value of `key` in `section` (a later assignment wins), if any.
fn get<'a>(
    unit: &'a BTreeMap<String, Vec<(String, String)>>,
    section: &str,
    key: &str,
) -> Option<&'a str> {
    unit.get(section)?
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// `KEY=VALUE` lines of an environment file.
fn env_file(text: &str) -> Vec<(String, Option<String>)> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (name, value) = line
                .split_once('=')
                .unwrap_or_else(|| panic!("not KEY=VALUE: {line}"));
            (name.trim().to_owned(), Some(value.trim().to_owned()))
        })
        .collect()
}

fn service() -> BTreeMap<String, Vec<(String, String)>> {
    ini(&read("deploy/systemd/runbook@.service"))
}

fn timer() -> BTreeMap<String, Vec<(String, String)>> {
    ini(&read("deploy/systemd/runbook@.timer"))
}

fn systemd_recipe() -> Recipe {
    let service = service();
    let exec = get(&service, "Service", "ExecStart").expect("the service has no ExecStart");
    // Prefixes such as `-` (ignore failure) or `+` (privileged) come before the path.
    let exec = exec.trim_start_matches(['-', '@', ':', '+', '!']);
    let argv = exec
        .split_whitespace()
        .map(|arg| arg.replace("%i", "canonical"))
        .collect();
    let mut env = Vec::new();
    for (key, value) in &service["Service"] {
        if key == "Environment" {
            for assignment in value.split_whitespace() {
                let (name, value) = assignment.trim_matches('"').split_once('=').unwrap();
                env.push((name.to_owned(), Some(value.to_owned())));
            }
        }
    }
    let file = get(&service, "Service", "EnvironmentFile").expect("no EnvironmentFile");
    assert_eq!(
        file.trim_start_matches('-'),
        "/etc/runbook/runbook.env",
        "deploy/systemd/runbook.env.example documents /etc/runbook/runbook.env"
    );
    env.extend(env_file(&read("deploy/systemd/runbook.env.example")));
    Recipe {
        name: "deploy/systemd/runbook@.service",
        argv,
        env,
    }
}

#[test]
fn the_systemd_units_let_a_run_skip_and_suspend() {
    let service = service();
    assert_eq!(
        get(&service, "Service", "Type"),
        Some("oneshot"),
        "a run is a oneshot service"
    );
    let success = get(&service, "Service", "SuccessExitStatus").unwrap_or_default();
    assert!(
        success.split_whitespace().any(|code| code == "75"),
        "SuccessExitStatus must include 75 (skipped or suspended is not a failure): `{success}`"
    );
    assert!(
        get(&service, "Service", "KillSignal").is_none_or(|signal| signal == "SIGTERM"),
        "SIGTERM is what suspends a run"
    );
    let recipe = systemd_recipe();
    let stop = get(&service, "Service", "TimeoutStopSec")
        .map(duration)
        .expect("the service needs TimeoutStopSec (the default, 90 s, is not a decision)");
    assert!(
        stop > recipe.grace() + SUSPEND_MARGIN,
        "TimeoutStopSec {stop:?} leaves no time to suspend after --grace {:?} (needs more \
         than {:?})",
        recipe.grace(),
        recipe.grace() + SUSPEND_MARGIN
    );
    assert!(
        recipe
            .env
            .iter()
            .any(|(name, value)| name == "RUNBOOK_STORE" && value.is_some()),
        "runbook.env.example must show RUNBOOK_STORE"
    );

    let timer = timer();
    let calendar = get(&timer, "Timer", "OnCalendar").expect("the timer has no OnCalendar");
    assert_eq!(
        get(&timer, "Timer", "Persistent"),
        Some("true"),
        "a fire missed while the host was down should run at boot"
    );
    let window = recipe
        .flag("--fire-window")
        .map(duration)
        .expect("the service's command line has no --fire-window");
    assert_eq!(
        window,
        period(calendar),
        "--fire-window must be the timer's period"
    );
    if let Some(delay) = get(&timer, "Timer", "RandomizedDelaySec") {
        assert!(
            duration(delay) * 4 <= window,
            "RandomizedDelaySec {delay} should be small against the fire window {window:?}"
        );
    }
    assert_eq!(
        get(&timer, "Install", "WantedBy"),
        Some("timers.target"),
        "the timer is enabled through timers.target"
    );
}

/// The period of the schedules the recipes use.
fn period(schedule: &str) -> Duration {
    match schedule {
        "hourly" | "@hourly" | "0 * * * *" | "*-*-* *:00:00" => Duration::from_secs(60 * 60),
        "daily" | "@daily" | "0 0 * * *" | "*-*-* 00:00:00" => Duration::from_secs(24 * 60 * 60),
        other => panic!("teach period() the period of the schedule `{other}`"),
    }
}

// ---------------------------------------------------------------------------------------
// Both, against the real binary

#[test]
fn the_recipes_use_only_flags_and_variables_runbook_run_documents() {
    let help = run_help();
    let problems: Vec<String> = [kubernetes_recipe(), systemd_recipe()]
        .iter()
        .flat_map(|recipe| recipe.problems(&help))
        .collect();
    assert!(
        problems.is_empty(),
        "the recipes do not match `runbook run`:\n  {}\n--- runbook run --help\n{help}",
        problems.join("\n  ")
    );
}

#[test]
fn the_recipes_command_lines_run_against_the_sandbox() {
    for recipe in [kubernetes_recipe(), systemd_recipe()] {
        let output = recipe.run_in_sandbox();
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}: its command line, run against the sandbox, failed: {:?}\n{}",
            recipe.name,
            recipe.argv,
            text(&output)
        );
    }
}
