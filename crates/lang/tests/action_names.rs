#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Tidy: the action names, in every place they live, are the same names.
//!
//! - the model: `Step`'s serde field names, `ACTION_KEYS`, `Action::key`;
//! - the JSON Schema (`runbook_lang::schema()`, which `runbooks/schema.json` is kept equal to
//!   by `schema_fresh.rs`): one property and one `oneOf` branch per action;
//! - the checker's walk of a step's strings (`check/texts.rs`) and this test read
//!   `fixtures/every_field.yaml`, which uses every action;
//! - the runner's `actions::execute` is an exhaustive `match` on `Action`, so the compiler
//!   ties it to the model, and `crates/runner/tests/result_fields.rs` runs every action;
//! - the README's table of actions: one row per action, with the fields the schema has.
//!
//! Each check is a function of its inputs, so the last tests plant a drift in a copy and
//! show the check names it.

use std::collections::BTreeSet;

use runbook_lang::{parse_with_loader, InMemory, Step, ACTION_KEYS};
use serde_json::Value;

const EVERY_FIELD: &str = include_str!("fixtures/every_field.yaml");
const EVERY_FIELD_CHILD: &str = include_str!("fixtures/every_field_child.yaml");
const README: &str = include_str!("../../../README.md");

/// The options every step has, besides its one action.
const STEP_OPTIONS: &[&str] = &[
    "id",
    "name",
    "when",
    "for_each",
    "as",
    "repeat",
    "concurrency",
    "max_errors",
    "fail_fast",
    "retry",
    "timeout",
    "on_failure",
    "target",
];

fn keys() -> BTreeSet<String> {
    ACTION_KEYS.iter().map(|key| (*key).to_owned()).collect()
}

fn every_field_steps() -> Vec<Step> {
    let files = InMemory::new([
        ("every_field.yaml", EVERY_FIELD),
        ("every_field_child.yaml", EVERY_FIELD_CHILD),
    ]);
    parse_with_loader(&files.root("every_field.yaml").unwrap(), &files)
        .unwrap()
        .0
        .steps
}

fn schema() -> Value {
    serde_json::to_value(runbook_lang::schema()).unwrap()
}

/// The model: each step of the fixture serialises its action under `Action::key`, and the
/// fixture uses every action.
fn model_drifts(keys: &BTreeSet<String>, steps: &[Step]) -> Vec<String> {
    let mut drifts = Vec::new();
    let mut used = BTreeSet::new();
    for step in steps {
        let Some(action) = step.action() else {
            drifts.push(format!("step `{}` has no single action", step.id));
            continue;
        };
        let Value::Object(fields) = serde_json::to_value(step).unwrap() else {
            unreachable!("a step serialises to an object");
        };
        let written: BTreeSet<&str> = fields
            .keys()
            .map(String::as_str)
            .filter(|field| !STEP_OPTIONS.contains(field))
            .collect();
        if written != BTreeSet::from([action.key()]) {
            drifts.push(format!(
                "step `{}`: `Action::key` is `{}` but serde writes {written:?}",
                step.id,
                action.key()
            ));
        }
        used.insert(action.key().to_owned());
    }
    for key in keys.difference(&used) {
        drifts.push(format!("fixtures/every_field.yaml never uses `{key}`"));
    }
    for key in used.difference(keys) {
        drifts.push(format!(
            "`{key}` is an action of the model but not in ACTION_KEYS"
        ));
    }
    drifts
}

/// The schema: a property and a `oneOf` branch per action, and no other property.
fn schema_drifts(keys: &BTreeSet<String>, schema: &Value) -> Vec<String> {
    let step = &schema["$defs"]["Step"];
    let properties: BTreeSet<String> = step["properties"]
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    let actions: BTreeSet<String> = properties
        .iter()
        .filter(|p| !STEP_OPTIONS.contains(&p.as_str()))
        .cloned()
        .collect();
    let one_of: BTreeSet<String> = step["oneOf"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|branch| branch["required"][0].as_str().map(str::to_owned))
        .collect();
    let mut drifts = Vec::new();
    if actions != *keys {
        drifts.push(format!(
            "the schema's step properties {actions:?} are not the actions {keys:?}"
        ));
    }
    if one_of != *keys {
        drifts.push(format!(
            "the schema's `oneOf` requires {one_of:?}, not the actions {keys:?}"
        ));
    }
    drifts
}

/// The fields of an action in the schema (`None` for an action that is not an object).
fn schema_fields(schema: &Value, key: &str) -> Option<BTreeSet<String>> {
    let property = &schema["$defs"]["Step"]["properties"][key];
    let reference = property["anyOf"]
        .as_array()?
        .iter()
        .find_map(|branch| branch["$ref"].as_str())?;
    let name = reference.strip_prefix("#/$defs/")?;
    let fields = schema["$defs"][name]["properties"].as_object()?;
    Some(fields.keys().cloned().collect())
}

/// The README's table of actions: `| \`KEY: {f, g}\` | … |` or `| \`KEY: text\` | … |`.
fn readme_rows(readme: &str) -> Vec<(String, Option<BTreeSet<String>>)> {
    let Some(start) = readme.find("**Actions**") else {
        return Vec::new();
    };
    readme[start..]
        .lines()
        .skip_while(|line| !line.starts_with('|'))
        .take_while(|line| line.starts_with('|'))
        .filter_map(|line| {
            let cell = line.strip_prefix("| `")?;
            let (key, rest) = cell.split_once(':')?;
            let written = rest.split('`').next().unwrap_or_default().trim();
            let fields = written
                .strip_prefix('{')
                .and_then(|inner| inner.strip_suffix('}'))
                .filter(|inner| !inner.contains(':'))
                .map(|inner| inner.split(',').map(|f| f.trim().to_owned()).collect());
            Some((key.to_owned(), fields))
        })
        .collect()
}

/// The README: one row per action, each object action with the schema's fields.
fn readme_drifts(keys: &BTreeSet<String>, schema: &Value, readme: &str) -> Vec<String> {
    let rows = readme_rows(readme);
    let documented: BTreeSet<String> = rows.iter().map(|(key, _)| key.clone()).collect();
    let mut drifts = Vec::new();
    for key in keys.difference(&documented) {
        drifts.push(format!(
            "the README's table of actions has no row for `{key}`"
        ));
    }
    for key in documented.difference(keys) {
        drifts.push(format!(
            "the README documents `{key}`, which is not an action"
        ));
    }
    for (key, fields) in rows {
        if let (Some(fields), Some(expected)) = (fields, schema_fields(schema, &key)) {
            if fields != expected {
                drifts.push(format!(
                    "the README gives `{key}` the fields {fields:?}; the schema has {expected:?}"
                ));
            }
        }
    }
    drifts
}

#[test]
fn the_model_the_schema_and_the_readme_name_the_same_actions() {
    let (keys, schema) = (keys(), schema());
    let drifts: Vec<String> = [
        model_drifts(&keys, &every_field_steps()),
        schema_drifts(&keys, &schema),
        readme_drifts(&keys, &schema, README),
    ]
    .concat();
    assert!(drifts.is_empty(), "{drifts:#?}");
    // Not vacuous: every action has a README row, and the object ones had fields compared.
    assert_eq!(readme_rows(README).len(), ACTION_KEYS.len());
    assert!(
        ACTION_KEYS
            .iter()
            .filter(|key| schema_fields(&schema, key).is_some())
            .count()
            >= 10
    );
}

#[test]
fn an_action_missing_from_the_schema_is_named() {
    let mut schema = schema();
    let branches = schema["$defs"]["Step"]["oneOf"].as_array_mut().unwrap();
    branches.retain(|branch| branch["required"][0] != "aom.stop");
    let drifts = schema_drifts(&keys(), &schema);
    assert_eq!(drifts.len(), 1, "{drifts:?}");
    assert!(drifts[0].contains("`oneOf`"), "{drifts:?}");
}

#[test]
fn a_new_action_the_fixture_and_readme_lack_is_named() {
    let mut keys = keys();
    keys.insert("aom.pause".to_owned());
    let schema = schema();
    let model = model_drifts(&keys, &every_field_steps());
    assert_eq!(
        model,
        ["fixtures/every_field.yaml never uses `aom.pause`"],
        "{model:?}"
    );
    let readme = readme_drifts(&keys, &schema, README);
    assert!(
        readme.contains(&"the README's table of actions has no row for `aom.pause`".to_owned()),
        "{readme:?}"
    );
    assert!(!schema_drifts(&keys, &schema).is_empty());
}

#[test]
fn a_readme_row_with_a_field_too_few_is_named() {
    let readme = README.replace(
        "| `aom.node: {workflow_id, execution_id, node_id, action}` |",
        "| `aom.node: {workflow_id, execution_id, node_id}` |",
    );
    assert_ne!(readme, README, "the planted drift must change the README");
    let drifts = readme_drifts(&keys(), &schema(), &readme);
    assert_eq!(drifts.len(), 1, "{drifts:?}");
    assert!(drifts[0].contains("`aom.node`"), "{drifts:?}");
}
