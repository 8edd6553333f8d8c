//! Controls: the examples and ordinary runbooks of moderate size, which must be accepted
//! (exit 0) so that a limit set too tight shows up here.

use super::{runbook, steps, Case, Mode};

const CLASS: &str = "control";

pub fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let dir = crate::support::workspace().join("runbooks");
    let mut examples: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    examples.sort();
    for path in &examples {
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read(path).unwrap();
        let mut case = Case::validate(CLASS, &format!("example_{stem}.yaml"), text).accept();
        // The sub-runbooks an example runs are read from beside it.
        for sibling in &examples {
            let name = sibling.file_name().unwrap().to_string_lossy().into_owned();
            case.files
                .push((name, std::fs::read(sibling).unwrap().into()));
        }
        cases.push(case);
    }
    for stem in ["canonical", "fan-out", "functiongraph-sync"] {
        let text = std::fs::read(dir.join(format!("{stem}.yaml"))).unwrap();
        cases.push(Case::run(CLASS, &format!("example_{stem}.run.yaml"), text).accept());
    }
    // The directory of examples, as CI validates it.
    let mut all = Case::at(Mode::Validate, CLASS, "examples_dir", "examples_dir").accept();
    all.files.push(("examples_dir".into(), super::Content::Dir));
    for path in &examples {
        let name = path.file_name().unwrap().to_string_lossy();
        all.files.push((
            format!("examples_dir/{name}"),
            std::fs::read(path).unwrap().into(),
        ));
    }
    cases.push(all);

    let minimal = steps("minimal", "  - id: hello\n    log: hello\n");
    cases.extend(super::both(
        CLASS,
        "minimal",
        minimal,
        super::Expect::Accept,
    ));

    // Everything at a moderate size: 100 steps, 50 inputs, a 100-item for_each, a
    // 1,000-iteration template loop, ten doublings of a variable (1 KB), a small alias, nesting
    // of ten, a retry, a bounded goto.
    let mut body = String::from("inputs:\n");
    for i in 0..50 {
        body.push_str(&format!(
            "  input_{i}: {{type: string, default: value_{i}}}\n"
        ));
    }
    body.push_str("timeout: 1h\nsteps:\n");
    body.push_str("  - id: start\n    set: {s: a, l: [1], n: 0}\n");
    for i in 0..10 {
        body.push_str(&format!(
            "  - id: double_{i}\n    set:\n      s: \"{{{{ vars.s ~ vars.s }}}}\"\n      l: \"{{{{ vars.l + vars.l }}}}\"\n"
        ));
    }
    body.push_str("  - id: fan\n    for_each: \"{{ range(100) | list }}\"\n    concurrency: 10\n    log: \"item {{ item }} of {{ inputs.input_7 }}\"\n");
    body.push_str("  - id: loop\n    log: \"{% for i in range(1000) %}{% if i == 999 %}{{ i }}{% endif %}{% endfor %}\"\n");
    body.push_str("  - id: nested\n    set:\n      deep: [[[[[[[[[[x]]]]]]]]]]\n      shared: &shared {a: 1, b: [1, 2, 3]}\n      again: *shared\n");
    body.push_str("  - id: retried\n    retry: {attempts: 3, delay: 10ms, on: [any], until: \"result.deep is defined\"}\n    set: {deep: ok}\n");
    body.push_str("  - id: counter\n    set: {n: \"{{ vars.n + 1 }}\"}\n");
    body.push_str("  - id: again\n    when: vars.n < 3\n    fail: not yet\n    on_failure: {goto: counter, max: 5}\n");
    for i in 0..80 {
        body.push_str(&format!(
            "  - id: step_{i}\n    log: \"{{{{ inputs.input_{} }}}} {{{{ vars.s | length }}}}\"\n",
            i % 50
        ));
    }
    body.push_str(
        "outputs:\n  length: \"{{ vars.s | length }}\"\n  items: \"{{ steps.fan | length }}\"\n",
    );
    let moderate = runbook("moderate", &body);
    cases.extend(super::both(
        CLASS,
        "moderate",
        moderate,
        super::Expect::Accept,
    ));
    cases
}
