//! `runbook`: one command over the sandbox (and, as the runner lands, runbooks).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use hwc_client::Environment;
use hwc_sandbox::{RunningSandbox, SandboxConfig, Scenario};

mod validate;

/// Declarative runbooks for Huawei Cloud's workflow APIs (AOM automation, FunctionGraph).
#[derive(Debug, Parser)]
#[command(name = "runbook", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check runbook files (or directories of them) without running anything.
    ///
    /// Reports every problem at once, each as file:line:col with the offending line. Exits
    /// non-zero when any file has a problem.
    Validate {
        /// Runbook files, or directories searched for *.yaml and *.yml.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// The local emulator of the workflow endpoints.
    #[command(subcommand)]
    Sandbox(SandboxCommand),
}

#[derive(Debug, Subcommand)]
enum SandboxCommand {
    /// Serve the sandbox until Ctrl-C or SIGTERM.
    ///
    /// Prints the address, the project ids and the credentials it accepts. Point an SDK or
    /// `hwc-client` at the address as its endpoint.
    Serve {
        /// Address to listen on; port 0 picks a free port.
        #[arg(long, default_value = "127.0.0.1:8787")]
        listen: SocketAddr,
        /// A scenario YAML file; the built-in default scenario when absent.
        #[arg(long)]
        scenario: Option<PathBuf>,
        /// Seed for ids and injected faults.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Print the built-in default scenario (a starting point for your own).
    Scenario,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Validate { paths } => {
            let outcome = validate::validate(&paths).map_err(anyhow::Error::msg)?;
            if outcome.failed > 0 {
                anyhow::bail!(
                    "{} of {} runbook(s) have problems",
                    outcome.failed,
                    outcome.files
                );
            }
            Ok(())
        }
        Command::Sandbox(SandboxCommand::Scenario) => {
            print!("{}", hwc_sandbox::DEFAULT_SCENARIO);
            Ok(())
        }
        Command::Sandbox(SandboxCommand::Serve {
            listen,
            scenario,
            seed,
        }) => serve(listen, scenario, seed).await,
    }
}

async fn serve(listen: SocketAddr, scenario_path: Option<PathBuf>, seed: u64) -> Result<()> {
    let scenario = match &scenario_path {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read scenario {}", path.display()))?;
            Scenario::parse(&path.display().to_string(), &text)?
        }
        None => Scenario::default_scenario(),
    };
    let summary = describe(&scenario);
    let environment = Environment::system();
    let config = SandboxConfig {
        scenario,
        clock: environment.clock.clone(),
        seed,
    };
    let sandbox = RunningSandbox::start(config, listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    println!("sandbox listening on {}", sandbox.url());
    print!("{summary}");
    println!("stop with Ctrl-C");
    shutdown_signal().await;
    println!("stopping");
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

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
