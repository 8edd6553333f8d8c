//! `--inputs FILE` and `-i`: a huge file, alias bombs, deep nesting, /dev/zero, a directory,
//! bad encodings, 200,000 names; `-i` values that are long or deeply nested.

use runbook_lang::limits::MAX_INPUTS_FILE_BYTES;

use super::{lazy, runbook, Case, Content, Expect};

const CLASS: &str = "inputs_file";

/// A runbook with a string, an array and an object input, logging their sizes.
fn reader() -> String {
    runbook(
        "reader",
        "inputs:\n  msg: {type: string, default: x}\n  list: {type: array, default: []}\n  obj: {type: object, default: {}}\nsteps:\n  - id: a\n    log: \"{{ inputs.msg | length }} {{ inputs.list | length }} {{ inputs.obj | length }}\"\n",
    )
}

/// A run of the reader with `--inputs` naming `content`, written as `STEM.inputs.yaml`.
fn with_file(stem: &str, content: impl Into<Content>, expect: Expect) -> Case {
    let stem = format!("inputs_{stem}");
    let name = format!("{stem}.inputs.yaml");
    let mut case = Case::run(CLASS, &format!("{stem}.run.yaml"), reader())
        .file(&name, content)
        .args(&["--inputs", &format!("@{name}")]);
    case.expect = expect;
    case
}

/// A run of the reader with `--inputs PATH` (a device, or a path it does not write).
fn with_path(stem: &str, path: &str) -> Case {
    Case::run(CLASS, &format!("inputs_{stem}.run.yaml"), reader()).args(&["--inputs", path])
}

pub fn cases() -> Vec<Case> {
    use Expect::{Accept, Refuse, Survive};
    let max = MAX_INPUTS_FILE_BYTES;
    let mut cases = vec![
        with_file("valid", "msg: hello\nlist: [1, 2]\nobj: {a: 1}\n", Accept),
        with_file(
            "huge_20mb",
            lazy(|| format!("msg: {}\n", "a".repeat(20 << 20))),
            Refuse,
        ),
        with_file(
            "max_bytes_exactly",
            lazy(move || format!("msg: {}\n", "a".repeat(max - "msg: \n".len()))),
            Accept,
        ),
        with_file(
            "max_bytes_plus_1",
            lazy(move || format!("msg: {}\n", "a".repeat(max + 1 - "msg: \n".len()))),
            Refuse,
        ),
        with_file(
            "laughs_9e9",
            {
                let mut text =
                    String::from("obj:\n  l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
                for level in 1..=8 {
                    let p = level - 1;
                    text.push_str(&format!("  l{level}: &l{level} [*l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}]\n"));
                }
                text.push_str("list: *l8\n");
                text
            },
            Refuse,
        ),
        with_file(
            "flat_aliases_60k_x300",
            {
                let mut text = format!("msg: &big {}\nlist:\n", "a".repeat(60_000));
                for _ in 0..300 {
                    text.push_str("  - *big\n");
                }
                text
            },
            Survive,
        ),
        with_file(
            "flat_aliases_300k_x1000",
            {
                let mut text = format!("msg: &big {}\nlist:\n", "a".repeat(300_000));
                for _ in 0..1000 {
                    text.push_str("  - *big\n");
                }
                text
            },
            Survive,
        ),
        with_file(
            "deep_flow_10000",
            format!("list: {}x{}\n", "[".repeat(10_000), "]".repeat(10_000)),
            Refuse,
        ),
        with_file(
            "deep_unclosed_10000",
            format!("list: {}\n", "[".repeat(10_000)),
            Refuse,
        ),
        with_file("invalid_utf8", b"msg: caf\xe9\n".to_vec(), Refuse),
        with_file(
            "utf16le_bom",
            {
                let mut out = vec![0xff, 0xfe];
                for unit in "msg: hello\n".encode_utf16() {
                    out.extend_from_slice(&unit.to_le_bytes());
                }
                out
            },
            Survive,
        ),
        with_file("bom_valid", b"\xef\xbb\xbfmsg: hello\n".to_vec(), Accept),
        with_file("nul_bytes", b"msg: a\0b\n".to_vec(), Survive),
        with_file("not_a_mapping", "[1, 2, 3]\n", Refuse),
        with_file("empty", "", Survive),
        with_file(
            "unknown_names_200k",
            lazy(|| (0..200_000).map(|i| format!("n{i}: 1\n")).collect()),
            Refuse,
        ),
        with_file(
            "unknown_name_70000",
            format!("{}: 1\n", "m".repeat(70_000)),
            Refuse,
        ),
        with_file(
            "list_of_1m_items",
            lazy(|| format!("list: [{}]\n", vec!["1"; 1_000_000].join(","))),
            Survive,
        ),
        with_file(
            "object_of_100k_keys",
            lazy(|| {
                format!(
                    "obj: {{{}}}\n",
                    (0..100_000)
                        .map(|i| format!("k{i}: {i}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }),
            Survive,
        ),
        with_path("dev_zero", "/dev/zero").refuse(),
        with_path("dev_urandom", "/dev/urandom").refuse(),
        with_path("nonexistent", "/nonexistent/inputs.yaml").refuse(),
    ];
    let mut dir = with_path("a_directory", "@inputs_a_directory.inputs.d").refuse();
    dir.files
        .push(("inputs_a_directory.inputs.d".into(), Content::Dir));
    cases.push(dir);
    let mut looped = with_path("a_symlink_loop", "@inputs_a_symlink_loop.inputs.yaml").refuse();
    looped.files.push((
        "inputs_a_symlink_loop.inputs.yaml".into(),
        Content::Symlink("inputs_a_symlink_loop.inputs.yaml".into()),
    ));
    cases.push(looped);
    // `-i`: a 100 KB value, 10,000 flags, a deeply nested array, an object of many keys.
    cases.push(
        Case::run(CLASS, "inputs_arg_value_100kb.run.yaml", reader())
            .args(&["-i", &format!("msg={}", "a".repeat(100_000))])
            .accept(),
    );
    let mut many = Case::run(CLASS, "inputs_arg_10000_flags.run.yaml", reader());
    for _ in 0..10_000 {
        many.args.push("-i".into());
        many.args.push("msg=x".into());
    }
    many.expect = Accept;
    cases.push(many);
    cases.push(
        Case::run(CLASS, "inputs_arg_array_deep_10000.run.yaml", reader())
            .args(&[
                "-i",
                &format!("list={}{}", "[".repeat(10_000), "]".repeat(10_000)),
            ])
            .refuse(),
    );
    cases.push(
        Case::run(CLASS, "inputs_arg_object_5000_keys.run.yaml", reader()).args(&[
            "-i",
            &format!(
                "obj={{{}}}",
                (0..5_000)
                    .map(|i| format!("\"k{i}\": {i}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ]),
    );
    cases
}
