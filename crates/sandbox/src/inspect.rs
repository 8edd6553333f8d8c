//! Inspection for tests and demos, under `/__sandbox/`: request counts per operation and the
//! executions with their states. Unauthenticated, so it answers loopback peers only.

use std::net::SocketAddr;

use axum::body::Body;
use axum::http::Response;
use serde_json::{json, Value};

use crate::server::{Shared, ADMIN_PREFIX};

pub fn answer(shared: &Shared, peer: SocketAddr, method: &str, path: &str) -> Response<Body> {
    if !peer.ip().is_loopback() {
        return respond(
            403,
            &json!({"error_msg": "the sandbox's inspection routes answer loopback clients only"}),
        );
    }
    if method != "GET" {
        return respond(
            405,
            &json!({"error_msg": "inspection routes are read-only (GET)"}),
        );
    }
    match path.strip_prefix(ADMIN_PREFIX) {
        Some("requests") => respond(200, &json!(shared.world().requests)),
        Some("executions") => respond(200, &executions(shared)),
        _ => respond(
            404,
            &json!({"error_msg": "known routes: /__sandbox/requests, /__sandbox/executions"}),
        ),
    }
}

/// Every execution, advanced to now.
pub fn executions(shared: &Shared) -> Value {
    let now = shared.now_ms();
    let mut world = shared.world();
    let aom: Vec<Value> = world
        .aom
        .values_mut()
        .map(|e| {
            e.advance(now);
            e.detail()
        })
        .collect();
    let fg: Vec<Value> = world
        .fg
        .values_mut()
        .map(|e| {
            e.advance(now);
            e.detail()
        })
        .collect();
    json!({"aom": aom, "functiongraph": fg})
}

/// The most AOM executions of `workflow_id` that ran at one moment, from what
/// [`executions`] (and `/__sandbox/executions`) reports: each one's begin and end time, one
/// that has not ended counting to now. A slot freed and taken in the same millisecond counts
/// once. This is how tests and demos show what `concurrency` bounds.
pub fn most_running_at_once(executions: &Value, workflow_id: &str) -> usize {
    let mut edges: Vec<(i64, i32)> = Vec::new();
    for execution in executions["aom"].as_array().into_iter().flatten() {
        if execution["workflow_id"] != workflow_id {
            continue;
        }
        let Some(begin) = execution["begin_time"].as_i64() else {
            continue;
        };
        let end = execution["end_time"].as_i64().unwrap_or(i64::MAX);
        edges.push((begin, 1));
        edges.push((end, -1));
    }
    // An end sorts before a begin at the same instant.
    edges.sort();
    let (mut now, mut most) = (0i32, 0i32);
    for (_, change) in edges {
        now += change;
        most = most.max(now);
    }
    usize::try_from(most).unwrap_or(0)
}

fn respond(status: u16, body: &Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("Content-Type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap_or_default()
}
