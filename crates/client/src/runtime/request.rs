//! A request being assembled by a generated operation method, and the response it yields.

use http::HeaderMap;
use serde::Serialize;

use super::error::ApiError;
use super::meta::{OperationMeta, ParamLocation};

/// One call of an operation: its parameters by location, and its JSON body.
#[derive(Debug)]
pub struct Request {
    pub(crate) meta: &'static OperationMeta,
    pub(crate) path_params: Vec<(&'static str, String)>,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Option<Vec<u8>>,
}

impl Request {
    pub fn new(meta: &'static OperationMeta) -> Self {
        Self {
            meta,
            path_params: Vec::new(),
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
        }
    }

    pub fn path_param(&mut self, name: &'static str, value: String) {
        self.path_params.push((name, value));
    }

    pub fn query_param(&mut self, name: &str, value: String) {
        self.query.push((name.to_owned(), value));
    }

    pub fn header_param(&mut self, name: &str, value: String) {
        self.headers.push((name.to_owned(), value));
    }

    pub fn json_body<T: Serialize>(&mut self, body: &T) -> Result<(), ApiError> {
        let bytes = serde_json::to_vec(body).map_err(|e| ApiError::InvalidParameter {
            name: "body".to_owned(),
            message: format!("cannot be encoded as JSON: {e}"),
        })?;
        self.body = Some(bytes);
        Ok(())
    }

    pub fn operation(&self) -> &'static OperationMeta {
        self.meta
    }

    /// The path with every placeholder filled and percent-encoded; parameters the client
    /// fills itself come from `client_value`.
    pub(crate) fn render_path(
        &self,
        client_value: impl Fn(&str) -> Option<String>,
    ) -> Result<String, ApiError> {
        let mut path = self.meta.path.to_owned();
        for param in self
            .meta
            .params
            .iter()
            .filter(|p| p.location == ParamLocation::Path)
        {
            let value = match param.client_param {
                Some(key) => client_value(key).ok_or_else(|| {
                    ApiError::Config(format!(
                        "{} needs a {key}: set HUAWEICLOUD_SDK_PROJECT_ID or pass the project id in the client configuration",
                        self.meta.id
                    ))
                })?,
                None => self
                    .path_params
                    .iter()
                    .find(|(name, _)| *name == param.name)
                    .map(|(_, v)| v.clone())
                    .ok_or_else(|| ApiError::InvalidParameter {
                        name: param.field.to_owned(),
                        message: "is required".to_owned(),
                    })?,
            };
            if let Some(problem) = path_segment_problem(&value) {
                return Err(ApiError::InvalidParameter {
                    name: param.field.to_owned(),
                    message: problem.to_owned(),
                });
            }
            path = path.replace(
                &format!("{{{}}}", param.name),
                &hwc_signer::encode_component(&value),
            );
        }
        Ok(path)
    }
}

/// Why a value cannot be one path segment. A `/` is encoded and stays inside its segment,
/// but `.` and `..` are removed by URL normalisation (in proxies, gateways and the server),
/// turning `…/workflow/../executions` into a request for another resource.
pub fn path_segment_problem(value: &str) -> Option<&'static str> {
    match value {
        "" => Some("must not be empty (it is a path segment)"),
        "." | ".." => Some(
            "must not be `.` or `..`: as a path segment it would name another resource once the URL is normalised",
        ),
        _ => None,
    }
}

/// A successful answer: the decoded body plus what the HTTP layer said.
#[derive(Debug, Clone)]
pub struct ApiResponse<T> {
    pub status: u16,
    /// From the `X-Request-Id` header.
    pub request_id: Option<String>,
    pub headers: HeaderMap,
    pub body: T,
    /// How many attempts it took (1 when no retry was needed).
    pub attempts: u32,
}

impl<T> ApiResponse<T> {
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> ApiResponse<U> {
        ApiResponse {
            status: self.status,
            request_id: self.request_id,
            headers: self.headers,
            body: f(self.body),
            attempts: self.attempts,
        }
    }
}
