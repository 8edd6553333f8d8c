use std::process::ExitCode;

use xtask::{codegen, workspace_root, Mode};

const USAGE: &str = "usage: cargo xtask codegen [--check]

  codegen          regenerate the client (and the generator's fixture) from the specs
  codegen --check  fail, naming each stale file, if the checked-in output is out of date";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mode = match args.as_slice() {
        ["codegen"] => Mode::Write,
        ["codegen", "--check"] => Mode::Check,
        ["-h" | "--help" | "help"] => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match codegen(&workspace_root(), mode) {
        Ok(files) => {
            if mode == Mode::Write {
                println!("generated {} file(s)", files.len());
            } else {
                println!("generated code is up to date ({} file(s))", files.len());
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
