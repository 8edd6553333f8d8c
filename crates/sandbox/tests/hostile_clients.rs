#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Clients that stall or lie, over real sockets: the sandbox must keep answering everyone
//! else, close what stalls when its timeout says so, and answer a body that lied about its
//! length with the service's 400.
//!
//! The timeouts run on tokio's real clock; tests that watch one fire shorten it through
//! `SandboxConfig::limits`.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hwc_client::operations::ExecuteWorkflowParams;
use hwc_client::Environment;
use hwc_sandbox::{ConnectionLimits, RunningSandbox, Scenario};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use support::PROJECT;

/// Generous next to the short timeouts the tests set, tight next to the defaults: a test that
/// waits this long for something the short timeout should have done has failed.
const PATIENCE: Duration = Duration::from_secs(5);

fn short(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

async fn start(limits: ConnectionLimits) -> (RunningSandbox, Environment) {
    let (sandbox, _time, env) =
        support::start_with_limits(Scenario::default_scenario(), 5, limits).await;
    (sandbox, env)
}

/// A normal signed request gets its answer within `PATIENCE`.
async fn normal_request_is_answered(sandbox: &RunningSandbox, env: &Environment) -> Duration {
    let client = support::signed_client(sandbox, env);
    let began = Instant::now();
    let started = tokio::time::timeout(
        PATIENCE,
        client.execute_workflow(&ExecuteWorkflowParams {
            workflow_id: "wf-success".into(),
        }),
    )
    .await
    .expect("a normal request got no answer in time")
    .unwrap();
    assert!(started.body.execution_id.is_some());
    began.elapsed()
}

/// One answer: its status and JSON body, read until it is complete or the server closes.
async fn read_answer(stream: &mut TcpStream) -> (u16, Value) {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(answer) = parse_answer(&bytes) {
            return answer;
        }
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
        }
    }
    parse_answer(&bytes).unwrap_or_else(|| {
        panic!(
            "no complete answer before the connection closed: {:?}",
            String::from_utf8_lossy(&bytes)
        )
    })
}

fn parse_answer(bytes: &[u8]) -> Option<(u16, Value)> {
    let text = std::str::from_utf8(bytes).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let length: usize = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse().ok())?
    })?;
    let body = body.get(..length)?;
    Some((status, serde_json::from_str(body).unwrap_or(Value::Null)))
}

/// Sends `bytes`, then (if `half_close`) ends the sending side, and reads one answer.
async fn answer_to(addr: SocketAddr, bytes: &[u8], half_close: bool) -> (u16, Value, Duration) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    if half_close {
        stream.shutdown().await.unwrap();
    }
    let began = Instant::now();
    let (status, body) = tokio::time::timeout(PATIENCE, read_answer(&mut stream))
        .await
        .expect("no answer in time");
    (status, body, began.elapsed())
}

/// Whether the server closes `stream` within `within`, and when.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> Option<Duration> {
    let began = Instant::now();
    let mut buf = [0u8; 1024];
    let closed = tokio::time::timeout(within, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    closed.ok().map(|()| began.elapsed())
}

/// A request whose head promises `declared` bytes of body, followed by `sent` of them.
fn promising(path: &str, declared: usize, sent: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: sandbox\r\nContent-Type: application/json\r\n\
         Content-Length: {declared}\r\n\r\n{sent}"
    )
    .into_bytes()
}

fn aom_start_path() -> String {
    format!("/v1/{PROJECT}/cms/workflow/wf-success/executions")
}

fn fg_start_path() -> String {
    format!("/v2/{PROJECT}/fgs/workflows/fg-standard/executions")
}

/// The dialect's usual bad request: AOM's code and `http_code`, FunctionGraph's code.
fn assert_bad_request(status: u16, body: &Value, code: &str) {
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error_code"], code, "{body}");
    assert!(body["error_msg"].is_string(), "{body}");
    if code.starts_with("AOM") {
        assert_eq!(body["http_code"], 400, "{body}");
    }
}

#[tokio::test]
async fn a_body_that_ends_before_its_content_length_is_a_bad_request() {
    let (sandbox, _env) = start(ConnectionLimits::default()).await;
    for (path, code) in [
        (fg_start_path(), "FGS.3002"),
        (aom_start_path(), "AOM.31001403"),
    ] {
        let request = promising(&path, 100, "{\"input\":");
        let (status, body, _) = answer_to(sandbox.addr, &request, true).await;
        assert_bad_request(status, &body, code);
    }
}

#[tokio::test]
async fn a_content_length_the_body_never_reaches_is_a_bad_request_after_the_body_timeout() {
    let body_timeout = short(300);
    let (sandbox, _env) = start(ConnectionLimits {
        body_timeout,
        ..ConnectionLimits::default()
    })
    .await;
    // The client keeps the connection open: only the timeout can end the wait.
    let request = promising(&fg_start_path(), 100, "{\"input\":");
    let (status, body, waited) = answer_to(sandbox.addr, &request, false).await;
    assert_bad_request(status, &body, "FGS.3002");
    assert!(
        waited >= body_timeout - short(50),
        "answered after {waited:?}, before the body timeout"
    );
    assert!(
        body["error_msg"].as_str().unwrap().contains("300ms"),
        "{body}"
    );
}

#[tokio::test]
async fn broken_chunked_framing_is_a_bad_request() {
    let (sandbox, _env) = start(ConnectionLimits::default()).await;
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: sandbox\r\nTransfer-Encoding: chunked\r\n\r\n",
        fg_start_path()
    );
    for broken in [
        // Not a chunk size.
        "zz\r\n{}\r\n0\r\n\r\n",
        // A chunk of 0x40 bytes that stops after 9, then the client closes.
        "40\r\n{\"input\":",
    ] {
        let request = format!("{head}{broken}");
        let (status, body, _) = answer_to(sandbox.addr, request.as_bytes(), true).await;
        assert_bad_request(status, &body, "FGS.3002");
    }
}

#[tokio::test]
async fn only_a_body_over_the_limit_is_too_large() {
    let (sandbox, _env) = start(ConnectionLimits::default()).await;
    let over = hwc_sandbox::limits::MAX_BODY_BYTES + 1;
    // Declared: refused before any of it is sent.
    let request = promising(&fg_start_path(), over, "");
    let (status, body, _) = answer_to(sandbox.addr, &request, false).await;
    assert_eq!((status, &body["error_code"]), (413, &"APIGW.0201".into()));
    // Undeclared (chunked): refused once it has grown past the limit.
    let mut request = format!(
        "POST {} HTTP/1.1\r\nHost: sandbox\r\nTransfer-Encoding: chunked\r\n\r\n",
        fg_start_path()
    )
    .into_bytes();
    request.extend_from_slice(format!("{over:x}\r\n").as_bytes());
    request.extend(std::iter::repeat_n(b'a', over));
    request.extend_from_slice(b"\r\n0\r\n\r\n");
    let (status, body, _) = answer_to(sandbox.addr, &request, false).await;
    assert_eq!((status, &body["error_code"]), (413, &"APIGW.0201".into()));
}

#[tokio::test]
async fn idle_connections_are_closed_after_the_idle_timeout() {
    let idle_timeout = short(200);
    let (sandbox, _env) = start(ConnectionLimits {
        idle_timeout,
        ..ConnectionLimits::default()
    })
    .await;

    // Connected, never sent a byte.
    let mut silent = TcpStream::connect(sandbox.addr).await.unwrap();
    let closed = closed_within(&mut silent, PATIENCE).await;
    assert!(
        closed.is_some_and(|after| after >= idle_timeout - short(50)),
        "a silent connection closed after {closed:?}"
    );

    // Kept alive after a complete exchange: the idle time counts from the answer.
    let mut kept = TcpStream::connect(sandbox.addr).await.unwrap();
    kept.write_all(b"GET /__sandbox/requests HTTP/1.1\r\nHost: sandbox\r\n\r\n")
        .await
        .unwrap();
    let (status, _) = read_answer(&mut kept).await;
    assert_eq!(status, 200);
    let closed = closed_within(&mut kept, PATIENCE).await;
    assert!(
        closed.is_some_and(|after| after >= idle_timeout - short(50)),
        "a kept-alive connection closed after {closed:?}"
    );
}

#[tokio::test]
async fn headers_have_their_own_shorter_timeout() {
    let header_timeout = short(200);
    let (sandbox, _env) = start(ConnectionLimits {
        header_timeout,
        idle_timeout: Duration::from_secs(30),
        ..ConnectionLimits::default()
    })
    .await;
    let mut trickling = TcpStream::connect(sandbox.addr).await.unwrap();
    trickling
        .write_all(b"GET /__sandbox/requests HTTP/1.1\r\nHost: sa")
        .await
        .unwrap();
    let mut silent = TcpStream::connect(sandbox.addr).await.unwrap();

    let closed = closed_within(&mut trickling, PATIENCE).await;
    assert!(
        closed.is_some_and(|after| after >= header_timeout - short(50)),
        "a stalled header closed after {closed:?}"
    );
    // The idle connection is not sending a request, so the header timeout is not its.
    assert_eq!(closed_within(&mut silent, short(500)).await, None);
}

/// Raises this process's open-file soft limit to its hard limit and says how many stalled
/// connections fit: each costs two descriptors here, the client's and the sandbox's.
fn stalled_connections_that_fit(wanted: usize) -> usize {
    #[cfg(unix)]
    {
        use rustix::process::{getrlimit, setrlimit, Resource};
        let mut limit = getrlimit(Resource::Nofile);
        if limit.current < limit.maximum {
            limit.current = limit.maximum;
            if let Err(error) = setrlimit(Resource::Nofile, limit) {
                eprintln!("cannot raise the open-file limit: {error}");
            }
        }
        let soft = getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX);
        // What the test harness, the runtime and the normal request need besides.
        let spare = 200;
        let fit = usize::try_from(soft.saturating_sub(spare) / 2).unwrap_or(usize::MAX);
        if fit < wanted {
            eprintln!(
                "the open-file limit is {soft} (hard limit reached): opening {fit} stalled \
                 connections instead of {wanted}"
            );
        }
        fit.min(wanted)
    }
    #[cfg(not(unix))]
    wanted
}

/// The starts of requests that a slowloris client sends and never finishes.
fn stall(index: usize) -> Vec<u8> {
    let partial: &[&str] = &[
        "G",
        "GET /v1/",
        "POST /v2/0a1b2c3d4e5f60718293a4b5c6d7e8f9/fgs/workflows/fg-echo/sync-executions HTTP/1.1",
        "GET /__sandbox/requests HTTP/1.1\r\nHost: sandbox\r\n",
        "POST /v1/x HTTP/1.1\r\nHost: sandbox\r\nContent-Length: 10\r\nX-Sdk-Da",
    ];
    partial[index % partial.len()].as_bytes().to_vec()
}

async fn open_stalled(addr: SocketAddr, count: usize) -> Vec<TcpStream> {
    let mut stalled = Vec::with_capacity(count);
    for index in 0..count {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(&stall(index)).await.unwrap();
        stalled.push(stream);
    }
    stalled
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_is_answered_while_2000_slowloris_connections_stall() {
    let count = stalled_connections_that_fit(2_000);
    let (sandbox, env) = start(ConnectionLimits::default()).await;
    let stalled = open_stalled(sandbox.addr, count).await;
    let took = normal_request_is_answered(&sandbox, &env).await;
    eprintln!("answered in {took:?} beside {count} stalled connections");
    // They were stalling, not refused: the sandbox still holds them open.
    let mut last = stalled.into_iter().last().unwrap();
    assert_eq!(closed_within(&mut last, short(100)).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_full_the_longest_idle_connection_makes_room() {
    let (sandbox, env) = start(ConnectionLimits {
        max_connections: 20,
        ..ConnectionLimits::default()
    })
    .await;
    // Twice as many as fit: each one past the 20th evicts the oldest stalled one.
    let mut stalled = open_stalled(sandbox.addr, 40).await;
    normal_request_is_answered(&sandbox, &env).await;
    assert!(
        closed_within(&mut stalled[0], PATIENCE).await.is_some(),
        "the oldest stalled connection was not closed to make room"
    );
    assert_eq!(closed_within(&mut stalled[39], short(100)).await, None);
}

#[tokio::test]
async fn shutdown_drops_stalled_headers_and_answers_requests_in_progress() {
    let body_timeout = short(300);
    let (sandbox, _env) = start(ConnectionLimits {
        body_timeout,
        ..ConnectionLimits::default()
    })
    .await;
    let mut stalled = open_stalled(sandbox.addr, 5).await;
    let _silent = TcpStream::connect(sandbox.addr).await.unwrap();
    let mut lying = TcpStream::connect(sandbox.addr).await.unwrap();
    lying
        .write_all(&promising(&fg_start_path(), 100, "{"))
        .await
        .unwrap();
    tokio::time::sleep(short(50)).await;
    let began = Instant::now();
    // Far less than the 10 s header and 30 s idle timeouts: shutdown waits for neither.
    tokio::time::timeout(short(2_000), sandbox.shutdown())
        .await
        .expect("shutdown waited on stalled clients")
        .unwrap();
    assert!(began.elapsed() >= body_timeout - short(100));
    assert!(closed_within(&mut stalled[0], short(100)).await.is_some());
    // The request in progress was let finish: its body never came, so it is a bad request.
    let (status, body) = read_answer(&mut lying).await;
    assert_bad_request(status, &body, "FGS.3002");
}

/// A sandbox whose task runs late (a loaded machine) must not hold the delay against the
/// client: bytes that arrived before the idle deadline are a request, not idleness.
#[tokio::test(flavor = "current_thread")]
async fn a_request_that_arrived_in_time_is_served_when_the_sandbox_runs_late() {
    let idle_timeout = short(100);
    let (sandbox, _env) = start(ConnectionLimits {
        idle_timeout,
        ..ConnectionLimits::default()
    })
    .await;
    let mut stream = TcpStream::connect(sandbox.addr).await.unwrap();
    // Accepted, and its watchdog armed, before the request is sent.
    tokio::time::sleep(short(20)).await;
    stream
        .write_all(b"GET /__sandbox/requests HTTP/1.1\r\nHost: sandbox\r\n\r\n")
        .await
        .unwrap();
    // The one thread the sandbox runs on is busy past the idle deadline.
    std::thread::sleep(idle_timeout * 3);
    let (status, _) = tokio::time::timeout(PATIENCE, read_answer(&mut stream))
        .await
        .unwrap();
    assert_eq!(status, 200);
}
