//! A local emulator of Huawei Cloud's AOM and FunctionGraph workflow endpoints: the same
//! paths, parameters, auth, error bodies and state machines, so a runbook (or an official SDK)
//! that works against it works against the cloud.
//!
//! Routing and parameter checks come from the generated client's catalogue, so the sandbox
//! follows the spec; the models it parses bodies with are the generated ones.

mod aom;
mod connections;
mod functiongraph;
mod ids;
mod inspect;
pub mod limits;
pub mod scenario;
pub mod script;
mod server;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use hwc_client::runtime::Credentials;
use hwc_client::Environment;
use hwc_client::TransportConfig;
pub use inspect::most_running_at_once;
pub use limits::ConnectionLimits;
pub use scenario::{Scenario, ScenarioError, DEFAULT_SCENARIO};
pub use server::{LoggedRequest, MAX_LOGGED_REQUESTS};
use tokio::sync::oneshot;

/// How to run a sandbox.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    pub scenario: Scenario,
    /// The clock durations and `X-Sdk-Date` checks run on, and what a synchronous run sleeps
    /// on; tests pass virtual time, shared with the client's.
    pub environment: Environment,
    /// Makes ids (and, later, faults) deterministic.
    pub seed: u64,
    /// What a slow or stalled client may cost; `ConnectionLimits::default()` everywhere but in
    /// tests of the limits themselves.
    pub limits: ConnectionLimits,
    /// How many requests [`RunningSandbox::requests`] keeps, the first ones in order (at most
    /// [`MAX_LOGGED_REQUESTS`]; 0 keeps none, and costs nothing per request).
    pub keep_requests: usize,
}

/// A sandbox serving on a loopback port until dropped or shut down.
#[derive(Debug)]
pub struct RunningSandbox {
    pub addr: SocketAddr,
    shared: Arc<server::Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningSandbox {
    /// Binds `listen` (use port 0 for an ephemeral port) and serves in the background.
    pub async fn start(config: SandboxConfig, listen: SocketAddr) -> std::io::Result<Self> {
        let shared = Arc::new(server::Shared {
            scenario: config.scenario,
            environment: config.environment,
            seed: config.seed,
            body_timeout: config.limits.body_timeout,
            keep_requests: config.keep_requests.min(MAX_LOGGED_REQUESTS),
            world: Mutex::new(server::World::default()),
        });
        let app = axum::Router::new()
            .fallback(server::handle)
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(connections::serve(listener, app, config.limits, async {
            // Dropping the sandbox stops it as well.
            let _ = stopped.await;
        }));
        Ok(Self {
            addr,
            shared,
            stop: Some(stop),
            task,
        })
    }

    /// The base URL clients point their endpoint at.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A client configuration pointed at this sandbox, acting as `credentials` in `project_id`.
    pub fn transport_config(&self, credentials: Credentials, project_id: &str) -> TransportConfig {
        let mut config = TransportConfig::new("cn-north-4", credentials);
        config.project_id = Some(project_id.to_owned());
        // `url()` is `http://` plus a socket address, which always parses.
        config.endpoint_override = url::Url::parse(&self.url()).ok();
        config
    }

    /// Requests received per operation id.
    pub fn request_counts(&self) -> std::collections::BTreeMap<String, u64> {
        self.shared.world().requests.clone()
    }

    /// The requests received, in order (the first `SandboxConfig::keep_requests` of them).
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.shared.world().log.clone()
    }

    /// Every execution as its status operation would report it now.
    pub fn executions(&self) -> serde_json::Value {
        inspect::executions(&self.shared)
    }

    /// Stops accepting connections, closes idle ones and those still sending headers, and
    /// waits for the requests in progress (a body still arriving, for its timeout at most).
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match (&mut self.task).await {
            Ok(result) => result,
            Err(join) => Err(std::io::Error::other(join)),
        }
    }
}
