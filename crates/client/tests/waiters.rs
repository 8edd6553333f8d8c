#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The generated waiters against a scripted server on virtual time: success, failure, and a
//! timeout whose last poll lands exactly on the deadline.

mod support;

use std::time::Duration;

use hwc_client::models::AomExecutionStatus;
use hwc_client::operations::{SearchWorkflowExecutionDetailParams, ShowWorkflowExecutionParams};
use hwc_client::WaiterError;
use serde_json::json;
use support::{virtual_env, Answer, ScriptedServer};

fn aom_params() -> SearchWorkflowExecutionDetailParams {
    SearchWorkflowExecutionDetailParams {
        workflow_id: "wf-1".into(),
        execution_id: "ex-1".into(),
    }
}

fn aom_status(status: &str) -> Answer {
    Answer::json(
        200,
        json!({"workflow_id": "wf-1", "execution_id": "ex-1", "status": status}),
    )
}

#[tokio::test]
async fn waits_through_unknown_and_running_statuses_until_success() {
    let server = ScriptedServer::start().await;
    server.push(aom_status("waitExecute"));
    server.push(aom_status("someStatusFromTheFuture"));
    server.push(aom_status("executing"));
    server.push(aom_status("success"));
    let (env, time) = virtual_env();
    let client = server.client(env, |_| {});

    let outcome = client
        .wait_until_aom_execution_succeeded(&aom_params(), Duration::from_secs(600))
        .await
        .unwrap();

    assert_eq!(outcome.polls, 4);
    assert_eq!(
        outcome.response.body.status,
        Some(AomExecutionStatus::Success)
    );
    // A tenth of the time waited stays under the 2 s minimum for the first 20 s.
    let sleeps = time.sleeps();
    assert_eq!(sleeps, vec![Duration::from_secs(2); 3]);
    assert_eq!(outcome.elapsed, sleeps.iter().sum::<Duration>());
}

#[tokio::test]
async fn a_failure_status_ends_the_wait_with_the_output() {
    let server = ScriptedServer::start().await;
    server.push(aom_status("executing"));
    server.push(aom_status("approvalFailed"));
    let (env, _time) = virtual_env();
    let client = server.client(env, |_| {});

    let error = client
        .wait_until_aom_execution_succeeded(&aom_params(), Duration::from_secs(600))
        .await
        .unwrap_err();

    let WaiterError::Failure {
        value,
        polls,
        output,
        ..
    } = &error
    else {
        panic!("{error:?}")
    };
    assert_eq!((value.as_str(), *polls), ("approvalFailed", 2));
    assert_eq!(output["execution_id"], "ex-1");
}

#[tokio::test]
async fn gives_up_at_the_deadline_after_a_last_poll_there() {
    let server = ScriptedServer::start().await;
    server.always(Answer::json(
        200,
        json!({"execution_id": "fg-1", "status": "running"}),
    ));
    let (env, time) = virtual_env();
    let client = server.client(env, |_| {});
    let params = ShowWorkflowExecutionParams {
        workflow_id: "fg-wf".into(),
        execution_id: "fg-1".into(),
        x_get_workflow_full_history_data: None,
    };

    let error = client
        .wait_until_function_graph_execution_succeeded(&params, Duration::from_secs(45))
        .await
        .unwrap_err();

    let WaiterError::Timeout { polls, .. } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(*polls as usize, server.requests().len());
    assert_eq!(
        time.sleeps().iter().sum::<Duration>(),
        Duration::from_secs(45)
    );
    assert!(
        error.to_string().contains("raise the maximum wait"),
        "{error}"
    );
}

#[tokio::test]
async fn an_api_error_while_polling_is_reported_with_its_status() {
    let server = ScriptedServer::start().await;
    server.push(Answer::json(
        404,
        json!({"error_code": "AOM.31001306", "error_msg": "workflow not exist.", "http_code": 404}),
    ));
    let (env, _time) = virtual_env();
    let client = server.client(env, |_| {});

    let error = client
        .wait_until_aom_execution_succeeded(&aom_params(), Duration::from_secs(60))
        .await
        .unwrap_err();

    let WaiterError::Api { source, polls, .. } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(
        (source.status(), source.error_code(), *polls),
        (Some(404), Some("AOM.31001306"), 1)
    );
}
