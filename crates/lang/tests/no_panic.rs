#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Whatever the text, parsing answers with a runbook or diagnostics, and every diagnostic
//! renders: random edits of the canonical example (deleted, inserted and replaced
//! characters, including multi-byte ones and YAML punctuation) never panic.

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
