//! Project automation behind `cargo xtask`. One function both writes and checks every
//! generated file, so `cargo xtask codegen --check`, CI and `cargo test` agree.
//!
//! It links the generator and nothing else of ours: the tool that rewrites the generated
//! client must build however broken that client is. (`runbooks/schema.json` is kept fresh
//! by a test of `runbook-lang`, which owns it.)

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// Whether to write generated files or only compare them with what is checked in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Write,
    Check,
}

/// One generation target: a spec and the directory its client goes to.
struct Target {
    spec: &'static str,
    out_dir: &'static str,
    runtime_path: &'static str,
}

const TARGETS: &[Target] = &[
    Target {
        spec: "spec/workflows.openapi.yaml",
        out_dir: "crates/client/src/generated",
        runtime_path: "crate::runtime",
    },
    // The generator's snapshot: a small spec using every construct the generator supports.
    // Its output is compiled and exercised by `crates/client/tests/fixture_client.rs`.
    Target {
        spec: "crates/codegen/tests/fixture.openapi.yaml",
        out_dir: "crates/client/tests/fixture_client",
        runtime_path: "hwc_client::runtime",
    },
];

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Regenerates (or checks) every generated file. In check mode, fails naming each stale file.
pub fn codegen(root: &Path, mode: Mode) -> Result<Vec<PathBuf>> {
    let mut touched = Vec::new();
    let mut stale = Vec::new();
    for target in TARGETS {
        let spec_path = root.join(target.spec);
        let spec = fs::read_to_string(&spec_path)
            .with_context(|| format!("cannot read {}", spec_path.display()))?;
        let options = hwc_codegen::Options {
            runtime_path: target.runtime_path.to_owned(),
            source_name: target.spec.to_owned(),
        };
        let files = match hwc_codegen::generate(&spec, &options) {
            Ok(files) => files,
            Err(problems) => {
                let list: Vec<String> = problems
                    .iter()
                    .map(|p| format!("  {}#{p}", target.spec))
                    .collect();
                bail!(
                    "{} has {} problem(s):\n{}",
                    target.spec,
                    problems.len(),
                    list.join("\n")
                );
            }
        };
        let out_dir = root.join(target.out_dir);
        for file in &files {
            let path = out_dir.join(&file.name);
            if ensure_file(&path, &file.contents, mode)? {
                stale.push(path.clone());
            }
            touched.push(path);
        }
        for leftover in leftovers(&out_dir, &files)? {
            match mode {
                Mode::Write => fs::remove_file(&leftover)
                    .with_context(|| format!("cannot remove {}", leftover.display()))?,
                Mode::Check => stale.push(leftover),
            }
        }
    }
    if mode == Mode::Check && !stale.is_empty() {
        let names: Vec<String> = stale
            .iter()
            .map(|p| format!("  {}", p.strip_prefix(root).unwrap_or(p).display()))
            .collect();
        bail!(
            "generated code is stale; run `cargo xtask codegen` and commit the result:\n{}",
            names.join("\n")
        );
    }
    Ok(touched)
}

/// Writes `contents` to `path` when it differs (ignoring CRLF/LF differences), or in check
/// mode only reports the difference. Returns whether the file was out of date.
pub fn ensure_file(path: &Path, contents: &str, mode: Mode) -> Result<bool> {
    let normalize = |s: &str| s.replace("\r\n", "\n");
    let current = fs::read_to_string(path).ok();
    if current.as_deref().map(normalize) == Some(normalize(contents)) {
        return Ok(false);
    }
    if mode == Mode::Write {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        fs::write(path, contents).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(true)
}

/// Generated-looking files in `dir` that this run did not produce.
fn leftovers(dir: &Path, files: &[hwc_codegen::GeneratedFile]) -> Result<Vec<PathBuf>> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for entry in entries {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name.ends_with(".rs") && !files.iter().any(|f| f.name == name) {
            out.push(path);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `cargo test` fails, naming the file, when the checked-in client is stale.
    #[test]
    fn generated_code_is_fresh() {
        if let Err(error) = codegen(&workspace_root(), Mode::Check) {
            panic!("{error:#}");
        }
    }
}
