//! The README's table of limits says what `limits.rs` says: every constant is listed, with
//! its value as the table writes it.

use std::time::Duration;

use runbook_lang::limits::*;

fn bytes(n: usize) -> String {
    match n {
        n if n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n if n % (1 << 10) == 0 => format!("{} KiB", n >> 10),
        n => n.to_string(),
    }
}

fn duration(d: Duration) -> String {
    runbook_lang::duration::format(d)
}

#[test]
fn every_limit_is_in_the_readme_with_its_value() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).expect("README.md");
    let source =
        std::fs::read_to_string(format!("{root}/crates/lang/src/limits.rs")).expect("limits.rs");
    let documented = [
        ("MAX_RUNBOOK_BYTES", bytes(MAX_RUNBOOK_BYTES)),
        ("MAX_INPUTS_FILE_BYTES", bytes(MAX_INPUTS_FILE_BYTES)),
        ("MAX_STEPS", MAX_STEPS.to_string()),
        ("MAX_INPUTS", MAX_INPUTS.to_string()),
        ("MAX_OUTPUTS", MAX_OUTPUTS.to_string()),
        ("MAX_YAML_NODES", MAX_YAML_NODES.to_string()),
        ("MAX_YAML_EXPANDED_BYTES", bytes(MAX_YAML_EXPANDED_BYTES)),
        ("MAX_YAML_DEPTH", MAX_YAML_DEPTH.to_string()),
        ("MAX_NAME_CHARS", format!("{MAX_NAME_CHARS} characters")),
        ("MAX_TEMPLATE_BYTES", bytes(MAX_TEMPLATE_BYTES)),
        ("MAX_EXPRESSION_DEPTH", MAX_EXPRESSION_DEPTH.to_string()),
        (
            "MAX_EXPRESSION_OPERATORS",
            MAX_EXPRESSION_OPERATORS.to_string(),
        ),
        ("MAX_TEMPLATE_NUMBER", MAX_TEMPLATE_NUMBER.to_string()),
        ("MAX_JSONPATH_BYTES", bytes(MAX_JSONPATH_BYTES)),
        ("MAX_FORMAT_WIDTH", MAX_FORMAT_WIDTH.to_string()),
        ("TEMPLATE_FUEL", TEMPLATE_FUEL.to_string()),
        ("MAX_RENDERED_BYTES", bytes(MAX_RENDERED_BYTES)),
        ("MAX_SET_VALUE_BYTES", bytes(MAX_SET_VALUE_BYTES)),
        ("MAX_FOR_EACH_ITEMS", MAX_FOR_EACH_ITEMS.to_string()),
        ("MAX_CONCURRENCY", MAX_CONCURRENCY.to_string()),
        ("MAX_RETRY_ATTEMPTS", MAX_RETRY_ATTEMPTS.to_string()),
        ("MAX_STEP_ATTEMPTS", MAX_STEP_ATTEMPTS.to_string()),
        ("MAX_JUMPS", MAX_JUMPS.to_string()),
        ("MAX_TARGET_FIELD_LEN", MAX_TARGET_FIELD_LEN.to_string()),
        ("MAX_TARGETS", MAX_TARGETS.to_string()),
        ("MAX_BLOCK_DEPTH", MAX_BLOCK_DEPTH.to_string()),
        ("MAX_REPEAT_PASSES", MAX_REPEAT_PASSES.to_string()),
        ("MAX_SUB_RUNBOOK_DEPTH", MAX_SUB_RUNBOOK_DEPTH.to_string()),
        ("MAX_SUB_RUNBOOK_FILES", MAX_SUB_RUNBOOK_FILES.to_string()),
        ("MAX_DURATION", duration(MAX_DURATION)),
        ("MIN_POLL_DELAY", duration(MIN_POLL_DELAY)),
        ("MAX_POLLS", MAX_POLLS.to_string()),
    ];
    for line in source.lines() {
        if let Some(rest) = line.strip_prefix("pub const ") {
            let name = rest.split(':').next().unwrap_or_default();
            assert!(
                documented.iter().any(|(known, _)| *known == name),
                "limits.rs defines `{name}`, which this test (and the README) does not list"
            );
        }
    }
    for (name, value) in &documented {
        let row = readme
            .lines()
            .find(|line| line.starts_with('|') && line.contains(&format!("`{name}`")))
            .unwrap_or_else(|| panic!("README.md's limits table has no row for `{name}`"));
        assert!(
            row.contains(&format!("| {value} |")),
            "README.md says `{row}`, but {name} is {value}"
        );
    }
}
