//! The floor of bench/compare.sh: start one execution, then read its status N times in a
//! plain loop, each request signed with AK/SK and sent over one keep-alive connection. No
//! typed client, no retries, no runbook: what the same N calls cost at the least.
//!
//!   cargo run --release -p hwc-sandbox --example status_loop -- URL N [WORKFLOW]
//!
//! The credentials and project are the built-in scenario's (bench/scenario.yaml keeps them).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;

const PROJECT: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";
const AK: &str = "SANDBOXAKEXAMPLE0001";
const SK: &str = "sandbox-secret-key-0001";

/// One signed request, as the SDKs send it: `Host`, `X-Project-Id` and `X-Sdk-Date` signed.
fn signed(http: &reqwest::Client, method: reqwest::Method, url: &url::Url) -> reqwest::Request {
    let host = match url.port() {
        Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_owned(),
    };
    let mut headers = vec![
        ("Host".to_owned(), host),
        ("X-Project-Id".to_owned(), PROJECT.to_owned()),
        (
            hwc_signer::DATE_HEADER.to_owned(),
            hwc_signer::format_sdk_date(time::OffsetDateTime::now_utc()),
        ),
    ];
    let parts = hwc_signer::RequestParts {
        method: method.as_str(),
        path: url.path(),
        query: &[],
        headers: &headers,
        body: b"",
    };
    let authorization = hwc_signer::sign(&parts, AK, SK).authorization;
    headers.push(("Authorization".to_owned(), authorization));
    let mut builder = http.request(method, url.clone());
    for (name, value) in headers {
        // reqwest writes `Host` from the URL itself; the signed value is the same text.
        if name != "Host" {
            builder = builder.header(name, value);
        }
    }
    builder.body(Vec::new()).build().unwrap_or_else(|error| {
        eprintln!("status_loop: cannot build a request: {error}");
        std::process::exit(2)
    })
}

async fn send(http: &reqwest::Client, request: reqwest::Request) -> Result<Vec<u8>, String> {
    let response = http.execute(request).await.map_err(|e| e.to_string())?;
    let status = response.status();
    let body = response.bytes().await.map_err(|e| e.to_string())?;
    if status.is_success() {
        Ok(body.to_vec())
    } else {
        Err(format!("HTTP {status}: {}", String::from_utf8_lossy(&body)))
    }
}

async fn run(base: &str, count: u64, workflow: &str) -> Result<(), String> {
    let base = url::Url::parse(base).map_err(|e| format!("`{base}`: {e}"))?;
    let http = reqwest::Client::new();
    let executions = base
        .join(&format!("/v1/{PROJECT}/cms/workflow/{workflow}/executions"))
        .map_err(|e| e.to_string())?;
    let started = send(&http, signed(&http, reqwest::Method::POST, &executions)).await?;
    let started: serde_json::Value = serde_json::from_slice(&started).map_err(|e| e.to_string())?;
    let execution_id = started["execution_id"]
        .as_str()
        .ok_or("the start answered no execution_id")?;
    let status = base
        .join(&format!(
            "/v1/{PROJECT}/cms/workflow/{workflow}/executions/{execution_id}/status"
        ))
        .map_err(|e| e.to_string())?;
    for _ in 0..count {
        // Parsed, as every other contender must read the answer to use it.
        let body = send(&http, signed(&http, reqwest::Method::GET, &status)).await?;
        let detail: serde_json::Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        std::hint::black_box(detail);
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(base), Some(Ok(count))) = (args.first(), args.get(1).map(|n| n.parse::<u64>()))
    else {
        eprintln!("usage: status_loop URL N [WORKFLOW]");
        return ExitCode::from(2);
    };
    let workflow = args.get(2).map_or("wf-bench", String::as_str);
    // One thread: a loop of sequential requests gains nothing from more.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("status_loop: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(base, count, workflow)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("status_loop: {error}");
            ExitCode::FAILURE
        }
    }
}
