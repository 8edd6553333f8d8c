//! Shared by the sandbox's tests: an in-process sandbox on virtual time.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use hwc_client::runtime::{Credentials, RetryPolicy, Secret, VirtualTime};
use hwc_client::{Client, Environment, Transport};
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
        environment: env.clone(),
        seed,
        limits,
        keep_requests: hwc_sandbox::MAX_LOGGED_REQUESTS,
    };
    let sandbox = RunningSandbox::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    (sandbox, time, env)
}

/// The default scenario's project and its AK/SK.
pub const PROJECT: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";
pub const AK: &str = "SANDBOXAKEXAMPLE0001";
pub const SK: &str = "sandbox-secret-key-0001";

/// The generated client, signing with AK/SK as a runbook would call, on `env`'s clock and
/// with no retries of its own (a test sees every answer).
pub fn signed_client(sandbox: &RunningSandbox, env: &Environment) -> Client {
    let credentials = Credentials::AkSk {
        ak: AK.into(),
        sk: Secret::new(SK),
        security_token: None,
    };
    let mut config = sandbox.transport_config(credentials, PROJECT);
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
