#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The CLI in the shell: completion scripts that a real bash completes with, and a
//! `--version` that names the commit. (The man pages are held fresh by a unit test of the
//! binary, `man.rs`.)

mod support;

use std::process::Command;

use support::{runbook, workspace};

fn completions(shell: &str) -> String {
    let out = runbook().args(["completions", shell]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// What bash's completion offers for `line` (the words typed, the last one being completed),
/// with the script `runbook completions bash` printed sourced.
fn bash_offers(script: &std::path::Path, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "source '{}'; COMP_WORDS=({}); COMP_CWORD={}; COMP_LINE='{}'; COMP_POINT=${{#COMP_LINE}}; \
         _runbook runbook '{}' '{}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display(),
        quoted.join(" "),
        words.len() - 1,
        words.join(" "),
        words[words.len() - 1],
        words[words.len().saturating_sub(2)],
    );
    let out = Command::new("bash")
        .args(["-c", &program])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn bash_completes_subcommands_flags_and_values() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("runbook.bash");
    std::fs::write(&script, completions("bash")).unwrap();
    let syntax = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .unwrap();
    assert!(syntax.status.success(), "{syntax:?}");

    let offers = bash_offers(&script, &["runbook", "ru"]);
    assert_eq!(offers, ["run", "runs"], "{offers:?}");
    let offers = bash_offers(&script, &["runbook", "run", "--sand"]);
    assert_eq!(offers, ["--sandbox"], "{offers:?}");
    let offers = bash_offers(&script, &["runbook", "completions", ""]);
    for shell in ["bash", "zsh", "fish", "powershell"] {
        assert!(offers.contains(&shell.to_owned()), "{offers:?}");
    }
}

#[test]
fn every_shell_gets_a_script_naming_every_subcommand() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let script = completions(shell);
        for subcommand in [
            "run", "resume", "plan", "validate", "schema", "sandbox", "runs",
        ] {
            assert!(script.contains(subcommand), "{shell}: no `{subcommand}`");
        }
    }
    let refused = runbook().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
}

#[test]
fn the_version_names_the_commit_it_was_built_from() {
    let out = runbook().arg("--version").output().unwrap();
    assert!(out.status.success());
    let version = String::from_utf8(out.stdout).unwrap();
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(workspace())
        .output()
        .unwrap();
    let head = String::from_utf8(head.stdout).unwrap();
    assert_eq!(
        version.trim(),
        format!(
            "runbook {} (commit {})",
            env!("CARGO_PKG_VERSION"),
            head.trim()
        )
    );
}
