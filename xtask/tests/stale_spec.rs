#![allow(clippy::expect_used, clippy::unwrap_used)]
//! A spec change without regeneration fails the check, naming the stale file; regenerating
//! updates the client.

use std::fs;
use std::path::Path;

use xtask::{codegen, workspace_root, Mode};

fn copy(from_root: &Path, to_root: &Path, relative: &str) {
    let from = from_root.join(relative);
    let to = to_root.join(relative);
    if from.is_dir() {
        for entry in fs::read_dir(&from).unwrap() {
            let name = entry.unwrap().file_name();
            copy(
                from_root,
                to_root,
                &format!("{relative}/{}", name.to_string_lossy()),
            );
        }
    } else {
        fs::create_dir_all(to.parent().unwrap()).unwrap();
        fs::copy(&from, &to).unwrap();
    }
}

#[test]
fn adding_a_status_value_makes_the_check_fail_until_regenerated() {
    let real = workspace_root();
    let scratch = tempfile::tempdir().unwrap();
    let root = scratch.path();
    for part in [
        "spec",
        "crates/client/src/generated",
        "crates/codegen/tests/fixture.openapi.yaml",
        "crates/client/tests/fixture_client",
    ] {
        copy(&real, root, part);
    }
    codegen(root, Mode::Check).expect("a faithful copy is fresh");

    let spec_path = root.join("spec/workflows.openapi.yaml");
    let spec = fs::read_to_string(&spec_path).unwrap();
    let anchor = "        - canceling\n";
    assert!(
        spec.contains(anchor),
        "the AOM status enum lists `canceling`"
    );
    fs::write(
        &spec_path,
        spec.replacen(anchor, "        - canceling\n        - hibernating\n", 1),
    )
    .unwrap();

    let error = codegen(root, Mode::Check).unwrap_err().to_string();
    assert!(
        error.contains("crates/client/src/generated/models.rs"),
        "{error}"
    );
    assert!(error.contains("cargo xtask codegen"), "{error}");

    codegen(root, Mode::Write).unwrap();
    let models = fs::read_to_string(root.join("crates/client/src/generated/models.rs")).unwrap();
    assert!(models.contains("Hibernating"));
    assert!(models.contains("\"hibernating\" => Self::Hibernating"));
    codegen(root, Mode::Check).expect("fresh after regeneration");
}

/// A generated file broken as a rebase leaves it (conflict markers) is rewritten: `xtask`
/// links only the generator, so it builds however broken the client is.
#[test]
fn codegen_repairs_a_broken_generated_file() {
    let real = workspace_root();
    let scratch = tempfile::tempdir().unwrap();
    let root = scratch.path();
    for part in [
        "spec",
        "crates/client/src/generated",
        "crates/codegen/tests/fixture.openapi.yaml",
        "crates/client/tests/fixture_client",
    ] {
        copy(&real, root, part);
    }
    let models = root.join("crates/client/src/generated/models.rs");
    let text = fs::read_to_string(&models).unwrap();
    fs::write(
        &models,
        format!("<<<<<<< HEAD\n{text}=======\npub struct Half {{\n>>>>>>> theirs\n"),
    )
    .unwrap();
    let error = codegen(root, Mode::Check).unwrap_err().to_string();
    assert!(error.contains("models.rs"), "{error}");

    codegen(root, Mode::Write).unwrap();
    assert_eq!(fs::read_to_string(&models).unwrap(), text);
    codegen(root, Mode::Check).expect("repaired");

    let manifest = fs::read_to_string(real.join("xtask/Cargo.toml")).unwrap();
    let dependencies = manifest
        .split("[dependencies]")
        .nth(1)
        .and_then(|rest| rest.split("\n[").next())
        .unwrap();
    let ours: Vec<&str> = dependencies
        .lines()
        .filter(|line| line.starts_with("hwc-") || line.starts_with("runbook-"))
        .collect();
    assert_eq!(ours, ["hwc-codegen.workspace = true"], "{dependencies}");
}
