//! The runbook document, as written in YAML. Deserialised with serde, described by schemars;
//! `parse` guarantees the invariants serde cannot express (one action per step, ids, …).
//!
//! Strings may hold minijinja templates (`"{{ steps.start.execution_id }}"`); fields typed
//! [`Condition`] hold a bare expression (`inputs.approve and vars.ready`).

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use indexmap::IndexMap;
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// The only language version this build understands.
pub const LANGUAGE_VERSION: u32 = 1;

/// A runbook: typed inputs, a target, and steps run in order.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Runbook {
    /// Version of the runbook language; `1`.
    pub version: u32,
    /// Short name, shown in logs and summaries.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Inputs, given with `-i name=value` or `--inputs FILE`; read as `inputs.<name>`.
    #[serde(default)]
    pub inputs: IndexMap<String, InputSpec>,
    /// Where the run goes. Never credentials: those come from the environment.
    #[serde(default)]
    pub target: Target,
    /// Environment variables templates may read as `env.<NAME>`; no others are visible. A
    /// name, or `{name: NAME, secret: true}` for a value that must never be shown.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(with = "Vec<EnvEntry>")]
    pub env: Vec<EnvVar>,
    /// The whole run's deadline, e.g. `30m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<DurationText>,
    /// Against overlapping runs (cron, CI schedules and Kubernetes CronJobs all overlap):
    /// which runs exclude each other, and what a run does when another holds the lock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock: Option<Lock>,
    /// The steps, run in order.
    pub steps: Vec<Step>,
    /// Steps run after the others whatever happened: success, failure, timeout or
    /// cancellation. They read `run.status` and `run.error`, and every step above them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub finally: Vec<Step>,
    /// The deadline of the `finally` steps, counted from when they begin (default 5m); the
    /// run's `timeout` does not cut them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finally_timeout: Option<DurationText>,
    /// Values computed when the run succeeds, shown in the summary.
    #[serde(default)]
    pub outputs: IndexMap<String, Value>,
}

/// Which runs exclude each other, and what a run that finds the lock held does.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    /// The lock's name: a template over non-secret inputs, e.g.
    /// `"deploy-{{ inputs.environment }}"`. Default: the runbook's `name` and target project.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default)]
    pub policy: LockPolicy,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LockPolicy {
    /// Do not run; exit 75 (`EX_TEMPFAIL`), naming the run that holds the lock.
    #[default]
    Skip,
    /// Wait for the holder to finish, within the run's `timeout`.
    Wait,
    /// Run anyway: take no lock.
    Allow,
}

impl LockPolicy {
    pub fn name(self) -> &'static str {
        match self {
            Self::Skip => "skip",
            Self::Wait => "wait",
            Self::Allow => "allow",
        }
    }
}

/// How long `finally` steps may take when the runbook does not say.
pub const DEFAULT_FINALLY_TIMEOUT: Duration = Duration::from_secs(5 * 60);

impl Runbook {
    /// The `steps`, then the `finally` steps: one numbering for both, so a `finally` step
    /// reads every step above it like any other step.
    pub fn all_steps(&self) -> impl Iterator<Item = &Step> {
        self.steps.iter().chain(&self.finally)
    }

    /// The step at `index` of [`Runbook::all_steps`].
    pub fn step_at(&self, index: usize) -> Option<&Step> {
        self.steps
            .get(index)
            .or_else(|| self.finally.get(index.checked_sub(self.steps.len())?))
    }

    /// Whether `index` of [`Runbook::all_steps`] is a `finally` step.
    pub fn is_finally(&self, index: usize) -> bool {
        index >= self.steps.len()
    }

    pub fn finally_timeout(&self) -> Duration {
        self.finally_timeout
            .map_or(DEFAULT_FINALLY_TIMEOUT, |timeout| timeout.0)
    }

    /// Every sub-runbook this runbook runs, at any depth, each file once, in the order they
    /// are first met.
    pub fn sub_runbooks(&self) -> Vec<&LoadedRunbook> {
        fn walk<'a>(steps: &'a [Step], found: &mut Vec<&'a LoadedRunbook>) {
            for step in steps {
                if let Some(body) = &step.body {
                    walk(body, found);
                }
                let Some(loaded) = step.runbook.as_ref().and_then(|sub| sub.loaded.as_deref())
                else {
                    continue;
                };
                if found.iter().any(|seen| std::ptr::eq(*seen, loaded)) {
                    continue;
                }
                found.push(loaded);
                walk(&loaded.runbook.steps, found);
                walk(&loaded.runbook.finally, found);
            }
        }
        let mut found = Vec::new();
        walk(&self.steps, &mut found);
        walk(&self.finally, &mut found);
        found
    }

    /// The environment variables templates may read here or in any sub-runbook: each
    /// name once, secret when any runbook marks it so.
    pub fn env_everywhere(&self) -> Vec<EnvVar> {
        let mut vars: Vec<EnvVar> = Vec::new();
        let children = self.sub_runbooks();
        let declared = self
            .env
            .iter()
            .chain(children.iter().flat_map(|child| &child.runbook.env));
        for var in declared {
            match vars.iter_mut().find(|known| known.name == var.name) {
                Some(known) => known.secret |= var.secret,
                None => vars.push(var.clone()),
            }
        }
        vars
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum InputType {
    String,
    Integer,
    Number,
    Boolean,
    Object,
    Array,
}

impl InputType {
    pub fn name(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Integer => "integer",
            Self::Number => "number",
            Self::Boolean => "boolean",
            Self::Object => "object",
            Self::Array => "array",
        }
    }

    /// Whether a JSON value has this type.
    pub fn accepts(self, value: &Value) -> bool {
        match self {
            Self::String => value.is_string(),
            Self::Integer => value.is_i64() || value.is_u64(),
            Self::Number => value.is_number(),
            Self::Boolean => value.is_boolean(),
            Self::Object => value.is_object(),
            Self::Array => value.is_array(),
        }
    }
}

/// One typed input.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    #[serde(rename = "type")]
    pub kind: InputType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Used when the input is not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    /// The run refuses to start without it.
    #[serde(default)]
    pub required: bool,
    /// The only values allowed.
    #[serde(default, rename = "enum", skip_serializing_if = "Option::is_none")]
    pub allowed: Option<Vec<Value>>,
    /// A regular expression a string input must match (anchored at both ends).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// Redacted (`***`) in every log line, error and summary.
    #[serde(default)]
    pub secret: bool,
}

/// Region, project and endpoints. Command-line flags override these; credentials are never
/// here.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// e.g. `cn-north-4`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The project id (32 hex characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    /// One endpoint for every service (a proxy or a sandbox).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Endpoints per service (`aom`, `functiongraph`).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub endpoints: IndexMap<String, String>,
}

/// Where one step's requests go. Fields left out are the run's; a `region` needs its
/// `project_id`, since a project belongs to one region.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepTarget {
    /// e.g. `ap-southeast-1`; may be a template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The project the requests act in; may be a template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    /// The prefix of the environment variables that hold the keys: `PROD_EU` reads
    /// `PROD_EU_AK`, `PROD_EU_SK` and `PROD_EU_SECURITY_TOKEN`; may be a template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<String>,
}

impl StepTarget {
    /// The fields as `(key, value)`, in the order they are written.
    pub fn fields(&self) -> [(&'static str, Option<&String>); 3] {
        [
            ("region", self.region.as_ref()),
            ("project_id", self.project_id.as_ref()),
            ("credentials", self.credentials.as_ref()),
        ]
    }
}

/// What a rendered `target` field must look like, checked on literals by the validator and
/// on rendered values by the runner: a region, a project id and an environment-variable
/// prefix are short words, never a path, a URL or whitespace.
pub fn target_field_problem(key: &str, value: &str) -> Option<String> {
    let (fits, what): (fn(char) -> bool, &str) = match key {
        "region" => (
            |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-',
            "a region such as `cn-north-4` (lowercase letters, digits and `-`)",
        ),
        "project_id" => (
            |c| c.is_ascii_alphanumeric(),
            "a project id (letters and digits)",
        ),
        _ => (
            |c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_',
            "an environment variable prefix such as `PROD_EU` (uppercase letters, digits and `_`)",
        ),
    };
    let most = crate::limits::MAX_TARGET_FIELD_LEN;
    if value.chars().count() > most {
        return Some(format!("{what}: longer than {most} characters"));
    }
    let fine = !value.is_empty()
        && value.chars().all(fits)
        && !(key == "credentials" && value.starts_with(|c: char| c.is_ascii_digit()));
    (!fine).then(|| format!("`{value}` is not {what}"))
}

/// One step: an `id`, exactly one action, and the options every step has.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = exactly_one_action)]
pub struct Step {
    /// Unique; later steps read this step's result as `steps.<id>`.
    pub id: String,
    /// Shown in logs instead of the id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Run the step only when this holds; otherwise it is skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<Condition>,
    /// Run the step once per element of this list (a template or a literal list); the
    /// element is `item`, its position `index`, and the result a list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_each: Option<Value>,
    /// A name for the `for_each` element besides `item`: inside a block, a step with a
    /// `for_each` of its own rebinds `item`, and reads the block's element by this name.
    #[serde(default, rename = "as", skip_serializing_if = "Option::is_none")]
    pub element_name: Option<String>,
    /// A block's body again until `until` holds, at most `max` passes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat: Option<Repeat>,
    /// How many `for_each` elements run at once (default 1); may be a template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<Templated<u32>>,
    /// How many `for_each` elements may fail with the step still succeeding: a count, or a
    /// share of the elements such as `"10%"` (rounded down). Default 0. May be a template,
    /// rendered before any element starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_errors: Option<Templated<ErrorBudget>>,
    /// Launch no more `for_each` elements once more than `max_errors` have failed (the
    /// running ones finish); without it every element runs.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fail_fast: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<Retry>,
    /// The step's deadline, retries and polls included; may be a template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Templated<DurationText>>,
    /// What a failure does: `abort` (default), `continue`, or `{goto: STEP, max: N}`.
    #[serde(default)]
    pub on_failure: OnFailure,
    /// Where this step's requests go instead of the run's target: another region, project
    /// or credential set (each field may be a template, read per element).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<StepTarget>,

    /// Start an AOM workflow (`ExecuteWorkflow`). Result: `execution_id`.
    #[serde(default, rename = "aom.start", skip_serializing_if = "Option::is_none")]
    pub aom_start: Option<AomStart>,
    /// Poll an AOM execution until it ends, handling failed and paused nodes.
    #[serde(default, rename = "aom.wait", skip_serializing_if = "Option::is_none")]
    pub aom_wait: Option<AomWait>,
    /// Start an AOM workflow and wait for that execution to end: `aom.start` and `aom.wait`
    /// in one step, so under `for_each` the `concurrency` bounds executions in flight.
    #[serde(default, rename = "aom.run", skip_serializing_if = "Option::is_none")]
    pub aom_run: Option<AomRun>,
    /// Restart, skip or continue one node of an AOM execution.
    #[serde(default, rename = "aom.node", skip_serializing_if = "Option::is_none")]
    pub aom_node: Option<AomNode>,
    /// Stop an AOM execution that has not ended (`StopExecution`); it ends as `cancel`.
    /// Result: `workflow_id`, `execution_id`, `result`.
    #[serde(default, rename = "aom.stop", skip_serializing_if = "Option::is_none")]
    pub aom_stop: Option<Stop>,
    /// Start a FunctionGraph workflow asynchronously. Result: `execution_id`.
    #[serde(
        default,
        rename = "functiongraph.start",
        skip_serializing_if = "Option::is_none"
    )]
    pub functiongraph_start: Option<FunctionGraphStart>,
    /// Run a FunctionGraph express workflow synchronously. Result: `status`, `output`, …
    #[serde(
        default,
        rename = "functiongraph.run_sync",
        skip_serializing_if = "Option::is_none"
    )]
    pub functiongraph_run_sync: Option<FunctionGraphRunSync>,
    /// Poll a FunctionGraph execution until it ends.
    #[serde(
        default,
        rename = "functiongraph.wait",
        skip_serializing_if = "Option::is_none"
    )]
    pub functiongraph_wait: Option<FunctionGraphWait>,
    /// Start a FunctionGraph workflow and wait for that execution to end:
    /// `functiongraph.start` and `functiongraph.wait` in one step.
    #[serde(
        default,
        rename = "functiongraph.run",
        skip_serializing_if = "Option::is_none"
    )]
    pub functiongraph_run: Option<FunctionGraphRun>,
    /// Answer a FunctionGraph workflow waiting at a callback state.
    #[serde(
        default,
        rename = "functiongraph.callback",
        skip_serializing_if = "Option::is_none"
    )]
    pub functiongraph_callback: Option<FunctionGraphCallback>,
    /// Stop a running FunctionGraph execution (`StopWorkFlow`); it ends as `cancel`.
    /// Result: `workflow_id`, `execution_id`.
    #[serde(
        default,
        rename = "functiongraph.stop",
        skip_serializing_if = "Option::is_none"
    )]
    pub functiongraph_stop: Option<Stop>,
    /// Call any operation of the spec by its operation id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call: Option<Call>,
    /// Set variables, read later as `vars.<name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set: Option<IndexMap<String, Value>>,
    /// Go on at the first entry's step whose `when` holds (an entry without `when` always
    /// does; `goto: end` ends the steps); with no match, at the next step. Forward only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<Vec<BranchArm>>,
    /// Fail the step unless a condition holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assert: Option<Assert>,
    /// Fail with a message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail: Option<String>,
    /// Wait, e.g. `30s` or `"{{ inputs.pause }}"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sleep: Option<Templated<DurationText>>,
    /// Print a message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
    /// Run these steps in order: a block. Under `for_each` the body runs once per element,
    /// under `repeat` once per pass; the result is a map of the body's results (a list of
    /// them, one per element or pass).
    #[serde(default, rename = "do", skip_serializing_if = "Option::is_none")]
    pub body: Option<Vec<Step>>,
    /// Run another runbook file as this step: its steps, then its `finally`; the result is
    /// its `outputs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runbook: Option<SubRunbook>,
}

/// `runbook: {path, inputs}`: another runbook run as one step of this one.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubRunbook {
    /// The file, relative to the runbook that names it. Written as a literal: the child is
    /// read and checked with its parent, before anything runs.
    pub path: String,
    /// The child's inputs; values may be templates, rendered per `for_each` element.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub inputs: IndexMap<String, Value>,
    /// The child as `parse_with_loader` read and checked it.
    #[serde(skip)]
    #[schemars(skip)]
    pub loaded: Option<std::sync::Arc<LoadedRunbook>>,
}

/// A sub-runbook's file, read and checked.
#[derive(Debug)]
pub struct LoadedRunbook {
    /// The file as diagnostics and logs name it.
    pub name: String,
    /// Its text, which the run's digest covers.
    pub text: String,
    /// Its steps, each of its own sub-runbooks' counted at every step that runs one.
    pub steps_counted: usize,
    pub runbook: Runbook,
}

impl SubRunbook {
    /// The checked child; `None` only for a runbook parsed without a loader, which the
    /// validator refuses.
    pub fn child(&self) -> Option<&Runbook> {
        self.loaded.as_deref().map(|loaded| &loaded.runbook)
    }

    /// The child's file name as the user reads it.
    pub fn shown_name(&self) -> &str {
        self.loaded
            .as_deref()
            .map_or(&self.path, |loaded| &loaded.name)
    }
}

/// `repeat: {until, max, delay}` on a block.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Repeat {
    /// Checked after each pass, reading that pass's results as `steps.<id>`.
    pub until: Condition,
    /// The most passes; with `until` still false after the last, the block fails.
    pub max: Templated<u32>,
    /// The pause between passes (none by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<Templated<DurationText>>,
}

/// The names of the actions, as written in YAML.
pub const ACTION_KEYS: &[&str] = &[
    "aom.start",
    "aom.wait",
    "aom.run",
    "aom.node",
    "aom.stop",
    "functiongraph.start",
    "functiongraph.run_sync",
    "functiongraph.wait",
    "functiongraph.run",
    "functiongraph.callback",
    "functiongraph.stop",
    "call",
    "set",
    "branch",
    "assert",
    "fail",
    "sleep",
    "log",
    "do",
    "runbook",
];

fn exactly_one_action(schema: &mut Schema) {
    let one_of: Vec<Value> = ACTION_KEYS
        .iter()
        .map(|key| serde_json::json!({ "required": [key] }))
        .collect();
    schema.insert("oneOf".into(), Value::Array(one_of));
}

/// A step's action, borrowed from the [`Step`].
#[derive(Debug, Clone, Copy)]
pub enum Action<'a> {
    AomStart(&'a AomStart),
    AomWait(&'a AomWait),
    AomRun(&'a AomRun),
    AomNode(&'a AomNode),
    AomStop(&'a Stop),
    FunctionGraphStart(&'a FunctionGraphStart),
    FunctionGraphRunSync(&'a FunctionGraphRunSync),
    FunctionGraphWait(&'a FunctionGraphWait),
    FunctionGraphRun(&'a FunctionGraphRun),
    FunctionGraphCallback(&'a FunctionGraphCallback),
    FunctionGraphStop(&'a Stop),
    Call(&'a Call),
    Set(&'a IndexMap<String, Value>),
    Branch(&'a [BranchArm]),
    Assert(&'a Assert),
    Fail(&'a str),
    Sleep(&'a Templated<DurationText>),
    Log(&'a str),
    Block(&'a [Step]),
    Runbook(&'a SubRunbook),
}

impl Action<'_> {
    /// The YAML key of this action.
    pub fn key(&self) -> &'static str {
        match self {
            Self::AomStart(_) => "aom.start",
            Self::AomWait(_) => "aom.wait",
            Self::AomRun(_) => "aom.run",
            Self::AomNode(_) => "aom.node",
            Self::AomStop(_) => "aom.stop",
            Self::FunctionGraphStart(_) => "functiongraph.start",
            Self::FunctionGraphRunSync(_) => "functiongraph.run_sync",
            Self::FunctionGraphWait(_) => "functiongraph.wait",
            Self::FunctionGraphRun(_) => "functiongraph.run",
            Self::FunctionGraphCallback(_) => "functiongraph.callback",
            Self::FunctionGraphStop(_) => "functiongraph.stop",
            Self::Call(_) => "call",
            Self::Set(_) => "set",
            Self::Branch(_) => "branch",
            Self::Assert(_) => "assert",
            Self::Fail(_) => "fail",
            Self::Sleep(_) => "sleep",
            Self::Log(_) => "log",
            Self::Block(_) => "do",
            Self::Runbook(_) => "runbook",
        }
    }

    /// Whether the action changes something in the cloud (for previews and retry safety).
    pub fn is_mutating(&self) -> bool {
        match self {
            Self::AomStart(_)
            | Self::AomRun(_)
            | Self::AomNode(_)
            | Self::AomStop(_)
            | Self::FunctionGraphStart(_)
            | Self::FunctionGraphRun(_)
            | Self::FunctionGraphRunSync(_)
            | Self::FunctionGraphCallback(_)
            | Self::FunctionGraphStop(_) => true,
            Self::Call(call) => hwc_client::catalogue::operation(&call.operation)
                .is_none_or(|op| op.method != hwc_client::runtime::HttpMethod::Get),
            _ => false,
        }
    }

    /// The API operation whose answer is the action's result: the one it sends, or for a wait
    /// and a start-and-wait the one it polls; `None` for the actions that run in the runner
    /// alone, and for a `call` of an operation the spec lacks.
    pub fn operation(&self) -> Option<&'static hwc_client::runtime::OperationMeta> {
        use hwc_client::catalogue as op;
        Some(match self {
            Self::AomStart(_) => &op::EXECUTE_WORKFLOW,
            Self::AomWait(_) | Self::AomRun(_) => &op::SEARCH_WORKFLOW_EXECUTION_DETAIL,
            Self::AomNode(_) => &op::START_PAUSING_WORKFLOW_EXECUTIONS,
            Self::AomStop(_) => &op::STOP_EXECUTION,
            Self::FunctionGraphStart(_) => &op::START_WORKFLOW_EXECUTION,
            Self::FunctionGraphRunSync(_) => &op::START_SYNC_WORKFLOW_EXECUTION,
            Self::FunctionGraphWait(_) | Self::FunctionGraphRun(_) => &op::SHOW_WORKFLOW_EXECUTION,
            Self::FunctionGraphCallback(_) => &op::CREATE_CALLBACK_WORKFLOW,
            Self::FunctionGraphStop(_) => &op::STOP_WORK_FLOW,
            Self::Call(call) => return op::operation(&call.operation),
            Self::Set(_)
            | Self::Branch(_)
            | Self::Assert(_)
            | Self::Fail(_)
            | Self::Sleep(_)
            | Self::Log(_)
            | Self::Block(_)
            | Self::Runbook(_) => return None,
        })
    }
}

impl Action<'_> {
    /// Whether the runner does this action alone, sending no request.
    pub fn is_local(&self) -> bool {
        matches!(
            self,
            Self::Set(_)
                | Self::Branch(_)
                | Self::Assert(_)
                | Self::Fail(_)
                | Self::Sleep(_)
                | Self::Log(_)
        )
    }

    /// The operation a reviewer most needs to see: the one that starts something, for an
    /// action that starts and then waits; otherwise [`Action::operation`].
    pub fn headline_operation(&self) -> Option<&'static hwc_client::runtime::OperationMeta> {
        use hwc_client::catalogue as op;
        match self {
            Self::AomRun(_) => Some(&op::EXECUTE_WORKFLOW),
            Self::FunctionGraphRun(_) => Some(&op::START_WORKFLOW_EXECUTION),
            _ => self.operation(),
        }
    }
}

impl Step {
    /// Every action this step sets; `parse` guarantees exactly one.
    pub fn actions(&self) -> Vec<Action<'_>> {
        let mut actions = Vec::new();
        if let Some(a) = &self.aom_start {
            actions.push(Action::AomStart(a));
        }
        if let Some(a) = &self.aom_wait {
            actions.push(Action::AomWait(a));
        }
        if let Some(a) = &self.aom_run {
            actions.push(Action::AomRun(a));
        }
        if let Some(a) = &self.aom_node {
            actions.push(Action::AomNode(a));
        }
        if let Some(a) = &self.aom_stop {
            actions.push(Action::AomStop(a));
        }
        if let Some(a) = &self.functiongraph_start {
            actions.push(Action::FunctionGraphStart(a));
        }
        if let Some(a) = &self.functiongraph_run_sync {
            actions.push(Action::FunctionGraphRunSync(a));
        }
        if let Some(a) = &self.functiongraph_wait {
            actions.push(Action::FunctionGraphWait(a));
        }
        if let Some(a) = &self.functiongraph_run {
            actions.push(Action::FunctionGraphRun(a));
        }
        if let Some(a) = &self.functiongraph_callback {
            actions.push(Action::FunctionGraphCallback(a));
        }
        if let Some(a) = &self.functiongraph_stop {
            actions.push(Action::FunctionGraphStop(a));
        }
        if let Some(a) = &self.call {
            actions.push(Action::Call(a));
        }
        if let Some(a) = &self.set {
            actions.push(Action::Set(a));
        }
        if let Some(a) = &self.branch {
            actions.push(Action::Branch(a));
        }
        if let Some(a) = &self.assert {
            actions.push(Action::Assert(a));
        }
        if let Some(a) = &self.fail {
            actions.push(Action::Fail(a));
        }
        if let Some(a) = &self.sleep {
            actions.push(Action::Sleep(a));
        }
        if let Some(a) = &self.log {
            actions.push(Action::Log(a));
        }
        if let Some(a) = &self.body {
            actions.push(Action::Block(a));
        }
        if let Some(a) = &self.runbook {
            actions.push(Action::Runbook(a));
        }
        actions
    }

    /// The step's action. A parsed runbook has exactly one per step.
    pub fn action(&self) -> Option<Action<'_>> {
        let actions = self.actions();
        match actions.as_slice() {
            [one] => Some(*one),
            _ => None,
        }
    }

    /// The name shown in logs.
    pub fn label(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AomStart {
    pub workflow_id: String,
}

/// Polls `SearchWorkflowExecutionDetail` (as often as `poll` says) until the execution
/// reaches one of `until_status` (or `until` holds), applying the node rules on the way.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AomWait {
    pub workflow_id: String,
    pub execution_id: String,
    /// Statuses that end the wait successfully (default `[success]`).
    #[serde(default = "default_until_status")]
    pub until_status: Vec<String>,
    /// Or end the wait successfully when this holds (`result` is the latest poll).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Condition>,
    #[serde(default)]
    pub poll: Poll,
    /// Rules for a failed node, first match wins: `restart` (with `max`) or `skip`.
    /// With no matching rule the step fails.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub when_node_fails: Vec<NodeRule>,
    /// Rules for a paused node or one waiting for approval, first match wins: `continue`.
    /// With no matching rule the wait goes on (someone else may continue it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub when_node_pauses: Vec<NodeRule>,
}

/// `aom.start` then `aom.wait` on the execution it started: the wait's fields without
/// `execution_id`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AomRun {
    pub workflow_id: String,
    /// Statuses that end the wait successfully (default `[success]`).
    #[serde(default = "default_until_status")]
    pub until_status: Vec<String>,
    /// Or end the wait successfully when this holds (`result` is the latest poll).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Condition>,
    #[serde(default)]
    pub poll: Poll,
    /// As `aom.wait`'s: rules for a failed node, first match wins.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub when_node_fails: Vec<NodeRule>,
    /// As `aom.wait`'s: rules for a paused node, first match wins.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub when_node_pauses: Vec<NodeRule>,
}

/// How an AOM wait goes on, whether its step waits (`aom.wait`) or starts and waits
/// (`aom.run`): one view, so the checks and the runner treat both alike.
#[derive(Debug, Clone, Copy)]
pub struct AomWaiting<'a> {
    pub until_status: &'a [String],
    pub until: Option<&'a Condition>,
    pub poll: &'a Poll,
    pub when_node_fails: &'a [NodeRule],
    pub when_node_pauses: &'a [NodeRule],
}

impl AomWait {
    pub fn waiting(&self) -> AomWaiting<'_> {
        AomWaiting {
            until_status: &self.until_status,
            until: self.until.as_ref(),
            poll: &self.poll,
            when_node_fails: &self.when_node_fails,
            when_node_pauses: &self.when_node_pauses,
        }
    }
}

impl AomRun {
    pub fn waiting(&self) -> AomWaiting<'_> {
        AomWaiting {
            until_status: &self.until_status,
            until: self.until.as_ref(),
            poll: &self.poll,
            when_node_fails: &self.when_node_fails,
            when_node_pauses: &self.when_node_pauses,
        }
    }
}

fn default_until_status() -> Vec<String> {
    vec!["success".to_owned()]
}

/// What to do with a node; `node` (`id`, `status`, `restarts`, `output`) is in scope for `when`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NodeRule {
    /// The node ids this rule applies to (default: every node).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes: Option<Vec<String>>,
    /// The rule applies only when this holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<Condition>,
    pub then: NodeAction,
    /// For `restart`: how many times one node may be restarted (required); may be a template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<Templated<u32>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum NodeAction {
    Restart,
    Skip,
    Continue,
}

impl NodeAction {
    pub fn name(self) -> &'static str {
        match self {
            Self::Restart => "restart",
            Self::Skip => "skip",
            Self::Continue => "continue",
        }
    }
}

/// Poll delays: a tenth of the time already waited, kept between `min` and `max`, then
/// shortened at random by up to a tenth (never below `min`). An execution that ends `T` into
/// the wait is seen within `max(min, min(max, T/10))` of its end, and a long wait polls about
/// once per `max`: with the defaults (2s, 30s) about 6, 23, 40 and 150 polls for a 10s, 1m,
/// 5m and 1h execution.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Poll {
    /// The shortest delay, and the first one (default 2s); may be a template.
    #[serde(default = "default_poll_min")]
    pub min: Templated<DurationText>,
    /// The longest delay (default 30s), reached after `10 × max` of waiting; may be a
    /// template.
    #[serde(default = "default_poll_max")]
    pub max: Templated<DurationText>,
}

impl Default for Poll {
    fn default() -> Self {
        Self {
            min: default_poll_min(),
            max: default_poll_max(),
        }
    }
}

/// `poll.min` when a wait does not say.
pub const DEFAULT_POLL_MIN: Duration = Duration::from_secs(2);

/// `poll.max` when a wait does not say.
pub const DEFAULT_POLL_MAX: Duration = Duration::from_secs(30);

fn default_poll_min() -> Templated<DurationText> {
    Templated::Literal(DurationText(DEFAULT_POLL_MIN))
}

fn default_poll_max() -> Templated<DurationText> {
    Templated::Literal(DurationText(DEFAULT_POLL_MAX))
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AomNode {
    pub workflow_id: String,
    pub execution_id: String,
    pub node_id: String,
    pub action: NodeAction,
}

/// The execution a stop step ends (`aom.stop`, `functiongraph.stop`). Stopping one that has
/// already ended fails the step with the service's 400; `on_failure: continue` makes the stop
/// best-effort.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Stop {
    pub workflow_id: String,
    pub execution_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FunctionGraphStart {
    pub workflow_id: String,
    /// The workflow's input (any JSON).
    #[serde(default = "empty_object")]
    pub input: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FunctionGraphRunSync {
    pub workflow_id: String,
    #[serde(default = "empty_object")]
    pub input: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<Value>,
    /// Statuses that count as the step succeeding (default `[success]`). The result is
    /// recorded either way, so later steps can branch on `steps.<id>.status`.
    #[serde(default = "default_until_status")]
    pub accept_status: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FunctionGraphWait {
    pub workflow_id: String,
    pub execution_id: String,
    /// Statuses that end the wait successfully (default `[success]`).
    #[serde(default = "default_until_status")]
    pub until_status: Vec<String>,
    /// Or end the wait successfully when this holds (`result` is the latest poll).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Condition>,
    #[serde(default)]
    pub poll: Poll,
}

/// `functiongraph.start` then `functiongraph.wait` on the execution it started.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FunctionGraphRun {
    pub workflow_id: String,
    /// The workflow's input (any JSON).
    #[serde(default = "empty_object")]
    pub input: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<Value>,
    /// Statuses that end the wait successfully (default `[success]`).
    #[serde(default = "default_until_status")]
    pub until_status: Vec<String>,
    /// Or end the wait successfully when this holds (`result` is the latest poll).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Condition>,
    #[serde(default)]
    pub poll: Poll,
}

/// How a FunctionGraph wait goes on (`functiongraph.wait`, `functiongraph.run`).
#[derive(Debug, Clone, Copy)]
pub struct Waiting<'a> {
    pub until_status: &'a [String],
    pub until: Option<&'a Condition>,
    pub poll: &'a Poll,
}

impl FunctionGraphWait {
    pub fn waiting(&self) -> Waiting<'_> {
        Waiting {
            until_status: &self.until_status,
            until: self.until.as_ref(),
            poll: &self.poll,
        }
    }
}

impl FunctionGraphRun {
    pub fn waiting(&self) -> Waiting<'_> {
        Waiting {
            until_status: &self.until_status,
            until: self.until.as_ref(),
            poll: &self.poll,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FunctionGraphCallback {
    pub workflow_id: String,
    /// The execution id of the run waiting for the callback.
    pub run_id: String,
    /// The id of the callback state.
    pub state_id: String,
    /// `success` or `fail`.
    #[serde(default = "default_callback_result")]
    pub result: String,
    #[serde(default = "empty_object")]
    pub output: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn default_callback_result() -> String {
    "success".to_owned()
}

fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

/// Any operation of the spec, by operation id, with its parameters as JSON (see
/// `runbook schema --operation ID`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Call {
    pub operation: String,
    #[serde(default = "empty_object")]
    pub params: Value,
}

/// One way a `branch` can go.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BranchArm {
    /// Taken when this holds; an entry without it is always taken (the default, last).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<Condition>,
    /// A later step's id, or `end` to end the steps (`finally` still runs).
    pub goto: String,
}

/// Where `goto: end` goes: past the last step.
pub const BRANCH_END: &str = "end";

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Assert {
    pub that: Condition,
    /// Shown when the assertion fails (may be a template).
    pub message: String,
}

/// Step retries: `attempts` in all, exponential backoff from `delay` capped at `max_delay`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    /// Attempts in all, the first included (at least 1); may be a template.
    pub attempts: Templated<u32>,
    /// May be a template.
    #[serde(default = "default_retry_delay")]
    pub delay: Templated<DurationText>,
    /// May be a template.
    #[serde(default = "default_retry_max_delay")]
    pub max_delay: Templated<DurationText>,
    /// Full jitter: each delay is random in `[0, delay]` (default true).
    #[serde(default = "yes")]
    pub jitter: bool,
    /// Which errors are retried: `retryable` (default: 429, 5xx, timeouts, connection
    /// errors; for steps that start or change something, only those that cannot have been
    /// applied), `any`, an HTTP status like `500`, or an error code like `AOM.31001306`.
    #[serde(default = "default_retry_on")]
    pub on: Vec<RetryOn>,
    /// Also retry a successful result until this holds (`result` is the step's result).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Condition>,
}

fn default_retry_delay() -> Templated<DurationText> {
    Templated::Literal(DurationText(Duration::from_secs(1)))
}

fn default_retry_max_delay() -> Templated<DurationText> {
    Templated::Literal(DurationText(Duration::from_secs(60)))
}

fn yes() -> bool {
    true
}

fn default_retry_on() -> Vec<RetryOn> {
    vec![RetryOn::Name("retryable".to_owned())]
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(
    untagged,
    expecting = "an HTTP status (e.g. 500), `retryable`, `any` or an error code"
)]
pub enum RetryOn {
    Status(u16),
    Name(String),
}

/// How many elements of a `for_each` may fail: `2`, or `"10%"` of the elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorBudget {
    Count(u32),
    /// A whole percentage, at most 100.
    Percent(u32),
}

impl ErrorBudget {
    /// The failures allowed among `elements` (a percentage rounded down).
    pub fn allowed(self, elements: usize) -> usize {
        match self {
            Self::Count(count) => usize::try_from(count).unwrap_or(usize::MAX),
            Self::Percent(percent) => {
                elements.saturating_mul(usize::try_from(percent).unwrap_or(100)) / 100
            }
        }
    }
}

impl fmt::Display for ErrorBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Count(count) => write!(f, "{count}"),
            Self::Percent(percent) => write!(f, "{percent}%"),
        }
    }
}

impl<'de> Deserialize<'de> for ErrorBudget {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(
            untagged,
            expecting = "a count such as `2` or a percentage such as `\"10%\"`"
        )]
        enum Given {
            Count(u32),
            Text(String),
        }
        match Given::deserialize(deserializer)? {
            Given::Count(count) => Ok(Self::Count(count)),
            Given::Text(text) => {
                let percent = text
                    .trim()
                    .strip_suffix('%')
                    .and_then(|digits| digits.trim().parse::<u32>().ok())
                    .filter(|percent| *percent <= 100);
                percent.map(Self::Percent).ok_or_else(|| {
                    serde::de::Error::custom(format!(
                        "`{text}` is not an error budget: write a count such as `2` or a \
                         whole percentage from `\"0%\"` to `\"100%\"`"
                    ))
                })
            }
        }
    }
}

impl Serialize for ErrorBudget {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Count(count) => serializer.serialize_u32(*count),
            Self::Percent(_) => serializer.serialize_str(&self.to_string()),
        }
    }
}

impl JsonSchema for ErrorBudget {
    fn schema_name() -> Cow<'static, str> {
        "ErrorBudget".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A count of elements, or a whole percentage of them such as `10%`.",
            "oneOf": [
                {"type": "integer", "minimum": 0},
                {"type": "string", "pattern": "^\\s*(100|[1-9]?[0-9])\\s*%\\s*$"}
            ]
        })
    }
}

/// `abort` (the default), `continue`, or `{goto: STEP, max: N}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(
    untagged,
    expecting = "`abort`, `continue`, or a map `{goto: STEP_ID, max: N}`"
)]
pub enum OnFailure {
    Keyword(FailureKeyword),
    Goto(Goto),
}

impl Default for OnFailure {
    fn default() -> Self {
        Self::Keyword(FailureKeyword::Abort)
    }
}

impl OnFailure {
    pub fn goto(&self) -> Option<&Goto> {
        match self {
            Self::Goto(goto) => Some(goto),
            _ => None,
        }
    }

    pub fn continues(&self) -> bool {
        matches!(self, Self::Keyword(FailureKeyword::Continue))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FailureKeyword {
    Abort,
    Continue,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Goto {
    /// The step to go on from.
    pub goto: String,
    /// How many times this jump may be taken; required for a jump backwards. May be a
    /// template, rendered when the jump is due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<Templated<u32>>,
}

/// A bare minijinja expression, without `{{ }}`: `inputs.approve and node.restarts < 2`.
/// `true` and `false` are expressions too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(transparent)]
pub struct Condition(pub String);

impl<'de> Deserialize<'de> for Condition {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(
            untagged,
            expecting = "a condition: an expression such as `inputs.approve`, or true / false"
        )]
        enum Text {
            Expression(String),
            Literal(bool),
        }
        Ok(match Text::deserialize(deserializer)? {
            Text::Expression(text) => Condition(text),
            Text::Literal(value) => Condition(value.to_string()),
        })
    }
}

/// An environment variable a runbook may read, and whether its value is a secret (redacted
/// like a secret input wherever the run shows it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "EnvEntry", into = "EnvEntry")]
pub struct EnvVar {
    pub name: String,
    pub secret: bool,
}

/// `env:` entries as written: `NAME` or `{name: NAME, secret: true}`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(
    untagged,
    expecting = "a variable name, or `{name: NAME, secret: true}`"
)]
pub enum EnvEntry {
    Name(String),
    Declared {
        name: String,
        #[serde(default)]
        secret: bool,
    },
}

impl From<EnvEntry> for EnvVar {
    fn from(entry: EnvEntry) -> Self {
        match entry {
            EnvEntry::Name(name) => Self {
                name,
                secret: false,
            },
            EnvEntry::Declared { name, secret } => Self { name, secret },
        }
    }
}

impl From<EnvVar> for EnvEntry {
    fn from(var: EnvVar) -> Self {
        if var.secret {
            Self::Declared {
                name: var.name,
                secret: true,
            }
        } else {
            Self::Name(var.name)
        }
    }
}

/// A value written as a literal (`30s`, `4`), or as a template (`"{{ inputs.pause }}"`) that
/// the runner renders when the step starts and holds to the same bounds as a literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Templated<T> {
    Literal(T),
    Template(String),
}

impl<T> Templated<T> {
    /// The value, when it is written as one.
    pub fn literal(&self) -> Option<&T> {
        match self {
            Self::Literal(value) => Some(value),
            Self::Template(_) => None,
        }
    }
}

impl<T: fmt::Display> fmt::Display for Templated<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Literal(value) => value.fmt(f),
            Self::Template(text) => f.write_str(text),
        }
    }
}

impl<'de, T: serde::de::DeserializeOwned> Deserialize<'de> for Templated<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        if let Value::String(text) = &value {
            if crate::template::shape(text) != crate::template::Shape::Literal {
                return Ok(Self::Template(text.clone()));
            }
        }
        T::deserialize(value)
            .map(Self::Literal)
            .map_err(serde::de::Error::custom)
    }
}

impl<T: Serialize> Serialize for Templated<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Literal(value) => value.serialize(serializer),
            Self::Template(text) => serializer.serialize_str(text),
        }
    }
}

impl<T: JsonSchema> JsonSchema for Templated<T> {
    fn schema_name() -> Cow<'static, str> {
        format!("Templated{}", T::schema_name()).into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let literal = generator.subschema_for::<T>();
        json_schema!({
            "anyOf": [
                literal,
                {
                    "type": "string",
                    "description": "A template, e.g. `{{ inputs.pause }}`, rendered when the step starts.",
                    "pattern": "\\{[{%]"
                }
            ]
        })
    }
}

/// A duration such as `90s`, `5m` or `1h 30m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DurationText(pub Duration);

pub use crate::limits::MAX_DURATION;

impl fmt::Display for DurationText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::duration::format(self.0))
    }
}

impl<'de> Deserialize<'de> for DurationText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged, expecting = "a duration such as `30s`, `5m` or `1h 30m`")]
        enum Given {
            Text(String),
            Number(f64),
        }
        let text = match Given::deserialize(deserializer)? {
            Given::Text(text) => text,
            Given::Number(n) => {
                return Err(serde::de::Error::custom(format!(
                    "`{n}` has no unit; write e.g. `{n}s` or `{n}m`"
                )))
            }
        };
        let duration = crate::duration::parse(&text).map_err(|error| {
            serde::de::Error::custom(format!("{}; {}", error.message, error.help))
        })?;
        Ok(DurationText(duration))
    }
}

impl Serialize for DurationText {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl JsonSchema for DurationText {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "A duration: a number and a unit (ms, s, m, h, d), e.g. `30s`, `5m`, `1h 30m`.",
            "pattern": "^\\s*([0-9]+\\s*[a-zA-Zµ]+\\s*)+$"
        })
    }
}
