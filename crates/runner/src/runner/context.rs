//! The template context: what `{{ … }}` and conditions read (inputs, earlier steps, vars,
//! env, `run`, and the locals of one evaluation), with real values, and what a render reads
//! that is secret.

use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};

use minijinja::Value as JinjaValue;
use runbook_lang::Step;
use serde_json::Value;

use crate::failure::{Failure, StepError};
use crate::template_values::{BodyFrame, LocalName, Visible};

use super::Run;

/// Names in scope for one evaluation besides the run-wide ones (`item`, `result`, an
/// element's `as` name), and the frame of the block body it is in.
#[derive(Debug, Clone, Default)]
pub(crate) struct Locals {
    pub(crate) names: Vec<(LocalName, Value)>,
    pub(crate) frame: Option<Arc<BodyFrame>>,
}

impl Locals {
    pub(crate) fn push(&mut self, local: (LocalName, Value)) {
        self.names.push(local);
    }

    /// A sub-runbook's names, in a frame that reads nothing of the runbook running it.
    pub(crate) fn sealed(names: Vec<(LocalName, Value)>) -> Self {
        Self {
            names,
            frame: Some(Arc::new(BodyFrame::sealed())),
        }
    }

    /// Whether these are a sub-runbook's.
    pub(crate) fn is_sealed(&self) -> bool {
        self.frame.as_ref().is_some_and(|frame| frame.is_sealed())
    }

    /// These names, in a new body's frame (which sees the frames around it).
    pub(crate) fn in_body(&self) -> (Self, Arc<BodyFrame>) {
        let frame = Arc::new(BodyFrame::within(self.frame.clone()));
        let scoped = Self {
            names: self.names.clone(),
            frame: Some(Arc::clone(&frame)),
        };
        (scoped, frame)
    }
}

impl Run {
    /// The template context: run-wide names plus `locals`, with real values.
    pub(crate) fn context(&self, locals: &Locals) -> JinjaValue {
        let in_finally = self.in_finally.load(Ordering::SeqCst);
        self.read_state(|state| {
            let handled = state.handled_failure.as_ref();
            // In `finally`, the failure that ended the run comes before one that was handled.
            let (failed_step, error) = match (&state.error, in_finally) {
                (Some(error), true) => (state.current_step.as_deref(), Some(error)),
                _ => (handled.map(|f| f.step.as_str()), handled.map(|f| &f.error)),
            };
            let run = self
                .template_values
                .run_value(state, failed_step, error.map(String::as_str));
            let visible = match (&state.current_step, in_finally) {
                (Some(current), false) => Visible::Through(current),
                _ => Visible::All,
            };
            self.template_values
                .context(visible, run, &locals.names, locals.frame.as_ref())
        })
    }

    /// Renders `value`. A result computed from a secret — a template that reads a value
    /// holding one — becomes a secret itself, so no transformation can carry it out.
    pub(crate) fn render(
        &self,
        value: &Value,
        locals: &Locals,
        what: &str,
    ) -> Result<Value, StepError> {
        if runbook_lang::template::is_literal(value) {
            return Ok(value.clone());
        }
        let context = self.context(locals);
        let rendered = self
            .engine
            .render(value, &context)
            .map_err(|error| StepError::from(Failure::new(format!("{what}: {error}"))))?;
        if !self.redactor.is_empty() && self.reads_secret(value, &context, locals.is_sealed()) {
            self.redactor.add_value(&rendered);
        }
        Ok(rendered)
    }

    pub(crate) fn text(
        &self,
        text: &str,
        locals: &Locals,
        what: &str,
    ) -> Result<String, StepError> {
        let context = self.context(locals);
        let rendered = self
            .engine
            .render_text(text, &context)
            .map_err(|error| StepError::from(Failure::new(format!("{what}: {error}"))))?;
        if !self.redactor.is_empty()
            && self.reads_secret(
                &Value::String(text.to_owned()),
                &context,
                locals.is_sealed(),
            )
        {
            self.redactor.add(&rendered);
        }
        Ok(rendered)
    }

    /// Whether any template in `value` reads a value of `context` that holds a secret.
    pub(super) fn reads_secret(&self, value: &Value, context: &JinjaValue, sealed: bool) -> bool {
        match value {
            Value::String(text) => self
                .read_paths(text)
                .iter()
                .any(|path| self.template_values.reads_secret(context, path, sealed)),
            Value::Array(items) => items
                .iter()
                .any(|item| self.reads_secret(item, context, sealed)),
            Value::Object(map) => map
                .values()
                .any(|item| self.reads_secret(item, context, sealed)),
            _ => false,
        }
    }

    pub(super) fn read_paths(&self, text: &str) -> Arc<Vec<Vec<String>>> {
        let mut cache = self
            .references
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(paths) = cache.get(text) {
            return Arc::clone(paths);
        }
        // The engine's list of names misses some reads (a slice such as `inputs.s[2:5]`), so
        // the names written inside the template's delimiters count too: reading more than
        // needed only redacts more. A template that does not compile is reported when
        // rendered.
        let mut names = self.engine.references(text).unwrap_or_default();
        names.extend(runbook_lang::template::names_written(text));
        let paths: Vec<Vec<String>> = names
            .into_iter()
            .map(|name| name.split('.').map(str::to_owned).collect())
            .collect();
        let paths = Arc::new(paths);
        cache.insert(text.to_owned(), Arc::clone(&paths));
        paths
    }

    pub(crate) fn condition(
        &self,
        expr: &str,
        locals: &Locals,
        what: &str,
    ) -> Result<bool, StepError> {
        self.engine
            .condition(expr, &self.context(locals))
            .map_err(|error| Failure::new(format!("{what} `{expr}`: {error}")).into())
    }

    /// Whether `step` runs. A `when` that cannot be evaluated is a [`StepError::Runbook`]:
    /// the step's `on_failure` is for what the step does, not for whether it runs.
    pub(crate) fn should_run(&self, step: &Step, locals: &Locals) -> Result<bool, StepError> {
        let Some(condition) = &step.when else {
            return Ok(true);
        };
        let expr = &condition.0;
        self.engine
            .condition(expr, &self.context(locals))
            .map_err(|error| {
                StepError::Runbook(format!("`when: {expr}` could not be evaluated: {error}"))
            })
    }
}
