//! Templates that are expensive to compile: 100,000-long chains of filters, attribute reads,
//! `+`, `~`, subscripts and `and` (and other operators, around `MAX_EXPRESSION_OPERATORS`),
//! 20,000 nested parentheses, brackets and calls (around `MAX_EXPRESSION_DEPTH`), also inside a
//! `jsonpath` argument, and deeply nested `{% %}` blocks.

use runbook_lang::limits::{MAX_EXPRESSION_DEPTH, MAX_EXPRESSION_OPERATORS};

use super::{lazy, log_step, runbook, steps, when, Case, Expect};

const CHAIN: &str = "template_chain";
const PARENS: &str = "parens";
const BLOCKS: &str = "template_blocks";

/// An expression with exactly `n` operators of one kind.
fn chain(kind: &str, n: usize) -> String {
    match kind {
        "filter" => format!("'a'{}", " | lower".repeat(n)),
        "attribute" => format!("inputs.o{}", ".a".repeat(n)),
        "plus" => format!("1{}", " + 1".repeat(n)),
        "tilde" => format!("'a'{}", " ~ 'a'".repeat(n)),
        "subscript" => format!("inputs.o{}", "['a']".repeat(n)),
        "and" => format!("true{}", " and true".repeat(n)),
        "or" => format!("false{}", " or false".repeat(n)),
        "not" => format!("{}true", "not ".repeat(n)),
        "minus" => format!("{}1", "- ".repeat(n)),
        "ternary" => format!("{}1", "1 if true else ".repeat(n)),
        "compare" => format!("1{}", " == 1".repeat(n)),
        "method" => format!("'a'{}", ".upper()".repeat(n)),
        other => unreachable!("{other}"),
    }
}

/// A runbook with an object input `o` (for attribute reads) logging `{{ expr }}`.
fn logging(name: &str, expr: &str) -> String {
    runbook(
        name,
        &format!(
            "inputs:\n  o: {{type: object, default: {{}}}}\nsteps:\n{}",
            log_step("show", &format!("{{{{ {expr} }}}}"))
        ),
    )
}

pub fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let below = MAX_EXPRESSION_OPERATORS - 16;
    let above = MAX_EXPRESSION_OPERATORS + 16;
    let kinds = [
        "filter",
        "attribute",
        "plus",
        "tilde",
        "subscript",
        "and",
        "or",
        "not",
        "minus",
        "ternary",
        "compare",
        "method",
    ];
    for kind in kinds {
        // `a if b else c` counts `if` and `else`; `.upper()` counts the read and the call.
        let per_link = if matches!(kind, "ternary" | "method") {
            2
        } else {
            1
        };
        let below = below / per_link;
        let above = above / per_link + 1;
        // `method` calls fail at run time (no such method); the others render.
        let runs_ok = !matches!(kind, "attribute" | "subscript" | "method");
        let mut validate = Case::validate(
            CHAIN,
            &format!("{kind}_{below}.yaml"),
            logging("c", &chain(kind, below)),
        );
        validate.expect = Expect::Accept;
        cases.push(validate);
        let mut run = Case::run(
            CHAIN,
            &format!("{kind}_{below}.run.yaml"),
            logging("c", &chain(kind, below)),
        );
        run.expect = if runs_ok {
            Expect::Accept
        } else {
            Expect::Survive
        };
        cases.push(run);
        cases.push(
            Case::validate(
                CHAIN,
                &format!("{kind}_{above}.yaml"),
                logging("c", &chain(kind, above)),
            )
            .refuse(),
        );
        cases.push(
            Case::validate(
                CHAIN,
                &format!("{kind}_4000.yaml"),
                logging("c", &chain(kind, 4000)),
            )
            .refuse(),
        );
    }
    for kind in ["filter", "attribute", "plus", "tilde", "subscript", "and"] {
        cases.push(
            Case::validate(
                CHAIN,
                &format!("{kind}_100000.yaml"),
                lazy(move || logging("c", &chain(kind, 100_000))),
            )
            .refuse(),
        );
    }
    cases.push(
        Case::run(
            CHAIN,
            "tilde_100000.run.yaml",
            lazy(|| logging("c", &chain("tilde", 100_000))),
        )
        .refuse(),
    );
    cases.push(
        Case::validate(
            CHAIN,
            "when_and_100000.yaml",
            lazy(|| when("w", &chain("and", 100_000))),
        )
        .refuse(),
    );
    cases.push(
        Case::validate(
            CHAIN,
            "when_filter_4000.yaml",
            when("w", &chain("filter", 4000)),
        )
        .refuse(),
    );
    cases.push(
        Case::validate(
            CHAIN,
            "if_block_plus_4000.yaml",
            steps(
                "b",
                &log_step(
                    "show",
                    &format!("{{% if {} %}}yes{{% endif %}}", chain("plus", 4000)),
                ),
            ),
        )
        .refuse(),
    );

    // Nesting inside one expression.
    let depth_below = MAX_EXPRESSION_DEPTH - 4;
    let depth_above = MAX_EXPRESSION_DEPTH + 4;
    let parens = |n: usize| format!("{}1{}", "(".repeat(n), ")".repeat(n));
    let lists = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
    // `} ` rather than `}}`, which would end the `{{ }}`.
    let dicts = |n: usize| format!("{}1{}", "{'a': ".repeat(n), "} ".repeat(n));
    let calls = |n: usize| format!("{}1{}", "dict(a=".repeat(n), ")".repeat(n));
    let defaults = |n: usize| format!("{}'a'{}", "'a' | default(".repeat(n), ")".repeat(n));
    for (kind, make) in [
        ("parens", &parens as &dyn Fn(usize) -> String),
        ("lists", &lists),
        ("dicts", &dicts),
        ("calls", &calls),
        ("filter_args", &defaults),
    ] {
        cases.push(
            Case::validate(
                PARENS,
                &format!("{kind}_{depth_below}.yaml"),
                logging("p", &make(depth_below)),
            )
            .accept(),
        );
        cases.push(
            Case::validate(
                PARENS,
                &format!("{kind}_{depth_above}.yaml"),
                logging("p", &make(depth_above)),
            )
            .refuse(),
        );
        cases.push(
            Case::validate(
                PARENS,
                &format!("{kind}_20000.yaml"),
                logging("p", &make(20_000)),
            )
            .refuse(),
        );
    }
    cases.push(
        Case::run(
            PARENS,
            &format!("parens_{depth_below}.run.yaml"),
            logging("p", &parens(depth_below)),
        )
        .accept(),
    );
    cases.push(
        Case::run(
            PARENS,
            "parens_20000.run.yaml",
            logging("p", &parens(20_000)),
        )
        .refuse(),
    );
    cases.push(
        Case::validate(
            PARENS,
            "parens_unclosed_20000.yaml",
            logging("p", &"(".repeat(20_000)),
        )
        .refuse(),
    );
    cases.push(
        Case::validate(PARENS, "when_parens_20000.yaml", when("w", &parens(20_000))).refuse(),
    );
    cases.push(
        Case::validate(
            PARENS,
            "if_block_parens_20000.yaml",
            steps(
                "b",
                &log_step(
                    "show",
                    &format!("{{% if {} %}}yes{{% endif %}}", parens(20_000)),
                ),
            ),
        )
        .refuse(),
    );
    // JSONPath is parsed by its own parser, at run time, from a string the template checks
    // no further.
    let jsonpath = |path: &str| format!("[{{'a': 1}}] | jsonpath('{path}') | tojson");
    let filter_parens = |n: usize| format!("$[?{}@.a > 0{}]", "(".repeat(n), ")".repeat(n));
    let nested_filters = |n: usize| format!("${}{}", "[?@".repeat(n), "]".repeat(n));
    cases.push(
        Case::run(
            PARENS,
            "jsonpath_parens_28.run.yaml",
            logging("j", &jsonpath(&filter_parens(28))),
        )
        .accept(),
    );
    cases.push(Case::run(
        PARENS,
        "jsonpath_parens_20000.run.yaml",
        logging("j", &jsonpath(&filter_parens(20_000))),
    ));
    cases.push(Case::validate(
        PARENS,
        "jsonpath_parens_20000.yaml",
        logging("j", &jsonpath(&filter_parens(20_000))),
    ));
    cases.push(Case::run(
        PARENS,
        "jsonpath_nested_filters_10000.run.yaml",
        logging("j", &jsonpath(&nested_filters(10_000))),
    ));
    cases.push(Case::run(
        PARENS,
        "jsonpath_not_20000.run.yaml",
        logging("j", &jsonpath(&format!("$[?{}@.a]", "!".repeat(20_000)))),
    ));
    cases.push(Case::run(
        PARENS,
        "jsonpath_descendants_10000.run.yaml",
        logging("j", &jsonpath(&format!("${}", "..a".repeat(10_000)))),
    ));
    cases.push(Case::run(
        PARENS,
        "jsonpath_unclosed_20000.run.yaml",
        logging("j", &jsonpath(&format!("$[?{}@.a", "(".repeat(20_000)))),
    ));
    cases.push(Case::run(
        PARENS,
        "when_jsonpath_parens_20000.run.yaml",
        when(
            "w",
            &format!("{} | length > 0", jsonpath(&filter_parens(20_000))),
        ),
    ));

    // `{% %}` blocks nested, or a template that never closes.
    let nested =
        |open: &str, close: &str, n: usize| format!("{}x{}", open.repeat(n), close.repeat(n));
    for (kind, open, close) in [
        ("if", "{% if true %}", "{% endif %}"),
        ("for", "{% for i in [1] %}", "{% endfor %}"),
        ("with", "{% with a = 1 %}", "{% endwith %}"),
        ("filter", "{% filter upper %}", "{% endfilter %}"),
        ("macro", "{% macro m() %}", "{% endmacro %}"),
    ] {
        cases.push(Case::validate(
            BLOCKS,
            &format!("nested_{kind}_100.yaml"),
            logs_block(&nested(open, close, 100)),
        ));
        cases.push(Case::validate(
            BLOCKS,
            &format!("nested_{kind}_2000.yaml"),
            logs_block(&nested(open, close, 2000)),
        ));
    }
    cases.push(Case::run(
        BLOCKS,
        "nested_if_2000.run.yaml",
        logs_block(&nested("{% if true %}", "{% endif %}", 2000)),
    ));
    cases.push(
        Case::validate(
            BLOCKS,
            "unclosed_if_3000.yaml",
            logs_block(&"{% if true %}".repeat(3000)),
        )
        .refuse(),
    );
    cases.push(Case::validate(BLOCKS, "unclosed_raw.yaml", logs_block("{% raw %}x")).refuse());
    cases.push(Case::validate(BLOCKS, "unclosed_comment.yaml", logs_block("{# x")).refuse());
    cases.push(Case::validate(BLOCKS, "unclosed_expression.yaml", logs_block("{{ 1")).refuse());
    cases.push(Case::validate(
        BLOCKS,
        "sets_4000.yaml",
        logs_block(&"{% set x = 1 %}".repeat(4000)),
    ));
    cases
}

fn logs_block(text: &str) -> String {
    super::logs("b", text)
}
