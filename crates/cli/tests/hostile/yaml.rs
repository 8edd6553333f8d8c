//! YAML alias bombs (the classic nested "billion laughs" and flat ones: many aliases of one
//! big anchor, files of 50–300 KB) and deep nesting (flow and block, around `MAX_YAML_DEPTH`
//! and far over it), around `MAX_YAML_NODES` and `MAX_YAML_EXPANDED_BYTES`.

use runbook_lang::limits::MAX_YAML_EXPANDED_BYTES;

use super::{both, lazy, steps, Case, Expect};

const ALIAS: &str = "alias";
const NESTING: &str = "nesting";

/// Anchors `l0 … l{levels}`: `l0` is a list of `width` strings, each next level a list of
/// `width` aliases of the one before; `*l{levels}` stands for width^(levels+1) strings.
fn laughs(levels: usize, width: usize, indent: &str) -> String {
    let mut text = format!("{indent}l0: &l0 [{}]\n", vec!["\"lol\""; width].join(", "));
    for level in 1..=levels {
        let aliases = vec![format!("*l{}", level - 1); width].join(", ");
        text.push_str(&format!("{indent}l{level}: &l{level} [{aliases}]\n"));
    }
    text
}

/// A runbook whose `outputs` hold a billion-laughs value at `levels`.
fn laughs_in_outputs(name: &str, levels: usize, width: usize) -> String {
    let mut text = steps(name, "  - id: hello\n    log: hello\n");
    text.push_str("outputs:\n");
    text.push_str(&laughs(levels, width, "  "));
    text
}

/// `count` aliases of one anchored string of `bytes` bytes, as outputs.
fn flat_strings(name: &str, bytes: usize, count: usize) -> String {
    let mut text = steps(name, "  - id: hello\n    log: hello\n");
    text.push_str(&format!("outputs:\n  o0: &big {}\n", "a".repeat(bytes)));
    for i in 1..count {
        text.push_str(&format!("  o{i}: *big\n"));
    }
    text
}

/// `count` aliases of one anchored list of `items` numbers, as outputs.
fn flat_lists(name: &str, items: usize, count: usize) -> String {
    let mut text = steps(name, "  - id: hello\n    log: hello\n");
    let list: Vec<String> = (0..items).map(|i| (i % 10).to_string()).collect();
    text.push_str(&format!("outputs:\n  o0: &big [{}]\n", list.join(",")));
    for i in 1..count {
        text.push_str(&format!("  o{i}: *big\n"));
    }
    text
}

pub fn cases() -> Vec<Case> {
    // Classic: width 10, 10^(levels+1) strings.
    let mut cases =
        vec![Case::validate(ALIAS, "laughs_10e4.yaml", laughs_in_outputs("l", 3, 10)).accept()];
    // Under MAX_YAML_NODES, but the YAML library's own alias heuristics may refuse it.
    cases.push(Case::validate(
        ALIAS,
        "laughs_10e5.yaml",
        laughs_in_outputs("l", 4, 10),
    ));
    cases.push(Case::validate(ALIAS, "laughs_10e6.yaml", laughs_in_outputs("l", 5, 10)).refuse());
    cases.push(Case::validate(ALIAS, "laughs_10e7.yaml", laughs_in_outputs("l", 6, 10)).refuse());
    cases.push(Case::validate(ALIAS, "laughs_9e9.yaml", laughs_in_outputs("l", 8, 9)).refuse());
    cases.push(Case::validate(ALIAS, "laughs_10e10.yaml", laughs_in_outputs("l", 9, 10)).refuse());
    cases.push(Case::run(
        ALIAS,
        "laughs_10e5.run.yaml",
        laughs_in_outputs("l", 4, 10),
    ));
    cases.push(Case::run(ALIAS, "laughs_9e9.run.yaml", laughs_in_outputs("l", 8, 9)).refuse());
    // The bomb where values are read: an input's default, a `set`, a `for_each` list, a
    // `log` (which wants a string), a `call`'s params.
    let mut inputs = String::from("inputs:\n  l0: {type: array, default: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]}\n");
    for level in 1..=8 {
        let p = level - 1;
        inputs.push_str(&format!("  l{level}: {{type: array, default: &l{level} [*l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}]}}\n"));
    }
    cases.push(
        Case::validate(
            ALIAS,
            "laughs_in_input_defaults.yaml",
            super::runbook("d", &format!("{inputs}steps:\n  - id: a\n    log: hi\n")),
        )
        .refuse(),
    );
    cases.push(
        Case::run(
            ALIAS,
            "laughs_in_input_defaults.run.yaml",
            super::runbook(
                "d",
                &format!("{inputs}steps:\n  - id: a\n    log: \"{{{{ inputs.l8 | length }}}}\"\n"),
            ),
        )
        .refuse(),
    );
    cases.push(
        Case::run(
            ALIAS,
            "laughs_in_set.run.yaml",
            steps(
                "s",
                &format!(
                    "  - id: a\n    set:\n{}\n      x: *l8\n",
                    laughs(8, 9, "      ")
                ),
            ),
        )
        .refuse(),
    );
    cases.push(
        Case::run(
            ALIAS,
            "laughs_in_for_each.run.yaml",
            steps(
                "f",
                &format!(
                    "  - id: a\n    set:\n{}\n  - id: b\n    for_each: *l8\n    log: x\n",
                    laughs(8, 9, "      ")
                ),
            ),
        )
        .refuse(),
    );
    cases.push(
        Case::validate(
            ALIAS,
            "laughs_in_log.yaml",
            steps(
                "g",
                &format!(
                    "  - id: a\n    set:\n{}\n  - id: b\n    log: *l8\n",
                    laughs(8, 9, "      ")
                ),
            ),
        )
        .refuse(),
    );
    cases.push(
        Case::validate(
            ALIAS,
            "laughs_in_call_params.yaml",
            steps("c", &format!("  - id: a\n    set:\n{}\n  - id: b\n    call:\n      operation: ListWorkflowExecutions\n      params: {{workflow_id: w, extra: *l8}}\n", laughs(8, 9, "      "))),
        )
        .refuse(),
    );
    // Mappings instead of lists, aliases as keys, merge keys.
    let mut maps = String::from(
        "  m0: &m0 {a: lol, b: lol, c: lol, d: lol, e: lol, f: lol, g: lol, h: lol, i: lol}\n",
    );
    for level in 1..=8 {
        let p = level - 1;
        maps.push_str(&format!("  m{level}: &m{level} {{a: *m{p}, b: *m{p}, c: *m{p}, d: *m{p}, e: *m{p}, f: *m{p}, g: *m{p}, h: *m{p}, i: *m{p}}}\n"));
    }
    cases.push(
        Case::validate(
            ALIAS,
            "laughs_mappings.yaml",
            steps("m", "  - id: a\n    log: hi\n") + "outputs:\n" + &maps,
        )
        .refuse(),
    );
    let mut keys = laughs(7, 9, "  ");
    keys.push_str("  k: {? *l7 : x, ? [*l7, *l7] : y}\n");
    cases.push(
        Case::validate(
            ALIAS,
            "laughs_as_keys.yaml",
            steps("k", "  - id: a\n    log: hi\n") + "outputs:\n" + &keys,
        )
        .refuse(),
    );
    let mut merges = String::from("  m0: &m0 {a0: 1, b0: 2}\n");
    for level in 1..=30 {
        let p = level - 1;
        merges.push_str(&format!(
            "  m{level}: &m{level} {{<<: [*m{p}, *m{p}], a{level}: 1}}\n"
        ));
    }
    cases.push(Case::validate(
        ALIAS,
        "merge_key_chain.yaml",
        steps("k", "  - id: a\n    log: hi\n") + "outputs:\n" + &merges,
    ));
    // Flat: one big anchor, many aliases (files of 50–300 KB).
    let bytes = MAX_YAML_EXPANDED_BYTES;
    cases.push(
        Case::validate(
            ALIAS,
            "flat_string_50k_x300.yaml",
            flat_strings("f", 50_000, 300),
        )
        .accept(),
    );
    cases.push(
        Case::validate(
            ALIAS,
            "flat_string_60k_x300.yaml",
            flat_strings("f", 60_000, 300),
        )
        .refuse(),
    );
    cases.push(
        Case::validate(
            ALIAS,
            "flat_string_over_by_one.yaml",
            flat_strings("f", bytes / 256 + 1, 256),
        )
        .refuse(),
    );
    cases.push(
        Case::validate(
            ALIAS,
            "flat_string_300k_x1000.yaml",
            flat_strings("f", 300_000, 1000),
        )
        .refuse(),
    );
    cases
        .push(Case::validate(ALIAS, "flat_list_1k_x900.yaml", flat_lists("f", 1000, 900)).accept());
    cases.push(
        Case::validate(
            ALIAS,
            "flat_list_10k_x100.yaml",
            flat_lists("f", 10_000, 100),
        )
        .refuse(),
    );
    cases.push(
        Case::validate(
            ALIAS,
            "flat_list_25k_x12000.yaml",
            flat_lists("f", 25_000, 12_000),
        )
        .refuse(),
    );
    cases.push(
        Case::validate(ALIAS, "flat_map_5k_x250.yaml", {
            let mut text = steps("m", "  - id: hello\n    log: hello\n");
            let map: Vec<String> = (0..5000).map(|i| format!("k{i}: {i}")).collect();
            text.push_str(&format!("outputs:\n  o0: &big {{{}}}\n", map.join(", ")));
            for i in 1..250 {
                text.push_str(&format!("  o{i}: *big\n"));
            }
            text
        })
        .refuse(),
    );
    // An anchored 10 KB template, aliased 300 times: each alias compiled (and rendered).
    let template_bomb = {
        let mut text = steps("t", "  - id: hello\n    log: hello\n");
        text.push_str(&format!(
            "outputs:\n  o0: &t \"{}\"\n",
            "{{ run.id }}".repeat(800)
        ));
        for i in 1..300 {
            text.push_str(&format!("  o{i}: *t\n"));
        }
        text
    };
    cases.extend(both(
        ALIAS,
        "flat_template_10k_x300",
        template_bomb,
        Expect::Accept,
    ));
    // An anchored step, aliased 10,001 times (same id each time).
    cases.push(
        Case::validate(ALIAS, "flat_step_x10001.yaml", {
            let mut text = String::from("version: 1\nname: s\nsteps:\n  - &s {id: a, log: x}\n");
            for _ in 0..10_000 {
                text.push_str("  - *s\n");
            }
            text
        })
        .refuse(),
    );
    // Broken aliases: a syntax error with a location.
    cases.push(
        Case::validate(
            ALIAS,
            "alias_undefined.yaml",
            steps("u", "  - id: a\n    log: *nope\n"),
        )
        .refuse(),
    );
    cases.push(
        Case::validate(
            ALIAS,
            "alias_recursive.yaml",
            steps("r", "  - id: a\n    set: &a {x: *a}\n"),
        )
        .refuse(),
    );
    cases.push(
        Case::validate(ALIAS, "anchor_redefined_10k.yaml", {
            let mut text = steps("r", "  - id: a\n    log: x\n");
            text.push_str("outputs:\n");
            for i in 0..10_000 {
                text.push_str(
                    &format!("  o{i}: &a [{i}, *a]\n")
                        .replace(", *a", if i == 0 { "" } else { ", *a" }),
                );
            }
            text
        })
        .refuse(),
    );

    // Deep nesting, under `outputs.deep` (root and `outputs` are two levels already).
    let flow = |depth: usize| format!("{}x{}", "[".repeat(depth), "]".repeat(depth));
    let flow_map = |depth: usize| format!("{}x{}", "{a: ".repeat(depth), "}".repeat(depth));
    let block_seq = |depth: usize| format!("{}x", "- ".repeat(depth));
    let with_output = |name: &str, value: &str| {
        steps(name, "  - id: hello\n    log: hello\n") + "outputs:\n  deep: " + value + "\n"
    };
    for depth in [60usize, 70, 1000, 10_000, 100_000] {
        let expect = if depth < 64 {
            Expect::Accept
        } else {
            Expect::Refuse
        };
        let mut case = Case::validate(
            NESTING,
            &format!("flow_seq_{depth}.yaml"),
            lazy(move || with_output("n", &flow(depth))),
        );
        case.expect = expect;
        cases.push(case);
    }
    for depth in [60usize, 70, 10_000] {
        let expect = if depth < 64 {
            Expect::Accept
        } else {
            Expect::Refuse
        };
        let mut case = Case::validate(
            NESTING,
            &format!("flow_map_{depth}.yaml"),
            lazy(move || with_output("n", &flow_map(depth))),
        );
        case.expect = expect;
        cases.push(case);
    }
    for depth in [60usize, 70, 10_000] {
        let expect = if depth < 64 {
            Expect::Accept
        } else {
            Expect::Refuse
        };
        let mut case = Case::validate(
            NESTING,
            &format!("block_seq_{depth}.yaml"),
            lazy(move || with_output("n", &format!("\n    {}", block_seq(depth)))),
        );
        case.expect = expect;
        cases.push(case);
    }
    for depth in [60usize, 70, 1500] {
        let expect = if depth < 64 {
            Expect::Accept
        } else {
            Expect::Refuse
        };
        let mut case = Case::validate(
            NESTING,
            &format!("block_map_{depth}.yaml"),
            lazy(move || {
                let mut value = String::new();
                for level in 0..depth {
                    value.push_str(&format!("\n{}a:", " ".repeat(4 + level)));
                }
                value.push_str(" x");
                with_output("n", &value)
            }),
        );
        case.expect = expect;
        cases.push(case);
    }
    cases.push(
        Case::validate(
            NESTING,
            "flow_unclosed_10000.yaml",
            with_output("n", &"[".repeat(10_000)),
        )
        .refuse(),
    );
    cases.push(
        Case::validate(
            NESTING,
            "flow_unclosed_map_10000.yaml",
            with_output("n", &"{a: ".repeat(10_000)),
        )
        .refuse(),
    );
    cases.push(Case::validate(
        NESTING,
        "json_style_10000.yaml",
        format!("{{\"version\": 1, \"name\": \"j\", \"steps\": [{{\"id\": \"a\", \"log\": \"x\"}}], \"outputs\": {{\"deep\": {}x{}}}}}\n", "{\"a\": ".repeat(10_000), "}".repeat(10_000)),
    ).refuse());
    cases.push(
        Case::validate(
            NESTING,
            "mixed_10000.yaml",
            with_output(
                "n",
                &format!("{}x{}", "[{a: ".repeat(5000), "}]".repeat(5000)),
            ),
        )
        .refuse(),
    );
    cases.push(Case::validate(
        NESTING,
        "deep_in_call_params_10000.yaml",
        steps("c", &format!("  - id: a\n    call:\n      operation: ListWorkflowExecutions\n      params: {{workflow_id: w, x: {}}}\n", flow(10_000))),
    ).refuse());
    cases.push(Case::run(
        NESTING,
        "deep_in_set_50.run.yaml",
        steps("s", &format!("  - id: a\n    set: {{x: {}}}\n  - id: b\n    log: \"{{{{ vars.x | tojson }}}}\"\n", flow(50))),
    ).accept());
    cases.push(Case::run(
        NESTING,
        "deep_in_set_10000.run.yaml",
        steps("s", &format!("  - id: a\n    set: {{x: {}}}\n  - id: b\n    log: \"{{{{ vars.x | tojson }}}}\"\n", flow(10_000))),
    ).refuse());
    cases
}
