#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Files and inputs that are not what they seem: a directory or an endless device where a file
//! belongs, bytes that are not UTF-8 text, and control sequences aimed at the terminal of
//! whoever reads the output.

mod support;

use std::time::{Duration, Instant};

use serde_json::Value;
use support::{runbook, write_temp};

const LOG_RUNBOOK: &str = "version: 1\nname: echo\ninputs:\n  text:\n    type: string\nsteps:\n  - id: say\n    log: \"{{ inputs.text }}\"\noutputs:\n  said: \"{{ inputs.text }}\"\n";

fn stderr_of(output: &std::process::Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

#[test]
fn a_directory_where_a_file_belongs_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let runbook_file = write_temp(&dir, "ok.yaml", LOG_RUNBOOK);
    let directory = dir.path().display().to_string();
    let cases: [(&[&str], &str); 3] = [
        (&["run", &directory, "--sandbox"], "runbook file"),
        (
            &[
                "run",
                &runbook_file,
                "--sandbox",
                "-i",
                "text=x",
                "--inputs",
                &directory,
            ],
            "inputs file",
        ),
        (
            &[
                "run",
                &runbook_file,
                "--sandbox",
                "-i",
                "text=x",
                "--scenario",
                &directory,
            ],
            "scenario file",
        ),
    ];
    for (args, noun) in cases {
        let output = runbook().args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = stderr_of(&output);
        assert!(
            stderr.contains(&format!("cannot read {noun} {directory}: is a directory")),
            "{args:?}: {stderr}"
        );
        assert!(output.stdout.is_empty(), "nothing ran");
    }
    // Where directories are expected, they are still walked.
    let output = runbook().args(["validate", &directory]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert!(String::from_utf8(output.stdout)
        .unwrap()
        .contains("ok.yaml"));
}

#[cfg(unix)]
#[test]
fn an_endless_inputs_file_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_temp(&dir, "ok.yaml", LOG_RUNBOOK);
    let started = Instant::now();
    let output = runbook()
        .args(["run", &file, "--sandbox", "--inputs", "/dev/zero"])
        .output()
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(output.status.code(), Some(2));
    let stderr = stderr_of(&output);
    assert_eq!(
        stderr,
        "error: /dev/zero:1:1: the inputs file is larger than 2 MiB, the most an inputs file may be\n"
    );
    let output = runbook().args(["validate", "/dev/zero"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr_of(&output).contains("larger than 2 MiB, the most a runbook file may be"),
        "{}",
        stderr_of(&output)
    );
}

#[test]
fn bytes_that_are_not_utf8_text_are_located() {
    let dir = tempfile::tempdir().unwrap();
    let latin1 = dir.path().join("latin1.yaml");
    std::fs::write(&latin1, b"version: 1\nname: x\nsteps:\xFF\n").unwrap();
    let output = runbook()
        .args(["validate", latin1.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = stderr_of(&output);
    assert!(
        stderr.contains(&format!("{}:3:7", latin1.display())),
        "{stderr}"
    );
    assert!(
        stderr.contains("invalid UTF-8 (byte 0xFF); save the file as UTF-8"),
        "{stderr}"
    );

    let utf16 = dir.path().join("utf16.yaml");
    let bytes: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(LOG_RUNBOOK.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    std::fs::write(&utf16, bytes).unwrap();
    let output = runbook()
        .args(["validate", utf16.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = stderr_of(&output);
    assert!(
        stderr.contains(&format!("{}:1:1", utf16.display())),
        "{stderr}"
    );
    assert!(
        stderr.contains("UTF-16 (little-endian); save it as UTF-8"),
        "{stderr}"
    );

    // An inputs file's problem is located, but none of its content is shown.
    let runbook_file = write_temp(&dir, "ok.yaml", LOG_RUNBOOK);
    let inputs = dir.path().join("inputs.yaml");
    std::fs::write(&inputs, b"text: hunter2\0\n").unwrap();
    let output = runbook()
        .args(["run", &runbook_file, "--sandbox"])
        .args(["--inputs", inputs.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = stderr_of(&output);
    assert_eq!(
        stderr,
        format!(
            "error: inputs file {}:1:14: a NUL character (byte 0x00); save the file as UTF-8 text\n",
            inputs.display()
        )
    );
}

#[test]
fn a_cr_only_runbook_is_located_on_the_right_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_temp(&dir, "mac.yaml", "version: 1\rname: x\rsteps: {}\r");
    let output = runbook().args(["validate", &file]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = stderr_of(&output);
    assert!(stderr.contains(&format!("{file}:3:8")), "{stderr}");
    assert!(stderr.contains("3 | steps: {}\n"), "{stderr}");
    assert!(!stderr.contains('\r'), "{stderr:?}");
}

/// What an input tries on a terminal: retitle the window (OSC 0, ended by BEL), turn text
/// red, move the cursor (CSI as one C1 character), and reverse the rest of the line.
const HOSTILE: &str = "\u{1b}]0;pwned\u{7}title \u{1b}[31mred\u{9b}2J\u{202e}desrever\rover";

fn assert_no_raw_controls(text: &str, what: &str) {
    let raw = text.chars().find(|c| {
        (c.is_control() && *c != '\n' && *c != '\t')
            || ('\u{202a}'..='\u{202e}').contains(c)
            || ('\u{2066}'..='\u{2069}').contains(c)
    });
    assert_eq!(raw, None, "{what}: {text:?}");
}

#[test]
fn control_sequences_in_inputs_reach_the_terminal_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_temp(&dir, "echo.yaml", LOG_RUNBOOK);
    let input = format!("text={HOSTILE}");
    let output = runbook()
        .args([
            "run",
            &file,
            "--sandbox",
            "--log-format",
            "plain",
            "-i",
            &input,
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    let shown = r"\x1b]0;pwned\x07title \x1b[31mred\u009b2J\u202edesrever\rover";
    assert_no_raw_controls(&stderr, "stderr");
    assert!(stderr.contains(&format!("say: {shown}")), "{stderr}");
    // The summary shows outputs as JSON values, which serde_json has escaped its own way.
    assert_no_raw_controls(&stdout, "stdout");
    let said = r#"said: "\u001b]0;pwned\u0007title \u001b[31mred\u009b2J\u202edesrever\rover""#;
    assert!(stdout.contains(said), "{stdout}");

    // JSON is escaped by serde_json already; what is left (C1, bidi) is escaped as JSON
    // escapes, so every line still parses, to the very text the input held.
    let output = runbook()
        .args(["run", &file, "--sandbox", "-i", &input])
        .args(["--log-format", "json", "--output", "json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_no_raw_controls(&stdout, "json stdout");
    assert_no_raw_controls(&stderr, "json stderr");
    let summary: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["run"]["outputs"]["said"], HOSTILE);
    let logged: Vec<Value> = stderr
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|event| event["event"] == "log")
        .collect();
    assert_eq!(logged.len(), 1, "{stderr}");
    assert_eq!(logged[0]["message"], HOSTILE);
}
