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

/// The runbook and the text it was read from, its sub-runbooks' after it (whose digest the
/// run store records and a plan pins: a changed child is a changed job).
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
    let root = runbook_lang::Loaded {
        identity: identity(path),
        source,
    };
    let source = &root.source;
    match runbook_lang::parse_with_loader(&root, &Files) {
        Ok((runbook, warnings)) => {
            if !warnings.is_empty() {
                errln!("{}", source.render(&warnings));
            }
            let text = digested_text(&source.text, &runbook);
            Ok((runbook, text))
        }
        Err(diagnostics) => Err(NotLoaded {
            text: report(source.render(&diagnostics), &source.name, diagnostics.len()),
            diagnostics,
            unreadable: None,
        }),
    }
}

/// The text a run's digest covers: the runbook's, then each sub-runbook's under its name.
fn digested_text(text: &str, runbook: &runbook_lang::Runbook) -> String {
    let mut digested = text.to_owned();
    for child in runbook.sub_runbooks() {
        digested.push_str(&format!("\n\0sub-runbook {}\n", child.name));
        digested.push_str(&child.text);
    }
    digested
}

/// The same for every way of naming a file, so a chain of sub-runbooks that comes back to
/// one is seen as a cycle.
fn identity(path: &Path) -> String {
    std::fs::canonicalize(path)
        .unwrap_or_else(|_| path.to_owned())
        .display()
        .to_string()
}

/// Reads sub-runbooks beside the runbook that names them, bounded as any runbook file.
struct Files;

impl runbook_lang::Loader for Files {
    fn load(&self, from: &str, path: &str) -> Result<runbook_lang::Loaded, String> {
        let beside = Path::new(from).parent().unwrap_or(Path::new(""));
        let file = beside.join(path);
        let bytes = crate::files::read_bytes(&file, &crate::files::RUNBOOK)?;
        let name = file.display().to_string();
        let source = Source::from_bytes(name, &bytes)
            .map_err(|not_text| not_text.diagnostic.message.clone())?;
        Ok(runbook_lang::Loaded {
            identity: identity(&file),
            source,
        })
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
