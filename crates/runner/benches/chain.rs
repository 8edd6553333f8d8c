//! What the engine costs per step: a start, then N `call` steps each reading the status of
//! the started execution (bench/journal.sh's chain), run to the end by one `Runner` against
//! the in-process sandbox on virtual time, wired as `runbook run --sandbox` wires it: one
//! `RunningSandbox` on the environment's clock, the client from its `transport_config`. The
//! sandbox shares the process, so its work is in the figures too, as with `--sandbox`.
//!
//! Steps per second that stay equal from 250 to 1,000 steps mean a linear engine.
//!
//!   cargo bench -p runbook-runner --bench chain              # `-- chain/1000` for one length
//!   CHAIN_STEPS=1000,2000 cargo bench -p runbook-runner --bench chain
//!
//! Ten flat samples per length, criterion's least, plus one warm-up run: while the cost per
//! step grows with the run, 2,000 steps take over ten seconds a run, so the default lengths
//! stop at 1,000 and the whole bench at about a minute. `cargo test --benches` runs each
//! length once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use hwc_client::runtime::{Credentials, Secret};
use hwc_client::{Client, Environment, Transport};
use hwc_sandbox::{ConnectionLimits, RunningSandbox, SandboxConfig, Scenario};
use runbook_runner::state::RunStatus;
use runbook_runner::{inputs, Event, Observer, RunInput, Runner};

const PROJECT: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";

/// The CLI's reporters and journal are not the engine; they are measured by bench/compare.sh.
struct Quiet;

impl Observer for Quiet {
    fn event(&self, _event: &Event) {}
}

fn chain(steps: usize) -> runbook_lang::Runbook {
    let mut text = String::from(
        "version: 1\nname: chain\nsteps:\n  - id: start\n    aom.start: {workflow_id: wf-success}\n",
    );
    for i in 1..=steps {
        text.push_str(&format!(
            "  - id: s{i}\n    call: {{operation: SearchWorkflowExecutionDetail, params: \
             {{workflow_id: wf-success, execution_id: \"{{{{ steps.start.execution_id }}}}\"}}}}\n"
        ));
    }
    runbook_lang::parse(&runbook_lang::Source::new("chain.yaml", text))
        .unwrap_or_else(|d| panic!("{d:#?}"))
}

/// The sandbox and a runner on one virtual clock, as `runbook run --sandbox` builds them.
async fn rig() -> (RunningSandbox, Runner) {
    let (environment, _time) = Environment::virtual_time(time::OffsetDateTime::now_utc(), 1);
    let sandbox = RunningSandbox::start(
        SandboxConfig {
            scenario: Scenario::default_scenario(),
            environment: environment.clone(),
            seed: 1,
            limits: ConnectionLimits::default(),
            keep_requests: 0,
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let credentials = Credentials::AkSk {
        ak: "SANDBOXAKEXAMPLE0001".into(),
        sk: Secret::new("sandbox-secret-key-0001"),
        security_token: None,
    };
    let transport = Transport::builder(sandbox.transport_config(credentials, PROJECT))
        .environment(environment.clone())
        .build()
        .unwrap();
    let runner = Runner::new(Client::new(transport), environment, Arc::new(Quiet));
    (sandbox, runner)
}

fn lengths() -> Vec<usize> {
    match std::env::var("CHAIN_STEPS") {
        Ok(list) => list
            .split(',')
            .map(|n| {
                n.trim()
                    .parse()
                    .expect("CHAIN_STEPS: step counts, comma-separated")
            })
            .collect(),
        Err(_) => vec![250, 500, 1_000],
    }
}

fn chains(c: &mut Criterion) {
    // Multi-threaded, as the CLI's runtime is.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (sandbox, runner) = runtime.block_on(rig());

    let mut group = c.benchmark_group("chain");
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(1));
    group.measurement_time(Duration::from_secs(1));
    for steps in lengths() {
        let runbook = Arc::new(chain(steps));
        let input = RunInput {
            run_id: "bench".to_owned(),
            inputs: inputs::resolve(&runbook, Vec::new()).unwrap(),
            ..RunInput::default()
        };
        // Steps per second: equal figures for every length mean a linear cost.
        group.throughput(Throughput::Elements(steps as u64));
        group.bench_with_input(
            BenchmarkId::from_parameter(steps),
            &runbook,
            |b, runbook| {
                b.iter(|| {
                    let state = runtime.block_on(runner.run(Arc::clone(runbook), input.clone()));
                    // A failed run is fast and measures nothing.
                    assert_eq!(state.status, RunStatus::Succeeded, "{:?}", state.error);
                })
            },
        );
    }
    group.finish();
    runtime.block_on(sandbox.shutdown()).unwrap();
}

criterion_group!(benches, chains);
criterion_main!(benches);
