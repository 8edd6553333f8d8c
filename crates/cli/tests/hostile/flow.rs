//! Control flow that multiplies work: `goto` and `retry` with `max` / `attempts` up to
//! 4294967295 on instant steps (around `MAX_JUMPS` and `MAX_RETRY_ATTEMPTS`), `for_each` over
//! 10^7 items (around `MAX_FOR_EACH_ITEMS`), `concurrency: 4294967295` (around
//! `MAX_CONCURRENCY`), and 40 `set` steps each doubling a string or a list
//! (`MAX_SET_VALUE_BYTES`); blocks nested around `MAX_BLOCK_DEPTH`, `repeat` around
//! `MAX_REPEAT_PASSES`, and elements of elements.

use runbook_lang::limits::{
    MAX_BLOCK_DEPTH, MAX_CONCURRENCY, MAX_FOR_EACH_ITEMS, MAX_JUMPS, MAX_REPEAT_PASSES,
    MAX_RETRY_ATTEMPTS,
};

use super::{both, runbook, steps, Case, Expect};

const JUMPS: &str = "jumps";
const RETRY: &str = "retry";
const FOR_EACH: &str = "for_each";
const CONCURRENCY: &str = "concurrency";
const SET: &str = "set_doubling";
const BLOCKS: &str = "blocks";

/// Blocks `depth` deep around one `log` step.
fn nested_blocks(name: &str, depth: usize) -> String {
    let mut body = String::new();
    for level in 0..depth {
        let indent = "    ".repeat(level);
        body.push_str(&format!("{indent}  - id: block_{level}\n{indent}    do:\n"));
    }
    let indent = "    ".repeat(depth);
    body.push_str(&format!("{indent}  - id: inside\n{indent}    log: deep\n"));
    steps(name, &body)
}

/// A block whose `until` never holds, run at most `max` times.
fn repeated(name: &str, max: &str) -> String {
    steps(
        name,
        &format!("  - id: again\n    repeat: {{until: \"false\", max: {max}}}\n    do:\n      - id: once\n        log: once\n"),
    )
}

/// A log step, then a failing step that jumps back to it at most `max` times.
fn goto(name: &str, max: &str) -> String {
    steps(
        name,
        &format!("  - id: again\n    log: again\n  - id: boom\n    fail: boom\n    on_failure: {{goto: again, max: {max}}}\n"),
    )
}

fn retried(name: &str, attempts: &str) -> String {
    steps(
        name,
        &format!("  - id: flaky\n    retry: {{attempts: {attempts}, delay: 10ms, max_delay: 10ms, on: [any]}}\n    assert: {{that: \"false\", message: nope}}\n"),
    )
}

fn fan_out(name: &str, for_each: &str, concurrency: &str) -> String {
    steps(name, &format!("  - id: fan\n    for_each: {for_each}\n    concurrency: {concurrency}\n    log: \"{{{{ item }}}}\"\n"))
}

/// `count` `set` steps, each replacing `vars.x` by `op` of itself (`start` first).
fn doubling(name: &str, start: &str, op: &str, count: usize) -> String {
    let mut body = format!("  - id: start\n    set: {{x: {start}}}\n");
    for i in 0..count {
        body.push_str(&format!(
            "  - id: double_{i}\n    set: {{x: \"{{{{ {op} }}}}\"}}\n"
        ));
    }
    body.push_str("  - id: size\n    log: \"{{ vars.x | length }}\"\n");
    steps(name, &body)
}

pub fn cases() -> Vec<Case> {
    use Expect::{Accept, Refuse, Survive};
    let mut cases = Vec::new();
    let depth = MAX_BLOCK_DEPTH;
    let mut deepest = Case::validate(
        BLOCKS,
        &format!("nested_{depth}.yaml"),
        nested_blocks("n", depth),
    );
    deepest.expect = Accept;
    cases.push(deepest);
    for depth in [depth + 1, 40] {
        let mut deeper = Case::validate(
            BLOCKS,
            &format!("nested_{}.yaml", depth),
            nested_blocks("n", depth),
        );
        deeper.expect = Refuse;
        cases.push(deeper);
    }
    let passes = MAX_REPEAT_PASSES;
    // The run ends with exit 1 once the passes are spent; what matters is that it ends.
    let [validate, mut run] = both(
        BLOCKS,
        &format!("repeat_{passes}"),
        repeated("r", &passes.to_string()),
        Accept,
    );
    run.expect = Survive;
    cases.extend([validate, run]);
    cases.extend(both(
        BLOCKS,
        "repeat_4294967295",
        repeated("r", "4294967295"),
        Refuse,
    ));
    cases.push(Case::run(
        BLOCKS,
        "elements_of_elements.run.yaml",
        steps(
            "e",
            "  - id: outer\n    for_each: \"{{ range(100) | list }}\"\n    as: row\n    concurrency: 10\n    do:\n      - id: inner\n        for_each: \"{{ range(100) | list }}\"\n        concurrency: 10\n        log: \"{{ row }}.{{ item }}\"\n",
        ),
    ));
    let jumps = MAX_JUMPS;
    // The run ends with exit 1 once the jumps are spent; what matters is that it ends.
    let [v, _] = both(
        JUMPS,
        &format!("goto_max_{jumps}"),
        goto("g", &jumps.to_string()),
        Accept,
    );
    cases.push(v);
    cases.push(Case::run(
        JUMPS,
        &format!("goto_max_{jumps}.run.yaml"),
        goto("g", &jumps.to_string()),
    ));
    cases.extend(both(
        JUMPS,
        &format!("goto_max_{}", jumps + 1),
        goto("g", &(jumps + 1).to_string()),
        Refuse,
    ));
    cases.extend(both(
        JUMPS,
        "goto_max_u32_max",
        goto("g", "4294967295"),
        Refuse,
    ));
    cases.push(
        Case::validate(
            JUMPS,
            "goto_max_u32_max_plus_1.yaml",
            goto("g", "4294967296"),
        )
        .refuse(),
    );
    cases.push(Case::validate(JUMPS, "goto_max_negative.yaml", goto("g", "-1")).refuse());
    // Three nested loops of MAX_JUMPS each (counters decide when an inner loop is done):
    // each jump is bounded, but together they multiply.
    cases.push(Case::run(
        JUMPS,
        "goto_nested_three_loops.run.yaml",
        steps(
            "n",
            &format!(
                "  - id: outer\n    log: outer\n  - id: reset_m\n    set: {{m: 0}}\n  - id: middle\n    set: {{m: \"{{{{ vars.m + 1 }}}}\"}}\n  - id: reset_i\n    set: {{i: 0}}\n  - id: inner\n    set: {{i: \"{{{{ vars.i + 1 }}}}\"}}\n  - id: c\n    when: vars.i < {jumps}\n    fail: c\n    on_failure: {{goto: inner, max: {jumps}}}\n  - id: b\n    when: vars.m < {jumps}\n    fail: b\n    on_failure: {{goto: middle, max: {jumps}}}\n  - id: a\n    fail: a\n    on_failure: {{goto: outer, max: {jumps}}}\n"
            ),
        ),
    ));
    // Ping-pong: a forward jump needs no max.
    cases.push(Case::run(
        JUMPS,
        "goto_ping_pong.run.yaml",
        steps(
            "p",
            &format!("  - id: ping\n    fail: ping\n    on_failure: {{goto: pong}}\n  - id: pong\n    fail: pong\n    on_failure: {{goto: ping, max: {jumps}}}\n"),
        ),
    ));
    cases.extend(both(
        JUMPS,
        "restart_max_u32_max",
        steps(
            "r",
            "  - id: start\n    aom.start: {workflow_id: wf-broken}\n  - id: wait\n    timeout: 365d\n    aom.wait:\n      workflow_id: wf-broken\n      execution_id: \"{{ steps.start.execution_id }}\"\n      poll: {min: 10ms, max: 10ms}\n      when_node_fails: [{then: restart, max: 4294967295}]\n",
        ),
        Refuse,
    ));
    cases.push(Case::run(
        JUMPS,
        &format!("restart_max_{jumps}.run.yaml"),
        steps(
            "r",
            &format!("  - id: start\n    aom.start: {{workflow_id: wf-broken}}\n  - id: wait\n    timeout: 365d\n    aom.wait:\n      workflow_id: wf-broken\n      execution_id: \"{{{{ steps.start.execution_id }}}}\"\n      poll: {{min: 10ms, max: 10ms}}\n      when_node_fails: [{{then: restart, max: {jumps}}}]\n"),
        ),
    ));

    let attempts = MAX_RETRY_ATTEMPTS;
    let [v, _] = both(
        RETRY,
        &format!("attempts_{attempts}"),
        retried("r", &attempts.to_string()),
        Accept,
    );
    cases.push(v);
    cases.push(Case::run(
        RETRY,
        &format!("attempts_{attempts}.run.yaml"),
        retried("r", &attempts.to_string()),
    ));
    cases.extend(both(
        RETRY,
        &format!("attempts_{}", attempts + 1),
        retried("r", &(attempts + 1).to_string()),
        Refuse,
    ));
    cases.extend(both(
        RETRY,
        "attempts_u32_max",
        retried("r", "4294967295"),
        Refuse,
    ));
    cases.push(
        Case::validate(
            RETRY,
            "attempts_u32_max_plus_1.yaml",
            retried("r", "4294967296"),
        )
        .refuse(),
    );
    cases.push(Case::validate(
        RETRY,
        "until_never_u32_max.yaml",
        steps("u", "  - id: a\n    retry: {attempts: 4294967295, delay: 10ms, until: \"false\"}\n    log: x\n"),
    ).refuse());
    cases.push(Case::run(
        RETRY,
        "attempts_max_times_for_each_max.run.yaml",
        steps(
            "m",
            &format!("  - id: fan\n    for_each: \"{{{{ range({MAX_FOR_EACH_ITEMS}) | list }}}}\"\n    concurrency: {MAX_CONCURRENCY}\n    retry: {{attempts: {attempts}, delay: 10ms, max_delay: 10ms, on: [any]}}\n    assert: {{that: \"false\", message: nope}}\n"),
        ),
    ));

    let items = MAX_FOR_EACH_ITEMS;
    let list = |n: usize| format!("[{}]", vec!["1"; n].join(","));
    cases.extend(both(
        FOR_EACH,
        &format!("literal_{items}"),
        fan_out("f", &list(items), "10"),
        Accept,
    ));
    cases.push(Case::validate(
        FOR_EACH,
        &format!("literal_{}.yaml", items + 1),
        fan_out("f", &list(items + 1), "10"),
    ));
    cases.push(Case::run(
        FOR_EACH,
        &format!("literal_{}.run.yaml", items + 1),
        fan_out("f", &list(items + 1), "10"),
    ));
    cases.push(Case::run(
        FOR_EACH,
        &format!("range_{}.run.yaml", items + 1),
        fan_out(
            "f",
            &format!("\"{{{{ range({}) | list }}}}\"", items + 1),
            "10",
        ),
    ));
    cases.push(Case::run(
        FOR_EACH,
        "range_10e7.run.yaml",
        fan_out("f", "\"{{ range(10000000) | list }}\"", "10"),
    ));
    cases.push(Case::run(
        FOR_EACH,
        "range_10e7_unlisted.run.yaml",
        fan_out("f", "\"{{ range(10000000) }}\"", "10"),
    ));
    cases.push(Case::run(
        FOR_EACH,
        "chars_of_10e6.run.yaml",
        fan_out("f", "\"{{ ('a' * 1000 * 1000) | list }}\"", "10"),
    ));
    cases.push(Case::run(
        FOR_EACH,
        "a_string.run.yaml",
        fan_out("f", "\"{{ 'a' * 100000 }}\"", "10"),
    ));
    cases.push(Case::run(
        FOR_EACH,
        "an_object.run.yaml",
        fan_out("f", "{a: 1, b: 2}", "10"),
    ));
    cases.push(Case::run(
        FOR_EACH,
        "over_previous_results_squared.run.yaml",
        steps(
            "s",
            &format!("  - id: a\n    for_each: \"{{{{ range({items}) | list }}}}\"\n    concurrency: 100\n    set: {{x: \"{{{{ item }}}}\"}}\n  - id: b\n    for_each: \"{{{{ steps.a }}}}\"\n    concurrency: 100\n    log: \"{{{{ steps.a | length }}}}\"\n"),
        ),
    ));

    let concurrency = MAX_CONCURRENCY;
    cases.extend(both(
        CONCURRENCY,
        &format!("concurrency_{concurrency}"),
        fan_out("c", "[1, 2, 3]", &concurrency.to_string()),
        Accept,
    ));
    cases.extend(both(
        CONCURRENCY,
        &format!("concurrency_{}", concurrency + 1),
        fan_out("c", "[1, 2, 3]", &(concurrency + 1).to_string()),
        Refuse,
    ));
    cases.extend(both(
        CONCURRENCY,
        "concurrency_u32_max",
        fan_out("c", "[1, 2, 3]", "4294967295"),
        Refuse,
    ));
    cases.push(
        Case::validate(
            CONCURRENCY,
            "concurrency_u32_max_plus_1.yaml",
            fan_out("c", "[1, 2, 3]", "4294967296"),
        )
        .refuse(),
    );
    cases.extend(both(
        CONCURRENCY,
        "concurrency_0",
        fan_out("c", "[1, 2, 3]", "0"),
        Survive,
    ));
    cases.push(Case::run(
        CONCURRENCY,
        &format!("concurrency_{concurrency}_sleeping_{items}.run.yaml"),
        steps("c", &format!("  - id: fan\n    for_each: \"{{{{ range({items}) | list }}}}\"\n    concurrency: {concurrency}\n    sleep: 1h\n")),
    ));
    cases.push(Case::run(
        CONCURRENCY,
        &format!("concurrency_{concurrency}_starting_{items}.run.yaml"),
        runbook(
            "c",
            &format!("timeout: 1h\nsteps:\n  - id: fan\n    for_each: \"{{{{ range({items}) | list }}}}\"\n    concurrency: {concurrency}\n    aom.start: {{workflow_id: wf-success}}\n"),
        ),
    ));

    // 2^19 characters is 512 KiB, under MAX_SET_VALUE_BYTES; 2^40 is a terabyte.
    cases.push(
        Case::run(
            SET,
            "string_tilde_19.run.yaml",
            doubling("s", "a", "vars.x ~ vars.x", 19),
        )
        .accept(),
    );
    for (stem, start, op) in [
        ("string_tilde_40", "a", "vars.x ~ vars.x"),
        ("string_plus_40", "a", "vars.x + vars.x"),
        ("list_plus_40", "[1]", "vars.x + vars.x"),
        ("list_times_2_40", "[1]", "vars.x * 2"),
        ("dict_nesting_40", "{}", "{'a': vars.x, 'b': vars.x}"),
        ("tojson_40", "a", "vars.x | tojson ~ vars.x | tojson"),
        ("list_of_itself_40", "[1]", "[vars.x, vars.x]"),
    ] {
        cases.push(Case::run(
            SET,
            &format!("{stem}.run.yaml"),
            doubling("s", start, op, 40),
        ));
    }
    cases.push(Case::validate(
        SET,
        "string_tilde_40.yaml",
        doubling("s", "a", "vars.x ~ vars.x", 40),
    ));
    // Doubling in a bounded loop rather than 40 steps.
    cases.push(Case::run(
        SET,
        "doubling_in_a_goto_loop.run.yaml",
        steps(
            "g",
            &format!("  - id: start\n    set: {{x: a}}\n  - id: double\n    set: {{x: \"{{{{ vars.x ~ vars.x }}}}\"}}\n  - id: again\n    fail: again\n    on_failure: {{goto: double, max: {jumps}}}\n"),
        ),
    ));
    // Doubling and logging each step: the output grows too.
    let mut loud = String::from("  - id: start\n    set: {x: a}\n");
    for i in 0..40 {
        loud.push_str(&format!("  - id: double_{i}\n    set: {{x: \"{{{{ vars.x ~ vars.x }}}}\"}}\n  - id: show_{i}\n    log: \"{{{{ vars.x }}}}\"\n"));
    }
    cases.push(Case::run(
        SET,
        "doubling_and_logging_40.run.yaml",
        steps("l", &loud),
    ));
    cases
}
