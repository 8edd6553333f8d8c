//! From YAML text to a checked [`Runbook`], with every problem reported at once.
//!
//! The document is read as a YAML value first (a syntax error stops there), then the header
//! and each step are deserialised separately so that one bad step does not hide the others,
//! and finally the semantic checks run. Positions come from [`Locations`].

use serde_yaml::Value as Yaml;

use crate::check;
use crate::diagnostic::Diagnostic;
use crate::limits::{MAX_INPUTS, MAX_OUTPUTS, MAX_RUNBOOK_BYTES, MAX_STEPS};
use crate::locate::{Locations, Part, Path, Segment};
use crate::model::{Runbook, Step};
use crate::suggest::Suggester;

mod recover;
mod sub;
mod yaml_errors;

pub(crate) use sub::steps_counted;
use sub::Resolver;
pub use sub::{InMemory, Loaded, Loader};

use recover::{deserialize, deserialize_around_mistakes};
use yaml_errors::yaml_error;

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
            .map(|d| d.render(d.text.as_deref().unwrap_or(&self.text)))
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
/// failure, every diagnostic found (warnings too), in file order. A `runbook:` step is an
/// error here: only [`parse_with_loader`] can read the files they name.
pub fn parse_with_warnings(source: &Source) -> Result<(Runbook, Vec<Diagnostic>), Vec<Diagnostic>> {
    parse_root(source, &source.name, &sub::NoFiles)
}

/// As [`parse_with_warnings`], reading the sub-runbooks its `runbook:` steps name through
/// `loader`: each is parsed and checked, and put in its step ([`crate::SubRunbook::loaded`]).
/// The runbook's own diagnostics come first, in file order, then each sub-runbook's.
pub fn parse_with_loader(
    root: &Loaded,
    loader: &dyn Loader,
) -> Result<(Runbook, Vec<Diagnostic>), Vec<Diagnostic>> {
    parse_root(&root.source, &root.identity, loader)
}

fn parse_root(
    source: &Source,
    identity: &str,
    loader: &dyn Loader,
) -> Result<(Runbook, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut resolver = Resolver::new(loader, identity.to_owned(), source.name.clone());
    let parsed = parse_nested(source, &mut resolver);
    let children = std::mem::take(&mut resolver.diagnostics);
    match parsed {
        Ok((runbook, _, mut warnings)) => {
            warnings.extend(children);
            Ok((runbook, warnings))
        }
        Err(mut diagnostics) => {
            diagnostics.extend(children);
            Err(diagnostics)
        }
    }
}

/// One file of a parse: its runbook, the levels of sub-runbooks below it, and its warnings.
type Nested = (Runbook, usize, Vec<Diagnostic>);

fn parse_nested(source: &Source, resolver: &mut Resolver<'_>) -> Result<Nested, Vec<Diagnostic>> {
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
    let runbook = read(&mut reporter, document, resolver);
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
        Some((runbook, height)) if !diagnostics.iter().any(Diagnostic::is_error) => {
            Ok((runbook, height, diagnostics))
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

/// The runbook, and the levels of sub-runbooks below it.
fn read(
    reporter: &mut Reporter<'_>,
    document: Yaml,
    resolver: &mut Resolver<'_>,
) -> Option<(Runbook, usize)> {
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
    let height = resolver
        .resolve(reporter, &mut runbook.steps, &root.key("steps"))
        .max(resolver.resolve(reporter, &mut runbook.finally, &root.key("finally")));
    check::check(reporter, &runbook, &unparsed);
    (header_ok && steps_ok && finally_ok && unparsed.is_empty()).then_some((runbook, height))
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
            // A step is large: growing the list by doubling would copy each several times.
            steps.reserve_exact(items.len().min(MAX_STEPS));
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
