//! Templates that are expensive to render: repetition (`'a' * 99999999`,
//! `'%999999999s' | format`, widths of `indent`, `center`, …, around `MAX_TEMPLATE_NUMBER`,
//! `MAX_RENDERED_BYTES` and `MAX_FORMAT_WIDTH`), `namespace` doubling in a loop, macros,
//! `include` / `import` / `extends`, loops of 10^10 iterations (`TEMPLATE_FUEL`), and huge
//! literals (around `MAX_TEMPLATE_BYTES` and `MAX_TEMPLATE_NUMBER`).

use runbook_lang::limits::{
    MAX_FORMAT_WIDTH, MAX_RENDERED_BYTES, MAX_TEMPLATE_BYTES, MAX_TEMPLATE_NUMBER,
};

use super::{lazy, logs, runbook, steps, when, Case, Expect};

const REPETITION: &str = "repetition";
const NAMESPACE: &str = "namespace";
const LOOPS: &str = "template_loop";
const LITERAL: &str = "literal";

/// The runbook validated with `validate` and run with `run` expectations.
fn pair(class: &'static str, stem: &str, text: String, validate: Expect, run: Expect) -> [Case; 2] {
    let mut v = Case::validate(class, &format!("{stem}.yaml"), text.clone());
    v.expect = validate;
    let mut r = Case::run(class, &format!("{stem}.run.yaml"), text);
    r.expect = run;
    [v, r]
}

/// `{{ expr }}` logged.
fn expr(name: &str, expr: &str) -> String {
    logs(name, &format!("{{{{ {expr} }}}}"))
}

pub fn cases() -> Vec<Case> {
    use Expect::{Accept, Refuse, Survive};
    let mut cases = Vec::new();
    let width = MAX_FORMAT_WIDTH;
    let number = MAX_TEMPLATE_NUMBER;
    let most = MAX_RENDERED_BYTES;
    for (stem, template, validate, run) in [
        (
            "str_times_99999999",
            "'a' * 99999999".to_owned(),
            Refuse,
            Refuse,
        ),
        (
            "str_times_max_rendered",
            format!("'a' * {most}"),
            Accept,
            Accept,
        ),
        (
            "str_times_max_rendered_plus_1",
            format!("'a' * {}", most + 1),
            Refuse,
            Refuse,
        ),
        (
            "str_times_1000_1000",
            "'a' * 1000 * 1000".to_owned(),
            Accept,
            Accept,
        ),
        (
            "str_times_1024_1025",
            "'a' * 1024 * 1025".to_owned(),
            Refuse,
            Refuse,
        ),
        (
            "str_times_1000_cubed",
            "'a' * 1000 * 1000 * 1000".to_owned(),
            Refuse,
            Refuse,
        ),
        (
            "str_times_nested_parens",
            "('a' * 1000) * (1000 * 1000)".to_owned(),
            Refuse,
            Refuse,
        ),
        (
            "list_times_99999999",
            "[1] * 99999999".to_owned(),
            Refuse,
            Refuse,
        ),
        (
            "list_times_1000_cubed",
            "[1, 2, 3] * 1000 * 1000 * 1000".to_owned(),
            Refuse,
            Refuse,
        ),
        (
            "str_times_negative",
            "'a' * -99999999".to_owned(),
            Survive,
            Survive,
        ),
        (
            "format_999999999",
            "'%999999999s' | format('a')".to_owned(),
            Survive,
            Refuse,
        ),
        (
            "format_max_width",
            format!("'%{width}s' | format('a')"),
            Accept,
            Accept,
        ),
        (
            "format_max_width_plus_1",
            format!("'%{}s' | format('a')", width + 1),
            Survive,
            Refuse,
        ),
        (
            "format_zero_padded",
            "'%0999999999d' | format(1)".to_owned(),
            Survive,
            Refuse,
        ),
        (
            "format_precision",
            "'%.999999999f' | format(1.5)".to_owned(),
            Survive,
            Refuse,
        ),
        (
            "format_star_width",
            "'%*s' | format(999999999, 'a')".to_owned(),
            Survive,
            Refuse,
        ),
        (
            "format_built_at_run_time",
            "('%' ~ '9' * 9 ~ 's') | format('a')".to_owned(),
            Survive,
            Survive,
        ),
        (
            "format_many_args",
            "('%s' * 100000) | format(*([1] * 100000))".to_owned(),
            Survive,
            Survive,
        ),
        (
            "indent_999999999",
            "'a\\nb' | indent(999999999)".to_owned(),
            Survive,
            Refuse,
        ),
        (
            "center_999999999",
            "'a' | center(999999999)".to_owned(),
            Survive,
            Refuse,
        ),
        (
            "wordwrap_999999999",
            "'a b' | wordwrap(999999999)".to_owned(),
            Survive,
            Refuse,
        ),
        (
            "truncate_999999999",
            "'a' | truncate(999999999)".to_owned(),
            Survive,
            Refuse,
        ),
        (
            "tojson_indent_999999999",
            "[[1]] | tojson(indent=999999999)".to_owned(),
            Survive,
            Refuse,
        ),
        ("pow_99999999", "2 ** 99999999".to_owned(), Refuse, Refuse),
        (
            "pow_of_pow",
            "(10 ** 10) ** 10".to_owned(),
            Survive,
            Survive,
        ),
        (
            "join_with_a_big_separator",
            "range(100000) | join('x' * 100000)".to_owned(),
            Survive,
            Survive,
        ),
        (
            "replace_by_a_big_string",
            "('a' * 100000) | replace('a', 'a' * 100000)".to_owned(),
            Survive,
            Survive,
        ),
        (
            "list_of_big_strings",
            "(['a' * 100000] * 100000) | join".to_owned(),
            Survive,
            Survive,
        ),
    ] {
        cases.extend(pair(REPETITION, stem, expr("r", &template), validate, run));
    }
    // Twenty separate 100 KB values in one template: 2 MB of literal text repeated, past
    // the limit for one template string.
    cases.extend(pair(
        REPETITION,
        "twenty_times_100000",
        logs("r", &"{{ 'a' * 100000 }}".repeat(20)),
        Refuse,
        Refuse,
    ));
    // The count comes from an input, so only the run can see it.
    let from_input = runbook(
        "i",
        "inputs:\n  n: {type: integer, default: 99999999}\nsteps:\n  - id: show\n    log: \"{{ 'a' * inputs.n }}\"\n",
    );
    cases.extend(pair(
        REPETITION,
        "times_an_input",
        from_input.clone(),
        Accept,
        Survive,
    ));
    cases.push(
        Case::run(REPETITION, "times_an_input_arg.run.yaml", from_input)
            .args(&["-i", "n=9999999999999"]),
    );

    // namespace(), macros, include / import / extends. Filters whose size depends on their
    // arguments are checked when they run (above: validation lets them through, runs refuse).
    let doubling = |op: &str, n: u32| {
        format!("{{% set ns = namespace(s='a', l=[1], d={{}}) %}}{{% for i in range({n}) %}}{{% set {op} %}}{{% endfor %}}{{{{ ns.s | length }}}} {{{{ ns.l | length }}}} {{{{ ns.d | tojson | length }}}}")
    };
    cases.extend(pair(
        NAMESPACE,
        "ns_string_doubling_10",
        logs("n", &doubling("ns.s = ns.s ~ ns.s", 10)),
        Refuse,
        Refuse,
    ));
    cases.extend(pair(
        NAMESPACE,
        "ns_string_doubling_40",
        logs("n", &doubling("ns.s = ns.s ~ ns.s", 40)),
        Survive,
        Survive,
    ));
    cases.push(Case::run(
        NAMESPACE,
        "ns_list_doubling_40.run.yaml",
        logs("n", &doubling("ns.l = ns.l + ns.l", 40)),
    ));
    cases.push(Case::run(
        NAMESPACE,
        "ns_dict_doubling_40.run.yaml",
        logs("n", &doubling("ns.d = {'a': ns.d, 'b': ns.d}", 40)),
    ));
    cases.push(Case::run(
        NAMESPACE,
        "ns_append_100000.run.yaml",
        logs("n", &doubling("ns.s = ns.s ~ 'aaaaaaaaaa'", 100_000)),
    ));
    cases.push(Case::run(
        NAMESPACE,
        "ns_cycle_tojson.run.yaml",
        logs(
            "n",
            "{% set ns = namespace() %}{% set ns.me = ns %}{{ ns | tojson }}",
        ),
    ));
    cases.push(Case::run(
        NAMESPACE,
        "macro_infinite_recursion.run.yaml",
        logs("m", "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}"),
    ));
    cases.push(Case::run(
        NAMESPACE,
        "macro_doubling_40.run.yaml",
        logs("m", "{% macro d(s, n) %}{% if n > 0 %}{{ d(s ~ s, n - 1) }}{% else %}{{ s | length }}{% endif %}{% endmacro %}{{ d('a', 40) }}"),
    ));
    cases.push(Case::run(
        NAMESPACE,
        "macro_fan_out_2e40.run.yaml",
        logs("m", "{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(40) }}"),
    ));
    cases.push(Case::run(
        NAMESPACE,
        "macro_caller_nesting_500.run.yaml",
        logs(
            "m",
            &format!(
                "{{% macro m() %}}[{{{{ caller() }}}}]{{% endmacro %}}{}x{}",
                "{% call m() %}".repeat(500),
                "{% endcall %}".repeat(500)
            ),
        ),
    ));
    for (stem, template) in [
        ("include", "{% include 'show' %}".to_owned()),
        (
            "include_list_10000",
            format!("{{% include [{}] %}}", vec!["'a'"; 10_000].join(", ")),
        ),
        (
            "include_ignore_missing",
            "{% include 'nope' ignore missing %}ok".to_owned(),
        ),
        ("import", "{% import 'x' as y %}{{ y.z }}".to_owned()),
        ("from_import", "{% from 'x' import y %}{{ y() }}".to_owned()),
        (
            "extends",
            "{% extends 'x' %}{% block b %}{% endblock %}".to_owned(),
        ),
        (
            "extends_twice",
            "{% extends 'x' %}{% extends 'y' %}".to_owned(),
        ),
        (
            "block_self",
            "{% block b %}{{ self.b() }}{% endblock %}".to_owned(),
        ),
    ] {
        cases.extend(pair(
            NAMESPACE,
            stem,
            logs("t", &template),
            Survive,
            Survive,
        ));
    }

    // Loops the fuel must stop.
    let loops = [
        ("range_nested_10e10", "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}done"),
        ("range_nested_output", "{% for a in range(100000) %}{% for b in range(100000) %}{{ b }}{% endfor %}{% endfor %}"),
        ("range_100000_output", "{% for a in range(100000) %}{{ a }}{% endfor %}"),
        ("loop_recursive_forever", "{% for x in [1] recursive %}{{ loop([1]) }}{% endfor %}"),
        ("map_join_100000", "{{ range(100000) | map('string') | join(',') | length }}"),
        ("sort_100000", "{{ range(100000) | reverse | sort | first }}"),
    ];
    for (stem, template) in loops {
        cases.extend(pair(LOOPS, stem, logs("l", template), Survive, Survive));
    }
    cases.extend(pair(
        LOOPS,
        "range_1000",
        logs("l", "{% for a in range(1000) %}{{ a }}{% endfor %}"),
        Accept,
        Accept,
    ));
    cases.extend(pair(
        LOOPS,
        "range_10e10",
        logs("l", "{% for a in range(10000000000) %}{% endfor %}"),
        Survive,
        Refuse,
    ));
    cases.push(Case::run(
        LOOPS,
        "when_map_join_100000.run.yaml",
        when("w", "range(100000) | map('string') | join | length > 0"),
    ));
    cases.push(Case::run(
        LOOPS,
        "set_nested_10e10.run.yaml",
        steps("s", "  - id: a\n    set:\n      x: \"{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}\"\n"),
    ));
    cases.push(Case::run(
        LOOPS,
        "outputs_nested_10e10.run.yaml",
        steps("o", "  - id: a\n    log: x\n") + "outputs:\n  x: \"{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}\"\n",
    ));

    // Literals around MAX_TEMPLATE_BYTES and MAX_TEMPLATE_NUMBER, and huge ones.
    let template_of =
        |bytes: usize| format!("{{{{ '{}' }}}}", "a".repeat(bytes - "{{ '' }}".len()));
    let max = MAX_TEMPLATE_BYTES;
    cases.extend(pair(
        LITERAL,
        "template_64k_exactly",
        logs("t", &template_of(max)),
        Accept,
        Accept,
    ));
    cases.push(
        Case::validate(
            LITERAL,
            "template_64k_plus_1.yaml",
            logs("t", &template_of(max + 1)),
        )
        .refuse(),
    );
    cases.push(
        Case::validate(
            LITERAL,
            "template_3mb.yaml",
            lazy(move || logs("t", &template_of(3 << 20))),
        )
        .refuse(),
    );
    cases.extend(pair(
        LITERAL,
        "plain_text_1_9mb",
        logs("t", &"a".repeat(1900 << 10)),
        Accept,
        Survive,
    ));
    cases.push(Case::validate(LITERAL, "number_max.yaml", expr("n", &number.to_string())).accept());
    cases.push(
        Case::validate(
            LITERAL,
            "number_max_plus_1.yaml",
            expr("n", &(number + 1).to_string()),
        )
        .refuse(),
    );
    cases.push(
        Case::validate(
            LITERAL,
            "number_beyond_i128.yaml",
            expr("n", &"9".repeat(45)),
        )
        .refuse(),
    );
    cases
        .push(Case::validate(LITERAL, "number_float_1e308.yaml", expr("n", "1e308 * 10")).refuse());
    cases.push(
        Case::validate(
            LITERAL,
            "number_100k_digits_in_template.yaml",
            expr("n", &"9".repeat(60_000)),
        )
        .refuse(),
    );
    cases.push(Case::validate(
        LITERAL,
        "yaml_int_overflow_concurrency.yaml",
        steps("c", "  - id: a\n    for_each: [1]\n    concurrency: 99999999999999999999999999\n    log: x\n"),
    ).refuse());
    cases.push(
        Case::validate(
            LITERAL,
            "yaml_float_1e999_attempts.yaml",
            steps("c", "  - id: a\n    retry: {attempts: 1e999}\n    log: x\n"),
        )
        .refuse(),
    );
    cases.push(Case::validate(
        LITERAL,
        "yaml_100k_digit_number.yaml",
        steps("c", "  - id: a\n    log: x\n") + "outputs:\n  n: " + &"9".repeat(100_000) + "\n",
    ));
    cases.push(
        Case::validate(
            LITERAL,
            "set_key_1mb.yaml",
            lazy(|| {
                steps(
                    "k",
                    &format!("  - id: a\n    set: {{{}: 1}}\n", "k".repeat(1 << 20)),
                )
            }),
        )
        .refuse(),
    );
    cases.extend(pair(
        LITERAL,
        "step_name_1mb",
        steps(
            "n",
            &format!("  - id: a\n    name: {}\n    log: x\n", "n".repeat(1 << 20)),
        ),
        Survive,
        Survive,
    ));
    cases.push(Case::validate(
        LITERAL,
        "description_3mb.yaml",
        lazy(|| {
            runbook(
                "d",
                &format!(
                    "description: {}\nsteps:\n  - id: a\n    log: x\n",
                    "d".repeat(3 << 20)
                ),
            )
        }),
    ));
    cases.push(Case::validate(
        LITERAL,
        "escaped_string_500k_escapes.yaml",
        lazy(|| {
            steps(
                "e",
                &format!("  - id: a\n    log: \"{}\"\n", "\\u0041".repeat(500_000)),
            )
        }),
    ));
    cases
}
