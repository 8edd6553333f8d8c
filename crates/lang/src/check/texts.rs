//! Every string of a step, with what the runner does with it: renders it as a template,
//! evaluates it as a condition (and with which names in scope), or uses it as written.
//!
//! This is the checker's one list of a step's strings. It walks the typed model, so a new
//! action's fields are listed here, next to the action, rather than found by serialising the
//! step and guessing from key names.

use serde_json::Value;

use crate::locate::Path;
use crate::model::{Action, AomWaiting, NodeRule, RetryOn, Step, Templated, Waiting};

/// What the runner does with a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    /// Rendered as a template before it is used.
    Template,
    /// A bare expression, evaluated for true or false. `result` (a wait's or retry's
    /// `until`) and `node` (a node rule's `when`) are in scope besides the run's names.
    Condition { result: bool, node: bool },
    /// Free text used as written, never rendered: a template here would stay `{{ … }}`.
    /// `what` names it in the error, `help` says what to write instead.
    AsWritten {
        what: &'static str,
        help: &'static str,
    },
    /// A name from a known set (a status, an operation id, a step id, a retry class), used as
    /// written; the check of that set refuses anything else, a template included.
    Name,
}

/// One string of a step.
#[derive(Debug)]
pub(super) struct Text<'a> {
    pub at: Path,
    pub text: &'a str,
    pub role: Role,
    /// Whether `item` and `index` are in scope: inside a `for_each` step, except in the
    /// `for_each` list itself and in `when`, which are read before any element exists.
    pub per_item: bool,
    /// Read after a block's body, seeing its steps (`repeat.until`).
    pub after_body: bool,
}

/// Every string of `step` (at `path`), in document order of its fields.
pub(super) fn step_texts<'a>(step: &'a Step, path: &Path) -> Vec<Text<'a>> {
    let mut texts = Texts {
        out: Vec::new(),
        per_item: false,
        after_body: false,
    };
    if let Some(name) = &step.name {
        texts.push(path.key("name"), name, STEP_NAME);
    }
    if let Some(when) = &step.when {
        texts.condition(path.key("when"), &when.0, false, false);
    }
    if let Some(for_each) = &step.for_each {
        texts.value(path.key("for_each"), for_each);
    }
    // Rendered when the step starts, before any element exists.
    if let Some(Templated::Template(text)) = &step.timeout {
        texts.template(path.key("timeout"), text);
    }
    if let Some(Templated::Template(text)) = &step.concurrency {
        texts.template(path.key("concurrency"), text);
    }
    if let Some(Templated::Template(text)) = &step.max_errors {
        texts.template(path.key("max_errors"), text);
    }
    // Rendered when the jump is due, after the elements.
    if let Some(Templated::Template(text)) = step.on_failure.goto().and_then(|g| g.max.as_ref()) {
        texts.template(path.key("on_failure").key("max"), text);
    }
    if let Some(repeat) = &step.repeat {
        let at = path.key("repeat");
        // `max` is rendered before the first pass, `delay` before each next one, and
        // `until` after each pass, reading that pass's steps.
        if let Templated::Template(text) = &repeat.max {
            texts.template(at.key("max"), text);
        }
        if let Some(Templated::Template(text)) = &repeat.delay {
            texts.template(at.key("delay"), text);
        }
        texts.after_body = true;
        texts.condition(at.key("until"), &repeat.until.0, false, false);
        texts.after_body = false;
    }
    texts.per_item = step.for_each.is_some();
    if let Some(name) = &step.element_name {
        texts.push(path.key("as"), name, Role::Name);
    }
    if let Some(retry) = &step.retry {
        let at = path.key("retry");
        for (key, field) in [("delay", &retry.delay), ("max_delay", &retry.max_delay)] {
            if let Templated::Template(text) = field {
                texts.template(at.key(key), text);
            }
        }
        if let Templated::Template(text) = &retry.attempts {
            texts.template(at.key("attempts"), text);
        }
        for (index, on) in retry.on.iter().enumerate() {
            if let RetryOn::Name(name) = on {
                texts.push(at.key("on").index(index), name, RETRY_ON);
            }
        }
        if let Some(until) = &retry.until {
            texts.condition(at.key("until"), &until.0, true, false);
        }
    }
    if let Some(goto) = step.on_failure.goto() {
        texts.push(path.key("on_failure").key("goto"), &goto.goto, GOTO);
    }
    if let Some(target) = &step.target {
        for (key, value) in target.fields() {
            if let Some(value) = value {
                texts.template(path.key("target").key(key), value);
            }
        }
    }
    if let Some(action) = step.action() {
        texts.action(&path.key(action.key()), action);
    }
    texts.out
}

/// Every string of a JSON value that is rendered as a whole (a run's `outputs`).
pub(super) fn value_texts<'a>(at: Path, value: &'a Value) -> Vec<Text<'a>> {
    let mut texts = Texts {
        out: Vec::new(),
        per_item: false,
        after_body: false,
    };
    texts.value(at, value);
    texts.out
}

const STATUS: Role = Role::Name;
const RETRY_ON: Role = Role::Name;
const GOTO: Role = Role::Name;
const STEP_NAME: Role = Role::AsWritten {
    what: "a step's `name`",
    help: SHOWN_AS_WRITTEN_HELP,
};
const NODE_IDS: Role = Role::AsWritten {
    what: "a node rule's `nodes`",
    help: "list node ids as written; to pick nodes by a value, use `when: node.id == …`",
};

/// What to write instead of a template in text that is only shown.
pub(super) const SHOWN_AS_WRITTEN_HELP: &str =
    "write plain text here; use `log:` to show a rendered value";

struct Texts<'a> {
    out: Vec<Text<'a>>,
    per_item: bool,
    after_body: bool,
}

impl<'a> Texts<'a> {
    fn push(&mut self, at: Path, text: &'a str, role: Role) {
        self.out.push(Text {
            at,
            text,
            role,
            per_item: self.per_item,
            after_body: self.after_body,
        });
    }

    fn template(&mut self, at: Path, text: &'a str) {
        self.push(at, text, Role::Template);
    }

    fn condition(&mut self, at: Path, text: &'a str, result: bool, node: bool) {
        self.push(at, text, Role::Condition { result, node });
    }

    /// A JSON value rendered as a whole: every string in it is a template.
    fn value(&mut self, at: Path, value: &'a Value) {
        match value {
            Value::String(text) => self.template(at, text),
            Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    self.value(at.index(index), item);
                }
            }
            Value::Object(map) => {
                for (key, item) in map {
                    self.value(at.key(key.clone()), item);
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }

    fn statuses(&mut self, at: Path, statuses: &'a [String]) {
        for (index, status) in statuses.iter().enumerate() {
            self.push(at.index(index), status, STATUS);
        }
    }

    fn node_rules(&mut self, at: Path, rules: &'a [NodeRule]) {
        for (index, rule) in rules.iter().enumerate() {
            let at = at.index(index);
            for (n, node) in rule.nodes.iter().flatten().enumerate() {
                self.push(at.key("nodes").index(n), node, NODE_IDS);
            }
            if let Some(when) = &rule.when {
                self.condition(at.key("when"), &when.0, false, true);
            }
            if let Some(Templated::Template(text)) = &rule.max {
                self.template(at.key("max"), text);
            }
        }
    }

    fn waiting(&mut self, at: &Path, waiting: Waiting<'a>) {
        for (key, field) in [("min", &waiting.poll.min), ("max", &waiting.poll.max)] {
            if let Templated::Template(text) = field {
                self.template(at.key("poll").key(key), text);
            }
        }
        self.statuses(at.key("until_status"), waiting.until_status);
        if let Some(until) = waiting.until {
            self.condition(at.key("until"), &until.0, true, false);
        }
    }

    fn aom_waiting(&mut self, at: &Path, waiting: AomWaiting<'a>) {
        self.waiting(
            at,
            Waiting {
                until_status: waiting.until_status,
                until: waiting.until,
                poll: waiting.poll,
            },
        );
        self.node_rules(at.key("when_node_fails"), waiting.when_node_fails);
        self.node_rules(at.key("when_node_pauses"), waiting.when_node_pauses);
    }

    fn action(&mut self, at: &Path, action: Action<'a>) {
        match action {
            Action::AomStart(start) => self.template(at.key("workflow_id"), &start.workflow_id),
            Action::AomWait(wait) => {
                self.template(at.key("workflow_id"), &wait.workflow_id);
                self.template(at.key("execution_id"), &wait.execution_id);
                self.aom_waiting(at, wait.waiting());
            }
            Action::AomRun(run) => {
                self.template(at.key("workflow_id"), &run.workflow_id);
                self.aom_waiting(at, run.waiting());
            }
            Action::AomNode(node) => {
                self.template(at.key("workflow_id"), &node.workflow_id);
                self.template(at.key("execution_id"), &node.execution_id);
                self.template(at.key("node_id"), &node.node_id);
            }
            Action::AomStop(stop) | Action::FunctionGraphStop(stop) => {
                self.template(at.key("workflow_id"), &stop.workflow_id);
                self.template(at.key("execution_id"), &stop.execution_id);
            }
            Action::FunctionGraphStart(start) => {
                self.template(at.key("workflow_id"), &start.workflow_id);
                self.value(at.key("input"), &start.input);
                if let Some(headers) = &start.headers {
                    self.value(at.key("headers"), headers);
                }
            }
            Action::FunctionGraphRunSync(sync) => {
                self.template(at.key("workflow_id"), &sync.workflow_id);
                self.value(at.key("input"), &sync.input);
                if let Some(headers) = &sync.headers {
                    self.value(at.key("headers"), headers);
                }
                self.statuses(at.key("accept_status"), &sync.accept_status);
            }
            Action::FunctionGraphWait(wait) => {
                self.template(at.key("workflow_id"), &wait.workflow_id);
                self.template(at.key("execution_id"), &wait.execution_id);
                self.waiting(at, wait.waiting());
            }
            Action::FunctionGraphRun(run) => {
                self.template(at.key("workflow_id"), &run.workflow_id);
                self.value(at.key("input"), &run.input);
                if let Some(headers) = &run.headers {
                    self.value(at.key("headers"), headers);
                }
                self.waiting(at, run.waiting());
            }
            Action::FunctionGraphCallback(callback) => {
                self.template(at.key("workflow_id"), &callback.workflow_id);
                self.template(at.key("run_id"), &callback.run_id);
                self.template(at.key("state_id"), &callback.state_id);
                self.template(at.key("result"), &callback.result);
                self.value(at.key("output"), &callback.output);
                if let Some(error) = &callback.error {
                    self.template(at.key("error"), error);
                }
            }
            Action::Call(call) => {
                self.push(at.key("operation"), &call.operation, Role::Name);
                self.value(at.key("params"), &call.params);
            }
            Action::Set(set) => {
                for (name, value) in set {
                    self.value(at.key(name.clone()), value);
                }
            }
            Action::Branch(arms) => {
                for (index, arm) in arms.iter().enumerate() {
                    let at = at.index(index);
                    if let Some(when) = &arm.when {
                        self.condition(at.key("when"), &when.0, false, false);
                    }
                    self.push(at.key("goto"), &arm.goto, Role::Name);
                }
            }
            Action::Assert(assert) => {
                self.condition(at.key("that"), &assert.that.0, false, false);
                self.template(at.key("message"), &assert.message);
            }
            Action::Fail(message) | Action::Log(message) => self.template(at.clone(), message),
            Action::Sleep(Templated::Template(text)) => self.template(at.clone(), text),
            Action::Sleep(Templated::Literal(_)) => {}
            // Each step of the body is checked as a step of its own.
            Action::Block(_) => {}
            // The path is checked where the file is read; a template there is refused.
            Action::Runbook(sub) => {
                self.push(at.key("path"), &sub.path, Role::Name);
                for (name, value) in &sub.inputs {
                    self.value(at.key("inputs").key(name.clone()), value);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::model::ACTION_KEYS;

    /// Every action, every field that holds text set. A new action or field is added there,
    /// or `every_string_of_a_step_is_listed` cannot vouch for it.
    const EVERY_FIELD: &str = include_str!("../../tests/fixtures/every_field.yaml");
    const EVERY_FIELD_CHILD: &str = include_str!("../../tests/fixtures/every_field_child.yaml");

    fn every_field() -> crate::Runbook {
        let files = crate::InMemory::new([
            ("every-field.yaml", EVERY_FIELD),
            ("every_field_child.yaml", EVERY_FIELD_CHILD),
        ]);
        crate::parse_with_loader(&files.root("every-field.yaml").unwrap(), &files)
            .unwrap()
            .0
    }

    /// The strings of `value` as `(path, text)`, as serde writes the step.
    fn serialised_strings(value: &Value, at: Path, out: &mut BTreeSet<(String, String)>) {
        match value {
            Value::String(text) => {
                out.insert((at.to_string(), text.clone()));
            }
            Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    serialised_strings(item, at.index(index), out);
                }
            }
            Value::Object(map) => {
                for (key, item) in map {
                    serialised_strings(item, at.key(key.clone()), out);
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }

    /// Serialised strings that are not text a runbook writes: ids, durations and keywords.
    fn is_not_text(path: &str) -> bool {
        let last = path.rsplit('.').next().unwrap_or(path);
        [
            "id",
            "timeout",
            "delay",
            "max_delay",
            "min",
            "max",
            "then",
            "action",
            "sleep",
            "max_errors",
        ]
        .contains(&last)
            || path.ends_with("on_failure")
            || path.contains(".poll.")
    }

    #[test]
    fn every_string_of_a_step_is_listed() {
        let runbook = every_field();
        let used: BTreeSet<&str> = runbook
            .steps
            .iter()
            .filter_map(|step| step.action().map(|action| action.key()))
            .collect();
        let all: BTreeSet<&str> = ACTION_KEYS.iter().copied().collect();
        assert_eq!(used, all, "EVERY_FIELD must use every action");

        let top = runbook
            .steps
            .iter()
            .enumerate()
            .map(|(index, step)| (Path::root().key("steps").index(index), step));
        let inner = top.clone().flat_map(|(path, step)| {
            step.body
                .iter()
                .flatten()
                .enumerate()
                .map(move |(index, inner)| (path.key("do").index(index), inner))
        });
        for (path, step) in top.chain(inner) {
            let listed: BTreeSet<(String, String)> = step_texts(step, &path)
                .into_iter()
                .map(|text| (text.at.to_string(), text.text.to_owned()))
                .collect();
            let mut serialised = BTreeSet::new();
            serialised_strings(&serde_json::to_value(step).unwrap(), path, &mut serialised);
            serialised.retain(|(at, _)| !is_not_text(at) && !at.contains(".do["));
            let missing: Vec<_> = serialised.difference(&listed).collect();
            assert!(
                missing.is_empty(),
                "step `{}`: not listed: {missing:?}",
                step.id
            );
        }
    }

    #[test]
    fn roles_follow_what_the_runner_does_with_each_string() {
        let runbook = every_field();
        let role = |step: usize, at: &str| {
            let path = Path::root().key("steps").index(step);
            let texts = step_texts(&runbook.steps[step], &path);
            let text = texts
                .iter()
                .find(|text| text.at.to_string().ends_with(at))
                .unwrap_or_else(|| panic!("no text at {at}"));
            (text.role, text.per_item)
        };
        let no_scope = Role::Condition {
            result: false,
            node: false,
        };
        assert_eq!(role(0, "when"), (no_scope, false));
        assert_eq!(role(0, "for_each"), (Role::Template, false));
        assert_eq!(role(0, "concurrency"), (Role::Template, false));
        assert_eq!(role(0, "retry.attempts"), (Role::Template, true));
        assert_eq!(role(0, "retry.delay"), (Role::Template, true));
        let sleep = runbook.steps.iter().position(|s| s.id == "sleep").unwrap();
        assert_eq!(role(sleep, "timeout"), (Role::Template, false));
        assert_eq!(role(sleep, "sleep"), (Role::Template, false));
        assert_eq!(role(0, "workflow_id"), (Role::Template, true));
        assert_eq!(
            role(0, "retry.until"),
            (
                Role::Condition {
                    result: true,
                    node: false
                },
                true
            )
        );
        assert_eq!(role(0, "name"), (STEP_NAME, false));
        assert_eq!(role(0, "goto"), (Role::Name, true));
        assert_eq!(
            role(1, "when_node_fails[0].when"),
            (
                Role::Condition {
                    result: false,
                    node: true
                },
                false
            )
        );
        assert_eq!(role(1, "when_node_fails[0].nodes[0]"), (NODE_IDS, false));
        assert_eq!(role(1, "until_status[0]"), (Role::Name, false));
        let call = runbook.steps.iter().position(|s| s.id == "call").unwrap();
        assert_eq!(role(call, "operation"), (Role::Name, false));
        assert_eq!(role(call, "params.workflow_id"), (Role::Template, false));
        let aom_run = runbook
            .steps
            .iter()
            .position(|s| s.id == "aom_run")
            .unwrap();
        assert_eq!(role(aom_run, "poll.min"), (Role::Template, false));
        assert_eq!(
            role(aom_run, "when_node_pauses[0].when"),
            (
                Role::Condition {
                    result: false,
                    node: true
                },
                false
            )
        );
        assert_eq!(
            role(aom_run, "until"),
            (
                Role::Condition {
                    result: true,
                    node: false
                },
                false
            )
        );
    }
}
