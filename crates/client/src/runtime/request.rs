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
        let mut values: Vec<(&str, String)> = Vec::new();
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
            values.push((param.name, hwc_signer::encode_component(&value)));
        }
        Ok(fill_template(self.meta.path, &values))
    }
}

/// `template` with each `{name}` that `values` names replaced by its value, in one pass (a
/// value is never searched for placeholders itself); any other braces are kept as they are.
fn fill_template(template: &str, values: &[(&str, String)]) -> String {
    let filled = values.iter().map(|(_, value)| value.len()).sum::<usize>();
    let mut out = String::with_capacity(template.len() + filled);
    let mut rest = template;
    while let Some((before, after)) = rest.split_once('{') {
        out.push_str(before);
        let Some((name, tail)) = after.split_once('}') else {
            out.push('{');
            rest = after;
            break;
        };
        match values.iter().find(|(key, _)| *key == name) {
            Some((_, value)) => out.push_str(value),
            None => {
                out.push('{');
                out.push_str(name);
                out.push('}');
            }
        }
        rest = tail;
    }
    out.push_str(rest);
    out
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

#[cfg(test)]
mod tests {
    use super::fill_template;

    #[test]
    fn a_template_is_filled_in_one_pass() {
        let values = [
            ("project_id", "p1".to_owned()),
            ("workflow_id", "%7Bproject_id%7D{project_id}".to_owned()),
        ];
        assert_eq!(
            fill_template(
                "/v1/{project_id}/cms/workflow/{workflow_id}/{project_id}",
                &values
            ),
            "/v1/p1/cms/workflow/%7Bproject_id%7D{project_id}/p1",
            "every placeholder is filled, and a value is not searched again"
        );
        assert_eq!(fill_template("/a/{other}/b", &values), "/a/{other}/b");
        assert_eq!(fill_template("/a/{project_id", &values), "/a/{project_id");
        assert_eq!(fill_template("", &values), "");
        assert_eq!(fill_template("{project_id}", &values), "p1");
    }
}
