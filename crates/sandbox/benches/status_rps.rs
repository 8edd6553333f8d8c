#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Throughput of the status read (`SearchWorkflowExecutionDetail`), the call a waiter repeats.
//!
//! Two passes against one sandbox on loopback, real clock:
//! 1. the generated client with AK/SK, so each request pays signing, verification and typed
//!    decoding;
//! 2. a plain `reqwest` client resending one prepared request with token auth, which shows
//!    what the server alone sustains.
//!
//! `cargo bench -p hwc-sandbox --bench status_rps`; `BENCH_SECONDS` (default 5) and
//! `BENCH_CONCURRENCY` (default 8) tune it. A plain binary (`harness = false`): plain
//! `cargo test` neither builds nor runs it; `cargo test --benches`/`--all-targets` runs it as a
//! 0.2 s smoke pass, since only `cargo bench` passes `--bench`.

use std::time::{Duration, Instant};

use hwc_client::operations::{ExecuteWorkflowParams, SearchWorkflowExecutionDetailParams};
use hwc_client::runtime::{Credentials, RetryPolicy, Secret};
use hwc_client::{Client, Environment, Transport};
use hwc_sandbox::{ConnectionLimits, RunningSandbox, SandboxConfig, Scenario};

const PROJECT: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";
const AK: &str = "SANDBOXAKEXAMPLE0001";
const SK: &str = "sandbox-secret-key-0001";
const TOKEN: &str = "sandbox-iam-token-0001";
/// Its one node runs for 10 minutes, so every read sees the same executing state.
const WORKFLOW: &str = "wf-long";

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn generated_client(sandbox: &RunningSandbox, env: &Environment) -> Client {
    let credentials = Credentials::AkSk {
        ak: AK.into(),
        sk: Secret::new(SK),
        security_token: None,
    };
    let mut config = sandbox.transport_config(credentials, PROJECT);
    // A failure must show up as an error, not as a slower request.
    config.retry = RetryPolicy {
        max_attempts: 1,
        ..RetryPolicy::default()
    };
    Client::new(
        Transport::builder(config)
            .environment(env.clone())
            .build()
            .unwrap(),
    )
}

/// Latencies of one task, in microseconds, and its failures.
#[derive(Default)]
struct Tally {
    micros: Vec<u64>,
    errors: u64,
}

fn report(label: &str, elapsed: Duration, tallies: Vec<Tally>) {
    let errors: u64 = tallies.iter().map(|t| t.errors).sum();
    let mut micros: Vec<u64> = tallies.into_iter().flat_map(|t| t.micros).collect();
    micros.sort_unstable();
    let total = micros.len();
    let percentile = |p: f64| {
        if micros.is_empty() {
            return 0;
        }
        let rank = ((p * total as f64).ceil() as usize).clamp(1, total);
        micros[rank - 1]
    };
    println!(
        "{label}\n  requests: {total}  errors: {errors}  rps: {:.0}  p50: {} µs  p99: {} µs",
        total as f64 / elapsed.as_secs_f64(),
        percentile(0.50),
        percentile(0.99),
    );
}

/// Runs `concurrency` tasks, each calling its own request maker from `make` until `duration` is
/// up; a maker's future answers whether the request succeeded.
async fn hammer<F, G, Fut>(
    concurrency: usize,
    duration: Duration,
    make: F,
) -> (Duration, Vec<Tally>)
where
    F: Fn() -> G,
    G: FnMut() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send + 'static,
{
    let mut tasks = Vec::new();
    let mut ones: Vec<_> = (0..concurrency).map(|_| make()).collect();
    // One untimed request per task opens its keep-alive connection before the clock starts.
    for one in &mut ones {
        assert!(one().await, "the warm-up request failed");
    }
    let started = Instant::now();
    let deadline = started + duration;
    for mut one in ones {
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            while Instant::now() < deadline {
                let sent = Instant::now();
                if one().await {
                    tally.micros.push(sent.elapsed().as_micros() as u64);
                } else {
                    tally.errors += 1;
                }
            }
            tally
        }));
    }
    let mut tallies = Vec::new();
    for task in tasks {
        tallies.push(task.await.unwrap());
    }
    (started.elapsed(), tallies)
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; a filter that does not name this bench skips it.
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args
        .iter()
        .any(|a| !a.starts_with('-') && !"status_rps".contains(a.as_str()))
    {
        return;
    }
    // `cargo test --benches` (or `--all-targets`) runs this binary without `--bench`: a
    // short smoke pass there proves it works without costing the test run 10 s.
    let benching = args.iter().any(|a| a == "--bench");
    let duration =
        Duration::from_secs_f64(env_or("BENCH_SECONDS", if benching { 5.0 } else { 0.2 }));
    let concurrency: usize = env_or("BENCH_CONCURRENCY", 8).max(1);

    let env = Environment::system();
    let config = SandboxConfig {
        scenario: Scenario::default_scenario(),
        environment: env.clone(),
        seed: 1,
        limits: ConnectionLimits::default(),
        keep_requests: 0,
    };
    let sandbox = RunningSandbox::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let base = sandbox.url();

    let execution_id = generated_client(&sandbox, &env)
        .execute_workflow(&ExecuteWorkflowParams {
            workflow_id: WORKFLOW.into(),
        })
        .await
        .unwrap()
        .body
        .execution_id
        .unwrap();
    let params = SearchWorkflowExecutionDetailParams {
        workflow_id: WORKFLOW.into(),
        execution_id: execution_id.clone(),
    };

    println!(
        "status_rps: {} s per pass, {concurrency} concurrent tasks, GET status of one {WORKFLOW} execution",
        duration.as_secs_f64()
    );

    // Pass 1: each task owns one generated client (one pooled keep-alive connection).
    let (elapsed, tallies) = hammer(concurrency, duration, || {
        let client = generated_client(&sandbox, &env);
        let params = params.clone();
        move || {
            let client = client.clone();
            let params = params.clone();
            async move {
                client
                    .search_workflow_execution_detail(&params)
                    .await
                    .is_ok()
            }
        }
    })
    .await;
    report(
        "generated client, AK/SK (signing + verification + typed decode)",
        elapsed,
        tallies,
    );

    // Pass 2: one prepared request per task, cloned and resent; token auth skips the HMAC.
    let url =
        format!("{base}/v1/{PROJECT}/cms/workflow/{WORKFLOW}/executions/{execution_id}/status");
    let (elapsed, tallies) = hammer(concurrency, duration, || {
        let http = reqwest::Client::new();
        let prepared = http
            .get(&url)
            .header("X-Auth-Token", TOKEN)
            .header("X-Project-Id", PROJECT)
            .build()
            .unwrap();
        move || {
            let http = http.clone();
            let request = prepared.try_clone().unwrap();
            async move {
                match http.execute(request).await {
                    Ok(response) if response.status().is_success() => {
                        response.bytes().await.is_ok()
                    }
                    _ => false,
                }
            }
        }
    })
    .await;
    report(
        "plain reqwest, X-Auth-Token (server only)",
        elapsed,
        tallies,
    );

    sandbox.shutdown().await.unwrap();
}
