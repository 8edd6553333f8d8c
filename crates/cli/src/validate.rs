//! `runbook validate PATH...`: every problem in every file, as `file:line:col` with a caret.

use std::path::{Path, PathBuf};

use runbook_lang::Source;

/// What validating a set of paths found.
pub struct Validation {
    pub files: usize,
    pub failed: usize,
}

/// Validates files and the `.yaml`/`.yml` files under directories, printing diagnostics to
/// stderr and one line per good file to stdout.
pub fn validate(paths: &[PathBuf]) -> Result<Validation, String> {
    let mut files = Vec::new();
    for path in paths {
        crate::files::collect(path, &is_yaml, &mut files)?;
    }
    if files.is_empty() {
        return Err("no runbook files (*.yaml, *.yml) found under the given paths".into());
    }
    let mut failed = 0;
    for file in &files {
        // A test file is checked as one: its shape, and that its runbook loads.
        let checked = if crate::testing::file::is_test_file(file) {
            crate::testing::file::Loaded::read(file).and_then(|test| {
                load(&test.beside(&test.file.runbook))
                    .map(|_| ())
                    .map_err(|report| format!("{}: its runbook:\n{report}", test.at(&["runbook"])))
            })
        } else {
            load(file).map(|_| ())
        };
        match checked {
            Ok(()) => outln!("ok  {}", file.display()),
            Err(report) => {
                failed += 1;
                errln!("{report}");
            }
        }
    }
    Ok(Validation {
        files: files.len(),
        failed,
    })
}

/// Reads and parses one runbook; on failure, the rendered diagnostics.
pub fn load(path: &Path) -> Result<runbook_lang::Runbook, String> {
    load_with_text(path)
        .map(|(runbook, _)| runbook)
        .map_err(|not_loaded| not_loaded.text)
}

/// Why a runbook could not be used: the report a person reads, and what it is made of — the
/// diagnostics, or for a file that could not be read at all, why not.
pub struct NotLoaded {
    pub text: String,
    pub diagnostics: Vec<runbook_lang::Diagnostic>,
    pub unreadable: Option<String>,
}

/// The runbook and the text it was read from (whose digest the run store records).
pub fn load_with_text(path: &Path) -> Result<(runbook_lang::Runbook, String), NotLoaded> {
    let bytes =
        crate::files::read_bytes(path, &crate::files::RUNBOOK).map_err(|problem| NotLoaded {
            text: format!("error: {problem}"),
            diagnostics: Vec::new(),
            unreadable: Some(problem),
        })?;
    let name = path.display().to_string();
    let source = match Source::from_bytes(name.clone(), &bytes) {
        Ok(source) => source,
        Err(not_text) => {
            return Err(NotLoaded {
                text: report(not_text.render(), &name, 1),
                diagnostics: vec![not_text.diagnostic],
                unreadable: None,
            })
        }
    };
    match runbook_lang::parse_with_warnings(&source) {
        Ok((runbook, warnings)) => {
            if !warnings.is_empty() {
                errln!("{}", source.render(&warnings));
            }
            Ok((runbook, source.text))
        }
        Err(diagnostics) => Err(NotLoaded {
            text: report(source.render(&diagnostics), &source.name, diagnostics.len()),
            diagnostics,
            unreadable: None,
        }),
    }
}

fn report(rendered: String, name: &str, count: usize) -> String {
    format!(
        "{rendered}\n{name}: {count} problem{}",
        if count == 1 { "" } else { "s" }
    )
}

/// Whether a file is named like a runbook (or a test file, which is YAML too).
fn is_yaml(path: &Path) -> bool {
    path.extension()
        .is_some_and(|ext| ext == "yaml" || ext == "yml")
}
