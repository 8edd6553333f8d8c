//! The checks of one step: its action (exactly one), its ids, statuses, polls, node rules,
//! `call` operation and parameters, and its deadline against the run's.

use serde_json::Value;

use super::tree::StepTree;
use super::{is_identifier, AOM_STATUSES, FUNCTIONGRAPH_STATUSES, FUNCTIONGRAPH_SYNC_STATUSES};
use crate::locate::{Part, Path};
use crate::model::{
    Action, AomWaiting, BranchArm, Goto, NodeAction, NodeRule, Poll, RetryOn, Runbook, Step,
    StepTarget, Templated, Waiting, ACTION_KEYS, BRANCH_END,
};
use crate::parse::Reporter;
use crate::template;
use crate::within_limits;

use hwc_client::models::CallbackWorkflowResult;

pub(super) fn check_step(
    reporter: &mut Reporter<'_>,
    runbook: &Runbook,
    tree: &StepTree<'_>,
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
    if step
        .timeout
        .as_ref()
        .and_then(Templated::literal)
        .is_some_and(|t| t.0.is_zero())
    {
        reporter.error(
            &path.key("timeout"),
            Part::Value,
            "a `timeout` of zero can never pass",
        );
    }
    check_timeout_within_run(reporter, runbook, tree.is_finally(index), step, path);
    super::block::check_block(reporter, tree, index, step, path);
    super::sub::check_sub_runbook(reporter, step, path);
    if let Some(target) = &step.target {
        check_target(reporter, step, target, &path.key("target"));
    }
    if let Some(Goto {
        max: Some(Templated::Literal(0)),
        ..
    }) = step.on_failure.goto()
    {
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
    if let Some(concurrency) = &step.concurrency {
        if step.for_each.is_none() {
            reporter.error(
                &path.key("concurrency"),
                Part::Key,
                "`concurrency` needs `for_each`",
            );
        } else if concurrency.literal() == Some(&0) {
            reporter.error(
                &path.key("concurrency"),
                Part::Value,
                "`concurrency` must be at least 1",
            );
        }
    }
    if step.for_each.is_none() {
        if step.max_errors.is_some() {
            reporter.error(
                &path.key("max_errors"),
                Part::Key,
                "`max_errors` needs `for_each`",
            );
        }
        if step.fail_fast {
            reporter.error(
                &path.key("fail_fast"),
                Part::Key,
                "`fail_fast` needs `for_each`",
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
        if retry.attempts.literal() == Some(&0) {
            reporter.error(
                &at.key("attempts"),
                Part::Value,
                "`attempts` counts the first try too: at least 1",
            );
        }
        if let (Some(delay), Some(max_delay)) = (retry.delay.literal(), retry.max_delay.literal()) {
            if delay.0 > max_delay.0 {
                reporter.error(
                    &at.key("delay"),
                    Part::Value,
                    format!("`delay` ({delay}) is longer than `max_delay` ({max_delay})"),
                );
            }
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
        match tree.ids.get(&goto.goto) {
            _ if tree.is_finally(index) => {
                reporter
                    .error(&at, Part::Value, "a `finally` step cannot jump")
                    .help =
                    Some("use `on_failure: continue` to go on with the next `finally` step".into());
            }
            Some(&target) if tree.is_finally(target) => {
                reporter
                    .error(
                        &at,
                        Part::Value,
                        format!("`on_failure` goes to `{}`, a `finally` step", goto.goto),
                    )
                    .help = Some("`finally` steps run anyway, after the others".into());
            }
            Some(&target) if tree.parent(target) != tree.parent(index) => {
                reporter
                    .error(
                        &at,
                        Part::Value,
                        format!(
                            "`on_failure` goes to `{}`, which is in another list of steps",
                            goto.goto
                        ),
                    )
                    .help = Some(jump_help(tree, index));
            }
            None => {
                let known = tree.entries.iter().map(|e| e.step.id.as_str());
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
    let needs_deadline = step.aom_wait.is_some()
        || step.functiongraph_wait.is_some()
        || step.aom_run.is_some()
        || step.functiongraph_run.is_some();
    let has_deadline = step.timeout.is_some()
        || runbook.timeout.is_some()
        || tree.is_finally(index)
        || tree
            .blocks_around(index)
            .any(|block| tree.step(block).is_some_and(|b| b.timeout.is_some()));
    if needs_deadline && !has_deadline {
        reporter
            .error(&path.key("id"), Part::Key, format!("wait step `{}` has no deadline", step.id))
            .help = Some("add `timeout:` to the step (or a run-level `timeout:`) so a stuck execution cannot hang the run".into());
    }
    if let Some(arms) = &step.branch {
        check_branch(reporter, tree, index, step, arms, path);
    }
    match step.action() {
        Some(Action::AomWait(wait)) => {
            check_aom_waiting(reporter, &path.key("aom.wait"), wait.waiting());
        }
        Some(Action::AomRun(run)) => {
            check_aom_waiting(reporter, &path.key("aom.run"), run.waiting());
        }
        Some(Action::FunctionGraphWait(wait)) => {
            check_waiting(reporter, &path.key("functiongraph.wait"), wait.waiting());
        }
        Some(Action::FunctionGraphRun(run)) => {
            check_waiting(reporter, &path.key("functiongraph.run"), run.waiting());
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

/// What a jump out of, or into, a block is told.
fn jump_help(tree: &StepTree<'_>, index: usize) -> String {
    match tree.parent(index).and_then(|block| tree.step(block)) {
        Some(block) => format!(
            "a jump stays in its list: this step is in block `{}`, and goes to one of its steps or `end`",
            block.id
        ),
        None => "a jump stays in its list: the steps of a block are reached through the block"
            .into(),
    }
}

/// A branch goes forward to steps that exist, once, from `steps`; an entry after one
/// without `when` is never reached.
fn check_branch(
    reporter: &mut Reporter<'_>,
    tree: &StepTree<'_>,
    index: usize,
    step: &Step,
    arms: &[BranchArm],
    step_path: &Path,
) {
    let path = &step_path.key("branch");
    if tree.is_finally(index) {
        reporter
            .error(path, Part::Key, "a `finally` step cannot branch")
            .help = Some("`finally` steps all run, in order".into());
        return;
    }
    if step.for_each.is_some() {
        reporter.error(
            &step_path.key("for_each"),
            Part::Key,
            "a `branch` decides once: it takes no `for_each`",
        );
    }
    if arms.is_empty() {
        reporter.error(path, Part::Value, "a `branch` needs at least one entry");
    }
    let mut default_at: Option<usize> = None;
    for (n, arm) in arms.iter().enumerate() {
        let at = path.index(n);
        if let Some(default) = default_at {
            reporter
                .error(
                    &at,
                    Part::Value,
                    format!(
                        "never reached: `branch[{default}]` has no `when`, so it is always taken"
                    ),
                )
                .help = Some("put the entry without `when` last".into());
        }
        if arm.when.is_none() && default_at.is_none() {
            default_at = Some(n);
        }
        let goto = at.key("goto");
        if arm.goto == BRANCH_END {
            if tree.ids.contains_key(BRANCH_END) {
                reporter
                    .error(
                        &goto,
                        Part::Value,
                        "`goto: end` ends the steps, and a step is also named `end`",
                    )
                    .help = Some("rename the step `end`".into());
            }
            continue;
        }
        match tree.ids.get(&arm.goto) {
            None => {
                let siblings = tree
                    .entries
                    .iter()
                    .filter(|e| e.parent == tree.parent(index));
                let known = siblings.map(|e| e.step.id.as_str());
                let help = reporter.suggester.did_you_mean(&arm.goto, known);
                reporter
                    .error(
                        &goto,
                        Part::Value,
                        format!("`branch` goes to `{}`, which is not a step", arm.goto),
                    )
                    .help = help.or_else(|| Some("or `end`, to end the steps".into()));
            }
            Some(&target) if tree.is_finally(target) => {
                reporter
                    .error(
                        &goto,
                        Part::Value,
                        format!("`branch` goes to `{}`, a `finally` step", arm.goto),
                    )
                    .help = Some("`goto: end` ends the steps; `finally` runs anyway".into());
            }
            Some(&target) if tree.parent(target) != tree.parent(index) => {
                reporter
                    .error(
                        &goto,
                        Part::Value,
                        format!(
                            "`branch` goes to `{}`, which is in another list of steps",
                            arm.goto
                        ),
                    )
                    .help = Some(jump_help(tree, index));
            }
            Some(&target) if target <= index => {
                reporter
                    .error(
                        &goto,
                        Part::Value,
                        format!(
                            "`branch` goes back to `{}`: a branch goes forward only",
                            arm.goto
                        ),
                    )
                    .help = Some(
                    "to repeat steps, jump back from a failure with `on_failure: {goto, max}`"
                        .into(),
                );
            }
            Some(_) => {}
        }
    }
}

fn check_aom_waiting(reporter: &mut Reporter<'_>, at: &Path, waiting: AomWaiting<'_>) {
    check_statuses(
        reporter,
        &at.key("until_status"),
        waiting.until_status,
        AOM_STATUSES,
    );
    check_poll(reporter, &at.key("poll"), waiting.poll);
    check_rules(
        reporter,
        &at.key("when_node_fails"),
        waiting.when_node_fails,
        &[NodeAction::Restart, NodeAction::Skip],
    );
    check_rules(
        reporter,
        &at.key("when_node_pauses"),
        waiting.when_node_pauses,
        &[NodeAction::Continue],
    );
}

fn check_waiting(reporter: &mut Reporter<'_>, at: &Path, waiting: Waiting<'_>) {
    check_statuses(
        reporter,
        &at.key("until_status"),
        waiting.until_status,
        FUNCTIONGRAPH_STATUSES,
    );
    check_poll(reporter, &at.key("poll"), waiting.poll);
}

/// The ids a workflow action puts in its request's path. The client refuses a bad one for
/// every caller; a literal one is caught here, before the run.
fn check_id_segments(reporter: &mut Reporter<'_>, path: &Path, action: &Action<'_>) {
    let ids: Vec<(&str, &str)> = match action {
        Action::AomStart(start) => vec![("workflow_id", &start.workflow_id)],
        Action::AomRun(run) => vec![("workflow_id", &run.workflow_id)],
        Action::FunctionGraphRun(run) => vec![("workflow_id", &run.workflow_id)],
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
    finally: bool,
    step: &Step,
    path: &Path,
) {
    let Some(timeout) = step.timeout.as_ref().and_then(Templated::literal) else {
        return;
    };
    let (limit, whose) = if finally {
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
    if poll.min.literal().is_some_and(|min| min.0.is_zero()) {
        reporter.error(
            &path.key("min"),
            Part::Value,
            "`poll.min` must be more than zero",
        );
    }
    if let (Some(min), Some(max)) = (poll.min.literal(), poll.max.literal()) {
        if min.0 > max.0 {
            reporter.error(
                &path.key("min"),
                Part::Value,
                format!("`poll.min` ({min}) is longer than `poll.max` ({max})"),
            );
        }
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
        match (rule.then, rule.max.as_ref().map(Templated::literal)) {
            (NodeAction::Restart, None) => {
                reporter
                    .error(
                        &at.key("then"),
                        Part::Value,
                        "`restart` needs `max`, the most restarts per node",
                    )
                    .help = Some("add e.g. `max: 3`; an unbounded restart can loop forever".into());
            }
            (NodeAction::Restart, Some(Some(0))) => {
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

/// A step's `target`: on a step that sends requests, naming something, a region with its
/// project, and literal fields that look like what they name.
fn check_target(reporter: &mut Reporter<'_>, step: &Step, target: &StepTarget, at: &Path) {
    if let Some(action) = step.action().filter(Action::is_local) {
        reporter
            .error(
                at,
                Part::Key,
                format!("`{}` sends no request, so it has no target", action.key()),
            )
            .help = Some("drop `target`: it applies to steps that call the API".into());
    }
    if target.fields().iter().all(|(_, value)| value.is_none()) {
        reporter
            .error(at, Part::Value, "an empty `target` changes nothing")
            .help = Some("name a `region`, `project_id` or `credentials`, or drop it".into());
    }
    if target.region.is_some() && target.project_id.is_none() {
        reporter
            .error(
                &at.key("region"),
                Part::Key,
                "a `region` without its `project_id`: a project belongs to one region",
            )
            .help = Some("add the region's `project_id` to the target".into());
    }
    for (key, value) in target.fields() {
        let Some(value) = value else { continue };
        if template::shape(value) != template::Shape::Literal {
            continue;
        }
        if let Some(problem) = crate::model::target_field_problem(key, value) {
            reporter.error(
                &at.key(key),
                Part::Value,
                format!("target.{key}: {problem}"),
            );
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
