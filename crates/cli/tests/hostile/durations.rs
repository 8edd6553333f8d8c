//! Durations: `sleep: 9000y`, u64::MAX seconds in sleep, poll, retry delays and timeouts,
//! `1ns` polls, around `MAX_DURATION` (365 days) and `MIN_POLL_DELAY` (10 ms); runs that poll
//! or sleep a lot on the sandbox's simulated clock; the command line's durations.

use runbook_lang::limits::{MAX_DURATION, MIN_POLL_DELAY};

use super::{runbook, steps, Case, Expect};

const CLASS: &str = "duration";
const U64_MAX: &str = "18446744073709551615s";

fn sleeping(name: &str, duration: &str) -> String {
    steps(name, &format!("  - id: nap\n    sleep: {duration}\n"))
}

/// An `aom.wait` of `workflow` (started first) polling with `poll` under `timeout`.
fn waiting(name: &str, workflow: &str, poll: &str, timeout: &str) -> String {
    steps(
        name,
        &format!(
            "  - id: start\n    aom.start: {{workflow_id: {workflow}}}\n  - id: wait\n    timeout: {timeout}\n    aom.wait:\n      workflow_id: {workflow}\n      execution_id: \"{{{{ steps.start.execution_id }}}}\"\n      poll: {poll}\n"
        ),
    )
}

fn retrying(name: &str, retry: &str) -> String {
    steps(
        name,
        &format!(
            "  - id: flaky\n    retry: {retry}\n    assert: {{that: \"false\", message: nope}}\n"
        ),
    )
}

pub fn cases() -> Vec<Case> {
    use Expect::{Accept, Refuse, Survive};
    let year = MAX_DURATION.as_secs();
    let min_poll = MIN_POLL_DELAY.as_millis();
    let mut cases = Vec::new();
    let validate = |stem: &str, text: String, expect: Expect| {
        let mut case = Case::validate(CLASS, &format!("{stem}.yaml"), text);
        case.expect = expect;
        case
    };
    for (stem, duration, expect) in [
        ("sleep_9000y", "9000y".to_owned(), Refuse),
        ("sleep_u64_max_seconds", U64_MAX.to_owned(), Refuse),
        (
            "sleep_u64_max_plus_1_seconds",
            "18446744073709551616s".to_owned(),
            Refuse,
        ),
        (
            "sleep_u64_max_nanoseconds_sum",
            format!("{U64_MAX} 999999999ns"),
            Refuse,
        ),
        ("sleep_365d", "365d".to_owned(), Accept),
        ("sleep_max_seconds", format!("{year}s"), Accept),
        ("sleep_max_plus_1s", format!("{}s", year + 1), Refuse),
        ("sleep_365d_1ms", "365d 1ms".to_owned(), Refuse),
        ("sleep_0s", "0s".to_owned(), Survive),
        ("sleep_negative", "-1s".to_owned(), Refuse),
        ("sleep_1e400s", "1e400s".to_owned(), Refuse),
        ("sleep_9000y_x10000_terms", "9000y ".repeat(10_000), Refuse),
        ("sleep_1s_x100000_terms", "1s ".repeat(100_000), Survive),
    ] {
        cases.push(validate(stem, sleeping("s", &duration), expect));
    }
    for (stem, text, expect) in [
        ("timeout_u64_max", runbook("t", &format!("timeout: {U64_MAX}\nsteps:\n  - id: a\n    log: x\n")), Refuse),
        ("timeout_9000y", runbook("t", "timeout: 9000y\nsteps:\n  - id: a\n    log: x\n"), Refuse),
        ("step_timeout_u64_max", steps("t", &format!("  - id: a\n    timeout: {U64_MAX}\n    log: x\n")), Refuse),
        ("finally_timeout_u64_max", runbook("t", &format!("finally_timeout: {U64_MAX}\nsteps:\n  - id: a\n    log: x\nfinally:\n  - id: b\n    log: y\n")), Refuse),
        ("poll_min_1ns", waiting("p", "wf-success", "{min: 1ns, max: 1s}", "1h"), Refuse),
        ("poll_min_below_min", waiting("p", "wf-success", &format!("{{min: {}ms, max: 1s}}", min_poll - 1), "1h"), Refuse),
        ("poll_min_at_min", waiting("p", "wf-success", &format!("{{min: {min_poll}ms, max: 1s}}"), "1h"), Accept),
        ("poll_max_u64_max", waiting("p", "wf-success", &format!("{{min: 1s, max: {U64_MAX}}}"), "1h"), Refuse),
        ("poll_both_1ns", waiting("p", "wf-success", "{min: 1ns, max: 1ns}", "1h"), Refuse),
        ("wait_timeout_u64_max", waiting("p", "wf-success", "{min: 1s, max: 2s}", U64_MAX), Refuse),
        ("retry_delay_u64_max", retrying("r", &format!("{{attempts: 3, delay: {U64_MAX}, on: [any]}}")), Refuse),
        ("retry_max_delay_u64_max", retrying("r", &format!("{{attempts: 3, delay: 1s, max_delay: {U64_MAX}, on: [any]}}")), Refuse),
        ("retry_delay_1ns", retrying("r", "{attempts: 3, delay: 1ns, max_delay: 1ns, on: [any]}"), Survive),
    ] {
        cases.push(validate(stem, text, expect));
    }

    // Runs on the simulated clock.
    let run = |stem: &str, text: String, expect: Expect| {
        let mut case = Case::run(CLASS, &format!("{stem}.run.yaml"), text);
        case.expect = expect;
        case
    };
    cases.push(run("sleep_365d", sleeping("s", "365d"), Accept));
    cases.push(run("sleep_9000y", sleeping("s", "9000y"), Refuse));
    cases.push(run("sleep_u64_max_seconds", sleeping("s", U64_MAX), Refuse));
    cases.push(run(
        "sleep_365d_x10000_concurrently",
        steps("s", "  - id: nap\n    for_each: \"{{ range(10000) | list }}\"\n    concurrency: 1000\n    sleep: 365d\n"),
        Survive,
    ));
    cases.push(run(
        "poll_1ns_for_a_year",
        waiting("p", "wf-pause", "{min: 1ns, max: 1ns}", "365d"),
        Refuse,
    ));
    cases.push(run(
        "poll_min_for_a_year",
        waiting(
            "p",
            "wf-pause",
            &format!("{{min: {min_poll}ms, max: {min_poll}ms}}"),
            "365d",
        ),
        Survive,
    ));
    cases.push(run(
        "poll_min_for_10_minutes",
        waiting(
            "p",
            "wf-long",
            &format!("{{min: {min_poll}ms, max: {min_poll}ms}}"),
            "1h",
        ),
        Survive,
    ));
    cases.push(run(
        "retry_1000_times_1ns",
        retrying(
            "r",
            "{attempts: 1000, delay: 1ns, max_delay: 1ns, on: [any]}",
        ),
        Survive,
    ));
    cases.push(run(
        "run_timeout_1ns",
        runbook("t", "timeout: 1ns\nsteps:\n  - id: a\n    sleep: 1s\n"),
        Survive,
    ));
    // The command line's durations.
    let minimal = steps("m", "  - id: a\n    log: x\n");
    for (stem, args) in [
        ("flag_lease_9000y", &["--lease", "9000y"][..]),
        ("flag_grace_u64_max", &["--grace", U64_MAX][..]),
        ("flag_heartbeat_1ns", &["--heartbeat", "1ns"][..]),
        (
            "flag_request_timeout_u64_max",
            &["--request-timeout", U64_MAX][..],
        ),
        (
            "flag_reconcile_skew_u64_max",
            &["--reconcile-skew", U64_MAX][..],
        ),
        (
            "flag_fire_window_1ns",
            &["--fire-window", "1ns", "--state-dir", "@state"][..],
        ),
        (
            "flag_fire_window_u64_max",
            &["--fire-window", U64_MAX, "--state-dir", "@state"][..],
        ),
    ] {
        cases.push(Case::run(CLASS, &format!("{stem}.run.yaml"), minimal.clone()).args(args));
    }
    cases
}
