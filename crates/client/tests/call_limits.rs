#![allow(clippy::unwrap_used, clippy::expect_used)]
//! A caller's deadline bounds everything under it, over real HTTP: no retry starts and no
//! backoff sleeps past it, and an attempt still waiting for its answer is cut. Errors say
//! whether the request may have taken effect.

mod support;

use std::time::{Duration, Instant};

use hwc_client::runtime::{CallLimits, Clock, RetryPolicy, TransportErrorKind};
use hwc_client::{ApiError, Client};
use serde_json::json;
use support::{start_params, status_params, virtual_env, Answer, ScriptedServer};

fn patient_retries(config: &mut hwc_client::TransportConfig) {
    config.retry = RetryPolicy {
        max_attempts: 10,
        base_delay: Duration::from_secs(2),
        max_delay: Duration::from_secs(20),
    };
}

fn limited(client: &Client, limits: CallLimits) -> Client {
    Client::new(client.transport().limited(limits))
}

#[tokio::test]
async fn no_retry_or_backoff_sleep_runs_past_the_deadline() {
    let server = ScriptedServer::start().await;
    server.always(Answer::json(
        503,
        json!({"error_code": "AOM.31001405", "error_msg": "busy", "http_code": 503}),
    ));
    let (env, time) = virtual_env();
    let client = server.client(env, patient_retries);
    let deadline = Duration::from_secs(5);
    let client = limited(
        &client,
        CallLimits {
            retries_until: deadline,
            answer_by: deadline,
        },
    );

    let error = client
        .search_workflow_execution_detail(&status_params())
        .await
        .unwrap_err();

    assert_eq!(error.status(), Some(503), "{error}");
    let attempts = server.requests().len();
    assert!(
        (1..10).contains(&attempts),
        "{attempts} attempts: the retry budget was not cut"
    );
    assert!(
        time.elapsed() < deadline,
        "slept until {:?}",
        time.elapsed()
    );
    // Unlimited, the same client makes all ten attempts.
    server.take_requests();
    let _ = server
        .client(virtual_env().0, patient_retries)
        .search_workflow_execution_detail(&status_params())
        .await;
    assert_eq!(server.requests().len(), 10);
}

#[tokio::test]
async fn an_attempt_still_waiting_at_answer_by_is_cut_and_may_have_taken_effect() {
    let server = ScriptedServer::start().await;
    server
        .always(Answer::json(200, json!({"execution_id": "late"})).delayed(Duration::from_secs(5)));
    let (env, _time) = virtual_env();
    let client = limited(
        &server.client(env, patient_retries),
        CallLimits {
            retries_until: Duration::ZERO,
            answer_by: Duration::from_millis(300),
        },
    );

    let began = Instant::now();
    let error = client.execute_workflow(&start_params()).await.unwrap_err();

    assert!(
        began.elapsed() < Duration::from_secs(3),
        "{:?}",
        began.elapsed()
    );
    let ApiError::Transport { kind, message, .. } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(*kind, TransportErrorKind::Timeout);
    assert!(message.contains("deadline"), "{message}");
    assert!(error.may_have_taken_effect());
    assert_eq!(server.requests().len(), 1, "a start is never resent");
}

#[tokio::test]
async fn whether_a_failed_request_may_have_taken_effect() {
    let server = ScriptedServer::start().await;
    let (env, _time) = virtual_env();
    let client = server.client(env, |config| config.retry.max_attempts = 1);
    let cases = [
        (500, true),
        (503, true),
        (429, false),
        (400, false),
        (401, false),
        (404, false),
    ];
    for (status, may) in cases {
        server.push(Answer::json(
            status,
            json!({"error_code": "X.1", "error_msg": "m"}),
        ));
        let error = client.execute_workflow(&start_params()).await.unwrap_err();
        assert_eq!(error.may_have_taken_effect(), may, "HTTP {status}");
    }
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let refused = support::client_for(
        url::Url::parse(&format!("http://{closed}")).unwrap(),
        virtual_env().0,
        |config| config.retry.max_attempts = 1,
    )
    .execute_workflow(&start_params())
    .await
    .unwrap_err();
    assert!(!refused.may_have_taken_effect(), "{refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_max_in_flight_requests_are_on_the_wire_and_the_others_wait_their_turn() {
    let server = ScriptedServer::start().await;
    server.always(
        Answer::json(200, json!({"status": "executing"})).delayed(Duration::from_millis(50)),
    );
    for (limit, most) in [(3, 3..=3), (16, 4..=16)] {
        let client = server.client(virtual_env().0, |config| config.max_in_flight = limit);
        let calls: Vec<_> = (0..16)
            .map(|_| {
                let client = client.clone();
                tokio::spawn(async move {
                    client
                        .search_workflow_execution_detail(&status_params())
                        .await
                })
            })
            .collect();
        for call in calls {
            call.await.unwrap().unwrap();
        }
        assert!(
            most.contains(&server.most_in_flight()),
            "max_in_flight {limit}: {} requests were answered at once",
            server.most_in_flight()
        );
    }
}
