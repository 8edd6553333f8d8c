//! What templates read: `inputs`, `steps`, `vars`, `run`, `env` and a step's locals.
//!
//! A render must cost the same whatever the number of steps before it, so nothing here is
//! copied per render: every step result and variable becomes a template value once, when it
//! is recorded, and the engine looks `steps.<id>` and `vars.<name>` up on demand through
//! [`Object`] views instead of receiving a fresh copy of the whole run.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use minijinja::value::{Enumerator, Object, ObjectRepr};
use minijinja::Value as JinjaValue;
use runbook_lang::template::to_jinja;
use serde_json::{Map, Value};

use crate::redact::Redactor;
use crate::state::{RunState, StepStatus};

/// The run-wide names templates read, with real (unredacted) values: requests must carry
/// them. The run state holds them redacted.
pub(crate) struct TemplateValues {
    inputs: JinjaValue,
    env: JinjaValue,
    steps: Arc<StepResults>,
    vars: Arc<Vars>,
    redactor: Redactor,
    /// `run` as templates read it, kept while its fields stay the same: every render reads
    /// it, and it changes only when a failure is handled or the run ends.
    run: Mutex<Option<(RunKey, JinjaValue)>>,
}

/// The fields of `run` that change during a run (its id, name and start do not).
struct RunKey {
    status: &'static str,
    failed_step: Option<String>,
    error: Option<String>,
}

/// Whether a recorded value holds a secret, as judged at a [`Redactor::generation`]: a
/// render that reads a large result must not walk it again to know.
#[derive(Debug, Clone, Copy)]
struct SecretJudgement {
    generation: usize,
    holds_secret: bool,
}

impl SecretJudgement {
    fn of(value: &Value, redactor: &Redactor) -> Self {
        Self {
            generation: redactor.generation(),
            holds_secret: redactor.touches(value),
        }
    }

    /// `Some(false)` when the value surely holds no secret.
    fn still(self, redactor: &Redactor) -> Option<bool> {
        (self.generation == redactor.generation()).then_some(self.holds_secret)
    }
}

/// Which steps a render may read.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Visible<'a> {
    /// The steps up to and including this one: a step reads only the steps above it (the
    /// validator sees to that), so a later step's result from an earlier pass of a `goto`
    /// loop stays out of reach.
    Through(&'a str),
    /// `finally` and outputs read every step.
    All,
}

impl TemplateValues {
    /// A scope for `state`'s steps; a resumed run passes the results and variables its
    /// journal held.
    pub(crate) fn new(
        inputs: &Map<String, Value>,
        env: &Map<String, Value>,
        state: &RunState,
        mut results: Map<String, Value>,
        vars: Map<String, Value>,
        redactor: &Redactor,
    ) -> Self {
        let mut positions = HashMap::with_capacity(state.steps.len());
        let mut entries = Vec::with_capacity(state.steps.len());
        for (position, (id, step)) in state.steps.iter().enumerate() {
            positions.insert(id.clone(), position);
            let result = results.remove(id);
            entries.push(Entry {
                status: step.status,
                result: result
                    .as_ref()
                    .map(|result| Recorded::new(result, redactor)),
            });
        }
        let ids = state.steps.keys().cloned().collect();
        Self {
            inputs: to_jinja(&Value::Object(inputs.clone())),
            env: to_jinja(&Value::Object(env.clone())),
            steps: Arc::new(StepResults {
                ids,
                positions,
                entries: Mutex::new(entries),
            }),
            vars: Arc::new(Vars {
                values: Mutex::new(
                    vars.iter()
                        .map(|(name, value)| (name.clone(), Recorded::new(value, redactor)))
                        .collect(),
                ),
            }),
            redactor: redactor.clone(),
            run: Mutex::new(None),
        }
    }

    /// `run` for a render: the run's id, name, start and status, and the failure it is
    /// about (`failed_step`, `error`).
    pub(crate) fn run_value(
        &self,
        state: &RunState,
        failed_step: Option<&str>,
        error: Option<&str>,
    ) -> JinjaValue {
        let status = state.status.name();
        let mut cached = self.run.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((key, value)) = cached.as_ref() {
            if key.status == status
                && key.failed_step.as_deref() == failed_step
                && key.error.as_deref() == error
            {
                return value.clone();
            }
        }
        let value = to_jinja(&serde_json::json!({
            "id": state.run_id,
            "name": state.runbook,
            "started_at": state.started_at,
            "status": status,
            "failed_step": failed_step,
            "error": error,
        }));
        let key = RunKey {
            status,
            failed_step: failed_step.map(str::to_owned),
            error: error.map(str::to_owned),
        };
        *cached = Some((key, value.clone()));
        value
    }

    pub(crate) fn record_status(&self, id: &str, status: StepStatus) {
        if let Some(&position) = self.steps.positions.get(id) {
            self.steps.lock()[position].status = status;
        }
    }

    /// A result outlives later statuses: a step run again by a `goto` is read as it last
    /// finished until it finishes again.
    ///
    /// `true` when the result surely holds no secret, as judged on the way: the caller need
    /// not walk it again to redact it.
    pub(crate) fn record_result(&self, id: &str, result: &Value) -> bool {
        let Some(&position) = self.steps.positions.get(id) else {
            return false;
        };
        let result = Recorded::new(result, &self.redactor);
        let clean = result.secret.still(&self.redactor) == Some(false);
        self.steps.lock()[position].result = Some(result);
        clean
    }

    pub(crate) fn set_vars(&self, vars: &Map<String, Value>) {
        let mut values = self.vars.lock();
        for (name, value) in vars {
            values.insert(name.clone(), Recorded::new(value, &self.redactor));
        }
    }

    /// Whether the value at `path` in `context` (a render's) holds a secret. A step result
    /// or variable known to hold none answers at once, however large it is; in a
    /// sub-runbook (`sealed`), `steps.<id>` is the child's, whatever the run's step of that
    /// id was judged.
    pub(crate) fn reads_secret(&self, context: &JinjaValue, path: &[String], sealed: bool) -> bool {
        let judged = match path {
            [root, key, ..] if root == "steps" && !sealed => self.steps.judgement(key),
            [root, key, ..] if root == "vars" && !sealed => {
                self.vars.lock().get(key).map(|v| v.secret)
            }
            _ => None,
        };
        if judged.and_then(|judged| judged.still(&self.redactor)) == Some(false) {
            return false;
        }
        self.redactor.touches(&resolve(context, path))
    }

    /// The context of one render: O(1) in the number of steps and variables. Inside a block,
    /// `steps` reads the body's frame first, then the run's steps.
    pub(crate) fn context(
        &self,
        visible: Visible<'_>,
        run: JinjaValue,
        locals: &[(LocalName, Value)],
        frame: Option<&Arc<BodyFrame>>,
    ) -> JinjaValue {
        let visible = match visible {
            Visible::Through(id) => self
                .steps
                .positions
                .get(id)
                .map_or(self.steps.ids.len(), |position| position + 1),
            Visible::All => self.steps.ids.len(),
        };
        let mut steps = JinjaValue::from_object(StepsView {
            results: Arc::clone(&self.steps),
            visible,
        });
        if let Some(frame) = frame {
            let outer = if frame.is_sealed() {
                JinjaValue::from(BTreeMap::<String, JinjaValue>::new())
            } else {
                steps
            };
            steps = JinjaValue::from_object(FrameView {
                frame: Arc::clone(frame),
                outer,
            });
        }
        let named = locals
            .iter()
            .map(|(name, value)| (name.clone(), to_jinja(value)))
            .collect();
        JinjaValue::from_object(Context {
            fixed: [
                ("inputs", self.inputs.clone()),
                ("steps", steps),
                ("vars", JinjaValue::from_dyn_object(Arc::clone(&self.vars))),
                ("run", run),
                ("env", self.env.clone()),
            ],
            locals: named,
        })
    }
}

/// A name in scope for one evaluation besides the run-wide ones (`item`, `result`, an
/// element's `as` name).
pub(crate) type LocalName = Cow<'static, str>;

/// What one render reads: the run-wide names, then its locals (a later one hides an
/// earlier one of the same name, and every local hides a run-wide name).
#[derive(Debug)]
struct Context {
    fixed: [(&'static str, JinjaValue); 5],
    locals: Vec<(LocalName, JinjaValue)>,
}

impl Object for Context {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &JinjaValue) -> Option<JinjaValue> {
        let key = key.as_str()?;
        let local = self.locals.iter().rev().find(|(name, _)| name == key);
        match local {
            Some((_, value)) => Some(value.clone()),
            None => self
                .fixed
                .iter()
                .find(|(name, _)| *name == key)
                .map(|(_, value)| value.clone()),
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let fixed = self.fixed.iter().map(|(name, _)| JinjaValue::from(*name));
        let locals = self
            .locals
            .iter()
            .map(|(name, _)| JinjaValue::from(&**name));
        Enumerator::Values(fixed.chain(locals).collect())
    }
}

/// A block body's results so far (one element's or pass's), each a template value made
/// once when its step ends, and the frame of the body around it: a step's cost does not
/// grow with the steps before it.
#[derive(Debug, Default)]
pub(crate) struct BodyFrame {
    results: Mutex<HashMap<String, JinjaValue>>,
    outer: Option<Arc<BodyFrame>>,
    /// In a sub-runbook: its steps read nothing of the runbook that runs it. A frame within
    /// a sealed one is sealed too.
    sealed: bool,
}

impl BodyFrame {
    pub(crate) fn within(outer: Option<Arc<BodyFrame>>) -> Self {
        Self {
            results: Mutex::default(),
            sealed: outer.as_ref().is_some_and(|outer| outer.sealed),
            outer,
        }
    }

    /// The frame a sub-runbook's steps begin in: no way out to its parent's steps.
    pub(crate) fn sealed() -> Self {
        Self {
            sealed: true,
            ..Self::default()
        }
    }

    /// Whether this frame is in a sub-runbook.
    pub(crate) fn is_sealed(&self) -> bool {
        self.sealed
    }

    /// What `steps.<id>` reads in this body from now on.
    pub(crate) fn record(&self, id: &str, result: &Value) {
        self.lock().insert(id.to_owned(), to_jinja(result));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, JinjaValue>> {
        self.results.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lookup(&self, id: &str) -> Option<JinjaValue> {
        let own = self.lock().get(id).cloned();
        own.or_else(|| self.outer.as_ref()?.lookup(id))
    }

    fn ids(&self, out: &mut Vec<JinjaValue>) {
        if let Some(outer) = &self.outer {
            outer.ids(out);
        }
        out.extend(self.lock().keys().map(|id| JinjaValue::from(id.as_str())));
    }
}

/// `steps` inside a block: the body's frames, then the run's steps.
#[derive(Debug)]
struct FrameView {
    frame: Arc<BodyFrame>,
    outer: JinjaValue,
}

impl Object for FrameView {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &JinjaValue) -> Option<JinjaValue> {
        self.frame
            .lookup(key.as_str()?)
            .or_else(|| self.outer.get_item(key).ok().filter(|v| !v.is_undefined()))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let mut ids: Vec<JinjaValue> = self.outer.try_iter().into_iter().flatten().collect();
        self.frame.ids(&mut ids);
        Enumerator::Values(ids)
    }
}

/// Every step's status and latest result, in runbook order.
#[derive(Debug)]
struct StepResults {
    ids: Vec<String>,
    positions: HashMap<String, usize>,
    entries: Mutex<Vec<Entry>>,
}

#[derive(Debug)]
struct Entry {
    status: StepStatus,
    result: Option<Recorded>,
}

/// A result or variable as templates read it, converted once.
#[derive(Debug)]
struct Recorded {
    value: JinjaValue,
    secret: SecretJudgement,
}

impl Recorded {
    fn new(value: &Value, redactor: &Redactor) -> Self {
        Self {
            value: to_jinja(value),
            secret: SecretJudgement::of(value, redactor),
        }
    }
}

impl StepResults {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn judgement(&self, id: &str) -> Option<SecretJudgement> {
        let position = *self.positions.get(id)?;
        self.lock()[position]
            .result
            .as_ref()
            .map(|result| result.secret)
    }

    /// What `steps.<id>` reads: the result, or for a step with none `{"status": …}`.
    fn read(&self, position: usize) -> JinjaValue {
        let entries = self.lock();
        let entry = &entries[position];
        match &entry.result {
            Some(result) => result.value.clone(),
            None => to_jinja(&entry.status.placeholder()),
        }
    }
}

/// `steps` as one render sees it: the first `visible` steps.
#[derive(Debug)]
struct StepsView {
    results: Arc<StepResults>,
    visible: usize,
}

impl Object for StepsView {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &JinjaValue) -> Option<JinjaValue> {
        let position = *self.results.positions.get(key.as_str()?)?;
        (position < self.visible).then(|| self.results.read(position))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let ids = &self.results.ids[..self.visible];
        Enumerator::Values(ids.iter().map(|id| JinjaValue::from(id.as_str())).collect())
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(self.visible)
    }
}

/// `vars`: the run's variables as they are at the moment of the read.
#[derive(Debug)]
struct Vars {
    values: Mutex<BTreeMap<String, Recorded>>,
}

impl Vars {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Recorded>> {
        self.values.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Object for Vars {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &JinjaValue) -> Option<JinjaValue> {
        self.lock().get(key.as_str()?).map(|var| var.value.clone())
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.lock().keys().map(JinjaValue::from).collect())
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(self.lock().len())
    }
}

/// The value at `path` in `context`, or the deepest value on the way when the path goes
/// further than the data (a method call, an index), so a read is judged by all it could see.
fn resolve(context: &JinjaValue, path: &[String]) -> Value {
    let Some((root, rest)) = path.split_first() else {
        return Value::Null;
    };
    let mut value = match context.get_attr(root) {
        Ok(value) if !value.is_undefined() => value,
        _ => return Value::Null,
    };
    for key in rest {
        match value.get_attr(key) {
            Ok(next) if !next.is_undefined() => value = next,
            _ => break,
        }
    }
    serde_json::to_value(&value).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use runbook_lang::template::Engine;
    use serde_json::json;

    fn values() -> TemplateValues {
        let text = "version: 1\nname: t\nsteps:\n  - id: a\n    log: x\n  - id: b\n    log: y\n  - id: c\n    log: z\n";
        let book = runbook_lang::parse(&runbook_lang::Source::new("t", text.to_owned())).unwrap();
        let state = RunState::new("r".into(), &book, "now".into(), Map::new());
        let inputs = json!({"name": "n"}).as_object().unwrap().clone();
        TemplateValues::new(
            &inputs,
            &Map::new(),
            &state,
            Map::new(),
            Map::new(),
            &Redactor::default(),
        )
    }

    fn render(values: &TemplateValues, visible: Visible<'_>, text: &str) -> Result<Value, String> {
        let context = values.context(
            visible,
            to_jinja(&json!({"id": "r"})),
            &[("item".into(), json!(7))],
            None,
        );
        Engine::default()
            .render(&json!(text), &context)
            .map_err(|error| error.0)
    }

    #[test]
    fn run_follows_the_status_and_the_failure_it_is_about() {
        let values = values();
        let text = "version: 1\nname: t\nsteps:\n  - id: a\n    log: x\n";
        let book = runbook_lang::parse(&runbook_lang::Source::new("t", text.to_owned())).unwrap();
        let mut state = RunState::new("r".into(), &book, "now".into(), Map::new());
        let field = |run: &JinjaValue, name: &str| run.get_attr(name).unwrap().to_string();
        let running = values.run_value(&state, None, None);
        assert_eq!(field(&running, "id"), "r");
        assert_eq!(field(&running, "status"), state.status.name());
        assert!(running.get_attr("error").unwrap().is_none());
        // Read again unchanged, then after each change.
        assert_eq!(values.run_value(&state, None, None), running);
        let handled = values.run_value(&state, Some("a"), Some("boom"));
        assert_eq!(field(&handled, "failed_step"), "a");
        assert_eq!(field(&handled, "error"), "boom");
        let other = values.run_value(&state, Some("a"), Some("bang"));
        assert_eq!(field(&other, "error"), "bang");
        state.status = crate::state::RunStatus::Failed;
        let failed = values.run_value(&state, Some("a"), Some("bang"));
        assert_eq!(field(&failed, "status"), "failed");
        let cleared = values.run_value(&state, None, None);
        assert!(cleared.get_attr("failed_step").unwrap().is_none());
    }

    #[test]
    fn a_render_reads_the_steps_up_to_the_current_one_and_every_step_at_the_end() {
        let values = values();
        values.record_result("a", &json!({"x": 1}));
        values.record_result("c", &json!({"x": 3}));
        assert_eq!(
            render(&values, Visible::Through("b"), "{{ steps.a.x }}"),
            Ok(json!(1))
        );
        assert_eq!(
            render(&values, Visible::Through("b"), "{{ steps.b.status }}"),
            Ok(json!("not_run"))
        );
        assert!(render(&values, Visible::Through("b"), "{{ steps.c.x }}").is_err());
        assert_eq!(
            render(
                &values,
                Visible::Through("b"),
                "{{ steps | list | join(',') }}"
            ),
            Ok(json!("a,b"))
        );
        assert_eq!(
            render(&values, Visible::All, "{{ steps.c.x }}"),
            Ok(json!(3))
        );
        assert_eq!(
            render(
                &values,
                Visible::All,
                "{{ inputs.name }}-{{ run.id }}-{{ item }}"
            ),
            Ok(json!("n-r-7"))
        );
    }

    #[test]
    fn a_result_outlives_later_statuses_and_a_step_without_one_reads_its_status() {
        let values = values();
        values.record_status("a", StepStatus::Skipped);
        assert_eq!(
            render(&values, Visible::All, "{{ steps.a }}"),
            Ok(json!({"status": "skipped"}))
        );
        values.record_result("a", &json!({"x": 1}));
        values.record_status("a", StepStatus::Running);
        assert_eq!(
            render(&values, Visible::All, "{{ steps.a.x }}"),
            Ok(json!(1))
        );
    }

    #[test]
    fn variables_read_as_they_are_when_read() {
        let values = values();
        let context = values.context(Visible::All, to_jinja(&json!({})), &[], None);
        values.set_vars(json!({"v": 1, "w": 2}).as_object().unwrap());
        let engine = Engine::default();
        assert_eq!(
            engine.render(&json!("{{ vars.v }}"), &context).unwrap(),
            json!(1)
        );
        assert_eq!(
            engine
                .render(&json!("{{ vars | tojson }}"), &context)
                .unwrap(),
            json!(r#"{"v": 1, "w": 2}"#)
        );
    }

    #[test]
    fn resolve_goes_as_deep_as_the_data() {
        let values = values();
        values.record_result("a", &json!({"x": {"y": "s"}}));
        let context = values.context(Visible::All, to_jinja(&json!({})), &[], None);
        let path = |text: &str| text.split('.').map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(resolve(&context, &path("steps.a.x.y")), json!("s"));
        assert_eq!(
            resolve(&context, &path("steps.a.x.upper")),
            json!({"y": "s"})
        );
        assert_eq!(resolve(&context, &path("nothing.here")), Value::Null);
    }

    #[test]
    fn a_read_holds_a_secret_when_what_it_reads_does_even_one_recorded_before_the_secret() {
        let redactor = Redactor::new(["hunter22".to_owned()]);
        let text = "version: 1\nname: t\nsteps:\n  - id: a\n    log: x\n  - id: b\n    log: y\n";
        let book = runbook_lang::parse(&runbook_lang::Source::new("t", text.to_owned())).unwrap();
        let state = RunState::new("r".into(), &book, "now".into(), Map::new());
        let values = TemplateValues::new(
            &Map::new(),
            &Map::new(),
            &state,
            Map::new(),
            Map::new(),
            &redactor,
        );
        values.record_result("a", &json!({"token": "hunter22", "n": 1}));
        values.record_result("b", &json!({"derived": "x-y"}));
        values.set_vars(json!({"plain": "p"}).as_object().unwrap());
        let context = values.context(Visible::All, to_jinja(&json!({})), &[], None);
        let path = |text: &str| text.split('.').map(str::to_owned).collect::<Vec<_>>();
        assert!(values.reads_secret(&context, &path("steps.a"), false));
        assert!(values.reads_secret(&context, &path("steps.a.token"), false));
        assert!(!values.reads_secret(&context, &path("steps.a.n"), false));
        assert!(!values.reads_secret(&context, &path("steps.b.derived"), false));
        assert!(!values.reads_secret(&context, &path("vars.plain"), false));
        // A value computed from a secret later becomes one: what was judged before is
        // judged again.
        redactor.add("x-y");
        assert!(values.reads_secret(&context, &path("steps.b.derived"), false));
    }
}
