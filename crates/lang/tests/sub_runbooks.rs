#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Sub-runbooks (`runbook: {path, inputs}`) are checked with the runbook that runs them:
//! each problem at `file:line:col` in the file it is in, rendered against that file's text.

use runbook_lang::{parse_with_loader, Diagnostic, InMemory, Runbook, Severity, Source};

const CHILD: &str = "version: 1
name: child
inputs:
  host: {type: string, required: true}
  count: {type: integer, default: 1}
steps:
  - id: hello
    log: \"{{ inputs.host }} x{{ inputs.count }}\"
outputs:
  host: \"{{ inputs.host }}\"
";

fn parent(step: &str) -> String {
    format!("version: 1\nname: parent\nsteps:\n{step}")
}

fn check(files: &[(&str, &str)]) -> Result<(Runbook, Vec<Diagnostic>), Vec<Diagnostic>> {
    let loader = InMemory::new(files.iter().copied());
    parse_with_loader(&loader.root(files[0].0).unwrap(), &loader)
}

/// Every diagnostic, as `file:line:col: message`.
fn problems(files: &[(&str, &str)]) -> Vec<String> {
    match check(files) {
        Ok((_, warnings)) => warnings.iter().map(Diagnostic::short).collect(),
        Err(diagnostics) => diagnostics.iter().map(Diagnostic::short).collect(),
    }
}

#[test]
fn a_child_is_read_checked_and_its_outputs_are_the_steps_result() {
    let text = parent(
        "  - id: call
    for_each: [a, b]
    runbook: {path: child.yaml, inputs: {host: \"{{ item }}\"}}
  - id: show
    log: \"{{ steps.call[0].host }}\"
",
    );
    let (runbook, warnings) = check(&[("parent.yaml", &text), ("child.yaml", CHILD)]).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let child = runbook.steps[0].runbook.as_ref().unwrap().child().unwrap();
    assert_eq!(child.name, "child");
    assert_eq!(runbook.sub_runbooks().len(), 1);
}

#[test]
fn missing_required_inputs_unknown_inputs_and_wrong_literals_are_refused_where_written() {
    let text = parent(
        "  - id: call
    runbook:
      path: child.yaml
      inputs:
        hots: web-1
        count: many
",
    );
    let found = problems(&[("parent.yaml", &text), ("child.yaml", CHILD)]);
    assert_eq!(
        found,
        [
            "parent.yaml:6:13: `child.yaml` requires `host`, which this step does not give",
            "parent.yaml:8:9: `child.yaml` has no input `hots`",
            "parent.yaml:9:16: input `count` of `child.yaml` is of type integer; this value is not",
        ],
        "{found:#?}"
    );
}

#[test]
fn reading_an_output_the_child_does_not_declare_is_an_error_naming_its_outputs() {
    let text = parent(
        "  - id: call
    runbook: {path: child.yaml, inputs: {host: web-1}}
  - id: show
    log: \"{{ steps.call.hots }}\"
",
    );
    let diagnostics = check(&[("parent.yaml", &text), ("child.yaml", CHILD)]).unwrap_err();
    assert_eq!(diagnostics.len(), 1, "{diagnostics:#?}");
    let only = &diagnostics[0];
    assert_eq!(
        only.short(),
        "parent.yaml:7:10: `steps.call.hots`: `child.yaml` declares no output `hots`"
    );
    assert!(only.help.as_deref().unwrap().contains("host"), "{only:?}");
}

#[test]
fn a_recursive_chain_is_an_error_at_the_step_that_closes_it_shown_in_that_file() {
    let a = parent("  - id: to_b\n    runbook: {path: b.yaml}\n");
    let b = "version: 1\nname: b\nsteps:\n  - id: first\n    log: hi\n  - id: back\n    runbook: {path: a.yaml}\n";
    let diagnostics = check(&[("a.yaml", &a), ("b.yaml", b)]).unwrap_err();
    let found: Vec<String> = diagnostics.iter().map(Diagnostic::short).collect();
    assert_eq!(
        found,
        [
            "a.yaml:5:21: the sub-runbook `b.yaml` is not valid",
            "b.yaml:7:21: a runbook cannot run itself: a.yaml → b.yaml → a.yaml",
        ],
        "{found:#?}"
    );
    // Each diagnostic is shown with the line of its own file.
    let rendered = Source::new("a.yaml", a.clone()).render(&diagnostics);
    assert!(rendered.contains("runbook: {path: a.yaml}"), "{rendered}");
    assert!(rendered.contains("runbook: {path: b.yaml}"), "{rendered}");

    let own = parent("  - id: again\n    runbook: {path: a.yaml}\n");
    let found = problems(&[("a.yaml", &own)]);
    assert_eq!(
        found,
        ["a.yaml:5:21: a runbook cannot run itself: a.yaml → a.yaml"]
    );
}

#[test]
fn sub_runbooks_nest_at_most_eight_deep() {
    let names: Vec<String> = (0..=10).map(|n| format!("level{n}.yaml")).collect();
    let texts: Vec<String> = (0..=10)
        .map(|n| match names.get(n + 1) {
            Some(next) => parent(&format!("  - id: down\n    runbook: {{path: {next}}}\n")),
            None => parent("  - id: leaf\n    log: leaf\n"),
        })
        .collect();
    let files: Vec<(&str, &str)> = names
        .iter()
        .zip(&texts)
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    let found = problems(&files);
    assert!(
        found
            .iter()
            .any(|p| p.starts_with("level8.yaml:5:21: sub-runbooks nest 9 deep here; at most 8")),
        "{found:#?}"
    );
    // Eight levels below the root are fine.
    assert!(check(&files[2..]).is_ok(), "{:#?}", problems(&files[2..]));
}

#[test]
fn a_step_count_multiplied_by_sub_runbooks_is_bounded() {
    let many: String = (0..4000)
        .map(|n| format!("  - id: s{n}\n    log: x\n"))
        .collect();
    let leaf = parent(&many);
    let root = parent(
        "  - id: one\n    runbook: {path: leaf.yaml}\n  - id: two\n    runbook: {path: leaf.yaml}\n  - id: three\n    runbook: {path: leaf.yaml}\n",
    );
    let found = problems(&[("root.yaml", &root), ("leaf.yaml", &leaf)]);
    assert_eq!(
        found,
        ["root.yaml:3:1: 12003 steps, counting the sub-runbooks' each time a step runs one; at most 10000"],
        "{found:#?}"
    );
}

#[test]
fn what_a_sub_runbook_cannot_be_is_said_at_its_path() {
    let setter = "version: 1\nname: setter\nsteps:\n  - id: remember\n    set: {x: 1}\n";
    let locked =
        "version: 1\nname: locked\nlock: {policy: wait}\nsteps:\n  - id: hi\n    log: hi\n";
    let text = parent(
        "  - id: a
    runbook: {path: setter.yaml}
  - id: b
    runbook: {path: locked.yaml}
  - id: c
    runbook: {path: \"{{ 'x' }}.yaml\"}
  - id: d
    runbook: {path: missing.yaml}
  - id: e
    retry: {attempts: 2}
    runbook: {path: locked.yaml}
",
    );
    let found = problems(&[
        ("parent.yaml", &text),
        ("setter.yaml", setter),
        ("locked.yaml", locked),
    ]);
    assert_eq!(
        found,
        [
            "parent.yaml:5:21: `setter.yaml` sets variables (step `remember`), and a sub-runbook cannot: the run's variables are its parent's",
            "parent.yaml:7:21: warning: `locked.yaml`'s `lock` is ignored when it runs as a sub-runbook: the runbook that runs it holds the run's lock",
            "parent.yaml:9:21: `runbook.path` is a file name, not a template",
            "parent.yaml:11:21: cannot read `missing.yaml`: no such file",
            "parent.yaml:13:5: a sub-runbook is not retried",
            "parent.yaml:14:21: warning: `locked.yaml`'s `lock` is ignored when it runs as a sub-runbook: the runbook that runs it holds the run's lock",
        ],
        "{found:#?}"
    );
}

#[test]
fn a_child_lock_alone_is_a_warning_and_the_parent_still_parses() {
    let locked =
        "version: 1\nname: locked\nlock: {policy: wait}\nsteps:\n  - id: hi\n    log: hi\n";
    let text = parent("  - id: b\n    runbook: {path: locked.yaml}\n");
    let (_, warnings) = check(&[("parent.yaml", &text), ("locked.yaml", locked)]).unwrap();
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].severity, Severity::Warning);
}

#[test]
fn a_runbook_parsed_without_a_loader_cannot_run_one() {
    let text = parent("  - id: call\n    runbook: {path: child.yaml}\n");
    let diagnostics = runbook_lang::parse(&Source::new("parent.yaml", text)).unwrap_err();
    assert!(
        diagnostics[0]
            .message
            .starts_with("cannot read `child.yaml`: this runbook was not read from a file"),
        "{diagnostics:#?}"
    );
}
