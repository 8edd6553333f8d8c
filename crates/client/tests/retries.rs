#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Retry rules over real HTTP, on virtual time: reads are retried on 5xx, 429, timeouts and
//! connection errors; starts are retried only when they cannot have reached the server or on
//! 429, so nothing starts twice. Every attempt is signed afresh.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hwc_client::runtime::{
    AttemptEvent, AttemptOutcome, Credentials, Middleware, OperationMeta, Random, RetryPolicy,
    Secret, TransportErrorKind,
};
use hwc_client::ApiError;
use serde_json::json;
use support::{start_params, status_params, virtual_env, Answer, ScriptedServer};

fn aom_500() -> Answer {
    Answer::json(
        500,
        json!({"error_code": "AOM.31001405", "error_msg": "internal error", "http_code": 500}),
    )
}

fn retry_policy(config: &mut hwc_client::TransportConfig) {
    config.retry = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_secs(2),
        max_delay: Duration::from_secs(20),
    };
}

#[tokio::test]
async fn a_read_is_retried_on_5xx_and_each_attempt_is_signed_afresh() {
    let server = ScriptedServer::start().await;
    server.push(aom_500());
    server.push(Answer::raw(503, "unavailable"));
    server.push(Answer::json(200, json!({"status": "executing"})));
    let (mut env, time) = virtual_env();
    env.random = Arc::new(ThreeQuarters);
    let client = server.client(env, retry_policy);

    let response = client
        .search_workflow_execution_detail(&status_params())
        .await
        .unwrap();

    assert_eq!(response.attempts, 3);
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(time.sleeps().len(), 2);
    for request in &requests {
        request.verify_signature().unwrap();
    }
    // Full jitter at 3/4 of the ceiling: 2s·0.75, then 4s·0.75.
    assert_eq!(
        time.sleeps(),
        [Duration::from_millis(1500), Duration::from_secs(3)]
    );
    // Sleeping moved the clock, so each attempt carries its own signing date.
    let dates: Vec<_> = requests
        .iter()
        .map(|r| r.header("x-sdk-date").unwrap())
        .collect();
    assert_eq!(
        dates,
        ["20260102T030405Z", "20260102T030406Z", "20260102T030409Z"]
    );
}

#[derive(Debug)]
struct ThreeQuarters;

impl Random for ThreeQuarters {
    fn unit(&self) -> f64 {
        0.75
    }
}

#[tokio::test]
async fn a_start_is_never_resent_after_a_5xx() {
    let server = ScriptedServer::start().await;
    server.always(aom_500());
    let (env, time) = virtual_env();
    let client = server.client(env, retry_policy);

    let error = client.execute_workflow(&start_params()).await.unwrap_err();

    assert_eq!(
        server.requests().len(),
        1,
        "the workflow must not be started twice"
    );
    assert!(time.sleeps().is_empty());
    let ApiError::Http(http) = &error else {
        panic!("{error:?}")
    };
    assert_eq!((http.status, http.attempts), (500, 1));
    assert_eq!(error.error_code(), Some("AOM.31001405"));
    assert_eq!(error.request_id(), Some("req-500"));
    assert!(
        error.is_retryable(),
        "a 5xx is retryable in itself; the transport declines to resend a start"
    );
}

#[tokio::test]
async fn a_start_is_resent_after_429_honouring_retry_after() {
    let server = ScriptedServer::start().await;
    server.push(
        Answer::json(
            429,
            json!({"error_code": "APIGW.0308", "error_msg": "throttled"}),
        )
        .header("Retry-After", "7"),
    );
    server.push(Answer::json(200, json!({"execution_id": "ex-9"})));
    let (env, time) = virtual_env();
    let client = server.client(env, retry_policy);

    let response = client.execute_workflow(&start_params()).await.unwrap();

    assert_eq!(response.body.execution_id.as_deref(), Some("ex-9"));
    assert_eq!(server.requests().len(), 2);
    assert!(
        time.sleeps()[0] >= Duration::from_secs(7),
        "{:?}",
        time.sleeps()
    );
}

#[tokio::test]
async fn a_start_is_resent_when_the_connection_was_never_made() {
    // A port that was just free: nothing listens there.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let (env, time) = virtual_env();
    let client = support::client_for(
        url::Url::parse(&format!("http://{closed}")).unwrap(),
        env,
        retry_policy,
    );

    let error = client.execute_workflow(&start_params()).await.unwrap_err();

    let ApiError::Transport { kind, attempts, .. } = &error else {
        panic!("{error:?}")
    };
    assert_eq!((*kind, *attempts), (TransportErrorKind::Connect, 3));
    assert_eq!(time.sleeps().len(), 2);
    assert!(error.is_retryable());
}

#[tokio::test]
async fn a_start_that_timed_out_is_not_resent_but_a_read_is() {
    let server = ScriptedServer::start().await;
    let slow = Answer::json(200, json!({"execution_id": "late"})).delayed(Duration::from_secs(3));
    server.always(slow);
    let (env, _time) = virtual_env();
    let client = server.client(env, |config| {
        retry_policy(config);
        config.request_timeout = Duration::from_millis(200);
    });

    let error = client.execute_workflow(&start_params()).await.unwrap_err();
    assert!(
        matches!(
            error,
            ApiError::Transport {
                kind: TransportErrorKind::Timeout,
                attempts: 1,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(server.requests().len(), 1);

    let error = client
        .search_workflow_execution_detail(&status_params())
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ApiError::Transport {
                kind: TransportErrorKind::Timeout,
                attempts: 3,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(server.requests().len(), 4);
}

#[derive(Debug, Default)]
struct Recorder {
    events: Mutex<Vec<(u32, AttemptOutcome, Option<Duration>)>>,
}

impl Middleware for Recorder {
    fn before_sign(&self, operation: &'static OperationMeta, headers: &mut Vec<(String, String)>) {
        headers.push(("X-Trace-Op".to_owned(), operation.id.to_owned()));
    }

    fn on_attempt(&self, event: &AttemptEvent<'_>) {
        self.events
            .lock()
            .unwrap()
            .push((event.attempt, event.outcome, event.retry_in));
    }
}

#[tokio::test]
async fn middleware_signs_its_headers_and_sees_every_attempt() {
    let server = ScriptedServer::start().await;
    server.push(Answer::raw(502, "bad gateway"));
    server.push(Answer::json(200, json!({"status": "success"})));
    let (env, _time) = virtual_env();
    let recorder = Arc::new(Recorder::default());
    let credentials = Credentials::AkSk {
        ak: support::AK.to_owned(),
        sk: Secret::new(support::SK),
        security_token: Some(Secret::new("session-token-value")),
    };
    let mut config = hwc_client::TransportConfig::new("cn-north-4", credentials);
    config.project_id = Some(support::PROJECT_ID.to_owned());
    config.endpoint_override = Some(server.url());
    retry_policy(&mut config);
    let transport = hwc_client::Transport::builder(config)
        .environment(env)
        .middleware(recorder.clone())
        .build()
        .unwrap();
    let client = hwc_client::Client::new(transport);

    client
        .search_workflow_execution_detail(&status_params())
        .await
        .unwrap();

    let events = recorder.events.lock().unwrap().clone();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].1, AttemptOutcome::Status(502));
    assert!(events[0].2.is_some());
    assert_eq!(
        (events[1].1, events[1].2),
        (AttemptOutcome::Status(200), None)
    );
    for request in server.requests() {
        request.verify_signature().unwrap();
        let auth = request.header("authorization").unwrap();
        assert!(auth.contains("x-trace-op"), "{auth}");
        assert!(auth.contains("x-security-token"), "{auth}");
        assert_eq!(
            request.header("x-security-token"),
            Some("session-token-value")
        );
    }
}

#[tokio::test]
async fn token_credentials_send_x_auth_token_and_no_signature() {
    let server = ScriptedServer::start().await;
    server.push(Answer::json(200, json!({"execution_id": "ex-1"})));
    let (env, _time) = virtual_env();
    let client = server.client(env, |config| {
        config.credentials = Credentials::Token(Secret::new("iam-token-value"));
    });

    client.execute_workflow(&start_params()).await.unwrap();

    let request = &server.requests()[0];
    assert_eq!(request.header("x-auth-token"), Some("iam-token-value"));
    assert_eq!(request.header("authorization"), None);
}

#[tokio::test]
async fn secrets_never_appear_in_errors_or_debug_output() {
    let server = ScriptedServer::start().await;
    server.always(aom_500());
    let (env, _time) = virtual_env();
    let client = server.client(env, retry_policy);

    let error = client.execute_workflow(&start_params()).await.unwrap_err();

    for text in [
        error.to_string(),
        format!("{error:?}"),
        format!("{client:?}"),
    ] {
        assert!(!text.contains(support::SK), "{text}");
    }
}

#[tokio::test]
async fn a_501_is_never_retried_and_took_no_effect() {
    // The service lacks the operation (a region or gateway without it): another attempt
    // meets the same answer, so a read makes one, not five.
    let server = ScriptedServer::start().await;
    server.always(Answer::json(
        501,
        json!({"error_code": "SANDBOX.501", "error_msg": "not emulated", "http_code": 501}),
    ));
    let (env, time) = virtual_env();
    let client = server.client(env, retry_policy);

    let error = client
        .search_workflow_execution_detail(&status_params())
        .await
        .unwrap_err();

    assert_eq!(error.status(), Some(501), "{error}");
    assert_eq!(server.requests().len(), 1);
    assert!(time.sleeps().is_empty());
    assert!(!error.is_retryable(), "{error:?}");
    assert!(!error.may_have_taken_effect(), "{error:?}");
}
