//! What a template may ask of the engine, checked by one linear scan before minijinja sees it.
//!
//! minijinja's parser and compiler recurse over the expression tree, so a 100,000-long chain
//! of filters or `+` overflows the stack; its compiler folds constants, so `'a' * 99999999`
//! is built while the runbook is merely validated. Neither can be stopped from outside once
//! it starts, so the text is measured first: its size, its nesting, its operators, the
//! statements it uses, and how far its literals could be repeated.

use crate::limits::{
    MAX_EXPRESSION_DEPTH, MAX_EXPRESSION_OPERATORS, MAX_RENDERED_BYTES, MAX_TEMPLATE_BYTES,
    MAX_TEMPLATE_NUMBER,
};

use super::TemplateError;

/// The statements a runbook template may use. `set`, `macro`, `call`, `include`, `import`,
/// `extends`, `block`, `filter` and `with` are not needed in a runbook (a `set` step holds a
/// value) and each is a way to build without bound or to read beyond the runbook.
const STATEMENTS: &[&str] = &[
    "if", "elif", "else", "endif", "for", "endfor", "break", "continue",
];

/// Functions a runbook template may not call: `namespace` is a mutable accumulator (a loop
/// can double it), `debug` dumps the whole context, secrets included.
const REFUSED_FUNCTIONS: &[&str] = &["namespace", "debug"];

/// The filters (`x | name`) and tests (`x is name`) a template names, found by the same
/// scan: minijinja looks them up only when it renders, so the validator asks for them.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Named {
    pub filters: Vec<String>,
    pub tests: Vec<String>,
}

/// Checks a runbook string that may hold `{{ }}`, `{% %}` and `{# #}`.
pub fn check_template(text: &str) -> Result<(), TemplateError> {
    measure_template(text).map(drop)
}

/// Checks a bare expression (a condition, or the inside of a lone `{{ }}`).
pub fn check_expression(expr: &str) -> Result<(), TemplateError> {
    measure_expression(expr).map(drop)
}

/// [`check_template`], returning the filters and tests the template names.
pub fn measure_template(text: &str) -> Result<Named, TemplateError> {
    check_size(text)?;
    let mut named = Named::default();
    let bytes = text.as_bytes();
    let mut repeated = 0usize;
    let mut at = 0;
    while let Some(open) = find(bytes, at, b"{") {
        at = open + 1;
        match bytes.get(open + 1) {
            Some(b'{') => {
                let block = scan(bytes, open + 2, Block::Expression, &mut named)?;
                repeated = add_repeated(repeated, block.repeated)?;
                at = block.end;
            }
            Some(b'%') => {
                let block = scan(bytes, open + 2, Block::Statement, &mut named)?;
                repeated = add_repeated(repeated, block.repeated)?;
                at = if block.raw {
                    skip_raw(bytes, block.end)
                } else {
                    block.end
                };
            }
            Some(b'#') => {
                at = find(bytes, open + 2, b"#}").map_or(bytes.len(), |close| close + 2);
            }
            _ => {}
        }
    }
    Ok(named)
}

/// [`check_expression`], returning the filters and tests the expression names.
pub fn measure_expression(expr: &str) -> Result<Named, TemplateError> {
    check_size(expr)?;
    let mut named = Named::default();
    let block = scan(expr.as_bytes(), 0, Block::Bare, &mut named)?;
    add_repeated(0, block.repeated).map(|_| named)
}

/// What the previous token makes of the next word.
#[derive(Clone, Copy, PartialEq, Eq)]
enum After {
    Pipe,
    Is,
    Other,
}

fn check_size(text: &str) -> Result<(), TemplateError> {
    if text.len() > MAX_TEMPLATE_BYTES {
        return Err(TemplateError(format!(
            "a template of {} KiB; at most {} KiB",
            text.len().div_ceil(1024),
            MAX_TEMPLATE_BYTES >> 10
        )));
    }
    Ok(())
}

fn add_repeated(so_far: usize, more: usize) -> Result<usize, TemplateError> {
    let total = so_far.saturating_add(more);
    if total > MAX_RENDERED_BYTES {
        return Err(TemplateError(format!(
            "repeats its literal text past {} MiB, the most one template value may be",
            MAX_RENDERED_BYTES >> 20
        )));
    }
    Ok(total)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Block {
    /// `{{ … }}`
    Expression,
    /// `{% … %}`
    Statement,
    /// The whole text is one expression.
    Bare,
}

struct Scanned {
    /// Just past the block's closing delimiter.
    end: usize,
    /// Bytes the block's literals may be repeated to by `*` with written numbers.
    repeated: usize,
    /// The block was `{% raw %}`.
    raw: bool,
}

/// One block, from just after its opening delimiter to just past its closing one.
fn scan(
    bytes: &[u8],
    start: usize,
    block: Block,
    named: &mut Named,
) -> Result<Scanned, TemplateError> {
    let mut after = After::Other;
    let mut at = start;
    let mut depth = 0usize;
    let mut operators = 0usize;
    let mut literal_bytes = 0usize;
    let mut factor = 1u64;
    let mut after_star = false;
    let mut last_number: Option<u64> = None;
    let mut first_word = true;
    let mut raw = false;
    let mut end = bytes.len();
    while at < bytes.len() {
        let byte = bytes[at];
        let mut number = None;
        let before = after;
        after = After::Other;
        match byte {
            b' ' | b'\t' | b'\n' | b'\r' => {
                at += 1;
                after = before;
                continue;
            }
            b'\'' | b'"' => {
                let close = string_end(bytes, at + 1, byte);
                // The text between the quotes (an empty string still has an element's worth).
                literal_bytes = literal_bytes.saturating_add((close - at).saturating_sub(2).max(1));
                at = close;
            }
            b'0'..=b'9' => {
                let (next, value) = read_number(bytes, at);
                if value > MAX_TEMPLATE_NUMBER {
                    return Err(TemplateError(format!(
                        "a number larger than {MAX_TEMPLATE_NUMBER}; pass it as an input"
                    )));
                }
                number = Some(value);
                at = next;
            }
            b'A'..=b'Z' | b'a'..=b'z' | b'_' => {
                let next = word_end(bytes, at);
                let word = std::str::from_utf8(&bytes[at..next]).unwrap_or_default();
                match (before, word) {
                    (After::Pipe, _) => named.filters.push(word.to_owned()),
                    (After::Is, "not") => after = After::Is,
                    (After::Is, _) => named.tests.push(word.to_owned()),
                    (After::Other, "is") => after = After::Is,
                    (After::Other, _) => {}
                }
                if block == Block::Statement && first_word {
                    if word == "raw" {
                        raw = true;
                    } else if !STATEMENTS.contains(&word) {
                        return Err(TemplateError(format!(
                            "`{{% {word} %}}` is not available in runbook templates: only `if` \
                             and `for` are (a `set` step holds a value)"
                        )));
                    }
                }
                if REFUSED_FUNCTIONS.contains(&word) && next_non_space(bytes, next) == Some(b'(') {
                    return Err(TemplateError(format!(
                        "`{word}()` is not available in runbook templates"
                    )));
                }
                if matches!(word, "and" | "or" | "not" | "in" | "is" | "if" | "else") {
                    operators += 1;
                }
                at = next;
            }
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > MAX_EXPRESSION_DEPTH {
                    return Err(TemplateError(format!(
                        "brackets nested more than {MAX_EXPRESSION_DEPTH} deep"
                    )));
                }
                if byte != b'(' {
                    literal_bytes = literal_bytes.saturating_add(1);
                }
                operators += 1;
                at += 1;
            }
            b'}' if depth == 0
                && block == Block::Expression
                && bytes.get(at + 1) == Some(&b'}') =>
            {
                end = at + 2;
                break;
            }
            b'%' if depth == 0 && block == Block::Statement && bytes.get(at + 1) == Some(&b'}') => {
                end = at + 2;
                break;
            }
            b')' | b']' | b'}' => {
                depth = depth.saturating_sub(1);
                at += 1;
            }
            b',' => {
                literal_bytes = literal_bytes.saturating_add(1);
                at += 1;
            }
            b'*' => {
                if bytes.get(at + 1) == Some(&b'*') {
                    return Err(TemplateError(
                        "`**` is not available in runbook templates: write the number".to_owned(),
                    ));
                }
                if let Some(left) = last_number {
                    factor = factor.saturating_mul(left.max(1));
                }
                after_star = true;
                operators += 1;
                at += 1;
                first_word = false;
                last_number = None;
                check_operators(operators)?;
                continue;
            }
            _ if byte.is_ascii_punctuation() => {
                if byte == b'|' {
                    after = After::Pipe;
                }
                operators += 1;
                at += 1;
                while at < bytes.len() && is_operator_tail(bytes[at]) {
                    at += 1;
                }
            }
            _ => at += 1,
        }
        check_operators(operators)?;
        first_word = false;
        // A number between two `*` is counted once, as the right operand of the first.
        let counted = after_star && number.is_some();
        if let (Some(right), true) = (number, counted) {
            factor = factor.saturating_mul(right.max(1));
        }
        after_star = false;
        last_number = if counted { None } else { number };
    }
    let repeated = if factor > 1 && literal_bytes > 0 {
        usize::try_from(factor)
            .unwrap_or(usize::MAX)
            .saturating_mul(literal_bytes)
    } else {
        0
    };
    Ok(Scanned { end, repeated, raw })
}

fn check_operators(operators: usize) -> Result<(), TemplateError> {
    if operators > MAX_EXPRESSION_OPERATORS {
        return Err(TemplateError(format!(
            "more than {MAX_EXPRESSION_OPERATORS} operators, filters and lookups in one \
             expression; split it across `set` steps"
        )));
    }
    Ok(())
}

/// Operator characters that continue a two-character operator (`==`, `//`, `<=`, `!=`),
/// without swallowing a closing delimiter.
fn is_operator_tail(byte: u8) -> bool {
    matches!(byte, b'=' | b'/' | b'<' | b'>')
}

fn string_end(bytes: &[u8], mut at: usize, quote: u8) -> usize {
    while at < bytes.len() {
        match bytes[at] {
            b'\\' => at += 2,
            byte if byte == quote => return at + 1,
            _ => at += 1,
        }
    }
    bytes.len()
}

fn read_number(bytes: &[u8], start: usize) -> (usize, u64) {
    let mut at = start;
    let mut value = 0u64;
    while at < bytes.len() && (bytes[at].is_ascii_digit() || bytes[at] == b'_') {
        if bytes[at] != b'_' {
            value = value
                .saturating_mul(10)
                .saturating_add(u64::from(bytes[at] - b'0'));
        }
        at += 1;
    }
    // A fraction or an exponent: `1e9` repeats as much as `1000000000` would.
    if bytes.get(at) == Some(&b'.') && bytes.get(at + 1).is_some_and(u8::is_ascii_digit) {
        at += 1;
        while at < bytes.len() && bytes[at].is_ascii_digit() {
            at += 1;
        }
    }
    if matches!(bytes.get(at), Some(b'e' | b'E')) {
        let mut exponent_at = at + 1;
        if matches!(bytes.get(exponent_at), Some(b'+' | b'-')) {
            exponent_at += 1;
        }
        let mut exponent = 0u32;
        while exponent_at < bytes.len() && bytes[exponent_at].is_ascii_digit() {
            exponent = exponent
                .saturating_mul(10)
                .saturating_add(u32::from(bytes[exponent_at] - b'0'));
            exponent_at += 1;
        }
        if exponent_at > at + 1 {
            value = value.saturating_mul(10u64.saturating_pow(exponent));
            at = exponent_at;
        }
    }
    (at, value)
}

fn word_end(bytes: &[u8], mut at: usize) -> usize {
    while at < bytes.len() && (bytes[at].is_ascii_alphanumeric() || bytes[at] == b'_') {
        at += 1;
    }
    at
}

fn next_non_space(bytes: &[u8], mut at: usize) -> Option<u8> {
    while at < bytes.len() && bytes[at].is_ascii_whitespace() {
        at += 1;
    }
    bytes.get(at).copied()
}

fn find(bytes: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    bytes
        .get(from..)?
        .windows(needle.len())
        .position(|window| window == needle)
        .map(|found| from + found)
}

/// Past the `{% endraw %}` that closes a raw block (its content is text, not template).
fn skip_raw(bytes: &[u8], from: usize) -> usize {
    let mut at = from;
    while let Some(open) = find(bytes, at, b"{%") {
        let inner = &bytes[open + 2..];
        let word_start = inner
            .iter()
            .position(|b| !matches!(b, b'-' | b'+' | b' ' | b'\t' | b'\n' | b'\r'))
            .unwrap_or(inner.len());
        if inner[word_start..].starts_with(b"endraw") {
            return find(bytes, open + 2, b"%}").map_or(bytes.len(), |close| close + 2);
        }
        at = open + 2;
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(text: &str) -> String {
        match check_template(text) {
            Ok(()) => panic!("`{}` passed", &text[..text.len().min(80)]),
            Err(error) => error.0,
        }
    }

    #[test]
    fn ordinary_templates_pass() {
        for text in [
            "{{ inputs.x }}",
            "plain text with { braces }",
            "{{ steps.start.execution_id }}-{{ inputs.name | upper }}-{{ now() }}",
            "{% for n in inputs.nodes %}{{ n.id }},{% endfor %}",
            "{% if inputs.a > 1000 and inputs.b < 2000 %}big{% else %}small{% endif %}",
            "{{ {'a': {'b': 1}}['a'] }}",
            "{{ inputs.hours * 3600 * 1000 }}",
            "{{ 'ab' * 3 }}{{ [1, 2] * 10 }}",
            "{{ 'a' * 1000 * 1000 }}",
            "{# a comment with {{ and ** #}{{ 1 }}",
            "{% raw %}{{ 2 ** 10 }}{% set x = 1 %}{% endraw %}",
            "{{ x | default('{{') }}",
        ] {
            assert_eq!(check_template(text), Ok(()), "{text}");
        }
        assert_eq!(
            check_expression("inputs.a == 'x' and node.restarts < 2"),
            Ok(())
        );
    }

    #[test]
    fn long_chains_are_refused_before_they_are_parsed() {
        for chain in [
            format!("{{{{ x{} }}}}", "|upper".repeat(100_000)),
            format!("{{{{ x{} }}}}", ".a".repeat(30_000)),
            format!("{{{{ x{} }}}}", " + 1".repeat(20_000)),
            format!("{{{{ x{} }}}}", " and y".repeat(10_000)),
            format!("{{{{ x{} }}}}", "[0]".repeat(20_000)),
        ] {
            let error = refused(&chain);
            assert!(
                error.contains("operators") || error.contains("KiB"),
                "{error}"
            );
        }
        let deep = format!("{{{{ {}1{} }}}}", "(".repeat(20_000), ")".repeat(20_000));
        assert!(refused(&deep).contains("nested"));
        assert!(refused(&"{{ x }}".repeat(10_000)).contains("KiB"));
        let deep = format!("{{{{ {}1{} }}}}", "(".repeat(40), ")".repeat(40));
        assert!(refused(&deep).contains("nested"));
    }

    #[test]
    fn literal_text_repeated_past_a_mebibyte_is_refused() {
        assert!(refused("{{ 'a' * 99999999 }}").contains("repeats"));
        assert!(refused("{{ 'a' * 1000 * 1000 * 100 }}").contains("repeats"));
        assert!(refused("{{ ('abc' * 1000) * 1000 }}").contains("repeats"));
        assert!(refused("{{ [1] * 1e9 }}").contains("repeats"));
        let many = "{{ 'a' * 100000 }}".repeat(20);
        assert!(refused(&many).contains("repeats"));
        assert!(refused("{{ 2 ** 64 }}").contains("**"));
        assert!(refused("{{ 1e308 * 10 }}").contains("larger than"));
        assert!(refused(&format!("{{{{ {} }}}}", "9".repeat(45))).contains("larger than"));
        assert_eq!(check_template("{{ 1000000000000000 }}"), Ok(()));
    }

    #[test]
    fn statements_beyond_if_and_for_are_refused() {
        for statement in [
            "set x = 1",
            "macro m()",
            "include 'x'",
            "import 'x' as y",
            "extends 'x'",
        ] {
            let error = refused(&format!("{{% {statement} %}}"));
            assert!(error.contains("only `if` and `for`"), "{error}");
        }
        assert!(refused("{{ namespace(a=1) }}").contains("namespace"));
        assert!(refused("{% for i in range(3) %}{{ debug() }}{% endfor %}").contains("debug"));
    }
}
