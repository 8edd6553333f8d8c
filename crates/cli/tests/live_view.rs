#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The live view, read from a pseudo-terminal as a person sees it: a `for_each` step shows as
//! one line with a bar of its items (done of all, how many running), the finished steps
//! scroll above it with their mark in colour, and `NO_COLOR` turns every colour off but not
//! the view. Without a terminal the same run writes plain lines.

mod support;

use std::io::Read;

use portable_pty::{native_pty_system, CommandBuilder, PtySize};
use support::{runbook, workspace};

/// What the terminal received while `runbook run runbooks/fan-out.yaml` ran in it (real time:
/// the view is drawn at most 20 times a second, and a run on virtual time ends before that).
fn in_terminal(no_color: bool) -> String {
    let pty = native_pty_system()
        .openpty(PtySize {
            rows: 40,
            cols: 160,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    let mut command = CommandBuilder::new(env!("CARGO_BIN_EXE_runbook"));
    command.args(["run", "runbooks/fan-out.yaml", "--sandbox", "--real-time"]);
    command.cwd(workspace());
    command.env("TERM", "xterm-256color");
    for var in [
        "NO_COLOR",
        "CLICOLOR",
        "CLICOLOR_FORCE",
        "RUNBOOK_STATE_DIR",
        "RUNBOOK_STORE",
    ] {
        command.env_remove(var);
    }
    if no_color {
        command.env("NO_COLOR", "1");
    }
    let mut child = pty.slave.spawn_command(command).unwrap();
    drop(pty.slave);
    let mut reader = pty.master.try_clone_reader().unwrap();
    let reading = std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut chunk = [0u8; 8192];
        // The pty answers EIO once the child has exited and its side is closed.
        while let Ok(n) = reader.read(&mut chunk) {
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&chunk[..n]);
        }
        seen
    });
    let status = child.wait().unwrap();
    drop(pty.master);
    let seen = String::from_utf8_lossy(&reading.join().unwrap()).into_owned();
    assert!(status.success(), "{status:?}: {seen}");
    seen
}

fn without_escapes(text: &str) -> String {
    regex::Regex::new(r"\x1b\[[0-9;?]*[A-Za-z]")
        .unwrap()
        .replace_all(text, "")
        .into_owned()
}

#[test]
fn a_fan_out_is_one_line_with_its_items_and_colours_follow_no_color() {
    let coloured = in_terminal(false);
    let shown = without_escapes(&coloured);
    let bar = regex::Regex::new(r"wait_all .*\b([0-4])/4 items aom\.wait: (\d) running").unwrap();
    let counts: Vec<(u32, u32)> = bar
        .captures_iter(&shown)
        .map(|c| (c[1].parse().unwrap(), c[2].parse().unwrap()))
        .collect();
    assert!(!counts.is_empty(), "no item bar for wait_all: {shown}");
    // At most `concurrency: 2` elements run at once, and the count of done ones reaches 4.
    assert!(
        counts.iter().all(|&(_, running)| running <= 2),
        "{counts:?}"
    );
    assert!(counts.iter().any(|&(done, _)| done == 4), "{counts:?}");
    assert!(shown.contains("ok    wait_all succeeded"), "{shown}");
    // Elements are counted on their step's line, not logged one by one.
    assert!(!shown.contains("start wait_all[0]"), "{shown}");
    assert!(
        coloured.contains("\x1b[32mok"),
        "the mark in green: {coloured:?}"
    );

    let plain = in_terminal(true);
    let colour = regex::Regex::new(r"\x1b\[(3[0-7]|9[0-7]|1)m").unwrap();
    assert!(
        !colour.is_match(&plain),
        "a colour under NO_COLOR: {plain:?}"
    );
    assert!(without_escapes(&plain).contains("/4 items"), "{plain:?}");
}

#[test]
fn without_a_terminal_the_run_writes_plain_lines() {
    let out = runbook()
        .args(["run", "runbooks/fan-out.yaml", "--sandbox"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("start wait_all (aom.wait, 4 items)"),
        "{stderr}"
    );
    assert!(stderr.contains("start wait_all[3] (aom.wait)"), "{stderr}");
    assert!(!stderr.contains('\x1b'), "{stderr:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("wait_all   aom.wait  4 items"), "{stdout}");
}
