//! The types of the generated catalogue: operations and services described as static data.

use super::waiter::WaiterSpec;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpMethod {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl HttpMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
        }
    }

    /// Whether repeating the request cannot change anything on the server, so it may be
    /// retried after a timeout or a 5xx.
    pub fn is_idempotent_read(self) -> bool {
        matches!(self, Self::Get)
    }
}

/// One endpoint family, e.g. AOM at `https://aom.{region}.myhuaweicloud.com`.
#[derive(Debug)]
pub struct ServiceMeta {
    pub name: &'static str,
    pub endpoint_template: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamLocation {
    Path,
    Query,
    Header,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ParamKind {
    String,
    Integer,
    Number,
    Boolean,
    /// A string with these documented values.
    Enum(&'static [&'static str]),
}

#[derive(Debug)]
pub struct ParamMeta {
    /// The name on the wire.
    pub name: &'static str,
    /// The field name in the operation's `…Params` struct and its JSON form.
    pub field: &'static str,
    pub location: ParamLocation,
    pub required: bool,
    /// Set when the client fills the parameter from its configuration (e.g. `project_id`).
    pub client_param: Option<&'static str>,
    pub kind: ParamKind,
    pub min_length: Option<usize>,
    pub max_length: Option<usize>,
    pub minimum: Option<f64>,
    pub maximum: Option<f64>,
    pub pattern: Option<&'static str>,
}

#[derive(Debug)]
pub struct BodyMeta {
    pub required: bool,
    /// The schema name of the body in `components/schemas`.
    pub type_name: &'static str,
}

#[derive(Debug)]
pub struct OperationMeta {
    pub id: &'static str,
    pub service: &'static ServiceMeta,
    pub method: HttpMethod,
    /// The path template, e.g. `/v1/{project_id}/cms/workflow/{workflow_id}/executions`.
    pub path: &'static str,
    pub summary: &'static str,
    pub params: &'static [ParamMeta],
    pub body: Option<BodyMeta>,
    pub success_status: u16,
    /// Whether the success body is a JSON object in the spec. Serde would also fill a struct
    /// from an array, by position; the transport refuses that instead.
    pub success_is_object: bool,
    /// Whether the success body is a string in the spec. The SDKs take a body that is not
    /// JSON as that string, so the transport does too (AOM's `StopExecution`).
    pub success_is_string: bool,
    /// The JSON names of the success object's fields, as the spec documents them (empty
    /// when the answer is not an object): what a runbook may read of a `call` step's result.
    pub success_fields: &'static [&'static str],
    /// The error statuses the documentation lists.
    pub error_statuses: &'static [u16],
    pub waiters: &'static [&'static WaiterSpec],
}

impl OperationMeta {
    /// A read-only operation changes nothing; the others start or change something.
    pub fn is_read_only(&self) -> bool {
        self.method.is_idempotent_read()
    }
}

/// A string that names no operation of the spec: what parsing a generated catalogue's
/// `OperationId` from text gives for an unknown id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an operation of the spec")]
pub struct UnknownOperation(pub String);
