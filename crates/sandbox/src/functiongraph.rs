//! FunctionGraph workflows: express workflows answer `sync-executions` at once; standard
//! workflows run their states in order, and a `callback` state waits until
//! `CreateCallbackWorkflow` names it.
//!
//! Callback ids: `X-Workflow-Run-Id` is the execution id that the async start returned, and
//! `X-Workflow-State-Id` is the state's `id` from the scenario.
//!
//! A sync run is an execution of its workflow with one node ([`FgExecution::express`]): it
//! runs for the express duration from when the sandbox applied the request, and the answer
//! leaves when it ends (the sandbox sleeps that long on its environment, so on virtual time
//! it takes none). Why keep it: a runner whose answer to a sync run was lost (the connection
//! broke after the service applied it) must be able to find the run by listing, exactly as
//! it finds an async start, and may find it still running. Whether the real service lists
//! express runs among a workflow's executions is not documented; the sandbox chooses to list
//! them, so a runner that relies on it must still cope with a service that does not.
//!
//! Listing shows every execution, async or sync, newest first, filtered and paged as
//! [`ListQuery`] says; `ShowWorkflowExecution` details either kind; `StopWorkFlow` ends a
//! running execution with the status `cancel` and refuses an ended one and every sync run
//! (whose answer has no `cancel`).

use std::time::Duration;

use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, PrimitiveDateTime};

use crate::scenario::{ExpressOutcome, FgState, FgStateKind};

pub const RUNNING: &str = "running";
pub const SUCCESS: &str = "success";
pub const FAIL: &str = "fail";
pub const CANCEL: &str = "cancel";
pub const TIMEOUT: &str = "timeout";

/// FunctionGraph's execution-level time format, `yyyy-MM-ddTHH:mm:ssZ`.
pub fn fg_time(ms: i64) -> String {
    let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

/// The one node an express run reports, named as the sync answer's `errors[].node_id`.
const EXPRESS_NODE: &str = "process";
/// The error of an express workflow whose outcome is `fail`.
const EXPRESS_ERROR: &str = "the function returned an error";

/// The window listed when the query gives no `start_time` or `end_time`, as documented.
const DEFAULT_WINDOW_MS: i64 = 3 * 24 * 60 * 60 * 1000;
/// The page size when the query gives no `limit` (or 0): undocumented, chosen here.
pub const DEFAULT_PAGE_SIZE: usize = 100;
/// The documented most a page holds; a larger `limit` returns this many.
pub const MAX_PAGE_SIZE: usize = 200;

/// What `ListWorkflowExecutions` asks for, with the documented defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    pub status: Option<String>,
    /// Executions that began in `from_ms..=to_ms` are listed.
    pub from_ms: i64,
    pub to_ms: i64,
    pub offset: usize,
    pub limit: usize,
}

impl ListQuery {
    /// Reads the query parameters (`value` looks one up by name); integers and the status
    /// have already been checked against the spec. The message of an error goes into a 400.
    pub fn parse<'q>(value: impl Fn(&str) -> Option<&'q str>, now_ms: i64) -> Result<Self, String> {
        let time = |name: &str| value(name).map(|text| parse_time(name, text)).transpose();
        let (from_ms, to_ms) = match (time("start_time")?, time("end_time")?) {
            (Some(from), Some(to)) => (from, to),
            (Some(from), None) => (from, from.saturating_add(DEFAULT_WINDOW_MS)),
            (None, Some(to)) => (to.saturating_sub(DEFAULT_WINDOW_MS), to),
            (None, None) => (now_ms.saturating_sub(DEFAULT_WINDOW_MS), now_ms),
        };
        if from_ms > to_ms {
            return Err("start_time is after end_time".to_owned());
        }
        let integer = |name: &str| value(name).and_then(|text| text.parse::<i64>().ok());
        let offset = integer("offset").map_or(0, |n| usize::try_from(n).unwrap_or(0));
        let limit = match integer("limit").map(|n| usize::try_from(n).unwrap_or(0)) {
            None | Some(0) => DEFAULT_PAGE_SIZE,
            Some(n) => n.min(MAX_PAGE_SIZE),
        };
        Ok(Self {
            status: value("status").map(str::to_owned),
            from_ms,
            to_ms,
            offset,
            limit,
        })
    }
}

/// A UTC time as FunctionGraph writes it (`2026-01-02T03:04:05Z`, any RFC 3339 time), or as
/// its paged history API does (`2026-01-02 03:04:05`), in milliseconds.
fn parse_time(name: &str, text: &str) -> Result<i64, String> {
    let spaced = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let at = OffsetDateTime::parse(text, &Rfc3339)
        .or_else(|_| PrimitiveDateTime::parse(text, spaced).map(PrimitiveDateTime::assume_utc))
        .map_err(|_| {
            format!("{name} must be a UTC time like 2026-01-02T03:04:05Z, got `{text}`")
        })?;
    Ok((at.unix_timestamp_nanos() / 1_000_000) as i64)
}

/// The `ListWorkflowExecutions` body: of `executions` (one workflow's), advanced to now, those
/// the query selects, newest first, one page.
pub fn list<'a>(
    executions: impl IntoIterator<Item = &'a mut FgExecution>,
    query: &ListQuery,
    now_ms: i64,
) -> Value {
    let mut selected: Vec<&mut FgExecution> = executions
        .into_iter()
        .filter(|e| (query.from_ms..=query.to_ms).contains(&e.begin_ms))
        .collect();
    for execution in &mut selected {
        execution.advance(now_ms);
    }
    selected.retain(|e| query.status.as_deref().is_none_or(|s| s == e.status));
    selected.sort_by_key(|e| std::cmp::Reverse((e.begin_ms, crate::server::creation_order(&e.id))));
    let page: Vec<Value> = selected
        .into_iter()
        .skip(query.offset)
        .take(query.limit)
        .map(|e| e.brief())
        .collect();
    json!({ "executions": page })
}

#[derive(Debug, Clone)]
struct StateRun {
    spec: FgState,
    status: &'static str,
    begin_ms: Option<i64>,
    end_ms: Option<i64>,
    output: Value,
    error: Option<String>,
}

impl StateRun {
    fn pending(spec: FgState) -> Self {
        Self {
            spec,
            status: "pending",
            begin_ms: None,
            end_ms: None,
            output: Value::Null,
            error: None,
        }
    }
}

/// Who started an execution, of what, with what, and when.
#[derive(Debug, Clone)]
pub struct Launch {
    pub id: String,
    pub project_id: String,
    pub workflow_id: String,
    /// The IAM user whose credentials started it (`created_by`).
    pub created_by: String,
    pub input: Value,
    pub headers: Value,
    pub at_ms: i64,
}

#[derive(Debug, Clone)]
pub struct FgExecution {
    pub id: String,
    pub project_id: String,
    pub workflow_id: String,
    pub status: &'static str,
    created_by: String,
    /// How a sync run of an express workflow ends; `None` for a standard workflow's run.
    express: Option<ExpressOutcome>,
    input: Value,
    headers: Value,
    begin_ms: i64,
    end_ms: Option<i64>,
    last_update_ms: i64,
    states: Vec<StateRun>,
    cursor: usize,
    cursor_started_ms: i64,
}

/// Why a callback was refused, and with which status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallbackRefused {
    UnknownState(String),
    NotWaiting(String),
}

impl FgExecution {
    pub fn start(launch: Launch, states: &[FgState]) -> Self {
        let states = states.iter().cloned().map(StateRun::pending).collect();
        Self::launch(launch, states, None)
    }

    /// A sync run of an express workflow: its one node ([`EXPRESS_NODE`]) runs for
    /// `duration`, then ends it with the status `outcome` gives, carrying the output (on
    /// success) or the error (on failure). It takes no callback and cannot be stopped;
    /// [`sync_answer`](Self::sync_answer) is what `StartSyncWorkflowExecution` answers once
    /// it has ended.
    pub fn express(launch: Launch, outcome: ExpressOutcome, duration: Duration) -> Self {
        let node = StateRun::pending(FgState {
            id: EXPRESS_NODE.to_owned(),
            kind: FgStateKind::Run,
            duration,
            output: Value::Null,
        });
        Self::launch(launch, vec![node], Some(outcome))
    }

    fn launch(launch: Launch, states: Vec<StateRun>, express: Option<ExpressOutcome>) -> Self {
        let now_ms = launch.at_ms;
        let mut execution = Self {
            id: launch.id,
            project_id: launch.project_id,
            workflow_id: launch.workflow_id,
            status: RUNNING,
            created_by: launch.created_by,
            express,
            input: launch.input,
            headers: launch.headers,
            begin_ms: now_ms,
            end_ms: None,
            last_update_ms: now_ms,
            states,
            cursor: 0,
            cursor_started_ms: now_ms,
        };
        execution.advance(now_ms);
        execution
    }

    /// The `StartSyncWorkflowExecution` answer for an ended run made by
    /// [`express`](Self::express): `output` on success, the node's error in `errors` on
    /// failure, neither on timeout.
    pub fn sync_answer(&self) -> Value {
        let begin = fg_time(self.begin_ms);
        let end = fg_time(self.end_ms.unwrap_or(self.begin_ms));
        match self.status {
            SUCCESS => json!({
                "execution_id": self.id, "status": SUCCESS,
                "output": self.final_output(),
                "begin_time": begin, "end_time": end,
            }),
            FAIL => {
                let errors: Vec<Value> = self
                    .states
                    .iter()
                    .filter_map(|s| {
                        let message = s.error.as_ref()?;
                        Some(json!({"node_id": s.spec.id, "error_message": message,
                                    "begin_time": begin, "end_time": end}))
                    })
                    .collect();
                json!({
                    "execution_id": self.id, "status": FAIL,
                    "errors": errors,
                    "begin_time": begin, "end_time": end,
                })
            }
            status => json!({
                "execution_id": self.id, "status": status,
                "begin_time": begin, "end_time": end,
            }),
        }
    }

    pub fn advance(&mut self, now_ms: i64) {
        while self.status == RUNNING {
            let started = self.cursor_started_ms;
            let Some(state) = self.states.get_mut(self.cursor) else {
                self.status = SUCCESS;
                self.end_ms = Some(started);
                self.last_update_ms = started;
                return;
            };
            if state.begin_ms.is_none() {
                state.begin_ms = Some(started);
                state.status = RUNNING;
            }
            if state.spec.kind == FgStateKind::Callback {
                return;
            }
            let done_at = started.saturating_add(state.spec.duration.as_millis() as i64);
            if now_ms < done_at {
                return;
            }
            if let Some(outcome) = self.express {
                let (status, output, error) = match outcome {
                    ExpressOutcome::Echo => (
                        SUCCESS,
                        json!({"echo": self.input, "workflow_id": self.workflow_id}),
                        None,
                    ),
                    ExpressOutcome::Fail => (FAIL, Value::Null, Some(EXPRESS_ERROR.to_owned())),
                    ExpressOutcome::Timeout => (TIMEOUT, Value::Null, None),
                };
                state.status = status;
                state.end_ms = Some(done_at);
                state.output = output;
                state.error = error;
                self.status = status;
                self.end_ms = Some(done_at);
                self.last_update_ms = done_at;
                return;
            }
            state.status = SUCCESS;
            state.end_ms = Some(done_at);
            state.output = state.spec.output.clone();
            self.last_update_ms = done_at;
            self.cursor += 1;
            self.cursor_started_ms = done_at;
        }
    }

    /// Resumes the state `state_id` if it is waiting for a callback.
    pub fn callback(
        &mut self,
        state_id: &str,
        succeeded: bool,
        output: Value,
        error: Option<String>,
        now_ms: i64,
    ) -> Result<(), CallbackRefused> {
        self.advance(now_ms);
        let Some(index) = self.states.iter().position(|s| s.spec.id == state_id) else {
            return Err(CallbackRefused::UnknownState(format!(
                "execution {} has no state {state_id}",
                self.id
            )));
        };
        let waiting = index == self.cursor
            && self.status == RUNNING
            && self.states[index].spec.kind == FgStateKind::Callback;
        if !waiting {
            return Err(CallbackRefused::NotWaiting(format!(
                "state {state_id} of execution {} is not waiting for a callback (state: {}, execution: {})",
                self.id, self.states[index].status, self.status
            )));
        }
        let state = &mut self.states[index];
        state.end_ms = Some(now_ms);
        state.output = output;
        self.last_update_ms = now_ms;
        if succeeded {
            state.status = SUCCESS;
            self.cursor += 1;
            self.cursor_started_ms = now_ms;
            self.advance(now_ms);
        } else {
            state.status = FAIL;
            state.error =
                Some(error.unwrap_or_else(|| "the callback reported a failure".to_owned()));
            self.status = FAIL;
            self.end_ms = Some(now_ms);
        }
        Ok(())
    }

    /// Stops a running execution: it and its current state become `cancel`.
    pub fn stop(&mut self, now_ms: i64) -> Result<(), String> {
        self.advance(now_ms);
        if self.express.is_some() && self.status == RUNNING {
            return Err(format!(
                "execution {} is a synchronous run of an express workflow; it ends on its own and cannot be stopped",
                self.id
            ));
        }
        if self.status != RUNNING {
            return Err(format!(
                "execution {} has already ended ({}); only a running execution can be stopped",
                self.id, self.status
            ));
        }
        if let Some(state) = self.states.get_mut(self.cursor) {
            if state.status == RUNNING {
                state.status = CANCEL;
                state.end_ms = Some(now_ms);
            }
        }
        self.status = CANCEL;
        self.end_ms = Some(now_ms);
        self.last_update_ms = now_ms;
        Ok(())
    }

    /// One `FlowExecutionBrief` of a list.
    pub fn brief(&self) -> Value {
        json!({
            "workflow_id": self.workflow_id,
            "workflow_urn": self.urn(),
            "execution_id": self.id,
            "status": self.status,
            "begin_time": fg_time(self.begin_ms),
            "end_time": self.end_ms.map(fg_time),
            "last_update_time": fg_time(self.last_update_ms),
            "created_by": self.created_by,
        })
    }

    fn urn(&self) -> String {
        format!(
            "urn:fss:sandbox:{}:workflow:{}",
            self.project_id, self.workflow_id
        )
    }

    /// The output of the last state that succeeded.
    fn final_output(&self) -> Value {
        self.states
            .iter()
            .rev()
            .find(|s| s.status == SUCCESS)
            .map(|s| s.output.clone())
            .unwrap_or(Value::Null)
    }

    /// The `ShowWorkflowExecution` body.
    pub fn detail(&self) -> Value {
        let output = self.final_output();
        let nodes: Vec<Value> = self
            .states
            .iter()
            .filter(|s| s.begin_ms.is_some())
            .map(|s| {
                json!({
                    "node_id": s.spec.id,
                    "node_name": s.spec.id,
                    "execution_id": self.id,
                    "executions": [{
                        "status": s.status,
                        "input": self.input,
                        "output": s.output,
                        "begin_time": s.begin_ms,
                        "end_time": s.end_ms,
                        "error_message": s.error,
                        "request_id": crate::ids::opaque(&[&self.id, &s.spec.id]),
                    }],
                })
            })
            .collect();
        json!({
            "workflow_id": self.workflow_id,
            "workflow_urn": self.urn(),
            "execution_id": self.id,
            "status": self.status,
            "headers": self.headers,
            "input": self.input,
            "output": if self.status == SUCCESS { output } else { Value::Null },
            "begin_time": fg_time(self.begin_ms),
            "end_time": self.end_ms.map(fg_time),
            "last_update_time": fg_time(self.last_update_ms),
            "created_by": self.created_by,
            "node_execution_details": nodes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{FgWorkflowKind, Scenario};

    fn states(id: &str) -> Vec<FgState> {
        match &Scenario::default_scenario().projects[0]
            .fg_workflow(id)
            .unwrap()
            .kind
        {
            FgWorkflowKind::Standard { states } => states.clone(),
            FgWorkflowKind::Express { .. } => panic!("{id} is express"),
        }
    }

    #[test]
    fn a_callback_state_waits_and_resumes() {
        let mut e = FgExecution::start(launch("r1", "fg-callback", 0), &states("fg-callback"));
        e.advance(60_000);
        assert_eq!(e.status, RUNNING);
        assert!(matches!(
            e.callback("finish", true, json!({}), None, 60_000),
            Err(CallbackRefused::NotWaiting(_))
        ));
        assert!(matches!(
            e.callback("nope", true, json!({}), None, 60_000),
            Err(CallbackRefused::UnknownState(_))
        ));
        e.callback("await-approval", true, json!({"ok": 1}), None, 60_000)
            .unwrap();
        e.advance(61_000);
        assert_eq!(e.status, SUCCESS);
        assert!(matches!(
            e.callback("await-approval", true, json!({}), None, 62_000),
            Err(CallbackRefused::NotWaiting(_))
        ));
    }

    #[test]
    fn a_failed_callback_fails_the_execution() {
        let mut e = FgExecution::start(launch("r1", "fg-callback", 0), &states("fg-callback"));
        e.callback(
            "await-approval",
            false,
            json!({}),
            Some("denied".into()),
            5_000,
        )
        .unwrap();
        assert_eq!(e.status, FAIL);
        assert_eq!(
            e.detail()["node_execution_details"][1]["executions"][0]["error_message"],
            "denied"
        );
    }

    #[test]
    fn fg_times_use_the_documented_format() {
        assert_eq!(fg_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(fg_time(1_767_323_045_000), "2026-01-02T03:04:05Z");
    }

    fn callback_run(id: &str, now_ms: i64) -> FgExecution {
        FgExecution::start(launch(id, "fg-callback", now_ms), &states("fg-callback"))
    }

    #[test]
    fn stop_cancels_a_running_execution_but_not_an_ended_one() {
        let mut e = callback_run("r1", 0);
        e.stop(5_000).unwrap();
        assert_eq!(e.status, CANCEL);
        let detail = e.detail();
        assert_eq!(
            detail["node_execution_details"][1]["executions"][0]["status"],
            "cancel"
        );
        assert_eq!(detail["end_time"], fg_time(5_000));
        let again = e.stop(6_000).unwrap_err();
        assert!(again.contains("already ended (cancel)"), "{again}");
        assert!(matches!(
            e.callback("await-approval", true, json!({}), None, 6_000),
            Err(CallbackRefused::NotWaiting(_))
        ));
    }

    fn launch(id: &str, workflow_id: &str, at_ms: i64) -> Launch {
        Launch {
            id: id.into(),
            project_id: "p".into(),
            workflow_id: workflow_id.into(),
            created_by: "ops-admin".into(),
            input: json!({"order": 7}),
            headers: json!({"trace": "t-1"}),
            at_ms,
        }
    }

    /// A sync run begun at `begin_ms` that runs for 1.5 s, as it is when it has ended.
    fn express_run(id: &str, outcome: ExpressOutcome, begin_ms: i64) -> FgExecution {
        let mut run = FgExecution::express(
            launch(id, "fg-echo", begin_ms),
            outcome,
            Duration::from_millis(1_500),
        );
        run.advance(begin_ms + 1_500);
        run
    }

    #[test]
    fn the_sync_answer_keeps_its_shape_for_each_outcome() {
        let begin = 1_767_323_045_000; // 2026-01-02T03:04:05Z; ends 1.5 s later, shown as :06
        let (b, e) = ("2026-01-02T03:04:05Z", "2026-01-02T03:04:06Z");
        assert_eq!(
            express_run("s1", ExpressOutcome::Echo, begin).sync_answer(),
            json!({
                "execution_id": "s1", "status": "success",
                "output": {"echo": {"order": 7}, "workflow_id": "fg-echo"},
                "begin_time": b, "end_time": e,
            })
        );
        assert_eq!(
            express_run("s2", ExpressOutcome::Fail, begin).sync_answer(),
            json!({
                "execution_id": "s2", "status": "fail",
                "errors": [{"node_id": "process", "error_message": "the function returned an error",
                            "begin_time": b, "end_time": e}],
                "begin_time": b, "end_time": e,
            })
        );
        assert_eq!(
            express_run("s3", ExpressOutcome::Timeout, begin).sync_answer(),
            json!({"execution_id": "s3", "status": "timeout", "begin_time": b, "end_time": e})
        );
    }

    #[test]
    fn an_express_run_runs_for_its_duration_then_ends_and_cannot_be_stopped() {
        for (outcome, status) in [
            (ExpressOutcome::Echo, SUCCESS),
            (ExpressOutcome::Fail, FAIL),
            (ExpressOutcome::Timeout, TIMEOUT),
        ] {
            let mut e = FgExecution::express(
                launch("s1", "fg-echo", 10_000),
                outcome,
                Duration::from_millis(1_500),
            );
            e.advance(11_499);
            assert_eq!(
                (e.status, e.brief()["end_time"].clone()),
                (RUNNING, Value::Null)
            );
            assert_eq!(
                e.detail()["node_execution_details"][0]["executions"][0]["status"],
                RUNNING
            );
            let refused = e.stop(11_000).unwrap_err();
            assert!(refused.contains("cannot be stopped"), "{refused}");
            e.advance(11_500);
            assert_eq!(e.status, status);
            e.advance(3_600_000);
            assert_eq!(e.status, status, "an ended run never moves");

            let brief = e.brief();
            assert_eq!(brief["status"], status);
            assert_eq!(brief["created_by"], "ops-admin");
            assert_eq!(brief["begin_time"], fg_time(10_000));
            assert_eq!(brief["end_time"], fg_time(11_500));
            assert_eq!(brief["last_update_time"], fg_time(11_500));

            let detail = e.detail();
            assert_eq!(detail["status"], status);
            assert_eq!(detail["input"], json!({"order": 7}));
            assert_eq!(detail["headers"], json!({"trace": "t-1"}));
            assert_eq!(detail["end_time"], fg_time(11_500));
            let node = &detail["node_execution_details"][0];
            assert_eq!(node["node_id"], "process");
            let run = &node["executions"][0];
            assert_eq!(run["status"], status);
            assert_eq!(
                (run["begin_time"].clone(), run["end_time"].clone()),
                (json!(10_000), json!(11_500))
            );
            match outcome {
                ExpressOutcome::Echo => {
                    let output = json!({"echo": {"order": 7}, "workflow_id": "fg-echo"});
                    assert_eq!(detail["output"], output);
                    assert_eq!(run["output"], output);
                    assert_eq!(run["error_message"], Value::Null);
                }
                ExpressOutcome::Fail => {
                    assert_eq!(detail["output"], Value::Null);
                    assert_eq!(run["error_message"], EXPRESS_ERROR);
                }
                ExpressOutcome::Timeout => {
                    assert_eq!(detail["output"], Value::Null);
                    assert_eq!(run["error_message"], Value::Null);
                }
            }

            let refused = e.stop(20_000).unwrap_err();
            assert!(
                refused.contains(&format!("already ended ({status})")),
                "{refused}"
            );
            assert_eq!(e.status, status);
            assert!(matches!(
                e.callback("process", true, json!({}), None, 20_000),
                Err(CallbackRefused::NotWaiting(_))
            ));
        }
    }

    #[test]
    fn express_runs_are_listed_with_started_ones_by_begin_time() {
        let mut executions = [
            callback_run("00000000-0000-4000-8000-000000000001", 1_000),
            express_run(
                "00000000-0000-4000-8000-000000000002",
                ExpressOutcome::Fail,
                2_000,
            ),
            express_run(
                "00000000-0000-4000-8000-000000000003",
                ExpressOutcome::Echo,
                2_000,
            ),
        ];
        let all = ListQuery {
            status: None,
            from_ms: 0,
            to_ms: 10_000,
            offset: 0,
            limit: DEFAULT_PAGE_SIZE,
        };
        let listed = list(executions.iter_mut(), &all, 5_000);
        let listed: Vec<(&str, &str)> = listed["executions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                (
                    b["execution_id"].as_str().unwrap(),
                    b["status"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            listed,
            [
                ("00000000-0000-4000-8000-000000000003", "success"),
                ("00000000-0000-4000-8000-000000000002", "fail"),
                ("00000000-0000-4000-8000-000000000001", "running"),
            ]
        );
        let failed = ListQuery {
            status: Some(FAIL.into()),
            ..all
        };
        let failed = list(executions.iter_mut(), &failed, 5_000);
        assert_eq!(failed["executions"].as_array().unwrap().len(), 1);
    }

    fn query(pairs: &[(&str, &str)], now_ms: i64) -> Result<ListQuery, String> {
        ListQuery::parse(
            |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| *v),
            now_ms,
        )
    }

    #[test]
    fn list_queries_take_the_documented_defaults() {
        let day = 24 * 60 * 60 * 1000;
        let now = 1_767_323_045_000; // 2026-01-02T03:04:05Z
        let defaults = query(&[], now).unwrap();
        assert_eq!((defaults.from_ms, defaults.to_ms), (now - 3 * day, now));
        assert_eq!((defaults.offset, defaults.limit), (0, DEFAULT_PAGE_SIZE));

        let from_start = query(&[("start_time", "2026-01-02T03:04:05Z")], 0).unwrap();
        assert_eq!((from_start.from_ms, from_start.to_ms), (now, now + 3 * day));
        let to_end = query(&[("end_time", "2026-01-02 03:04:05")], 0).unwrap();
        assert_eq!((to_end.from_ms, to_end.to_ms), (now - 3 * day, now));

        let clamped = query(&[("limit", "500"), ("offset", "-4")], now).unwrap();
        assert_eq!((clamped.offset, clamped.limit), (0, MAX_PAGE_SIZE));
        assert_eq!(
            query(&[("limit", "0")], now).unwrap().limit,
            DEFAULT_PAGE_SIZE
        );

        let bad = query(&[("start_time", "yesterday")], now).unwrap_err();
        assert!(bad.contains("start_time must be a UTC time"), "{bad}");
        let reversed = query(
            &[
                ("start_time", "2026-01-03T00:00:00Z"),
                ("end_time", "2026-01-02T00:00:00Z"),
            ],
            now,
        )
        .unwrap_err();
        assert!(reversed.contains("after end_time"), "{reversed}");
    }
}
