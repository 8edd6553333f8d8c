//! The generator's intermediate representation: what the emitters need, already validated.
//!
//! Everything OpenAPI allows but the generator does not support is refused while lowering
//! (see [`crate::lower`]), so the emitters never meet a case they cannot handle.

use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub struct Api {
    pub title: String,
    /// The SHA-256 of the spec's text, in hex: what a pinned plan names the spec by.
    pub spec_sha256: String,
    pub services: Vec<Service>,
    pub schemas: BTreeMap<String, Schema>,
    pub operations: Vec<Operation>,
}

/// A service is one endpoint host family, declared in the top-level `servers` with `x-service`.
#[derive(Debug, Clone)]
pub struct Service {
    pub name: String,
    /// For example `https://aom.{region}.myhuaweicloud.com`.
    pub endpoint_template: String,
}

#[derive(Debug, Clone)]
pub struct Schema {
    pub name: String,
    pub description: Option<String>,
    pub kind: SchemaKind,
}

#[derive(Debug, Clone)]
pub enum SchemaKind {
    Object {
        fields: Vec<Field>,
    },
    /// A string enum. Generated enums are open: unknown values deserialize into `Unknown`.
    Enum {
        values: Vec<String>,
    },
}

#[derive(Debug, Clone)]
pub struct Field {
    pub json_name: String,
    pub description: Option<String>,
    pub ty: TypeRef,
    pub required: bool,
    pub constraints: Constraints,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TypeRef {
    String,
    Int32,
    Int64,
    Number,
    Boolean,
    /// Any JSON value: a free-form object (`type: object` without `properties`) or a schema
    /// with no type. Free-form objects are not forced into a map, because the cloud does not
    /// always keep to "object" (AOM answers `"result": "success"` where the docs say object).
    JsonValue,
    Named(String),
    Array(Box<TypeRef>),
}

/// Length, range and pattern limits from the spec; the client checks lengths and ranges before
/// sending, the sandbox checks all of them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Constraints {
    pub min_length: Option<usize>,
    pub max_length: Option<usize>,
    pub pattern: Option<String>,
    pub minimum: Option<f64>,
    pub maximum: Option<f64>,
}

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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamLocation {
    Path,
    Query,
    Header,
}

#[derive(Debug, Clone)]
pub struct Param {
    /// The name on the wire.
    pub name: String,
    pub location: ParamLocation,
    pub required: bool,
    pub description: Option<String>,
    pub ty: TypeRef,
    pub constraints: Constraints,
    /// `x-client-param`: filled by the client from its configuration (e.g. `project_id`), so it
    /// is not part of the operation's parameters.
    pub client_param: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Body {
    pub ty: TypeRef,
    pub required: bool,
    pub description: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub description: String,
    /// `None` when the response has no JSON body.
    pub ty: Option<TypeRef>,
}

#[derive(Debug, Clone)]
pub struct Operation {
    pub id: String,
    pub service: String,
    pub method: HttpMethod,
    pub path: String,
    pub summary: Option<String>,
    pub description: Option<String>,
    pub params: Vec<Param>,
    pub body: Option<Body>,
    /// The one 2xx response.
    pub success: Response,
    /// Documented non-2xx responses, by status.
    pub errors: Vec<Response>,
    pub waiters: Vec<Waiter>,
}

#[derive(Debug, Clone)]
pub struct Waiter {
    pub name: String,
    pub description: Option<String>,
    pub min_delay_secs: u64,
    pub max_delay_secs: u64,
    pub acceptors: Vec<Acceptor>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcceptorState {
    Success,
    Failure,
    Retry,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparator {
    StringEquals,
    AnyStringEquals,
    AllStringEquals,
}

#[derive(Debug, Clone)]
pub struct Acceptor {
    pub state: AcceptorState,
    pub path: String,
    pub comparator: Comparator,
    pub expected: String,
}
