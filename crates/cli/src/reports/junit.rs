//! The JUnit report: one test suite for the run, one test case per step (a `finally` step
//! too). A step that succeeded passes, one skipped or never reached is skipped, and one that
//! failed, timed out or was cancelled fails with its error. CI systems show it like tests.

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use runbook_runner::StepStatus;

use super::{took, Finished};

pub fn render(finished: &Finished) -> Result<String, quick_junit::SerializeError> {
    let run = &finished.run;
    let mut suite = TestSuite::new(run.runbook.as_str());
    suite.add_property(("run_id", run.run_id.as_str()));
    suite.add_property(("status", run.status.name()));
    if let Some(code) = finished.exit_code {
        suite.add_property(("exit_code", code.to_string().as_str()));
    }
    for (id, step) in &run.steps {
        let mut status = match step.status {
            StepStatus::Succeeded => TestCaseStatus::success(),
            StepStatus::Skipped | StepStatus::Pending | StepStatus::Running => {
                TestCaseStatus::skipped()
            }
            StepStatus::Failed | StepStatus::TimedOut | StepStatus::Cancelled => {
                TestCaseStatus::non_success(NonSuccessKind::Failure)
            }
        };
        match (step.status, &step.error) {
            (StepStatus::Pending, _) => {
                status.set_message("not reached");
            }
            (_, Some(error)) => {
                status.set_message(error.as_str());
                status.set_type(step.status.name());
            }
            (StepStatus::Skipped, None) => {
                status.set_message("`when` was false");
            }
            _ => {}
        }
        let mut case = TestCase::new(id.as_str(), status);
        case.set_classname(run.runbook.as_str());
        if let Some(time) = took(step.started_at.as_deref(), step.finished_at.as_deref()) {
            case.set_time(time);
        }
        suite.add_test_case(case);
    }
    let mut report = Report::new("runbook");
    report.add_test_suite(suite);
    report.to_string()
}
