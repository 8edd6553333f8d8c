//! The HTTP face of the sandbox: routing from the spec's catalogue, authentication, parameter
//! validation from the catalogue's limits, and the service-shaped error bodies.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{Request, Response, StatusCode};
use hwc_client::catalogue::OperationId;
use hwc_client::runtime::{OperationMeta, ParamKind, ParamLocation};
use hwc_client::Environment;
use serde_json::{json, Value};

use crate::aom::AomExecution;
use crate::functiongraph::{self, CallbackRefused, FgExecution, Launch};
use crate::limits::MAX_BODY_BYTES;
use crate::scenario::{FgWorkflowKind, Scenario};

/// The most requests a sandbox keeps in its log: a test's are far fewer, and a long-running
/// sandbox must not grow without bound.
pub const MAX_LOGGED_REQUESTS: usize = 100_000;

/// One request as a test checks it: its operation and its parameters in the shape of the
/// operation's `…Params` (what a runbook's `call` step writes), the client's own (the project)
/// left out.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedRequest {
    pub operation: &'static str,
    pub params: Value,
}

impl LoggedRequest {
    fn of(op: &OperationMeta, path: &BTreeMap<String, String>, incoming: &Incoming) -> Self {
        let mut params = serde_json::Map::new();
        for param in op.params.iter().filter(|p| p.client_param.is_none()) {
            let text = match param.location {
                ParamLocation::Path => path.get(param.name).map(String::as_str),
                ParamLocation::Query => incoming.query_value(param.name),
                ParamLocation::Header => incoming.header(param.name),
            };
            let Some(text) = text else { continue };
            let value = match param.kind {
                ParamKind::Integer | ParamKind::Number | ParamKind::Boolean => {
                    serde_json::from_str(text).unwrap_or_else(|_| json!(text))
                }
                ParamKind::String | ParamKind::Enum(_) => json!(text),
            };
            params.insert(param.field.to_owned(), value);
        }
        if op.body.is_some() {
            if let Ok(body) = serde_json::from_slice::<Value>(&incoming.body) {
                params.insert("body".to_owned(), body);
            }
        }
        Self {
            operation: op.id,
            params: Value::Object(params),
        }
    }
}

/// The gateway refuses requests signed more than this far from its clock.
pub const MAX_CLOCK_SKEW_SECS: i64 = 15 * 60;
pub const ADMIN_PREFIX: &str = "/__sandbox/";

/// Everything the sandbox knows, behind one lock.
#[derive(Debug, Default)]
pub struct World {
    pub aom: BTreeMap<String, AomExecution>,
    pub fg: BTreeMap<String, FgExecution>,
    /// Requests per operation id, authenticated or not.
    pub requests: BTreeMap<String, u64>,
    /// The first `Shared::keep_requests` requests, in the order they arrived.
    pub log: Vec<LoggedRequest>,
    next_id: u64,
    /// Draws faults; seeded, so a run with the same seed and requests fails the same way.
    fault_dice: Option<fastrand::Rng>,
}

#[derive(Debug)]
pub struct Shared {
    pub scenario: Scenario,
    pub environment: Environment,
    pub seed: u64,
    /// How long a request body may take to arrive (`ConnectionLimits::body_timeout`).
    pub body_timeout: std::time::Duration,
    /// `SandboxConfig::keep_requests`.
    pub keep_requests: usize,
    pub world: Mutex<World>,
}

impl Shared {
    pub fn world(&self) -> std::sync::MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The sandbox clock's now, in the milliseconds AOM reports times in.
    pub(crate) fn now_ms(&self) -> i64 {
        (self.environment.clock.now_utc().unix_timestamp_nanos() / 1_000_000) as i64
    }
}

/// A scripted entry as the fault it is (a broken connection, the sandbox's own 429 or 500),
/// or the answer it scripts.
fn scripted_answer(
    scripted: &crate::script::Scripted,
    dialect: Dialect,
) -> Result<Injected, (u16, Value)> {
    use crate::script::ScriptedFault;
    match (scripted.fault, scripted.status(), &scripted.body) {
        (Some(ScriptedFault::Drop), _, _) => Ok(Injected::Drop),
        (Some(ScriptedFault::ApplyThenDrop), _, _) => Ok(Injected::ApplyThenDrop),
        (None, 429, None) => Ok(Injected::Throttle(scripted.retry_after_secs.unwrap_or(1))),
        (None, 500, None) => Ok(Injected::Error500),
        (None, status, Some(body)) => Err((status, body.clone())),
        // An operation that answers no JSON (the check allows no body only there).
        (None, status @ 200..=299, None) => Err((status, Value::Null)),
        (None, status, None) => {
            let mut failure = dialect.bad_request("the request was refused");
            failure.status = status;
            Err((status, dialect.body(&failure)))
        }
    }
}

/// What a fault roll decided for one request.
enum Injected {
    Error500,
    Throttle(u64),
    Drop,
    ApplyThenDrop,
}

impl World {
    fn roll_fault(&mut self, seed: u64, fault: &crate::scenario::Fault) -> Option<Injected> {
        let roll = self
            .fault_dice
            .get_or_insert_with(|| fastrand::Rng::with_seed(seed))
            .f64();
        let mut edge = fault.drop;
        if roll < edge {
            return Some(Injected::Drop);
        }
        edge += fault.apply_then_drop;
        if roll < edge {
            return Some(Injected::ApplyThenDrop);
        }
        edge += fault.error_500;
        if roll < edge {
            return Some(Injected::Error500);
        }
        edge += fault.throttle_429;
        (roll < edge).then_some(Injected::Throttle(fault.retry_after_secs))
    }

    /// A request id as the API gateway writes them: 32 hex digits with nothing readable in
    /// them (an execution id's counter shows; a request id's does not), deterministic from
    /// the seed.
    fn fresh_request_id(&mut self, seed: u64) -> String {
        self.next_id += 1;
        crate::ids::hex128(seed ^ self.next_id.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    /// A fresh id shaped like a UUID, deterministic from the seed.
    fn fresh_id(&mut self, seed: u64) -> String {
        self.next_id += 1;
        let mixed = seed.rotate_left(17) ^ self.next_id.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            (mixed >> 32) as u32,
            (mixed >> 16) as u16,
            (mixed >> 4) & 0xfff,
            self.next_id & 0xfff,
            self.next_id
        )
    }
}

/// The order `World::fresh_id` made an id in: its last group is the world's counter. Lists
/// sort by it, so executions that began in the same millisecond still come newest first.
pub(crate) fn creation_order(id: &str) -> u64 {
    id.rsplit('-')
        .next()
        .and_then(|counter| u64::from_str_radix(counter, 16).ok())
        .unwrap_or(0)
}

/// Which error body a service speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Aom,
    FunctionGraph,
}

struct Failure {
    status: u16,
    code: &'static str,
    message: String,
}

fn fail(status: u16, code: &'static str, message: impl Into<String>) -> Failure {
    Failure {
        status,
        code,
        message: message.into(),
    }
}

impl Dialect {
    fn of(op: &OperationMeta) -> Self {
        if op.service.name == "aom" {
            Self::Aom
        } else {
            Self::FunctionGraph
        }
    }

    fn bad_request(self, message: impl Into<String>) -> Failure {
        match self {
            Self::Aom => fail(400, "AOM.31001403", message),
            Self::FunctionGraph => fail(400, "FGS.3002", message),
        }
    }

    fn unauthorized(self, why: &str) -> Failure {
        match self {
            // The AOM body is fixed by the docs; the reason goes to the sandbox log only.
            Self::Aom => fail(401, "AOM.31009004", "auth failed."),
            Self::FunctionGraph => fail(
                401,
                "APIGW.0301",
                format!("Incorrect IAM authentication information: {why}"),
            ),
        }
    }

    fn body(self, failure: &Failure) -> Value {
        match self {
            Self::Aom => {
                json!({"error_code": failure.code, "error_msg": failure.message, "http_code": failure.status})
            }
            Self::FunctionGraph => {
                json!({"error_code": failure.code, "error_msg": failure.message})
            }
        }
    }
}

/// One incoming request, parsed enough to route, authenticate and validate it.
struct Incoming {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Incoming {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn query_value(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

/// A JSON answer; `Value::Null` stands for an operation documented with no body, and sends none.
/// An error of the API gateway (`APIGW.*`: routing, throttling, authentication, a body it
/// refuses) names the request in its body too, as the gateway does.
fn json_response(status: u16, request_id: &str, body: &Value) -> Response<Body> {
    let from_gateway = body["error_code"]
        .as_str()
        .is_some_and(|code| code.starts_with("APIGW."));
    let body = if body.is_null() {
        Body::empty()
    } else if from_gateway && body.get("request_id").is_none() {
        let mut body = body.clone();
        body["request_id"] = Value::from(request_id);
        Body::from(body.to_string())
    } else {
        Body::from(body.to_string())
    };
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("Content-Type", "application/json;charset=UTF-8")
        .header("X-Request-Id", request_id)
        .body(body)
        .unwrap_or_default()
}

/// A response that breaks after the status line, the headers and the first bytes of the body:
/// the client sees the connection break mid-answer. (A body that fails before its first chunk
/// would close the connection before the headers are flushed, so the break waits a moment.)
fn broken_response(request_id: &str) -> Response<Body> {
    use futures_util::StreamExt;
    let first_bytes = futures_util::stream::once(async { Ok(b"{\"".to_vec()) });
    let break_off = futures_util::stream::once(async {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        Err::<Vec<u8>, std::io::Error>(std::io::Error::other("sandbox fault: connection dropped"))
    });
    let broken = first_bytes.chain(break_off);
    Response::builder()
        .status(StatusCode::OK)
        .header("X-Request-Id", request_id)
        .body(Body::from_stream(broken))
        .unwrap_or_default()
}

/// Matches a request path against a catalogue path template, returning the decoded
/// placeholders.
fn match_path(template: &str, path: &str) -> Option<BTreeMap<String, String>> {
    // A trailing `/` is another path, which the gateway does not route.
    let template: Vec<&str> = template.split('/').collect();
    let actual: Vec<&str> = path.split('/').collect();
    if template.len() != actual.len() {
        return None;
    }
    let mut values = BTreeMap::new();
    for (t, a) in template.iter().zip(&actual) {
        match t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
            Some(name) => {
                values.insert(name.to_owned(), decode(a));
            }
            None if t == a => {}
            None => return None,
        }
    }
    Some(values)
}

/// The operation a request is for, and its path's placeholders. Routing yields the
/// `OperationId`, not just the metadata, so `execute` can match on it exhaustively.
fn route(method: &str, path: &str) -> Option<(OperationId, BTreeMap<String, String>)> {
    OperationId::ALL.iter().find_map(|&id| {
        let op = id.meta();
        (op.method.as_str() == method)
            .then(|| match_path(op.path, path))
            .flatten()
            .map(|values| (id, values))
    })
}

/// Handles each request in a task of its own, so a client that hangs up mid-request does not
/// cancel it: a request that reached the service is applied, as in the cloud.
pub async fn handle(
    state: State<Arc<Shared>>,
    peer: ConnectInfo<SocketAddr>,
    request: Request<Body>,
) -> Response<Body> {
    let request_task = tokio::spawn(handle_detached(state, peer, request));
    request_task.await.unwrap_or_else(|_| {
        json_response(
            500,
            "sandbox-handler-failed",
            &json!({"error_code": "SANDBOX.0500", "error_msg": "the sandbox failed to handle the request"}),
        )
    })
}

async fn handle_detached(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request<Body>,
) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let routed = route(parts.method.as_str(), parts.uri.path());
    let body = match read_body(body, shared.body_timeout).await {
        Ok(body) => body,
        Err(failure) => {
            return body_failure(&failure, routed.map(|(id, _)| Dialect::of(id.meta())))
        }
    };
    let incoming = Incoming {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts
            .uri
            .query()
            .unwrap_or_default()
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (decode(k), decode(v))
            })
            .collect(),
        headers: parts
            .headers
            .iter()
            .map(|(n, v)| {
                (
                    n.to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body,
    };
    if incoming.path.starts_with(ADMIN_PREFIX) {
        return crate::inspect::answer(&shared, peer, &incoming.method, &incoming.path);
    }
    let request_id = shared.world().fresh_request_id(shared.seed);
    let Some((id, path_values)) = routed else {
        return json_response(
            404,
            &request_id,
            &json!({"error_code": "APIGW.0101", "error_msg": "The API does not exist or has not been published in the environment"}),
        );
    };
    let op = id.meta();
    let call = {
        let mut world = shared.world();
        if world.log.len() < shared.keep_requests {
            world
                .log
                .push(LoggedRequest::of(op, &path_values, &incoming));
        }
        let count = world.requests.entry(op.id.to_owned()).or_default();
        *count += 1;
        *count
    };
    let dialect = Dialect::of(op);
    let mut lose_the_answer = false;
    let scripted = crate::script::entry(&shared.scenario.script, op.id, call);
    let injected = match (scripted, shared.scenario.faults.get(op.id)) {
        (Some(scripted), _) => match scripted_answer(scripted, dialect) {
            Ok(injected) => Some(injected),
            Err((status, body)) => return json_response(status, &request_id, &body),
        },
        (None, Some(fault)) => {
            if !fault.latency.is_zero() {
                tokio::time::sleep(fault.latency).await;
            }
            shared.world().roll_fault(shared.seed, fault)
        }
        (None, None) => None,
    };
    match injected {
        Some(Injected::Drop) => return broken_response(&request_id),
        Some(Injected::ApplyThenDrop) => lose_the_answer = true,
        Some(Injected::Error500) => {
            let failure = match dialect {
                Dialect::Aom => fail(500, "AOM.31001405", "execution internal server error."),
                Dialect::FunctionGraph => fail(500, "FGS.0500", "Internal server error."),
            };
            return json_response(500, &request_id, &dialect.body(&failure));
        }
        Some(Injected::Throttle(after)) => {
            let mut response = json_response(
                429,
                &request_id,
                &json!({"error_code": "APIGW.0308", "error_msg": "The throttling threshold has been reached"}),
            );
            if let Ok(value) = after.to_string().parse() {
                response.headers_mut().insert("Retry-After", value);
            }
            return response;
        }
        None => {}
    }
    let outcome = authenticate(&shared, &incoming, dialect)
        .and_then(|project| check_project(&project, &path_values, dialect).map(|()| project))
        .and_then(|project| {
            validate(op, &path_values, &incoming, dialect)?;
            execute(&shared, id, &project, &path_values, &incoming, dialect)
        });
    if lose_the_answer {
        // A sync run loses its connection while it runs, as one through a proxy's idle
        // timeout would: it goes on, and its caller must find how it ended.
        return broken_response(&request_id);
    }
    match outcome {
        Ok(Reply::Now(status, body)) => json_response(status, &request_id, &body),
        Ok(Reply::WhenEnded {
            execution_id,
            after,
        }) => {
            let (status, body) = when_ended(&shared, &execution_id, after).await;
            json_response(status, &request_id, &body)
        }
        Err(failure) => json_response(failure.status, &request_id, &dialect.body(&failure)),
    }
}

/// Why a request's body could not be read.
enum BodyFailure {
    TooLarge,
    /// The connection closed, or the framing broke, before the body's declared end.
    Broken(String),
    TimedOut(std::time::Duration),
}

/// The whole body, unless it is over `MAX_BODY_BYTES` or does not arrive within `timeout`.
async fn read_body(body: Body, timeout: std::time::Duration) -> Result<Vec<u8>, BodyFailure> {
    use axum::body::HttpBody;
    use futures_util::StreamExt;
    // A declared length over the limit is refused before waiting for any of it.
    if body.size_hint().lower() > MAX_BODY_BYTES as u64 {
        return Err(BodyFailure::TooLarge);
    }
    let read = async {
        let mut chunks = body.into_data_stream();
        let mut bytes = Vec::new();
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(|error| BodyFailure::Broken(innermost(&error)))?;
            if bytes.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(BodyFailure::TooLarge);
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    };
    tokio::time::timeout(timeout, read)
        .await
        .unwrap_or(Err(BodyFailure::TimedOut(timeout)))
}

/// The most specific message in an error's chain: hyper's own says which framing broke.
fn innermost(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(source) = current.source() {
        current = source;
    }
    current.to_string()
}

/// A body over the limit is the gateway's 413, as before. One that ends early, breaks its
/// framing or stalls lied about its length: the service's own 400 where the path names one,
/// the gateway's otherwise. Neither consumes a request id, so ids stay deterministic.
fn body_failure(failure: &BodyFailure, dialect: Option<Dialect>) -> Response<Body> {
    let message = match failure {
        BodyFailure::TooLarge => {
            return json_response(
                413,
                "sandbox-body-too-large",
                &json!({"error_code": "APIGW.0201", "error_msg": "Request body too large"}),
            )
        }
        BodyFailure::Broken(why) => {
            format!("the request body does not match the length its headers declare ({why})")
        }
        BodyFailure::TimedOut(after) => format!(
            "the request body did not arrive within {}",
            humantime::format_duration(*after)
        ),
    };
    let body = match dialect {
        Some(dialect) => dialect.body(&dialect.bad_request(message)),
        None => json!({"error_code": "APIGW.0201", "error_msg": message}),
    };
    json_response(400, "sandbox-body-incomplete", &body)
}

/// The project the caller authenticated as.
fn authenticate(shared: &Shared, incoming: &Incoming, dialect: Dialect) -> Result<String, Failure> {
    if let Some(token) = incoming.header("x-auth-token") {
        return shared
            .scenario
            .project_of_token(token)
            .map(|p| p.id.clone())
            .ok_or_else(|| dialect.unauthorized("unknown token"));
    }
    let parts = hwc_signer::RequestParts {
        method: &incoming.method,
        path: &incoming.path,
        query: &incoming.query,
        headers: &incoming.headers,
        body: &incoming.body,
    };
    let mut project = None;
    let verified = hwc_signer::verify(&parts, |ak| {
        shared.scenario.project_of_access_key(ak).map(|(p, sk)| {
            project = Some(p.id.clone());
            sk
        })
    });
    let (_, signed_at) = verified.map_err(|e| dialect.unauthorized(&e.to_string()))?;
    let skew = (shared.environment.clock.now_utc().unix_timestamp()
        - signed_at.assume_utc().unix_timestamp())
    .abs();
    if skew > MAX_CLOCK_SKEW_SECS {
        return Err(
            dialect.unauthorized("X-Sdk-Date is more than 15 minutes from the server's clock")
        );
    }
    project.ok_or_else(|| dialect.unauthorized("unknown access key"))
}

fn check_project(
    project: &str,
    path_values: &BTreeMap<String, String>,
    dialect: Dialect,
) -> Result<(), Failure> {
    match path_values.get("project_id") {
        Some(path_project) if path_project != project => Err(match dialect {
            Dialect::Aom => fail(403, "AOM.31009004", "auth failed."),
            Dialect::FunctionGraph => fail(
                403,
                "APIGW.0305",
                "The credentials do not belong to the project in the path",
            ),
        }),
        _ => Ok(()),
    }
}

/// Checks every parameter against the limits the spec gives it.
fn validate(
    op: &OperationMeta,
    path_values: &BTreeMap<String, String>,
    incoming: &Incoming,
    dialect: Dialect,
) -> Result<(), Failure> {
    for param in op.params {
        let value = match param.location {
            ParamLocation::Path => path_values.get(param.name).map(String::as_str),
            ParamLocation::Query => incoming.query_value(param.name),
            ParamLocation::Header => incoming.header(param.name),
        };
        let Some(value) = value else {
            if param.required {
                return Err(dialect.bad_request(format!("{} is required", param.name)));
            }
            continue;
        };
        let length = value.chars().count();
        if param.min_length.is_some_and(|min| length < min)
            || param.max_length.is_some_and(|max| length > max)
        {
            let limit = match (param.min_length, param.max_length) {
                (Some(min), Some(max)) => format!("between {min} and {max} characters"),
                (Some(min), None) => format!("at least {min} characters"),
                (None, Some(max)) => format!("at most {max} characters"),
                // Only reached when the spec gives a limit.
                (None, None) => "within its limits".to_owned(),
            };
            return Err(
                dialect.bad_request(format!("The length of {} must be {limit}.", param.name))
            );
        }
        let kind_ok = match param.kind {
            ParamKind::Enum(values) => values.contains(&value),
            // The Python SDK sends booleans as `str(True)`, i.e. `True`.
            ParamKind::Boolean => {
                value.eq_ignore_ascii_case("true") || value.eq_ignore_ascii_case("false")
            }
            ParamKind::Integer => value.parse::<i64>().is_ok(),
            ParamKind::Number => value.parse::<f64>().is_ok(),
            ParamKind::String => true,
        };
        if !kind_ok {
            let expected = match param.kind {
                ParamKind::Enum(values) => format!("one of {}", values.join(", ")),
                ParamKind::Boolean => "true or false".to_owned(),
                ParamKind::Integer => "an integer".to_owned(),
                _ => "a number".to_owned(),
            };
            return Err(
                dialect.bad_request(format!("{} must be {expected}, got `{value}`", param.name))
            );
        }
        if let Some(problem) = out_of_range(param, value) {
            return Err(dialect.bad_request(problem));
        }
    }
    if op.body.as_ref().is_some_and(|b| b.required) && incoming.body.is_empty() {
        return Err(dialect.bad_request("the request body is required"));
    }
    Ok(())
}

/// Why a numeric parameter is outside the spec's `minimum`/`maximum`, if it is.
fn out_of_range(param: &hwc_client::runtime::ParamMeta, value: &str) -> Option<String> {
    let number = value.parse::<f64>().ok()?;
    let below = param.minimum.is_some_and(|min| number < min);
    let above = param.maximum.is_some_and(|max| number > max);
    (below || above).then(|| {
        let limit = match (param.minimum, param.maximum) {
            (Some(min), Some(max)) => format!("between {min} and {max}"),
            (Some(min), None) => format!("at least {min}"),
            (None, Some(max)) => format!("at most {max}"),
            // Only reached when the spec gives a limit.
            (None, None) => "within its limits".to_owned(),
        };
        format!("The value of {} must be {limit}.", param.name)
    })
}

/// The request's JSON body, refused as the service refuses it: sent as anything but
/// `application/json`, not JSON, or not of the operation's shape. The messages say what is
/// wrong in the API's words, never the parser's.
fn parse_body<T: serde::de::DeserializeOwned>(
    incoming: &Incoming,
    dialect: Dialect,
) -> Result<T, Failure> {
    let json = incoming.header("Content-Type").is_some_and(|value| {
        let media = value.split(';').next().unwrap_or_default().trim();
        media.eq_ignore_ascii_case("application/json")
    });
    if !json {
        return Err(dialect.bad_request("The request body must be sent as application/json."));
    }
    serde_json::from_slice(&incoming.body).map_err(|error| {
        let text = error.to_string();
        let message = match text.strip_prefix("missing field `") {
            Some(rest) => format!(
                "{} is required.",
                rest.split('`').next().unwrap_or_default()
            ),
            None if error.is_syntax() || error.is_eof() => {
                "The request body is not valid JSON.".to_owned()
            }
            None => "The request body does not match the API's format.".to_owned(),
        };
        dialect.bad_request(message)
    })
}

/// A function workflow's execution body: its `input` is a JSON object.
fn parse_flow_body(
    incoming: &Incoming,
    dialect: Dialect,
) -> Result<hwc_client::models::FlowExecuteBody, Failure> {
    let body: hwc_client::models::FlowExecuteBody = parse_body(incoming, dialect)?;
    if !body.input.is_object() {
        return Err(dialect.bad_request("input must be a JSON object."));
    }
    Ok(body)
}

type Answer = Result<Reply, Failure>;

/// What an operation answers, now or once an execution has ended.
enum Reply {
    Now(u16, Value),
    /// A sync run's answer, which leaves when its execution ends, `after` from now.
    WhenEnded {
        execution_id: String,
        after: std::time::Duration,
    },
}

fn ok(status: u16, body: Value) -> Answer {
    Ok(Reply::Now(status, body))
}

/// The sync answer of `execution_id` once it has ended: the sandbox sleeps the run's time on
/// its environment first, lending the caller's in-flight hold on virtual time.
async fn when_ended(
    shared: &Shared,
    execution_id: &str,
    after: std::time::Duration,
) -> (u16, Value) {
    shared.environment.sleep_answering(after).await;
    let now = shared.now_ms();
    let mut world = shared.world();
    match world.fg.get_mut(execution_id) {
        Some(execution) => {
            execution.advance(now);
            (200, execution.sync_answer())
        }
        // Executions are never removed; kept as the one safe answer should that change.
        None => (
            500,
            json!({"error_code": "FGS.0500", "error_msg": "Internal server error."}),
        ),
    }
}

/// Runs one operation: one arm per operation of the spec and no wildcard, so an operation
/// added to the spec fails to compile here until the sandbox emulates it (rather than
/// answering for it at run time). `xtask/tests/exhaustive_dispatch.rs` holds this match to that.
fn execute(
    shared: &Shared,
    id: OperationId,
    project_id: &str,
    path: &BTreeMap<String, String>,
    incoming: &Incoming,
    dialect: Dialect,
) -> Answer {
    let project = shared
        .scenario
        .project(project_id)
        .ok_or_else(|| dialect.unauthorized("project not in scenario"))?;
    let workflow_id = path
        .get("workflow_id")
        .map(String::as_str)
        .unwrap_or_default();
    let execution_id = path
        .get("execution_id")
        .map(String::as_str)
        .unwrap_or_default();
    let now = shared.now_ms();
    let mut world = shared.world();
    let launch = |id: String, body: hwc_client::models::FlowExecuteBody| Launch {
        id,
        project_id: project.id.clone(),
        workflow_id: workflow_id.to_owned(),
        created_by: project.user.clone(),
        input: body.input,
        headers: body.headers.unwrap_or(Value::Null),
        at_ms: now,
    };
    let aom_unknown_workflow = || fail(404, "AOM.31001306", "workflow not exist.");
    let fg_unknown_workflow = || fail(404, "FGS.5002", "Function flow not found.");
    match id {
        OperationId::ExecuteWorkflow => {
            let workflow = project
                .aom_workflow(workflow_id)
                .ok_or_else(aom_unknown_workflow)?;
            let id = world.fresh_id(shared.seed);
            world.aom.insert(
                id.clone(),
                AomExecution::start(
                    id.clone(),
                    project.id.clone(),
                    project.user.clone(),
                    workflow.clone(),
                    now,
                ),
            );
            ok(200, json!({"execution_id": id}))
        }
        OperationId::SearchWorkflowExecutionDetail
        | OperationId::StartPausingWorkflowExecutions
        | OperationId::StopExecution => {
            project
                .aom_workflow(workflow_id)
                .ok_or_else(aom_unknown_workflow)?;
            let execution = world
                .aom
                .get_mut(execution_id)
                .filter(|e| e.project_id == project.id && e.workflow.id == workflow_id)
                .ok_or_else(|| fail(404, "AOM.31001307", "execution not exist."))?;
            if id == OperationId::SearchWorkflowExecutionDetail {
                execution.advance(now);
                return ok(200, execution.detail());
            }
            if id == OperationId::StopExecution {
                execution
                    .stop(now)
                    .map_err(|refused| dialect.bad_request(refused.0))?;
                return ok(200, json!("success"));
            }
            let action = incoming.query_value("action").unwrap_or_default();
            let node_id = incoming.query_value("node_id").unwrap_or_default();
            execution
                .operate(action, node_id, now)
                .map_err(|refused| dialect.bad_request(refused.0))?;
            ok(200, json!({"result": "success"}))
        }
        OperationId::StartSyncWorkflowExecution => {
            let body = parse_flow_body(incoming, dialect)?;
            let workflow = project
                .fg_workflow(workflow_id)
                .ok_or_else(fg_unknown_workflow)?;
            let FgWorkflowKind::Express { outcome, duration } = &workflow.kind else {
                return Err(dialect.bad_request(format!("workflow {workflow_id} is not an express workflow; sync-executions runs express workflows only")));
            };
            let id = world.fresh_id(shared.seed);
            // Kept as an execution, so a caller that lost this answer finds it by listing.
            let execution = FgExecution::express(launch(id.clone(), body), *outcome, *duration);
            world.fg.insert(id.clone(), execution);
            Ok(Reply::WhenEnded {
                execution_id: id,
                after: *duration,
            })
        }
        OperationId::StartWorkflowExecution => {
            let body = parse_flow_body(incoming, dialect)?;
            let workflow = project
                .fg_workflow(workflow_id)
                .ok_or_else(fg_unknown_workflow)?;
            let FgWorkflowKind::Standard { states } = &workflow.kind else {
                return Err(dialect.bad_request(format!(
                    "workflow {workflow_id} is an express workflow; start it with sync-executions"
                )));
            };
            let id = world.fresh_id(shared.seed);
            let execution = FgExecution::start(launch(id.clone(), body), states);
            world.fg.insert(id.clone(), execution);
            ok(200, json!({"execution_id": id}))
        }
        OperationId::ShowWorkflowExecution | OperationId::StopWorkFlow => {
            project
                .fg_workflow(workflow_id)
                .ok_or_else(fg_unknown_workflow)?;
            let execution = world
                .fg
                .get_mut(execution_id)
                .filter(|e| e.project_id == project.id && e.workflow_id == workflow_id)
                .ok_or_else(|| fail(404, "FGS.5003", "Function flow execution not found."))?;
            if id == OperationId::StopWorkFlow {
                execution
                    .stop(now)
                    .map_err(|message| dialect.bad_request(message))?;
                return ok(200, Value::Null);
            }
            execution.advance(now);
            ok(200, execution.detail())
        }
        OperationId::CreateCallbackWorkflow => {
            let body: hwc_client::models::CallbackWorkflowRequestBody =
                parse_body(incoming, dialect)?;
            project
                .fg_workflow(workflow_id)
                .ok_or_else(fg_unknown_workflow)?;
            let run_id = incoming.header("x-workflow-run-id").unwrap_or_default();
            let state_id = incoming.header("x-workflow-state-id").unwrap_or_default();
            let execution = world
                .fg
                .get_mut(run_id)
                .filter(|e| e.project_id == project.id && e.workflow_id == workflow_id)
                .ok_or_else(|| {
                    fail(
                        404,
                        "FGS.5003",
                        format!("no run {run_id} of workflow {workflow_id}"),
                    )
                })?;
            let succeeded = match body.result.as_str() {
                "success" => true,
                "fail" => false,
                other => {
                    return Err(dialect
                        .bad_request(format!("result must be success or fail, got `{other}`")))
                }
            };
            execution
                .callback(state_id, succeeded, body.output, body.error, now)
                .map_err(|refused| match refused {
                    CallbackRefused::UnknownState(message) => fail(404, "FGS.5003", message),
                    CallbackRefused::NotWaiting(message) => dialect.bad_request(message),
                })?;
            ok(200, json!({"execution_id": run_id}))
        }
        OperationId::ListWorkflowExecutions => {
            project
                .aom_workflow(workflow_id)
                .ok_or_else(aom_unknown_workflow)?;
            let executions = world
                .aom
                .values_mut()
                .filter(|e| e.project_id == project.id && e.workflow.id == workflow_id);
            ok(200, crate::aom::list(executions, now))
        }
        OperationId::ListFunctionGraphWorkflowExecutions => {
            project
                .fg_workflow(workflow_id)
                .ok_or_else(fg_unknown_workflow)?;
            let query = functiongraph::ListQuery::parse(|name| incoming.query_value(name), now)
                .map_err(|message| dialect.bad_request(message))?;
            let executions = world
                .fg
                .values_mut()
                .filter(|e| e.project_id == project.id && e.workflow_id == workflow_id);
            ok(200, functiongraph::list(executions, &query, now))
        }
    }
}
