//! Reading a value through serde and reporting every mistake in it, not only the first.

use serde::de::DeserializeOwned;
use serde_yaml::Value as Yaml;

use super::yaml_errors::strip_position;
use super::Reporter;
use crate::locate::{Part, Path, Segment};
use crate::suggest::Suggester;

/// Deserialises one value, reporting every mistake in it rather than the first: after each
/// error the offending node is taken out of a copy of the value and the rest is read again,
/// at most [`MAX_ERRORS_PER_VALUE`] times. A mistake that leaves nothing to take out (a
/// missing key, a value wrong as a whole) ends the search.
pub(super) fn deserialize<T: DeserializeOwned>(
    reporter: &mut Reporter<'_>,
    at: &Path,
    value: &Yaml,
) -> Option<T> {
    match deserialize_around_mistakes(reporter, at, value) {
        Some((parsed, taken_out)) if taken_out.is_empty() => Some(parsed),
        _ => None,
    }
}

/// [`deserialize`], also giving what was read once every mistake was taken out, and the
/// paths (below `at`) of what was: the header is still checked for what it got right.
pub(super) fn deserialize_around_mistakes<T: DeserializeOwned>(
    reporter: &mut Reporter<'_>,
    at: &Path,
    value: &Yaml,
) -> Option<(T, Vec<Vec<Segment>>)> {
    // Copied at the first mistake: a value without one is read in place.
    let mut value = std::borrow::Cow::Borrowed(value);
    let mut removed: Vec<Removal> = Vec::new();
    for _ in 0..MAX_ERRORS_PER_VALUE {
        let error = match serde_path_to_error::deserialize::<_, T>(value.as_ref()) {
            // With a list item taken out, the later items' positions no longer match the
            // document, so what was read cannot be checked further.
            Ok(_) if removed.iter().any(Removal::shifts_a_list) => return None,
            Ok(parsed) => {
                let taken_out = removed.into_iter().map(|r| r.original).collect();
                return Some((parsed, taken_out));
            }
            Err(error) => error,
        };
        let mut relative = Vec::new();
        for segment in error.path().iter() {
            match segment {
                serde_path_to_error::Segment::Seq { index } => {
                    relative.push(Segment::Index(*index))
                }
                serde_path_to_error::Segment::Map { key } => {
                    relative.push(Segment::Key(key.clone()))
                }
                serde_path_to_error::Segment::Enum { .. }
                | serde_path_to_error::Segment::Unknown => {}
            }
        }
        let message = error.inner().to_string();
        if let Some(field) = missing_field(&message) {
            // A key taken out after its own error, or one an unknown key was taken for
            // ("did you mean"), is not reported missing a second time.
            let mut taken = relative.clone();
            taken.push(Segment::Key(field.to_owned()));
            let taken = Removal::to_original(&removed, taken);
            if removed
                .iter()
                .any(|r| r.original == taken || r.meant.as_ref() == Some(&taken))
            {
                return None;
            }
        }
        let mut path = at.clone();
        path.0
            .extend(Removal::to_original(&removed, relative.clone()));
        let (culprit, meant) = report_serde_error(reporter, path, &message)?;
        // The culprit in the copy's own coordinates: the reported path ends like `relative`.
        let extra = culprit.0.len().checked_sub(at.0.len() + relative.len());
        let mut current = relative;
        if let (Some(1), Some(last)) = (extra, culprit.0.last()) {
            current.push(last.clone());
        }
        if current.is_empty() || !take_out(value.to_mut(), &current) {
            return None;
        }
        let original = Removal::to_original(&removed, current.clone());
        let meant = meant.map(|key| {
            let mut meant = original[..original.len() - 1].to_vec();
            meant.push(Segment::Key(key));
            meant
        });
        removed.push(Removal {
            path: current,
            original,
            meant,
        });
    }
    None
}

/// Mistakes reported in one step (or header, or input) before the rest of it is left alone.
const MAX_ERRORS_PER_VALUE: usize = 16;

/// A node taken out of the copy being read again, by its path in the copy at that moment
/// and in the document.
struct Removal {
    path: Vec<Segment>,
    original: Vec<Segment>,
    /// For an unknown key with a "did you mean", the key it was probably meant as.
    meant: Option<Vec<Segment>>,
}

impl Removal {
    fn shifts_a_list(&self) -> bool {
        matches!(self.path.last(), Some(Segment::Index(_)))
    }

    /// `path` (in the copy after this removal) as it was before it: an index at or after a
    /// removed element of the same list moves one up.
    fn original_of(&self, path: &[Segment]) -> Vec<Segment> {
        let mut path = path.to_vec();
        if let Some((Segment::Index(gone), parent)) = self.path.split_last() {
            if path.len() > parent.len() && path.starts_with(parent) {
                if let Segment::Index(index) = &mut path[parent.len()] {
                    if *index >= *gone {
                        *index += 1;
                    }
                }
            }
        }
        path
    }

    /// A path in the latest copy as it is in the document, undoing every removal, the last
    /// one first.
    fn to_original(removed: &[Removal], path: Vec<Segment>) -> Vec<Segment> {
        removed
            .iter()
            .rev()
            .fold(path, |path, removal| removal.original_of(&path))
    }
}

/// Takes the node at `path` out of `value`; says whether there was one.
fn take_out(value: &mut Yaml, path: &[Segment]) -> bool {
    let Some((last, parents)) = path.split_last() else {
        return false;
    };
    let mut node = value;
    for segment in parents {
        let next = match (segment, node) {
            (Segment::Key(key), Yaml::Mapping(map)) => map.get_mut(key.as_str()),
            (Segment::Index(index), Yaml::Sequence(items)) => items.get_mut(*index),
            _ => None,
        };
        match next {
            Some(next) => node = next,
            None => return false,
        }
    }
    match (last, node) {
        (Segment::Key(key), Yaml::Mapping(map)) => map.remove(key.as_str()).is_some(),
        (Segment::Index(index), Yaml::Sequence(items)) if *index < items.len() => {
            items.remove(*index);
            true
        }
        _ => false,
    }
}

fn missing_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("missing field `")?;
    rest.split('`').next()
}

/// Reports one serde error; returns the path of the node at fault (and, for an unknown key,
/// the key it was probably meant as), or `None` when the fault is something absent.
fn report_serde_error(
    reporter: &mut Reporter<'_>,
    path: Path,
    message: &str,
) -> Option<(Path, Option<String>)> {
    let message = strip_position(message);
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (field, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let expected: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        // serde_path_to_error already names the unknown key as the last segment.
        let (at, parent) = match path.0.last() {
            Some(Segment::Key(last)) if last == field => {
                let mut parent = path.clone();
                parent.0.pop();
                (path, parent)
            }
            _ => (path.key(field), path),
        };
        let (help, meant) = suggestion(&mut reporter.suggester, field, &expected, &parent);
        let diagnostic = reporter.error(&at, Part::Key, format!("unknown key `{field}`"));
        diagnostic.help = help;
        return Some((at, meant));
    }
    if let Some(field) = missing_field(&message) {
        reporter.error(&path, Part::Key, format!("missing `{field}`"));
        return None;
    }
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        let (variant, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let expected: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        let diagnostic = reporter.error(&path, Part::Value, format!("unknown value `{variant}`"));
        diagnostic.help = Some(format!("expected one of: {}", expected.join(", ")));
        return Some((path, None));
    }
    reporter.error(&path, Part::Value, plain_types(&message));
    Some((path, None))
}

/// serde names Rust types (`u32`, `struct AomStart`); say what to write instead.
fn plain_types(message: &str) -> String {
    let replacements = [
        (
            r"expected (u8|u16|u32|u64|usize)\b",
            "expected a whole number (0 or more)",
        ),
        (r"expected (i32|i64)\b", "expected a whole number"),
        (r"expected (f32|f64)\b", "expected a number"),
        (r"expected struct \w+", "expected a mapping"),
        (r"expected enum \w+", "expected one of the listed values"),
        (r"expected a string", "expected text"),
    ];
    let mut text = message.to_owned();
    for (pattern, plain) in replacements {
        if let Ok(re) = regex::Regex::new(pattern) {
            text = re.replace_all(&text, plain).into_owned();
        }
    }
    text
}

/// The help for an unknown key, and the known key it is probably a misspelling of.
fn suggestion(
    suggester: &mut Suggester,
    field: &str,
    expected: &[&str],
    path: &Path,
) -> (Option<String>, Option<String>) {
    let in_target = path.0.last() == Some(&Segment::Key("target".into()));
    if in_target
        && [
            "ak",
            "sk",
            "access_key",
            "secret_key",
            "token",
            "password",
            "security_token",
        ]
        .contains(&field)
    {
        return (Some("credentials never go in a runbook: set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK in the environment".into()), None);
    }
    match suggester.closest(field, expected.iter().copied(), 0.8) {
        Some(candidate) => (
            Some(format!("did you mean `{candidate}`?")),
            Some(candidate.to_owned()),
        ),
        None if expected.is_empty() => (None, None),
        None => (
            Some(format!("expected one of: {}", expected.join(", "))),
            None,
        ),
    }
}
