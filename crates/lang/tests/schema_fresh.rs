#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `runbooks/schema.json` is the language's JSON Schema, checked in for editors. This test
//! owns it: when it is stale, the test writes the fresh one and fails, so the next run passes
//! and the change shows in the diff to commit (rust-analyzer's way; no tool has to build the
//! language to regenerate it).

use std::path::PathBuf;

#[test]
fn the_checked_in_schema_is_the_languages() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../runbooks/schema.json");
    let fresh = format!(
        "{}\n",
        serde_json::to_string_pretty(&runbook_lang::schema()).unwrap()
    );
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    if current.replace("\r\n", "\n") == fresh {
        return;
    }
    std::fs::write(&path, &fresh).unwrap();
    panic!(
        "runbooks/schema.json was stale and has been rewritten; commit it (`git diff runbooks/schema.json`)"
    );
}
