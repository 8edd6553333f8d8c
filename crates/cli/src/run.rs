//! `runbook run FILE`: load, resolve inputs, connect, run with progress, summarise, and map
//! the outcome to the documented exit code.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use clap::Args;
use futures_util::future::BoxFuture;
use runbook_runner::inputs::{self, Given};
use runbook_runner::{Checkpoint, Event, Intent, Observer, RunInput, Runner};
use runbook_store::RunStore;
use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;

use crate::durable;
use crate::exit;
use crate::journal::Journal;
use crate::lease::LeaseTiming;
use crate::refused::{self, NotStarted};
use crate::report::{self, LogFormat, OutputFormat, Reporter};
use crate::store_select::StoreArgs;

/// How long a run that lost its lock waits for the journal to print the log's last lines.
const LOG_AFTER_LOST_LOCK: Duration = Duration::from_secs(2);

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The runbook file.
    pub file: PathBuf,
    /// The inputs a resumed run started with (`runbook resume`); the file and `-i` come
    /// after them.
    #[arg(skip)]
    pub recorded_inputs: Map<String, Value>,
    /// Run against an in-process sandbox instead of Huawei Cloud (no account needed).
    #[arg(long)]
    pub sandbox: bool,
    /// The scenario for --sandbox (default: the built-in one; see `runbook sandbox scenario`).
    #[arg(long, value_name = "FILE", requires = "sandbox")]
    pub scenario: Option<PathBuf>,
    /// With --sandbox, let time pass for real instead of simulating it.
    #[arg(long, requires = "sandbox")]
    pub real_time: bool,
    /// With --sandbox, the seed for ids, backoff jitter and injected faults.
    #[arg(long, default_value_t = 1, requires = "sandbox")]
    pub seed: u64,
    /// Start afresh even if an unfinished run of this runbook (same lock) could be resumed;
    /// that run is marked abandoned.
    #[arg(long)]
    pub new: bool,
    /// Run only what was reviewed: refuse (exit 2) unless the runbook, its non-secret inputs
    /// and the API spec are those `runbook plan … -o FILE` pinned.
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
    /// The schedule fire this run is for, e.g. the scheduled minute
    /// ($(date -u +%Y-%m-%dT%H:%M)): of the runs of this runbook and target given the same
    /// fire, on any host sharing the store, only the first runs; the others exit 75.
    #[arg(long, value_name = "TEXT", conflicts_with = "fire_window")]
    pub fire_key: Option<String>,
    /// Derive the fire from the clock: the window of this length (aligned to the Unix epoch,
    /// so `1h` windows start on the hour) that the run starts in, e.g. `1h` for an hourly
    /// schedule.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub fire_window: Option<Duration>,
    #[command(flatten)]
    pub options: RunOptions,
}

/// What `runbook run` and `runbook resume` both take.
#[derive(Debug, Args)]
pub struct RunOptions {
    /// An input as NAME=VALUE, read according to the input's declared type (repeatable).
    #[arg(short = 'i', long = "input", value_name = "NAME=VALUE")]
    pub inputs: Vec<String>,
    /// A YAML or JSON file mapping input names to values; `-i` overrides it.
    #[arg(long = "inputs", value_name = "FILE")]
    pub inputs_file: Option<PathBuf>,
    /// Region, e.g. cn-north-4 (else the runbook's target.region, else HUAWEICLOUD_SDK_REGION).
    #[arg(long)]
    pub region: Option<String>,
    /// Project id (else the runbook's target.project_id, else HUAWEICLOUD_SDK_PROJECT_ID).
    #[arg(long)]
    pub project_id: Option<String>,
    /// One endpoint for every service, e.g. a proxy or `runbook sandbox serve`.
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// Progress on stderr: `auto` (a live line on a terminal, plain lines otherwise),
    /// `plain`, or `json` (one JSON object per line per event).
    #[arg(long, value_enum, default_value_t = LogFormat::Auto)]
    pub log_format: LogFormat,
    /// The final summary on stdout: `text`, or `json` (the whole run state, for machines).
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    /// The run store (with --sandbox, none is used unless --store or --state-dir is given).
    #[command(flatten)]
    pub store: StoreArgs,
    /// How long the runbook's lock is held without renewal; a holder that cannot renew it in
    /// time stops (exit 75) and another host may take the run over after it runs out. The
    /// holder is named by its host ($RUNBOOK_HOST, else the host name) and pid.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = humantime::parse_duration)]
    pub lease: Duration,
    /// How often the lock's lease is renewed.
    #[arg(long, value_name = "DURATION", default_value = "15s", value_parser = humantime::parse_duration)]
    pub heartbeat: Duration,
    /// How long one request may wait for its answer. A request that starts or changes
    /// something is sent only while the lock's lease outlasts it.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration)]
    pub request_timeout: Duration,
    /// How long a request that starts or changes something may still answer after SIGINT or
    /// SIGTERM, or after its deadline, before its outcome is reported as unknown.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_grace)]
    pub grace: Duration,
    /// When a start's answer was lost, look for its execution among those begun from this
    /// long before the request was sent (clocks differ, requests queue).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_skew)]
    pub reconcile_skew: Duration,
}

fn parse_skew(text: &str) -> Result<Duration, String> {
    let skew = humantime::parse_duration(text).map_err(|error| error.to_string())?;
    if skew > MAX_SKEW {
        return Err(format!(
            "at most {} (a wider window only finds more executions to choose from)",
            humantime::format_duration(MAX_SKEW)
        ));
    }
    Ok(skew)
}

const MAX_SKEW: Duration = Duration::from_secs(60 * 60);

fn parse_grace(text: &str) -> Result<Duration, String> {
    let grace = humantime::parse_duration(text).map_err(|error| error.to_string())?;
    if grace > MAX_GRACE {
        return Err(format!(
            "at most {} (a scheduler kills a process that ignores SIGTERM for longer)",
            humantime::format_duration(MAX_GRACE)
        ));
    }
    Ok(grace)
}

/// Longer than Kubernetes' default termination grace period, so a longer grace would only be
/// cut by SIGKILL.
const MAX_GRACE: Duration = Duration::from_secs(5 * 60);

pub async fn run(args: RunArgs) -> u8 {
    let mode = durable::Mode::Fresh { new: args.new };
    run_in(args, mode).await
}

/// `runbook run`, or with [`durable::Mode::Resume`], `runbook resume`.
pub async fn run_in(args: RunArgs, mode: durable::Mode) -> u8 {
    let format = args.options.log_format;
    if crate::testing::file::is_test_file(&args.file) {
        let problem = format!(
            "{} is a test file: run it with `runbook test {0}`",
            args.file.display()
        );
        return refused::not_started(format, NotStarted::configuration(problem));
    }
    // The store and the lock protect runs that can overlap and be resumed; an in-process
    // sandbox dies with the process, so `--sandbox` uses them only when asked. The store opens
    // on the journal's thread while this one reads the runbook (each takes milliseconds), and
    // then opens the journal's connections, so a run refused for its runbook, inputs or flags
    // may have created the store.
    let opening = (!args.sandbox || args.options.store.given()).then(|| {
        let store = args.options.store.clone();
        crate::journal::on_writer_thread(async move {
            let store = crate::store_select::open(&store).await?;
            crate::journal::prepare(&store);
            Ok(store)
        })
    });
    let (runbook, text) = match crate::validate::load_with_text(&args.file) {
        Ok(loaded) => loaded,
        Err(not_loaded) => return refused::not_started(format, not_loaded.into()),
    };
    let given = match given_inputs(&args) {
        Ok(given) => given,
        Err(problem) => return refused::not_started(format, NotStarted::inputs(vec![problem])),
    };
    let inputs = match inputs::resolve(&runbook, given) {
        Ok(inputs) => inputs,
        Err(problems) => return refused::not_started(format, NotStarted::inputs(problems)),
    };
    if let Some(pins) = &args.plan {
        if let Err(problem) = crate::plan::check_pins(pins, &runbook, &text, &inputs) {
            return refused::not_started(format, NotStarted::configuration(problem));
        }
    }
    // Connecting reads flags, the runbook's target and the environment, never inputs, so its
    // errors cannot quote a secret input.
    let connection = match crate::connect::connect(&args, &runbook).await {
        Ok(connection) => connection,
        Err(problem) => return refused::not_started(format, NotStarted::configuration(problem)),
    };
    // Sub-runbooks read the variables they declare from the same environment.
    let declared = runbook.env_everywhere();
    let env: Map<String, Value> = declared
        .iter()
        .filter_map(|var| {
            std::env::var(&var.name)
                .ok()
                .map(|v| (var.name.clone(), Value::String(v)))
        })
        .collect();
    // A variable the runbook marks secret is redacted like the credentials.
    let mut secrets = connection.secrets.clone();
    secrets.extend(
        declared
            .iter()
            .filter(|var| var.secret)
            .filter_map(|var| env.get(&var.name)?.as_str().map(str::to_owned)),
    );
    let timing = LeaseTiming {
        lease: args.options.lease,
        heartbeat: args.options.heartbeat,
        request_timeout: args.options.request_timeout,
    };
    let timing = match timing.check() {
        Ok(timing) => timing,
        Err(problem) => return refused::not_started(format, NotStarted::configuration(problem)),
    };
    let fire = crate::fire::fire(
        args.fire_key.as_deref(),
        args.fire_window,
        time::OffsetDateTime::now_utc(),
    );
    let fire = match fire {
        Ok(fire) => fire,
        Err(problem) => return refused::not_started(format, NotStarted::configuration(problem)),
    };
    let store = match opening.map(crate::store_select::opened) {
        None => None,
        Some(opened) => match opened.await {
            Ok(store) => Some(store),
            Err(problem) => return refused::not_started(format, NotStarted::store(problem)),
        },
    };
    // Unique across runs and hosts, and sortable by start time; never from the sandbox's
    // seeded randomness.
    let run_id = uuid::Uuid::now_v7().to_string();
    let reporter = report::observer(
        args.options.log_format,
        connection.environment.clock.clone(),
        run_id.clone(),
    );
    reporter.note(&format!("target: {}", connection.description));
    let observers = Arc::new(Observers {
        reporter: Arc::clone(&reporter),
        journal: OnceLock::new(),
        store: store.clone(),
    });
    let clock = connection.environment.clock.clone();
    let runner = Runner::new(connection.client, connection.environment, observers.clone())
        .with_targets(connection.targets)
        .with_grace(args.options.grace)
        .with_reconcile_skew(args.options.reconcile_skew);
    let cancel = runner.cancel_token();
    let suspender = runner.suspender();
    let abort = runner.abort_token();
    let signal_observer = Arc::clone(&reporter);
    let grace = humantime::format_duration(args.options.grace).to_string();
    let resumable = store.is_some();
    // Listening from here, not from when the task first runs.
    let first_signal = crate::signals::shutdown_signal();
    let signals = tokio::spawn(async move {
        let signal = first_signal.await;
        if signal == crate::signals::Shutdown::Terminate && resumable {
            signal_observer.note(&format!(
                "suspending (SIGTERM): stopping at the next wait or request (a request that starts or changes something gets up to {grace} to answer); the next `runbook run` resumes the run; signal again to stop at once"
            ));
            suspender.suspend();
        } else {
            signal_observer.note(&format!(
                "cancelling: stopping at the next wait or request (a request that starts or changes something gets up to {grace} to answer), then running `finally`; signal again to stop at once"
            ));
            cancel.cancel();
        }
        crate::signals::shutdown_signal().await;
        signal_observer.note("stopping at once");
        abort.cancel();
    });
    let shown_inputs = inputs::shown(&runbook, &inputs);
    let mut recorded = None;
    let mut resume = None;
    if let Some(store) = store {
        let begin = durable::Begin {
            run_id: &run_id,
            runbook: &runbook,
            path: &args.file,
            text: &text,
            shown_inputs: &shown_inputs,
            project_id: &connection.project_id,
            clock: clock.clone(),
            fire,
            timing,
        };
        let note = |text: &str| reporter.note(text);
        match durable::begin(store, begin, &mode, &runner.cancel_token(), &note).await {
            Ok(mut run) => {
                let _ = observers.journal.set(run.journal().clone());
                reporter.print_through(run.journal());
                resume = run.take_resume();
                if resume.is_some() {
                    reporter.set_run_id(run.run_id());
                }
                recorded = Some(run);
            }
            Err(refused) => {
                signals.abort();
                reporter.finish();
                return crate::refused::refusal(&runbook, refused, args.options.output);
            }
        }
    }
    let input = RunInput {
        run_id: recorded
            .as_ref()
            .map_or(run_id, |run| run.run_id().to_owned()),
        inputs,
        secrets,
        env,
    };
    let runbook = Arc::new(runbook);
    let running = async {
        match resume {
            Some(resume) => runner.resume(Arc::clone(&runbook), input, resume).await,
            None => runner.run(Arc::clone(&runbook), input).await,
        }
    };
    let lock = recorded.as_ref().and_then(|run| run.lock().cloned());
    // Never cancelled without a lock.
    let lost = lock
        .as_ref()
        .map_or_else(CancellationToken::new, |holding| holding.lost());
    // Losing the lock wins over everything, `finally` included: another process holds it now
    // and goes on with the run, so this one must stop acting at once.
    let state = tokio::select! {
        biased;
        () = lost.cancelled() => None,
        state = running => Some(state),
    };
    signals.abort();
    reporter.finish();
    let Some(mut state) = state else {
        if let Some(run) = &recorded {
            // The store refuses what is left (the fence), but the log still shows it; a store
            // that does not answer (often why the lock was lost) holds the exit up no longer.
            let _ = tokio::time::timeout(LOG_AFTER_LOST_LOCK, run.journal().close()).await;
        }
        let run_id = recorded.as_ref().map_or("", |run| run.run_id());
        if let Some(holding) = &lock {
            crate::refused::lost_lock(&runbook, run_id, holding);
        }
        if let Some(sandbox) = connection.sandbox {
            let _ = sandbox.shutdown().await;
        }
        return exit::SKIPPED;
    };
    let code = exit::for_state(&state);
    if let Some(recorded) = recorded {
        recorded.finish(&mut state, code).await;
    }
    outln!(
        "{}",
        report::summary(&runbook, &state, args.options.output, code)
    );
    if let Some(sandbox) = connection.sandbox {
        let _ = sandbox.shutdown().await;
    }
    // The process ends next (`run` and `resume` are whole commands): freeing a long run's
    // state and runbook node by node would take milliseconds for nothing.
    std::mem::forget(state);
    std::mem::forget(runbook);
    code
}

/// The reporter, and the journal once the run is recorded in the store.
struct Observers {
    reporter: Arc<dyn Reporter>,
    journal: OnceLock<Journal>,
    store: Option<Arc<dyn RunStore>>,
}

impl Observer for Observers {
    fn event(&self, event: &Event) {
        let Some(journal) = self.journal.get() else {
            return self.reporter.event(event);
        };
        match journal.stamp(event) {
            Some(entry) => {
                let shown = self.reporter.shows_journal_lines();
                if !shown {
                    self.reporter.event(event);
                }
                journal.append_event(event, entry, shown);
            }
            None => self.reporter.event(event),
        }
    }

    fn before_change(&self, intent: &Intent) -> BoxFuture<'_, Result<(), String>> {
        match self.journal.get() {
            Some(journal) => journal.before_change(intent),
            None => Box::pin(std::future::ready(Ok(()))),
        }
    }

    fn checkpoint(&self, checkpoint: &Checkpoint<'_>) {
        if let Some(journal) = self.journal.get() {
            journal.checkpoint(checkpoint);
        }
    }

    fn known_executions(
        &self,
        workflow_id: &str,
        since: &str,
    ) -> BoxFuture<'_, Result<Vec<String>, String>> {
        let (workflow_id, since) = (workflow_id.to_owned(), since.to_owned());
        Box::pin(async move {
            match &self.store {
                Some(store) => durable::known_executions(&**store, &workflow_id, &since).await,
                None => Ok(Vec::new()),
            }
        })
    }
}

/// `message` with every quoted part (`"…"` or `` `…` ``) left out, and its position too.
fn without_quoted(message: &str) -> String {
    let mut kept = String::new();
    let mut quote: Option<char> = None;
    for c in message.split(" at line ").next().unwrap_or(message).chars() {
        match quote {
            Some(open) if c == open => quote = None,
            Some(_) => {}
            None if c == '"' || c == '`' => quote = Some(c),
            None => kept.push(c),
        }
    }
    kept.replace("  ", " ")
}

/// The inputs file first, then `-i` (which wins).
fn given_inputs(args: &RunArgs) -> Result<Vec<(String, Given)>, String> {
    given_inputs_from(
        &args.recorded_inputs,
        args.options.inputs_file.as_deref(),
        &args.options.inputs,
    )
}

/// The inputs given to a runbook, typed and with defaults applied, or every problem with
/// them: `recorded` first, then the inputs file, then `-i` pairs.
pub fn resolve_inputs(
    runbook: &runbook_lang::Runbook,
    recorded: &Map<String, Value>,
    inputs_file: Option<&std::path::Path>,
    pairs: &[String],
) -> Result<Map<String, Value>, Vec<String>> {
    let given = given_inputs_from(recorded, inputs_file, pairs).map_err(|problem| vec![problem])?;
    inputs::resolve(runbook, given)
}

fn given_inputs_from(
    recorded: &Map<String, Value>,
    inputs_file: Option<&std::path::Path>,
    pairs: &[String],
) -> Result<Vec<(String, Given)>, String> {
    // By name, so that a later source replaces an earlier one in constant time: an inputs
    // file may name a great many.
    let mut given: indexmap::IndexMap<String, Given> = recorded
        .iter()
        .map(|(name, value)| (name.clone(), Given::Value(value.clone())))
        .collect();
    if let Some(path) = inputs_file {
        let text = crate::files::read_text(path, &crate::files::INPUTS)?;
        // The parser's message quotes what it found, which may be a secret: say where and what
        // kind of thing, never the content.
        // Read within the YAML limits first: an alias bomb is refused by what it expands to.
        let values = runbook_lang::yaml::from_str(&text)
            .and_then(|document| Ok(serde_yaml::from_value::<Map<String, Value>>(document)?));
        let values = values.map_err(|error| {
            let at = error
                .location
                .map(|(line, column)| format!(" (line {line}, column {column})"))
                .unwrap_or_default();
            format!(
                "inputs file {}{at}: expected a mapping of input names to values: {}",
                path.display(),
                without_quoted(&error.message).replace(" ,", ",")
            )
        })?;
        for (name, value) in values {
            given.insert(name, Given::Value(value));
        }
    }
    for pair in pairs {
        let Some((name, value)) = pair.split_once('=') else {
            return Err(format!("`-i {pair}`: write inputs as NAME=VALUE"));
        };
        given.insert(name.trim().to_owned(), Given::Text(value.to_owned()));
    }
    Ok(given.into_iter().collect())
}
