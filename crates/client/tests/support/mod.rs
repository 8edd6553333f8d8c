//! A scripted HTTP server on loopback for the client's tests: it records every request and
//! answers from a queue (then with a default answer), so tests can check exactly what went
//! over the wire.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::extract::State;
use axum::http::{Request, Response, StatusCode};
use hwc_client::runtime::{Credentials, Secret};
use hwc_client::{Client, Environment, Transport, TransportConfig};

pub const AK: &str = "TESTAK0000000000EXAMPLE";
pub const SK: &str = "test-secret-key-never-printed-0123456789";
pub const PROJECT_ID: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The query as raw pairs, decoded the way the signer expects them.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        self.query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                let decode = |s: &str| {
                    percent_encoding::percent_decode_str(s)
                        .decode_utf8_lossy()
                        .into_owned()
                };
                (decode(k), decode(v))
            })
            .collect()
    }

    /// Verifies the AK/SK signature with the request's own `SignedHeaders`.
    pub fn verify_signature(&self) -> Result<(), hwc_signer::VerifyError> {
        self.signature().map(|_| ())
    }

    /// Verifies the AK/SK signature like [`Recorded::verify_signature`] and returns the parsed
    /// `Authorization` (access key, signed header names) and the signing time.
    pub fn signature(
        &self,
    ) -> Result<(hwc_signer::Authorization, time::PrimitiveDateTime), hwc_signer::VerifyError> {
        let query = self.query_pairs();
        let parts = hwc_signer::RequestParts {
            method: &self.method,
            path: &self.path,
            query: &query,
            headers: &self.headers,
            body: &self.body,
        };
        hwc_signer::verify(&parts, |ak| (ak == AK).then_some(SK))
    }

    pub fn json_body(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }
}

/// A scripted answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// Wait this long (real time) before answering, to provoke client timeouts.
    pub delay: Duration,
}

impl Answer {
    pub fn json(status: u16, body: serde_json::Value) -> Self {
        Self {
            status,
            headers: vec![("X-Request-Id".to_owned(), format!("req-{status}"))],
            body: body.to_string(),
            delay: Duration::ZERO,
        }
    }

    pub fn raw(status: u16, body: &str) -> Self {
        Self {
            status,
            headers: vec![("X-Request-Id".to_owned(), format!("req-{status}"))],
            body: body.to_owned(),
            delay: Duration::ZERO,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Replaces the default `X-Request-Id` (`req-{status}`).
    pub fn request_id(mut self, id: &str) -> Self {
        self.headers
            .retain(|(n, _)| !n.eq_ignore_ascii_case("x-request-id"));
        self.header("X-Request-Id", id)
    }

    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

#[derive(Default)]
struct Script {
    queue: VecDeque<Answer>,
    default: Option<Answer>,
    seen: Vec<Recorded>,
    /// Requests being answered now, and the most there ever were at once.
    in_flight: usize,
    most_in_flight: usize,
}

#[derive(Clone)]
pub struct ScriptedServer {
    pub addr: SocketAddr,
    script: Arc<Mutex<Script>>,
}

impl ScriptedServer {
    pub async fn start() -> Self {
        let script = Arc::new(Mutex::new(Script::default()));
        let app = axum::Router::new()
            .fallback(answer)
            .with_state(script.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { addr, script }
    }

    pub fn url(&self) -> url::Url {
        url::Url::parse(&format!("http://{}", self.addr)).unwrap()
    }

    pub fn push(&self, answer: Answer) {
        self.script.lock().unwrap().queue.push_back(answer);
    }

    /// The answer once the queue is empty.
    pub fn always(&self, answer: Answer) {
        self.script.lock().unwrap().default = Some(answer);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.script.lock().unwrap().seen.clone()
    }

    /// The requests seen so far, forgetting them, so a server reused across calls can check
    /// each call on its own.
    pub fn take_requests(&self) -> Vec<Recorded> {
        std::mem::take(&mut self.script.lock().unwrap().seen)
    }

    /// The most requests this server was answering at once.
    pub fn most_in_flight(&self) -> usize {
        self.script.lock().unwrap().most_in_flight
    }

    /// How many queued answers no request has consumed yet.
    pub fn pending(&self) -> usize {
        self.script.lock().unwrap().queue.len()
    }

    /// A client signing with [`AK`]/[`SK`] for [`PROJECT_ID`], pointed at this server.
    pub fn client(
        &self,
        environment: Environment,
        configure: impl FnOnce(&mut TransportConfig),
    ) -> Client {
        client_for(self.url(), environment, configure)
    }
}

pub fn client_for(
    endpoint: url::Url,
    environment: Environment,
    configure: impl FnOnce(&mut TransportConfig),
) -> Client {
    let credentials = Credentials::AkSk {
        ak: AK.to_owned(),
        sk: Secret::new(SK),
        security_token: None,
    };
    let mut config = TransportConfig::new("cn-north-4", credentials);
    config.project_id = Some(PROJECT_ID.to_owned());
    config.endpoint_override = Some(endpoint);
    configure(&mut config);
    Client::new(
        Transport::builder(config)
            .environment(environment)
            .build()
            .unwrap(),
    )
}

/// Starting `wf-1`, the request the retry tests send most.
pub fn start_params() -> hwc_client::operations::ExecuteWorkflowParams {
    hwc_client::operations::ExecuteWorkflowParams {
        workflow_id: "wf-1".into(),
    }
}

/// Reading `ex-1` of `wf-1`.
pub fn status_params() -> hwc_client::operations::SearchWorkflowExecutionDetailParams {
    hwc_client::operations::SearchWorkflowExecutionDetailParams {
        workflow_id: "wf-1".into(),
        execution_id: "ex-1".into(),
    }
}

/// Virtual time starting at a fixed instant, so X-Sdk-Date and every sleep are deterministic.
pub fn virtual_env() -> (Environment, hwc_client::runtime::VirtualTime) {
    Environment::virtual_time(time::macros::datetime!(2026-01-02 03:04:05 UTC), 7)
}

async fn answer(
    State(script): State<Arc<Mutex<Script>>>,
    request: Request<Body>,
) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let body = to_bytes(body, usize::MAX).await.unwrap_or_default();
    let recorded = Recorded {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        headers: parts
            .headers
            .iter()
            .map(|(n, v)| {
                (
                    n.to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: body.to_vec(),
    };
    let answer = {
        let mut script = script.lock().unwrap();
        script.seen.push(recorded);
        script.in_flight += 1;
        script.most_in_flight = script.most_in_flight.max(script.in_flight);
        script
            .queue
            .pop_front()
            .or_else(|| script.default.clone())
            .unwrap_or_else(|| Answer::raw(599, "the test scripted no answer"))
    };
    if !answer.delay.is_zero() {
        tokio::time::sleep(answer.delay).await;
    }
    script.lock().unwrap().in_flight -= 1;
    let mut response = Response::builder().status(StatusCode::from_u16(answer.status).unwrap());
    for (name, value) in &answer.headers {
        response = response.header(name, value);
    }
    // JSON unless the answer sets its own Content-Type.
    if !answer
        .headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
    {
        response = response.header("Content-Type", "application/json");
    }
    response.body(Body::from(answer.body)).unwrap()
}
