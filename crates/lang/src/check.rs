//! The semantic checks serde cannot do: one action per step, ids, references between steps,
//! template syntax and the names templates read, `on_failure` jumps, reachability, and the
//! limits of each action.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

use crate::locate::{Part, Path};
use crate::model::{
    Action, Goto, InputSpec, InputType, NodeAction, NodeRule, Poll, RetryOn, Runbook, Step,
    ACTION_KEYS, LANGUAGE_VERSION,
};
use crate::parse::Reporter;
use crate::results::{self, ResultShape};
use crate::suggest::{list_or_none, Suggester};
use crate::template::{self, Engine, RUN_FIELDS};
use crate::within_limits;

use hwc_client::models::{
    AomExecutionStatus, CallbackWorkflowResult, FunctionGraphExecutionStatus,
    FunctionGraphSyncExecutionStatus,
};

const AOM_STATUSES: &[&str] = AomExecutionStatus::KNOWN;
const FUNCTIONGRAPH_STATUSES: &[&str] = FunctionGraphExecutionStatus::KNOWN;
const FUNCTIONGRAPH_SYNC_STATUSES: &[&str] = FunctionGraphSyncExecutionStatus::KNOWN;

/// Every check. `unparsed` lists the steps (by index in `steps` then `finally`) that did not
/// parse and stand in as outlines: they are not checked themselves, and what depends on
/// every step being known (reachability) is left for the next pass.
pub(crate) fn check(reporter: &mut Reporter<'_>, runbook: &Runbook, unparsed: &[usize]) {
    check_partial(reporter, runbook);
    let ids = step_ids(reporter, runbook, unparsed);
    let engine = Engine::default();
    let vars = vars_set(runbook);
    // Outputs see every step and variable; each step narrows this.
    let run_wide = Scope {
        runbook,
        ids: &ids,
        step: None,
        item: false,
        node: false,
        result: false,
        vars: &vars,
    };
    for (index, step) in runbook.all_steps().enumerate() {
        if unparsed.contains(&index) {
            continue;
        }
        let path = step_path(runbook, index);
        check_step(reporter, runbook, &ids, index, step, &path);
        within_limits::check_step(reporter, step, &path);
        check_templates(reporter, &engine, run_wide, index, step, &path);
    }
    check_outputs(reporter, &engine, run_wide);
    if unparsed.is_empty() {
        check_reachability(reporter, runbook, &ids);
    }
}

/// The checks that do not need every step: the header.
pub(crate) fn check_partial(reporter: &mut Reporter<'_>, runbook: &Runbook) {
    let root = Path::root();
    if runbook.version != LANGUAGE_VERSION {
        reporter
            .error(
                &root.key("version"),
                Part::Value,
                format!(
                    "unsupported language version {}; this build reads version {LANGUAGE_VERSION}",
                    runbook.version
                ),
            )
            .help = Some(format!("set `version: {LANGUAGE_VERSION}`"));
    }
    within_limits::check_header(reporter, runbook);
    if runbook.name.trim().is_empty() {
        reporter.error(&root.key("name"), Part::Value, "`name` is empty");
    }
    check_not_rendered(
        reporter,
        &root.key("name"),
        "the runbook's `name`",
        &runbook.name,
    );
    if let Some(description) = &runbook.description {
        check_not_rendered(
            reporter,
            &root.key("description"),
            "`description`",
            description,
        );
    }
    for (name, spec) in &runbook.inputs {
        if let Some(description) = &spec.description {
            let at = root.key("inputs").key(name.clone()).key("description");
            check_not_rendered(reporter, &at, "an input's `description`", description);
        }
    }
    for (name, spec) in &runbook.inputs {
        check_input(reporter, name, spec, &root.key("inputs").key(name.clone()));
    }
    for (index, var) in runbook.env.iter().enumerate() {
        let name = &var.name;
        let mut path = root.key("env").index(index);
        if var.secret {
            path = path.key("name");
        }
        if !is_identifier(name) {
            reporter.error(
                &path,
                Part::Value,
                format!("`{name}` is not an environment variable name"),
            );
        } else if is_credential_env(name) {
            reporter
                .error(
                    &path,
                    Part::Value,
                    format!("`{name}` holds a credential; templates may not read it"),
                )
                .help = Some("credentials reach the client from the environment directly".into());
        }
    }
    if let Some(key) = runbook.lock.as_ref().and_then(|lock| lock.key.as_ref()) {
        check_lock_key(reporter, runbook, &root.key("lock").key("key"), key);
    }
    let target = root.key("target");
    if let Some(endpoint) = &runbook.target.endpoint {
        check_url(reporter, &target.key("endpoint"), endpoint);
    }
    for (service, endpoint) in &runbook.target.endpoints {
        let path = target.key("endpoints").key(service.clone());
        if !["aom", "functiongraph"].contains(&service.as_str()) {
            reporter
                .error(&path, Part::Key, format!("unknown service `{service}`"))
                .help = Some("expected `aom` or `functiongraph`".into());
        }
        check_url(reporter, &path, endpoint);
    }
}

/// A lock key names runs in the store and in messages, so it may read only non-secret inputs.
fn check_lock_key(reporter: &mut Reporter<'_>, runbook: &Runbook, path: &Path, key: &str) {
    let mut names = match Engine::default().references(key) {
        Ok(names) => names,
        Err(error) => {
            reporter.error(path, Part::Value, format!("invalid template: {error}"));
            return;
        }
    };
    // The engine misses reads inside slices; a secret input must not slip through one.
    names.extend(
        template::names_written(key)
            .into_iter()
            .filter(|name| name.split('.').next() == Some("inputs")),
    );
    for name in names {
        let mut parts = name.split('.');
        let (root, field) = (parts.next().unwrap_or_default(), parts.next());
        let spec = field.and_then(|field| runbook.inputs.get(field));
        let problem = match (root, spec) {
            ("inputs", Some(spec)) if spec.secret => Some((
                format!("the lock key reads the secret input `{name}`"),
                "a lock key is stored and printed; build it from non-secret inputs",
            )),
            ("inputs", Some(_)) => None,
            ("inputs", None) if field.is_none() => Some((
                "the lock key reads all of `inputs`".to_owned(),
                "name the non-secret inputs it is built from, e.g. `inputs.environment`",
            )),
            ("inputs", None) => Some((
                format!("`{name}` is not a declared input"),
                "declare it under `inputs:`",
            )),
            _ => Some((
                format!("the lock key reads `{name}`"),
                "a lock key is known before the run starts: it may read only `inputs`",
            )),
        };
        if let Some((message, help)) = problem {
            reporter.error(path, Part::Value, message).help = Some(help.into());
        }
    }
}

fn check_url(reporter: &mut Reporter<'_>, path: &Path, url: &str) {
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        reporter.error(path, Part::Value, format!("`{url}` is not an http(s) URL"));
    }
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The variables credentials come from; templates may never read them.
fn is_credential_env(name: &str) -> bool {
    use hwc_client::runtime::credential_env::{AK, AUTH_TOKEN, SECURITY_TOKEN, SK};
    [AK, SK, SECURITY_TOKEN, AUTH_TOKEN]
        .iter()
        .any(|names| names.contains(&name))
}

fn check_input(reporter: &mut Reporter<'_>, name: &str, spec: &InputSpec, path: &Path) {
    if !is_identifier(name) {
        reporter
            .error(
                path,
                Part::Key,
                format!("input name `{name}` cannot be read as `inputs.{name}`"),
            )
            .help = Some("use letters, digits and `_`, starting with a letter".into());
    }
    if let Some(default) = &spec.default {
        if !spec.kind.accepts(default) {
            reporter.error(
                &path.key("default"),
                Part::Value,
                format!(
                    "default is {}, but the input's type is {}",
                    template::json_type(default),
                    spec.kind.name()
                ),
            );
        }
        if spec.required {
            reporter
                .error(
                    &path.key("required"),
                    Part::Value,
                    "a required input cannot have a default",
                )
                .help = Some("drop `required: true` or the `default`".into());
        }
    }
    if let Some(allowed) = &spec.allowed {
        for (index, value) in allowed.iter().enumerate() {
            if !spec.kind.accepts(value) {
                reporter.error(
                    &path.key("enum").index(index),
                    Part::Value,
                    format!(
                        "enum value is {}, but the input's type is {}",
                        template::json_type(value),
                        spec.kind.name()
                    ),
                );
            }
        }
        if let Some(default) = &spec.default {
            if !allowed.contains(default) {
                reporter.error(
                    &path.key("default"),
                    Part::Value,
                    "the default is not one of the `enum` values",
                );
            }
        }
    }
    if let Some(pattern) = &spec.pattern {
        if spec.kind != InputType::String {
            reporter.error(
                &path.key("pattern"),
                Part::Key,
                "`pattern` applies to string inputs only",
            );
        } else if let Err(error) = regex::Regex::new(pattern) {
            reporter.error(
                &path.key("pattern"),
                Part::Value,
                format!(
                    "invalid regular expression: {}",
                    error.to_string().lines().last().unwrap_or("")
                ),
            );
        }
    }
}

/// Where the step at `index` of [`Runbook::all_steps`] is written.
fn step_path(runbook: &Runbook, index: usize) -> Path {
    if runbook.is_finally(index) {
        Path::root()
            .key("finally")
            .index(index - runbook.steps.len())
    } else {
        Path::root().key("steps").index(index)
    }
}

/// Step ids (of `steps` and `finally`, which share one namespace) and their positions;
/// reports bad and duplicate ids.
fn step_ids(
    reporter: &mut Reporter<'_>,
    runbook: &Runbook,
    unparsed: &[usize],
) -> HashMap<String, usize> {
    let mut ids: HashMap<String, usize> = HashMap::new();
    for (index, step) in runbook.all_steps().enumerate() {
        // An outline without an id had a broken one, already reported.
        if step.id.is_empty() && unparsed.contains(&index) {
            continue;
        }
        let path = step_path(runbook, index).key("id");
        let short = within_limits::check_name(reporter, &path, Part::Value, &step.id);
        if short && !is_identifier(&step.id) {
            reporter
                .error(
                    &path,
                    Part::Value,
                    format!(
                        "step id `{}` cannot be read as `steps.{}`",
                        step.id, step.id
                    ),
                )
                .help = Some("use letters, digits and `_`, starting with a letter".into());
        }
        if let Some(first) = ids.get(&step.id) {
            let first_line = reporter
                .locations()
                .span(&step_path(runbook, *first).key("id"), Part::Value);
            let (line, _) = reporter
                .locations()
                .lines()
                .line_col(&reporter.source.text, first_line.start);
            reporter
                .error(
                    &path,
                    Part::Value,
                    format!("duplicate step id `{}`", step.id),
                )
                .help = Some(format!(
                "the first step with this id is on line {line}; ids must be unique"
            ));
        } else {
            ids.insert(step.id.clone(), index);
        }
    }
    ids
}

fn check_step(
    reporter: &mut Reporter<'_>,
    runbook: &Runbook,
    ids: &HashMap<String, usize>,
    index: usize,
    step: &Step,
    path: &Path,
) {
    let actions = step.actions();
    match actions.as_slice() {
        [] => {
            reporter
                .error(
                    &path.key("id"),
                    Part::Key,
                    format!("step `{}` has no action", step.id),
                )
                .help = Some(format!("add one of: {}", ACTION_KEYS.join(", ")));
        }
        [_] => {}
        [first, rest @ ..] => {
            for other in rest {
                reporter
                    .error(
                        &path.key(other.key()),
                        Part::Key,
                        format!(
                            "step `{}` has two actions, `{}` and `{}`",
                            step.id,
                            first.key(),
                            other.key()
                        ),
                    )
                    .help = Some("a step does one thing: split it into two steps".into());
            }
        }
    }
    if step.timeout.is_some_and(|t| t.0.is_zero()) {
        reporter.error(
            &path.key("timeout"),
            Part::Value,
            "a `timeout` of zero can never pass",
        );
    }
    check_timeout_within_run(reporter, runbook, index, step, path);
    if let Some(Goto { max: Some(0), .. }) = step.on_failure.goto() {
        reporter
            .error(
                &path.key("on_failure").key("max"),
                Part::Value,
                "`max: 0` never takes the jump",
            )
            .help = Some("use `on_failure: abort` instead".into());
    }
    if let Some(set) = &step.set {
        for name in set.keys() {
            if !is_identifier(name) {
                reporter
                    .error(
                        &path.key("set").key(name.clone()),
                        Part::Key,
                        format!("`{name}` cannot be read as `vars.{name}`"),
                    )
                    .help = Some("use letters, digits and `_`, starting with a letter".into());
            }
        }
    }
    if let Some(concurrency) = step.concurrency {
        if step.for_each.is_none() {
            reporter.error(
                &path.key("concurrency"),
                Part::Key,
                "`concurrency` needs `for_each`",
            );
        } else if concurrency == 0 {
            reporter.error(
                &path.key("concurrency"),
                Part::Value,
                "`concurrency` must be at least 1",
            );
        }
    }
    if let Some(for_each) = &step.for_each {
        let is_template = for_each
            .as_str()
            .is_some_and(|s| template::shape(s) != template::Shape::Literal);
        if !for_each.is_array() && !is_template {
            reporter.error(
                &path.key("for_each"),
                Part::Value,
                "`for_each` is a list or a `{{ expression }}` giving one",
            );
        }
    }
    if let Some(retry) = &step.retry {
        let at = path.key("retry");
        if retry.attempts == 0 {
            reporter.error(
                &at.key("attempts"),
                Part::Value,
                "`attempts` counts the first try too: at least 1",
            );
        }
        if retry.delay.0 > retry.max_delay.0 {
            reporter.error(
                &at.key("delay"),
                Part::Value,
                format!(
                    "`delay` ({}) is longer than `max_delay` ({})",
                    retry.delay, retry.max_delay
                ),
            );
        }
        for (n, on) in retry.on.iter().enumerate() {
            match on {
                RetryOn::Status(status) if !(100..=599).contains(status) => {
                    reporter.error(
                        &at.key("on").index(n),
                        Part::Value,
                        format!("{status} is not an HTTP status"),
                    );
                }
                RetryOn::Name(name)
                    if name != "retryable" && name != "any" && !is_error_code(name) =>
                {
                    reporter
                        .error(&at.key("on").index(n), Part::Value, format!("`{name}` is not an error class or code"))
                        .help = Some("use `retryable`, `any`, an HTTP status like 500, or an error code like AOM.31001306".into());
                }
                _ => {}
            }
        }
    }
    if let Some(goto) = step.on_failure.goto() {
        let at = path.key("on_failure").key("goto");
        match ids.get(&goto.goto) {
            _ if runbook.is_finally(index) => {
                reporter
                    .error(&at, Part::Value, "a `finally` step cannot jump")
                    .help =
                    Some("use `on_failure: continue` to go on with the next `finally` step".into());
            }
            Some(&target) if runbook.is_finally(target) => {
                reporter
                    .error(
                        &at,
                        Part::Value,
                        format!("`on_failure` goes to `{}`, a `finally` step", goto.goto),
                    )
                    .help = Some("`finally` steps run anyway, after the others".into());
            }
            None => {
                let known = runbook.all_steps().map(|s| s.id.as_str());
                let help = reporter.suggester.did_you_mean(&goto.goto, known);
                reporter
                    .error(
                        &at,
                        Part::Value,
                        format!("`on_failure` goes to `{}`, which is not a step", goto.goto),
                    )
                    .help = help;
            }
            Some(&target) if target <= index && goto.max.is_none() => {
                reporter
                    .error(
                        &at,
                        Part::Value,
                        format!(
                            "`on_failure` jumps back to `{}`: a loop with no bound",
                            goto.goto
                        ),
                    )
                    .help = Some("add `max: N` to bound how many times the jump is taken".into());
            }
            _ => {}
        }
    }
    let needs_deadline = step.aom_wait.is_some() || step.functiongraph_wait.is_some();
    let has_deadline =
        step.timeout.is_some() || runbook.timeout.is_some() || runbook.is_finally(index);
    if needs_deadline && !has_deadline {
        reporter
            .error(&path.key("id"), Part::Key, format!("wait step `{}` has no deadline", step.id))
            .help = Some("add `timeout:` to the step (or a run-level `timeout:`) so a stuck execution cannot hang the run".into());
    }
    match step.action() {
        Some(Action::AomWait(wait)) => {
            let at = path.key("aom.wait");
            check_statuses(
                reporter,
                &at.key("until_status"),
                &wait.until_status,
                AOM_STATUSES,
            );
            check_poll(reporter, &at.key("poll"), &wait.poll);
            check_rules(
                reporter,
                &at.key("when_node_fails"),
                &wait.when_node_fails,
                &[NodeAction::Restart, NodeAction::Skip],
            );
            check_rules(
                reporter,
                &at.key("when_node_pauses"),
                &wait.when_node_pauses,
                &[NodeAction::Continue],
            );
        }
        Some(Action::FunctionGraphWait(wait)) => {
            let at = path.key("functiongraph.wait");
            check_statuses(
                reporter,
                &at.key("until_status"),
                &wait.until_status,
                FUNCTIONGRAPH_STATUSES,
            );
            check_poll(reporter, &at.key("poll"), &wait.poll);
        }
        Some(Action::FunctionGraphRunSync(run)) => {
            check_statuses(
                reporter,
                &path.key("functiongraph.run_sync").key("accept_status"),
                &run.accept_status,
                FUNCTIONGRAPH_SYNC_STATUSES,
            );
        }
        Some(Action::FunctionGraphCallback(callback))
            if template::shape(&callback.result) == template::Shape::Literal
                && !CallbackWorkflowResult::KNOWN.contains(&callback.result.as_str()) =>
        {
            reporter
                .error(
                    &path.key("functiongraph.callback").key("result"),
                    Part::Value,
                    format!("unknown callback result `{}`", callback.result),
                )
                .help = Some(format!(
                "expected one of: {}",
                CallbackWorkflowResult::KNOWN.join(", ")
            ));
        }
        Some(Action::Call(call)) => {
            check_call(reporter, &path.key("call"), &call.operation, &call.params)
        }
        _ => {}
    }
    if let Some(action) = step.action() {
        check_id_segments(reporter, path, &action);
    }
}

/// The ids a workflow action puts in its request's path. The client refuses a bad one for
/// every caller; a literal one is caught here, before the run.
fn check_id_segments(reporter: &mut Reporter<'_>, path: &Path, action: &Action<'_>) {
    let ids: Vec<(&str, &str)> = match action {
        Action::AomStart(start) => vec![("workflow_id", &start.workflow_id)],
        Action::FunctionGraphStart(start) => vec![("workflow_id", &start.workflow_id)],
        Action::FunctionGraphRunSync(sync) => vec![("workflow_id", &sync.workflow_id)],
        Action::FunctionGraphCallback(callback) => vec![("workflow_id", &callback.workflow_id)],
        Action::AomWait(wait) => vec![
            ("workflow_id", &wait.workflow_id),
            ("execution_id", &wait.execution_id),
        ],
        Action::FunctionGraphWait(wait) => vec![
            ("workflow_id", &wait.workflow_id),
            ("execution_id", &wait.execution_id),
        ],
        Action::AomNode(node) => vec![
            ("workflow_id", &node.workflow_id),
            ("execution_id", &node.execution_id),
        ],
        Action::AomStop(stop) | Action::FunctionGraphStop(stop) => vec![
            ("workflow_id", &stop.workflow_id),
            ("execution_id", &stop.execution_id),
        ],
        _ => return,
    };
    let at = path.key(action.key());
    for (field, text) in ids {
        check_path_segment(reporter, &at.key(field), field, text);
    }
}

/// A literal value that cannot be one path segment (`.`, `..`, empty).
fn check_path_segment(reporter: &mut Reporter<'_>, path: &Path, field: &str, text: &str) {
    if template::shape(text) != template::Shape::Literal {
        return;
    }
    if let Some(problem) = hwc_client::runtime::path_segment_problem(text) {
        reporter.error(path, Part::Value, format!("`{field}` {problem}"));
    }
}

/// A step's `timeout` longer than the run's (or `finally`'s) can never be reached: the
/// shorter deadline ends the step first. Likely a unit mistake, but the run is still
/// bounded, so a warning.
fn check_timeout_within_run(
    reporter: &mut Reporter<'_>,
    runbook: &Runbook,
    index: usize,
    step: &Step,
    path: &Path,
) {
    let Some(timeout) = step.timeout else {
        return;
    };
    let (limit, whose) = if runbook.is_finally(index) {
        (Some(runbook.finally_timeout()), "`finally_timeout`")
    } else {
        (runbook.timeout.map(|t| t.0), "the run's `timeout`")
    };
    let Some(limit) = limit else {
        return;
    };
    if timeout.0 > limit {
        let diagnostic = reporter.warning(
            &path.key("timeout"),
            Part::Value,
            format!(
                "the step's timeout of {timeout} is longer than {whose} of {}; the shorter one ends the step",
                crate::duration::format(limit)
            ),
        );
        diagnostic.help = Some("check the unit (`m` is minutes, `h` hours, `d` days)".into());
    }
}

fn is_error_code(name: &str) -> bool {
    match name.split_once('.') {
        Some((service, code)) => {
            !service.is_empty()
                && service.chars().all(|c| c.is_ascii_alphanumeric())
                && !code.is_empty()
                && code.chars().all(|c| c.is_ascii_alphanumeric())
        }
        None => false,
    }
}

fn check_statuses(reporter: &mut Reporter<'_>, path: &Path, statuses: &[String], known: &[&str]) {
    for (index, status) in statuses.iter().enumerate() {
        if !known.contains(&status.as_str()) {
            let help = reporter
                .suggester
                .did_you_mean(status, known.iter().copied())
                .or_else(|| Some(format!("expected one of: {}", known.join(", "))));
            reporter
                .error(
                    &path.index(index),
                    Part::Value,
                    format!("unknown status `{status}`"),
                )
                .help = help;
        }
    }
}

fn check_poll(reporter: &mut Reporter<'_>, path: &Path, poll: &Poll) {
    within_limits::check_poll(reporter, path, poll);
    if poll.min.0.is_zero() {
        reporter.error(
            &path.key("min"),
            Part::Value,
            "`poll.min` must be more than zero",
        );
    }
    if poll.min.0 > poll.max.0 {
        reporter.error(
            &path.key("min"),
            Part::Value,
            format!(
                "`poll.min` ({}) is longer than `poll.max` ({})",
                poll.min, poll.max
            ),
        );
    }
}

fn check_rules(
    reporter: &mut Reporter<'_>,
    path: &Path,
    rules: &[NodeRule],
    allowed: &[NodeAction],
) {
    for (index, rule) in rules.iter().enumerate() {
        let at = path.index(index);
        if !allowed.contains(&rule.then) {
            let names: Vec<&str> = allowed.iter().map(|a| a.name()).collect();
            reporter
                .error(
                    &at.key("then"),
                    Part::Value,
                    format!("`{}` does not apply here", rule.then.name()),
                )
                .help = Some(format!("expected {}", names.join(" or ")));
        }
        match (rule.then, rule.max) {
            (NodeAction::Restart, None) => {
                reporter
                    .error(
                        &at.key("then"),
                        Part::Value,
                        "`restart` needs `max`, the most restarts per node",
                    )
                    .help = Some("add e.g. `max: 3`; an unbounded restart can loop forever".into());
            }
            (NodeAction::Restart, Some(0)) => {
                reporter.error(
                    &at.key("max"),
                    Part::Value,
                    "`max: 0` never restarts; drop the rule instead",
                );
            }
            (NodeAction::Skip | NodeAction::Continue, Some(_)) => {
                reporter.error(&at.key("max"), Part::Key, "`max` applies to `restart` only");
            }
            _ => {}
        }
    }
}

fn check_call(reporter: &mut Reporter<'_>, path: &Path, operation: &str, params: &Value) {
    let Some(meta) = hwc_client::catalogue::operation(operation) else {
        let known: Vec<&str> = hwc_client::catalogue::OPERATIONS
            .iter()
            .map(|op| op.id)
            .collect();
        let help = reporter
            .suggester
            .did_you_mean(operation, known.iter().copied())
            .or_else(|| Some(format!("the spec defines: {}", known.join(", "))));
        reporter
            .error(
                &path.key("operation"),
                Part::Value,
                format!("unknown operation `{operation}`"),
            )
            .help = help;
        return;
    };
    let mut allowed: Vec<&str> = meta
        .params
        .iter()
        .filter(|p| p.client_param.is_none())
        .map(|p| p.field)
        .collect();
    if meta.body.is_some() {
        allowed.push("body");
    }
    match params {
        Value::Object(map) => {
            for key in map.keys() {
                if !allowed.contains(&key.as_str()) {
                    let diagnostic = reporter.error(
                        &path.key("params").key(key.clone()),
                        Part::Key,
                        format!("`{operation}` has no parameter `{key}`"),
                    );
                    diagnostic.help = Some(format!("its parameters: {}", allowed.join(", ")));
                }
            }
            let mut required: Vec<&str> = meta
                .params
                .iter()
                .filter(|p| p.required && p.client_param.is_none())
                .map(|p| p.field)
                .collect();
            if meta.body.as_ref().is_some_and(|b| b.required) {
                required.push("body");
            }
            for param in meta.params.iter().filter(|p| {
                p.location == hwc_client::runtime::ParamLocation::Path && p.client_param.is_none()
            }) {
                if let Some(Value::String(text)) = map.get(param.field) {
                    let at = path.key("params").key(param.field);
                    check_path_segment(reporter, &at, param.field, text);
                }
            }
            for name in required {
                if !map.contains_key(name) {
                    reporter.error(
                        &path.key("params"),
                        Part::Key,
                        format!("`{operation}` needs parameter `{name}`"),
                    );
                }
            }
        }
        Value::String(text) if template::shape(text) != template::Shape::Literal => {}
        _ => {
            reporter.error(
                &path.key("params"),
                Part::Value,
                "`params` is a mapping of parameter names to values",
            );
        }
    }
}

/// What names a template at some place in a step may read.
#[derive(Clone, Copy)]
struct Scope<'a> {
    runbook: &'a Runbook,
    ids: &'a HashMap<String, usize>,
    /// The step the template belongs to; `None` for `outputs`.
    step: Option<usize>,
    item: bool,
    node: bool,
    result: bool,
    /// Variables set by any `set` step, with the first step that sets each.
    vars: &'a HashMap<String, usize>,
}

fn vars_set(runbook: &Runbook) -> HashMap<String, usize> {
    let mut vars = HashMap::new();
    for (index, step) in runbook.all_steps().enumerate() {
        if let Some(set) = &step.set {
            for name in set.keys() {
                vars.entry(name.clone()).or_insert(index);
            }
        }
    }
    vars
}

fn check_templates(
    reporter: &mut Reporter<'_>,
    engine: &Engine,
    run_wide: Scope<'_>,
    index: usize,
    step: &Step,
    path: &Path,
) {
    let Ok(value) = serde_json::to_value(step) else {
        return;
    };
    let mut strings = Vec::new();
    collect_strings(&value, path.clone(), &mut strings);
    for (at, text) in strings {
        let keys: Vec<String> =
            at.0.iter()
                .skip(path.0.len())
                .filter_map(|s| match s {
                    crate::locate::Segment::Key(k) => Some(k.clone()),
                    crate::locate::Segment::Index(_) => None,
                })
                .collect();
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        if keys.first() == Some(&"id") {
            continue;
        }
        if keys == ["name"] {
            check_not_rendered(reporter, &at, "a step's `name`", &text);
            continue;
        }
        let is_condition = is_condition_path(&keys);
        let scope = Scope {
            step: Some(index),
            item: step.for_each.is_some() && !matches!(keys.first(), Some(&"for_each" | &"when")),
            node: is_condition && keys.len() == 3,
            result: is_condition && keys.len() == 2 && keys[1] == "until",
            ..run_wide
        };
        check_string(reporter, engine, &scope, &at, &text, is_condition);
    }
}

/// Text that is shown as written: a template in it would never be filled in.
fn check_not_rendered(reporter: &mut Reporter<'_>, at: &Path, what: &str, text: &str) {
    if template::shape(text) != template::Shape::Literal {
        reporter
            .error(
                at,
                Part::Value,
                format!("{what} is shown as written; the template in it is never rendered"),
            )
            .help = Some("write plain text here; use `log:` to show a rendered value".into());
    }
}

/// Checks one runbook string: its syntax, then every name it reads against `scope`.
fn check_string(
    reporter: &mut Reporter<'_>,
    engine: &Engine,
    scope: &Scope<'_>,
    at: &Path,
    text: &str,
    is_condition: bool,
) {
    let (references, kind) = if is_condition {
        (engine.condition_references(text), "condition")
    } else {
        (engine.references(text), "template")
    };
    match references {
        Ok(names) => check_names(reporter, scope, at, &names),
        Err(error) => {
            reporter.error(at, Part::Value, format!("invalid {kind}: {error}"));
        }
    }
}

fn check_outputs(reporter: &mut Reporter<'_>, engine: &Engine, scope: Scope<'_>) {
    for (name, value) in &scope.runbook.outputs {
        let mut strings = Vec::new();
        collect_strings(
            value,
            Path::root().key("outputs").key(name.clone()),
            &mut strings,
        );
        for (at, text) in strings {
            check_string(reporter, engine, &scope, &at, &text, false);
        }
    }
}

/// Whether a string at these keys (below the step) is a bare-expression condition: the
/// step's `when`, a wait's or retry's `until`, an assert's `that`, a node rule's `when`.
fn is_condition_path(keys: &[&str]) -> bool {
    const WAITS: [&str; 2] = ["aom.wait", "functiongraph.wait"];
    match keys {
        ["when"] => true,
        [parent, "until"] => WAITS.contains(parent) || *parent == "retry",
        ["assert", "that"] => true,
        ["aom.wait", "when_node_fails" | "when_node_pauses", "when"] => true,
        _ => false,
    }
}

fn collect_strings(value: &Value, path: Path, out: &mut Vec<(Path, String)>) {
    match value {
        Value::String(text) => out.push((path, text.clone())),
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                collect_strings(item, path.index(index), out);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                collect_strings(item, path.key(key.clone()), out);
            }
        }
        _ => {}
    }
}

fn check_names(
    reporter: &mut Reporter<'_>,
    scope: &Scope<'_>,
    at: &Path,
    names: &BTreeSet<String>,
) {
    for name in names {
        if let Some((message, help)) = check_name(scope, name, &mut reporter.suggester) {
            reporter.error(at, Part::Value, message).help = help;
        }
    }
}

fn check_name(
    scope: &Scope<'_>,
    name: &str,
    suggester: &mut Suggester,
) -> Option<(String, Option<String>)> {
    let mut parts = name.split('.');
    let root = parts.next().unwrap_or_default();
    let field = parts.next();
    let runbook = scope.runbook;
    match root {
        "inputs" => {
            let field = field?;
            if runbook.inputs.contains_key(field) {
                return None;
            }
            let known: Vec<&str> = runbook.inputs.keys().map(String::as_str).collect();
            Some((
                format!("`inputs.{field}` is not a declared input"),
                suggester.did_you_mean(field, known.iter().copied()).or_else(|| {
                    Some(format!(
                        "declare it under `inputs:` (declared: {})",
                        list_or_none(&known)
                    ))
                }),
            ))
        }
        "steps" => {
            let field = field?;
            match (scope.ids.get(field), scope.step) {
                (None, _) => {
                    let known = runbook.all_steps().map(|s| s.id.as_str());
                    Some((
                        format!("`steps.{field}`: there is no step `{field}`"),
                        suggester.did_you_mean(field, known),
                    ))
                }
                // Only outputs check with no current step; they are computed before `finally`.
                (Some(&target), None) if runbook.is_finally(target) => Some((
                    format!("`steps.{field}` is a `finally` step, which runs after outputs are computed"),
                    None,
                )),
                (Some(&target), Some(current)) if target == current => Some((
                    format!("step `{field}` cannot read its own result"),
                    Some("in `until`, the latest result is `result`".into()),
                )),
                (Some(&target), Some(current)) if target > current => Some((
                    format!("`steps.{field}` is read before step `{field}` runs"),
                    Some("a step can read the results of the steps above it".into()),
                )),
                (Some(&target), _) => {
                    let result_field = parts.next()?;
                    let step = runbook.step_at(target)?;
                    check_result_field(step, result_field, suggester)
                }
            }
        }
        "vars" => {
            let field = field?;
            match (scope.vars.get(field), scope.step) {
                (None, _) => Some((
                    format!("`vars.{field}` is never set"),
                    Some(format!(
                        "set it with a `set:` step above this one, e.g. `set: {{{field}: ...}}`"
                    )),
                )),
                (Some(&setter), None) if runbook.is_finally(setter) => Some((
                    format!("`vars.{field}` is set in `finally`, which runs after outputs are computed"),
                    None,
                )),
                (Some(&setter), Some(current)) if setter > current => Some((
                    format!("`vars.{field}` is read before the step that sets it"),
                    None,
                )),
                _ => None,
            }
        }
        "env" => {
            let field = field?;
            if runbook.env.iter().any(|var| var.name == field) {
                None
            } else {
                Some((
                    format!("`env.{field}` is not in the runbook's `env` allow-list"),
                    Some(format!("add `{field}` to `env:` at the top of the runbook")),
                ))
            }
        }
        "run" => {
            let field = field?;
            if RUN_FIELDS.contains(&field) {
                None
            } else {
                Some((
                    format!("`run.{field}` does not exist"),
                    Some(format!("`run` has: {}", RUN_FIELDS.join(", "))),
                ))
            }
        }
        "item" | "index" if scope.item => None,
        "item" | "index"
            if scope
                .step
                .and_then(|i| runbook.step_at(i))
                .is_some_and(|step| step.for_each.is_some()) =>
        {
            Some((
                format!("`{root}` is not available here"),
                Some("`when` and `for_each` are evaluated once, before the loop; use `item` in the action's fields".into()),
            ))
        }
        "item" | "index" => Some((
            format!("`{root}` exists only in a step with `for_each`"),
            None,
        )),
        "node" if scope.node => None,
        "node" => Some((
            "`node` exists only in `when_node_fails` / `when_node_pauses` rules".into(),
            None,
        )),
        "result" if scope.result => None,
        "result" => Some(("`result` exists only in `until` conditions".into(), None)),
        name if template::is_function(name) => None,
        other => Some((
            format!("unknown name `{other}`"),
            Some(format!("templates read {}", template::ROOTS.join(", "))),
        )),
    }
}

/// `steps.<id>.<field>` against what the step's action returns. `steps.<id>['field']` is
/// not checked: the way to read a field the API may add before the spec says so.
fn check_result_field(
    step: &Step,
    field: &str,
    suggester: &mut Suggester,
) -> Option<(String, Option<String>)> {
    let shape = results::of_step(step);
    if shape.has(field) {
        return None;
    }
    let id = &step.id;
    let escape = format!("a field the API may add is read as `steps.{id}['{field}']`");
    match shape {
        ResultShape::List => Some((
            format!("`steps.{id}` is a list (one result per `for_each` item); it has no `{field}`"),
            Some(format!(
                "read one item's with `steps.{id}[0].{field}`, or all with `steps.{id} | map(attribute='{field}')`"
            )),
        )),
        ResultShape::Fields(fields) => {
            let mut known = fields.clone();
            known.push(results::ALWAYS);
            let help = match suggester.did_you_mean(field, known.iter().copied()) {
                Some(meant) => format!("{meant} ({escape})"),
                None => format!("its result has: {} ({escape})", known.join(", ")),
            };
            let action = step.action().map_or("", |action| action.key());
            Some((
                format!("`steps.{id}.{field}`: the result of `{action}` has no `{field}`"),
                Some(help),
            ))
        }
        ResultShape::Open => None,
    }
}

/// Reports steps no path reaches: after an unconditional `fail` that does not jump.
fn check_reachability(
    reporter: &mut Reporter<'_>,
    runbook: &Runbook,
    ids: &HashMap<String, usize>,
) {
    let count = runbook.steps.len();
    let mut reachable = vec![false; count];
    let mut stack = vec![0usize];
    while let Some(index) = stack.pop() {
        if index >= count || reachable[index] {
            continue;
        }
        reachable[index] = true;
        let step = &runbook.steps[index];
        let always_fails = step.fail.is_some() && step.when.is_none();
        if !always_fails || step.on_failure.continues() {
            stack.push(index + 1);
        }
        if let Some(target) = step.on_failure.goto().and_then(|g| ids.get(&g.goto)) {
            stack.push(*target);
        }
    }
    for (index, step) in runbook.steps.iter().enumerate() {
        if !reachable[index] {
            reporter
                .error(
                    &Path::root().key("steps").index(index).key("id"),
                    Part::Value,
                    format!("step `{}` can never run", step.id),
                )
                .help = Some(
                "the step before it always fails; give that step a `when`, or remove this one"
                    .into(),
            );
            break;
        }
    }
}
