#![allow(clippy::expect_used, clippy::unwrap_used)]
//! An operation added to the spec must fail to build the sandbox until the sandbox emulates
//! it. The generated `catalogue::OperationId` has one variant per operation, and the sandbox's
//! `execute` (`crates/sandbox/src/server.rs`) matches on it with no wildcard arm, so the
//! compiler refuses a variant no arm names.
//!
//! Proving that end to end means compiling the sandbox, whose dependencies (axum, hyper,
//! reqwest, rustls, …) take minutes to build in a fresh target directory. So it is split:
//!
//! - always run, in milliseconds: the match in `execute` has no wildcard or catch-all binding
//!   and names every operation of the spec (parsed with `syn`), each shown failing on a planted
//!   drift; and a spec with one more operation generates one more variant, which that match
//!   does not name.
//! - `#[ignore]`d, minutes: a scratch copy of the workspace with that operation added is
//!   regenerated and `cargo check -p hwc-sandbox` must fail with a non-exhaustive match naming
//!   the new variant:
//!
//!   ```sh
//!   cargo test -p xtask --test exhaustive_dispatch -- --ignored
//!   ```
//!
//!   It builds in a target directory of its own (`cargo test` holds the workspace's);
//!   `EXHAUSTIVE_DISPATCH_TARGET_DIR=/some/dir` keeps one between runs.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::process::Command;

use xtask::{codegen, workspace_root, Mode};

const SERVER: &str = "crates/sandbox/src/server.rs";
const SPEC: &str = "spec/workflows.openapi.yaml";

/// The operation the scratch spec gains: a FunctionGraph action the sandbox has never heard of.
const NEW_OPERATION_ID: &str = "RetryWorkFlowExecution";
const NEW_OPERATION: &str = r#"  /v2/{project_id}/fgs/workflows/{workflow_id}/executions/{execution_id}/retry:
    post:
      operationId: RetryWorkFlowExecution
      x-service: functiongraph
      summary: Retry a failed execution (added by xtask/tests/exhaustive_dispatch.rs).
      parameters:
        - name: project_id
          in: path
          required: true
          x-client-param: project_id
          schema: {type: string, minLength: 1, maxLength: 64}
        - name: workflow_id
          in: path
          required: true
          schema: {type: string, minLength: 1, maxLength: 512}
        - name: execution_id
          in: path
          required: true
          schema: {type: string, minLength: 1, maxLength: 64}
      responses:
        "200":
          description: OK; no body.

"#;

/// The spec with `NEW_OPERATION` added before the callback operation's path.
fn spec_with_new_operation(spec: &str) -> String {
    let anchor = "  /v2/{project_id}/fgs/workflows/{workflow_id}/callback:\n";
    assert!(spec.contains(anchor), "the spec has the callback path");
    spec.replacen(anchor, &format!("{NEW_OPERATION}{anchor}"), 1)
}

/// Why the dispatch in `server.rs` (its source text) is not a match over `OperationId` whose
/// arms name exactly `operation_ids` and nothing that could stand for another operation.
fn dispatch_problems(source: &str, operation_ids: &BTreeSet<String>) -> Result<(), Vec<String>> {
    let file =
        syn::parse_file(source).map_err(|e| vec![format!("{SERVER} does not parse: {e}")])?;
    let execute = file
        .items
        .iter()
        .find_map(|item| match item {
            syn::Item::Fn(f) if f.sig.ident == "execute" => Some(f),
            _ => None,
        })
        .ok_or_else(|| vec![format!("{SERVER} has no `fn execute`")])?;
    let dispatch = execute
        .block
        .stmts
        .iter()
        .find_map(|stmt| match stmt {
            syn::Stmt::Expr(syn::Expr::Match(m), _) => Some(m),
            _ => None,
        })
        .ok_or_else(|| vec!["`execute` has no `match` among its statements".to_owned()])?;
    let mut problems = Vec::new();
    let mut named = BTreeSet::new();
    for arm in &dispatch.arms {
        let mut patterns = Vec::new();
        flatten(&arm.pat, &mut patterns);
        for pattern in patterns {
            match pattern {
                syn::Pat::Path(p)
                    if p.path.segments.len() == 2 && p.path.segments[0].ident == "OperationId" =>
                {
                    named.insert(p.path.segments[1].ident.to_string());
                }
                // `_`, `other`, `id @ …`, a guard: anything that could stand for an
                // operation the arms do not name.
                other => problems.push(format!(
                    "an arm of `execute`'s match is `{}`, not `OperationId::…`: a new operation \
                     would compile without being emulated",
                    describe(other)
                )),
            }
        }
        if arm.guard.is_some() {
            problems.push("an arm of `execute`'s match has a guard".to_owned());
        }
    }
    for missing in operation_ids.difference(&named) {
        problems.push(format!(
            "no arm of `execute`'s match names OperationId::{missing}"
        ));
    }
    for extra in named.difference(operation_ids) {
        problems.push(format!(
            "`execute`'s match names OperationId::{extra}, which the spec lacks"
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

fn describe(pattern: &syn::Pat) -> String {
    match pattern {
        syn::Pat::Wild(_) => "_".to_owned(),
        syn::Pat::Ident(binding) => binding.ident.to_string(),
        syn::Pat::Lit(_) => "a literal".to_owned(),
        _ => "a pattern other than a path".to_owned(),
    }
}

fn flatten<'p>(pattern: &'p syn::Pat, out: &mut Vec<&'p syn::Pat>) {
    match pattern {
        syn::Pat::Or(or) => or.cases.iter().for_each(|case| flatten(case, out)),
        syn::Pat::Paren(p) => flatten(&p.pat, out),
        other => out.push(other),
    }
}

fn operation_ids(spec: &str) -> BTreeSet<String> {
    let api = hwc_codegen::load(spec).expect("the spec loads");
    api.operations.iter().map(|op| op.id.clone()).collect()
}

#[test]
fn the_sandbox_dispatch_names_every_operation_and_has_no_wildcard() {
    let root = workspace_root();
    let source = fs::read_to_string(root.join(SERVER)).unwrap();
    let spec = fs::read_to_string(root.join(SPEC)).unwrap();
    let ids = operation_ids(&spec);
    assert!(ids.contains("ExecuteWorkflow"), "{ids:?}");
    dispatch_problems(&source, &ids).unwrap_or_else(|problems| panic!("{problems:#?}"));

    // Planted drifts: a wildcard arm, a catch-all binding, an operation no arm names.
    let last_arm = "        OperationId::ListFunctionGraphWorkflowExecutions => {";
    assert!(
        source.contains(last_arm),
        "the planted drifts need their anchor"
    );
    let wildcard = source.replacen(
        last_arm,
        &format!("        _ => Err(fail(501, \"X\", \"not emulated\")),\n{last_arm}"),
        1,
    );
    let problems = dispatch_problems(&wildcard, &ids).unwrap_err();
    assert!(
        problems.iter().any(|p| p.contains("is `_`")),
        "{problems:?}"
    );
    let binding = source.replacen(
        last_arm,
        &format!("        other => Err(fail(501, \"X\", other.as_str())),\n{last_arm}"),
        1,
    );
    let problems = dispatch_problems(&binding, &ids).unwrap_err();
    assert!(
        problems.iter().any(|p| p.contains("is `other`")),
        "{problems:?}"
    );

    let mut more = ids.clone();
    more.insert(NEW_OPERATION_ID.to_owned());
    let problems = dispatch_problems(&source, &more).unwrap_err();
    assert_eq!(
        problems,
        [format!(
            "no arm of `execute`'s match names OperationId::{NEW_OPERATION_ID}"
        )]
    );
}

/// The generator half, cheap: one more operation in the spec is one more `OperationId`
/// variant, so the exhaustive match above no longer covers the enum.
#[test]
fn a_new_operation_in_the_spec_is_a_new_operation_id_variant() {
    let spec = fs::read_to_string(workspace_root().join(SPEC)).unwrap();
    let edited = spec_with_new_operation(&spec);
    assert_eq!(
        operation_ids(&edited)
            .difference(&operation_ids(&spec))
            .collect::<Vec<_>>(),
        [NEW_OPERATION_ID]
    );
    let options = hwc_codegen::Options {
        runtime_path: "crate::runtime".to_owned(),
        source_name: SPEC.to_owned(),
    };
    let files = hwc_codegen::generate(&edited, &options).expect("the edited spec generates");
    let catalogue = files.iter().find(|f| f.name == "catalogue.rs").unwrap();
    let enum_body = catalogue
        .contents
        .split("pub enum OperationId {")
        .nth(1)
        .and_then(|rest| rest.split("\n}\n").next())
        .expect("the catalogue has `enum OperationId`");
    assert!(
        enum_body.contains(&format!("    {NEW_OPERATION_ID},")),
        "{enum_body}"
    );
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        // Build output and git metadata are not the workspace (`.git` is a file in a worktree).
        if name == "target" || name == ".git" {
            continue;
        }
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            copy_tree(&entry.path(), &to.join(&name));
        } else if kind.is_file() {
            fs::copy(entry.path(), to.join(&name)).unwrap();
        }
    }
}

/// The end-to-end proof: the compiler refuses the sandbox once the spec has an operation it
/// does not emulate. Minutes (it compiles the sandbox's dependencies); see the module docs.
#[test]
#[ignore = "compiles the sandbox and its dependencies in a scratch copy: minutes"]
fn a_new_operation_fails_to_build_the_sandbox_until_emulated() {
    let scratch = tempfile::tempdir().unwrap();
    let root = scratch.path().join("workspace");
    copy_tree(&workspace_root(), &root);
    let spec_path = root.join(SPEC);
    let spec = fs::read_to_string(&spec_path).unwrap();
    fs::write(&spec_path, spec_with_new_operation(&spec)).unwrap();
    codegen(&root, Mode::Write).expect("the edited spec regenerates");

    let target = std::env::var_os("EXHAUSTIVE_DISPATCH_TARGET_DIR")
        .map_or_else(|| scratch.path().join("target"), Into::into);
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args(["check", "-p", "hwc-sandbox", "--offline", "--locked"])
        .arg("--message-format=short")
        .current_dir(&root)
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "the sandbox built:\n{stderr}");
    let refusal = stderr
        .lines()
        .find(|line| line.contains("error[E0004]"))
        .unwrap_or_else(|| panic!("no non-exhaustive match error:\n{stderr}"));
    assert!(refusal.contains(SERVER), "{refusal}");
    assert!(
        refusal.contains(&format!("OperationId::{NEW_OPERATION_ID}` not covered")),
        "{refusal}"
    );
    // That is the only complaint: the generated client, catalogue and models took the new
    // operation without any hand-written change.
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("error") || l.contains(": error"))
        .collect();
    assert!(
        errors
            .iter()
            .all(|l| l.contains("E0004") || l.starts_with("error: could not compile")),
        "{errors:#?}"
    );
}
