//! Long names: step ids, inputs, variables and outputs of 70,000 characters (around
//! `MAX_NAME_CHARS`), and typos of long names, for which "did you mean" compares long strings
//! (quadratic in their length, and in how many there are).

use runbook_lang::limits::MAX_NAME_CHARS;

use super::{lazy, runbook, steps, Case};

const CLASS: &str = "long_id";

/// A name of `n` characters; `typo` changes its last one.
fn long(n: usize, typo: bool) -> String {
    let mut name = "s".repeat(n - 1);
    name.push(if typo { 'x' } else { 'z' });
    name
}

pub fn cases() -> Vec<Case> {
    let max = MAX_NAME_CHARS;
    let mut cases = vec![
        Case::validate(CLASS, "step_id_max.yaml", steps("n", &format!("  - id: {}\n    log: x\n", long(max, false)))).accept(),
        Case::run(CLASS, "step_id_max.run.yaml", steps("n", &format!("  - id: {}\n    log: x\n", long(max, false)))).accept(),
        Case::validate(CLASS, "step_id_max_plus_1.yaml", steps("n", &format!("  - id: {}\n    log: x\n", long(max + 1, false)))).refuse(),
        Case::validate(CLASS, "step_id_70000.yaml", steps("n", &format!("  - id: {}\n    log: x\n", long(70_000, false)))).refuse(),
        Case::run(CLASS, "step_id_70000.run.yaml", steps("n", &format!("  - id: {}\n    log: x\n", long(70_000, false)))).refuse(),
        Case::validate(
            CLASS,
            "input_name_70000.yaml",
            runbook("n", &format!("inputs:\n  {}: {{type: string, default: x}}\nsteps:\n  - id: a\n    log: x\n", long(70_000, false))),
        )
        .refuse(),
        Case::validate(CLASS, "var_name_70000.yaml", steps("n", &format!("  - id: a\n    set: {{{}: 1}}\n", long(70_000, false)))).refuse(),
        Case::validate(CLASS, "output_name_70000.yaml", steps("n", "  - id: a\n    log: x\n") + &format!("outputs:\n  {}: x\n", long(70_000, false))).refuse(),
        Case::validate(CLASS, "env_name_70000.yaml", runbook("n", &format!("env: [{}]\nsteps:\n  - id: a\n    log: x\n", long(70_000, false)))),
        Case::validate(CLASS, "lock_key_70000.yaml", runbook("n", &format!("lock: {{key: {}}}\nsteps:\n  - id: a\n    log: x\n", long(70_000, false)))),
        // Did you mean, between two 70,000-character names.
        Case::validate(
            CLASS,
            "typo_step_reference_70000.yaml",
            steps("t", &format!("  - id: {}\n    log: x\n  - id: b\n    log: \"{{{{ steps.{}.x }}}}\"\n", long(70_000, false), long(70_000, true))),
        )
        .refuse(),
        Case::validate(
            CLASS,
            "typo_goto_70000.yaml",
            steps("t", &format!("  - id: {}\n    log: x\n  - id: b\n    fail: x\n    on_failure: {{goto: {}, max: 1}}\n", long(70_000, false), long(70_000, true))),
        )
        .refuse(),
        Case::validate(
            CLASS,
            "typo_input_70000.yaml",
            runbook(
                "t",
                &format!("inputs:\n  {}: {{type: string, default: x}}\nsteps:\n  - id: b\n    log: \"{{{{ inputs.{} }}}}\"\n", long(70_000, false), long(70_000, true)),
            ),
        )
        .refuse(),
        Case::run(
            CLASS,
            "typo_input_arg_70000.run.yaml",
            runbook("t", &format!("inputs:\n  {}: {{type: string, default: x}}\nsteps:\n  - id: b\n    log: x\n", long(60_000, false))),
        )
        .args(&["-i", &format!("{}=v", long(60_000, true))]),
        Case::validate(CLASS, "typo_step_key_70000.yaml", steps("t", &format!("  - id: a\n    {}: x\n", long(70_000, true)))).refuse(),
        Case::validate(CLASS, "typo_top_level_key_70000.yaml", steps("t", "  - id: a\n    log: x\n") + &format!("{}: x\n", long(70_000, true))).refuse(),
        Case::validate(
            CLASS,
            "typo_status_70000.yaml",
            steps(
                "t",
                &format!("  - id: s\n    aom.start: {{workflow_id: w}}\n  - id: w\n    timeout: 1m\n    aom.wait: {{workflow_id: w, execution_id: e, until_status: [{}]}}\n", long(70_000, true)),
            ),
        )
        .refuse(),
        // 50 ids of 10,000 characters and 50 typos of them: 2,500 comparisons of long strings.
        Case::validate(
            CLASS,
            "typos_50_of_50_ids_10000.yaml",
            lazy(|| {
                let mut body = String::new();
                for i in 0..50 {
                    body.push_str(&format!("  - id: {}{i}\n    log: x\n", long(10_000, false)));
                }
                for i in 0..50 {
                    body.push_str(&format!("  - id: t{i}\n    log: \"{{{{ steps.{}{i}.x }}}}\"\n", long(10_000, true)));
                }
                steps("t", &body)
            }),
        )
        .refuse(),
        // 5,000 valid ids and 5,000 references to typos of them: 25 million comparisons.
        Case::validate(
            CLASS,
            "typos_5000_of_5000_ids.yaml",
            lazy(|| {
                let mut body = String::new();
                for i in 0..5000 {
                    body.push_str(&format!("  - id: step_number_{i}\n    log: x\n"));
                }
                for i in 0..5000 {
                    body.push_str(&format!("  - id: t{i}\n    log: \"{{{{ steps.step_numbr_{i}.x }}}}\"\n"));
                }
                steps("t", &body)
            }),
        )
        .refuse(),
        // 100 ids at the limit and 100 typos of them.
        Case::validate(
            CLASS,
            "typos_100_of_100_ids_max.yaml",
            {
                let mut body = String::new();
                for i in 0..100 {
                    body.push_str(&format!("  - id: {}\n    log: x\n", format!("{i:03}{}", long(max - 3, false)).replacen(|c: char| c.is_ascii_digit(), "s", 1)));
                }
                for i in 0..100 {
                    body.push_str(&format!("  - id: t{i}\n    log: \"{{{{ steps.{}.x }}}}\"\n", format!("{i:03}{}", long(max - 3, true)).replacen(|c: char| c.is_ascii_digit(), "s", 1)));
                }
                steps("t", &body)
            },
        )
        .refuse(),
    ];
    cases.push(
        Case::validate(
            CLASS,
            "unknown_keys_100000.yaml",
            lazy(|| {
                let mut body = String::from("  - id: a\n    log: x\n");
                for i in 0..100_000 {
                    body.push_str(&format!("    lgo{i}: x\n"));
                }
                steps("k", &body)
            }),
        )
        .refuse(),
    );
    cases
}
