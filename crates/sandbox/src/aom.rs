//! The AOM execution state machine, as the docs describe it: nodes run in order; a failed node
//! leaves the execution waiting for `restart` (run it again) or `skip` (mark it skipped, go
//! on); a pause node waits for `continue`, and so does an approval node.
//!
//! State moves lazily: each read or action first calls [`AomExecution::advance`] with the
//! sandbox clock, so virtual time can jump ahead and the execution catches up exactly.
//!
//! `StopExecution` ends any execution that has not ended with the status `cancel`; a failed
//! execution has not ended (it waits for restart or skip), so it can be stopped too.

use serde_json::{json, Value};

use crate::scenario::{AomWorkflow, NodeBehaviour};

pub const EXECUTING: &str = "executing";
pub const SUCCESS: &str = "success";
pub const FAIL: &str = "fail";
pub const PAUSING: &str = "pausing";
pub const WAIT_APPROVAL: &str = "waitApproval";
pub const WAIT_EXECUTE: &str = "waitExecute";
pub const CANCEL: &str = "cancel";
/// Not an SDK status value: the status enum is open, and the docs say the node is "skipped".
pub const SKIPPED: &str = "skipped";

#[derive(Debug, Clone)]
pub struct NodeRun {
    pub id: String,
    pub status: &'static str,
    pub begin_ms: Option<i64>,
    pub end_ms: Option<i64>,
    pub attempts: u32,
    pub output: Value,
}

#[derive(Debug, Clone)]
pub struct AomExecution {
    pub id: String,
    pub project_id: String,
    /// The IAM user whose credentials started it.
    pub created_by: String,
    pub workflow: AomWorkflow,
    pub status: &'static str,
    pub begin_ms: i64,
    pub end_ms: Option<i64>,
    pub last_update_ms: i64,
    pub nodes: Vec<NodeRun>,
    cursor: usize,
    cursor_started_ms: i64,
}

/// Why an action was refused: the message goes into the 400 body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

impl AomExecution {
    pub fn start(
        id: String,
        project_id: String,
        created_by: String,
        workflow: AomWorkflow,
        now_ms: i64,
    ) -> Self {
        let nodes = workflow
            .nodes
            .iter()
            .map(|n| NodeRun {
                id: n.id.clone(),
                status: WAIT_EXECUTE,
                begin_ms: None,
                end_ms: None,
                attempts: 0,
                output: Value::Null,
            })
            .collect();
        let mut execution = Self {
            id,
            project_id,
            created_by,
            workflow,
            status: EXECUTING,
            begin_ms: now_ms,
            end_ms: None,
            last_update_ms: now_ms,
            nodes,
            cursor: 0,
            cursor_started_ms: now_ms,
        };
        execution.advance(now_ms);
        execution
    }

    /// Runs the nodes forward to `now_ms`.
    pub fn advance(&mut self, now_ms: i64) {
        while self.status == EXECUTING {
            let Some(spec) = self.workflow.nodes.get(self.cursor) else {
                self.finish(self.cursor_started_ms);
                return;
            };
            let started = self.cursor_started_ms;
            let node = &mut self.nodes[self.cursor];
            if node.status == WAIT_EXECUTE {
                node.status = EXECUTING;
                node.begin_ms = Some(started);
                node.attempts += 1;
                self.last_update_ms = started;
            }
            let (node_status, execution_status) = match spec.behaviour {
                NodeBehaviour::Pause => (PAUSING, PAUSING),
                NodeBehaviour::Approval => (WAIT_APPROVAL, WAIT_APPROVAL),
                NodeBehaviour::Succeed | NodeBehaviour::Fail => {
                    let done_at = started.saturating_add(spec.duration.as_millis() as i64);
                    if now_ms < done_at {
                        return;
                    }
                    node.end_ms = Some(done_at);
                    self.last_update_ms = done_at;
                    let fails = spec.behaviour == NodeBehaviour::Fail
                        && spec.fail_attempts.is_none_or(|n| node.attempts <= n);
                    if fails {
                        node.status = FAIL;
                        node.output = json!({"error": format!("node {} failed (attempt {})", spec.id, node.attempts)});
                        self.status = FAIL;
                        return;
                    }
                    node.status = SUCCESS;
                    node.output = spec.output.clone();
                    self.cursor += 1;
                    self.cursor_started_ms = done_at;
                    continue;
                }
            };
            node.status = node_status;
            self.status = execution_status;
        }
    }

    fn finish(&mut self, at_ms: i64) {
        self.status = SUCCESS;
        self.end_ms = Some(at_ms);
        self.last_update_ms = at_ms;
    }

    /// Applies `restart`, `skip` or `continue` to the current node.
    pub fn operate(&mut self, action: &str, node_id: &str, now_ms: i64) -> Result<(), Refused> {
        self.advance(now_ms);
        if self.status == CANCEL {
            return Err(Refused(format!(
                "execution {} was stopped; there is no node to {action}",
                self.id
            )));
        }
        let Some(node) = self.nodes.get_mut(self.cursor) else {
            return Err(Refused(format!(
                "execution {} has finished ({}); there is no node to {action}",
                self.id, self.status
            )));
        };
        if node.id != node_id {
            return Err(Refused(format!(
                "node {node_id} is not the current node of execution {}; the current node is {} ({})",
                self.id, node.id, node.status
            )));
        }
        let fits = matches!(
            (action, node.status),
            ("restart" | "skip", FAIL) | ("continue", PAUSING | WAIT_APPROVAL)
        );
        if !fits {
            let hint = match node.status {
                FAIL => "a failed node takes restart or skip",
                PAUSING | WAIT_APPROVAL => "a paused node takes continue",
                _ => "the node is still running; wait for it",
            };
            return Err(Refused(format!(
                "cannot {action} node {node_id} while it is {}: {hint}",
                node.status
            )));
        }
        match action {
            "restart" => {
                node.status = WAIT_EXECUTE;
                node.end_ms = None;
            }
            _ => {
                node.status = if action == "skip" { SKIPPED } else { SUCCESS };
                node.end_ms = Some(now_ms);
                self.cursor += 1;
            }
        }
        self.status = EXECUTING;
        self.cursor_started_ms = now_ms;
        self.last_update_ms = now_ms;
        self.advance(now_ms);
        Ok(())
    }

    /// Stops the execution: it and its running, paused or waiting node become `cancel`; a
    /// failed node keeps its `fail`. An execution that has ended cannot be stopped.
    pub fn stop(&mut self, now_ms: i64) -> Result<(), Refused> {
        self.advance(now_ms);
        if matches!(self.status, SUCCESS | CANCEL) {
            return Err(Refused(format!(
                "execution {} has already ended ({}); only an execution that has not ended can be stopped",
                self.id, self.status
            )));
        }
        if let Some(node) = self.nodes.get_mut(self.cursor) {
            if matches!(node.status, EXECUTING | PAUSING | WAIT_APPROVAL) {
                node.status = CANCEL;
                node.end_ms = Some(now_ms);
            }
        }
        self.status = CANCEL;
        self.end_ms = Some(now_ms);
        self.last_update_ms = now_ms;
        Ok(())
    }

    /// One `WorkflowExecutionBrief` of `ListWorkflowExecutions`: the detail and its creator.
    pub fn brief(&self) -> Value {
        let mut brief = self.detail();
        brief["created_by"] = json!(self.created_by);
        brief
    }

    /// The `SearchWorkflowExecutionDetail` body.
    pub fn detail(&self) -> Value {
        let nodes: Vec<Value> = self
            .nodes
            .iter()
            .filter(|n| n.status != WAIT_EXECUTE || n.attempts > 0)
            .map(|n| {
                json!({
                    "node_id": n.id,
                    "begin_time": n.begin_ms,
                    "end_time": n.end_ms,
                    "function_execution_id": crate::ids::opaque(&[&self.id, &n.id, &n.attempts.to_string()]),
                    "output": n.output,
                    "status": n.status,
                })
            })
            .collect();
        json!({
            "workflow_id": self.workflow.id,
            "execution_id": self.id,
            "status": self.status,
            "begin_time": self.begin_ms,
            "end_time": self.end_ms,
            "last_update_time": self.last_update_ms,
            "execution_result_list": nodes,
            "approve_user_name_list": [],
            "project_id": self.project_id,
            "workflow_edit_time": self.begin_ms,
            "last_record_id_with_snapshot": crate::ids::opaque(&[&self.id, &self.last_update_ms.to_string()]),
        })
    }
}

/// The `ListWorkflowExecutions` body: the briefs of `executions` (one workflow's), advanced to
/// now, newest first. The API has no paging, so every execution is listed.
pub fn list<'a>(executions: impl IntoIterator<Item = &'a mut AomExecution>, now_ms: i64) -> Value {
    let mut executions: Vec<&mut AomExecution> = executions.into_iter().collect();
    executions
        .sort_by_key(|e| std::cmp::Reverse((e.begin_ms, crate::server::creation_order(&e.id))));
    let briefs: Vec<Value> = executions
        .into_iter()
        .map(|e| {
            e.advance(now_ms);
            e.brief()
        })
        .collect();
    Value::Array(briefs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;

    fn workflow(id: &str) -> AomWorkflow {
        Scenario::default_scenario().projects[0]
            .aom_workflow(id)
            .unwrap()
            .clone()
    }

    fn start(id: &str) -> AomExecution {
        AomExecution::start("e1".into(), "p".into(), "ops".into(), workflow(id), 0)
    }

    #[test]
    fn nodes_run_in_order_and_finish_exactly_on_time() {
        let mut e = start("wf-success");
        e.advance(1_999);
        assert_eq!(
            (e.status, e.nodes[0].status, e.nodes[1].status),
            (EXECUTING, EXECUTING, WAIT_EXECUTE)
        );
        e.advance(10_000);
        assert_eq!(e.status, SUCCESS);
        assert_eq!((e.nodes[1].begin_ms, e.end_ms), (Some(2_000), Some(4_000)));
    }

    #[test]
    fn fail_then_restart_then_success() {
        let mut e = start("wf-flaky");
        e.advance(5_000);
        assert_eq!((e.status, e.nodes[1].status), (FAIL, FAIL));
        assert!(e.operate("continue", "migrate", 5_000).is_err());
        assert!(e.operate("restart", "prepare", 5_000).is_err());
        e.operate("restart", "migrate", 5_000).unwrap();
        assert_eq!(e.status, EXECUTING);
        e.advance(60_000);
        assert_eq!((e.status, e.nodes[1].attempts), (SUCCESS, 2));
    }

    #[test]
    fn skip_marks_the_node_skipped_and_goes_on() {
        let mut e = start("wf-broken");
        e.advance(3_000);
        e.operate("skip", "optional-cleanup", 3_000).unwrap();
        e.advance(10_000);
        assert_eq!(
            (e.status, e.nodes[1].status, e.nodes[2].status),
            (SUCCESS, SKIPPED, SUCCESS)
        );
    }

    #[test]
    fn pause_waits_for_continue() {
        let mut e = start("wf-pause");
        e.advance(100_000);
        assert_eq!((e.status, e.nodes[1].status), (PAUSING, PAUSING));
        let refused = e.operate("restart", "gate", 100_000).unwrap_err();
        assert!(refused.0.contains("takes continue"), "{refused:?}");
        e.operate("continue", "gate", 100_000).unwrap();
        e.advance(101_000);
        assert_eq!(e.status, SUCCESS);
    }

    #[test]
    fn stop_cancels_a_running_paused_or_failed_execution_but_not_an_ended_one() {
        let mut running = start("wf-long");
        running.stop(1_000).unwrap();
        assert_eq!((running.status, running.nodes[0].status), (CANCEL, CANCEL));
        assert_eq!(
            (running.end_ms, running.nodes[0].end_ms),
            (Some(1_000), Some(1_000))
        );
        running.advance(3_600_000);
        assert_eq!(running.status, CANCEL, "a stopped execution stays stopped");
        let again = running.stop(3_600_000).unwrap_err();
        assert!(again.0.contains("already ended (cancel)"), "{again:?}");
        let operate = running.operate("restart", "soak", 3_600_000).unwrap_err();
        assert!(operate.0.contains("was stopped"), "{operate:?}");

        let mut paused = start("wf-pause");
        paused.advance(5_000);
        paused.stop(5_000).unwrap();
        assert_eq!((paused.status, paused.nodes[1].status), (CANCEL, CANCEL));

        let mut failed = start("wf-broken");
        failed.advance(5_000);
        failed.stop(5_000).unwrap();
        assert_eq!((failed.status, failed.nodes[1].status), (CANCEL, FAIL));

        let mut finished = start("wf-success");
        finished.advance(10_000);
        let refused = finished.stop(10_000).unwrap_err();
        assert!(refused.0.contains("already ended (success)"), "{refused:?}");
        assert_eq!(finished.status, SUCCESS);
    }
}
