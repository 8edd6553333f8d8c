//! Where a step's requests go when it names a `target` (another region, project or credential
//! set). The runner renders the fields and asks the [`Targets`] it was given for a client — it
//! knows no endpoints and no environment variables itself — once per distinct target in a
//! run; a request names its client by a [`TargetRef`] its deadline carries.

use std::sync::PoisonError;

use hwc_client::Client;
use runbook_lang::limits::MAX_TARGETS;
use runbook_lang::{target_field_problem, StepTarget};
use serde_json::Value;

use crate::event::Event;
use crate::failure::{Failure, StepError};
use crate::runner::{as_written, Locals, Run};
pub use crate::state::TargetSpec;

/// A client for one target, what to redact, and one line for the log.
pub struct Reached {
    pub client: Client,
    /// The credentials' secrets: redacted from the moment the target is reached.
    pub secrets: Vec<String>,
    /// Where requests go, e.g. `region ap-southeast-1, project …`; never a secret.
    pub description: String,
}

/// Builds clients for the targets steps name (the CLI's: from the environment, or the
/// sandbox's projects).
pub trait Targets: Send + Sync {
    fn reach(&self, target: &TargetSpec) -> Result<Reached, String>;
}

/// Without [`Targets`], a step that names a target fails and says why.
pub(crate) struct NoTargets;

impl Targets for NoTargets {
    fn reach(&self, _: &TargetSpec) -> Result<Reached, String> {
        Err("this runner was given no way to reach other targets".to_owned())
    }
}

/// Which client a request uses: the run's, or the n-th target the run reached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TargetRef(Option<usize>);

/// The targets a run has reached, in the order it reached them.
#[derive(Default)]
pub(crate) struct Reachable {
    reached: std::sync::Mutex<Vec<(TargetSpec, Client)>>,
}

impl Run {
    /// The client for a step element's target: rendered, checked, and reached once per run.
    pub(crate) fn reach(
        &self,
        step: &str,
        target: &StepTarget,
        locals: &Locals,
    ) -> Result<TargetRef, StepError> {
        let mut spec = TargetSpec::default();
        for (key, written) in target.fields() {
            let Some(written) = written else { continue };
            let what = format!("target.{key}");
            let rendered = self.render(&Value::String(written.clone()), locals, &what)?;
            let text = as_written(&rendered);
            if let Some(problem) = target_field_problem(key, &text) {
                return Err(Failure::new(format!("{what}: {problem}")).into());
            }
            let field = match key {
                "region" => &mut spec.region,
                "project_id" => &mut spec.project_id,
                _ => &mut spec.credentials,
            };
            *field = Some(text);
        }
        let mut reached = self
            .reachable
            .reached
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(known) = reached.iter().position(|(known, _)| *known == spec) {
            return Ok(TargetRef(Some(known)));
        }
        if reached.len() >= MAX_TARGETS {
            return Err(Failure::new(format!(
                "target: this run already reached {MAX_TARGETS} targets, the most one run may; \
                 split the run, one per group of regions or projects"
            ))
            .into());
        }
        let target = self
            .targets()
            .reach(&spec)
            .map_err(|error| Failure::new(format!("target: {error}")))?;
        for secret in &target.secrets {
            self.redactor().add(secret);
        }
        reached.push((spec, target.client));
        let index = reached.len() - 1;
        drop(reached);
        self.emit(Event::Log {
            step: step.to_owned(),
            message: format!("target: {}", target.description),
        });
        Ok(TargetRef(Some(index)))
    }

    /// What a request under `target` records of where it went (`None`: the run's target).
    pub(crate) fn target_spec(&self, target: TargetRef) -> Option<TargetSpec> {
        let reached = self
            .reachable
            .reached
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        target
            .0
            .and_then(|index| reached.get(index))
            .map(|(spec, _)| spec.clone())
    }

    /// The client a request under `target` uses.
    pub(crate) fn client_for(&self, target: TargetRef) -> Client {
        let reached = self
            .reachable
            .reached
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match target.0.and_then(|index| reached.get(index)) {
            Some((_, client)) => client.clone(),
            None => self.client().clone(),
        }
    }
}
