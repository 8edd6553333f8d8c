//! Huge files (20 MB, 200,000 steps, inputs or outputs; sizes around `MAX_RUNBOOK_BYTES` and
//! `MAX_STEPS`) and paths that are not runbook files (a directory, /dev/zero, a symlink loop).

use runbook_lang::limits::{MAX_RUNBOOK_BYTES, MAX_STEPS};

use super::{lazy, runbook, steps, Case, Content, Mode};

const HUGE: &str = "huge";
const PATH: &str = "path";
const MB20: usize = 20 << 20;

/// `text` padded with comment lines to exactly `size` bytes.
fn padded(text: &str, size: usize) -> String {
    let mut out = String::with_capacity(size);
    out.push_str(text);
    while out.len() < size {
        let left = size - out.len();
        let line = left.min(100);
        if line == 1 {
            out.push('\n');
        } else {
            out.push('#');
            out.push_str(&"x".repeat(line - 2));
            out.push('\n');
        }
    }
    out
}

fn minimal(name: &str) -> String {
    steps(name, "  - id: hello\n    log: hello\n")
}

/// `count` log steps.
fn many_steps(name: &str, count: usize) -> String {
    let mut body = String::with_capacity(count * 32);
    for i in 0..count {
        body.push_str(&format!("  - {{id: s{i}, log: x}}\n"));
    }
    steps(name, &body)
}

pub fn cases() -> Vec<Case> {
    let mut cases = vec![
        Case::validate(
            HUGE,
            "huge_20mb_comments.yaml",
            lazy(|| padded(&minimal("c"), MB20)),
        )
        .refuse(),
        Case::validate(
            HUGE,
            "huge_4mb_exactly.yaml",
            lazy(|| padded(&minimal("c"), MAX_RUNBOOK_BYTES)),
        )
        .accept(),
        Case::validate(
            HUGE,
            "huge_4mb_plus_1.yaml",
            lazy(|| padded(&minimal("c"), MAX_RUNBOOK_BYTES + 1)),
        )
        .refuse(),
        Case::validate(
            HUGE,
            "huge_20mb_one_scalar.yaml",
            lazy(|| {
                steps(
                    "s",
                    &format!("  - id: big\n    log: {}\n", "a".repeat(MB20)),
                )
            }),
        )
        .refuse(),
        Case::validate(
            HUGE,
            "huge_20mb_one_line.yaml",
            lazy(|| format!("#{}\n{}", "x".repeat(MB20), minimal("l"))),
        )
        .refuse(),
        Case::validate(
            HUGE,
            "huge_200k_steps.yaml",
            lazy(|| many_steps("s", 200_000)),
        )
        .refuse(),
        Case::validate(
            HUGE,
            "huge_10000_steps.yaml",
            lazy(|| many_steps("s", MAX_STEPS)),
        )
        .accept(),
        Case::run(
            HUGE,
            "huge_10000_steps.run.yaml",
            lazy(|| many_steps("s", MAX_STEPS)),
        )
        .accept(),
        Case::validate(
            HUGE,
            "huge_10001_steps.yaml",
            lazy(|| many_steps("s", MAX_STEPS + 1)),
        )
        .refuse(),
        Case::validate(
            HUGE,
            "huge_5000_steps_5001_finally.yaml",
            lazy(|| {
                let mut text = many_steps("f", 5000);
                text.push_str("finally:\n");
                for i in 0..5001 {
                    text.push_str(&format!("  - {{id: f{i}, log: x}}\n"));
                }
                text
            }),
        )
        .refuse(),
        Case::validate(
            HUGE,
            "huge_200k_inputs.yaml",
            lazy(|| {
                let mut body = String::from("inputs:\n");
                for i in 0..200_000 {
                    body.push_str(&format!("  i{i}: {{type: string, default: x}}\n"));
                }
                runbook("i", &(body + "steps:\n  - id: hello\n    log: hello\n"))
            }),
        )
        .refuse(),
        // Under the byte limit: 100,000 inputs, 200,000 outputs, 200,000 `set` keys.
        Case::validate(
            HUGE,
            "huge_100k_inputs.yaml",
            lazy(|| {
                let mut body = String::from("inputs:\n");
                for i in 0..100_000 {
                    body.push_str(&format!("  i{i}: {{type: string}}\n"));
                }
                runbook("i", &(body + "steps:\n  - id: hello\n    log: hello\n"))
            }),
        ),
        Case::validate(
            HUGE,
            "huge_200k_outputs.yaml",
            lazy(|| {
                let mut text = minimal("o");
                text.push_str("outputs:\n");
                for i in 0..200_000 {
                    text.push_str(&format!("  o{i}: x\n"));
                }
                text
            }),
        ),
        Case::run(
            HUGE,
            "huge_150k_template_outputs.run.yaml",
            lazy(|| {
                let mut text = minimal("o");
                text.push_str("outputs:\n");
                for i in 0..150_000 {
                    text.push_str(&format!("  o{i}: \"{{{{ run.id }}}}\"\n"));
                }
                text
            }),
        ),
        Case::run(
            HUGE,
            "huge_200k_set_keys.run.yaml",
            lazy(|| {
                let mut body = String::from("  - id: many\n    set:\n");
                for i in 0..200_000 {
                    body.push_str(&format!("      v{i}: 1\n"));
                }
                steps("v", &body)
            }),
        ),
        // 9,000 errors, each rendered with its snippet.
        Case::validate(
            HUGE,
            "huge_9000_errors.yaml",
            lazy(|| {
                let mut body = String::new();
                for i in 0..9000 {
                    body.push_str(&format!("  - {{id: s{i}, lgo: x}}\n"));
                }
                steps("e", &body)
            }),
        )
        .refuse(),
        Case::validate(
            HUGE,
            "huge_150k_errors.yaml",
            lazy(|| {
                let mut body = String::new();
                for i in 0..150_000 {
                    body.push_str(&format!("  - {{id: s{i}, lgo: x}}\n"));
                }
                steps("e", &body)
            }),
        )
        .refuse(),
        Case::validate(
            HUGE,
            "huge_1_9m_blank_lines.yaml",
            lazy(|| format!("{}{}", "\n".repeat(1900 << 10), minimal("b"))),
        )
        .accept(),
        // The error is on the last line of a big file: finding line and column must not be
        // quadratic.
        Case::validate(
            HUGE,
            "huge_error_at_end_of_4mb.yaml",
            lazy(|| {
                padded(&many_steps("e", 100), MAX_RUNBOOK_BYTES - 64) + "  - id: last\n    lgo: x\n"
            }),
        )
        .refuse(),
    ];

    // Paths that are not runbook files.
    let mut dir_run = Case::at(Mode::Run, PATH, "run_a_directory", "run_a_directory");
    dir_run.files.push(("run_a_directory".into(), Content::Dir));
    cases.push(dir_run);
    let mut dir_yaml = Case::at(
        Mode::Run,
        PATH,
        "run_a_directory_named.yaml",
        "run_a_directory_named.yaml",
    );
    dir_yaml
        .files
        .push(("run_a_directory_named.yaml".into(), Content::Dir));
    cases.push(dir_yaml);
    let mut empty = Case::at(
        Mode::Validate,
        PATH,
        "validate_an_empty_directory",
        "validate_an_empty_directory",
    );
    empty
        .files
        .push(("validate_an_empty_directory".into(), Content::Dir));
    cases.push(empty);
    let mut looped = Case::at(
        Mode::Validate,
        PATH,
        "validate_a_symlink_loop_dir",
        "validate_a_symlink_loop_dir",
    );
    looped
        .files
        .push(("validate_a_symlink_loop_dir".into(), Content::Dir));
    looped.files.push((
        "validate_a_symlink_loop_dir/ok.yaml".into(),
        minimal("ok").into(),
    ));
    looped.files.push((
        "validate_a_symlink_loop_dir/again".into(),
        Content::Symlink(".".into()),
    ));
    cases.push(looped);
    let mut self_link = Case::at(
        Mode::Run,
        PATH,
        "run_a_symlink_to_itself.yaml",
        "run_a_symlink_to_itself.yaml",
    );
    self_link.files.push((
        "run_a_symlink_to_itself.yaml".into(),
        Content::Symlink("run_a_symlink_to_itself.yaml".into()),
    ));
    cases.push(self_link);
    let mut with_huge = Case::at(
        Mode::Validate,
        PATH,
        "validate_a_dir_with_a_20mb_file",
        "validate_a_dir_with_a_20mb_file",
    );
    with_huge
        .files
        .push(("validate_a_dir_with_a_20mb_file".into(), Content::Dir));
    with_huge.files.push((
        "validate_a_dir_with_a_20mb_file/ok.yaml".into(),
        minimal("ok").into(),
    ));
    with_huge.files.push((
        "validate_a_dir_with_a_20mb_file/z.yaml".into(),
        lazy(|| padded(&minimal("z"), MB20)),
    ));
    cases.push(with_huge);
    for (name, path) in [
        ("run_dev_zero", "/dev/zero"),
        ("run_dev_urandom", "/dev/urandom"),
        ("validate_dev_zero", "/dev/zero"),
        ("run_dev_null", "/dev/null"),
        ("run_nonexistent", "/nonexistent/runbook.yaml"),
    ] {
        let mode = if name.starts_with("run") {
            Mode::Run
        } else {
            Mode::Validate
        };
        cases.push(Case::at(mode, PATH, name, path));
    }
    cases
}
