//! Scenarios: the projects, credentials and workflows a sandbox serves, read from YAML.
//!
//! The built-in default scenario (`default_scenario.yaml`) covers every behaviour; tests and
//! examples rely on its ids, which the README lists.

use std::collections::BTreeSet;
use std::time::Duration;

use serde::Deserialize;

/// The scenario the sandbox serves when none is given.
pub const DEFAULT_SCENARIO: &str = include_str!("default_scenario.yaml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub projects: Vec<Project>,
    /// Faults by operation id (`ExecuteWorkflow`, …), drawn deterministically from the seed.
    #[serde(default)]
    pub faults: std::collections::BTreeMap<String, Fault>,
    /// Scripted answers by operation id and call number (`script.rs`); they win over faults.
    #[serde(default)]
    pub script: std::collections::BTreeMap<String, Vec<crate::script::Scripted>>,
}

/// Failure rates for one operation, each between 0 and 1, applied before authentication as a
/// gateway would.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// Share of requests answered 500.
    #[serde(default)]
    pub error_500: f64,
    /// Share of requests answered 429 with `Retry-After`.
    #[serde(default)]
    pub throttle_429: f64,
    /// The `Retry-After` of a 429, in seconds.
    #[serde(default = "one")]
    pub retry_after_secs: u64,
    /// Share of requests whose connection breaks after the status line, as if the
    /// connection dropped; the operation is not applied.
    #[serde(default)]
    pub drop: f64,
    /// Share of requests that take effect and then lose their answer: the operation is
    /// applied, then the connection breaks after the status line. The client cannot tell
    /// whether it took effect.
    #[serde(default)]
    pub apply_then_drop: f64,
    /// Added before the operation is applied (real time). The operation is applied after it
    /// even when the client has hung up meanwhile, as a service would.
    #[serde(default, with = "duration_text")]
    pub latency: Duration,
}

fn one() -> u64 {
    1
}

/// The user of a project whose scenario names none.
fn default_user() -> String {
    "iam-user".to_owned()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Project {
    /// 32 characters, like a real project id.
    pub id: String,
    #[serde(default)]
    pub description: String,
    /// The IAM user the project's keys and tokens belong to: executions they start name it
    /// as `created_by`.
    #[serde(default = "default_user")]
    pub user: String,
    #[serde(default)]
    pub credentials: Vec<AccessKey>,
    /// IAM tokens accepted in `X-Auth-Token` for this project.
    #[serde(default)]
    pub tokens: Vec<String>,
    #[serde(default)]
    pub aom_workflows: Vec<AomWorkflow>,
    #[serde(default)]
    pub functiongraph_workflows: Vec<FgWorkflow>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessKey {
    pub ak: String,
    pub sk: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AomWorkflow {
    pub id: String,
    #[serde(default)]
    pub description: String,
    pub nodes: Vec<AomNode>,
}

/// One node of an AOM workflow and what it does when it runs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AomNode {
    pub id: String,
    pub behaviour: NodeBehaviour,
    /// How long the node runs before its behaviour takes effect.
    #[serde(default, with = "duration_text")]
    pub duration: Duration,
    /// The node's output when it succeeds.
    #[serde(default)]
    pub output: serde_json::Value,
    /// For `fail`: fail this many attempts, then succeed; absent means always fail.
    #[serde(default)]
    pub fail_attempts: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeBehaviour {
    /// Succeed after `duration` with `output`.
    Succeed,
    /// Fail (always, or the first `fail_attempts` attempts); the execution then waits for
    /// `restart` or `skip`.
    Fail,
    /// Stop at a pause node until `continue`.
    Pause,
    /// Wait for approval (`continue` approves).
    Approval,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FgWorkflow {
    pub id: String,
    #[serde(default)]
    pub description: String,
    pub kind: FgWorkflowKind,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum FgWorkflowKind {
    /// An express workflow, for `sync-executions`.
    Express {
        outcome: ExpressOutcome,
        #[serde(default, with = "duration_text")]
        duration: Duration,
    },
    /// A standard workflow, for async executions: its states run in order.
    Standard { states: Vec<FgState> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpressOutcome {
    /// Succeed; the output is `{"echo": <input>, "workflow_id": …}`.
    Echo,
    /// Fail with one node error.
    Fail,
    /// End as `timeout`.
    Timeout,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FgState {
    pub id: String,
    /// `run` finishes after `duration`; `callback` waits for a callback.
    pub kind: FgStateKind,
    #[serde(default, with = "duration_text")]
    pub duration: Duration,
    #[serde(default)]
    pub output: serde_json::Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FgStateKind {
    Run,
    Callback,
}

mod duration_text {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text).map_err(|e| {
            serde::de::Error::custom(format!(
                "`{text}` is not a duration like `2s` or `1m 30s`: {e}"
            ))
        })
    }
}

/// `script.Op[0].body.status`.
fn display_path(path: &[crate::script::Segment]) -> String {
    let mut text = String::new();
    for segment in path {
        match segment {
            crate::script::Segment::Key(key) if text.is_empty() => text.push_str(key),
            crate::script::Segment::Key(key) => text.push_str(&format!(".{key}")),
            crate::script::Segment::Index(index) => text.push_str(&format!("[{index}]")),
        }
    }
    text
}

/// A scenario that could not be used, located as `file:line:col` when possible.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}{}: {message}", .location.map(|(l, c)| format!(":{l}:{c}")).unwrap_or_default())]
pub struct ScenarioError {
    pub origin: String,
    pub location: Option<(usize, usize)>,
    pub message: String,
    /// Where the problem is, from the scenario's root, when it was found after parsing;
    /// empty otherwise.
    pub path: Vec<crate::script::Segment>,
}

impl Scenario {
    /// The built-in scenario.
    pub fn default_scenario() -> Self {
        match Self::parse("<built-in default scenario>", DEFAULT_SCENARIO) {
            Ok(scenario) => scenario,
            Err(error) => unreachable!("the built-in scenario is checked by a test: {error}"),
        }
    }

    /// Parses and checks a scenario; `origin` names it in errors (a file path).
    pub fn parse(origin: &str, text: &str) -> Result<Self, ScenarioError> {
        let scenario: Scenario = serde_yaml::from_str(text).map_err(|e| ScenarioError {
            origin: origin.to_owned(),
            location: e.location().map(|l| (l.line(), l.column())),
            message: e
                .to_string()
                .split(" at line ")
                .next()
                .unwrap_or_default()
                .to_owned(),
            path: Vec::new(),
        })?;
        scenario.check().map_err(|message| ScenarioError {
            origin: origin.to_owned(),
            location: None,
            message,
            path: Vec::new(),
        })?;
        crate::script::check(&scenario.script).map_err(|problem| ScenarioError {
            origin: origin.to_owned(),
            location: None,
            message: format!("{}: {}", display_path(&problem.path), problem.message),
            path: problem.path,
        })?;
        Ok(scenario)
    }

    fn check(&self) -> Result<(), String> {
        for (operation, fault) in &self.faults {
            if hwc_client::catalogue::operation(operation).is_none() {
                return Err(format!(
                    "faults: `{operation}` is not an operation of the spec"
                ));
            }
            let rates = [
                fault.error_500,
                fault.throttle_429,
                fault.drop,
                fault.apply_then_drop,
            ];
            if rates.iter().any(|r| !(0.0..=1.0).contains(r)) || rates.iter().sum::<f64>() > 1.0 {
                return Err(format!(
                    "faults.{operation}: rates must be between 0 and 1 and add up to at most 1"
                ));
            }
        }
        let mut projects = BTreeSet::new();
        let mut access_keys = BTreeSet::new();
        for project in &self.projects {
            if project.id.chars().count() != 32 {
                return Err(format!(
                    "project `{}`: a project id has exactly 32 characters",
                    project.id
                ));
            }
            if !projects.insert(&project.id) {
                return Err(format!("project `{}` is declared twice", project.id));
            }
            for key in &project.credentials {
                if !access_keys.insert(&key.ak) {
                    return Err(format!("access key `{}` belongs to two projects", key.ak));
                }
            }
            let mut ids = BTreeSet::new();
            for workflow in &project.aom_workflows {
                if !ids.insert(&workflow.id) {
                    return Err(format!(
                        "workflow `{}` is declared twice in project {}",
                        workflow.id, project.id
                    ));
                }
                if workflow.nodes.is_empty() {
                    return Err(format!("AOM workflow `{}` has no nodes", workflow.id));
                }
            }
            for workflow in &project.functiongraph_workflows {
                if !ids.insert(&workflow.id) {
                    return Err(format!(
                        "workflow `{}` is declared twice in project {}",
                        workflow.id, project.id
                    ));
                }
            }
        }
        Ok(())
    }

    /// The project an access key belongs to, with its secret key.
    pub fn project_of_access_key(&self, ak: &str) -> Option<(&Project, &str)> {
        self.projects.iter().find_map(|p| {
            p.credentials
                .iter()
                .find(|k| k.ak == ak)
                .map(|k| (p, k.sk.as_str()))
        })
    }

    pub fn project_of_token(&self, token: &str) -> Option<&Project> {
        self.projects
            .iter()
            .find(|p| p.tokens.iter().any(|t| t == token))
    }

    pub fn project(&self, id: &str) -> Option<&Project> {
        self.projects.iter().find(|p| p.id == id)
    }
}

impl Project {
    pub fn aom_workflow(&self, id: &str) -> Option<&AomWorkflow> {
        self.aom_workflows.iter().find(|w| w.id == id)
    }

    pub fn fg_workflow(&self, id: &str) -> Option<&FgWorkflow> {
        self.functiongraph_workflows.iter().find(|w| w.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_scenario_parses() {
        let scenario = Scenario::parse("default", DEFAULT_SCENARIO).unwrap();
        assert!(!scenario.projects.is_empty());
    }

    #[test]
    fn errors_name_file_line_and_column() {
        let text = "projects:\n  - id: 0123456789abcdef0123456789abcdef\n    aom_workflows:\n      - id: w\n        nodes:\n          - {id: n, behaviour: explode}\n";
        let error = Scenario::parse("s.yaml", text).unwrap_err();
        assert_eq!(error.location.map(|(l, _)| l), Some(6), "{error}");
        assert!(error.to_string().starts_with("s.yaml:6:"), "{error}");
        assert!(error.to_string().contains("explode"), "{error}");

        let bad_duration = text.replace("behaviour: explode", "behaviour: succeed, duration: soon");
        let error = Scenario::parse("s.yaml", &bad_duration).unwrap_err();
        assert!(
            error.to_string().contains("`soon` is not a duration"),
            "{error}"
        );

        let short_id = "projects:\n  - id: short\n";
        let error = Scenario::parse("s.yaml", short_id).unwrap_err();
        assert!(
            error.to_string().contains("exactly 32 characters"),
            "{error}"
        );
    }
}
