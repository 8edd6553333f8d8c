//! A typed async client for Huawei Cloud's workflow APIs: AOM automation workflows and
//! FunctionGraph workflows.
//!
//! The operations, models, waiters and catalogue under [`generated`] come from
//! `spec/workflows.openapi.yaml` through `cargo xtask codegen`; [`runtime`] is the small
//! hand-written part they call (signing, retries, errors, time).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use hwc_client::{Client, Credentials, Transport, TransportConfig};
//! use hwc_client::operations::ExecuteWorkflowParams;
//!
//! let mut config = TransportConfig::new("cn-north-4", Credentials::from_env()?);
//! config.project_id = Some("0123456789abcdef0123456789abcdef".into());
//! let client = Client::new(Transport::builder(config).build()?);
//! let started = client
//!     .execute_workflow(&ExecuteWorkflowParams { workflow_id: "wf-1".into() })
//!     .await?;
//! println!("{:?}", started.body.execution_id);
//! # Ok(()) }
//! ```

// Formatted by the generator (prettyplease), so `cargo fmt` keeps out and `--check` stays exact.
#[rustfmt::skip]
pub mod generated;
pub mod runtime;

pub use generated::{catalogue, models, operations, waiters, Client};
pub use runtime::{
    ApiError, ApiResponse, Credentials, Environment, Transport, TransportConfig, WaiterError,
};
