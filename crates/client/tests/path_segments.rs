#![allow(clippy::unwrap_used, clippy::expect_used)]
//! A path parameter is one path segment: `.` and `..` would be normalised away by a proxy or
//! the server and name another resource (`…/workflow/../executions`), so the client refuses
//! them before anything is sent; a `/` inside a value is encoded, never a separator.

mod support;

use hwc_client::operations::{ExecuteWorkflowParams, SearchWorkflowExecutionDetailParams};
use hwc_client::ApiError;
use serde_json::json;
use support::{virtual_env, Answer, ScriptedServer};

#[tokio::test]
async fn dot_segments_are_refused_before_any_request() {
    let server = ScriptedServer::start().await;
    server.always(Answer::json(200, json!({"execution_id": "ex-1"})));
    let client = server.client(virtual_env().0, |_| {});
    for id in [".", ".."] {
        let error = client
            .execute_workflow(&ExecuteWorkflowParams {
                workflow_id: id.into(),
            })
            .await
            .unwrap_err();
        let ApiError::InvalidParameter { name, message } = &error else {
            panic!("{id}: {error:?}");
        };
        assert_eq!(name, "workflow_id");
        assert!(message.contains("another resource"), "{message}");
        let error = client
            .search_workflow_execution_detail(&SearchWorkflowExecutionDetailParams {
                workflow_id: "wf-1".into(),
                execution_id: id.into(),
            })
            .await
            .unwrap_err();
        assert!(
            matches!(&error, ApiError::InvalidParameter { name, .. } if name == "execution_id"),
            "{error:?}"
        );
    }
    assert!(server.requests().is_empty(), "{:?}", server.requests());
}

#[tokio::test]
async fn dots_inside_a_value_and_slashes_stay_in_their_segment() {
    let server = ScriptedServer::start().await;
    server.always(Answer::json(200, json!({"execution_id": "ex-1"})));
    let client = server.client(virtual_env().0, |_| {});
    for id in ["...", "wf..1", "../x"] {
        client
            .execute_workflow(&ExecuteWorkflowParams {
                workflow_id: id.into(),
            })
            .await
            .unwrap();
    }
    let paths: Vec<String> = server.requests().iter().map(|r| r.path.clone()).collect();
    assert!(
        paths[0].ends_with("/cms/workflow/.../executions"),
        "{paths:?}"
    );
    assert!(
        paths[1].ends_with("/cms/workflow/wf..1/executions"),
        "{paths:?}"
    );
    assert!(
        paths[2].ends_with("/cms/workflow/..%2Fx/executions"),
        "{paths:?}"
    );
}
