#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The generated client against the in-process sandbox, over HTTP, on virtual time shared by
//! both: every operation, each state-machine path, and each documented error.

mod support;

use std::time::Duration;

use hwc_client::models::{
    CallbackWorkflowRequestBody, CallbackWorkflowResult, FlowExecuteBody, PausingAction,
};
use hwc_client::operations::*;
use hwc_client::runtime::{Credentials, RetryPolicy, Secret, VirtualTime};
use hwc_client::{ApiError, Client, Environment, Transport};
use hwc_sandbox::{RunningSandbox, Scenario};
use serde_json::json;

const PROJECT: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";
const OTHER_PROJECT: &str = "ffffffffffffffffffffffffffffffff";
const AK: &str = "SANDBOXAKEXAMPLE0001";
const SK: &str = "sandbox-secret-key-0001";

struct Rig {
    sandbox: RunningSandbox,
    time: VirtualTime,
    env: Environment,
}

impl Rig {
    async fn start() -> Self {
        let (sandbox, time, env) =
            support::start_on_virtual_time(Scenario::default_scenario(), 11).await;
        Self { sandbox, time, env }
    }

    fn client_as(&self, credentials: Credentials, project: &str, env: Environment) -> Client {
        let mut config = self.sandbox.transport_config(credentials, project);
        config.retry = RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        };
        Client::new(Transport::builder(config).environment(env).build().unwrap())
    }

    fn client(&self) -> Client {
        self.client_as(aksk(AK, SK), PROJECT, self.env.clone())
    }
}

fn aksk(ak: &str, sk: &str) -> Credentials {
    Credentials::AkSk {
        ak: ak.into(),
        sk: Secret::new(sk),
        security_token: None,
    }
}

fn status_params(workflow: &str, execution: &str) -> SearchWorkflowExecutionDetailParams {
    SearchWorkflowExecutionDetailParams {
        workflow_id: workflow.into(),
        execution_id: execution.into(),
    }
}

async fn start_aom(client: &Client, workflow: &str) -> String {
    let started = client
        .execute_workflow(&ExecuteWorkflowParams {
            workflow_id: workflow.into(),
        })
        .await
        .unwrap();
    started.body.execution_id.unwrap()
}

async fn aom_status(client: &Client, workflow: &str, execution: &str) -> serde_json::Value {
    let detail = client
        .search_workflow_execution_detail(&status_params(workflow, execution))
        .await
        .unwrap();
    serde_json::to_value(detail.body).unwrap()
}

async fn operate(
    client: &Client,
    workflow: &str,
    execution: &str,
    action: PausingAction,
    node: &str,
) -> Result<(), ApiError> {
    let params = StartPausingWorkflowExecutionsParams {
        workflow_id: workflow.into(),
        execution_id: execution.into(),
        action,
        node_id: node.into(),
    };
    client
        .start_pausing_workflow_executions(&params)
        .await
        .map(|_| ())
}

fn http_error(error: &ApiError) -> (u16, String, String) {
    let ApiError::Http(http) = error else {
        panic!("not an HTTP error: {error:?}")
    };
    let service = http.service.clone().unwrap_or_default();
    (
        http.status,
        service.error_code.unwrap_or_default(),
        service.error_msg.unwrap_or_default(),
    )
}

#[tokio::test]
async fn fail_restart_success() {
    let rig = Rig::start().await;
    let client = rig.client();
    let id = start_aom(&client, "wf-flaky").await;
    assert_eq!(
        aom_status(&client, "wf-flaky", &id).await["status"],
        "executing"
    );

    rig.time.advance(Duration::from_secs(3));
    let detail = aom_status(&client, "wf-flaky", &id).await;
    assert_eq!(detail["status"], "fail");
    assert_eq!(detail["execution_result_list"][1]["node_id"], "migrate");
    assert_eq!(detail["execution_result_list"][1]["status"], "fail");

    operate(&client, "wf-flaky", &id, PausingAction::Restart, "migrate")
        .await
        .unwrap();
    rig.time.advance(Duration::from_secs(5));
    let detail = aom_status(&client, "wf-flaky", &id).await;
    assert_eq!(detail["status"], "success");
    assert_eq!(
        detail["execution_result_list"][1]["output"],
        json!({"migrated": 3})
    );
}

#[tokio::test]
async fn fail_skip_success_marks_the_node_skipped() {
    let rig = Rig::start().await;
    let client = rig.client();
    let id = start_aom(&client, "wf-broken").await;
    rig.time.advance(Duration::from_secs(3));
    operate(
        &client,
        "wf-broken",
        &id,
        PausingAction::Skip,
        "optional-cleanup",
    )
    .await
    .unwrap();
    rig.time.advance(Duration::from_secs(3));
    let detail = aom_status(&client, "wf-broken", &id).await;
    assert_eq!(detail["status"], "success");
    assert_eq!(detail["execution_result_list"][1]["status"], "skipped");
}

#[tokio::test]
async fn pause_continue_and_a_waiter_sees_it_through() {
    let rig = Rig::start().await;
    let client = rig.client();
    let id = start_aom(&client, "wf-pause").await;
    rig.time.advance(Duration::from_secs(2));
    assert_eq!(
        aom_status(&client, "wf-pause", &id).await["status"],
        "pausing"
    );

    let error = operate(&client, "wf-pause", &id, PausingAction::Restart, "gate")
        .await
        .unwrap_err();
    let (status, code, message) = http_error(&error);
    assert_eq!((status, code.as_str()), (400, "AOM.31001403"));
    assert!(message.contains("takes continue"), "{message}");

    operate(&client, "wf-pause", &id, PausingAction::Continue, "gate")
        .await
        .unwrap();
    let done = client
        .wait_until_aom_execution_succeeded(
            &status_params("wf-pause", &id),
            Duration::from_secs(120),
        )
        .await
        .unwrap();
    assert!(done.polls >= 1);
}

#[tokio::test]
async fn unknown_workflow_and_unknown_execution_are_404() {
    let rig = Rig::start().await;
    let client = rig.client();
    let error = client
        .execute_workflow(&ExecuteWorkflowParams {
            workflow_id: "nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        http_error(&error),
        (404, "AOM.31001306".into(), "workflow not exist.".into())
    );
    assert!(error.request_id().is_some());

    let error = client
        .search_workflow_execution_detail(&status_params("wf-success", "missing"))
        .await
        .unwrap_err();
    assert_eq!(http_error(&error).0, 404);
}

#[tokio::test]
async fn bad_signature_expired_date_and_wrong_project_are_refused() {
    let rig = Rig::start().await;
    let params = ExecuteWorkflowParams {
        workflow_id: "wf-success".into(),
    };

    let wrong_sk = rig.client_as(aksk(AK, "not-the-secret"), PROJECT, rig.env.clone());
    let error = wrong_sk.execute_workflow(&params).await.unwrap_err();
    assert_eq!(
        http_error(&error),
        (401, "AOM.31009004".into(), "auth failed.".into())
    );

    let (late_env, late_time) =
        Environment::virtual_time(time::macros::datetime!(2026-03-04 05:06:07 UTC), 3);
    late_time.advance(Duration::from_secs(16 * 60));
    let skewed = rig.client_as(aksk(AK, SK), PROJECT, late_env);
    assert_eq!(
        http_error(&skewed.execute_workflow(&params).await.unwrap_err()).0,
        401
    );

    let other = rig.client_as(
        aksk("SANDBOXAKOTHERPROJECT", "sandbox-secret-key-other"),
        PROJECT,
        rig.env.clone(),
    );
    assert_eq!(
        http_error(&other.execute_workflow(&params).await.unwrap_err()).0,
        403
    );

    // The other project's own workflows are its own; this project's are invisible to it.
    let other_home = rig.client_as(
        aksk("SANDBOXAKOTHERPROJECT", "sandbox-secret-key-other"),
        OTHER_PROJECT,
        rig.env.clone(),
    );
    assert_eq!(
        http_error(&other_home.execute_workflow(&params).await.unwrap_err()).0,
        404
    );
    other_home
        .execute_workflow(&ExecuteWorkflowParams {
            workflow_id: "wf-other".into(),
        })
        .await
        .unwrap();

    let token = rig.client_as(
        Credentials::Token(Secret::new("sandbox-iam-token-0001")),
        PROJECT,
        rig.env.clone(),
    );
    token.execute_workflow(&params).await.unwrap();
    let bad_token = rig.client_as(
        Credentials::Token(Secret::new("forged")),
        PROJECT,
        rig.env.clone(),
    );
    assert_eq!(
        http_error(&bad_token.execute_workflow(&params).await.unwrap_err()).0,
        401
    );
}

#[tokio::test]
async fn sync_executions_succeed_fail_and_time_out() {
    let rig = Rig::start().await;
    let client = rig.client();
    let run = |workflow: &str| StartSyncWorkflowExecutionParams {
        workflow_id: workflow.into(),
        body: FlowExecuteBody {
            headers: None,
            input: json!({"order": 7}),
        },
    };
    let echo = client
        .start_sync_workflow_execution(&run("fg-echo"))
        .await
        .unwrap()
        .body;
    assert_eq!(echo.status.unwrap().as_str(), "success");
    assert_eq!(echo.output.unwrap()["echo"], json!({"order": 7}));
    assert_eq!(echo.begin_time.as_deref(), Some("2026-03-04T05:06:07Z"));

    let failed = client
        .start_sync_workflow_execution(&run("fg-fail"))
        .await
        .unwrap()
        .body;
    assert_eq!(failed.status.unwrap().as_str(), "fail");
    assert_eq!(failed.errors.unwrap().len(), 1);

    let timed_out = client
        .start_sync_workflow_execution(&run("fg-timeout"))
        .await
        .unwrap()
        .body;
    assert_eq!(timed_out.status.unwrap().as_str(), "timeout");

    let error = client
        .start_sync_workflow_execution(&run("fg-callback"))
        .await
        .unwrap_err();
    assert_eq!(http_error(&error).1, "FGS.3002");
}

async fn start_fg(client: &Client, workflow: &str) -> String {
    let params = StartWorkflowExecutionParams {
        workflow_id: workflow.into(),
        x_create_time: None,
        x_workflow_run_id: None,
        x_workflow_run_merge_fn_parameters: None,
        body: FlowExecuteBody {
            headers: None,
            input: json!({"ticket": "T-1"}),
        },
    };
    client
        .start_workflow_execution(&params)
        .await
        .unwrap()
        .body
        .execution_id
        .unwrap()
}

fn callback(
    run: &str,
    state: &str,
    result: CallbackWorkflowResult,
) -> CreateCallbackWorkflowParams {
    CreateCallbackWorkflowParams {
        workflow_id: "fg-callback".into(),
        x_workflow_run_id: run.into(),
        x_workflow_state_id: state.into(),
        body: CallbackWorkflowRequestBody {
            result,
            error: None,
            output: json!({"approved_by": "ops"}),
        },
    }
}

fn show(workflow: &str, run: &str) -> ShowWorkflowExecutionParams {
    ShowWorkflowExecutionParams {
        workflow_id: workflow.into(),
        execution_id: run.into(),
        x_get_workflow_full_history_data: None,
    }
}

#[tokio::test]
async fn callbacks_resume_or_fail_a_waiting_state() {
    let rig = Rig::start().await;
    let client = rig.client();
    let run = start_fg(&client, "fg-callback").await;
    rig.time.advance(Duration::from_secs(5));
    let early = client
        .create_callback_workflow(&callback(&run, "finish", CallbackWorkflowResult::Success))
        .await
        .unwrap_err();
    assert_eq!(http_error(&early).0, 400);
    let unknown = client
        .create_callback_workflow(&callback(
            "no-such-run",
            "await-approval",
            CallbackWorkflowResult::Success,
        ))
        .await
        .unwrap_err();
    assert_eq!(http_error(&unknown).0, 404);

    client
        .create_callback_workflow(&callback(
            &run,
            "await-approval",
            CallbackWorkflowResult::Success,
        ))
        .await
        .unwrap();
    let done = client
        .wait_until_function_graph_execution_succeeded(
            &show("fg-callback", &run),
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    let details = done.response.body.node_execution_details.unwrap();
    assert_eq!(details.len(), 3);

    let failing = start_fg(&client, "fg-callback").await;
    rig.time.advance(Duration::from_secs(5));
    client
        .create_callback_workflow(&callback(
            &failing,
            "await-approval",
            CallbackWorkflowResult::Fail,
        ))
        .await
        .unwrap();
    let shown = client
        .show_workflow_execution(&show("fg-callback", &failing))
        .await
        .unwrap()
        .body;
    assert_eq!(shown.status.unwrap().as_str(), "fail");
}

#[tokio::test]
async fn malformed_input_is_a_400_and_the_inspection_counts_requests() {
    let rig = Rig::start().await;
    let client = rig.client();
    let invalid = hwc_client::catalogue::invoke(
        &client,
        "StartPausingWorkflowExecutions",
        json!({"workflow_id": "wf-pause", "execution_id": "e", "action": "explode", "node_id": "gate"}),
    )
    .await
    .unwrap_err();
    let hwc_client::runtime::InvokeError::Api(error) = &invalid else {
        panic!("{invalid:?}")
    };
    let (status, code, message) = http_error(error);
    assert_eq!((status, code.as_str()), (400, "AOM.31001403"));
    assert!(message.contains("restart, skip, continue"), "{message}");

    start_aom(&client, "wf-success").await;
    let counts = rig.sandbox.request_counts();
    assert_eq!(counts.get("ExecuteWorkflow"), Some(&1));
    assert_eq!(counts.get("StartPausingWorkflowExecutions"), Some(&1));
    assert_eq!(rig.sandbox.executions()["aom"].as_array().unwrap().len(), 1);
    rig.sandbox.shutdown().await.unwrap();
}

async fn rig_with_faults(faults: &str) -> Rig {
    let text = format!("{}\nfaults:\n{faults}", hwc_sandbox::DEFAULT_SCENARIO);
    let scenario = Scenario::parse("faults.yaml", &text).unwrap();
    let (sandbox, time, env) = support::start_on_virtual_time(scenario, 42).await;
    Rig { sandbox, time, env }
}

fn with_retries(rig: &Rig) -> Client {
    let mut config = rig.sandbox.transport_config(aksk(AK, SK), PROJECT);
    config.retry = RetryPolicy {
        max_attempts: 8,
        ..RetryPolicy::default()
    };
    Client::new(
        Transport::builder(config)
            .environment(rig.env.clone())
            .build()
            .unwrap(),
    )
}

#[tokio::test]
async fn injected_500s_and_429s_are_retried_and_nothing_starts_twice() {
    let rig = rig_with_faults(
        "  ExecuteWorkflow: {throttle_429: 0.5, retry_after_secs: 2}\n  SearchWorkflowExecutionDetail: {error_500: 0.5, latency: 5ms}\n",
    )
    .await;
    let client = with_retries(&rig);
    let mut started = Vec::new();
    for _ in 0..5 {
        started.push(start_aom(&client, "wf-success").await);
    }
    for id in &started {
        aom_status(&client, "wf-success", id).await;
    }
    let counts = rig.sandbox.request_counts();
    assert!(
        counts["ExecuteWorkflow"] > 5,
        "the seed should throttle some starts: {counts:?}"
    );
    assert!(
        counts["SearchWorkflowExecutionDetail"] > 5,
        "the seed should fail some reads: {counts:?}"
    );
    assert_eq!(
        rig.sandbox.executions()["aom"].as_array().unwrap().len(),
        5,
        "each workflow started exactly once"
    );
}

#[tokio::test]
async fn a_dropped_connection_on_a_start_is_not_retried() {
    let rig = rig_with_faults("  ExecuteWorkflow: {drop: 1.0}\n").await;
    let client = with_retries(&rig);
    let error = client
        .execute_workflow(&ExecuteWorkflowParams {
            workflow_id: "wf-success".into(),
        })
        .await
        .unwrap_err();
    assert!(
        matches!(error, ApiError::Transport { attempts: 1, .. }),
        "{error:?}"
    );
    assert_eq!(rig.sandbox.request_counts()["ExecuteWorkflow"], 1);
}

#[tokio::test]
async fn apply_then_drop_starts_the_workflow_and_loses_the_answer() {
    let rig = rig_with_faults("  ExecuteWorkflow: {apply_then_drop: 1.0}\n").await;
    let client = with_retries(&rig);
    let error = client
        .execute_workflow(&ExecuteWorkflowParams {
            workflow_id: "wf-success".into(),
        })
        .await
        .unwrap_err();
    assert!(
        matches!(error, ApiError::Transport { attempts: 1, .. }),
        "{error:?}"
    );
    assert!(error.may_have_taken_effect(), "{error}");
    assert!(
        error.request_id().is_some(),
        "the answer's headers arrived, so the request id is known: {error}"
    );
    assert_eq!(rig.sandbox.request_counts()["ExecuteWorkflow"], 1);
    assert_eq!(
        rig.sandbox.executions()["aom"].as_array().unwrap().len(),
        1,
        "the start took effect"
    );
}

#[tokio::test]
async fn a_request_whose_client_hangs_up_is_still_applied() {
    let rig = rig_with_faults("  ExecuteWorkflow: {latency: 300ms}\n").await;
    let mut config = rig.sandbox.transport_config(aksk(AK, SK), PROJECT);
    config.retry.max_attempts = 1;
    config.request_timeout = std::time::Duration::from_millis(50);
    let impatient = Client::new(
        Transport::builder(config)
            .environment(rig.env.clone())
            .build()
            .unwrap(),
    );
    let error = impatient
        .execute_workflow(&ExecuteWorkflowParams {
            workflow_id: "wf-success".into(),
        })
        .await
        .unwrap_err();
    assert!(error.may_have_taken_effect(), "{error}");
    let mut started = 0;
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        started = rig.sandbox.executions()["aom"].as_array().unwrap().len();
        if started > 0 {
            break;
        }
    }
    assert_eq!(started, 1, "the service applies a request that reached it");
}

#[test]
fn fault_rates_are_checked() {
    let text = format!(
        "{}\nfaults:\n  ExecuteWorkflow: {{error_500: 0.8, drop: 0.5}}\n",
        hwc_sandbox::DEFAULT_SCENARIO
    );
    let error = Scenario::parse("f.yaml", &text).unwrap_err();
    assert!(error.to_string().contains("add up to at most 1"), "{error}");
    let text = format!(
        "{}\nfaults:\n  Nope: {{error_500: 0.1}}\n",
        hwc_sandbox::DEFAULT_SCENARIO
    );
    assert!(Scenario::parse("f.yaml", &text)
        .unwrap_err()
        .to_string()
        .contains("`Nope`"));
}

#[tokio::test]
async fn a_malformed_body_is_a_400_naming_the_problem() {
    let rig = Rig::start().await;
    let url = format!(
        "{}/v2/{PROJECT}/fgs/workflows/fg-echo/sync-executions",
        rig.sandbox.url()
    );
    let answer = reqwest::Client::new()
        .post(url)
        .header("X-Auth-Token", "sandbox-iam-token-0001")
        .header("Content-Type", "application/json")
        .body("{\"input\": {\"unterminated\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 400);
    assert!(answer.headers().contains_key("x-request-id"));
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(body["error_code"], "FGS.3002");
    assert!(
        body["error_msg"]
            .as_str()
            .unwrap()
            .starts_with("malformed body"),
        "{body}"
    );
}
