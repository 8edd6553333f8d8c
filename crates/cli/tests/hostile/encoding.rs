//! Encodings and line endings: invalid UTF-8, UTF-16 (LE/BE, with and without a BOM), NUL
//! bytes, CR-only and CRLF line endings, a UTF-8 BOM (valid), other odd characters.

use super::{steps, Case, Expect};

const CLASS: &str = "encoding";

fn valid() -> String {
    steps(
        "e",
        "  - id: first\n    log: hello\n  - id: second\n    log: world\n",
    )
}

/// The valid runbook with `bytes` spliced in at `marker` (a comment line, or inside a value).
fn spliced(at: &str, bytes: &[u8]) -> Vec<u8> {
    let text = valid();
    let position = match at {
        "start" => 0,
        "end" => text.len(),
        "comment" => {
            let i = text.find("steps:").unwrap();
            return [
                &text.as_bytes()[..i],
                b"# ",
                bytes,
                b"\n",
                &text.as_bytes()[i..],
            ]
            .concat();
        }
        "value" => text.find("hello").unwrap() + 2,
        "key" => text.find("log: world").unwrap() + 1,
        other => unreachable!("{other}"),
    };
    [
        &text.as_bytes()[..position],
        bytes,
        &text.as_bytes()[position..],
    ]
    .concat()
}

fn utf16(text: &str, little: bool, bom: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let units = if bom { vec![0xfeff] } else { Vec::new() };
    for unit in units.into_iter().chain(text.encode_utf16()) {
        let bytes = if little {
            unit.to_le_bytes()
        } else {
            unit.to_be_bytes()
        };
        out.extend_from_slice(&bytes);
    }
    out
}

pub fn cases() -> Vec<Case> {
    use Expect::{Accept, Refuse, Survive};
    let mut cases = Vec::new();
    let mut add = |stem: &str, bytes: Vec<u8>, expect: Expect| {
        let mut case = Case::validate(CLASS, &format!("{stem}.yaml"), bytes);
        case.expect = expect;
        cases.push(case);
    };
    // Invalid UTF-8: a diagnostic at the first bad byte.
    for (stem, at, bytes) in [
        ("invalid_utf8_in_comment", "comment", &b"\xff\xfe"[..]),
        ("invalid_utf8_in_value", "value", b"\xc3("),
        ("invalid_utf8_in_key", "key", b"\x80"),
        ("invalid_utf8_at_start", "start", b"\xff"),
        ("invalid_utf8_truncated_at_end", "end", b"\xe2\x82"),
        ("invalid_utf8_overlong_slash", "value", b"\xc0\xaf"),
        ("invalid_utf8_surrogate", "value", b"\xed\xa0\x80"),
        ("invalid_utf8_above_u10ffff", "value", b"\xf4\x90\x80\x80"),
        ("latin1_text", "value", b"caf\xe9"),
    ] {
        add(stem, spliced(at, bytes), Refuse);
    }
    add("invalid_utf8_1mb", vec![0xff; 1 << 20], Refuse);
    // UTF-16 and UTF-32: YAML allows UTF-16 with or without a BOM; either read it or refuse it
    // with a location.
    for (stem, little, bom) in [
        ("utf16le_bom", true, true),
        ("utf16be_bom", false, true),
        ("utf16le_no_bom", true, false),
        ("utf16be_no_bom", false, false),
    ] {
        add(stem, utf16(&valid(), little, bom), Survive);
    }
    add(
        "utf16le_bom_with_error",
        utf16(&(valid() + "  - id: third\n    lgo: x\n"), true, true),
        Refuse,
    );
    add(
        "utf32le_bom",
        {
            let mut out = vec![0xff, 0xfe, 0, 0];
            for c in valid().chars() {
                out.extend_from_slice(&(c as u32).to_le_bytes());
            }
            out
        },
        Survive,
    );
    // NUL bytes.
    add("nul_in_comment", spliced("comment", b"\0"), Survive);
    add("nul_in_value", spliced("value", b"\0"), Survive);
    add("nul_at_start", spliced("start", b"\0"), Survive);
    add("nul_only_1mb", vec![0; 1 << 20], Refuse);
    add(
        "nul_after_document",
        [valid().as_bytes(), b"\0\0\0"].concat(),
        Survive,
    );
    // Line endings.
    add(
        "cr_only_valid",
        valid().replace('\n', "\r").into_bytes(),
        Accept,
    );
    add(
        "cr_only_with_error",
        (valid() + "  - id: third\n    lgo: x\n")
            .replace('\n', "\r")
            .into_bytes(),
        Refuse,
    );
    add(
        "crlf_valid",
        valid().replace('\n', "\r\n").into_bytes(),
        Accept,
    );
    add(
        "crlf_with_error",
        (valid() + "  - id: third\n    lgo: x\n")
            .replace('\n', "\r\n")
            .into_bytes(),
        Refuse,
    );
    add(
        "mixed_line_endings_valid",
        {
            let text = valid();
            let mut out = String::new();
            for (i, line) in text.lines().enumerate() {
                out.push_str(line);
                out.push_str(["\n", "\r\n", "\r"][i % 3]);
            }
            out.into_bytes()
        },
        Accept,
    );
    add(
        "cr_1mb",
        [valid().as_bytes(), &vec![b'\r'; 1 << 20]].concat(),
        Survive,
    );
    add(
        "nel_line_endings",
        valid().replace('\n', "\u{85}").into_bytes(),
        Survive,
    );
    add(
        "line_separator_endings",
        valid().replace('\n', "\u{2028}").into_bytes(),
        Survive,
    );
    // A byte order mark: valid at the start, and the location of an error after it is right.
    add(
        "bom_valid",
        [&b"\xef\xbb\xbf"[..], valid().as_bytes()].concat(),
        Accept,
    );
    add(
        "bom_with_error",
        [
            &b"\xef\xbb\xbf"[..],
            (valid() + "  - id: third\n    lgo: x\n").as_bytes(),
        ]
        .concat(),
        Refuse,
    );
    add(
        "bom_twice",
        [&b"\xef\xbb\xbf\xef\xbb\xbf"[..], valid().as_bytes()].concat(),
        Survive,
    );
    add("bom_only", b"\xef\xbb\xbf".to_vec(), Refuse);
    add("bom_in_a_value", spliced("value", b"\xef\xbb\xbf"), Survive);
    add("empty_file", Vec::new(), Refuse);
    add(
        "bidi_override_in_id",
        steps("b", "  - id: \"a\u{202e}b\"\n    log: x\n").into_bytes(),
        Refuse,
    );
    add(
        "zero_width_in_id",
        steps("b", "  - id: \"a\u{200b}b\"\n    log: x\n").into_bytes(),
        Refuse,
    );
    cases.push(
        Case::run(
            CLASS,
            "bom_valid.run.yaml",
            [&b"\xef\xbb\xbf"[..], valid().as_bytes()].concat(),
        )
        .accept(),
    );
    cases.push(
        Case::run(
            CLASS,
            "crlf_valid.run.yaml",
            valid().replace('\n', "\r\n").into_bytes(),
        )
        .accept(),
    );
    cases.push(
        Case::run(
            CLASS,
            "invalid_utf8_in_value.run.yaml",
            spliced("value", b"\xc3("),
        )
        .refuse(),
    );
    cases.push(Case::run(
        CLASS,
        "utf16le_bom.run.yaml",
        utf16(&valid(), true, true),
    ));
    cases
}
