#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Hostile input: a corpus of runbooks, inputs files and paths built to cost unbounded time or
//! memory, crash the process or smuggle terminal escapes (`hostile/`, one module per class of
//! attack; generated here, nothing big is committed). Every case runs as its own `runbook`
//! process — `validate`, or `run --sandbox` (in-process sandbox, simulated time) — and must:
//!
//! - not crash: no exit 101 (a panic), no death by a signal (SIGABRT from a stack overflow or
//!   an allocation failure, SIGSEGV, …), no `panicked at` on stderr;
//! - end within 5 s of wall time (it is killed then, and fails);
//! - peak under 256 MB of RSS (`ru_maxrss` from `wait4`, of a `runbook` process forked by a
//!   small `sh` and re-parented here, so that it does not count this process's memory — see
//!   the `child-usage` crate; a case passing 1 GiB is killed early so that a runaway cannot
//!   take the machine down);
//! - print no raw ESC byte (0x1b) on stdout or stderr;
//! - when `validate` refuses it, say where: `PATH:LINE:COL` on stderr (not for a path that is
//!   a directory or a device);
//! - exit 0 when the case is a control or sits at (not over) a limit (`Expect::Accept`), and
//!   not exit 0 when it is over a limit `validate` can see (`Expect::Refuse`); any other case
//!   may end as it likes (a run ending 1 or 2 is a clear refusal).
//!
//! At most two cases run at a time. The test prints a table of every case (exit code, wall
//! time in ms, peak RSS in MB) and fails once, at the end, listing every failing case grouped
//! by cause.
//!
//! ```sh
//! cargo test -p runbook-cli --test hostile -- --nocapture            # everything, with the table
//! RUNBOOK_HOSTILE_ONLY=alias cargo test -p runbook-cli --test hostile -- --nocapture
//! RUNBOOK_HOSTILE_CORPUS_OUT=/tmp/hostile cargo test -p runbook-cli --test hostile
//! ```
//!
//! `RUNBOOK_HOSTILE_ONLY=TEXT` runs only the cases whose `class/name` contains TEXT (several,
//! comma-separated). `RUNBOOK_HOSTILE_CORPUS_OUT=DIR` writes every case under `DIR/CLASS/`
//! instead of running anything, with `DIR/cases.tsv` giving each case's command line (run
//! from `DIR`) and expectation, for trying cases by hand; the test then stops there.

mod support;

#[path = "hostile/mod.rs"]
mod corpus;

use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use corpus::{Case, Content, Expect, Mode};

const TIME_LIMIT: Duration = Duration::from_secs(5);
const RSS_LIMIT_KB: u64 = 256 * 1024;
/// A case past this is killed at once (and fails on memory), whatever its time.
const RSS_GUARD_KB: u64 = 1024 * 1024;
/// Cases at a time (the machine has two cores).
const PARALLEL: usize = 2;
/// How much of each output stream is kept for messages; all of it is scanned.
const KEPT_BYTES: usize = 256 << 10;
const PANIC_MARKERS: &[&[u8]] = &[
    b"panicked at",
    b"has overflowed its stack",
    b"memory allocation of",
];

#[test]
fn hostile_inputs_neither_crash_nor_hang_nor_bloat() {
    let cases = corpus::all();
    assert!(cases.len() >= 200, "only {} cases", cases.len());
    if let Some(out) = std::env::var_os("RUNBOOK_HOSTILE_CORPUS_OUT") {
        write_corpus(&cases, Path::new(&out));
        return;
    }
    let only: Vec<String> = std::env::var("RUNBOOK_HOSTILE_ONLY")
        .map(|s| s.split(',').map(str::to_owned).collect())
        .unwrap_or_default();
    let selected: Vec<&Case> = cases
        .iter()
        .filter(|c| {
            only.is_empty()
                || only
                    .iter()
                    .any(|o| format!("{}/{}", c.class, c.name).contains(o.as_str()))
        })
        .collect();
    assert!(!selected.is_empty(), "no case matches {only:?}");

    child_usage::become_subreaper().unwrap();
    let root = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let outcomes: Mutex<Vec<Option<Outcome>>> =
        Mutex::new((0..selected.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..PARALLEL {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, Ordering::SeqCst);
                let Some(case) = selected.get(index) else {
                    break;
                };
                let dir = root.path().join(format!("{index:04}"));
                let outcome = run_case(case, &dir);
                outcomes.lock().unwrap()[index] = Some(outcome);
            });
        }
    });
    let outcomes: Vec<Outcome> = outcomes
        .into_inner()
        .unwrap()
        .into_iter()
        .map(Option::unwrap)
        .collect();

    let mut table = String::new();
    let mut failures: Vec<(Cause, String)> = Vec::new();
    writeln!(
        table,
        "{:<64} {:<8} {:>9} {:>6} {:>6}  verdict",
        "case", "mode", "exit", "ms", "MB"
    )
    .unwrap();
    for (case, outcome) in selected.iter().zip(&outcomes) {
        let found = judge(case, outcome);
        let label = format!("{}/{}", case.class, shown(&case.name));
        let verdict = if found.is_empty() {
            "ok".to_owned()
        } else {
            found
                .iter()
                .map(|(cause, _)| cause.label())
                .collect::<Vec<_>>()
                .join(", ")
        };
        writeln!(
            table,
            "{label:<64} {:<8} {:>9} {:>6} {:>6}  {verdict}",
            format!("{:?}", case.mode).to_lowercase(),
            outcome.exit(),
            outcome.ms,
            outcome.rss_kb / 1024,
        )
        .unwrap();
        for (cause, detail) in found {
            failures.push((
                cause,
                format!(
                    "{label} ({}, exit {}, {} ms, {} MB): {detail}",
                    format!("{:?}", case.mode).to_lowercase(),
                    outcome.exit(),
                    outcome.ms,
                    outcome.rss_kb / 1024
                ),
            ));
        }
    }
    let failed_cases = selected
        .iter()
        .zip(&outcomes)
        .filter(|(case, outcome)| !judge(case, outcome).is_empty())
        .count();
    let mut classes: Vec<(&str, usize, usize)> = Vec::new();
    for (case, outcome) in selected.iter().zip(&outcomes) {
        let failed = usize::from(!judge(case, outcome).is_empty());
        match classes
            .iter_mut()
            .find(|(class, _, _)| *class == case.class)
        {
            Some(entry) => {
                entry.1 += 1;
                entry.2 += failed;
            }
            None => classes.push((case.class, 1, failed)),
        }
    }
    writeln!(table, "\nclass            cases  failed").unwrap();
    for (class, count, failed) in &classes {
        writeln!(table, "{class:<16} {count:>5}  {failed:>6}").unwrap();
    }
    println!("{table}");
    println!(
        "{} cases in {:.1} s: {} passed, {failed_cases} failed",
        selected.len(),
        started.elapsed().as_secs_f64(),
        selected.len() - failed_cases
    );
    if !failures.is_empty() {
        failures.sort_by_key(|(cause, _)| *cause);
        let mut report = String::new();
        let mut current = None;
        for (cause, line) in &failures {
            if current != Some(*cause) {
                let count = failures.iter().filter(|(c, _)| c == cause).count();
                writeln!(report, "\n== {} ({count})", cause.title()).unwrap();
                current = Some(*cause);
            }
            writeln!(report, "  {line}").unwrap();
        }
        panic!(
            "{failed_cases} of {} hostile cases failed:\n{report}",
            selected.len()
        );
    }
}

/// Why a case failed, in the order the report lists them.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Cause {
    Crash,
    Panic,
    Timeout,
    Memory,
    Escape,
    NoLocation,
    NotAccepted,
    NotRefused,
}

impl Cause {
    fn label(self) -> &'static str {
        match self {
            Cause::Crash => "CRASH",
            Cause::Panic => "PANIC",
            Cause::Timeout => "TIME",
            Cause::Memory => "MEMORY",
            Cause::Escape => "ESC",
            Cause::NoLocation => "NO-LOCATION",
            Cause::NotAccepted => "NOT-ACCEPTED",
            Cause::NotRefused => "NOT-REFUSED",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Cause::Crash => "killed by a signal (stack overflow, abort, segfault)",
            Cause::Panic => "panicked (exit 101 or `panicked at`)",
            Cause::Timeout => "not finished in 5 s (killed)",
            Cause::Memory => "peak RSS over 256 MB",
            Cause::Escape => "raw ESC (0x1b) on stdout or stderr",
            Cause::NoLocation => "validate refused without PATH:LINE:COL",
            Cause::NotAccepted => "expected exit 0 (a control, or at a limit)",
            Cause::NotRefused => "expected a refusal (over a limit), got exit 0",
        }
    }
}

/// What one output stream said.
#[derive(Default)]
struct Stream {
    head: Vec<u8>,
    total: u64,
    escape: bool,
    panic: Option<String>,
}

impl Stream {
    fn read(mut from: impl Read) -> Self {
        let mut stream = Stream::default();
        let mut buffer = vec![0u8; 64 << 10];
        // The end of the last chunk, so that a marker split between two reads is found.
        let mut carry: Vec<u8> = Vec::new();
        loop {
            let n = match from.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let chunk = &buffer[..n];
            stream.total += n as u64;
            stream.escape |= chunk.contains(&0x1b);
            let room = KEPT_BYTES.saturating_sub(stream.head.len());
            stream.head.extend_from_slice(&chunk[..room.min(n)]);
            if stream.panic.is_none() {
                let mut window = std::mem::take(&mut carry);
                window.extend_from_slice(chunk);
                for marker in PANIC_MARKERS {
                    if let Some(at) = find(&window, marker) {
                        let end = (at + 300).min(window.len());
                        let line = String::from_utf8_lossy(&window[at..end]);
                        stream.panic = Some(shown(line.lines().next().unwrap_or("")));
                        break;
                    }
                }
                carry = window[window.len().saturating_sub(64)..].to_vec();
            }
        }
        stream
    }

    fn first_line(&self) -> String {
        let text = String::from_utf8_lossy(&self.head);
        let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        shown(&line.chars().take(200).collect::<String>())
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Text with control characters (ESC included) made visible, for the table and messages.
fn shown(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

struct Outcome {
    code: Option<i32>,
    signal: Option<i32>,
    ms: u128,
    rss_kb: u64,
    /// Killed by the harness: over the time limit, or past the memory guard.
    killed: Option<Cause>,
    stdout: Stream,
    stderr: Stream,
    /// The runbook path as given on the command line.
    path: String,
}

impl Outcome {
    fn exit(&self) -> String {
        match (self.killed, self.code, self.signal) {
            (Some(Cause::Timeout), _, _) => "kill:time".into(),
            (Some(_), _, _) => "kill:mem".into(),
            (None, Some(code), _) => code.to_string(),
            (None, None, Some(signal)) => signal_name(signal),
            (None, None, None) => "?".into(),
        }
    }
}

fn signal_name(signal: i32) -> String {
    match signal {
        libc::SIGABRT => "SIGABRT".into(),
        libc::SIGSEGV => "SIGSEGV".into(),
        libc::SIGBUS => "SIGBUS".into(),
        libc::SIGKILL => "SIGKILL".into(),
        libc::SIGILL => "SIGILL".into(),
        libc::SIGFPE => "SIGFPE".into(),
        libc::SIGTRAP => "SIGTRAP".into(),
        other => format!("SIG{other}"),
    }
}

/// A case's path or argument: absolute, or a name in its directory (`@NAME` for arguments).
fn resolve(dir: &Path, path: &str) -> PathBuf {
    if path.starts_with('/') {
        PathBuf::from(path)
    } else {
        dir.join(path)
    }
}

fn write_files(case: &Case, dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for (name, content) in &case.files {
        let path = dir.join(name);
        match content {
            Content::Bytes(bytes) => std::fs::write(&path, bytes.as_slice()).unwrap(),
            Content::Lazy(make) => std::fs::write(&path, make()).unwrap(),
            Content::Dir => std::fs::create_dir_all(&path).unwrap(),
            Content::Symlink(target) => std::os::unix::fs::symlink(target, &path).unwrap(),
        }
    }
}

/// The command line after `runbook`, with paths in `dir`.
fn command_line(case: &Case, dir: &Path) -> Vec<String> {
    let path = resolve(dir, &case.path).display().to_string();
    let mut line = match case.mode {
        Mode::Validate => vec!["validate".to_owned(), path],
        Mode::Run => vec!["run".to_owned(), path, "--sandbox".to_owned()],
    };
    if case.mode == Mode::Run && !case.args.iter().any(|a| a == "--log-format") {
        line.extend(["--log-format".to_owned(), "plain".to_owned()]);
    }
    line.extend(case.args.iter().map(|arg| match arg.strip_prefix('@') {
        Some(name) => dir.join(name).display().to_string(),
        None => arg.clone(),
    }));
    line
}

/// The `runbook` command line, started by `sh` in the background so that the `runbook`
/// process is forked from a small process (see `child_usage`: a child of this big test process
/// would report this process's peak RSS as its own); `sh` writes its pid to `pidfile` and
/// exits, and the process is re-parented to this one (a subreaper). The background process
/// waits until `sh` has been reaped before it becomes `runbook`: a `runbook` that ended while
/// `sh` still ran would be reaped by `sh`, and this process could not learn how it ended.
fn shell_command(line: &[String], pidfile: &Path) -> Command {
    let runbook = support::runbook();
    let mut shell = Command::new("sh");
    shell
        .arg("-c")
        .arg(
            r#"pidfile=$1; shift
sh -c 'while kill -0 "$0" 2>/dev/null; do sleep 0.001; done; exec "$@"' "$$" "$@" &
echo $! > "$pidfile""#,
        )
        .arg("sh")
        .arg(pidfile)
        .arg(runbook.get_program())
        .args(line);
    for (key, value) in runbook.get_envs() {
        match value {
            Some(value) => shell.env(key, value),
            None => shell.env_remove(key),
        };
    }
    if let Some(dir) = runbook.get_current_dir() {
        shell.current_dir(dir);
    }
    shell
}

fn run_case(case: &Case, dir: &Path) -> Outcome {
    for _ in 0..3 {
        if let Some(outcome) = run_once(case, dir) {
            return outcome;
        }
    }
    panic!(
        "{}/{}: could not wait for the process three times",
        case.class,
        shown(&case.name)
    );
}

/// One run of the case; `None` when its process could not be waited for.
fn run_once(case: &Case, dir: &Path) -> Option<Outcome> {
    write_files(case, dir);
    let line = command_line(case, dir);
    let pidfile = dir.join(".runbook.pid");
    let started = Instant::now();
    let mut shell = shell_command(&line, &pidfile)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| {
            panic!(
                "{}/{}: cannot start: {error}",
                case.class,
                shown(&case.name)
            )
        });
    // `runbook` shares these pipes; they end when it does.
    let stdout = shell.stdout.take().unwrap();
    let stderr = shell.stderr.take().unwrap();
    let stdout = std::thread::spawn(move || Stream::read(stdout));
    let stderr = std::thread::spawn(move || Stream::read(stderr));
    assert!(shell.wait().unwrap().success(), "{}: sh failed", case.name);
    let pid: u32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let mut killed = None;
    let reaped = loop {
        match child_usage::wait4(pid, false) {
            Ok(Some(reaped)) => break reaped,
            Ok(None) => {}
            Err(error) => {
                // Not this process's child: re-parented elsewhere. (A `runbook` that ended
                // before `sh` did was reaped by `sh` — 18 times in one run of the harness —
                // until it waited for `sh`, see `shell_command`.) The case is run again.
                eprintln!(
                    "hostile: {}/{}: wait4({pid}): {error}; running the case again",
                    case.class,
                    shown(&case.name)
                );
                let _ = stdout.join();
                let _ = stderr.join();
                let _ = std::fs::remove_dir_all(dir);
                return None;
            }
        }
        // Not reaped yet, so the pid is still this process's: safe to signal.
        if started.elapsed() >= TIME_LIMIT {
            killed = Some(Cause::Timeout);
        } else if rss_kb(pid).is_some_and(|kb| kb > RSS_GUARD_KB) {
            killed = Some(Cause::Memory);
        }
        if killed.is_some() {
            child_usage::kill(pid).unwrap();
            break child_usage::wait4(pid, true).unwrap().unwrap();
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let ms = started.elapsed().as_millis();
    let outcome = Outcome {
        code: reaped.status.code(),
        signal: std::os::unix::process::ExitStatusExt::signal(&reaped.status),
        ms,
        rss_kb: reaped.max_rss_kb,
        killed,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
        path: line[1].clone(),
    };
    let _ = std::fs::remove_dir_all(dir);
    Some(outcome)
}

/// The resident set of a running process, in KiB.
fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Every way the case failed.
fn judge(case: &Case, outcome: &Outcome) -> Vec<(Cause, String)> {
    let mut found = Vec::new();
    let stderr_says = || outcome.stderr.first_line();
    match outcome.killed {
        Some(Cause::Timeout) => found.push((
            Cause::Timeout,
            format!(
                "killed after {} s; stderr: {}",
                TIME_LIMIT.as_secs(),
                stderr_says()
            ),
        )),
        Some(_) => {}
        None if outcome.ms > TIME_LIMIT.as_millis() => {
            found.push((Cause::Timeout, format!("took {} ms", outcome.ms)));
        }
        None => {}
    }
    if outcome.rss_kb > RSS_LIMIT_KB {
        let guard = if outcome.killed == Some(Cause::Memory) {
            format!(" (killed past the {} MB guard)", RSS_GUARD_KB / 1024)
        } else {
            String::new()
        };
        found.push((
            Cause::Memory,
            format!("peak RSS {} MB{guard}", outcome.rss_kb / 1024),
        ));
    }
    if outcome.killed.is_none() {
        if let Some(signal) = outcome.signal {
            let said = outcome.stderr.panic.clone().unwrap_or_else(stderr_says);
            found.push((Cause::Crash, format!("{}: {said}", signal_name(signal))));
        }
    }
    let panic = outcome
        .stderr
        .panic
        .clone()
        .or(outcome.stdout.panic.clone());
    if outcome.code == Some(101) || (outcome.signal.is_none() && panic.is_some()) {
        found.push((
            Cause::Panic,
            panic.unwrap_or_else(|| format!("exit 101: {}", stderr_says())),
        ));
    }
    if outcome.stdout.escape || outcome.stderr.escape {
        let streams = match (outcome.stdout.escape, outcome.stderr.escape) {
            (true, true) => "stdout and stderr",
            (true, false) => "stdout",
            _ => "stderr",
        };
        found.push((Cause::Escape, format!("raw ESC on {streams}")));
    }
    let Some(code) = outcome.code else {
        return found;
    };
    if code == 101 {
        return found;
    }
    match case.expect {
        Expect::Accept if code != 0 => {
            found.push((
                Cause::NotAccepted,
                format!("exit {code}: {}", stderr_says()),
            ));
        }
        Expect::Refuse if code == 0 => {
            found.push((Cause::NotRefused, "exit 0".to_owned()));
        }
        _ => {}
    }
    if case.mode == Mode::Validate
        && case.located
        && code != 0
        && !located(&outcome.stderr.head, &outcome.path)
    {
        found.push((Cause::NoLocation, stderr_says()));
    }
    found
}

/// Whether `stderr` names `path:LINE:COL`.
fn located(stderr: &[u8], path: &str) -> bool {
    let text = String::from_utf8_lossy(stderr);
    let mut rest = text.as_ref();
    while let Some(at) = rest.find(path) {
        let after = &rest[at + path.len()..];
        let mut parts = after.splitn(3, ':');
        let (_, line, col) = (parts.next(), parts.next(), parts.next());
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if let (Some(line), Some(col)) = (line, col) {
            let col: String = col.chars().take_while(char::is_ascii_digit).collect();
            if digits(line) && digits(&col) {
                return true;
            }
        }
        rest = &rest[at + path.len()..];
    }
    false
}

fn write_corpus(cases: &[Case], out: &Path) {
    let mut index = String::from("class\tname\tmode\texpect\tcommand (from this directory)\n");
    for case in cases {
        let dir = out.join(case.class);
        write_files(case, &dir);
        let line = command_line(case, Path::new(case.class));
        let command: Vec<String> = std::iter::once("runbook".to_owned())
            .chain(line.iter().map(|a| {
                if a.len() > 200 {
                    format!(
                        "'{}…({} bytes)'",
                        shown(&a[..a.floor_char_boundary(40)]),
                        a.len()
                    )
                } else {
                    shown(a)
                }
            }))
            .collect();
        writeln!(
            index,
            "{}\t{}\t{:?}\t{:?}\t{}",
            case.class,
            shown(&case.name),
            case.mode,
            case.expect,
            command.join(" ")
        )
        .unwrap();
    }
    std::fs::write(out.join("cases.tsv"), index).unwrap();
    println!("wrote {} cases under {}", cases.len(), out.display());
}
