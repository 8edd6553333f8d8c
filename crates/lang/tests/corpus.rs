#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The corpus of broken runbooks: every file in `tests/corpus/` must fail to parse with the
//! diagnostics its `# expect: LINE:COL FRAGMENT` header lines name, and its rendered
//! diagnostics are snapshotted. The valid runbooks in `runbooks/` must parse cleanly.

use std::fs;
use std::path::{Path, PathBuf};

use runbook_lang::{parse, parse_with_warnings, Diagnostic, Source};

const MIN_CORPUS_FILES: usize = 119;

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `.yaml` files of a directory, sorted by name.
fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|error| panic!("reading {}: {error}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    files.sort();
    files
}

/// One `# expect: LINE:COL FRAGMENT` header line.
#[derive(Debug)]
struct Expectation {
    line: usize,
    column: usize,
    fragment: String,
}

fn expectations(name: &str, text: &str) -> Vec<Expectation> {
    text.lines()
        .filter_map(|line| line.strip_prefix("# expect:"))
        .map(|rest| {
            let rest = rest.trim();
            let (position, fragment) = rest
                .split_once(' ')
                .unwrap_or_else(|| panic!("{name}: `# expect: {rest}` has no message fragment"));
            let (line, column) = position
                .split_once(':')
                .unwrap_or_else(|| panic!("{name}: `{position}` is not LINE:COL"));
            Expectation {
                line: line
                    .parse()
                    .unwrap_or_else(|_| panic!("{name}: bad line in `{position}`")),
                column: column
                    .parse()
                    .unwrap_or_else(|_| panic!("{name}: bad column in `{position}`")),
                fragment: fragment.trim().to_owned(),
            }
        })
        .collect()
}

fn matches(diagnostic: &Diagnostic, expectation: &Expectation) -> bool {
    diagnostic.line == expectation.line
        && diagnostic.column == expectation.column
        && (diagnostic.message.contains(&expectation.fragment)
            || diagnostic
                .help
                .as_deref()
                .is_some_and(|help| help.contains(&expectation.fragment)))
}

fn list(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(|d| format!("  {d}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn corpus_of_broken_runbooks() {
    let dir = manifest_dir().join("tests").join("corpus");
    let files = yaml_files(&dir);
    assert!(
        files.len() >= MIN_CORPUS_FILES,
        "the corpus has {} files; expected at least {MIN_CORPUS_FILES}",
        files.len()
    );
    for path in files {
        let file_name = path.file_name().unwrap().to_str().unwrap().to_owned();
        // A relative name keeps the snapshots independent of where the checkout lives.
        let name = format!("corpus/{file_name}");
        let text = fs::read_to_string(&path).unwrap();
        let expected = expectations(&name, &text);
        assert!(
            !expected.is_empty(),
            "{name}: no `# expect: LINE:COL FRAGMENT` line"
        );

        let source = Source::new(name.clone(), text);
        let diagnostics = all_diagnostics(&source);
        if diagnostics.is_empty() {
            panic!("{name}: parsed without diagnostics, but it is broken");
        }
        assert!(!diagnostics.is_empty(), "{name}: failed with no diagnostic");
        for expectation in &expected {
            assert!(
                diagnostics.iter().any(|d| matches(d, expectation)),
                "{name}: no diagnostic at {}:{} containing `{}`; got:\n{}",
                expectation.line,
                expectation.column,
                expectation.fragment,
                list(&diagnostics)
            );
        }

        let rendered = source.render(&diagnostics);
        for diagnostic in &diagnostics {
            let location = format!("{name}:{}:{}", diagnostic.line, diagnostic.column);
            assert!(
                rendered.contains(&location),
                "{name}: the rendering does not show `{location}`:\n{rendered}"
            );
        }
        let snapshot = file_name.trim_end_matches(".yaml").to_owned();
        insta::assert_snapshot!(snapshot, rendered);
    }
}

#[test]
fn valid_runbooks_parse_cleanly() {
    let dir = manifest_dir().join("../../runbooks");
    if !dir.is_dir() {
        return;
    }
    // Examples run others (sub-runbooks) from beside them.
    let files: Vec<(String, String)> = yaml_files(&dir)
        .iter()
        .map(|path| {
            let name = path.file_name().unwrap().to_str().unwrap();
            (
                format!("runbooks/{name}"),
                fs::read_to_string(path).unwrap(),
            )
        })
        .collect();
    let loader = runbook_lang::InMemory::new(files.iter().map(|(n, t)| (n.as_str(), t.as_str())));
    for (name, _) in &files {
        let root = loader.root(name).unwrap();
        let source = &root.source;
        let diagnostics = match runbook_lang::parse_with_loader(&root, &loader) {
            Ok((_, warnings)) => warnings,
            Err(diagnostics) => diagnostics,
        };
        let name = name.trim_start_matches("runbooks/");
        assert!(
            diagnostics.is_empty(),
            "runbooks/{name} should be valid, without warnings:\n{}",
            source.render(&diagnostics)
        );
    }
}

#[test]
fn a_byte_order_mark_is_not_part_of_the_runbook() {
    let text = "\u{feff}version: 1\nname: bom\nsteps:\n  - id: a\n    log: hi\n  - id: a\n    log: again\n";
    let source = Source::new("bom.yaml", text);
    assert!(!source.text.starts_with('\u{feff}'));
    let without = Source::new("bom.yaml", &text['\u{feff}'.len_utf8()..]);
    // The same problems at the same places as without the mark.
    let (with_mark, plain) = (parse(&source), parse(&without));
    let (Err(with_mark), Err(plain)) = (with_mark, plain) else {
        panic!("the duplicate id was not found");
    };
    assert_eq!(list(&with_mark), list(&plain));
    let valid = "\u{feff}version: 1\nname: bom\nsteps:\n  - id: a\n    log: hi\n";
    assert!(parse(&Source::new("ok.yaml", valid)).is_ok());
}

/// Every diagnostic, errors and warnings, whether or not the runbook parsed.
fn all_diagnostics(source: &Source) -> Vec<Diagnostic> {
    match parse_with_warnings(source) {
        Ok((_, warnings)) => warnings,
        Err(diagnostics) => diagnostics,
    }
}

/// Each diagnostic as `line:col message`.
fn positions(source: &Source) -> Vec<String> {
    all_diagnostics(source)
        .iter()
        .map(|d| format!("{}:{} {}", d.line, d.column, d.message))
        .collect()
}

#[test]
fn line_endings_do_not_move_diagnostics() {
    let dir = manifest_dir().join("tests").join("corpus");
    for path in yaml_files(&dir) {
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let text = fs::read_to_string(&path).unwrap();
        let lf = positions(&Source::new(name.clone(), text.clone()));
        for (ending, newline) in [("CR", "\r"), ("CRLF", "\r\n")] {
            let source = Source::new(name.clone(), text.replace('\n', newline));
            assert_eq!(positions(&source), lf, "{name} with {ending} line endings");
            if let Err(diagnostics) = parse(&source) {
                let rendered = source.render(&diagnostics);
                assert!(!rendered.contains('\r'), "{name}: {rendered:?}");
            }
        }
    }
}

#[test]
fn a_cr_only_runbook_is_located_like_any_other() {
    // An old Mac editor's file: a YAML syntax error (found by serde_yaml) and a semantic one
    // (located through yaml-rust2), each on line 3.
    let syntax = "version: 1\rname: x\rsteps: [\r";
    let diagnostics = parse(&Source::new("cr.yaml", syntax)).unwrap_err();
    assert_eq!((diagnostics[0].line, diagnostics[0].column), (3, 9));
    let lf = parse(&Source::new("cr.yaml", syntax.replace('\r', "\n"))).unwrap_err();
    assert_eq!(list(&diagnostics), list(&lf));
    let checked = "version: 1\rname: x\rsteps: {}\r";
    let source = Source::new("cr.yaml", checked);
    let diagnostics = parse(&source).unwrap_err();
    assert_eq!(
        list(&diagnostics),
        "  cr.yaml:3:8: `steps` is a list of steps"
    );
    let rendered = source.render(&diagnostics);
    assert!(rendered.contains("3 | steps: {}\n"), "{rendered}");
    assert!(!rendered.contains("name: x"), "{rendered}");
}

#[test]
fn serde_yaml_and_the_diagnostics_count_the_same_line_breaks() {
    // libyaml also breaks lines at NEL, LS and PS; its errors' line numbers must land there.
    for newline in ["\u{85}", "\u{2028}", "\u{2029}"] {
        let text = ["version: 1", "# a comment", "name: [x"].join(newline);
        let source = Source::new("breaks.yaml", text);
        let diagnostics = parse(&source).unwrap_err();
        let d = &diagnostics[0];
        assert_eq!(d.line, 3, "{newline:?}: {}", list(&diagnostics));
        let rendered = source.render(&diagnostics);
        assert!(rendered.contains("3 | name: [x"), "{newline:?}: {rendered}");
    }
}

/// Files that are not UTF-8 text cannot live in the corpus (editors and git would change
/// them), so they are made here; their rendered diagnostics are snapshotted all the same.
#[test]
fn files_that_are_not_utf8_text_are_refused_where_they_go_wrong() {
    let runbook = "version: 1\nname: x\nsteps:\n  - id: a\n    log: hi\n";
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(runbook.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    let utf16_without_mark: Vec<u8> = runbook.encode_utf16().flat_map(u16::to_be_bytes).collect();
    let latin1 = b"version: 1\nname: caf\xE9\nsteps:\n  - id: a\n    log: hi\n".to_vec();
    let nul = b"version: 1\nname: x\nsteps:\n  - id: a\n    log: \"h\0i\"\n".to_vec();
    let cases = [
        (
            "utf16.yaml",
            utf16,
            "1:1 the file is UTF-16 (little-endian); save it as UTF-8",
        ),
        (
            "utf16be.yaml",
            utf16_without_mark,
            "1:1 the file is UTF-16 (big-endian); save it as UTF-8",
        ),
        (
            "latin1.yaml",
            latin1,
            "2:10 invalid UTF-8 (byte 0xE9); save the file as UTF-8",
        ),
        ("nul.yaml", nul, "5:12 a NUL character (byte 0x00)"),
    ];
    let mut rendered = Vec::new();
    for (name, bytes, expected) in cases {
        let not_text = Source::from_bytes(name, &bytes).unwrap_err();
        let d = &not_text.diagnostic;
        let found = format!("{}:{} {}", d.line, d.column, d.message);
        assert!(found.starts_with(expected), "{name}: {found}");
        rendered.push(not_text.render());
    }
    insta::assert_snapshot!("not_utf8_text", rendered.join("\n"));
}
