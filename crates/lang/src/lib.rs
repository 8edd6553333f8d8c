//! The runbook language: the document model ([`Runbook`]), its JSON Schema, the parser and the
//! validator, which report every problem at once as `file:line:col` [`Diagnostic`]s, and the
//! template engine shared with the runner.

mod check;
pub mod diagnostic;
pub mod duration;
pub mod encoding;
pub mod limits;
pub mod locate;
pub mod model;
mod parse;
pub mod results;
mod suggest;
pub mod template;
mod within_limits;
pub mod yaml;

pub use diagnostic::{Diagnostic, Severity};
pub use encoding::NotText;
pub use model::*;
pub use parse::{parse, parse_with_loader, parse_with_warnings, InMemory, Loaded, Loader, Source};

/// The JSON Schema of a runbook file.
pub fn schema() -> schemars::Schema {
    schemars::schema_for!(Runbook)
}
