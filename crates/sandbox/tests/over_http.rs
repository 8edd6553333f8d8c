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
use hwc_sandbox::script::Segment;
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
    // Each run takes its express duration (virtual time) before it answers.
    assert_eq!(
        (echo.begin_time.as_deref(), echo.end_time.as_deref()),
        (Some("2026-03-04T05:06:07Z"), Some("2026-03-04T05:06:08Z"))
    );
    assert_eq!(rig.env.clock.elapsed(), Duration::from_secs(1));

    let failed = client
        .start_sync_workflow_execution(&run("fg-fail"))
        .await
        .unwrap()
        .body;
    assert_eq!(failed.status.unwrap().as_str(), "fail");
    assert_eq!(failed.errors.unwrap().len(), 1);
    assert_eq!(rig.env.clock.elapsed(), Duration::from_secs(2));

    let timed_out = client
        .start_sync_workflow_execution(&run("fg-timeout"))
        .await
        .unwrap()
        .body;
    assert_eq!(timed_out.status.unwrap().as_str(), "timeout");
    assert_eq!(
        (
            timed_out.begin_time.as_deref(),
            timed_out.end_time.as_deref()
        ),
        (Some("2026-03-04T05:06:09Z"), Some("2026-03-04T05:06:12Z"))
    );
    assert_eq!(rig.env.clock.elapsed(), Duration::from_secs(5));

    let error = client
        .start_sync_workflow_execution(&run("fg-callback"))
        .await
        .unwrap_err();
    assert_eq!(http_error(&error).1, "FGS.3002");
}

/// While a sync run is under way it is listed as running, by the user whose key started it,
/// cannot be stopped, and its answer leaves when it ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_run_is_running_until_its_answer_leaves() {
    let rig = Rig::start().await;
    let client = rig.client();
    // Held by the test: the clock stays put while it looks at the run under way.
    let looking = rig.env.in_flight();
    let asking = {
        let client = client.clone();
        tokio::spawn(async move {
            let params = StartSyncWorkflowExecutionParams {
                workflow_id: "fg-echo".into(),
                body: FlowExecuteBody {
                    headers: None,
                    input: json!({"order": 7}),
                },
            };
            client.start_sync_workflow_execution(&params).await
        })
    };
    let mut listed = Vec::new();
    for _ in 0..500 {
        listed = client
            .list_function_graph_workflow_executions(&list_fg("fg-echo"))
            .await
            .unwrap()
            .body
            .executions
            .unwrap_or_default();
        if !listed.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert_eq!(listed.len(), 1, "the sync run is listed while it runs");
    let brief = &listed[0];
    assert_eq!(brief.status.as_ref().map(|s| s.as_str()), Some("running"));
    assert_eq!(brief.end_time, None);
    assert_eq!(brief.created_by.as_deref(), Some("ops-admin"));
    let execution_id = brief.execution_id.clone().unwrap();
    let refused = client
        .stop_work_flow(&StopWorkFlowParams {
            workflow_id: "fg-echo".into(),
            execution_id: execution_id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(http_error(&refused).1, "FGS.3002");
    assert!(!asking.is_finished(), "no answer before the run has ended");
    assert_eq!(rig.env.clock.elapsed(), Duration::ZERO);

    drop(looking);
    let answer = asking.await.unwrap().unwrap().body;
    assert_eq!(answer.execution_id.as_deref(), Some(execution_id.as_str()));
    assert_eq!(answer.status.unwrap().as_str(), "success");
    assert_eq!(rig.env.clock.elapsed(), Duration::from_secs(1));
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

/// Bodies the service refuses, each a 400 in its words (never the parser's, nor Rust's range
/// syntax): not JSON, a missing field, `input` that is no object, sent as text, a parameter
/// out of its limits; and a path with a trailing `/` is no API at all.
#[tokio::test]
async fn refused_bodies_and_paths_are_answered_in_the_apis_words() {
    let rig = Rig::start().await;
    let sync = format!(
        "{}/v2/{PROJECT}/fgs/workflows/fg-echo/sync-executions",
        rig.sandbox.url()
    );
    let http = reqwest::Client::new();
    let send = |url: String, content_type: &'static str, body: &'static str| {
        http.post(url)
            .header("X-Auth-Token", "sandbox-iam-token-0001")
            .header("Content-Type", content_type)
            .body(body)
            .send()
    };
    for (content_type, body, message) in [
        (
            "application/json",
            "{\"input\": {\"unterminated\": ",
            "The request body is not valid JSON.",
        ),
        (
            "application/json",
            "{\"headers\": {}}",
            "input is required.",
        ),
        (
            "application/json",
            "{\"input\": \"text\"}",
            "input must be a JSON object.",
        ),
        (
            "application/json;charset=UTF-8",
            "{\"input\": [1]}",
            "input must be a JSON object.",
        ),
        (
            "text/plain",
            "{\"input\": {}}",
            "The request body must be sent as application/json.",
        ),
    ] {
        let answer = send(sync.clone(), content_type, body).await.unwrap();
        assert_eq!(answer.status().as_u16(), 400, "{body}");
        assert!(answer.headers().contains_key("x-request-id"));
        let answer: serde_json::Value = answer.json().await.unwrap();
        assert_eq!(answer["error_code"], "FGS.3002", "{answer}");
        assert_eq!(answer["error_msg"], message, "{body}: {answer}");
    }
    let good = send(
        sync.clone(),
        "application/json;charset=UTF-8",
        "{\"input\": {\"a\": 1}}",
    );
    assert_eq!(good.await.unwrap().status().as_u16(), 200);

    let trailing = send(format!("{sync}/"), "application/json", "{\"input\": {}}");
    let trailing = trailing.await.unwrap();
    assert_eq!(trailing.status().as_u16(), 404);
    let trailing: serde_json::Value = trailing.json().await.unwrap();
    assert_eq!(trailing["error_code"], "APIGW.0101", "{trailing}");

    let listed = format!(
        "{}/v2/{PROJECT}/fgs/workflows/fg-standard/executions?limit=501",
        rig.sandbox.url()
    );
    let answer = http
        .get(listed)
        .header("X-Auth-Token", "sandbox-iam-token-0001")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 400);
    let answer: serde_json::Value = answer.json().await.unwrap();
    let message = answer["error_msg"].as_str().unwrap();
    assert!(
        message.starts_with("The value of limit must be "),
        "{answer}"
    );
    assert!(!message.contains(".."), "{answer}");
}

// ------------------------------------------------------------------ listing and stopping

fn list_aom(workflow: &str) -> ListWorkflowExecutionsParams {
    ListWorkflowExecutionsParams {
        workflow_id: workflow.into(),
        x_enterprise_project_id: None,
    }
}

fn stop_aom(workflow: &str, execution: &str) -> StopExecutionParams {
    StopExecutionParams {
        workflow_id: workflow.into(),
        execution_id: execution.into(),
    }
}

fn stop_fg(workflow: &str, execution: &str) -> StopWorkFlowParams {
    StopWorkFlowParams {
        workflow_id: workflow.into(),
        execution_id: execution.into(),
    }
}

fn list_fg(workflow: &str) -> ListFunctionGraphWorkflowExecutionsParams {
    ListFunctionGraphWorkflowExecutionsParams {
        workflow_id: workflow.into(),
        limit: None,
        offset: None,
        status: None,
        start_time: None,
        end_time: None,
    }
}

/// `(execution_id, status)` of each listed AOM execution, in the order listed.
async fn aom_listing(client: &Client, workflow: &str) -> Vec<(String, String)> {
    let briefs = client
        .list_workflow_executions(&list_aom(workflow))
        .await
        .unwrap()
        .body;
    briefs
        .into_iter()
        .map(|b| (b.execution_id.unwrap(), b.status.unwrap().to_string()))
        .collect()
}

/// The execution ids of one FunctionGraph list page, in the order listed.
async fn fg_page(
    client: &Client,
    params: &ListFunctionGraphWorkflowExecutionsParams,
) -> Vec<String> {
    let page = client
        .list_function_graph_workflow_executions(params)
        .await
        .unwrap()
        .body;
    page.executions
        .unwrap()
        .into_iter()
        .map(|e| e.execution_id.unwrap())
        .collect()
}

#[tokio::test]
async fn aom_lists_newest_first_and_stop_cancels_once() {
    let rig = Rig::start().await;
    let client = rig.client();
    // Same virtual millisecond for all three: the order still follows the starts.
    let first = start_aom(&client, "wf-long").await;
    let second = start_aom(&client, "wf-long").await;
    start_aom(&client, "wf-success").await;

    let listed = aom_listing(&client, "wf-long").await;
    assert_eq!(
        listed,
        vec![
            (second.clone(), "executing".to_owned()),
            (first.clone(), "executing".to_owned())
        ]
    );
    let brief = &client
        .list_workflow_executions(&list_aom("wf-long"))
        .await
        .unwrap()
        .body[0];
    assert_eq!(brief.created_by.as_deref(), Some("ops-admin"));
    assert_eq!(brief.project_id.as_deref(), Some(PROJECT));

    rig.time.advance(Duration::from_secs(30));
    let stopped = client
        .stop_execution(&stop_aom("wf-long", &first))
        .await
        .unwrap();
    assert_eq!(stopped.body, "success");
    let detail = aom_status(&client, "wf-long", &first).await;
    assert_eq!(detail["status"], "cancel");
    assert_eq!(detail["execution_result_list"][0]["status"], "cancel");
    assert_eq!(detail["end_time"], detail["last_update_time"]);
    // Time goes on; the stopped execution stays stopped, the other one keeps running.
    rig.time.advance(Duration::from_secs(60));
    assert_eq!(
        aom_listing(&client, "wf-long").await,
        vec![
            (second.clone(), "executing".to_owned()),
            (first.clone(), "cancel".to_owned())
        ]
    );

    let again = client
        .stop_execution(&stop_aom("wf-long", &first))
        .await
        .unwrap_err();
    let (status, code, message) = http_error(&again);
    assert_eq!((status, code.as_str()), (400, "AOM.31001403"));
    assert!(message.contains("already ended (cancel)"), "{message}");
    let restart = operate(&client, "wf-long", &first, PausingAction::Restart, "soak")
        .await
        .unwrap_err();
    assert!(http_error(&restart).2.contains("was stopped"));

    let finished = start_aom(&client, "wf-success").await;
    rig.time.advance(Duration::from_secs(10));
    let error = client
        .stop_execution(&stop_aom("wf-success", &finished))
        .await
        .unwrap_err();
    let (status, _, message) = http_error(&error);
    assert_eq!(status, 400);
    assert!(message.contains("already ended (success)"), "{message}");
    assert_eq!(
        aom_status(&client, "wf-success", &finished).await["status"],
        "success"
    );

    let missing = client
        .stop_execution(&stop_aom("wf-long", "no-such-execution"))
        .await
        .unwrap_err();
    assert_eq!(
        http_error(&missing),
        (404, "AOM.31001307".into(), "execution not exist.".into())
    );
    let no_workflow = client
        .list_workflow_executions(&list_aom("nope"))
        .await
        .unwrap_err();
    assert_eq!(http_error(&no_workflow).1, "AOM.31001306");
    assert!(aom_listing(&client, "wf-pause").await.is_empty());
}

#[tokio::test]
async fn a_paused_or_failed_aom_execution_can_be_stopped() {
    let rig = Rig::start().await;
    let client = rig.client();
    let paused = start_aom(&client, "wf-pause").await;
    let failed = start_aom(&client, "wf-broken").await;
    rig.time.advance(Duration::from_secs(5));
    assert_eq!(
        aom_status(&client, "wf-pause", &paused).await["status"],
        "pausing"
    );
    assert_eq!(
        aom_status(&client, "wf-broken", &failed).await["status"],
        "fail"
    );

    client
        .stop_execution(&stop_aom("wf-pause", &paused))
        .await
        .unwrap();
    client
        .stop_execution(&stop_aom("wf-broken", &failed))
        .await
        .unwrap();

    let paused = aom_status(&client, "wf-pause", &paused).await;
    assert_eq!(paused["status"], "cancel");
    assert_eq!(paused["execution_result_list"][1]["status"], "cancel");
    let failed = aom_status(&client, "wf-broken", &failed).await;
    assert_eq!(failed["status"], "cancel");
    // The node that failed keeps its failure; only the execution is cancelled.
    assert_eq!(failed["execution_result_list"][1]["status"], "fail");
}

#[tokio::test]
async fn functiongraph_lists_page_by_page_filtered_by_status_and_time() {
    let rig = Rig::start().await;
    let client = rig.client();
    let mut started = Vec::new();
    for _ in 0..5 {
        started.push(start_fg(&client, "fg-callback").await);
        rig.time.advance(Duration::from_secs(60));
    }
    start_fg(&client, "fg-standard").await;
    client
        .stop_work_flow(&stop_fg("fg-callback", &started[1]))
        .await
        .unwrap();
    let newest_first: Vec<String> = started.iter().rev().cloned().collect();

    assert_eq!(
        fg_page(&client, &list_fg("fg-callback")).await,
        newest_first
    );

    // Pages of two, walked with offset, cover every execution once, in order.
    let mut walked = Vec::new();
    for offset in [0, 2, 4, 6] {
        let page = fg_page(
            &client,
            &ListFunctionGraphWorkflowExecutionsParams {
                limit: Some(2),
                offset: Some(offset),
                ..list_fg("fg-callback")
            },
        )
        .await;
        assert!(page.len() <= 2, "{page:?}");
        walked.extend(page);
    }
    assert_eq!(walked, newest_first);
    // A negative offset is taken as 0, as documented.
    let from_negative = ListFunctionGraphWorkflowExecutionsParams {
        limit: Some(1),
        offset: Some(-3),
        ..list_fg("fg-callback")
    };
    assert_eq!(
        fg_page(&client, &from_negative).await,
        vec![started[4].clone()]
    );

    let by_status = |status: &str| ListFunctionGraphWorkflowExecutionsParams {
        status: Some(status.into()),
        ..list_fg("fg-callback")
    };
    assert_eq!(
        fg_page(&client, &by_status("cancel")).await,
        vec![started[1].clone()]
    );
    assert_eq!(fg_page(&client, &by_status("running")).await.len(), 4);
    assert!(fg_page(&client, &by_status("success")).await.is_empty());

    // The sandbox clock started at 2026-03-04T05:06:07Z; starts were a minute apart.
    let window = ListFunctionGraphWorkflowExecutionsParams {
        start_time: Some("2026-03-04T05:07:00Z".into()),
        end_time: Some("2026-03-04 05:09:30".into()),
        ..list_fg("fg-callback")
    };
    assert_eq!(
        fg_page(&client, &window).await,
        vec![started[3].clone(), started[2].clone(), started[1].clone()]
    );
    let bad_time = client
        .list_function_graph_workflow_executions(&ListFunctionGraphWorkflowExecutionsParams {
            start_time: Some("last tuesday".into()),
            ..list_fg("fg-callback")
        })
        .await
        .unwrap_err();
    let (status, code, message) = http_error(&bad_time);
    assert_eq!((status, code.as_str()), (400, "FGS.3002"));
    assert!(message.contains("start_time"), "{message}");

    // With no window the last 3 days are listed: after four days, nothing.
    rig.time.advance(Duration::from_secs(4 * 24 * 60 * 60));
    assert!(fg_page(&client, &list_fg("fg-callback")).await.is_empty());
    let since_start = ListFunctionGraphWorkflowExecutionsParams {
        start_time: Some("2026-03-04T00:00:00Z".into()),
        ..list_fg("fg-callback")
    };
    assert_eq!(fg_page(&client, &since_start).await.len(), 5);
}

#[tokio::test]
async fn functiongraph_page_sizes_default_to_100_and_stop_at_200() {
    let rig = Rig::start().await;
    let client = rig.client();
    for _ in 0..205 {
        start_fg(&client, "fg-standard").await;
    }
    assert_eq!(fg_page(&client, &list_fg("fg-standard")).await.len(), 100);
    let large = ListFunctionGraphWorkflowExecutionsParams {
        limit: Some(500),
        ..list_fg("fg-standard")
    };
    assert_eq!(fg_page(&client, &large).await.len(), 200);

    // Past the spec's maximum the sandbox refuses, as the client does before sending.
    let url = format!(
        "{}/v2/{PROJECT}/fgs/workflows/fg-standard/executions?limit=501",
        rig.sandbox.url()
    );
    let answer = reqwest::Client::new()
        .get(url)
        .header("X-Auth-Token", "sandbox-iam-token-0001")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(body["error_code"], "FGS.3002");
    assert!(
        body["error_msg"].as_str().unwrap().contains("limit"),
        "{body}"
    );
}

#[tokio::test]
async fn functiongraph_stop_cancels_a_running_execution_once() {
    let rig = Rig::start().await;
    let client = rig.client();
    let running = start_fg(&client, "fg-standard").await;
    rig.time.advance(Duration::from_secs(1));
    let stopped = client
        .stop_work_flow(&stop_fg("fg-standard", &running))
        .await
        .unwrap();
    assert_eq!(stopped.status, 200);
    assert_eq!(
        stopped.body,
        serde_json::Value::Null,
        "no body, as documented"
    );

    rig.time.advance(Duration::from_secs(10));
    let shown = client
        .show_workflow_execution(&show("fg-standard", &running))
        .await
        .unwrap()
        .body;
    assert_eq!(shown.status.unwrap().as_str(), "cancel");
    assert_eq!(shown.end_time.as_deref(), Some("2026-03-04T05:06:08Z"));
    let nodes = shown.node_execution_details.unwrap();
    assert_eq!(nodes.len(), 1, "the second state never started");
    assert_eq!(
        nodes[0].executions.as_ref().unwrap()[0]
            .status
            .as_ref()
            .unwrap()
            .as_str(),
        "cancel"
    );

    let again = client
        .stop_work_flow(&stop_fg("fg-standard", &running))
        .await
        .unwrap_err();
    let (status, code, message) = http_error(&again);
    assert_eq!((status, code.as_str()), (400, "FGS.3002"));
    assert!(message.contains("already ended (cancel)"), "{message}");

    let finished = start_fg(&client, "fg-standard").await;
    rig.time.advance(Duration::from_secs(10));
    let error = client
        .stop_work_flow(&stop_fg("fg-standard", &finished))
        .await
        .unwrap_err();
    assert!(http_error(&error).2.contains("already ended (success)"));

    let missing = client
        .stop_work_flow(&stop_fg("fg-standard", "no-such-run"))
        .await
        .unwrap_err();
    assert_eq!(http_error(&missing).1, "FGS.5003");
}

#[tokio::test]
async fn another_project_can_neither_list_nor_stop_these_executions() {
    let rig = Rig::start().await;
    let client = rig.client();
    let aom_run = start_aom(&client, "wf-long").await;
    let fg_run = start_fg(&client, "fg-callback").await;
    let other_key = || aksk("SANDBOXAKOTHERPROJECT", "sandbox-secret-key-other");

    // Through this project's path: refused before anything is looked up.
    let intruder = rig.client_as(other_key(), PROJECT, rig.env.clone());
    let error = intruder
        .list_workflow_executions(&list_aom("wf-long"))
        .await
        .unwrap_err();
    assert_eq!(http_error(&error).0, 403);
    let error = intruder
        .stop_execution(&stop_aom("wf-long", &aom_run))
        .await
        .unwrap_err();
    assert_eq!(http_error(&error).0, 403);
    let error = intruder
        .stop_work_flow(&stop_fg("fg-callback", &fg_run))
        .await
        .unwrap_err();
    assert_eq!(http_error(&error).0, 403);

    // Through its own project: these workflows and executions do not exist there.
    let other = rig.client_as(other_key(), OTHER_PROJECT, rig.env.clone());
    start_aom(&other, "wf-other").await;
    let error = other
        .list_workflow_executions(&list_aom("wf-long"))
        .await
        .unwrap_err();
    assert_eq!(http_error(&error).1, "AOM.31001306");
    let error = other
        .stop_execution(&stop_aom("wf-other", &aom_run))
        .await
        .unwrap_err();
    assert_eq!(http_error(&error).1, "AOM.31001307");
    let error = other
        .list_function_graph_workflow_executions(&list_fg("fg-callback"))
        .await
        .unwrap_err();
    assert_eq!(http_error(&error).1, "FGS.5002");
    assert_eq!(aom_listing(&other, "wf-other").await.len(), 1);

    // Nothing changed here.
    assert_eq!(
        aom_listing(&client, "wf-long").await,
        vec![(aom_run, "executing".to_owned())]
    );
    assert_eq!(
        fg_page(&client, &list_fg("fg-callback")).await,
        vec![fg_run]
    );
}

fn sync_params(workflow: &str, input: serde_json::Value) -> StartSyncWorkflowExecutionParams {
    StartSyncWorkflowExecutionParams {
        workflow_id: workflow.into(),
        body: FlowExecuteBody {
            headers: Some(json!({"trace": "t-9"})),
            input,
        },
    }
}

#[tokio::test]
async fn a_sync_run_is_listed_shown_and_cannot_be_stopped() {
    let rig = Rig::start().await;
    let client = rig.client();
    let echo = client
        .start_sync_workflow_execution(&sync_params("fg-echo", json!({"order": 7})))
        .await
        .unwrap()
        .body;
    let echo_id = echo.execution_id.clone().unwrap();
    rig.time.advance(Duration::from_secs(60));
    let later = client
        .start_sync_workflow_execution(&sync_params("fg-echo", json!({"order": 8})))
        .await
        .unwrap()
        .body
        .execution_id
        .unwrap();
    let failed = client
        .start_sync_workflow_execution(&sync_params("fg-fail", json!({})))
        .await
        .unwrap()
        .body
        .execution_id
        .unwrap();
    let timed_out = client
        .start_sync_workflow_execution(&sync_params("fg-timeout", json!({})))
        .await
        .unwrap()
        .body
        .execution_id
        .unwrap();

    // Listed per workflow, newest first, with the status and times the answer gave.
    assert_eq!(
        fg_page(&client, &list_fg("fg-echo")).await,
        vec![later.clone(), echo_id.clone()]
    );
    let briefs = client
        .list_function_graph_workflow_executions(&list_fg("fg-echo"))
        .await
        .unwrap()
        .body
        .executions
        .unwrap();
    let brief = &briefs[1];
    assert_eq!(brief.status.as_ref().unwrap().as_str(), "success");
    assert_eq!(brief.begin_time, echo.begin_time);
    assert_eq!(brief.end_time, echo.end_time);
    assert_eq!(brief.end_time.as_deref(), Some("2026-03-04T05:06:08Z"));
    assert_eq!(
        fg_page(&client, &list_fg("fg-fail")).await,
        vec![failed.clone()]
    );
    let by_status = |workflow: &str, status: &str| ListFunctionGraphWorkflowExecutionsParams {
        status: Some(status.into()),
        ..list_fg(workflow)
    };
    assert_eq!(
        fg_page(&client, &by_status("fg-timeout", "timeout")).await,
        vec![timed_out.clone()]
    );
    assert!(fg_page(&client, &by_status("fg-echo", "running"))
        .await
        .is_empty());

    // Shown like any execution: status, input, output and times.
    let shown = client
        .show_workflow_execution(&show("fg-echo", &echo_id))
        .await
        .unwrap()
        .body;
    assert_eq!(shown.status.unwrap().as_str(), "success");
    assert_eq!(shown.input, Some(json!({"order": 7})));
    assert_eq!(shown.headers, Some(json!({"trace": "t-9"})));
    assert_eq!(shown.output, echo.output);
    assert_eq!(shown.begin_time, echo.begin_time);
    assert_eq!(shown.end_time, echo.end_time);
    let shown_failure = client
        .show_workflow_execution(&show("fg-fail", &failed))
        .await
        .unwrap()
        .body;
    assert_eq!(shown_failure.status.unwrap().as_str(), "fail");
    let node = &shown_failure.node_execution_details.unwrap()[0];
    assert_eq!(node.node_id.as_deref(), Some("process"));
    assert_eq!(
        node.executions.as_ref().unwrap()[0].error_message,
        Some(json!("the function returned an error"))
    );
    // Under another workflow's path it does not exist.
    let elsewhere = client
        .show_workflow_execution(&show("fg-fail", &echo_id))
        .await
        .unwrap_err();
    assert_eq!(http_error(&elsewhere).1, "FGS.5003");

    // Ended from the start, so a stop is refused like any ended execution's.
    for (workflow, id, status) in [
        ("fg-echo", &echo_id, "success"),
        ("fg-fail", &failed, "fail"),
        ("fg-timeout", &timed_out, "timeout"),
    ] {
        let refused = client
            .stop_work_flow(&stop_fg(workflow, id))
            .await
            .unwrap_err();
        let (code, error_code, message) = http_error(&refused);
        assert_eq!((code, error_code.as_str()), (400, "FGS.3002"));
        assert!(
            message.contains(&format!("already ended ({status})")),
            "{message}"
        );
    }

    // The inspection route has them too, so a test can count runs per workflow.
    let executions = rig.sandbox.executions();
    let count = |workflow: &str| {
        executions["functiongraph"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["workflow_id"] == workflow)
            .count()
    };
    assert_eq!(
        (count("fg-echo"), count("fg-fail"), count("fg-timeout")),
        (2, 1, 1)
    );
}

#[tokio::test]
async fn a_sync_run_whose_answer_was_lost_is_found_by_listing() {
    let rig = rig_with_faults("  StartSyncWorkflowExecution: {apply_then_drop: 1.0}\n").await;
    let client = with_retries(&rig);
    let error = client
        .start_sync_workflow_execution(&sync_params("fg-echo", json!({"order": 7})))
        .await
        .unwrap_err();
    assert!(error.may_have_taken_effect(), "{error}");
    assert_eq!(
        rig.sandbox.request_counts()["StartSyncWorkflowExecution"],
        1
    );

    let briefs = client
        .list_function_graph_workflow_executions(&list_fg("fg-echo"))
        .await
        .unwrap()
        .body
        .executions
        .unwrap();
    assert_eq!(briefs.len(), 1, "the run took effect");
    // Its connection broke as soon as it began: it is still under way.
    assert_eq!(briefs[0].status.as_ref().unwrap().as_str(), "running");
    rig.time.advance(Duration::from_secs(1));
    let shown = client
        .show_workflow_execution(&show("fg-echo", briefs[0].execution_id.as_ref().unwrap()))
        .await
        .unwrap()
        .body;
    assert_eq!(shown.status.unwrap().as_str(), "success");
    assert_eq!(
        shown.output,
        Some(json!({"echo": {"order": 7}, "workflow_id": "fg-echo"}))
    );
}

/// Request ids look like the API gateway's: 32 hex digits, no counter to read; an error the
/// gateway answers (no such API, a request it cannot authenticate) names the request in its
/// body as well as in `X-Request-Id`.
#[tokio::test]
async fn request_ids_are_the_gateways_and_its_errors_carry_them() {
    let rig = Rig::start().await;
    let gateway_shaped = |id: &str| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit());

    let mut seen = std::collections::HashSet::new();
    for _ in 0..3 {
        let answer = rig
            .client()
            .search_workflow_execution_detail(&status_params("wf-success", "missing"))
            .await
            .unwrap_err();
        let id = answer.request_id().unwrap().to_owned();
        assert!(gateway_shaped(&id), "{id}");
        assert!(seen.insert(id));
    }

    let http = reqwest::Client::new();
    let base = rig.sandbox.url();
    for (path, status, code) in [
        (format!("/v1/{PROJECT}/no/such/api"), 404, "APIGW.0101"),
        (
            format!("/v2/{PROJECT}/fgs/workflows/fg-echo/sync-executions"),
            401,
            "APIGW.0301",
        ),
    ] {
        let response = http
            .post(format!("{base}{path}"))
            .header("Content-Type", "application/json")
            .header("X-Sdk-Date", "20260304T050607Z")
            .header("Authorization", "SDK-HMAC-SHA256 Access=SANDBOXAKEXAMPLE0001, SignedHeaders=host;x-sdk-date, Signature=00")
            .body(r#"{"input": {}}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), status, "{path}");
        let header = response.headers()["X-Request-Id"]
            .to_str()
            .unwrap()
            .to_owned();
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error_code"], code, "{body}");
        assert_eq!(body["request_id"], header.as_str(), "{body}");
        assert!(gateway_shaped(&header), "{header}");
    }
}

/// Scripted answers take the place of the emulation at the call they name, and only there:
/// a 500 of the service's own, a body the test wrote, a 429 with its `Retry-After`, a broken
/// connection; the calls before and after are emulated.
#[tokio::test]
async fn scripted_answers_replace_the_emulation_at_their_call() {
    let text = format!(
        "{}\nscript:\n  SearchWorkflowExecutionDetail:\n    - {{call: 2, status: 500}}\n    - call: 3\n      body: {{execution_id: scripted, workflow_id: wf-success, status: fail}}\n    - {{call: 4, status: 429, retry_after_secs: 7}}\n    - {{call: 5, fault: drop}}\n    - call: 6\n      status: 404\n      body: {{error_code: AOM.31001307, error_msg: execution not exist.}}\n",
        hwc_sandbox::DEFAULT_SCENARIO
    );
    let scenario = Scenario::parse("script.yaml", &text).unwrap();
    let (sandbox, time, env) = support::start_on_virtual_time(scenario, 5).await;
    let rig = Rig { sandbox, time, env };
    let client = rig.client();
    let execution = start_aom(&client, "wf-success").await;
    let params = status_params("wf-success", &execution);
    let read = || client.search_workflow_execution_detail(&params);

    let first = read().await.unwrap().body;
    assert_eq!(first.execution_id.as_deref(), Some(execution.as_str()));
    let error = read().await.unwrap_err();
    assert_eq!(http_error(&error).0, 500);
    let scripted = read().await.unwrap().body;
    assert_eq!(
        (
            scripted.execution_id.as_deref(),
            scripted.status.unwrap().as_str()
        ),
        (Some("scripted"), "fail")
    );
    let throttled = read().await.unwrap_err();
    assert_eq!(http_error(&throttled).0, 429);
    let ApiError::Http(throttled) = throttled else {
        unreachable!()
    };
    assert_eq!(throttled.retry_after, Some(7));
    let dropped = read().await.unwrap_err();
    assert!(!matches!(dropped, ApiError::Http(_)), "{dropped:?}");
    let refused = read().await.unwrap_err();
    assert_eq!(
        http_error(&refused),
        (
            404,
            "AOM.31001307".to_owned(),
            "execution not exist.".to_owned()
        )
    );
    let again = read().await.unwrap().body;
    assert_eq!(again.execution_id.as_deref(), Some(execution.as_str()));
    assert_eq!(
        rig.sandbox.request_counts()["SearchWorkflowExecutionDetail"],
        7
    );
    let logged: Vec<&str> = rig.sandbox.requests().iter().map(|r| r.operation).collect();
    assert_eq!(
        logged.len(),
        8,
        "the start and seven reads, in order: {logged:?}"
    );
    assert_eq!(
        rig.sandbox.requests()[1].params,
        json!({"workflow_id": "wf-success", "execution_id": execution})
    );
}

#[test]
fn a_script_the_api_could_not_answer_is_refused_with_its_path() {
    let refused = |script: &str| {
        let text = format!("{}\nscript:\n{script}", hwc_sandbox::DEFAULT_SCENARIO);
        Scenario::parse("s.yaml", &text).unwrap_err()
    };
    let error = refused("  NoSuchOperation: [{call: 1, status: 500}]\n");
    assert!(
        error
            .message
            .contains("`NoSuchOperation` is not an operation"),
        "{error}"
    );
    let error = refused("  ExecuteWorkflow: [{call: 0, status: 500}]\n");
    assert!(error.message.contains("counted from 1"), "{error}");
    let error = refused("  ExecuteWorkflow: [{call: 1}]\n");
    assert!(error.message.contains("needs the `body`"), "{error}");
    let error = refused("  ExecuteWorkflow: [{call: 1, fault: drop, status: 500}]\n");
    assert!(error.message.contains("no status or body"), "{error}");
    let error = refused("  ExecuteWorkflow: [{call: 1, status: 400, body: {oops: 1}}]\n");
    assert!(
        error.message.contains("`error_code` and `error_msg`"),
        "{error}"
    );
    let error = refused("  ExecuteWorkflow: [{call: 1, status: 500}, {call: 1, status: 429}]\n");
    assert!(error.message.contains("scripted twice"), "{error}");
    let error = refused("  ExecuteWorkflow: [{call: 1, body: {execution_id: 42}}]\n");
    assert_eq!(
        error.path,
        [
            Segment::Key("script".into()),
            Segment::Key("ExecuteWorkflow".into()),
            Segment::Index(0),
            Segment::Key("body".into()),
            Segment::Key("execution_id".into()),
        ]
    );
    assert!(
        error.message.starts_with(
            "script.ExecuteWorkflow[0].body.execution_id: not an answer ExecuteWorkflow could give"
        ),
        "{error}"
    );
}
