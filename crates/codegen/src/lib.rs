//! The client generator: OpenAPI 3.0 YAML in, Rust source files out.
//!
//! ```text
//! spec YAML ──parse──▶ openapiv3::OpenAPI ──lower (validate)──▶ ir::Api ──emit──▶ Vec<GeneratedFile>
//! ```
//!
//! The generator is pure: it reads no files and writes none (`xtask` does), and it knows
//! nothing about runbooks. What it supports beyond plain OpenAPI is two extensions:
//! `x-service` (which endpoint family an operation belongs to) and `x-waiters` (Smithy-style
//! waiters on status operations), plus `x-client-param` on parameters the client fills itself.

mod emit;
pub mod ir;
mod lower;
mod names;

use sha2::Digest;
use std::fmt;

/// Knobs of one generation run.
#[derive(Debug, Clone)]
pub struct Options {
    /// The Rust path of the hand-written runtime the generated code calls into.
    pub runtime_path: String,
    /// The spec's path as the preamble names it.
    pub source_name: String,
}

/// One generated file, named relative to the output directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    pub name: String,
    pub contents: String,
}

/// A reason the spec cannot be generated, at the JSON pointer of the node concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecProblem {
    pub pointer: String,
    pub message: String,
}

impl fmt::Display for SpecProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pointer = if self.pointer.is_empty() {
            "/"
        } else {
            &self.pointer
        };
        write!(f, "{pointer}: {}", self.message)
    }
}

/// Parses and validates a spec; every problem found is returned, not just the first.
pub fn load(spec_yaml: &str) -> Result<ir::Api, Vec<SpecProblem>> {
    let doc: openapiv3::OpenAPI = serde_yaml::from_str(spec_yaml).map_err(|error| {
        let at = error
            .location()
            .map(|l| format!(" (line {}, column {})", l.line(), l.column()))
            .unwrap_or_default();
        vec![SpecProblem {
            pointer: String::new(),
            message: format!("not an OpenAPI 3.0 document{at}: {error}"),
        }]
    })?;
    lower::lower(&doc)
}

/// Generates the client sources for a spec.
pub fn generate(
    spec_yaml: &str,
    options: &Options,
) -> Result<Vec<GeneratedFile>, Vec<SpecProblem>> {
    let mut api = load(spec_yaml)?;
    api.spec_sha256 = hex::encode(sha2::Sha256::digest(spec_yaml.as_bytes()));
    emit::emit(&api, options).map_err(|message| {
        vec![SpecProblem {
            pointer: String::new(),
            message,
        }]
    })
}
