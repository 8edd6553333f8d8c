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

fn respond(status: u16, body: &Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("Content-Type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap_or_default()
}
