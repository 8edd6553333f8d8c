//! Writing to stdout and stderr when the reader may have gone away (`runbook validate … |
//! head -1`). Rust ignores SIGPIPE, so a write to a closed pipe fails, and `println!` would
//! panic on it. Here a closed stdout ends the process quietly with [`exit::PIPE_CLOSED`]:
//! nobody reads what comes next. A failed write to stderr is dropped: a run keeps going when
//! whoever watched its log has gone. SIGPIPE is not restored process-wide, because a run must
//! not die in the middle of a request that changes something.

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
    let mut stdout = std::io::stdout().lock();
    let written = stdout.write_fmt(args).and_then(|()| stdout.flush());
    if let Err(error) = written {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(i32::from(exit::PIPE_CLOSED));
        }
    }
}

pub fn stderr_line(args: fmt::Arguments<'_>) {
    let mut stderr = std::io::stderr().lock();
    let _ = stderr
        .write_fmt(args)
        .and_then(|()| stderr.write_all(b"\n"));
}
