#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The parser, the validator and the template engine on the stable toolchain's fuzzing:
//! whatever the text, parsing answers with a runbook or diagnostics and every diagnostic
//! renders (random edits of the canonical example: deleted, inserted and replaced
//! characters, multi-byte ones and YAML punctuation), and any template built from hostile
//! pieces checks and renders to a bounded value or an error, never a panic.
//!
//! CI runs a few hundred cases of each. A longer run:
//! `PROPTEST_CASES=100000 cargo test --release -p runbook-lang --test no_panic`.

use proptest::prelude::*;
use runbook_lang::{parse, Source};

fn canonical() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../runbooks/canonical.yaml");
    std::fs::read_to_string(path).unwrap()
}

#[derive(Debug, Clone)]
enum Edit {
    Delete(usize, usize),
    Insert(usize, String),
}

fn edit() -> impl Strategy<Value = Edit> {
    let text = prop_oneof![
        Just(":".to_owned()),
        Just("- ".to_owned()),
        Just("\n  ".to_owned()),
        Just("\t".to_owned()),
        Just("\"".to_owned()),
        Just("{{".to_owned()),
        Just("}}".to_owned()),
        Just("é€😀".to_owned()),
        // Line breaks other than LF: libyaml counts each, and so must the diagnostics.
        Just("\r".to_owned()),
        Just("\r\n".to_owned()),
        Just("\u{2028}".to_owned()),
        Just("\u{85}".to_owned()),
        Just("[".to_owned()),
        "[a-z_.{}\\[\\]: \"'\\n-]{1,12}",
    ];
    prop_oneof![
        (0usize..5000, 1usize..40).prop_map(|(at, len)| Edit::Delete(at, len)),
        (0usize..5000, text).prop_map(|(at, text)| Edit::Insert(at, text)),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for edit in edits {
        match edit {
            Edit::Delete(at, len) => {
                let at = at % (chars.len() + 1);
                let end = (at + len).min(chars.len());
                chars.drain(at..end);
            }
            Edit::Insert(at, text) => {
                let at = at % (chars.len() + 1);
                chars.splice(at..at, text.chars());
            }
        }
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn edits_never_panic(edits in proptest::collection::vec(edit(), 1..6)) {
        let text = apply(&canonical(), &edits);
        let source = Source::new("edited.yaml", text.clone());
        if let Err(diagnostics) = parse(&source) {
            prop_assert!(!diagnostics.is_empty());
            for diagnostic in &diagnostics {
                let rendered = diagnostic.render(&text);
                let place = format!("edited.yaml:{}:{}", diagnostic.line, diagnostic.column);
                prop_assert!(rendered.contains(&place), "{}", rendered);
            }
        }
    }

    #[test]
    fn any_bytes_decode_or_are_located(
        text in proptest::collection::vec(any::<u8>(), 0..200),
        at in 0usize..5000,
    ) {
        // Random bytes spliced into the canonical runbook, so the problem has lines before it.
        let mut bytes = canonical().into_bytes();
        let at = at % (bytes.len() + 1);
        bytes.splice(at..at, text);
        match Source::from_bytes("bytes.yaml", &bytes) {
            Ok(source) => {
                if let Err(diagnostics) = parse(&source) {
                    let rendered = source.render(&diagnostics);
                    prop_assert!(rendered.contains("bytes.yaml:"), "{}", rendered);
                }
            }
            Err(not_text) => {
                let d = &not_text.diagnostic;
                let place = format!("bytes.yaml:{}:{}", d.line, d.column);
                prop_assert!(not_text.render().contains(&place), "{}", not_text.render());
            }
        }
    }
}

/// Pieces a template is made of, hostile ones included: deep brackets, long chains, large
/// numbers, repetition, statements the language refuses.
fn template_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("{{ ".to_owned()),
        Just(" }}".to_owned()),
        Just("{% for i in range(1000) %}".to_owned()),
        Just("{% endfor %}".to_owned()),
        Just("{% if inputs.n > 3 %}".to_owned()),
        Just("{% else %}{% endif %}".to_owned()),
        Just("{% set x = 1 %}".to_owned()),
        Just("inputs.s".to_owned()),
        Just("inputs.n".to_owned()),
        Just("inputs.list".to_owned()),
        Just(" ~ ".to_owned()),
        Just(" * ".to_owned()),
        Just(" + ".to_owned()),
        Just(" and ".to_owned()),
        Just("(".to_owned()),
        Just(")".to_owned()),
        Just("[0]".to_owned()),
        Just(".a".to_owned()),
        Just("'abc'".to_owned()),
        Just("99999999".to_owned()),
        Just("1e9".to_owned()),
        Just("| upper".to_owned()),
        Just("| join('--')".to_owned()),
        Just("| tojson".to_owned()),
        Just("| indent(9999)".to_owned()),
        Just("| replace('', 'xyz')".to_owned()),
        Just("'%99999s' | format(1)".to_owned()),
        Just("| jsonpath('$..a')".to_owned()),
        Just("namespace()".to_owned()),
        "[a-z(){}%'|.~*\\[\\] ]{1,6}",
    ]
}

fn template_context() -> minijinja::Value {
    runbook_lang::template::to_jinja(&serde_json::json!({
        "inputs": {"s": "x".repeat(1000), "n": 100_000, "list": (0..1000).collect::<Vec<_>>()}
    }))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// Checking and rendering any template ends with a value or an error, and a value is
    /// never larger than the limit.
    #[test]
    fn templates_never_panic_and_stay_bounded(
        pieces in proptest::collection::vec(template_piece(), 1..40),
        repeat in 1usize..4,
    ) {
        let text = pieces.concat().repeat(repeat);
        let engine = runbook_lang::template::Engine::default();
        let _ = engine.references(&text);
        let _ = engine.condition_references(&text);
        if let Ok(value) = engine.render_str(&text, &template_context()) {
            let size = serde_json::to_string(&value).unwrap().len();
            prop_assert!(size <= runbook_lang::limits::MAX_RENDERED_BYTES + 2, "{} bytes", size);
        }
    }
}
