//! Terminal escapes (CSI colours, clear screen, OSC title, hyperlink and clipboard, DCS) in
//! every place a runbook, an input or an API answer can put text that ends up on stdout or
//! stderr. The harness fails every case whose output holds a raw ESC byte (0x1b).

use super::{runbook, steps, Case, Expect};

const CLASS: &str = "escape";

const PAYLOADS: &[(&str, &str)] = &[
    ("csi", "\x1b[31mRED\x1b[0m"),
    ("clear_screen", "\x1b[2J\x1b[H"),
    ("osc_title", "\x1b]0;pwned\x07"),
    (
        "osc8_link",
        "\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\",
    ),
    ("osc52_clipboard", "\x1b]52;c;ZWNobyBwd25lZA==\x07"),
    ("dcs", "\x1bP+q544e\x1b\\"),
];

/// `text` as a YAML double-quoted scalar (`\e` is ESC in YAML).
fn quoted(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '\x1b' => out.push_str("\\e"),
            '\x07' => out.push_str("\\a"),
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A runbook with a string input `msg` (default `default`) and these steps.
fn with_input(default: &str, body: &str) -> String {
    runbook(
        "escape",
        &format!(
            "inputs:\n  msg: {{type: string, default: {}}}\nsteps:\n{body}",
            quoted(default)
        ),
    )
}

pub fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for (kind, payload) in PAYLOADS {
        let q = quoted(payload);
        cases.push(Case::run(
            CLASS,
            &format!("log_{kind}.run.yaml"),
            steps("l", &format!("  - id: a\n    log: {q}\n")),
        ));
    }
    let csi = PAYLOADS[0].1;
    let osc = PAYLOADS[2].1;
    let clip = PAYLOADS[4].1;
    let q = quoted(csi);
    let run = |stem: &str, text: String, expect: Expect| {
        let mut case = Case::run(CLASS, &format!("{stem}.run.yaml"), text);
        case.expect = expect;
        case
    };
    cases.push(
        run(
            "log_json_format",
            steps("l", &format!("  - id: a\n    log: {}\n", quoted(osc))),
            Expect::Survive,
        )
        .args(&["--log-format", "json"]),
    );
    cases.push(run(
        "fail_message",
        steps("f", &format!("  - id: a\n    fail: {}\n", quoted(osc))),
        Expect::Survive,
    ));
    cases.push(run(
        "assert_message",
        steps(
            "f",
            &format!("  - id: a\n    assert: {{that: \"false\", message: {q}}}\n"),
        ),
        Expect::Survive,
    ));
    cases.push(run(
        "step_name",
        steps("n", &format!("  - id: a\n    name: {q}\n    log: x\n")),
        Expect::Survive,
    ));
    cases.push(run(
        "runbook_name",
        runbook(&q, "steps:\n  - id: a\n    log: x\n"),
        Expect::Survive,
    ));
    cases.push(run(
        "description",
        runbook(
            "d",
            &format!("description: {q}\nsteps:\n  - id: a\n    log: x\n"),
        ),
        Expect::Survive,
    ));
    cases.push(run(
        "input_default",
        with_input(csi, "  - id: a\n    log: \"{{ inputs.msg }}\"\n"),
        Expect::Survive,
    ));
    cases.push(
        run(
            "input_arg",
            with_input("x", "  - id: a\n    log: \"{{ inputs.msg }}\"\n"),
            Expect::Survive,
        )
        .args(&["-i", &format!("msg={clip}")]),
    );
    cases.push(
        run(
            "inputs_file",
            with_input("x", "  - id: a\n    log: \"{{ inputs.msg }}\"\n"),
            Expect::Survive,
        )
        .file("inputs_file.inputs.yaml", format!("msg: {}\n", quoted(osc)))
        .args(&["--inputs", "@inputs_file.inputs.yaml"]),
    );
    cases.push(
        run(
            "inputs_file_raw_esc_error",
            with_input("x", "  - id: a\n    log: x\n"),
            Expect::Survive,
        )
        .file(
            "inputs_file_raw_esc_error.inputs.yaml",
            format!("msg: [{csi}\n"),
        )
        .args(&["--inputs", "@inputs_file_raw_esc_error.inputs.yaml"]),
    );
    cases.push(
        run(
            "input_arg_unknown_name",
            with_input("x", "  - id: a\n    log: x\n"),
            Expect::Survive,
        )
        .args(&["-i", &format!("{csi}=1")]),
    );
    cases.push(
        run(
            "input_arg_wrong_type",
            runbook(
                "t",
                "inputs:\n  n: {type: integer}\nsteps:\n  - id: a\n    log: x\n",
            ),
            Expect::Survive,
        )
        .args(&["-i", &format!("n={csi}")]),
    );
    cases.push(run(
        "output_text",
        steps("o", "  - id: a\n    log: x\n") + &format!("outputs:\n  o: {q}\n"),
        Expect::Survive,
    ));
    cases.push(
        run(
            "output_json",
            steps("o", "  - id: a\n    log: x\n") + &format!("outputs:\n  o: {q}\n"),
            Expect::Survive,
        )
        .args(&["--output", "json"]),
    );
    cases.push(run(
        "set_then_log",
        steps(
            "s",
            &format!("  - id: a\n    set: {{v: {q}}}\n  - id: b\n    log: \"{{{{ vars.v }}}}\"\n"),
        ),
        Expect::Survive,
    ));
    cases.push(run(
        "jsonpath_error",
        with_input(
            csi,
            "  - id: a\n    log: \"{{ [1] | jsonpath(inputs.msg) }}\"\n",
        ),
        Expect::Survive,
    ));
    cases.push(run(
        "template_error",
        with_input(csi, "  - id: a\n    log: \"{{ inputs.msg.nope }}\"\n"),
        Expect::Survive,
    ));
    cases.push(run(
        "api_error_echo",
        steps(
            "w",
            &format!("  - id: a\n    aom.start: {{workflow_id: {q}}}\n"),
        ),
        Expect::Survive,
    ));
    cases.push(run("api_answer_logged", steps("w", &format!("  - id: a\n    functiongraph.run_sync: {{workflow_id: fg-echo, input: {{m: {q}}}}}\n  - id: b\n    log: \"{{{{ steps.a.output }}}}\"\n")), Expect::Survive));

    let validate =
        |stem: &str, text: Vec<u8>| Case::validate(CLASS, &format!("{stem}.yaml"), text).refuse();
    cases.push(validate(
        "unknown_key",
        (steps("k", "  - id: a\n    log: x\n") + &format!("{q}: 1\n")).into_bytes(),
    ));
    cases.push(validate(
        "raw_esc_in_plain_scalar",
        steps("r", &format!("  - id: a\n    log: a{csi}b\n")).into_bytes(),
    ));
    cases.push(validate(
        "raw_esc_in_comment_on_error_line",
        steps("r", &format!("  - id: a\n    lgo: x # {csi}\n")).into_bytes(),
    ));
    cases.push(validate(
        "raw_esc_in_a_broken_line",
        format!("version: 1\nname: r\nsteps: [{csi}\n").into_bytes(),
    ));
    cases.push(validate(
        "step_id",
        steps("i", &format!("  - id: {q}\n    log: x\n")).into_bytes(),
    ));
    cases.push(validate(
        "duration",
        steps("d", &format!("  - id: a\n    sleep: {}\n", quoted(osc))).into_bytes(),
    ));
    cases.push(validate(
        "template_syntax",
        steps(
            "t",
            &format!("  - id: a\n    log: \"{{{{ {} }}}}\"\n", &q[1..q.len() - 1]),
        )
        .into_bytes(),
    ));
    cases.push(validate("status", steps("s", &format!("  - id: s\n    aom.start: {{workflow_id: w}}\n  - id: w\n    timeout: 1m\n    aom.wait: {{workflow_id: w, execution_id: e, until_status: [{q}]}}\n")).into_bytes()));
    cases.push(validate(
        "did_you_mean",
        runbook("m", &format!("inputs:\n  {}: {{type: string}}\nsteps:\n  - id: a\n    log: \"{{{{ inputs.mgs }}}}\"\n", quoted(&format!("msg{csi}")))).into_bytes(),
    ));
    cases.push(validate(
        "call_operation",
        steps("c", &format!("  - id: a\n    call: {{operation: {q}}}\n")).into_bytes(),
    ));
    // The file's own name: printed in diagnostics and in `ok  PATH` (the location is in
    // whatever escaped form the name is shown, so it is not looked for).
    cases.push(
        Case::validate(
            CLASS,
            "file_name_\x1b[31m_broken.yaml",
            steps("f", "  - id: a\n    lgo: x\n"),
        )
        .refuse()
        .unlocated(),
    );
    cases.push(Case::validate(
        CLASS,
        "file_name_\x1b]0;x\x07_ok.yaml",
        steps("f", "  - id: a\n    log: x\n"),
    ));
    cases.push(Case::run(
        CLASS,
        "file_name_\x1b[2J_ok.run.yaml",
        steps("f", "  - id: a\n    log: x\n"),
    ));
    cases
}
