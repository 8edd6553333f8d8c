#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The generator's snapshot, compiled and called: `fixture_client/` is what
//! `cargo xtask codegen` makes of `crates/codegen/tests/fixture.openapi.yaml`, a spec that uses
//! every construct the generator supports. The freshness check keeps the snapshot exact; this
//! test proves it compiles and behaves.

mod support;

// A test crate uses only part of a generated client.
#[allow(dead_code)]
#[rustfmt::skip]
#[path = "fixture_client/mod.rs"]
mod fixture;

use std::time::Duration;

use fixture::models::{Mode, NewThing, Part, PartState};
use fixture::operations::{CreateThingParams, GetThingParams, PingParams};
use hwc_client::runtime::{ParamKind, ParamLocation, WaiterError};
use hwc_client::ApiError;
use serde_json::json;
use support::{virtual_env, Answer, ScriptedServer, PROJECT_ID};

fn fixture_client(server: &ScriptedServer) -> fixture::Client {
    let generated = server.client(virtual_env().0, |_| {});
    fixture::Client::new(generated.transport().clone())
}

fn get_params() -> GetThingParams {
    GetThingParams {
        thing_id: "t 1/é".into(),
        limit: Some(5),
        offset: Some(9_000_000_000),
        ratio: Some(0.5),
        verbose: Some(true),
        mode: Mode::DeepScan,
        x_trace_id: Some("trace-1".into()),
    }
}

#[tokio::test]
async fn every_parameter_kind_reaches_the_wire_and_every_field_kind_parses() {
    let server = ScriptedServer::start().await;
    server.push(Answer::json(
        200,
        json!({
            "id": "t1", "state": "ready", "type": "keyword", "createdAt": 1700000000000_i64,
            "score": 0.25, "enabled": false, "tags": ["a"],
            "parts": [{"state": "pending", "name": "p"}, {"state": "melted"}],
            "attributes": {"k": [1, 2]}, "anything": "text", "unknownField": 1
        }),
    ));
    let client = fixture_client(&server);

    let thing = client.get_thing(&get_params()).await.unwrap().body;

    let request = &server.requests()[0];
    assert_eq!(request.method, "GET");
    assert_eq!(
        request.path,
        format!("/v1/{PROJECT_ID}/things/t%201%2F%C3%A9")
    );
    assert_eq!(
        request.query,
        "limit=5&mode=deepScan&offset=9000000000&ratio=0.5&verbose=true"
    );
    assert_eq!(request.header("x-trace-id"), Some("trace-1"));
    request.verify_signature().unwrap();

    assert_eq!(thing.r#type.as_deref(), Some("keyword"));
    assert_eq!(thing.created_at, Some(1_700_000_000_000));
    let parts = thing.parts.unwrap();
    assert_eq!(parts[0].state, PartState::Pending);
    assert_eq!(parts[1].state, PartState::Unknown("melted".into()));
    assert_eq!(thing.attributes, Some(json!({"k": [1, 2]})));
    assert_eq!(thing.anything, Some(json!("text")));
}

#[tokio::test]
async fn limits_are_checked_before_anything_is_sent() {
    let server = ScriptedServer::start().await;
    let client = fixture_client(&server);

    let too_long = GetThingParams {
        thing_id: "123456789".into(),
        ..get_params()
    };
    let error = client.get_thing(&too_long).await.unwrap_err();
    assert!(
        matches!(&error, ApiError::InvalidParameter { name, .. } if name == "thing_id"),
        "{error}"
    );

    let out_of_range = GetThingParams {
        limit: Some(0),
        ..get_params()
    };
    let error = client.get_thing(&out_of_range).await.unwrap_err();
    assert!(error.to_string().contains("limit"), "{error}");
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn a_post_sends_its_body_and_headers_to_its_own_service() {
    let alpha = ScriptedServer::start().await;
    let beta = ScriptedServer::start().await;
    beta.push(Answer::json(201, json!({"id": "new", "state": "pending"})));
    let client = {
        let generated = alpha.client(virtual_env().0, |config| {
            config.service_endpoints.insert("beta".into(), beta.url());
        });
        fixture::Client::new(generated.transport().clone())
    };
    let params = CreateThingParams {
        x_request_token: "tok-1".into(),
        body: NewThing {
            name: "n".into(),
            mode: Some(Mode::V2pass),
            parts: Some(vec![Part {
                state: PartState::Ready,
                name: None,
            }]),
        },
    };

    let created = client.create_thing(&params).await.unwrap();

    assert_eq!(created.status, 201);
    assert!(alpha.requests().is_empty());
    let request = &beta.requests()[0];
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", &*format!("/v2/{PROJECT_ID}/things"))
    );
    assert_eq!(
        request.json_body(),
        json!({"name": "n", "mode": "2pass", "parts": [{"state": "ready"}]})
    );
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.header("x-request-token"), Some("tok-1"));
    request.verify_signature().unwrap();
}

#[tokio::test]
async fn no_parameters_no_body_and_an_empty_answer() {
    let server = ScriptedServer::start().await;
    server.push(Answer::raw(204, ""));
    let client = fixture_client(&server);

    let pong = client.ping(&PingParams { body: None }).await.unwrap();

    assert_eq!((pong.status, pong.body), (204, serde_json::Value::Null));
    let request = &server.requests()[0];
    assert_eq!(
        (
            request.method.as_str(),
            request.path.as_str(),
            request.body.len()
        ),
        ("DELETE", "/v2/ping", 0)
    );
}

#[tokio::test]
async fn waiter_comparators_any_and_all() {
    let server = ScriptedServer::start().await;
    server.push(Answer::json(
        200,
        json!({"id": "t", "state": "x", "parts": [{"state": "pending"}]}),
    ));
    server.push(Answer::json(
        200,
        json!({"id": "t", "state": "x", "parts": [{"state": "ready"}, {"state": "broken"}]}),
    ));
    let client = fixture_client(&server);

    let error = client
        .wait_until_thing_ready(&get_params(), Duration::from_secs(30))
        .await
        .unwrap_err();

    assert!(
        matches!(&error, WaiterError::Failure { polls: 2, value, .. } if value == "ready, broken"),
        "{error}"
    );
}

#[test]
fn a_waiter_names_the_values_it_stops_at() {
    use hwc_client::runtime::AcceptorState::{Failure, Success};
    let waiter = fixture::catalogue::operation("GetThing").unwrap().waiters[0];
    // Success and failure `stringEquals` acceptors on the path, in spec order; the `retry`
    // one (`warming`) keeps polling, so it is no terminal value.
    assert_eq!(
        waiter.stops_at("state").collect::<Vec<_>>(),
        [("ready", Success), ("scrapped", Failure)]
    );
    assert_eq!(
        waiter.terminal_values("state").collect::<Vec<_>>(),
        ["ready", "scrapped"]
    );
    // `anyStringEquals` / `allStringEquals` look at many values at once: none of them alone
    // ends the waiter.
    assert_eq!(waiter.stops_at("parts[].state").count(), 0);
    assert_eq!(waiter.stops_at("no.such.path").count(), 0);
}

#[test]
fn operation_ids_name_every_operation_and_parse_back() {
    use fixture::catalogue::{OperationId, OPERATIONS};
    assert_eq!(
        OperationId::ALL,
        [
            OperationId::GetThing,
            OperationId::CreateThing,
            OperationId::Ping
        ]
    );
    assert_eq!(OperationId::ALL.len(), OPERATIONS.len());
    for (&id, &meta) in OperationId::ALL.iter().zip(OPERATIONS) {
        assert!(std::ptr::eq(id.meta(), meta), "{id}");
        assert_eq!((id.as_str(), id.to_string()), (meta.id, meta.id.to_owned()));
        assert_eq!(meta.id.parse::<OperationId>(), Ok(id));
    }
    // The spec's spelling exactly: ids are case-sensitive, as `catalogue::operation` is.
    let unknown = "getThing".parse::<OperationId>().unwrap_err();
    assert_eq!(
        unknown.to_string(),
        "`getThing` is not an operation of the spec"
    );
    assert!(fixture::catalogue::operation("getThing").is_none());
}

#[tokio::test]
async fn the_catalogue_invokes_by_id_with_json() {
    let server = ScriptedServer::start().await;
    server.push(Answer::json(201, json!({"id": "j", "state": "ready"})));
    let client = fixture_client(&server);

    let params = json!({"x_request_token": "t", "body": {"name": "from-json"}});
    let response = fixture::catalogue::invoke(&client, "CreateThing", params)
        .await
        .unwrap();

    assert_eq!(response.body, json!({"id": "j", "state": "ready"}));
    assert_eq!(
        server.requests()[0].json_body(),
        json!({"name": "from-json"})
    );
}

#[test]
fn the_catalogue_describes_every_operation() {
    use fixture::catalogue;
    let names: Vec<_> = catalogue::SERVICES.iter().map(|s| s.name).collect();
    assert_eq!(names, ["alpha", "beta"]);
    let ids: Vec<_> = catalogue::OPERATIONS.iter().map(|op| op.id).collect();
    assert_eq!(ids, ["GetThing", "CreateThing", "Ping"]);

    let get = catalogue::operation("GetThing").unwrap();
    assert!(get.is_read_only());
    assert_eq!(get.error_statuses, [404]);
    assert_eq!(get.waiters[0].name, "ThingReady");
    let project = &get.params[0];
    assert_eq!(
        (project.location, project.client_param),
        (ParamLocation::Path, Some("project_id"))
    );
    let mode = get.params.iter().find(|p| p.name == "mode").unwrap();
    assert_eq!(mode.kind, ParamKind::Enum(&["fast", "deepScan", "2pass"]));

    let create = catalogue::operation("CreateThing").unwrap();
    assert!(!create.is_read_only());
    assert_eq!(
        (
            create.success_status,
            create.body.as_ref().unwrap().type_name
        ),
        (201, "NewThing")
    );

    let schema = serde_json::to_value(catalogue::params_schema("GetThing").unwrap()).unwrap();
    assert!(schema["required"]
        .as_array()
        .unwrap()
        .contains(&json!("mode")));
    assert!(schema["properties"].get("thing_id").is_some());
    assert!(
        schema["properties"].get("project_id").is_none(),
        "the client fills project_id"
    );
    assert!(catalogue::params_schema("Nope").is_none());
}

#[test]
fn enums_are_open() {
    assert_eq!(Mode::from("2pass"), Mode::V2pass);
    assert_eq!(Mode::from("brandNew").as_str(), "brandNew");
    let parsed: Mode = serde_json::from_value(json!("deepScan")).unwrap();
    assert_eq!(
        (parsed.to_string(), serde_json::to_value(&parsed).unwrap()),
        ("deepScan".to_owned(), json!("deepScan"))
    );
}
