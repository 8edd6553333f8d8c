#![allow(clippy::expect_used, clippy::unwrap_used)]
//! The generator refuses what it cannot generate, naming each problem's JSON pointer, all at
//! once.

use hwc_codegen::{load, SpecProblem};

const HEADER: &str = "openapi: 3.0.3
info: {title: t, version: '1'}
servers:
  - {url: 'https://a.{region}.example.com', x-service: a}
";

fn problems(body: &str) -> Vec<SpecProblem> {
    match load(&format!("{HEADER}{body}")) {
        Ok(_) => panic!("spec was accepted:\n{body}"),
        Err(problems) => problems,
    }
}

fn assert_problem(problems: &[SpecProblem], pointer: &str, needle: &str) {
    assert!(
        problems
            .iter()
            .any(|p| p.pointer == pointer && p.message.contains(needle)),
        "no problem at {pointer} containing {needle:?}; got:\n{}",
        problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
}

const OK_RESPONSE: &str = "responses: {'200': {description: ok}}";

#[test]
fn duplicate_operation_ids_name_both_places() {
    let found = problems(&format!(
        "paths:
  /a:
    get: {{operationId: Same, x-service: a, {OK_RESPONSE}}}
  /b:
    get: {{operationId: Same, x-service: a, {OK_RESPONSE}}}
"
    ));
    assert_problem(
        &found,
        "/paths/~1b/get/operationId",
        "already used at /paths/~1a/get",
    );
}

#[test]
fn dangling_refs_untyped_parameters_and_inline_enums_are_all_reported() {
    let found = problems(&format!(
        "paths:
  /x/{{id}}:
    post:
      operationId: Op
      x-service: a
      parameters:
        - {{name: id, in: path, required: true, schema: {{}}}}
        - {{name: mode, in: query, schema: {{type: string, enum: [a, b]}}}}
      requestBody:
        content:
          application/json:
            schema: {{$ref: '#/components/schemas/Missing'}}
      {OK_RESPONSE}
"
    ));
    assert_problem(
        &found,
        "/paths/~1x~1{id}/post/parameters/0/schema",
        "parameters must be strings",
    );
    assert_problem(
        &found,
        "/paths/~1x~1{id}/post/parameters/1/schema",
        "inline enums",
    );
    assert_problem(
        &found,
        "/paths/~1x~1{id}/post/requestBody/content/application~1json/schema",
        "no schema named `Missing`",
    );
    assert_eq!(found.len(), 3, "{found:?}");
}

#[test]
fn operations_must_name_a_declared_service_and_fill_every_placeholder() {
    let found = problems(&format!(
        "paths:
  /x/{{id}}:
    get: {{operationId: Op, x-service: nope, {OK_RESPONSE}}}
  /y/{{id}}:
    get: {{operationId: Other, x-service: a, {OK_RESPONSE}}}
"
    ));
    assert_problem(
        &found,
        "/paths/~1x~1{id}/get/x-service",
        "`nope` is not declared",
    );
    assert_problem(
        &found,
        "/paths/~1y~1{id}/get/parameters",
        "`{id}` has no path parameter",
    );
}

#[test]
fn schemas_and_waiters_are_validated() {
    let found = problems(
        "paths:
  /s:
    get:
      operationId: Status
      x-service: a
      x-waiters:
        Done:
          minDelay: 5
          maxDelay: 1
          acceptors: [{state: success, matcher: {path: s, comparator: stringEquals, expected: ok}}]
        Bad:
          minDelay: 1
          maxDelay: 2
          acceptors: [{state: maybe, matcher: {path: s, comparator: stringEquals, expected: ok}}]
      responses:
        '200':
          description: ok
          content: {application/json: {schema: {$ref: '#/components/schemas/Out'}}}
components:
  schemas:
    Out:
      type: object
      required: [missing]
      properties:
        nested: {type: object, properties: {a: {type: string}}}
    Clash:
      type: string
      enum: [a-b, a_b]
",
    );
    assert_problem(
        &found,
        "/paths/~1s/get/x-waiters",
        "unknown acceptor state `maybe`",
    );
    assert_problem(
        &found,
        "/components/schemas/Out/required/0",
        "`missing` is not among the properties",
    );
    assert_problem(
        &found,
        "/components/schemas/Out/properties/nested",
        "inline objects",
    );
    assert_problem(
        &found,
        "/components/schemas/Clash/enum/1",
        "variant name `AB`",
    );
}

#[test]
fn yaml_errors_give_line_and_column() {
    let found = load("openapi: 3.0.3\ninfo: {title: t\n").unwrap_err();
    assert_eq!(found.len(), 1);
    assert!(found[0].message.contains("line 2"), "{}", found[0]);
}

#[test]
fn the_real_spec_and_the_fixture_load() {
    for path in [
        "../../spec/workflows.openapi.yaml",
        "tests/fixture.openapi.yaml",
    ] {
        let text =
            std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        let api = load(&text).unwrap_or_else(|p| panic!("{path}: {p:?}"));
        assert!(!api.operations.is_empty());
    }
}

#[test]
fn generated_code_never_unwraps_or_expects() {
    let options = hwc_codegen::Options {
        runtime_path: "crate::runtime".to_owned(),
        source_name: "spec".to_owned(),
    };
    for path in [
        "../../spec/workflows.openapi.yaml",
        "tests/fixture.openapi.yaml",
    ] {
        let text =
            std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        for file in hwc_codegen::generate(&text, &options).unwrap() {
            for needle in [".unwrap()", ".expect(", "panic!(", "unreachable!("] {
                assert!(
                    !file.contents.contains(needle),
                    "{path} → {} contains {needle}",
                    file.name
                );
            }
        }
    }
}
