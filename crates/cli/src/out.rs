//! Writing to stdout and stderr when the reader may have gone away (`runbook validate … |
//! head -1`). Rust ignores SIGPIPE, so a write to a closed pipe fails, and `println!` would
//! panic on it. Here a closed stdout ends the process quietly with [`exit::PIPE_CLOSED`]:
//! nobody reads what comes next. A failed write to stderr is dropped: a run keeps going when
//! whoever watched its log has gone. SIGPIPE is not restored process-wide, because a run must
//! not die in the middle of a request that changes something.
//!
//! Everything written goes through [`escape_controls`] first: inputs, API answers and files
//! end up in messages, and a control sequence in them must not retitle, recolour or rewrite
//! the reader's terminal.

use std::borrow::Cow;
use std::fmt;
use std::io::Write;

use crate::exit;

/// `println!` that ends the process quietly when stdout is closed.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::out::stdout_line(format_args!($($arg)*))
    };
}

/// `eprintln!` that never panics.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::out::stderr_line(format_args!($($arg)*))
    };
}

pub fn stdout_line(args: fmt::Arguments<'_>) {
    stdout_text(format_args!("{args}\n"));
}

/// `print!` that ends the process quietly when stdout is closed.
pub fn stdout_text(args: fmt::Arguments<'_>) {
    let text = args.to_string();
    let mut stdout = std::io::stdout().lock();
    let written = stdout
        .write_all(escape_controls(&text).as_bytes())
        .and_then(|()| stdout.flush());
    if let Err(error) = written {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(i32::from(exit::PIPE_CLOSED));
        }
    }
}

pub fn stderr_line(args: fmt::Arguments<'_>) {
    let mut text = args.to_string();
    text.push('\n');
    stderr_lines(&text);
}

/// Writes `lines` (each ending in `\n`) to stderr in one piece.
pub fn stderr_lines(lines: &str) {
    let _ = std::io::stderr()
        .lock()
        .write_all(escape_controls(lines).as_bytes());
}

/// `text` with every character a terminal acts on, other than `\n` and `\t`, written as an
/// escape: C0 controls as `\x1b` (CR as `\r`); DEL, the C1 controls (U+0080 to U+009F, where
/// U+009B is CSI to some terminals) and the bidirectional overrides and isolates (U+202A to
/// U+202E, U+2066 to U+2069, which reorder what is shown) as `\u202e`. serde_json writes no raw
/// C0 control but writes the others raw, and in JSON `\u202e` is the same character: JSON
/// output stays valid and means the same.
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    let escaped = |c: char| {
        let control = matches!(c, '\0'..='\x1f' | '\x7f'..='\u{9f}');
        let bidi = matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        (control || bidi) && c != '\n' && c != '\t'
    };
    // Most lines are printable ASCII (a JSON line always is, but for its non-ASCII text): a
    // byte scan settles them without decoding a char.
    if all_plain(text.as_bytes()) || !text.contains(escaped) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '\r' => out.push_str("\\r"),
            c if !escaped(c) => out.push(c),
            c if c < ' ' => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            c => out.push_str(&format!("\\u{:04x}", u32::from(c))),
        }
    }
    Cow::Owned(out)
}

/// Whether every byte is printable ASCII, `\n` or `\t`. Each chunk is folded without an early
/// exit, which the compiler turns into vector instructions: every log line passes here.
fn all_plain(bytes: &[u8]) -> bool {
    bytes.chunks(64).all(|chunk| {
        chunk.iter().fold(true, |plain, &b| {
            plain & (matches!(b, b' '..=b'~') | (b == b'\n') | (b == b'\t'))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_control_is_found_wherever_it_sits_in_a_long_line() {
        let plain = "x".repeat(200);
        assert!(matches!(escape_controls(&plain), Cow::Borrowed(_)));
        for at in [0, 63, 64, 65, 127, 128, 199] {
            let mut line = plain.clone();
            line.replace_range(at..=at, "\x1b");
            let escaped = escape_controls(&line);
            assert_eq!(escaped.len(), 203, "at {at}");
            assert_eq!(&escaped[at..at + 4], "\\x1b", "at {at}");
        }
    }

    #[test]
    fn controls_are_written_as_escapes() {
        assert_eq!(
            escape_controls("a\x1b]0;pwned\x07b\x1b[31mred\r\n\tz"),
            "a\\x1b]0;pwned\\x07b\\x1b[31mred\\r\n\tz"
        );
        assert_eq!(
            escape_controls("\0\x7f\u{85}\u{9b}"),
            "\\x00\\u007f\\u0085\\u009b"
        );
        assert_eq!(
            escape_controls("abc\u{202e}cba\u{2066}\u{2069}"),
            "abc\\u202ecba\\u2066\\u2069"
        );
    }

    #[test]
    fn text_without_controls_is_left_alone() {
        let text = "naïve café ✓ 日本 \u{a0} \u{200f} \\x1b \"quoted\"\n\tindented";
        assert!(matches!(escape_controls(text), Cow::Borrowed(t) if t == text));
    }

    #[test]
    fn json_stays_json_and_means_the_same() {
        let value = serde_json::json!({
            "c0": "\x1b[31m\r\x07",
            "others": "\x7f\u{85}\u{9b}\u{202e}\u{2067}",
            "escaped already": "\\x1b \\u202e",
        });
        for json in [
            value.to_string(),
            serde_json::to_string_pretty(&value).unwrap(),
        ] {
            let shown = escape_controls(&json);
            let read: serde_json::Value = serde_json::from_str(&shown).unwrap();
            assert_eq!(read, value);
            // No control serde_json escapes already is escaped twice.
            assert!(!shown.contains("\\\\u001b"), "{shown}");
            assert!(shown.contains("\\u001b[31m"), "{shown}");
        }
    }
}
