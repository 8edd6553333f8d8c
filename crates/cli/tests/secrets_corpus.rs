#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The corpus of secret cases: secrets short and long, in credentials and inputs (strings,
//! object fields, array items, numbers), passed through filters, slices, concatenation,
//! variables, API echoes, failures and errors. Each case runs as a process in every log format
//! and output mode, and then:
//!
//! - every JSON line and JSON summary parses, and the summary keeps its `exit_code`;
//! - no secret or derived form appears: a form of 4 characters or more nowhere in the text, a
//!   shorter one as no whole JSON value (a secret `e` must not mangle `exit_code`);
//! - the target line keeps its host name.

mod support;

use serde_json::Value;
use support::{runbook, write_temp};

/// What a case must never show.
struct Case {
    name: &'static str,
    runbook: String,
    args: Vec<String>,
    /// The secret and every form derived from it that the runbook makes.
    forms: Vec<String>,
    /// A scenario other than the built-in one (for credential cases).
    scenario: Option<String>,
    /// Environment variables of the run (for `env:` cases).
    envs: Vec<(&'static str, String)>,
}

const LONG: &str = "hunter2 very/secret";

fn case(name: &'static str, inputs: &str, steps: &str, secret: &str, derived: &[&str]) -> Case {
    let mut forms = vec![secret.to_owned()];
    forms.extend(derived.iter().map(|d| (*d).to_owned()));
    Case {
        name,
        runbook: format!("version: 1\nname: {name}\ninputs:\n{inputs}\nsteps:\n{steps}"),
        args: vec!["-i".into(), format!("s={secret}")],
        forms,
        scenario: None,
        envs: Vec::new(),
    }
}

const SECRET_S: &str = "  s: {type: string, secret: true}";

fn log(expr: &str) -> String {
    format!("  - id: say\n    log: \"{expr}\"\n")
}

fn cases() -> Vec<Case> {
    let mut cases = vec![
        case("short_e", SECRET_S, &log("{{ inputs.s }}"), "e", &[]),
        case("short_colon", SECRET_S, &log("{{ inputs.s }}"), ":", &[]),
        case(
            "short_quote",
            SECRET_S,
            "  - id: say\n    log: '{{ inputs.s }}'\n",
            "\"",
            &[],
        ),
        case(
            "short_e_in_var",
            SECRET_S,
            "  - id: keep\n    set: {copy: \"{{ inputs.s }}\"}\n  - id: say\n    log: \"{{ vars.copy }}\"\n",
            "e",
            &[],
        ),
        case(
            "short_upper",
            SECRET_S,
            &log("{{ inputs.s | upper }}"),
            "q",
            &["Q"],
        ),
        case("long_plain", SECRET_S, &log("{{ inputs.s }}"), LONG, &[]),
        case(
            "long_upper",
            SECRET_S,
            &log("token {{ inputs.s | upper }}"),
            LONG,
            &["HUNTER2 VERY/SECRET"],
        ),
        case(
            "long_reverse",
            SECRET_S,
            &log("{{ inputs.s | reverse }}"),
            LONG,
            &["terces/yrev 2retnuh"],
        ),
        case(
            "long_slice",
            SECRET_S,
            &log("part {{ inputs.s[2:12] }} end"),
            LONG,
            &["nter2 very"],
        ),
        case(
            "long_spaced",
            SECRET_S,
            &log("{{ inputs.s | list | join(' ') }}"),
            LONG,
            &["h u n t e r 2"],
        ),
        case(
            // minijinja is built without `urlencode`; the same form, by hand.
            "long_percent_encoded",
            SECRET_S,
            &log("{{ inputs.s | replace(' ', '%20') | replace('/', '%2F') }}"),
            LONG,
            &["hunter2%20very%2Fsecret"],
        ),
        case(
            "long_tojson",
            SECRET_S,
            &log("{{ inputs.s | tojson }}"),
            LONG,
            &[],
        ),
        case(
            "long_concatenated",
            SECRET_S,
            &log("{{ 'pre-' ~ inputs.s ~ '-post' }}"),
            LONG,
            &[],
        ),
        case(
            "long_replace",
            SECRET_S,
            &log("{{ inputs.s | replace(' ', '_') }}"),
            LONG,
            &["hunter2_very/secret"],
        ),
        case(
            "long_format",
            SECRET_S,
            &log("{{ '<%s>' | format(inputs.s | title) }}"),
            LONG,
            &["Hunter2 Very/Secret"],
        ),
        case(
            "var_then_logged",
            SECRET_S,
            "  - id: keep\n    set: {copy: \"{{ inputs.s | upper }}\"}\n  - id: say\n    log: \"later: {{ vars.copy | lower }}\"\n",
            LONG,
            &["HUNTER2 VERY/SECRET"],
        ),
        case(
            "in_fail_message",
            SECRET_S,
            "  - id: boom\n    fail: \"cannot go on with {{ inputs.s | upper }}\"\n",
            LONG,
            &["HUNTER2 VERY/SECRET"],
        ),
        case(
            "in_assert_message",
            SECRET_S,
            "  - id: check\n    assert: {that: \"false\", message: \"bad {{ inputs.s }}\"}\n",
            LONG,
            &[],
        ),
        case(
            "in_workflow_id",
            SECRET_S,
            "  - id: start\n    aom.start: {workflow_id: \"{{ inputs.s | replace(' ', '-') | replace('/', '-') }}\"}\n",
            LONG,
            &["hunter2-very-secret"],
        ),
        case(
            "echoed_by_the_api",
            SECRET_S,
            "  - id: echo\n    functiongraph.run_sync: {workflow_id: fg-echo, input: {token: \"{{ inputs.s }}\"}}\n",
            LONG,
            &[],
        ),
        case(
            "echoed_then_logged",
            SECRET_S,
            "  - id: echo\n    functiongraph.run_sync: {workflow_id: fg-echo, input: {token: \"{{ inputs.s }}\"}}\n  - id: say\n    log: \"{{ steps.echo.output.echo.token | upper }}\"\n",
            LONG,
            &["HUNTER2 VERY/SECRET"],
        ),
        case(
            "in_outputs",
            SECRET_S,
            &format!(
                "{}outputs:\n  leaked: \"{{{{ inputs.s }}}}\"\n  derived: \"{{{{ inputs.s | upper }}}}\"\n",
                log("fine")
            ),
            LONG,
            &["HUNTER2 VERY/SECRET"],
        ),
        case(
            "in_callback_output",
            SECRET_S,
            "  - id: flow\n    functiongraph.start: {workflow_id: fg-callback, input: {}}\n  - id: nap\n    sleep: 5s\n  - id: answer\n    functiongraph.callback: {workflow_id: fg-callback, run_id: \"{{ steps.flow.execution_id }}\", state_id: await-approval, result: success, output: {key: \"{{ inputs.s }}\"}}\n",
            LONG,
            &[],
        ),
        case(
            "in_finally",
            SECRET_S,
            &format!(
                "{}finally:\n  - id: report\n    log: \"ended {{{{ run.status }}}} with {{{{ inputs.s }}}}\"\n",
                log("fine")
            ),
            LONG,
            &[],
        ),
    ];
    // Structured secret inputs: given as JSON.
    let object = |name: &'static str, steps: &str, derived: &[&str]| {
        let mut case = case(
            name,
            "  o: {type: object, secret: true}",
            steps,
            "pa55word-xyz",
            derived,
        );
        case.args = vec![
            "-i".into(),
            r#"o={"user": "opsbot", "password": "pa55word-xyz"}"#.into(),
        ];
        case.forms.push("opsbot".into());
        case
    };
    cases.push(object("object_field", &log("{{ inputs.o.password }}"), &[]));
    cases.push(object(
        "object_field_upper",
        &log("{{ inputs.o.password | upper }}"),
        &["PA55WORD-XYZ"],
    ));
    cases.push(object(
        "object_tojson",
        &log("{{ inputs.o | tojson }}"),
        &[],
    ));
    let array = |name: &'static str, steps: &str, derived: &[&str]| {
        let mut case = case(
            name,
            "  a: {type: array, secret: true}",
            steps,
            "second-item-secret",
            derived,
        );
        case.args = vec![
            "-i".into(),
            r#"a=["first-item-secret", "second-item-secret"]"#.into(),
        ];
        case.forms.push("first-item-secret".into());
        case
    };
    cases.push(array("array_item", &log("{{ inputs.a[1] }}"), &[]));
    cases.push(array(
        "array_for_each",
        "  - id: each\n    for_each: \"{{ inputs.a }}\"\n    log: \"item {{ item | upper }}\"\n",
        &["SECOND-ITEM-SECRET", "FIRST-ITEM-SECRET"],
    ));
    let mut number = case(
        "number_input",
        "  n: {type: integer, secret: true}",
        &log("{{ inputs.n + 1 }} and {{ inputs.n }}"),
        "987654321",
        &["987654322"],
    );
    number.args = vec!["-i".into(), "n=987654321".into()];
    cases.push(number);
    // Credentials: a 3-character and a 40-character secret key.
    for (name, sk) in [
        ("sk_short", "k3y"),
        ("sk_long", "0123456789abcdefghijABCDEFGHIJ0123456789"),
    ] {
        let mut case = case(name, SECRET_S, &log("plain text"), "not-used-here", &[]);
        case.forms = vec![sk.to_owned()];
        case.scenario = Some(format!(
            "projects:\n  - id: 0a1b2c3d4e5f60718293a4b5c6d7e8f9\n    credentials:\n      - {{ak: SHORTSKAK00000000001, sk: \"{sk}\"}}\n    aom_workflows:\n      - id: quick\n        nodes: [{{id: only, behaviour: succeed, duration: 1s}}]\n"
        ));
        case.runbook = format!(
            "version: 1\nname: {name}\ninputs:\n{SECRET_S}\nsteps:\n  - id: start\n    aom.start: {{workflow_id: quick}}\n  - id: wait\n    timeout: 1m\n    aom.wait: {{workflow_id: quick, execution_id: \"{{{{ steps.start.execution_id }}}}\"}}\n"
        );
        cases.push(case);
    }
    // An environment variable the runbook marks secret, read directly and through a filter.
    let mut env = case(
        "env_secret",
        SECRET_S,
        &log("token {{ env.DEPLOY_TOKEN }} / {{ env.DEPLOY_TOKEN | upper }}"),
        "env-token-value",
        &["ENV-TOKEN-VALUE"],
    );
    env.runbook = env.runbook.replace(
        "\ninputs:",
        "\nenv: [REGION_NAME, {name: DEPLOY_TOKEN, secret: true}]\ninputs:",
    );
    // The secret input holds something else, so only the `env:` marking can hide the token.
    env.args = vec!["-i".into(), "s=an-unrelated-input".into()];
    env.envs = vec![
        ("DEPLOY_TOKEN", "env-token-value".into()),
        ("REGION_NAME", "region-one".into()),
    ];
    cases.push(env);
    cases
}

/// Every string value inside `value`, keys excluded.
fn leaves<'v>(value: &'v Value, out: &mut Vec<&'v str>) {
    match value {
        Value::String(text) => out.push(text),
        Value::Array(items) => items.iter().for_each(|item| leaves(item, out)),
        Value::Object(map) => map.values().for_each(|item| leaves(item, out)),
        _ => {}
    }
}

fn assert_hidden(case: &Case, mode: &str, text: &str, json: &[Value]) {
    let mut strings = Vec::new();
    json.iter().for_each(|value| leaves(value, &mut strings));
    for form in &case.forms {
        if form.chars().count() >= 4 {
            assert!(
                !text.contains(form.as_str()),
                "{} ({mode}): `{form}` leaked:\n{text}",
                case.name
            );
        } else {
            assert!(
                !strings.contains(&form.as_str()),
                "{} ({mode}): `{form}` leaked as a value:\n{text}",
                case.name
            );
        }
    }
}

#[test]
fn no_secret_or_derived_form_reaches_any_output() {
    let dir = tempfile::tempdir().unwrap();
    // One run store for every case's last mode, searched at the end.
    let state = dir.path().join("state");
    let cases = cases();
    assert!(cases.len() >= 30, "{} cases", cases.len());
    for case in &cases {
        let file = write_temp(&dir, &format!("{}.yaml", case.name), &case.runbook);
        let scenario = case
            .scenario
            .as_ref()
            .map(|text| write_temp(&dir, &format!("{}-scenario.yaml", case.name), text));
        for (log, output) in [
            ("json", "json"),
            ("plain", "text"),
            ("json", "text"),
            ("plain", "json"),
        ] {
            let mode = format!("--log-format {log} --output {output}");
            let mut command = runbook();
            command
                .args([
                    "run",
                    &file,
                    "--sandbox",
                    "--log-format",
                    log,
                    "--output",
                    output,
                ])
                .args(&case.args);
            if let Some(scenario) = &scenario {
                command.args(["--scenario", scenario]);
            }
            command.envs(case.envs.iter().map(|(name, value)| (name, value)));
            if (log, output) == ("plain", "json") {
                command.arg("--state-dir").arg(&state);
            }
            let result = command.output().unwrap();
            let stdout = String::from_utf8(result.stdout).unwrap();
            let stderr = String::from_utf8(result.stderr).unwrap();
            let code = result.status.code().unwrap_or(-1);
            assert!(
                [0, 1].contains(&code),
                "{} ({mode}) exited {code}:\n{stderr}",
                case.name
            );
            let mut json = Vec::new();
            if log == "json" {
                for line in stderr.lines() {
                    let event: Value = serde_json::from_str(line).unwrap_or_else(|e| {
                        panic!("{} ({mode}): not JSON ({e}): {line}", case.name)
                    });
                    assert!(event["event"].is_string() && event["run_id"].is_string());
                    json.push(event);
                }
            }
            if output == "json" {
                let summary: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
                    panic!("{} ({mode}): summary not JSON ({e}): {stdout}", case.name)
                });
                assert_eq!(summary["exit_code"], code, "{}", case.name);
                json.push(summary);
            } else {
                assert!(
                    stdout.contains(&format!("exit code {code}")),
                    "{}: {stdout}",
                    case.name
                );
            }
            assert!(
                stderr.contains("sandbox at http://127.0.0.1:"),
                "{} ({mode}): the host name was mangled:\n{stderr}",
                case.name
            );
            assert_hidden(case, &mode, &format!("{stdout}\n{stderr}"), &json);
        }
    }
    // The store's files (database, write-ahead log) hold no secret or derived form either.
    let mut stored = Vec::new();
    for entry in std::fs::read_dir(&state).unwrap() {
        stored.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    assert!(stored.len() > 10_000, "the runs were journaled");
    let stored = String::from_utf8_lossy(&stored);
    assert!(stored.contains("\"event\":\"final_state\""));
    for case in &cases {
        for form in case.forms.iter().filter(|f| f.chars().count() >= 4) {
            assert!(
                !stored.contains(form.as_str()),
                "{}: `{form}` is in the run store",
                case.name
            );
        }
    }
}

#[test]
fn errors_about_secret_inputs_never_echo_them() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_temp(
        &dir,
        "typed.yaml",
        "version: 1\nname: typed\ninputs:\n  pin: {type: integer, secret: true}\nsteps:\n  - id: a\n    log: hi\n",
    );
    // A whole inputs file that is not a mapping, and a secret of the wrong type in one that is.
    let not_a_map = write_temp(&dir, "not-a-map.yaml", "\"hunter2-inputs-secret\"\n");
    let wrong_type = write_temp(&dir, "wrong.yaml", "pin: hunter2-inputs-secret\n");
    for inputs in [&not_a_map, &wrong_type] {
        let result = runbook()
            .args(["run", &file, "--sandbox", "--inputs", inputs])
            .output()
            .unwrap();
        assert_eq!(result.status.code(), Some(2));
        let stderr = String::from_utf8(result.stderr).unwrap();
        assert!(stderr.contains("error"), "{stderr}");
        assert!(!stderr.contains("hunter2"), "{stderr}");
    }
    let given = runbook()
        .args(["run", &file, "--sandbox", "-i", "pin=hunter2-cli-secret"])
        .output()
        .unwrap();
    let stderr = String::from_utf8(given.stderr).unwrap();
    assert_eq!(given.status.code(), Some(2));
    assert!(
        stderr.contains("not an integer") && !stderr.contains("hunter2"),
        "{stderr}"
    );

    // A broken runbook whose secret default would show in the diagnostic's source line.
    let broken = write_temp(
        &dir,
        "broken.yaml",
        "version: 1\nname: broken\ninputs:\n  token: {type: integer, secret: true, default: \"hunter2-default-secret\"}\nsteps:\n  - id: a\n    log: hi\n",
    );
    for command in ["validate", "run"] {
        let mut args = vec![command, broken.as_str()];
        if command == "run" {
            args.push("--sandbox");
        }
        let result = runbook().args(&args).output().unwrap();
        assert_eq!(result.status.code(), Some(2));
        let stderr = String::from_utf8(result.stderr).unwrap();
        assert!(stderr.contains("default is string"), "{stderr}");
        assert!(!stderr.contains("hunter2"), "{command}: {stderr}");
    }
}
