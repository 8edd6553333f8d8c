//! Test files (`*.test.yaml`): what they hold, read within the YAML limits, with the place of
//! every expectation so a failed one is reported at its `line:col`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use runbook_lang::locate::{Locations, Part, Path as YamlPath};
use runbook_runner::{RunStatus, StepStatus};
use serde::Deserialize;
use serde_json::{Map, Value};

/// The suffixes that make a YAML file a test file.
pub const SUFFIXES: [&str; 2] = [".test.yaml", ".test.yml"];

/// Whether `path` names a test file (which `runbook run` refuses).
pub fn is_test_file(path: &Path) -> bool {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    SUFFIXES.iter().any(|suffix| name.ends_with(suffix))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestFile {
    /// What the test shows, in one line.
    pub test: String,
    /// The runbook under test, relative to the test file.
    pub runbook: PathBuf,
    /// The run's inputs, typed as in an inputs file.
    #[serde(default)]
    pub inputs: Map<String, Value>,
    /// The sandbox's scenario: a file relative to the test file, or written here; the
    /// built-in scenario when absent.
    #[serde(default)]
    pub scenario: Option<ScenarioSource>,
    /// The sandbox's seed (ids, faults).
    #[serde(default = "default_seed")]
    pub seed: u64,
    pub expect: Expect,
}

fn default_seed() -> u64 {
    1
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum ScenarioSource {
    File(PathBuf),
    Inline(serde_yaml::Value),
}

/// What the run must come to. Every part is optional; a test with none only runs.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub status: Option<RunStatus>,
    pub exit_code: Option<u8>,
    /// The status of each step named.
    #[serde(default)]
    pub steps: IndexMap<String, StepStatus>,
    /// Run outputs that must be present with these values (others may be too).
    #[serde(default)]
    pub outputs: Map<String, Value>,
    /// How many requests each operation named received (by operation id; 0 means none).
    #[serde(default)]
    pub calls: BTreeMap<String, u64>,
    /// Requests the sandbox must have received in this order (others may come between),
    /// each with at least the parameters given.
    #[serde(default)]
    pub requests: Vec<ExpectedRequest>,
    /// Step results that must hold at least the values given (others may be there too).
    #[serde(default)]
    pub results: IndexMap<String, Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedRequest {
    /// The operation id.
    pub operation: String,
    /// Parameters as a `call` step writes them (`workflow_id`, `body`, …).
    #[serde(default)]
    pub params: Map<String, Value>,
}

/// A test file as read: its text (for locations), its path, what it says, and its scenario
/// (checked, scripted answers included).
pub struct Loaded {
    pub path: PathBuf,
    pub text: String,
    pub file: TestFile,
    pub scenario: hwc_sandbox::Scenario,
    locations: Locations,
}

impl Loaded {
    /// Reads and parses `path`; the error is a `file:line:col: message` line.
    pub fn read(path: &Path) -> Result<Self, String> {
        let text = crate::files::read_text(path, &crate::files::TEST)?;
        let at = |location: Option<(usize, usize)>| match location {
            Some((line, col)) => format!("{}:{line}:{col}", path.display()),
            None => path.display().to_string(),
        };
        // Within the YAML limits first (an alias bomb is refused by what it expands to), then
        // typed straight from the text, whose errors know their place.
        runbook_lang::yaml::from_str(&text)
            .map_err(|error| format!("{}: {}", at(error.location), error.message))?;
        let file: TestFile = serde_yaml::from_str(&text).map_err(|error| {
            let location = error.location().map(|l| (l.line(), l.column()));
            format!("{}: not a test file: {error}", at(location))
        })?;
        let locations = Locations::index(&text);
        let mut loaded = Self {
            path: path.to_owned(),
            text,
            file,
            scenario: hwc_sandbox::Scenario::default_scenario(),
            locations,
        };
        loaded.scenario = loaded.read_scenario()?;
        Ok(loaded)
    }

    /// The scenario the test names, written in it, or the built-in one; a problem is located
    /// in the file it is written in.
    fn read_scenario(&self) -> Result<hwc_sandbox::Scenario, String> {
        match &self.file.scenario {
            None => Ok(hwc_sandbox::Scenario::default_scenario()),
            Some(ScenarioSource::File(relative)) => {
                let path = self.beside(relative);
                let text = crate::files::read_text(&path, &crate::files::SCENARIO)?;
                hwc_sandbox::Scenario::parse(&path.display().to_string(), &text).map_err(|error| {
                    if error.path.is_empty() {
                        return error.to_string();
                    }
                    let locations = Locations::index(&text);
                    let at = place(&locations, &text, &yaml_path(&[], &error.path));
                    format!("{}:{at}: {}", path.display(), error.message)
                })
            }
            Some(ScenarioSource::Inline(value)) => {
                let text = serde_yaml::to_string(value).map_err(|e| e.to_string())?;
                hwc_sandbox::Scenario::parse("scenario", &text).map_err(|error| {
                    // The scenario was read back from this file's YAML: its own line
                    // numbers mean nothing here, its path does.
                    format!(
                        "{}: scenario: {}",
                        self.at_path(&yaml_path(&["scenario"], &error.path)),
                        error.message
                    )
                })
            }
        }
    }

    /// `file:line:col` of the value at `keys` (`["expect", "steps", "deploy"]`).
    pub fn at(&self, keys: &[&str]) -> String {
        self.at_path(&yaml_path(keys, &[]))
    }

    /// `file:line:col` of item `index` of the list at `keys`.
    pub fn at_item(&self, keys: &[&str], index: usize) -> String {
        self.at_path(&yaml_path(keys, &[]).index(index))
    }

    fn at_path(&self, path: &YamlPath) -> String {
        let at = place(&self.locations, &self.text, path);
        format!("{}:{at}", self.path.display())
    }

    /// A path named in the file, relative to the file's directory.
    pub fn beside(&self, relative: &Path) -> PathBuf {
        self.path
            .parent()
            .unwrap_or_else(|| Path::new("."))
            .join(relative)
    }
}

/// `keys`, then the sandbox's segments, as a path into the YAML.
fn yaml_path(keys: &[&str], segments: &[hwc_sandbox::script::Segment]) -> YamlPath {
    let path = keys
        .iter()
        .fold(YamlPath::root(), |path, key| path.key(*key));
    segments.iter().fold(path, |path, segment| match segment {
        hwc_sandbox::script::Segment::Key(key) => path.key(key.as_str()),
        hwc_sandbox::script::Segment::Index(index) => path.index(*index),
    })
}

/// `line:col` of `path`'s value in `text` (or of its nearest located ancestor).
fn place(locations: &Locations, text: &str, path: &YamlPath) -> String {
    let span = locations.span(path, Part::Value);
    let (line, col) = locations.lines().line_col(text, span.start);
    format!("{line}:{col}")
}
