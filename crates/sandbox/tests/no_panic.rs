#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Robustness: random requests over raw HTTP must never break the sandbox.
//!
//! One in-process sandbox (default scenario, virtual time) takes a few hundred random requests:
//! random methods, paths (garbage, percent-escapes, very long segments, mutations of the spec's
//! own paths, the inspection routes), queries, headers, credentials (none, forged, the real
//! token, real AK/SK signatures over odd requests) and bodies (random bytes, truncated or deeply
//! nested JSON, 100 KB strings). Every request must get an HTTP answer, never a 5xx (the
//! default scenario injects no faults, and every operation is emulated), and every error on a
//! spec path must carry the service-shaped `error_code` body. Afterwards a normal signed call
//! must still work.
//!
//! A second test, `raw_bytes_never_break_the_sandbox`, goes below HTTP: arbitrary and
//! malformed bytes over TCP, truncated, pipelined, with lying lengths and stalling clients.
//!
//! `PROPTEST_CASES` raises the case count of both for a longer soak; one test at a time, in a
//! release build:
//!
//! ```sh
//! PROPTEST_CASES=100000 cargo test -p hwc-sandbox --test no_panic --release -- raw_bytes
//! ```

mod support;

use support::{AK, PROJECT, SK};

use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use hwc_client::catalogue::OPERATIONS;
use hwc_client::operations::{ExecuteWorkflowParams, SearchWorkflowExecutionDetailParams};
use hwc_client::runtime::{Clock, VirtualTime};
use hwc_client::{Client, Environment};
use hwc_sandbox::{RunningSandbox, Scenario};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config as ProptestConfig, TestCaseError, TestRunner};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{json, Value};

const OTHER_PROJECT: &str = "ffffffffffffffffffffffffffffffff";
const TOKEN: &str = "sandbox-iam-token-0001";
const OTHER_AK: &str = "SANDBOXAKOTHERPROJECT";
const OTHER_SK: &str = "sandbox-secret-key-other";
const ADMIN_PREFIX: &str = "/__sandbox/";

/// Known ids, so mutated paths reach the state machines rather than stopping at a 404.
const WORKFLOWS: &[&str] = &[
    "wf-success",
    "wf-flaky",
    "wf-broken",
    "wf-pause",
    "wf-approval",
    "wf-long",
    "wf-other",
    "fg-echo",
    "fg-fail",
    "fg-timeout",
    "fg-callback",
    "fg-standard",
];
const NODES: &[&str] = &[
    "prepare",
    "deploy",
    "migrate",
    "finish",
    "optional-cleanup",
    "gate",
    "approve",
    "soak",
    "await-approval",
    "first",
    "second",
];
const METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE", "PATCH"];
/// Headers that frame the HTTP message itself: random values there test hyper, not the
/// sandbox, and some make the client refuse to send at all.
const FRAMING_HEADERS: &[&str] = &[
    "content-length",
    "transfer-encoding",
    "host",
    "connection",
    "upgrade",
    "te",
    "expect",
    "keep-alive",
    "proxy-connection",
    "trailer",
];

/// A path segment, either fixed when the case is generated or taken at send time from the
/// ids earlier answers returned (so operations on real executions are reached).
#[derive(Debug, Clone)]
enum Pick {
    Fixed(String),
    Harvested(Index),
}

impl Pick {
    fn resolve(&self, harvested: &[String]) -> String {
        match self {
            Self::Fixed(text) => text.clone(),
            Self::Harvested(_) if harvested.is_empty() => "no-execution-yet".to_owned(),
            Self::Harvested(index) => index.get(harvested).clone(),
        }
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    None,
    TrailingSlash,
    DoubleSlash(Index),
    DropSegment(Index),
    DuplicateSegment(Index),
    Uppercase,
    Append(String),
    DotDot,
}

#[derive(Debug, Clone)]
enum PathSpec {
    Raw(String),
    /// One of the catalogue's paths with its placeholders filled, then mutated.
    Spec {
        op: Index,
        project: Pick,
        workflow: Pick,
        execution: Pick,
        mutation: Mutation,
    },
}

impl PathSpec {
    fn resolve(&self, harvested: &[String]) -> String {
        let (op, project, workflow, execution, mutation) = match self {
            Self::Raw(raw) => return raw.clone(),
            Self::Spec {
                op,
                project,
                workflow,
                execution,
                mutation,
            } => (op, project, workflow, execution, mutation),
        };
        let path = op
            .get(OPERATIONS)
            .path
            .replace("{project_id}", &project.resolve(harvested))
            .replace("{workflow_id}", &workflow.resolve(harvested))
            .replace("{execution_id}", &execution.resolve(harvested));
        let mut segments: Vec<String> = path.split('/').map(str::to_owned).collect();
        match mutation {
            Mutation::None => {}
            Mutation::TrailingSlash => segments.push(String::new()),
            Mutation::DoubleSlash(at) => segments.insert(at.index(segments.len()), String::new()),
            Mutation::DropSegment(at) => {
                segments.remove(at.index(segments.len()));
            }
            Mutation::DuplicateSegment(at) => {
                let at = at.index(segments.len());
                segments.insert(at, segments[at].clone());
            }
            Mutation::Uppercase => segments = segments.iter().map(|s| s.to_uppercase()).collect(),
            Mutation::Append(extra) => segments.push(extra.clone()),
            Mutation::DotDot => segments.push("..".to_owned()),
        }
        segments.join("/")
    }

    /// The method the catalogue gives this path, when it is a spec path.
    fn spec_method(&self) -> Option<&'static str> {
        match self {
            Self::Spec { op, .. } => Some(op.get(OPERATIONS).method.as_str()),
            Self::Raw(_) => None,
        }
    }
}

#[derive(Debug, Clone)]
enum SignDate {
    Now,
    Skewed(i64),
    Garbage(String),
}

#[derive(Debug, Clone)]
enum Auth {
    None,
    Token(String),
    /// A forged `Authorization` value with a forged date.
    Garbage {
        authorization: String,
        date: String,
    },
    /// A real signature (of either project's key) over the request as sent.
    Signed {
        other_project: bool,
        date: SignDate,
        tamper: bool,
    },
}

#[derive(Clone)]
struct Case {
    /// Virtual time to move on first, so executions reach their failed and paused states.
    advance_ms: u64,
    method: Option<&'static str>,
    path: PathSpec,
    query: Option<String>,
    headers: Vec<(String, Pick)>,
    auth: Auth,
    body: Vec<u8>,
}

/// The body can be 100 KB; a failing case prints its head only.
impl fmt::Debug for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let head = &self.body[..self.body.len().min(300)];
        f.debug_struct("Case")
            .field("advance_ms", &self.advance_ms)
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query", &self.query)
            .field("headers", &self.headers)
            .field("auth", &self.auth)
            .field("body_len", &self.body.len())
            .field("body_head", &String::from_utf8_lossy(head))
            .finish()
    }
}

fn one_of(items: &'static [&'static str]) -> impl Strategy<Value = String> {
    proptest::sample::select(items).prop_map(str::to_owned)
}

fn random_text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(any::<char>(), 0..max).prop_map(|chars| chars.into_iter().collect())
}

/// Random text that stays one path segment, so the path still routes and the value reaches
/// validation and lookup.
fn segment_text(max: usize) -> impl Strategy<Value = String> {
    // `url` reads `\\` as `/` in http URLs.
    random_text(max).prop_map(|s| s.replace(['/', '\\'], "-"))
}

fn project_pick() -> impl Strategy<Value = Pick> {
    prop_oneof![
        6 => Just(PROJECT.to_owned()),
        1 => Just(OTHER_PROJECT.to_owned()),
        1 => "[0-9a-f]{32}",
        1 => segment_text(40),
    ]
    .prop_map(Pick::Fixed)
}

fn workflow_pick() -> impl Strategy<Value = Pick> {
    prop_oneof![
        6 => one_of(WORKFLOWS),
        1 => segment_text(20),
        // Just past the 64 (AOM) and 512 (FunctionGraph) character limits.
        1 => prop_oneof![Just("w".repeat(65)), Just("w".repeat(513))],
        1 => Just(String::new()),
        1 => Just("wf%2Dsuccess".to_owned()),
    ]
    .prop_map(Pick::Fixed)
}

fn execution_pick() -> impl Strategy<Value = Pick> {
    prop_oneof![
        5 => any::<Index>().prop_map(Pick::Harvested),
        2 => segment_text(40).prop_map(Pick::Fixed),
        1 => Just(Pick::Fixed("e".repeat(65))),
        1 => Just(Pick::Fixed(String::new())),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        20 => Just(Mutation::None),
        1 => Just(Mutation::TrailingSlash),
        1 => any::<Index>().prop_map(Mutation::DoubleSlash),
        1 => any::<Index>().prop_map(Mutation::DropSegment),
        1 => any::<Index>().prop_map(Mutation::DuplicateSegment),
        1 => Just(Mutation::Uppercase),
        1 => random_text(16).prop_map(Mutation::Append),
        1 => Just(Mutation::DotDot),
    ]
}

fn percent_escapes() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        any::<u8>().prop_map(|b| format!("%{b:02X}")),
        any::<u8>().prop_map(|b| format!("%{b:02x}")),
        Just("%".to_owned()),
        Just("%G0".to_owned()),
        Just("%2F".to_owned()),
        Just("%00".to_owned()),
        Just("/".to_owned()),
        "[a-z]{1,4}",
    ];
    prop::collection::vec(piece, 0..40).prop_map(|pieces| format!("/{}", pieces.concat()))
}

/// Kept under hyper's URI limit (64 KB) so the sandbox, not the HTTP parser, answers.
fn long_segments() -> impl Strategy<Value = String> {
    (
        prop::collection::vec((1usize..12_000, "[a-zA-Z0-9%~-]"), 1..3),
        any::<bool>(),
    )
        .prop_map(|(segments, spec_prefix)| {
            let body: Vec<String> = segments.iter().map(|(n, c)| c.repeat(*n)).collect();
            let prefix = if spec_prefix {
                format!("/v1/{PROJECT}/cms/workflow/")
            } else {
                "/".to_owned()
            };
            format!("{prefix}{}", body.join("/"))
        })
}

fn path_spec() -> impl Strategy<Value = PathSpec> {
    let spec = (
        any::<Index>(),
        project_pick(),
        workflow_pick(),
        execution_pick(),
        mutation(),
    )
        .prop_map(
            |(op, project, workflow, execution, mutation)| PathSpec::Spec {
                op,
                project,
                workflow,
                execution,
                mutation,
            },
        );
    prop_oneof![
        12 => spec,
        1 => random_text(64).prop_map(PathSpec::Raw),
        1 => percent_escapes().prop_map(PathSpec::Raw),
        1 => long_segments().prop_map(PathSpec::Raw),
        1 => prop_oneof![
            Just("/__sandbox/requests".to_owned()),
            Just("/__sandbox/executions".to_owned()),
            random_text(20).prop_map(|s| format!("{ADMIN_PREFIX}{s}")),
        ]
        .prop_map(PathSpec::Raw),
    ]
}

fn query() -> impl Strategy<Value = Option<String>> {
    let action = prop_oneof![
        one_of(&["restart", "skip", "continue"]),
        random_text(10),
        Just(String::new()),
    ];
    let node = prop_oneof![3 => one_of(NODES), 1 => random_text(70)];
    prop_oneof![
        3 => Just(None),
        3 => (action, node, any::<bool>()).prop_map(|(a, n, twice)| {
            let pair = format!("action={a}&node_id={n}");
            Some(if twice { format!("{pair}&{pair}&action=") } else { pair })
        }),
        1 => "[a-z=&%+;#?\\[\\]0-9]{0,60}".prop_map(Some),
        1 => random_text(40).prop_map(Some),
    ]
}

fn header_value() -> impl Strategy<Value = String> {
    // Bytes 0x80.. reach the server as obs-text; the sandbox reads them lossily.
    prop::collection::vec(prop_oneof![0x20u8..0x7f, 0x80u8..=0xff, Just(b'\t')], 0..64)
        .prop_map(|bytes| bytes.into_iter().map(char::from).collect())
}

fn headers() -> impl Strategy<Value = Vec<(String, Pick)>> {
    let named = prop_oneof![
        ("[A-Za-z0-9-]{1,20}", header_value().prop_map(Pick::Fixed)),
        (
            Just("X-Sdk-Date".to_owned()),
            prop_oneof![
                Just("20260304T050607Z".to_owned()),
                "[0-9]{8}T[0-9]{6}Z",
                header_value()
            ]
            .prop_map(Pick::Fixed)
        ),
        (
            Just("X-Workflow-Run-Id".to_owned()),
            prop_oneof![
                any::<Index>().prop_map(Pick::Harvested),
                header_value().prop_map(Pick::Fixed)
            ]
        ),
        (
            Just("X-Workflow-State-Id".to_owned()),
            prop_oneof![one_of(NODES), header_value()].prop_map(Pick::Fixed)
        ),
        (
            Just("X-Get-Workflow-Full-History-Data".to_owned()),
            prop_oneof![one_of(&["true", "false"]), header_value()].prop_map(Pick::Fixed)
        ),
        (
            Just("X-WorkflowRun-ID".to_owned()),
            prop_oneof!["[A-Za-z0-9]{32}", header_value()].prop_map(Pick::Fixed)
        ),
        (
            Just("X-WorkflowRun-MergeFnParameters".to_owned()),
            prop_oneof![one_of(&["true", "false", ""]), header_value()].prop_map(Pick::Fixed)
        ),
        (
            Just("Content-Type".to_owned()),
            prop_oneof![one_of(&["application/json", "text/plain"]), header_value()]
                .prop_map(Pick::Fixed)
        ),
    ];
    prop::collection::vec(named, 0..6)
}

fn auth() -> impl Strategy<Value = Auth> {
    let date = prop_oneof![
        6 => Just(SignDate::Now),
        1 => (-100_000_000_000i64..100_000_000_000).prop_map(SignDate::Skewed),
        1 => prop_oneof![Just(-901i64), Just(901), Just(899)].prop_map(SignDate::Skewed),
        1 => prop_oneof![header_value(), Just("99991231T235959Z".to_owned()), Just("00000101T000000Z".to_owned())]
            .prop_map(SignDate::Garbage),
    ];
    prop_oneof![
        2 => Just(Auth::None),
        4 => prop_oneof![3 => Just(TOKEN.to_owned()), 1 => header_value()].prop_map(Auth::Token),
        2 => (
            prop_oneof![
                header_value().prop_map(|v| format!("SDK-HMAC-SHA256 {v}")),
                header_value().prop_map(|v| format!("SDK-HMAC-SHA256 Access={AK}, SignedHeaders={v}, Signature=00")),
                header_value().prop_map(|v| format!("SDK-HMAC-SHA256 Access={v}, SignedHeaders=x-sdk-date, Signature={v}")),
                Just(format!("SDK-HMAC-SHA256 Access={AK}, SignedHeaders=, Signature=")),
                Just("SDK-HMAC-SHA256 ,,,==,".to_owned()),
                header_value(),
            ],
            header_value(),
        )
            .prop_map(|(authorization, date)| Auth::Garbage { authorization, date }),
        4 => (any::<bool>(), date, prop::bool::weighted(0.2)).prop_map(
            |(other_project, date, tamper)| Auth::Signed { other_project, date, tamper }
        ),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        // NaN and infinities become null, which is what serde_json would send anyway.
        any::<f64>().prop_map(Value::from),
        random_text(20).prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(random_text(8), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Bodies the operations could accept, so parsing succeeds and the handlers run.
fn plausible_body() -> impl Strategy<Value = Value> {
    let result = prop_oneof![one_of(&["success", "fail"]), random_text(70)];
    prop_oneof![
        (json_value(), prop::option::of(json_value()))
            .prop_map(|(input, headers)| json!({"input": input, "headers": headers})),
        (result, json_value(), prop::option::of(random_text(80)))
            .prop_map(|(r, output, error)| json!({"result": r, "output": output, "error": error})),
        json_value(),
    ]
}

fn nested(depth: usize, object: bool, closed: bool, wrap: bool) -> Vec<u8> {
    let (open, close) = if object { ("{\"a\":", "}") } else { ("[", "]") };
    let mut text = String::new();
    if wrap {
        text.push_str("{\"input\":");
    }
    text.push_str(&open.repeat(depth));
    text.push('1');
    if closed {
        text.push_str(&close.repeat(depth));
        if wrap {
            text.push('}');
        }
    }
    text.into_bytes()
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => Just(Vec::new()),
        2 => prop::collection::vec(any::<u8>(), 0..2048),
        2 => (plausible_body(), any::<Index>()).prop_map(|(v, cut)| {
            let text = v.to_string().into_bytes();
            text[..cut.index(text.len() + 1)].to_vec()
        }),
        // Around serde_json's recursion limit (128), then far past it.
        2 => (prop_oneof![1usize..140, 140usize..20_000], any::<bool>(), any::<bool>(), any::<bool>())
            .prop_map(|(depth, object, closed, wrap)| nested(depth, object, closed, wrap)),
        1 => (0usize..100_000, "[a-z\"\\\\é]", any::<bool>()).prop_map(|(n, c, wrap)| {
            let huge = c.repeat(n);
            let text = if wrap {
                json!({"input": huge, "result": "success", "output": huge, "error": huge}).to_string()
            } else {
                huge
            };
            text.into_bytes()
        }),
        4 => plausible_body().prop_map(|v| v.to_string().into_bytes()),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop_oneof![3 => Just(0u64), 1 => 0u64..5_000],
        prop_oneof![5 => Just(None), 1 => proptest::sample::select(METHODS).prop_map(Some)],
        path_spec(),
        query(),
        headers(),
        auth(),
        body(),
    )
        .prop_map(
            |(advance_ms, method, path, query, headers, auth, body)| Case {
                advance_ms,
                method,
                path,
                query,
                headers,
                auth,
                body,
            },
        )
}

struct Rig {
    sandbox: RunningSandbox,
    time: VirtualTime,
    env: Environment,
    http: reqwest::Client,
    /// Execution ids earlier answers returned.
    harvested: Mutex<Vec<String>>,
    /// Answers seen, by status and `error_code`, to show what the run reached.
    seen: Mutex<std::collections::BTreeMap<(u16, String), u64>>,
}

/// The query as the sandbox splits it, which is what a signature must cover.
fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// Header values are generated one char per byte (Latin-1), so obs-text bytes survive.
fn latin1(value: &str) -> Vec<u8> {
    value.chars().map(|c| c as u32 as u8).collect()
}

fn error_chain(error: &reqwest::Error) -> String {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

async fn run_case(rig: &Rig, case: &Case) -> Result<(), TestCaseError> {
    rig.time.advance(Duration::from_millis(case.advance_ms));
    let harvested = rig.harvested.lock().unwrap().clone();
    let method = case
        .method
        .or_else(|| case.path.spec_method())
        .unwrap_or("GET");
    let mut url = reqwest::Url::parse(&rig.sandbox.url()).unwrap();
    url.set_path(&case.path.resolve(&harvested));
    url.set_query(case.query.as_deref());

    // Only what can go on the wire, exactly as the server will read it, so a signature over
    // it verifies.
    let mut sent: Vec<(HeaderName, HeaderValue)> = Vec::new();
    for (name, value) in &case.headers {
        if FRAMING_HEADERS.iter().any(|h| name.eq_ignore_ascii_case(h)) {
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(&latin1(&value.resolve(&harvested))),
        ) {
            sent.push((name, value));
        }
    }
    let header = |name: &str, value: &str| {
        (
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_bytes(value.as_bytes()).unwrap(),
        )
    };
    match &case.auth {
        Auth::None => {}
        Auth::Token(token) => sent.extend(
            HeaderValue::from_bytes(&latin1(token))
                .ok()
                .map(|v| (HeaderName::from_static("x-auth-token"), v)),
        ),
        Auth::Garbage {
            authorization,
            date,
        } => {
            for (name, value) in [("authorization", authorization), ("x-sdk-date", date)] {
                sent.extend(
                    HeaderValue::from_bytes(&latin1(value))
                        .ok()
                        .map(|v| (HeaderName::from_static(name), v)),
                );
            }
        }
        Auth::Signed {
            other_project,
            date,
            tamper,
        } => {
            let date = match date {
                SignDate::Now => hwc_signer::format_sdk_date(rig.time.now_utc()),
                SignDate::Skewed(secs) => rig
                    .time
                    .now_utc()
                    .checked_add(time::Duration::seconds(*secs))
                    .map(hwc_signer::format_sdk_date)
                    .unwrap_or_else(|| "garbage".to_owned()),
                SignDate::Garbage(text) => text.clone(),
            };
            let host = format!("127.0.0.1:{}", rig.sandbox.addr.port());
            sent.push(header("host", &host));
            if let Ok(value) = HeaderValue::from_bytes(&latin1(&date)) {
                sent.push((HeaderName::from_static("x-sdk-date"), value));
            }
            let lossy: Vec<(String, String)> = sent
                .iter()
                .map(|(n, v)| {
                    (
                        n.to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let (ak, sk) = if *other_project {
                (OTHER_AK, OTHER_SK)
            } else {
                (AK, SK)
            };
            let parts = hwc_signer::RequestParts {
                method,
                path: url.path(),
                query: &query_pairs(url.query()),
                headers: &lossy,
                body: &case.body,
            };
            let mut authorization = hwc_signer::sign(&parts, ak, sk).authorization;
            if *tamper {
                let flipped = if authorization.ends_with('0') {
                    '1'
                } else {
                    '0'
                };
                authorization.pop();
                authorization.push(flipped);
            }
            sent.push(header("authorization", &authorization));
        }
    }
    let mut map = HeaderMap::new();
    for (name, value) in sent {
        map.append(name, value);
    }

    let request = rig
        .http
        .request(method.parse().unwrap(), url.clone())
        .headers(map)
        .body(case.body.clone());
    let response = match request.send().await {
        Ok(response) => response,
        Err(error) => {
            return Err(TestCaseError::fail(format!(
                "no HTTP answer to {method} {url}: {}",
                error_chain(&error)
            )))
        }
    };
    let status = response.status().as_u16();
    let bytes = match response.bytes().await {
        Ok(bytes) => bytes,
        Err(error) => {
            return Err(TestCaseError::fail(format!(
                "{method} {url}: status {status}, then the body broke: {}",
                error_chain(&error)
            )))
        }
    };
    let text = String::from_utf8_lossy(&bytes);
    prop_assert!(
        !(500..=599).contains(&status),
        "{method} {url} answered {status}: {text}"
    );
    let parsed: Option<Value> = serde_json::from_slice(&bytes).ok();
    let code = parsed
        .as_ref()
        .and_then(|v| v.get("error_code"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    *rig.seen.lock().unwrap().entry((status, code)).or_default() += 1;
    if (200..300).contains(&status) {
        if let Some(id) = parsed
            .as_ref()
            .and_then(|v| v.get("execution_id"))
            .and_then(Value::as_str)
        {
            let mut harvested = rig.harvested.lock().unwrap();
            if !harvested.iter().any(|h| h == id) {
                harvested.push(id.to_owned());
            }
        }
    } else if !url.path().starts_with(ADMIN_PREFIX) {
        prop_assert!(
            parsed
                .as_ref()
                .and_then(|v| v.get("error_code"))
                .is_some_and(Value::is_string),
            "{method} {url} answered {status} without an error_code body: {text}"
        );
    }
    Ok(())
}

fn signed_client(rig: &Rig) -> Client {
    support::signed_client(&rig.sandbox, &rig.env)
}

#[test]
fn random_requests_never_break_the_sandbox() {
    // One runtime for the whole run: the server task lives on its workers between cases.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let rig = runtime.block_on(async {
        let (sandbox, time, env) =
            support::start_on_virtual_time(Scenario::default_scenario(), 7).await;
        Rig {
            sandbox,
            time,
            env,
            // A timeout turns a hang into a failure that names the request.
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap(),
            harvested: Mutex::new(Vec::new()),
            seen: Mutex::default(),
        }
    });

    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(300);
    let mut runner = TestRunner::new(ProptestConfig {
        cases,
        // Files outside the crate's tests are not this test's to write; a failure prints its
        // minimal case instead.
        failure_persistence: None,
        max_shrink_iters: 500,
        ..ProptestConfig::default()
    });
    let outcome = runner.run(&case(), |case| runtime.block_on(run_case(&rig, &case)));
    if let Err(error) = outcome {
        panic!("{error}");
    }
    let seen = rig.seen.lock().unwrap().clone();
    eprintln!("answers by (status, error_code): {seen:?}");
    eprintln!("requests by operation: {:?}", rig.sandbox.request_counts());
    // Guards the generators: a run that never got past the gateway proves little.
    if cases >= 200 {
        assert!(
            seen.keys().any(|(status, _)| *status == 200),
            "no request succeeded; the generators no longer reach the handlers"
        );
    }

    // Still alive and still right: a normal signed start and status read.
    runtime.block_on(async move {
        let client = signed_client(&rig);
        let started = client
            .execute_workflow(&ExecuteWorkflowParams {
                workflow_id: "wf-success".into(),
            })
            .await
            .unwrap();
        let execution_id = started.body.execution_id.unwrap();
        let detail = client
            .search_workflow_execution_detail(&SearchWorkflowExecutionDetailParams {
                workflow_id: "wf-success".into(),
                execution_id: execution_id.clone(),
            })
            .await
            .unwrap();
        assert_eq!(detail.body.execution_id.as_deref(), Some(&*execution_id));
        rig.sandbox.shutdown().await.unwrap();
    });
}

// ---------------------------------------------------------------------------------------------
// Raw bytes: what no HTTP client library would send.

/// What the client does once its bytes are out.
#[derive(Debug, Clone, Copy)]
enum Ending {
    /// Ends its sending side and reads whatever comes back.
    HalfClose,
    /// Closes at once, without reading.
    HangUp,
    /// Keeps the connection open and reads: the sandbox must answer or close it by itself.
    Linger,
}

#[derive(Clone)]
struct RawCase {
    /// The bytes, in the writes they go out as.
    pieces: Vec<Vec<u8>>,
    gap_ms: u64,
    ending: Ending,
}

/// Bytes print as escaped ASCII, so a failing case can be pasted into `printf`.
impl fmt::Debug for RawCase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pieces: Vec<String> = self
            .pieces
            .iter()
            .map(|piece| {
                let shown = &piece[..piece.len().min(400)];
                format!("{} ({} bytes)", shown.escape_ascii(), piece.len())
            })
            .collect();
        f.debug_struct("RawCase")
            .field("pieces", &pieces)
            .field("gap_ms", &self.gap_ms)
            .field("ending", &self.ending)
            .finish()
    }
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..max)
}

fn raw_method() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => proptest::sample::select(&[
            "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "CONNECT", "TRACE", "PRI",
        ][..])
        .prop_map(|m| m.as_bytes().to_vec()),
        1 => "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}".prop_map(String::into_bytes),
        1 => bytes(12),
    ]
}

fn raw_target() -> impl Strategy<Value = Vec<u8>> {
    let spec = path_spec().prop_map(|path| {
        let path = path.resolve(&[]);
        // The request line carries it raw; a space or control byte would end the target.
        path.bytes()
            .map(|b| if b.is_ascii_graphic() { b } else { b'_' })
            .collect::<Vec<u8>>()
    });
    prop_oneof![
        8 => spec,
        1 => Just(b"*".to_vec()),
        1 => Just(format!("http://127.0.0.1/v1/{PROJECT}/cms/workflow/wf-success/executions").into_bytes()),
        1 => Just(b"127.0.0.1:443".to_vec()),
        1 => (1usize..70_000).prop_map(|n| format!("/{}", "a".repeat(n)).into_bytes()),
        1 => "[!-~]{0,60}".prop_map(String::into_bytes),
        1 => bytes(60),
    ]
}

fn raw_version() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        12 => Just(b"HTTP/1.1".to_vec()),
        2 => Just(b"HTTP/1.0".to_vec()),
        4 => proptest::sample::select(&[
            "HTTP/0.9", "HTTP/2.0", "HTTP/1.2", "http/1.1", "HTTP/1.1 ", "HTTP/1", "",
        ][..])
        .prop_map(|v| v.as_bytes().to_vec()),
        1 => bytes(10),
    ]
}

fn line_end() -> impl Strategy<Value = &'static [u8]> {
    prop_oneof![
        20 => Just(&b"\r\n"[..]),
        1 => Just(&b"\n"[..]),
        1 => Just(&b"\r"[..]),
        1 => Just(&b"\r\r\n"[..]),
        1 => Just(&b"\r\n "[..]),
    ]
}

/// How the body's length is (mis)stated.
#[derive(Debug, Clone)]
enum Framing {
    None,
    /// The true length plus this (so negative is a body longer than declared).
    ContentLength(i64),
    ContentLengthText(String),
    /// Two `Content-Length` headers.
    TwoLengths(i64, i64),
    /// Chunks of these sizes (the last one takes the rest), each declared `lie` bytes off;
    /// optionally without the final zero chunk, with extensions and trailers.
    Chunked {
        sizes: Vec<usize>,
        lie: i64,
        last: bool,
        extension: bool,
        trailer: bool,
    },
    ChunkedAndLength(i64),
    OtherEncoding(String),
}

fn framing() -> impl Strategy<Value = Framing> {
    prop_oneof![
        3 => Just(Framing::None),
        8 => prop_oneof![6 => Just(0i64), 1 => -5i64..5, 1 => any::<i64>()]
            .prop_map(Framing::ContentLength),
        1 => prop_oneof![
            Just("99999999999999999999999".to_owned()),
            Just("-1".to_owned()),
            Just("1,1".to_owned()),
            Just(" 5".to_owned()),
            Just("0x10".to_owned()),
            Just("+3".to_owned()),
            "[0-9 ,]{0,8}",
        ]
        .prop_map(Framing::ContentLengthText),
        1 => (-3i64..3, -3i64..3).prop_map(|(a, b)| Framing::TwoLengths(a, b)),
        4 => (
            prop::collection::vec(0usize..300, 0..5),
            prop_oneof![4 => Just(0i64), 1 => -3i64..3],
            prop::bool::weighted(0.9),
            prop::bool::weighted(0.1),
            prop::bool::weighted(0.1),
        )
            .prop_map(|(sizes, lie, last, extension, trailer)| Framing::Chunked {
                sizes,
                lie,
                last,
                extension,
                trailer,
            }),
        1 => (-3i64..3).prop_map(Framing::ChunkedAndLength),
        1 => prop_oneof![
            Just("gzip".to_owned()),
            Just("chunked, chunked".to_owned()),
            Just("gzip, chunked".to_owned()),
            Just("chunked, gzip".to_owned()),
            "[a-z, ]{0,12}",
        ]
        .prop_map(Framing::OtherEncoding),
    ]
}

fn lied(length: usize, by: i64) -> String {
    (length as i64).saturating_add(by).to_string()
}

/// The framing headers for `body`, and the body as framed.
fn frame(body: &[u8], framing: &Framing) -> (Vec<(String, String)>, Vec<u8>) {
    let header = |name: &str, value: String| (name.to_owned(), value);
    match framing {
        Framing::None => (vec![], body.to_vec()),
        Framing::ContentLength(by) => (
            vec![header("Content-Length", lied(body.len(), *by))],
            body.to_vec(),
        ),
        Framing::ContentLengthText(text) => {
            (vec![header("Content-Length", text.clone())], body.to_vec())
        }
        Framing::TwoLengths(a, b) => (
            vec![
                header("Content-Length", lied(body.len(), *a)),
                header("Content-Length", lied(body.len(), *b)),
            ],
            body.to_vec(),
        ),
        Framing::Chunked {
            sizes,
            lie,
            last,
            extension,
            trailer,
        } => {
            let mut framed = Vec::new();
            let mut rest = body;
            for (i, size) in sizes.iter().enumerate() {
                let take = if i + 1 == sizes.len() {
                    rest.len()
                } else {
                    (*size).min(rest.len())
                };
                let (chunk, after) = rest.split_at(take);
                rest = after;
                let declared = (chunk.len() as i64).saturating_add(*lie).max(0);
                framed.extend_from_slice(format!("{declared:x}").as_bytes());
                if *extension {
                    framed.extend_from_slice(b";name=value");
                }
                framed.extend_from_slice(b"\r\n");
                framed.extend_from_slice(chunk);
                framed.extend_from_slice(b"\r\n");
            }
            if *last {
                framed.extend_from_slice(b"0\r\n");
                if *trailer {
                    framed.extend_from_slice(b"X-Trailer: yes\r\n");
                }
                framed.extend_from_slice(b"\r\n");
            }
            (
                vec![header("Transfer-Encoding", "chunked".to_owned())],
                framed,
            )
        }
        Framing::ChunkedAndLength(by) => (
            vec![
                header("Transfer-Encoding", "chunked".to_owned()),
                header("Content-Length", lied(body.len(), *by)),
            ],
            body.to_vec(),
        ),
        Framing::OtherEncoding(coding) => (
            vec![header("Transfer-Encoding", coding.clone())],
            body.to_vec(),
        ),
    }
}

fn raw_header() -> impl Strategy<Value = (Vec<u8>, Vec<u8>)> {
    let name = prop_oneof![
        4 => "[A-Za-z0-9-]{1,20}".prop_map(String::into_bytes),
        2 => one_of(FRAMING_HEADERS).prop_map(String::into_bytes),
        2 => proptest::sample::select(&[
            "X-Auth-Token", "Authorization", "X-Sdk-Date", "Content-Type", "X-Workflow-Run-Id",
        ][..])
        .prop_map(|n| n.as_bytes().to_vec()),
        1 => bytes(16),
    ];
    let value = prop_oneof![
        6 => header_value().prop_map(|v| latin1(&v)),
        1 => Just(TOKEN.as_bytes().to_vec()),
        1 => proptest::sample::select(&[
            "100-continue", "close", "keep-alive", "upgrade", "h2c", "websocket", "chunked",
        ][..])
        .prop_map(|v| v.as_bytes().to_vec()),
        // Control bytes, line breaks included: header injection and obs-fold.
        1 => bytes(40),
        1 => (1usize..20_000).prop_map(|n| vec![b'v'; n]),
    ];
    (name, value)
}

/// One request as bytes: a request line, headers, a blank line and a framed body, any of
/// them malformed.
fn raw_request() -> impl Strategy<Value = Vec<u8>> {
    let body = prop_oneof![
        3 => Just(Vec::new()),
        3 => plausible_body().prop_map(|v| v.to_string().into_bytes()),
        2 => bytes(1024),
    ];
    (
        raw_method(),
        raw_target(),
        raw_version(),
        line_end(),
        prop::collection::vec(raw_header(), 0..8),
        prop::bool::weighted(0.9),
        framing(),
        body,
    )
        .prop_map(
            |(method, target, version, eol, headers, host, framing, body)| {
                let mut raw = method;
                raw.push(b' ');
                raw.extend_from_slice(&target);
                raw.push(b' ');
                raw.extend_from_slice(&version);
                raw.extend_from_slice(eol);
                if host {
                    raw.extend_from_slice(b"Host: 127.0.0.1");
                    raw.extend_from_slice(eol);
                }
                let (framing_headers, framed) = frame(&body, &framing);
                let framing_headers = framing_headers
                    .into_iter()
                    .map(|(n, v)| (n.into_bytes(), v.into_bytes()));
                for (name, value) in headers.into_iter().chain(framing_headers) {
                    raw.extend_from_slice(&name);
                    raw.extend_from_slice(b": ");
                    raw.extend_from_slice(&value);
                    raw.extend_from_slice(eol);
                }
                raw.extend_from_slice(eol);
                raw.extend_from_slice(&framed);
                raw
            },
        )
}

/// A request as a client library would send it (token auth, a body it can accept, honest
/// framing), so pipelining, pieces and truncation reach the handlers, not only the parser.
fn well_formed_request() -> impl Strategy<Value = Vec<u8>> {
    (
        path_spec(),
        query(),
        plausible_body(),
        any::<bool>(),
        prop::collection::vec(0usize..200, 1..4),
    )
        .prop_map(|(path, query, body, chunked, sizes)| {
            let method = path.spec_method().unwrap_or("GET");
            let mut url = reqwest::Url::parse("http://127.0.0.1/").unwrap();
            url.set_path(&path.resolve(&[]));
            url.set_query(query.as_deref());
            let target = &url[url::Position::BeforePath..];
            let body = if method == "GET" {
                Vec::new()
            } else {
                body.to_string().into_bytes()
            };
            let framing = if chunked {
                Framing::Chunked {
                    sizes,
                    lie: 0,
                    last: true,
                    extension: false,
                    trailer: false,
                }
            } else {
                Framing::ContentLength(0)
            };
            let (framing_headers, framed) = frame(&body, &framing);
            let mut raw = format!(
                "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Auth-Token: {TOKEN}\r\n\
                 Content-Type: application/json\r\n"
            );
            for (name, value) in framing_headers {
                raw.push_str(&format!("{name}: {value}\r\n"));
            }
            raw.push_str("\r\n");
            let mut raw = raw.into_bytes();
            raw.extend_from_slice(&framed);
            raw
        })
}

fn raw_case() -> impl Strategy<Value = RawCase> {
    let request = prop_oneof![well_formed_request(), raw_request()];
    let stream = prop_oneof![
        8 => prop::collection::vec(request, 1..4).prop_map(|requests| requests.concat()),
        1 => bytes(4096),
        1 => Just(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec()),
    ];
    (
        stream,
        // Where to cut it short, if at all.
        prop::option::weighted(0.3, any::<Index>()),
        prop::collection::vec(any::<Index>(), 0..6),
        prop_oneof![3 => Just(0u64), 1 => 1u64..4],
        prop_oneof![
            3 => Just(Ending::HalfClose),
            1 => Just(Ending::HangUp),
            1 => Just(Ending::Linger),
        ],
    )
        .prop_map(|(mut stream, cut, splits, gap_ms, ending)| {
            if let Some(cut) = cut {
                stream.truncate(cut.index(stream.len() + 1));
            }
            let mut at: Vec<usize> = splits.iter().map(|s| s.index(stream.len() + 1)).collect();
            at.sort_unstable();
            at.dedup();
            let mut pieces = Vec::new();
            let mut from = 0;
            for to in at.into_iter().chain([stream.len()]) {
                if to > from {
                    pieces.push(stream[from..to].to_vec());
                    from = to;
                }
            }
            RawCase {
                pieces,
                gap_ms,
                ending,
            }
        })
}

/// Answers by status (0: none), to show what a run reached.
static RAW_SEEN: Mutex<std::collections::BTreeMap<u16, u64>> =
    Mutex::new(std::collections::BTreeMap::new());

/// The timeouts of the raw-bytes sandbox: short, so a lingering client sees them fire.
const RAW_TIMEOUT: Duration = Duration::from_millis(100);

/// Every status line in what the sandbox sent back.
fn statuses(answer: &[u8]) -> Vec<u16> {
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(offset) = answer[at..].windows(7).position(|w| w == b"HTTP/1.") {
        let start = at + offset;
        let line_start = start == 0 || answer[..start].ends_with(b"\r\n");
        let status = answer
            .get(start + 9..start + 12)
            .and_then(|s| std::str::from_utf8(s).ok())
            .and_then(|s| s.parse().ok());
        if let (true, Some(status)) = (line_start, status) {
            found.push(status);
        }
        at = start + 7;
    }
    found
}

async fn run_raw_case(addr: std::net::SocketAddr, case: &RawCase) -> Result<(), TestCaseError> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| TestCaseError::fail(format!("cannot connect: {e}")))?;
    for (i, piece) in case.pieces.iter().enumerate() {
        if i > 0 && case.gap_ms > 0 {
            tokio::time::sleep(Duration::from_millis(case.gap_ms)).await;
        }
        // The sandbox may rightly close first (a malformed head, a timeout).
        if stream.write_all(piece).await.is_err() {
            break;
        }
    }
    let mut answer = Vec::new();
    match case.ending {
        Ending::HangUp => return Ok(()),
        Ending::HalfClose => {
            let _ = stream.shutdown().await;
        }
        Ending::Linger => {}
    }
    // A lingering client is answered or closed on within the timeouts (a few in sequence
    // for pipelined requests); the rest are closed on as soon as they are answered.
    let read = tokio::time::timeout(Duration::from_secs(3), async {
        let mut buf = [0u8; 8192];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    prop_assert!(
        read.is_ok(),
        "the sandbox neither answered nor closed the connection; it sent {:?}",
        String::from_utf8_lossy(&answer)
    );
    let found = statuses(&answer);
    {
        let mut seen = RAW_SEEN.lock().unwrap();
        if found.is_empty() {
            *seen.entry(0).or_default() += 1;
        }
        for status in &found {
            *seen.entry(*status).or_default() += 1;
        }
    }
    for status in found {
        // 505: hyper's answer to an unknown HTTP version.
        prop_assert!(
            !(500..=599).contains(&status) || status == 505,
            "answered {status}: {:?}",
            String::from_utf8_lossy(&answer)
        );
    }
    Ok(())
}

/// The sandbox still answers a plain request on a fresh connection.
async fn still_answers(addr: std::net::SocketAddr) -> Result<(), TestCaseError> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let probe = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        stream
            .write_all(b"GET /__sandbox/requests HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await?;
        Ok::<_, std::io::Error>(answer)
    };
    match tokio::time::timeout(Duration::from_secs(3), probe).await {
        Ok(Ok(answer)) if answer.starts_with(b"HTTP/1.1 200") => Ok(()),
        other => Err(TestCaseError::fail(format!(
            "the sandbox stopped answering: {other:?}"
        ))),
    }
}

/// Panics anywhere in the process, the sandbox's tasks included (tokio would otherwise keep
/// a panicking connection task to itself).
static PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn record_panics() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let thread = std::thread::current().name().unwrap_or("?").to_owned();
            PANICS
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(format!("{thread}: {info}"));
            default(info);
        }));
    });
}

/// Arbitrary bytes over real sockets: request lines, headers and bodies that are random,
/// malformed, truncated, pipelined, sent in pieces, with bodies that lie about their length
/// (`Content-Length`, chunk sizes, both at once), and clients that half-close, hang up or
/// linger. After each case the sandbox must still answer a plain request; nothing may panic;
/// nothing may answer a 5xx of its own; a lingering client must be answered or closed on
/// within the (shortened) timeouts. At the end a normal signed call must still work.
///
/// `PROPTEST_CASES` sets the case count (default 400, about 10 s in a debug build). A longer
/// run, on this test only:
///
/// ```sh
/// PROPTEST_CASES=100000 cargo test -p hwc-sandbox --test no_panic --release -- raw_bytes
/// ```
#[test]
fn raw_bytes_never_break_the_sandbox() {
    record_panics();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let limits = hwc_sandbox::ConnectionLimits {
        header_timeout: RAW_TIMEOUT,
        idle_timeout: RAW_TIMEOUT,
        body_timeout: RAW_TIMEOUT,
        ..hwc_sandbox::ConnectionLimits::default()
    };
    let (sandbox, _time, env) = runtime.block_on(support::start_with_limits(
        Scenario::default_scenario(),
        13,
        limits,
    ));
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(400);
    let mut runner = TestRunner::new(ProptestConfig {
        cases,
        failure_persistence: None,
        max_shrink_iters: 500,
        // A case that hangs costs seconds to retry; a minute of shrinking is plenty.
        max_shrink_time: 60_000,
        ..ProptestConfig::default()
    });
    let addr = sandbox.addr;
    let outcome = runner.run(&raw_case(), |case| {
        runtime.block_on(async {
            run_raw_case(addr, &case).await?;
            still_answers(addr).await
        })
    });
    if let Err(error) = outcome {
        panic!("{error}");
    }
    let panics = PANICS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    assert!(panics.is_empty(), "panics during the run: {panics:#?}");
    eprintln!(
        "answers by status (0: none): {:?}",
        RAW_SEEN.lock().unwrap()
    );
    eprintln!("requests by operation: {:?}", sandbox.request_counts());

    runtime.block_on(async move {
        let client = support::signed_client(&sandbox, &env);
        let started = client
            .execute_workflow(&ExecuteWorkflowParams {
                workflow_id: "wf-success".into(),
            })
            .await
            .unwrap();
        assert!(started.body.execution_id.is_some());
        tokio::time::timeout(Duration::from_secs(5), sandbox.shutdown())
            .await
            .expect("shutdown hung after the run")
            .unwrap();
    });
}
