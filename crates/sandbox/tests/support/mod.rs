//! Shared by the sandbox's tests: an in-process sandbox on virtual time.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use hwc_client::runtime::VirtualTime;
use hwc_client::Environment;
use hwc_sandbox::{ConnectionLimits, RunningSandbox, SandboxConfig, Scenario};

/// A sandbox on a loopback port whose clock is `time`; clients built with `env` share it, so
/// their `X-Sdk-Date` agrees with the sandbox and every sleep moves both.
pub async fn start_on_virtual_time(
    scenario: Scenario,
    seed: u64,
) -> (RunningSandbox, VirtualTime, Environment) {
    start_with_limits(scenario, seed, ConnectionLimits::default()).await
}

/// As `start_on_virtual_time`, with other connection limits. The limits' timeouts run on
/// tokio's clock, which virtual time does not move.
pub async fn start_with_limits(
    scenario: Scenario,
    seed: u64,
    limits: ConnectionLimits,
) -> (RunningSandbox, VirtualTime, Environment) {
    let (env, time) =
        Environment::virtual_time(time::macros::datetime!(2026-03-04 05:06:07 UTC), seed);
    let config = SandboxConfig {
        scenario,
        clock: Arc::new(time.clone()),
        seed,
        limits,
    };
    let sandbox = RunningSandbox::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    (sandbox, time, env)
}
