//! The one place that talks HTTP: endpoints, signing, retries and error decoding.
//!
//! Retry rules, so nothing is started twice: a read (`GET`) is resent after a connection
//! error, a timeout, a broken connection, 429 or 5xx; anything else is resent only when it
//! cannot have reached the server (the connection was never made) or after 429. Each attempt
//! is signed afresh, so `X-Sdk-Date` is always current.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};
use serde::de::DeserializeOwned;
use url::Url;

use super::backoff::full_jitter;
use super::credentials::Credentials;
use super::environment::Environment;
use super::error::{passing_server_failure, ApiError, HttpError, ServiceError, TransportErrorKind};
use super::meta::{HttpMethod, OperationMeta, ServiceMeta};
use super::request::{ApiResponse, Request};

const MAX_BODY_IN_ERRORS: usize = 2048;

#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; 1 disables retries.
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
        }
    }
}

/// Where and as whom to send requests.
#[derive(Debug, Clone)]
pub struct TransportConfig {
    /// The region id, e.g. `cn-north-4`; it fills `{region}` in endpoint templates.
    pub region: String,
    /// Fills `{project_id}` in paths and is sent as `X-Project-Id`.
    pub project_id: Option<String>,
    pub credentials: Credentials,
    /// Replaces every service's endpoint (a sandbox, a proxy).
    pub endpoint_override: Option<Url>,
    /// Replaces one service's endpoint, by service name (`aom`, `functiongraph`).
    pub service_endpoints: BTreeMap<String, Url>,
    pub connect_timeout: Duration,
    /// Limit for one attempt, answer included.
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
    /// Requests on the wire at once; more wait their turn, in order. A thousand-item fan-out
    /// then holds this many connections (and their buffers), not a thousand, and the API
    /// sees a bounded burst.
    pub max_in_flight: usize,
}

impl TransportConfig {
    pub fn new(region: impl Into<String>, credentials: Credentials) -> Self {
        Self {
            region: region.into(),
            project_id: None,
            credentials,
            endpoint_override: None,
            service_endpoints: BTreeMap::new(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
        }
    }
}

/// See [`TransportConfig::max_in_flight`].
pub const DEFAULT_MAX_IN_FLIGHT: usize = 64;

/// What happened to one attempt, for observers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    Status(u16),
    Failed(TransportErrorKind),
}

/// One attempt of one request, as middleware sees it. It holds no header, so no secret.
#[derive(Debug, Clone)]
pub struct AttemptEvent<'a> {
    pub operation: &'static str,
    pub method: HttpMethod,
    pub url: &'a str,
    pub attempt: u32,
    pub outcome: AttemptOutcome,
    /// Set when the request will be sent again after this delay.
    pub retry_in: Option<Duration>,
}

/// A hook into every request: add headers before signing, observe each attempt.
pub trait Middleware: Send + Sync + fmt::Debug {
    /// Headers added here are signed with the rest.
    fn before_sign(
        &self,
        _operation: &'static OperationMeta,
        _headers: &mut Vec<(String, String)>,
    ) {
    }
    fn on_attempt(&self, _event: &AttemptEvent<'_>) {}
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    config: TransportConfig,
    environment: Environment,
    middleware: Vec<Arc<dyn Middleware>>,
    in_flight: tokio::sync::Semaphore,
    /// The URL built last: a wait reads one URL over and over, and building it parses the
    /// endpoint and the path each time.
    last_url: Mutex<Option<BuiltUrl>>,
}

#[derive(Debug)]
struct BuiltUrl {
    service: &'static str,
    path: String,
    query: String,
    url: Url,
}

/// Limits a caller puts on one call, as instants on the environment clock's `elapsed()`.
///
/// A deadline bounds everything under it: no retry starts and no backoff sleeps past
/// `retries_until`, and every attempt is cut at `answer_by`. Waiting on the network takes real
/// time even under virtual time, so an attempt's cut is the remaining budget in real time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallLimits {
    /// No attempt after the first starts at or after this instant.
    pub retries_until: Duration,
    /// An attempt still waiting for its answer at this instant is given up.
    pub answer_by: Duration,
}

/// A pooled, signing, retrying HTTP transport; cheap to clone.
#[derive(Debug, Clone)]
pub struct Transport {
    inner: Arc<Inner>,
    limits: Option<CallLimits>,
}

pub struct TransportBuilder {
    config: TransportConfig,
    environment: Option<Environment>,
    middleware: Vec<Arc<dyn Middleware>>,
}

impl TransportBuilder {
    /// Replaces the real clock, sleep and randomness (tests use virtual time).
    pub fn environment(mut self, environment: Environment) -> Self {
        self.environment = Some(environment);
        self
    }

    pub fn middleware(mut self, middleware: Arc<dyn Middleware>) -> Self {
        self.middleware.push(middleware);
        self
    }

    pub fn build(self) -> Result<Transport, ApiError> {
        let region = &self.config.region;
        if region.is_empty()
            || !region
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(ApiError::Config(format!(
                "region `{region}` is not a region id like `cn-north-4`"
            )));
        }
        if self.config.retry.max_attempts == 0 {
            return Err(ApiError::Config(
                "retry.max_attempts must be at least 1".to_owned(),
            ));
        }
        if self.config.max_in_flight == 0 {
            return Err(ApiError::Config(
                "max_in_flight must be at least 1".to_owned(),
            ));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(self.config.connect_timeout)
            .user_agent(concat!("hwc-client/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ApiError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Transport {
            inner: Arc::new(Inner {
                http,
                environment: self.environment.unwrap_or_else(Environment::system),
                middleware: self.middleware,
                in_flight: tokio::sync::Semaphore::new(self.config.max_in_flight),
                last_url: Mutex::new(None),
                config: self.config,
            }),
            limits: None,
        })
    }
}

impl Transport {
    pub fn builder(config: TransportConfig) -> TransportBuilder {
        TransportBuilder {
            config,
            environment: None,
            middleware: Vec::new(),
        }
    }

    pub fn config(&self) -> &TransportConfig {
        &self.inner.config
    }

    /// The same transport (same pool, credentials and environment) with `limits` on every
    /// call made through it.
    pub fn limited(&self, limits: CallLimits) -> Transport {
        Transport {
            inner: Arc::clone(&self.inner),
            limits: Some(limits),
        }
    }

    /// How long the next attempt may wait for its answer: the configured request timeout,
    /// or less when the caller's `answer_by` comes sooner (then `true`).
    fn attempt_budget(&self) -> (Duration, bool) {
        let timeout = self.inner.config.request_timeout;
        match self.limits {
            Some(limits) => {
                let left = limits
                    .answer_by
                    .saturating_sub(self.inner.environment.clock.elapsed());
                if left < timeout {
                    (left, true)
                } else {
                    (timeout, false)
                }
            }
            None => (timeout, false),
        }
    }

    /// Whether a retry after `delay` would still start before the caller's deadline.
    fn retry_fits(&self, delay: Duration) -> bool {
        self.limits.is_none_or(|limits| {
            self.inner.environment.clock.elapsed().saturating_add(delay) < limits.retries_until
        })
    }

    pub fn environment(&self) -> &Environment {
        &self.inner.environment
    }

    /// The base URL of a service: its override, the global override, or its template with
    /// the region filled in.
    pub fn endpoint(&self, service: &ServiceMeta) -> Result<Url, ApiError> {
        let config = &self.inner.config;
        if let Some(url) = config
            .service_endpoints
            .get(service.name)
            .or(config.endpoint_override.as_ref())
        {
            return Ok(url.clone());
        }
        let url = service
            .endpoint_template
            .replace("{region}", &config.region);
        Url::parse(&url).map_err(|e| {
            ApiError::Config(format!(
                "endpoint `{url}` of service {} is not a URL: {e}",
                service.name
            ))
        })
    }

    /// The URL of `path` and `query` at `service`'s endpoint; the same as the last one is not
    /// built again.
    fn url(&self, service: &ServiceMeta, path: String, query: String) -> Result<Url, ApiError> {
        let mut last = self
            .inner
            .last_url
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(built) = last.as_ref() {
            if built.service == service.name && built.path == path && built.query == query {
                return Ok(built.url.clone());
            }
        }
        let mut url = self.endpoint(service)?;
        let full_path = format!("{}{}", url.path().trim_end_matches('/'), path);
        url.set_path(&full_path);
        url.set_query((!query.is_empty()).then_some(query.as_str()));
        *last = Some(BuiltUrl {
            service: service.name,
            path,
            query,
            url: url.clone(),
        });
        Ok(url)
    }

    /// Sends a request, retrying what is safe to retry, and decodes the 2xx body as `T`.
    pub async fn send<T: DeserializeOwned>(
        &self,
        request: Request,
    ) -> Result<ApiResponse<T>, ApiError> {
        let op = request.meta;
        let config = &self.inner.config;
        let path = request.render_path(|key| match key {
            "project_id" => config.project_id.clone(),
            _ => None,
        })?;
        let query = hwc_signer::canonical_query(&request.query);
        let url = self.url(op.service, path, query)?;
        let body = request.body.clone().unwrap_or_default();

        let mut attempt = 0;
        loop {
            attempt += 1;
            let (budget, cut_by_caller) = self.attempt_budget();
            let http_request = self.prepare(&request, &url, &body, budget)?;
            let outcome = self
                .attempt(http_request)
                .await
                .map_err(|(kind, message, id)| {
                    if cut_by_caller && kind == TransportErrorKind::Timeout {
                        let waited = budget.as_millis();
                        let message =
                            format!("no answer before the caller's deadline ({waited} ms)");
                        (kind, message, id)
                    } else {
                        (kind, message, id)
                    }
                });
            let (retryable, retry_after, event_outcome) = match &outcome {
                Ok((status, headers, _)) => (
                    *status == 429
                        || (passing_server_failure(*status) && op.method.is_idempotent_read()),
                    retry_after(headers),
                    AttemptOutcome::Status(*status),
                ),
                Err((kind, _, _)) => (
                    *kind == TransportErrorKind::Connect || op.method.is_idempotent_read(),
                    None,
                    AttemptOutcome::Failed(*kind),
                ),
            };
            let success = matches!(&outcome, Ok((status, _, _)) if (200..300).contains(status));
            let retry_in = (!success && retryable && attempt < config.retry.max_attempts)
                .then(|| {
                    let jitter = full_jitter(
                        config.retry.base_delay,
                        config.retry.max_delay,
                        attempt,
                        self.inner.environment.random.as_ref(),
                    );
                    retry_after.map_or(jitter, |after| {
                        jitter.max(after.min(config.retry.max_delay))
                    })
                })
                .filter(|delay| self.retry_fits(*delay));
            let event = AttemptEvent {
                operation: op.id,
                method: op.method,
                url: url.as_str(),
                attempt,
                outcome: event_outcome,
                retry_in,
            };
            for middleware in &self.inner.middleware {
                middleware.on_attempt(&event);
            }
            if let Some(delay) = retry_in {
                self.inner.environment.sleep(delay).await;
                continue;
            }
            return match outcome {
                Ok((status, headers, bytes)) if success => {
                    decode(op, status, headers, &bytes, attempt)
                }
                Ok((status, headers, bytes)) => {
                    Err(http_error(op.id, status, &headers, &bytes, attempt))
                }
                Err((kind, message, request_id)) => Err(ApiError::Transport {
                    operation: op.id,
                    kind,
                    message,
                    attempts: attempt,
                    request_id,
                }),
            };
        }
    }

    /// Builds one signed attempt.
    fn prepare(
        &self,
        request: &Request,
        url: &Url,
        body: &[u8],
        timeout: Duration,
    ) -> Result<reqwest::Request, ApiError> {
        let config = &self.inner.config;
        let op = request.meta;
        let mut headers: Vec<(String, String)> = request.headers.clone();
        let host = match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            (None, _) => return Err(ApiError::Config(format!("endpoint `{url}` has no host"))),
        };
        headers.push(("Host".to_owned(), host));
        if request.body.is_some() {
            headers.push(("Content-Type".to_owned(), "application/json".to_owned()));
        }
        if let Some(project_id) = &config.project_id {
            headers.push(("X-Project-Id".to_owned(), project_id.clone()));
        }
        for middleware in &self.inner.middleware {
            middleware.before_sign(op, &mut headers);
        }
        match &config.credentials {
            Credentials::AkSk {
                ak,
                sk,
                security_token,
            } => {
                if let Some(token) = security_token {
                    headers.push(("X-Security-Token".to_owned(), token.expose().to_owned()));
                }
                let date = hwc_signer::format_sdk_date(self.inner.environment.clock.now_utc());
                headers.push((hwc_signer::DATE_HEADER.to_owned(), date));
                let parts = hwc_signer::RequestParts {
                    method: op.method.as_str(),
                    path: url.path(),
                    query: &request.query,
                    headers: &headers,
                    body,
                };
                let authorization = hwc_signer::sign(&parts, ak, sk.expose()).authorization;
                headers.push(("Authorization".to_owned(), authorization));
            }
            Credentials::Token(token) => {
                headers.push(("X-Auth-Token".to_owned(), token.expose().to_owned()));
            }
        }
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            let header_name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                ApiError::InvalidParameter {
                    name: name.clone(),
                    message: "is not a valid HTTP header name".to_owned(),
                }
            })?;
            let header_value = HeaderValue::from_bytes(value.as_bytes()).map_err(|_| ApiError::InvalidParameter {
                name: name.clone(),
                message: "contains characters an HTTP header cannot carry (control characters or line breaks)".to_owned(),
            })?;
            map.insert(header_name, header_value);
        }
        let method = match op.method {
            HttpMethod::Get => reqwest::Method::GET,
            HttpMethod::Post => reqwest::Method::POST,
            HttpMethod::Put => reqwest::Method::PUT,
            HttpMethod::Patch => reqwest::Method::PATCH,
            HttpMethod::Delete => reqwest::Method::DELETE,
        };
        let mut builder = self
            .inner
            .http
            .request(method, url.clone())
            .headers(map)
            .timeout(timeout);
        if request.body.is_some() {
            builder = builder.body(body.to_vec());
        }
        builder
            .build()
            .map_err(|e| ApiError::Config(format!("cannot build the request to {url}: {e}")))
    }

    /// One attempt. A failure keeps the request id when the answer's headers arrived before
    /// the connection broke: the request reached the service, and support can trace it.
    async fn attempt(
        &self,
        request: reqwest::Request,
    ) -> Result<(u16, HeaderMap, Vec<u8>), (TransportErrorKind, String, Option<String>)> {
        // Virtual time holds still until the answer's body is read (or the attempt is dropped):
        // the service acts meanwhile, and a retry's backoff sleep comes after this attempt.
        let _on_the_wire = self.inner.environment.in_flight();
        // Never closed, so acquiring only waits; the turn is held until the body is read.
        let _turn = self.inner.in_flight.acquire().await.map_err(|_| {
            let message = "the transport was shut down".to_owned();
            (TransportErrorKind::Other, message, None)
        })?;
        let response = self.inner.http.execute(request).await.map_err(|e| {
            let (kind, message) = classify(e);
            (kind, message, None)
        })?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.map_err(|e| {
            let (kind, message) = classify(e);
            (kind, message, request_id(&headers))
        })?;
        Ok((status, headers, bytes.to_vec()))
    }
}

fn classify(error: reqwest::Error) -> (TransportErrorKind, String) {
    let kind = if error.is_connect() {
        TransportErrorKind::Connect
    } else if error.is_timeout() {
        TransportErrorKind::Timeout
    } else {
        TransportErrorKind::Other
    };
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    (kind, message)
}

fn request_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

fn truncated_text(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    match text.char_indices().nth(MAX_BODY_IN_ERRORS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.into_owned(),
    }
}

fn decode<T: DeserializeOwned>(
    op: &'static OperationMeta,
    status: u16,
    headers: HeaderMap,
    bytes: &[u8],
    attempts: u32,
) -> Result<ApiResponse<T>, ApiError> {
    if let Some(body) = read_directly(op, bytes) {
        return Ok(ApiResponse {
            status,
            request_id: request_id(&headers),
            headers,
            body,
            attempts,
        });
    }
    let value: Result<serde_json::Value, String> = if bytes.iter().all(u8::is_ascii_whitespace) {
        Ok(serde_json::Value::Null)
    } else {
        serde_json::from_slice(bytes).or_else(|e| match std::str::from_utf8(bytes) {
            Ok(text) if op.success_is_string => Ok(serde_json::Value::String(text.to_owned())),
            _ => Err(e.to_string()),
        })
    };
    let parsed = value.and_then(|value| {
        if op.success_is_object && !value.is_object() {
            return Err("expected a JSON object".to_owned());
        }
        serde_json::from_value(value).map_err(|e| e.to_string())
    });
    let operation = op.id;
    match parsed {
        Ok(body) => Ok(ApiResponse {
            status,
            request_id: request_id(&headers),
            headers,
            body,
            attempts,
        }),
        Err(e) => Err(ApiError::Decode {
            operation,
            status,
            request_id: request_id(&headers),
            message: e,
            body: truncated_text(bytes),
        }),
    }
}

/// The usual answer, read straight into `T`: through a `serde_json::Value` first, reading a
/// status cost a third more than parsing it. `None` for an answer that is not the usual kind
/// (empty, not an object where one is due, plain text, a repeated field): `decode` then reads
/// it as before, through a `Value`, and says what is wrong with it.
fn read_directly<T: DeserializeOwned>(op: &OperationMeta, bytes: &[u8]) -> Option<T> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace())?;
    if op.success_is_object && *first != b'{' {
        return None;
    }
    serde_json::from_slice(bytes).ok()
}

fn http_error(
    operation: &'static str,
    status: u16,
    headers: &HeaderMap,
    bytes: &[u8],
    attempts: u32,
) -> ApiError {
    let service = ServiceError::parse(bytes);
    let raw_body = (service.is_none() && !bytes.is_empty()).then(|| truncated_text(bytes));
    ApiError::Http(Box::new(HttpError {
        operation,
        status,
        service,
        request_id: request_id(headers),
        raw_body,
        attempts,
        retry_after: retry_after(headers).map(|d| d.as_secs()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::{AOM_SERVICE, EXECUTE_WORKFLOW, FUNCTIONGRAPH_SERVICE};
    use crate::models::ExecuteWorkflowResponse;

    #[test]
    fn a_url_is_built_again_whenever_its_service_path_or_query_differs_from_the_last() {
        let credentials = Credentials::Token(crate::runtime::Secret::new("token"));
        let transport = Transport::builder(TransportConfig::new("cn-north-4", credentials))
            .build()
            .unwrap();
        let url = |service, path: &str, query: &str| {
            transport
                .url(service, path.to_owned(), query.to_owned())
                .unwrap()
                .to_string()
        };
        let aom = "https://aom.cn-north-4.myhuaweicloud.com";
        let fg = "https://functiongraph.cn-north-4.myhuaweicloud.com";
        for _ in 0..2 {
            assert_eq!(url(&AOM_SERVICE, "/v1/a", ""), format!("{aom}/v1/a"));
            assert_eq!(url(&AOM_SERVICE, "/v1/a", ""), format!("{aom}/v1/a"));
            assert_eq!(url(&AOM_SERVICE, "/v1/a", "x=1"), format!("{aom}/v1/a?x=1"));
            assert_eq!(url(&AOM_SERVICE, "/v1/a", ""), format!("{aom}/v1/a"));
            assert_eq!(
                url(&FUNCTIONGRAPH_SERVICE, "/v1/a", ""),
                format!("{fg}/v1/a")
            );
            assert_eq!(url(&AOM_SERVICE, "/v1/b", ""), format!("{aom}/v1/b"));
        }
    }

    #[test]
    fn the_usual_answer_is_read_straight_into_the_model_and_any_other_is_not() {
        let read = |body: &str| {
            read_directly::<ExecuteWorkflowResponse>(&EXECUTE_WORKFLOW, body.as_bytes())
        };
        assert_eq!(
            read(r#" {"execution_id": "exec-1"}"#).and_then(|r| r.execution_id),
            Some("exec-1".to_owned())
        );
        // `decode` reads these through a `Value`, and says what is wrong with them.
        for unusual in ["", "  \n", "[]", r#"["exec-1"]"#, "not json"] {
            assert!(read(unusual).is_none(), "{unusual:?}");
        }
        assert!(read(r#"{"execution_id": "a", "execution_id": "b"}"#).is_none());
    }
}
