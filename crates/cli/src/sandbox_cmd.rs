//! `runbook sandbox serve` and `runbook sandbox scenario`.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use hwc_client::Environment;
use hwc_sandbox::{ConnectionLimits, RunningSandbox, SandboxConfig, Scenario};

use crate::signals::shutdown_signal;

pub fn print_scenario() {
    crate::out::stdout_text(format_args!("{}", hwc_sandbox::DEFAULT_SCENARIO));
}

/// Reads a scenario file, or the built-in one.
pub fn load_scenario(path: Option<&PathBuf>) -> Result<Scenario> {
    match path {
        Some(path) => {
            let text = crate::files::read_text(path, &crate::files::SCENARIO)
                .map_err(anyhow::Error::msg)?;
            Ok(Scenario::parse(&path.display().to_string(), &text)?)
        }
        None => Ok(Scenario::default_scenario()),
    }
}

pub async fn serve(listen: SocketAddr, scenario_path: Option<PathBuf>, seed: u64) -> Result<()> {
    let scenario = load_scenario(scenario_path.as_ref())?;
    let summary = describe(&scenario);
    let environment = Environment::system();
    let config = SandboxConfig {
        scenario,
        environment,
        seed,
        limits: ConnectionLimits::default(),
        // Nothing reads a served sandbox's log: keeping it would only cost memory.
        keep_requests: 0,
    };
    // Listening before the banner says the sandbox is up: a SIGTERM right after it stops
    // the sandbox cleanly.
    let stop = shutdown_signal();
    let sandbox = RunningSandbox::start(config, listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    outln!("sandbox listening on {}", sandbox.url());
    crate::out::stdout_text(format_args!("{summary}"));
    outln!("stop with Ctrl-C");
    stop.await;
    outln!("stopping");
    sandbox
        .shutdown()
        .await
        .context("the sandbox did not stop cleanly")?;
    Ok(())
}

/// What a user needs to talk to the sandbox. The sandbox's credentials are test fixtures, so
/// printing them is the point.
fn describe(scenario: &Scenario) -> String {
    let mut text = String::new();
    for project in &scenario.projects {
        text.push_str(&format!("project {}\n", project.id));
        for key in &project.credentials {
            text.push_str(&format!(
                "  HUAWEICLOUD_SDK_AK={} HUAWEICLOUD_SDK_SK={}\n",
                key.ak, key.sk
            ));
        }
        for token in &project.tokens {
            text.push_str(&format!("  X-Auth-Token: {token}\n"));
        }
        let workflows: Vec<&str> = project
            .aom_workflows
            .iter()
            .map(|w| w.id.as_str())
            .chain(
                project
                    .functiongraph_workflows
                    .iter()
                    .map(|w| w.id.as_str()),
            )
            .collect();
        text.push_str(&format!("  workflows: {}\n", workflows.join(", ")));
    }
    text
}
