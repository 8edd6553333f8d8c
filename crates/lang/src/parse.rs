//! From YAML text to a checked [`Runbook`], with every problem reported at once.
//!
//! The document is read as a YAML value first (a syntax error stops there), then the header
//! and each step are deserialised separately so that one bad step does not hide the others,
//! and finally the semantic checks run. Positions come from [`Locations`].

use serde::de::DeserializeOwned;
use serde_yaml::Value as Yaml;

use crate::check;
use crate::diagnostic::Diagnostic;
use crate::limits::{MAX_INPUTS, MAX_OUTPUTS, MAX_RUNBOOK_BYTES, MAX_STEPS};
use crate::locate::{Locations, Part, Path, Segment};
use crate::model::{Runbook, Step};
use crate::suggest::Suggester;

/// A runbook file's name and text, kept together so diagnostics can point into it.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub text: String,
}

impl Source {
    /// A leading byte order mark is dropped: editors on Windows write one, and YAML would
    /// read it as the start of a second document.
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        let mut text = text.into();
        if text.starts_with('\u{feff}') {
            text.drain(..'\u{feff}'.len_utf8());
        }
        Self {
            name: name.into(),
            text,
        }
    }

    /// Renders diagnostics for this source, one after the other.
    pub fn render(&self, diagnostics: &[Diagnostic]) -> String {
        diagnostics
            .iter()
            .map(|d| d.render(&self.text))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Where a diagnostic is raised: the source, its locations, and the sink.
pub(crate) struct Reporter<'a> {
    pub source: &'a Source,
    /// Indexed at the first diagnostic: a valid runbook never needs it, and indexing is a
    /// second pass over the whole document.
    locations: std::cell::OnceCell<Locations>,
    pub diagnostics: Vec<Diagnostic>,
    pub suggester: Suggester,
}

impl Reporter<'_> {
    pub fn locations(&self) -> &Locations {
        self.locations
            .get_or_init(|| Locations::index(&self.source.text))
    }

    pub fn error(
        &mut self,
        path: &Path,
        part: Part,
        message: impl Into<String>,
    ) -> &mut Diagnostic {
        let span = self.locations().span(path, part);
        let (line, column) = self
            .locations()
            .lines()
            .line_col(&self.source.text, span.start);
        self.diagnostics.push(Diagnostic::at_position(
            &self.source.name,
            span,
            (line, column),
            message,
        ));
        let last = self.diagnostics.len() - 1;
        &mut self.diagnostics[last]
    }

    pub fn warning(
        &mut self,
        path: &Path,
        part: Part,
        message: impl Into<String>,
    ) -> &mut Diagnostic {
        let diagnostic = self.error(path, part, message);
        diagnostic.severity = crate::diagnostic::Severity::Warning;
        diagnostic
    }
}

/// Parses and checks a runbook. On failure, every diagnostic found, in file order.
pub fn parse(source: &Source) -> Result<Runbook, Vec<Diagnostic>> {
    parse_with_warnings(source).map(|(runbook, _)| runbook)
}

/// Parses and checks a runbook; a runbook that has only warnings is returned with them. On
/// failure, every diagnostic found (warnings too), in file order.
pub fn parse_with_warnings(source: &Source) -> Result<(Runbook, Vec<Diagnostic>), Vec<Diagnostic>> {
    if source.text.len() > MAX_RUNBOOK_BYTES {
        let message = format!(
            "the runbook is {} KiB; at most {} KiB",
            source.text.len().div_ceil(1024),
            MAX_RUNBOOK_BYTES >> 10
        );
        return Err(vec![Diagnostic::at_line_col(
            &source.name,
            &source.text,
            1,
            1,
            message,
        )]);
    }
    let document: Yaml = match crate::yaml::from_str(&source.text) {
        Ok(document) => document,
        Err(error) => return Err(vec![yaml_error(source, &error)]),
    };
    let mut reporter = Reporter {
        source,
        locations: std::cell::OnceCell::new(),
        diagnostics: Vec::new(),
        suggester: Suggester::default(),
    };
    let secret_inputs = secret_inputs(&document);
    let runbook = read(&mut reporter, document);
    let secret_defaults = if reporter.diagnostics.is_empty() {
        Vec::new()
    } else {
        secret_defaults(reporter.locations(), &secret_inputs)
    };
    let mut diagnostics = reporter.diagnostics;
    for diagnostic in &mut diagnostics {
        diagnostic.concealed.clone_from(&secret_defaults);
    }
    diagnostics.sort_by_key(|d| (d.line, d.column));
    diagnostics.dedup();
    match runbook {
        Some(runbook) if !diagnostics.iter().any(Diagnostic::is_error) => {
            Ok((runbook, diagnostics))
        }
        _ => Err(diagnostics),
    }
}

/// The inputs marked `secret: true` that have a default, read from the document before
/// anything is deserialised, so even a broken input's secret default is never shown.
fn secret_inputs(document: &Yaml) -> Vec<String> {
    let Some(Yaml::Mapping(inputs)) = document.get("inputs") else {
        return Vec::new();
    };
    inputs
        .iter()
        .filter(|(_, spec)| spec.get("secret").and_then(Yaml::as_bool) == Some(true))
        .filter(|(_, spec)| spec.get("default").is_some())
        .filter_map(|(name, _)| name.as_str().map(str::to_owned))
        .collect()
}

/// Where those inputs' defaults are written.
fn secret_defaults(locations: &Locations, names: &[String]) -> Vec<std::ops::Range<usize>> {
    names
        .iter()
        .map(|name| {
            let path = Path::root().key("inputs").key(name.clone()).key("default");
            locations.span(&path, Part::Value)
        })
        .collect()
}

fn yaml_error(source: &Source, error: &crate::yaml::Error) -> Diagnostic {
    if error.message.contains("duplicate entry") {
        if let Some(diagnostic) = duplicate_key(source) {
            return diagnostic;
        }
    }
    if let Some((line, column)) = quote_opened_at(&error.message) {
        return Diagnostic::at_line_col(
            &source.name,
            &source.text,
            line,
            column,
            "invalid YAML: this quoted string is never closed",
        )
        .with_help("end it with the same quote; a quote inside it is doubled (`''`) in single quotes or escaped (`\\\"`) in double quotes");
    }
    let message = format!("invalid YAML: {}", strip_position(&error.message));
    let (line, column) = error.location.unwrap_or((1, 1));
    let mut diagnostic = Diagnostic::at_line_col(&source.name, &source.text, line, column, message);
    if let Some(tab_line) = indented_with_tab(&source.text, line) {
        diagnostic.help = Some(format!(
            "line {tab_line} is indented with a tab; YAML indents with spaces only"
        ));
    }
    diagnostic
}

/// A key written twice in one mapping, at its second occurrence: serde_yaml reports the
/// mapping, which may be long.
fn duplicate_key(source: &Source) -> Option<Diagnostic> {
    let locations = Locations::index(&source.text);
    let (path, first, second) = locations.duplicate_keys().into_iter().next()?;
    let key = match path.0.last()? {
        Segment::Key(key) => key.clone(),
        Segment::Index(_) => return None,
    };
    let lines = locations.lines();
    let (first_line, _) = lines.line_col(&source.text, first.start);
    let position = lines.line_col(&source.text, second.start);
    Some(
        Diagnostic::at_position(
            &source.name,
            second,
            position,
            format!("invalid YAML: duplicate key `{key}`"),
        )
        .with_help(format!(
            "`{key}` is already given on line {first_line}; a key appears once in a mapping"
        )),
    )
}

/// Where a quoted string that never ends was opened: the scanner reads on to the end of the
/// file and reports that, naming the opening only in passing.
fn quote_opened_at(message: &str) -> Option<(usize, usize)> {
    if !message.contains("end of stream") && !message.contains("document indicator") {
        return None;
    }
    let rest = message
        .split("while scanning a quoted scalar at line ")
        .nth(1)?;
    let (line, rest) = rest.split_once(" column ")?;
    let column: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some((line.parse().ok()?, column.parse().ok()?))
}

/// The first line up to `until` (1-based) whose indentation holds a tab.
fn indented_with_tab(text: &str, until: usize) -> Option<usize> {
    crate::locate::lines(text)
        .take(until)
        .position(|(line, _)| {
            text[line]
                .chars()
                .take_while(|c| c.is_whitespace())
                .any(|c| c == '\t')
        })
        .map(|index| index + 1)
}

/// serde_yaml puts the error's own position (" at line L column C") after its first clause;
/// the diagnostic says where already. A later position, as in ", while scanning a quoted
/// scalar at line 5 column 10", points at the cause and stays.
fn strip_position(message: &str) -> String {
    let mut from = 0;
    while let Some(found) = message[from..].find(" at line ") {
        let at = from + found;
        let tail = &message[at + " at line ".len()..];
        let line_len = tail.chars().take_while(char::is_ascii_digit).count();
        if let Some(rest) = tail[line_len..].strip_prefix(" column ") {
            let column_len = rest.chars().take_while(char::is_ascii_digit).count();
            if line_len > 0 && column_len > 0 {
                let end = at + " at line ".len() + line_len + " column ".len() + column_len;
                return format!("{}{}", &message[..at], &message[end..]);
            }
        }
        from = at + 1;
    }
    message.to_owned()
}

fn read(reporter: &mut Reporter<'_>, document: Yaml) -> Option<Runbook> {
    let root = Path::root();
    let mut mapping = match document {
        Yaml::Mapping(mapping) => mapping,
        Yaml::Null => {
            reporter
                .error(&root, Part::Value, "the runbook is empty")
                .help = Some("start with `version: 1`, a `name` and `steps`".into());
            return None;
        }
        _ => {
            reporter.error(
                &root,
                Part::Value,
                "a runbook is a mapping of keys (`version`, `name`, `steps`, …)",
            );
            return None;
        }
    };
    let steps_value = mapping.remove("steps");
    let count = |value: Option<&Yaml>| value.and_then(Yaml::as_sequence).map_or(0, Vec::len);
    let step_count = count(steps_value.as_ref()) + count(mapping.get("finally"));
    let entries = |key: &str| {
        mapping
            .get(key)
            .and_then(Yaml::as_mapping)
            .map_or(0, |m| m.len())
    };
    let counts = [
        ("steps", step_count, MAX_STEPS, "steps (with `finally`)"),
        ("inputs", entries("inputs"), MAX_INPUTS, "inputs"),
        ("outputs", entries("outputs"), MAX_OUTPUTS, "outputs"),
    ];
    let mut too_many = false;
    for (key, count, max, what) in counts {
        if count > max {
            reporter.error(
                &root.key(key),
                Part::Key,
                format!("{count} {what}; at most {max}"),
            );
            too_many = true;
        }
    }
    if too_many {
        return None;
    }
    mapping.insert("steps".into(), Yaml::Sequence(Vec::new()));
    let finally_value = mapping.remove("finally");
    // Each input and the target are read on their own too, so that one mistake in the
    // header does not hide the others.
    let inputs = mapping.remove("inputs");
    let target = mapping.remove("target");
    let mut header_ok = true;
    let mut input_specs = indexmap::IndexMap::new();
    match inputs {
        Some(Yaml::Mapping(entries)) => {
            for (name, spec) in entries {
                let Some(name) = name.as_str().map(str::to_owned) else {
                    reporter.error(&root.key("inputs"), Part::Key, "input names are strings");
                    header_ok = false;
                    continue;
                };
                match deserialize(reporter, &root.key("inputs").key(name.clone()), &spec) {
                    Some(spec) => {
                        input_specs.insert(name, spec);
                    }
                    None => header_ok = false,
                }
            }
        }
        Some(Yaml::Null) | None => {}
        Some(_) => {
            reporter.error(
                &root.key("inputs"),
                Part::Value,
                "`inputs` is a mapping of input names to their specs",
            );
            header_ok = false;
        }
    }
    let target = match target {
        Some(target) => deserialize(reporter, &root.key("target"), &target),
        None => Some(Default::default()),
    };
    header_ok &= target.is_some();
    // A header read without a mistaken key is checked in full unless that key is one the
    // steps' checks rely on (a missing `timeout` would make every wait "unbounded").
    let mut header_complete = header_ok;
    let header = match deserialize_around_mistakes::<Runbook>(
        reporter,
        &root,
        &Yaml::Mapping(mapping),
    ) {
        Some((header, taken_out)) => {
            header_ok &= taken_out.is_empty();
            header_complete &= !taken_out.iter().any(|path| {
                    matches!(path.first(), Some(Segment::Key(key)) if RELIED_ON.contains(&key.as_str()))
                });
            Some(header)
        }
        None => None,
    };

    let (steps, mut unparsed, steps_ok) = read_steps(reporter, &root.key("steps"), steps_value);
    let (finally, finally_unparsed, finally_ok) = match finally_value {
        Some(Yaml::Null) | None => (Vec::new(), Vec::new(), true),
        value => read_steps(reporter, &root.key("finally"), value),
    };
    unparsed.extend(finally_unparsed.iter().map(|index| index + steps.len()));
    // What parsed is still checked, so one run of `validate` shows as much as possible: the
    // steps that did not parse stand in as outlines (their id and the variables they set).
    let mut runbook = header?;
    runbook.inputs = input_specs;
    runbook.target = target.unwrap_or_default();
    runbook.steps = steps;
    runbook.finally = finally;
    if !header_complete {
        check::check_partial(reporter, &runbook);
        return None;
    }
    check::check(reporter, &runbook, &unparsed);
    (header_ok && steps_ok && finally_ok && unparsed.is_empty()).then_some(runbook)
}

/// Header keys whose value the checks of steps read.
const RELIED_ON: [&str; 6] = [
    "version",
    "env",
    "timeout",
    "finally_timeout",
    "lock",
    "outputs",
];

/// What can be read of a step that did not parse, so that the steps around it are checked
/// as if it were there.
fn outline(item: &Yaml) -> Step {
    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct Outline {
        id: Option<String>,
        set: Option<indexmap::IndexMap<String, serde_json::Value>>,
    }
    let outline = <Outline as serde::Deserialize>::deserialize(item).unwrap_or_default();
    Step {
        id: outline.id.unwrap_or_default(),
        set: outline.set.map(|set| {
            set.into_keys()
                .map(|name| (name, serde_json::Value::Null))
                .collect()
        }),
        ..Step::default()
    }
}

/// Reads a list of steps (`steps` or `finally`), each step on its own so one mistake does not
/// hide the next. A step that does not parse is given as its [`outline`], and its index
/// listed; the flag says whether the list itself is sound.
fn read_steps(
    reporter: &mut Reporter<'_>,
    steps_path: &Path,
    value: Option<Yaml>,
) -> (Vec<Step>, Vec<usize>, bool) {
    let mut steps = Vec::new();
    let mut unparsed = Vec::new();
    let mut steps_ok = true;
    let name = match steps_path.0.last() {
        Some(Segment::Key(name)) => name.clone(),
        _ => "steps".to_owned(),
    };
    match value {
        None => {
            reporter
                .error(&Path::root(), Part::Value, "missing `steps`")
                .help = Some("a runbook needs at least one step".into());
            steps_ok = false;
        }
        Some(Yaml::Sequence(items)) => {
            if items.is_empty() {
                reporter.error(
                    steps_path,
                    Part::Key,
                    format!("`{name}` is empty; a runbook needs at least one step"),
                );
                steps_ok = false;
            }
            for (index, item) in items.into_iter().enumerate() {
                let path = steps_path.index(index);
                if !matches!(item, Yaml::Mapping(_)) {
                    reporter.error(
                        &path,
                        Part::Value,
                        "a step is a mapping with an `id` and one action",
                    );
                    unparsed.push(index);
                    steps.push(Step::default());
                    continue;
                }
                if let Yaml::Mapping(entries) = &item {
                    let empty: Vec<&str> = entries
                        .iter()
                        .filter(|(_, value)| value.is_null())
                        .filter_map(|(key, _)| key.as_str())
                        .filter(|key| crate::model::ACTION_KEYS.contains(key))
                        .collect();
                    for key in &empty {
                        reporter
                            .error(&path.key(*key), Part::Key, format!("`{key}` has no value"))
                            .help = Some(
                            "give the action its fields, e.g. `aom.start: {workflow_id: ...}`"
                                .into(),
                        );
                    }
                    if !empty.is_empty() {
                        unparsed.push(index);
                        steps.push(outline(&item));
                        continue;
                    }
                }
                match deserialize::<Step>(reporter, &path, &item) {
                    Some(step) => steps.push(step),
                    None => {
                        unparsed.push(index);
                        steps.push(outline(&item));
                    }
                }
            }
        }
        Some(_) => {
            reporter.error(
                steps_path,
                Part::Value,
                format!("`{name}` is a list of steps"),
            );
            steps_ok = false;
        }
    }
    (steps, unparsed, steps_ok)
}

/// Deserialises one value, reporting every mistake in it rather than the first: after each
/// error the offending node is taken out of a copy of the value and the rest is read again,
/// at most [`MAX_ERRORS_PER_VALUE`] times. A mistake that leaves nothing to take out (a
/// missing key, a value wrong as a whole) ends the search.
fn deserialize<T: DeserializeOwned>(
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
fn deserialize_around_mistakes<T: DeserializeOwned>(
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
