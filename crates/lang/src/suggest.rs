//! "Did you mean …?": the closest known name to an unknown one, at a bounded cost.
//!
//! Comparing two names costs the product of their lengths, and a runbook can hold thousands
//! of unknown names and thousands of candidates, so one validation has a budget of
//! comparison work; past it, diagnostics simply carry no suggestion.

use crate::limits::MAX_NAME_CHARS;

/// Character pairs compared in one validation, about a tenth of a second.
const WORK: usize = 20_000_000;

/// How many names a "declared: …" list shows.
const LISTED: usize = 20;

#[derive(Debug)]
pub(crate) struct Suggester {
    work_left: usize,
}

impl Default for Suggester {
    fn default() -> Self {
        Self { work_left: WORK }
    }
}

impl Suggester {
    /// The candidate most like `name` with a Jaro–Winkler similarity above `threshold`.
    pub fn closest<'c>(
        &mut self,
        name: &str,
        candidates: impl IntoIterator<Item = &'c str>,
        threshold: f64,
    ) -> Option<&'c str> {
        if name.len() > MAX_NAME_CHARS {
            return None;
        }
        let mut best: Option<(f64, &str)> = None;
        for candidate in candidates {
            if self.work_left == 0 {
                break;
            }
            self.work_left -= 1;
            // A name several characters longer or shorter is not a typo of this one.
            if candidate.len().abs_diff(name.len()) > 3 + name.len() / 4 {
                continue;
            }
            let work = name.len().max(1) * candidate.len().max(1);
            if work > self.work_left {
                self.work_left = 0;
                break;
            }
            self.work_left -= work;
            let score = strsim::jaro_winkler(name, candidate);
            if score > threshold && best.is_none_or(|(top, _)| score >= top) {
                best = Some((score, candidate));
            }
        }
        best.map(|(_, candidate)| candidate)
    }

    /// `did you mean `x`?` for the closest candidate, if one is close enough.
    pub fn did_you_mean<'c>(
        &mut self,
        name: &str,
        candidates: impl IntoIterator<Item = &'c str>,
    ) -> Option<String> {
        self.closest(name, candidates, 0.75)
            .map(|candidate| format!("did you mean `{candidate}`?"))
    }
}

/// Names for a help line: the first few, and how many more.
pub(crate) fn list_or_none(items: &[&str]) -> String {
    match items.len() {
        0 => "none".into(),
        n if n <= LISTED => items.join(", "),
        n => format!("{}, … and {} more", items[..LISTED].join(", "), n - LISTED),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typo_finds_its_name() {
        let mut suggester = Suggester::default();
        let known = ["deploy", "wait_for_deploy", "notify"];
        assert_eq!(suggester.closest("depoly", known, 0.75), Some("deploy"));
        assert_eq!(suggester.closest("zzz", known, 0.75), None);
    }

    #[test]
    fn the_work_is_bounded_however_many_names_there_are() {
        let mut suggester = Suggester::default();
        let known: Vec<String> = (0..10_000).map(|n| format!("step_number_{n:05}")).collect();
        for n in 0..10_000 {
            let typo = format!("step_numbr_{n:05}");
            let _ = suggester.closest(&typo, known.iter().map(String::as_str), 0.75);
        }
        assert_eq!(suggester.work_left, 0);
        let long = "a".repeat(70_000);
        assert_eq!(
            Suggester::default().closest(&long, [long.as_str()], 0.0),
            None
        );
    }
}
