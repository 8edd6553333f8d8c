//! Where a run's requests go: Huawei Cloud (credentials and project from the SDKs'
//! environment variables, region and endpoints from flags or the runbook's `target`), or an
//! in-process sandbox with `--sandbox`. Never the sandbox without being asked.

use std::sync::Arc;

use hwc_client::{Client, Credentials, Environment, Transport, TransportConfig};
use hwc_sandbox::{ConnectionLimits, RunningSandbox, SandboxConfig};
use runbook_lang::Runbook;

use crate::run::RunArgs;
use crate::step_targets::{scenario_key, Keys, Lookup, StepTargets};
use runbook_runner::targets::Targets;

/// The region variable; the SDKs take the region in code, so the name is ours.
pub const REGION_ENV: &str = "HUAWEICLOUD_SDK_REGION";

pub struct Connection {
    pub client: Client,
    pub environment: Environment,
    /// Kept alive for the run; shut down after it.
    pub sandbox: Option<RunningSandbox>,
    /// One line for the log: where requests go.
    pub description: String,
    /// The project requests act in (part of the default lock key).
    pub project_id: String,
    /// Credentials to redact.
    pub secrets: Vec<String>,
    /// Clients for the targets steps name.
    pub targets: Arc<dyn Targets>,
}

pub async fn connect(args: &RunArgs, runbook: &Runbook) -> Result<Connection, String> {
    if args.sandbox {
        sandbox(args, runbook).await
    } else {
        cloud(
            args,
            runbook,
            Arc::new(|name: &str| std::env::var(name).ok()),
        )
    }
}

fn cloud(args: &RunArgs, runbook: &Runbook, lookup: Lookup) -> Result<Connection, String> {
    let credentials = Credentials::from_lookup(&*lookup).map_err(|error| {
        format!("{error}.\n  To try the runbook without a cloud account, add --sandbox.")
    })?;
    let region = args
        .options
        .region
        .clone()
        .or_else(|| runbook.target.region.clone())
        .or_else(|| lookup(REGION_ENV).filter(|r| !r.is_empty()))
        .ok_or_else(|| {
            format!(
                "no region: pass --region, set `target.region` in the runbook, or set {REGION_ENV}"
            )
        })?;
    let project_id = args
        .options
        .project_id
        .clone()
        .or_else(|| runbook.target.project_id.clone())
        .or_else(|| Credentials::project_id_from_lookup(&*lookup))
        .ok_or_else(|| {
            "no project id: pass --project-id, set `target.project_id` in the runbook, or set HUAWEICLOUD_SDK_PROJECT_ID".to_owned()
        })?;
    let secrets = credentials
        .secrets()
        .into_iter()
        .map(str::to_owned)
        .collect();
    let mut config = TransportConfig::new(region.clone(), credentials);
    config.project_id = Some(project_id.clone());
    config.request_timeout = args.options.request_timeout;
    let endpoint = args
        .options
        .endpoint
        .as_ref()
        .or(runbook.target.endpoint.as_ref());
    if let Some(endpoint) = endpoint {
        config.endpoint_override = Some(parse_url(endpoint)?);
    }
    for (service, endpoint) in &runbook.target.endpoints {
        config
            .service_endpoints
            .insert(service.clone(), parse_url(endpoint)?);
    }
    let environment = Environment::system();
    let targets = Arc::new(StepTargets {
        base: config.clone(),
        environment: environment.clone(),
        keys: Keys::Environment(lookup),
    });
    let client = build(config, environment.clone())?;
    let description = match endpoint {
        Some(endpoint) => format!("{endpoint} (region {region}, project {project_id})"),
        None => format!("Huawei Cloud region {region}, project {project_id}"),
    };
    Ok(Connection {
        client,
        environment,
        sandbox: None,
        description,
        project_id,
        secrets,
        targets,
    })
}

async fn sandbox(args: &RunArgs, runbook: &Runbook) -> Result<Connection, String> {
    let scenario =
        crate::sandbox_cmd::load_scenario(args.scenario.as_ref()).map_err(|e| format!("{e:#}"))?;
    let wanted = args
        .options
        .project_id
        .as_ref()
        .or(runbook.target.project_id.as_ref());
    in_process(
        scenario,
        wanted.map(String::as_str),
        args.seed,
        args.real_time,
        args.options.request_timeout,
        0,
    )
    .await
}

/// Starts an in-process sandbox (`runbook run --sandbox`, `runbook test`) and a client acting
/// in project `wanted` (the scenario's first project when `None` or unknown) with that
/// project's first key. The sandbox keeps the first `keep_requests` requests for
/// `RunningSandbox::requests`.
pub async fn in_process(
    scenario: hwc_sandbox::Scenario,
    wanted: Option<&str>,
    seed: u64,
    real_time: bool,
    request_timeout: std::time::Duration,
    keep_requests: usize,
) -> Result<Connection, String> {
    let project = wanted
        .and_then(|id| scenario.projects.iter().find(|p| p.id == id))
        .or_else(|| scenario.projects.first())
        .ok_or("the scenario has no projects")?
        .clone();
    let credentials = scenario_key(&scenario, &project.id)?;
    let secrets = credentials
        .secrets()
        .into_iter()
        .map(str::to_owned)
        .collect();
    let environment = if real_time {
        Environment::system()
    } else {
        Environment::virtual_time(time::OffsetDateTime::now_utc(), seed).0
    };
    let keys = Keys::Scenario(scenario.clone());
    let config = SandboxConfig {
        scenario,
        environment: environment.clone(),
        seed,
        limits: ConnectionLimits::default(),
        keep_requests,
    };
    let loopback = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let running = RunningSandbox::start(config, loopback)
        .await
        .map_err(|error| format!("cannot start the sandbox: {error}"))?;
    let mut config = running.transport_config(credentials, &project.id);
    config.request_timeout = request_timeout;
    let targets = Arc::new(StepTargets {
        base: config.clone(),
        environment: environment.clone(),
        keys,
    });
    let client = build(config, environment.clone())?;
    let clock = if real_time {
        "real time"
    } else {
        "simulated time: waits pass instantly"
    };
    Ok(Connection {
        client,
        environment,
        description: format!(
            "sandbox at {} (project {}, {clock})",
            running.url(),
            project.id
        ),
        sandbox: Some(running),
        project_id: project.id.clone(),
        secrets,
        targets,
    })
}

pub(crate) fn build(config: TransportConfig, environment: Environment) -> Result<Client, String> {
    Transport::builder(config)
        .environment(environment)
        .build()
        .map(Client::new)
        .map_err(|error| format!("cannot set up the client: {error}"))
}

fn parse_url(text: &str) -> Result<url::Url, String> {
    url::Url::parse(text).map_err(|error| format!("`{text}` is not a URL: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: RunArgs,
    }

    fn runbook() -> Runbook {
        let source = runbook_lang::Source::new(
            "t.yaml",
            "version: 1\nname: t\nsteps:\n  - id: a\n    log: hi\n",
        );
        runbook_lang::parse(&source).unwrap()
    }

    #[test]
    fn no_credentials_says_how_to_fix_and_never_falls_back() {
        let args = Wrapper::parse_from(["x", "t.yaml", "--region", "cn-north-4"]).args;
        let error = cloud(&args, &runbook(), Arc::new(|_: &str| None))
            .err()
            .unwrap();
        assert!(error.contains("HUAWEICLOUD_SDK_AK"), "{error}");
        assert!(error.contains("--sandbox"), "{error}");
    }

    #[test]
    fn region_and_project_come_from_flags_target_or_environment() {
        let args = Wrapper::parse_from(["x", "t.yaml"]).args;
        fn env(name: &str) -> Option<String> {
            match name {
                "HUAWEICLOUD_SDK_AK" => Some("AK".to_owned()),
                "HUAWEICLOUD_SDK_SK" => Some("SK".to_owned()),
                _ => None,
            }
        }
        let error = cloud(&args, &runbook(), Arc::new(env)).err().unwrap();
        assert!(error.contains("no region"), "{error}");
        let env_with = |name: &str| match name {
            REGION_ENV => Some("cn-north-4".to_owned()),
            "HUAWEICLOUD_SDK_PROJECT_ID" => Some("0a1b2c3d4e5f60718293a4b5c6d7e8f9".to_owned()),
            other => env(other),
        };
        let connection = cloud(&args, &runbook(), Arc::new(env_with)).ok().unwrap();
        assert!(connection.description.contains("cn-north-4"));
        assert_eq!(connection.secrets, vec!["SK".to_owned()]);
    }
}
