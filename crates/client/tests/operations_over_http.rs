#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Every generated operation, sent over real HTTP to a local server that records what arrives
//! and answers from a script: the method, path, query, headers, body and AK/SK signature of each
//! request are checked, and every response the spec documents (errors included) is played back.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use hwc_client::catalogue::{self, OPERATIONS};
use hwc_client::models::{
    AomExecutionStatus, CallbackWorkflowRequestBody, CallbackWorkflowResult, FlowExecuteBody,
    FunctionGraphExecutionStatus, FunctionGraphSyncExecutionStatus, PausingAction,
};
use hwc_client::operations::{
    CreateCallbackWorkflowParams, ExecuteWorkflowParams, ListFunctionGraphWorkflowExecutionsParams,
    ListWorkflowExecutionsParams, SearchWorkflowExecutionDetailParams, ShowWorkflowExecutionParams,
    StartPausingWorkflowExecutionsParams, StartSyncWorkflowExecutionParams,
    StartWorkflowExecutionParams, StopExecutionParams, StopWorkFlowParams,
};
use hwc_client::runtime::{InvokeError, RetryPolicy};
use hwc_client::{ApiError, Client};
use serde_json::{json, Value};
use support::{virtual_env, Answer, Recorded, ScriptedServer, AK, PROJECT_ID, SK};

/// The virtual clock's start (`virtual_env`), as `X-Sdk-Date` must carry it; no call here
/// sleeps, so the clock never moves.
const SDK_DATE: &str = "20260102T030405Z";
const SPEC: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../spec/workflows.openapi.yaml"
);

// ------------------------------------------------------------------ the local server

/// A client on the frozen virtual clock with a single attempt: each scripted answer then meets
/// exactly one call, even a 5xx on a GET.
fn client_for(server: &ScriptedServer) -> Client {
    let (environment, _time) = virtual_env();
    server.client(environment, |config| {
        config.retry = RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        };
    })
}

fn answer_json(server: &ScriptedServer, status: u16, body: &Value, request_id: &str) {
    server.push(Answer::json(status, body.clone()).request_id(request_id));
}

/// The one request the last call sent; a retry or a stray request fails the test here.
fn single_request(server: &ScriptedServer) -> Recorded {
    let mut received = server.take_requests();
    assert_eq!(
        received.len(),
        1,
        "expected exactly one request: {received:#?}"
    );
    assert_eq!(server.pending(), 0, "a scripted answer was not consumed");
    received.remove(0)
}

// ------------------------------------------------------------------ request checks

/// What one request must look like on the wire.
#[derive(Debug, Clone)]
struct Expect {
    method: &'static str,
    path: String,
    query: &'static str,
    /// Operation headers, beyond the ones every signed request carries.
    headers: Vec<(&'static str, &'static str)>,
    body: Option<Value>,
}

impl Expect {
    fn new(method: &'static str, path: String) -> Self {
        Self {
            method,
            path,
            query: "",
            headers: Vec::new(),
            body: None,
        }
    }

    fn query(mut self, query: &'static str) -> Self {
        self.query = query;
        self
    }

    fn header(mut self, name: &'static str, value: &'static str) -> Self {
        self.headers.push((name, value));
        self
    }

    fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }
}

fn aom_path(rest: &str) -> String {
    format!("/v1/{PROJECT_ID}/cms/workflow/{rest}")
}

fn fgs_path(rest: &str) -> String {
    format!("/v2/{PROJECT_ID}/fgs/workflows/{rest}")
}

fn assert_request(server: &ScriptedServer, received: &Recorded, expect: &Expect) {
    let what = format!("{} {}", expect.method, expect.path);
    assert_eq!(received.method, expect.method, "{what}: method");
    assert_eq!(received.path, expect.path, "{what}: path");
    assert_eq!(received.query, expect.query, "{what}: query");
    let host = server.addr.to_string();
    assert_eq!(received.header("host"), Some(host.as_str()), "{what}: Host");
    assert_eq!(received.header("x-project-id"), Some(PROJECT_ID), "{what}");
    assert_eq!(received.header("x-sdk-date"), Some(SDK_DATE), "{what}");
    assert_eq!(
        received.header("content-type"),
        expect.body.is_some().then_some("application/json"),
        "{what}: Content-Type"
    );
    for (name, value) in &expect.headers {
        assert_eq!(received.header(name), Some(*value), "{what}: header {name}");
    }
    assert_eq!(received.header("x-auth-token"), None, "{what}");
    assert_eq!(received.header("x-security-token"), None, "{what}");
    let authorization = received.header("authorization").unwrap_or_default();
    assert!(
        authorization.starts_with(&format!("SDK-HMAC-SHA256 Access={AK}, SignedHeaders=")),
        "{what}: Authorization `{authorization}`"
    );
    assert!(!authorization.contains(SK), "{what}: the secret key leaked");
    let body = (!received.body.is_empty()).then(|| received.json_body());
    assert_eq!(body, expect.body, "{what}: body");

    let signed = assert_signature_verifies(received);
    // Every header the client sets is signed, so this list is also the list of headers it set.
    let mut expected_signed: Vec<String> = ["host", "x-project-id", "x-sdk-date"]
        .into_iter()
        .chain(expect.body.is_some().then_some("content-type"))
        .map(str::to_owned)
        .chain(expect.headers.iter().map(|(n, _)| n.to_ascii_lowercase()))
        .collect();
    expected_signed.sort();
    assert_eq!(signed, expected_signed, "{what}: signed headers");
}

/// Verifies the signature the way the gateway would, from the request as received; returns the
/// signed header names.
fn assert_signature_verifies(received: &Recorded) -> Vec<String> {
    let (authorization, signed_at) = received.signature().unwrap_or_else(|e| {
        panic!(
            "{} {}: signature refused: {e}",
            received.method, received.path
        )
    });
    assert_eq!(authorization.access_key, AK);
    assert_eq!(
        hwc_signer::format_sdk_date(signed_at.assume_utc()),
        SDK_DATE
    );
    // A control: the same check must refuse a request altered after signing.
    let mut tampered = received.clone();
    tampered.body.push(b' ');
    assert_eq!(
        tampered.verify_signature().unwrap_err(),
        hwc_signer::VerifyError::Mismatch
    );
    authorization.signed_headers
}

// ------------------------------------------------------------------ A: typed operations

#[tokio::test]
async fn execute_workflow_percent_encodes_the_path_and_reads_the_execution_id() {
    let server = ScriptedServer::start().await;
    let client = client_for(&server);
    answer_json(
        &server,
        200,
        &json!({"execution_id": "exec-42"}),
        "req-execute",
    );

    let response = client
        .execute_workflow(&ExecuteWorkflowParams {
            workflow_id: "wf 1/é".to_owned(),
        })
        .await
        .unwrap();

    assert_request(
        &server,
        &single_request(&server),
        &Expect::new("POST", aom_path("wf%201%2F%C3%A9/executions")),
    );
    assert_eq!(response.status, 200);
    assert_eq!(response.request_id.as_deref(), Some("req-execute"));
    assert_eq!(response.attempts, 1);
    assert_eq!(response.body.execution_id.as_deref(), Some("exec-42"));
}

#[tokio::test]
async fn start_pausing_workflow_executions_sends_sorted_percent_encoded_query() {
    let server = ScriptedServer::start().await;
    let client = client_for(&server);
    answer_json(&server, 200, &json!({"result": "success"}), "req-pausing");

    let response = client
        .start_pausing_workflow_executions(&StartPausingWorkflowExecutionsParams {
            workflow_id: "wf-1".to_owned(),
            execution_id: "exec 7".to_owned(),
            action: PausingAction::Restart,
            node_id: "node 1+é".to_owned(),
        })
        .await
        .unwrap();

    let received = single_request(&server);
    assert_request(
        &server,
        &received,
        &Expect::new("POST", aom_path("wf-1/executions/exec%207/operation"))
            .query("action=restart&node_id=node%201%2B%C3%A9"),
    );
    assert_eq!(
        received.query_pairs(),
        [
            ("action".to_owned(), "restart".to_owned()),
            ("node_id".to_owned(), "node 1+é".to_owned())
        ]
    );
    assert_eq!(response.request_id.as_deref(), Some("req-pausing"));
    assert_eq!(response.body.result, Some(json!("success")));
}

#[tokio::test]
async fn search_workflow_execution_detail_reads_statuses_including_unknown_ones() {
    let server = ScriptedServer::start().await;
    let client = client_for(&server);
    let answer = json!({
        "workflow_id": "wf-1",
        "execution_id": "exec-1",
        "status": "waitApproval",
        "begin_time": 1_670_311_148_207_i64,
        "execution_result_list": [
            {"node_id": "n1", "status": "success", "output": {"success": ["h1"]}},
            {"node_id": "n2", "status": "someFutureStatus"}
        ],
        "approve_user_name_list": ["alice"]
    });
    answer_json(&server, 200, &answer, "req-search");

    let response = client
        .search_workflow_execution_detail(&SearchWorkflowExecutionDetailParams {
            workflow_id: "wf-1".to_owned(),
            execution_id: "exec-1".to_owned(),
        })
        .await
        .unwrap();

    assert_request(
        &server,
        &single_request(&server),
        &Expect::new("GET", aom_path("wf-1/executions/exec-1/status")),
    );
    assert_eq!(response.request_id.as_deref(), Some("req-search"));
    let body = response.body;
    assert_eq!(body.status, Some(AomExecutionStatus::WaitApproval));
    assert_eq!(body.begin_time, Some(1_670_311_148_207));
    let nodes = body.execution_result_list.unwrap();
    assert_eq!(nodes[0].status, Some(AomExecutionStatus::Success));
    assert_eq!(nodes[0].output, Some(json!({"success": ["h1"]})));
    assert_eq!(
        nodes[1].status,
        Some(AomExecutionStatus::Unknown("someFutureStatus".to_owned()))
    );
    assert_eq!(body.approve_user_name_list, Some(vec!["alice".to_owned()]));
}

#[tokio::test]
async fn start_sync_workflow_execution_sends_the_body_and_reads_the_final_result() {
    let server = ScriptedServer::start().await;
    let client = client_for(&server);
    let answer = json!({
        "execution_id": "48aff955",
        "status": "success",
        "output": {"result": 200},
        "begin_time": "2021-01-01T00:00:00Z"
    });
    answer_json(&server, 200, &answer, "req-sync");

    let response = client
        .start_sync_workflow_execution(&StartSyncWorkflowExecutionParams {
            workflow_id: "flow é".to_owned(),
            body: FlowExecuteBody {
                headers: Some(json!({"tenantId": "user1"})),
                input: json!({"arg1": "argument_1", "n": 2}),
            },
        })
        .await
        .unwrap();

    assert_request(
        &server,
        &single_request(&server),
        &Expect::new("POST", fgs_path("flow%20%C3%A9/sync-executions")).body(json!({
            "headers": {"tenantId": "user1"},
            "input": {"arg1": "argument_1", "n": 2}
        })),
    );
    assert_eq!(response.request_id.as_deref(), Some("req-sync"));
    assert_eq!(response.body.execution_id.as_deref(), Some("48aff955"));
    assert_eq!(
        response.body.status,
        Some(FunctionGraphSyncExecutionStatus::Success)
    );
    assert_eq!(response.body.output, Some(json!({"result": 200})));
    assert_eq!(
        response.body.begin_time.as_deref(),
        Some("2021-01-01T00:00:00Z")
    );
}

#[tokio::test]
async fn start_workflow_execution_sends_optional_headers_only_when_set() {
    let server = ScriptedServer::start().await;
    let client = client_for(&server);
    let run_id = "0123456789ABCDEFabcdef0123456789";
    let with_headers = StartWorkflowExecutionParams {
        workflow_id: "flow-1".to_owned(),
        x_create_time: Some("2024-05-06".to_owned()),
        x_workflow_run_id: Some(run_id.to_owned()),
        x_workflow_run_merge_fn_parameters: Some("true".to_owned()),
        body: FlowExecuteBody {
            headers: None,
            input: json!({"arg1": "argument_1"}),
        },
    };
    let without_headers = StartWorkflowExecutionParams {
        x_create_time: None,
        x_workflow_run_id: None,
        x_workflow_run_merge_fn_parameters: None,
        ..with_headers.clone()
    };

    answer_json(
        &server,
        200,
        &json!({"execution_id": "async-1"}),
        "req-async-1",
    );
    let response = client
        .start_workflow_execution(&with_headers)
        .await
        .unwrap();
    assert_request(
        &server,
        &single_request(&server),
        &Expect::new("POST", fgs_path("flow-1/executions"))
            .header("X-Create-Time", "2024-05-06")
            .header("X-WorkflowRun-ID", "0123456789ABCDEFabcdef0123456789")
            .header("X-WorkflowRun-MergeFnParameters", "true")
            .body(json!({"input": {"arg1": "argument_1"}})),
    );
    assert_eq!(response.request_id.as_deref(), Some("req-async-1"));
    assert_eq!(response.body.execution_id.as_deref(), Some("async-1"));

    answer_json(
        &server,
        200,
        &json!({"execution_id": "async-2"}),
        "req-async-2",
    );
    let response = client
        .start_workflow_execution(&without_headers)
        .await
        .unwrap();
    // The signed-header check inside proves no empty X-… header was sent in their place.
    assert_request(
        &server,
        &single_request(&server),
        &Expect::new("POST", fgs_path("flow-1/executions"))
            .body(json!({"input": {"arg1": "argument_1"}})),
    );
    assert_eq!(response.body.execution_id.as_deref(), Some("async-2"));
}

#[tokio::test]
async fn show_workflow_execution_sends_the_history_header_and_reads_node_details() {
    let server = ScriptedServer::start().await;
    let client = client_for(&server);
    let answer = json!({
        "workflow_id": "flow-1",
        "execution_id": "exec-9",
        "status": "running",
        "input": {"a": 1},
        "node_execution_details": [{
            "node_id": "n1",
            "executions": [{"status": "fail", "begin_time": 1_605_119_892_050_i64,
                            "error_message": {"detail": "Execution failed"}}]
        }]
    });
    answer_json(&server, 200, &answer, "req-show");

    let response = client
        .show_workflow_execution(&ShowWorkflowExecutionParams {
            workflow_id: "flow-1".to_owned(),
            execution_id: "exec-9".to_owned(),
            x_get_workflow_full_history_data: Some(true),
        })
        .await
        .unwrap();

    assert_request(
        &server,
        &single_request(&server),
        &Expect::new("GET", fgs_path("flow-1/executions/exec-9"))
            .header("X-Get-Workflow-Full-History-Data", "true"),
    );
    assert_eq!(response.request_id.as_deref(), Some("req-show"));
    let body = response.body;
    assert_eq!(body.status, Some(FunctionGraphExecutionStatus::Running));
    assert_eq!(body.input, Some(json!({"a": 1})));
    let details = body.node_execution_details.unwrap();
    let execution = &details[0].executions.as_ref().unwrap()[0];
    assert_eq!(execution.status, Some(FunctionGraphExecutionStatus::Fail));
    assert_eq!(execution.begin_time, Some(1_605_119_892_050));
    assert_eq!(
        execution.error_message,
        Some(json!({"detail": "Execution failed"}))
    );
}

#[tokio::test]
async fn create_callback_workflow_sends_run_and_state_headers_and_the_result() {
    let server = ScriptedServer::start().await;
    let client = client_for(&server);
    answer_json(
        &server,
        200,
        &json!({"execution_id": "run-1"}),
        "req-callback",
    );

    let response = client
        .create_callback_workflow(&CreateCallbackWorkflowParams {
            workflow_id: "flow-1".to_owned(),
            x_workflow_run_id: "run-1".to_owned(),
            x_workflow_state_id: "state-approve".to_owned(),
            body: CallbackWorkflowRequestBody {
                result: CallbackWorkflowResult::Success,
                error: None,
                output: json!({"approved": true}),
            },
        })
        .await
        .unwrap();

    assert_request(
        &server,
        &single_request(&server),
        &Expect::new("POST", fgs_path("flow-1/callback"))
            .header("X-Workflow-Run-Id", "run-1")
            .header("X-Workflow-State-Id", "state-approve")
            .body(json!({"result": "success", "output": {"approved": true}})),
    );
    assert_eq!(response.request_id.as_deref(), Some("req-callback"));
    assert_eq!(response.body.execution_id.as_deref(), Some("run-1"));
}

#[tokio::test]
async fn list_workflow_executions_reads_a_json_array_of_briefs() {
    let server = ScriptedServer::start().await;
    let client = client_for(&server);
    let answer = json!([
        {"workflow_id": "wf-1", "execution_id": "exec-2", "status": "cancel",
         "begin_time": 1_670_311_148_207_i64, "created_by": "alice",
         "execution_result_list": [{"node_id": "n1", "status": "cancel"}]},
        {"workflow_id": "wf-1", "execution_id": "exec-1", "status": "someFutureStatus"}
    ]);
    answer_json(&server, 200, &answer, "req-list-aom");

    let response = client
        .list_workflow_executions(&ListWorkflowExecutionsParams {
            workflow_id: "wf-1".to_owned(),
            x_enterprise_project_id: None,
        })
        .await
        .unwrap();

    // No enterprise project given: no query at all, not an empty `x_enterprise_project_id=`.
    assert_request(
        &server,
        &single_request(&server),
        &Expect::new("GET", aom_path("wf-1/executions")),
    );
    assert_eq!(response.request_id.as_deref(), Some("req-list-aom"));
    let briefs = response.body;
    assert_eq!(briefs.len(), 2);
    assert_eq!(briefs[0].execution_id.as_deref(), Some("exec-2"));
    assert_eq!(briefs[0].status, Some(AomExecutionStatus::Cancel));
    assert_eq!(briefs[0].created_by.as_deref(), Some("alice"));
    let nodes = briefs[0].execution_result_list.as_ref().unwrap();
    assert_eq!(nodes[0].status, Some(AomExecutionStatus::Cancel));
    assert_eq!(
        briefs[1].status,
        Some(AomExecutionStatus::Unknown("someFutureStatus".to_owned()))
    );
}

#[tokio::test]
async fn stop_execution_posts_to_terminate_and_reads_the_string_answer() {
    let server = ScriptedServer::start().await;
    let client = client_for(&server);
    answer_json(&server, 200, &json!("success"), "req-stop-aom");

    let response = client
        .stop_execution(&StopExecutionParams {
            workflow_id: "wf-1".to_owned(),
            execution_id: "exec 1".to_owned(),
        })
        .await
        .unwrap();

    assert_request(
        &server,
        &single_request(&server),
        &Expect::new("POST", aom_path("wf-1/executions/exec%201/terminate")),
    );
    assert_eq!(response.request_id.as_deref(), Some("req-stop-aom"));
    assert_eq!(response.body, "success");
}

#[tokio::test]
async fn a_string_answer_sent_as_plain_text_is_read_as_the_sdks_do() {
    let server = ScriptedServer::start().await;
    let client = client_for(&server);
    server.push(
        Answer::raw(200, "success")
            .request_id("req-stop-text")
            .header("Content-Type", "text/plain"),
    );

    let response = client
        .stop_execution(&StopExecutionParams {
            workflow_id: "wf-1".to_owned(),
            execution_id: "exec-1".to_owned(),
        })
        .await
        .unwrap();

    single_request(&server);
    assert_eq!(response.body, "success");
    // Only a string answer takes text: an object answer still refuses it.
    assert_decode_error("success", "req-object-text").await;
}

#[tokio::test]
async fn list_function_graph_workflow_executions_sends_only_the_filters_given() {
    let server = ScriptedServer::start().await;
    let client = client_for(&server);
    let all_filters = ListFunctionGraphWorkflowExecutionsParams {
        workflow_id: "flow-1".to_owned(),
        limit: Some(50),
        offset: Some(-1),
        status: Some(FunctionGraphExecutionStatus::Cancel),
        start_time: Some("2026-01-01T00:00:00Z".to_owned()),
        end_time: Some("2026-01-02T00:00:00Z".to_owned()),
    };
    let answer = json!({"executions": [
        {"workflow_id": "flow-1", "execution_id": "exec-3", "status": "cancel",
         "begin_time": "2026-01-01T10:00:00Z", "created_by": "sandbox"}
    ]});
    answer_json(&server, 200, &answer, "req-list-fg");

    let response = client
        .list_function_graph_workflow_executions(&all_filters)
        .await
        .unwrap();

    let received = single_request(&server);
    assert_request(
        &server,
        &received,
        &Expect::new("GET", fgs_path("flow-1/executions")).query(
            "end_time=2026-01-02T00%3A00%3A00Z&limit=50&offset=-1\
             &start_time=2026-01-01T00%3A00%3A00Z&status=cancel",
        ),
    );
    assert_eq!(response.request_id.as_deref(), Some("req-list-fg"));
    let executions = response.body.executions.unwrap();
    assert_eq!(executions[0].execution_id.as_deref(), Some("exec-3"));
    assert_eq!(
        executions[0].status,
        Some(FunctionGraphExecutionStatus::Cancel)
    );
    assert_eq!(
        executions[0].begin_time.as_deref(),
        Some("2026-01-01T10:00:00Z")
    );

    answer_json(&server, 200, &json!({"executions": []}), "req-list-fg-2");
    let no_filters = ListFunctionGraphWorkflowExecutionsParams {
        workflow_id: "flow-1".to_owned(),
        limit: None,
        offset: None,
        status: None,
        start_time: None,
        end_time: None,
    };
    let response = client
        .list_function_graph_workflow_executions(&no_filters)
        .await
        .unwrap();
    assert_request(
        &server,
        &single_request(&server),
        &Expect::new("GET", fgs_path("flow-1/executions")),
    );
    assert_eq!(response.body.executions, Some(vec![]));
}

#[tokio::test]
async fn stop_work_flow_accepts_the_documented_empty_answer() {
    let server = ScriptedServer::start().await;
    let client = client_for(&server);
    server.push(Answer::raw(200, "").request_id("req-stop-fg"));

    let response = client
        .stop_work_flow(&StopWorkFlowParams {
            workflow_id: "flow-1".to_owned(),
            execution_id: "exec-1".to_owned(),
        })
        .await
        .unwrap();

    assert_request(
        &server,
        &single_request(&server),
        &Expect::new("POST", fgs_path("flow-1/executions/exec-1/terminate")),
    );
    assert_eq!(response.status, 200);
    assert_eq!(response.request_id.as_deref(), Some("req-stop-fg"));
    assert_eq!(response.body, Value::Null);
}

// ------------------------------------------------------------------ B: every documented response

/// Valid `invoke` parameters of one operation and the request they must produce.
struct InvokeCase {
    params: Value,
    expect: Expect,
}

/// One case per operation id; an operation added to the spec has none until this is extended,
/// and the table-driven test fails until it is.
fn invoke_case(operation_id: &str) -> Option<InvokeCase> {
    let (params, expect) = match operation_id {
        "ExecuteWorkflow" => (
            json!({"workflow_id": "wf-1"}),
            Expect::new("POST", aom_path("wf-1/executions")),
        ),
        "StartPausingWorkflowExecutions" => (
            json!({"workflow_id": "wf-1", "execution_id": "exec-1",
                   "node_id": "n1", "action": "skip"}),
            Expect::new("POST", aom_path("wf-1/executions/exec-1/operation"))
                .query("action=skip&node_id=n1"),
        ),
        "SearchWorkflowExecutionDetail" => (
            json!({"workflow_id": "wf-1", "execution_id": "exec-1"}),
            Expect::new("GET", aom_path("wf-1/executions/exec-1/status")),
        ),
        "StartSyncWorkflowExecution" => (
            json!({"workflow_id": "flow-1", "body": {"input": {"a": 1}}}),
            Expect::new("POST", fgs_path("flow-1/sync-executions"))
                .body(json!({"input": {"a": 1}})),
        ),
        "StartWorkflowExecution" => (
            json!({"workflow_id": "flow-1",
                   "x_workflow_run_id": "abcdefabcdefabcdefabcdefabcdef12",
                   "body": {"input": {}}}),
            Expect::new("POST", fgs_path("flow-1/executions"))
                .header("X-WorkflowRun-ID", "abcdefabcdefabcdefabcdefabcdef12")
                .body(json!({"input": {}})),
        ),
        "ShowWorkflowExecution" => (
            json!({"workflow_id": "flow-1", "execution_id": "exec-1",
                   "x_get_workflow_full_history_data": false}),
            Expect::new("GET", fgs_path("flow-1/executions/exec-1"))
                .header("X-Get-Workflow-Full-History-Data", "false"),
        ),
        "ListWorkflowExecutions" => (
            json!({"workflow_id": "wf-1", "x_enterprise_project_id": "0"}),
            Expect::new("GET", aom_path("wf-1/executions")).query("x_enterprise_project_id=0"),
        ),
        "StopExecution" => (
            json!({"workflow_id": "wf-1", "execution_id": "exec-1"}),
            Expect::new("POST", aom_path("wf-1/executions/exec-1/terminate")),
        ),
        "ListFunctionGraphWorkflowExecutions" => (
            json!({"workflow_id": "flow-1", "limit": 2, "offset": 4, "status": "running"}),
            Expect::new("GET", fgs_path("flow-1/executions"))
                .query("limit=2&offset=4&status=running"),
        ),
        "StopWorkFlow" => (
            json!({"workflow_id": "flow-1", "execution_id": "exec-1"}),
            Expect::new("POST", fgs_path("flow-1/executions/exec-1/terminate")),
        ),
        "CreateCallbackWorkflow" => (
            json!({"workflow_id": "flow-1", "x_workflow_run_id": "run-1",
                   "x_workflow_state_id": "state-1",
                   "body": {"result": "fail", "error": "boom", "output": {}}}),
            Expect::new("POST", fgs_path("flow-1/callback"))
                .header("X-Workflow-Run-Id", "run-1")
                .header("X-Workflow-State-Id", "state-1")
                .body(json!({"result": "fail", "error": "boom", "output": {}})),
        ),
        _ => return None,
    };
    Some(InvokeCase { params, expect })
}

fn load_spec() -> Value {
    let text = std::fs::read_to_string(SPEC).unwrap();
    serde_yaml::from_str(&text).unwrap()
}

/// Every operation of the spec by id: its path template, lower-case method, and definition.
fn spec_operations(spec: &Value) -> BTreeMap<String, (String, String, Value)> {
    let mut operations = BTreeMap::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if let Some(id) = operation.get("operationId").and_then(Value::as_str) {
                let entry = (path.clone(), method.clone(), operation.clone());
                assert!(
                    operations.insert(id.to_owned(), entry).is_none(),
                    "{id} twice"
                );
            }
        }
    }
    operations
}

/// Each documented status of an operation with its JSON example, when it has one.
fn documented_responses(operation: &Value) -> BTreeMap<u16, Option<Value>> {
    operation["responses"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(status, response)| {
            let example = response
                .pointer("/content/application~1json/example")
                .cloned();
            (status.parse().unwrap(), example)
        })
        .collect()
}

fn example_http_code(body: &Value) -> Option<u16> {
    match body.get("http_code")? {
        Value::Number(n) => n.as_u64().map(|n| u16::try_from(n).unwrap()),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

#[tokio::test]
async fn every_documented_response_of_every_operation_round_trips() {
    let spec = load_spec();
    let spec_operations = spec_operations(&spec);
    let spec_ids: BTreeSet<&str> = spec_operations.keys().map(String::as_str).collect();
    let catalogue_ids: BTreeSet<&str> = OPERATIONS.iter().map(|op| op.id).collect();
    assert_eq!(
        spec_ids, catalogue_ids,
        "the catalogue is stale against the spec"
    );

    let server = ScriptedServer::start().await;
    let client = client_for(&server);
    let mut exercised = 0;
    for op in OPERATIONS {
        let case = invoke_case(op.id)
            .unwrap_or_else(|| panic!("{}: add an invoke_case for this operation", op.id));
        let (path, method, definition) = &spec_operations[op.id];
        assert_eq!(path, op.path, "{}: path", op.id);
        assert_eq!(method.to_ascii_uppercase(), op.method.as_str(), "{}", op.id);
        assert_eq!(case.expect.method, op.method.as_str(), "{}", op.id);

        let documented = documented_responses(definition);
        let catalogued: BTreeSet<u16> = std::iter::once(op.success_status)
            .chain(op.error_statuses.iter().copied())
            .collect();
        assert_eq!(
            documented.keys().copied().collect::<BTreeSet<_>>(),
            catalogued,
            "{}: documented statuses vs catalogue",
            op.id
        );

        for (&status, example) in &documented {
            let success = (200..300).contains(&status);
            let body = example.clone().unwrap_or_else(|| {
                if success {
                    json!({})
                } else {
                    json!({"error_code": "X.1", "error_msg": "m"})
                }
            });
            let request_id = format!("req-{}-{status}", op.id);
            answer_json(&server, status, &body, &request_id);

            let outcome = catalogue::invoke(&client, op.id, case.params.clone()).await;

            assert_request(&server, &single_request(&server), &case.expect);
            let what = format!("{} answered {status}", op.id);
            if success {
                let response = outcome.unwrap_or_else(|e| panic!("{what}: {e}"));
                assert_eq!(response.status, status, "{what}");
                assert_eq!(response.request_id.as_deref(), Some(request_id.as_str()));
                assert_eq!(response.attempts, 1, "{what}");
                // Through the typed model and back: the example must survive unchanged, so
                // every documented field is modelled and typed as the example spells it.
                assert_eq!(response.body, body, "{what}: body");
            } else {
                let Err(InvokeError::Api(ApiError::Http(error))) = outcome else {
                    panic!("{what}: expected ApiError::Http, got {outcome:?}");
                };
                assert_eq!(error.operation, op.id, "{what}");
                assert_eq!(error.status, status, "{what}");
                assert_eq!(error.request_id.as_deref(), Some(request_id.as_str()));
                assert_eq!(error.attempts, 1, "{what}");
                assert_eq!(error.raw_body, None, "{what}");
                let service = error
                    .service
                    .as_ref()
                    .unwrap_or_else(|| panic!("{what}: error body not parsed"));
                let message = body.get("error_msg").or_else(|| body.get("error_message"));
                assert_eq!(
                    service.error_code.as_deref(),
                    body["error_code"].as_str(),
                    "{what}"
                );
                assert_eq!(
                    service.error_msg.as_deref(),
                    message.and_then(Value::as_str),
                    "{what}"
                );
                assert_eq!(service.http_code, example_http_code(&body), "{what}");
                assert!(service.error_code.is_some(), "{what}: example has no code");
            }
            exercised += 1;
        }
    }
    let documented_total: usize = OPERATIONS
        .iter()
        .map(|op| 1 + op.error_statuses.len())
        .sum();
    assert_eq!(exercised, documented_total);
}

// ------------------------------------------------------------------ C: refused before sending

#[tokio::test]
async fn invoke_refuses_unknown_operations_and_bad_params_without_sending() {
    let server = ScriptedServer::start().await;
    let client = client_for(&server);

    let unknown = catalogue::invoke(&client, "DeleteEverything", json!({})).await;
    assert!(
        matches!(&unknown, Err(InvokeError::UnknownOperation(id)) if id == "DeleteEverything"),
        "{unknown:?}"
    );

    let invalid = [
        (
            "ExecuteWorkflow",
            json!({"workflow_id": "wf-1", "workflow_name": "x"}),
            "workflow_name",
        ),
        ("ExecuteWorkflow", json!({}), "workflow_id"),
        (
            "CreateCallbackWorkflow",
            json!({"workflow_id": "flow-1", "x_workflow_run_id": "run-1",
                   "body": {"result": "success", "output": {}}}),
            "x_workflow_state_id",
        ),
        (
            "StartSyncWorkflowExecution",
            json!({"workflow_id": "flow-1", "body": {"headers": {}}}),
            "input",
        ),
        (
            "ListFunctionGraphWorkflowExecutions",
            json!({"workflow_id": "flow-1", "page": 2}),
            "page",
        ),
    ];
    for (operation_id, params, field) in invalid {
        match catalogue::invoke(&client, operation_id, params).await {
            Err(InvokeError::InvalidParams { operation, message }) => {
                assert_eq!(operation, operation_id);
                assert!(
                    message.contains(field),
                    "{operation_id}: `{message}` names no {field}"
                );
            }
            other => panic!("{operation_id}: expected InvalidParams for {field}, got {other:?}"),
        }
    }

    // Well-formed JSON that breaks a limit of the spec is refused by the generated checks.
    let empty_id = catalogue::invoke(&client, "ExecuteWorkflow", json!({"workflow_id": ""})).await;
    assert!(
        matches!(&empty_id, Err(InvokeError::Api(ApiError::InvalidParameter { name, .. })) if name == "workflow_id"),
        "{empty_id:?}"
    );
    let huge_page = catalogue::invoke(
        &client,
        "ListFunctionGraphWorkflowExecutions",
        json!({"workflow_id": "flow-1", "limit": 501}),
    )
    .await;
    assert!(
        matches!(&huge_page, Err(InvokeError::Api(ApiError::InvalidParameter { name, .. })) if name == "limit"),
        "{huge_page:?}"
    );

    assert!(
        server.take_requests().is_empty(),
        "a refused call reached the server"
    );
}

// ------------------------------------------------------------------ D: undocumented answers

#[tokio::test]
async fn an_undocumented_status_keeps_the_raw_body() {
    let server = ScriptedServer::start().await;
    let client = client_for(&server);
    server.push(
        Answer::raw(418, "<html>teapot</html>")
            .request_id("req-teapot")
            .header("Content-Type", "text/html"),
    );

    let outcome = client
        .execute_workflow(&ExecuteWorkflowParams {
            workflow_id: "wf-1".to_owned(),
        })
        .await;

    single_request(&server);
    let Err(ApiError::Http(error)) = outcome else {
        panic!("expected ApiError::Http, got {outcome:?}");
    };
    assert_eq!(error.status, 418);
    assert_eq!(error.service, None);
    assert_eq!(error.raw_body.as_deref(), Some("<html>teapot</html>"));
    assert_eq!(error.request_id.as_deref(), Some("req-teapot"));
    assert_eq!(error.operation, "ExecuteWorkflow");
}

/// Calls ExecuteWorkflow against a scripted 200 with `body` and expects a decode error that
/// carries the status, the request id and the body.
async fn assert_decode_error(body: &str, request_id: &str) {
    let server = ScriptedServer::start().await;
    let client = client_for(&server);
    server.push(Answer::raw(200, body).request_id(request_id));
    let outcome = client
        .execute_workflow(&ExecuteWorkflowParams {
            workflow_id: "wf-1".to_owned(),
        })
        .await;
    single_request(&server);
    match outcome {
        Err(ApiError::Decode {
            operation,
            status,
            request_id: got_request_id,
            body: got_body,
            ..
        }) => {
            assert_eq!(operation, "ExecuteWorkflow");
            assert_eq!(status, 200);
            assert_eq!(got_request_id.as_deref(), Some(request_id));
            assert_eq!(got_body, body);
        }
        other => panic!("{body}: expected ApiError::Decode, got {other:?}"),
    }
}

#[tokio::test]
async fn a_success_body_that_does_not_fit_the_model_is_a_decode_error() {
    assert_decode_error(r#"{"execution_id": 42}"#, "req-wrong-type").await;
    assert_decode_error("not json", "req-not-json").await;
}

#[tokio::test]
async fn a_success_body_that_repeats_a_field_reads_as_its_last_value() {
    // A body read straight into the model refuses a repeated field; the answer is then read
    // as a JSON value first, where the last one wins, as it always did.
    let server = ScriptedServer::start().await;
    let client = client_for(&server);
    server.push(Answer::raw(
        200,
        r#"{"execution_id": "exec-first", "execution_id": "exec-last"}"#,
    ));
    let response = client
        .execute_workflow(&ExecuteWorkflowParams {
            workflow_id: "wf-1".to_owned(),
        })
        .await
        .unwrap();
    single_request(&server);
    assert_eq!(response.body.execution_id.as_deref(), Some("exec-last"));
}

#[tokio::test]
async fn a_json_array_is_not_a_success_body() {
    // ExecuteWorkflow's 2xx schema is an object, so a JSON array must be `ApiError::Decode`:
    // neither an empty response (`[]`) nor fields filled by position (`["exec-1"]`).
    assert_decode_error("[]", "req-array").await;
    assert_decode_error(r#"["exec-1"]"#, "req-array-positional").await;
}
