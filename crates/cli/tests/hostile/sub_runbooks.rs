//! Sub-runbooks: chains around `MAX_SUB_RUNBOOK_DEPTH`, a small tree of files whose steps
//! multiply into millions, a cycle, more files than `MAX_SUB_RUNBOOK_FILES`, a child that is
//! a device, and one large child run by thousands of steps. Each is refused (or, at the
//! limit, accepted) in well under a second, reading each file once.

use runbook_lang::limits::{MAX_SUB_RUNBOOK_DEPTH, MAX_SUB_RUNBOOK_FILES};

use super::{both, steps, Case, Expect};

const CLASS: &str = "sub_runbooks";

fn calling(name: &str, child: &str, times: usize) -> String {
    let body: String = (0..times)
        .map(|n| format!("  - id: call_{n}\n    runbook: {{path: {child}}}\n"))
        .collect();
    steps(name, &body)
}

/// `levels` files below the case's own, each run once by the one above.
fn chain(mut case: Case, levels: usize) -> Case {
    for level in 1..=levels {
        let text = if level == levels {
            steps("leaf", "  - id: leaf\n    log: leaf\n")
        } else {
            calling("link", &format!("level_{}.yaml", level + 1), 1)
        };
        case = case.file(&format!("level_{level}.yaml"), text);
    }
    case
}

pub fn cases() -> Vec<Case> {
    use Expect::{Accept, Refuse};
    let mut cases = Vec::new();
    for (levels, expect) in [
        (MAX_SUB_RUNBOOK_DEPTH, Accept),
        (MAX_SUB_RUNBOOK_DEPTH + 1, Refuse),
        (60, Refuse),
    ] {
        let root = calling("root", "level_1.yaml", 1);
        for mut case in both(CLASS, &format!("chain_{levels}"), root, expect) {
            case = chain(case, levels);
            cases.push(case);
        }
    }
    // Seven levels of ten steps that each run the level below: millions of steps counted.
    let root = calling("root", "level_1.yaml", 10);
    for mut case in both(CLASS, "fan_10_per_level", root, Refuse) {
        for level in 1..=MAX_SUB_RUNBOOK_DEPTH - 1 {
            let next = format!("level_{}.yaml", level + 1);
            let text = if level == MAX_SUB_RUNBOOK_DEPTH - 1 {
                steps("leaf", "  - id: leaf\n    log: leaf\n")
            } else {
                calling("fan", &next, 10)
            };
            case = case.file(&format!("level_{level}.yaml"), text);
        }
        cases.push(case);
    }
    let cycle = calling("a", "b.yaml", 1);
    for case in both(CLASS, "cycle", cycle, Refuse) {
        cases.push(case.file("b.yaml", calling("b", "cycle.yaml", 1)));
    }
    let files = MAX_SUB_RUNBOOK_FILES + 1;
    let body: String = (0..files)
        .map(|n| format!("  - id: call_{n}\n    runbook: {{path: child_{n}.yaml}}\n"))
        .collect();
    let mut many = Case::validate(CLASS, "files_over_limit.yaml", steps("many", &body)).refuse();
    for n in 0..files {
        many = many.file(
            &format!("child_{n}.yaml"),
            steps("child", "  - id: hi\n    log: hi\n"),
        );
    }
    cases.push(many);
    // Three thousand steps running one child of nearly 2 MB: read once, not three thousand
    // times; refused for the steps they count.
    let big = super::lazy(|| {
        let body: String = (0..8000)
            .map(|n| format!("  - id: s{n}\n    log: {}\n", "x".repeat(200)))
            .collect();
        steps("big", &body)
    });
    cases.push(
        Case::validate(
            CLASS,
            "large_child_3000_times.yaml",
            calling("root", "big.yaml", 3000),
        )
        .file("big.yaml", big)
        .refuse(),
    );
    cases.push(
        Case::validate(
            CLASS,
            "device_child.yaml",
            calling("device", "/dev/zero", 1),
        )
        .refuse(),
    );
    cases
}
