//! The hostile corpus: every case, built by the generators of each class. Big files are
//! generated when a case runs (`Content::Lazy`), never held all at once or committed.

use std::sync::Arc;

pub mod controls;
pub mod durations;
pub mod encoding;
pub mod escapes;
pub mod files;
pub mod flow;
pub mod inputs;
pub mod names;
pub mod render;
pub mod sub_runbooks;
pub mod templates;
pub mod yaml;

/// What a case writes into its directory before it runs.
#[derive(Clone)]
pub enum Content {
    Bytes(Arc<Vec<u8>>),
    /// Generated when the case runs (the 20 MB files).
    Lazy(Arc<dyn Fn() -> Vec<u8> + Send + Sync>),
    Dir,
    /// A symbolic link to this target.
    Symlink(String),
}

impl From<String> for Content {
    fn from(text: String) -> Self {
        Content::Bytes(Arc::new(text.into_bytes()))
    }
}

impl From<&str> for Content {
    fn from(text: &str) -> Self {
        Content::Bytes(Arc::new(text.as_bytes().to_vec()))
    }
}

impl From<Vec<u8>> for Content {
    fn from(bytes: Vec<u8>) -> Self {
        Content::Bytes(Arc::new(bytes))
    }
}

/// Content generated when the case runs.
pub fn lazy(make: impl Fn() -> String + Send + Sync + 'static) -> Content {
    Content::Lazy(Arc::new(move || make().into_bytes()))
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    /// `runbook validate PATH ARGS…`
    Validate,
    /// `runbook run PATH --sandbox --log-format plain ARGS…` (in-process sandbox, simulated
    /// time).
    Run,
}

/// What the exit code must be, besides "no crash, in time, in memory".
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Expect {
    /// Exit 0: a control, or a runbook at (not over) a limit.
    Accept,
    /// Not exit 0: over a limit `validate` can see.
    Refuse,
    /// Any exit code but a crash (a run that ends with 1 or 2 is a clear refusal).
    Survive,
}

pub struct Case {
    /// The directory the case is written under with `RUNBOOK_HOSTILE_CORPUS_OUT`.
    pub class: &'static str,
    /// The runbook's file name; unique in the corpus.
    pub name: String,
    pub mode: Mode,
    /// Written into the case's directory, in order.
    pub files: Vec<(String, Content)>,
    /// The path given to the command: a name in the case's directory, or absolute.
    pub path: String,
    /// More arguments; `@NAME` is NAME in the case's directory.
    pub args: Vec<String>,
    pub expect: Expect,
    /// Whether a failing `validate` must say `PATH:LINE:COL` (not for a path that is a
    /// directory or a device).
    pub located: bool,
}

impl Case {
    fn new(mode: Mode, class: &'static str, name: &str, content: impl Into<Content>) -> Self {
        Self {
            class,
            name: name.to_owned(),
            mode,
            files: vec![(name.to_owned(), content.into())],
            path: name.to_owned(),
            args: Vec::new(),
            expect: Expect::Survive,
            located: true,
        }
    }

    pub fn validate(class: &'static str, name: &str, content: impl Into<Content>) -> Self {
        Self::new(Mode::Validate, class, name, content)
    }

    pub fn run(class: &'static str, name: &str, content: impl Into<Content>) -> Self {
        Self::new(Mode::Run, class, name, content)
    }

    /// A case whose path is not a file it writes (a device, a directory it adds itself).
    pub fn at(mode: Mode, class: &'static str, name: &str, path: &str) -> Self {
        Self {
            class,
            name: name.to_owned(),
            mode,
            files: Vec::new(),
            path: path.to_owned(),
            args: Vec::new(),
            expect: Expect::Survive,
            located: false,
        }
    }

    pub fn file(mut self, name: &str, content: impl Into<Content>) -> Self {
        self.files.push((name.to_owned(), content.into()));
        self
    }

    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|a| (*a).to_owned()));
        self
    }

    pub fn accept(mut self) -> Self {
        self.expect = Expect::Accept;
        self
    }

    pub fn refuse(mut self) -> Self {
        self.expect = Expect::Refuse;
        self
    }

    pub fn unlocated(mut self) -> Self {
        self.located = false;
        self
    }
}

/// The same runbook validated (`NAME.yaml`) and run (`NAME.run.yaml`). A run validates first,
/// so the run expects what the validation does unless told otherwise.
pub fn both(
    class: &'static str,
    stem: &str,
    content: impl Into<Content>,
    expect: Expect,
) -> [Case; 2] {
    let content = content.into();
    let mut validate = Case::validate(class, &format!("{stem}.yaml"), content.clone());
    validate.expect = expect;
    let mut run = Case::run(class, &format!("{stem}.run.yaml"), content);
    run.expect = expect;
    [validate, run]
}

/// `version: 1`, `name: NAME` and the rest.
pub fn runbook(name: &str, rest: &str) -> String {
    format!("version: 1\nname: {name}\n{rest}")
}

/// A runbook of these steps (each already indented as a list item under `steps:`).
pub fn steps(name: &str, steps: &str) -> String {
    runbook(name, &format!("steps:\n{steps}"))
}

/// A `log` step whose message is `text` written as a YAML literal block (no escaping; one
/// line).
pub fn log_step(id: &str, text: &str) -> String {
    format!("  - id: {id}\n    log: |-\n      {text}\n")
}

/// A one-step runbook logging `text` (a template, as a literal block).
pub fn logs(name: &str, text: &str) -> String {
    steps(name, &log_step("show", text))
}

/// A one-step runbook: a `log` that runs only `when` the bare expression holds.
pub fn when(name: &str, condition: &str) -> String {
    steps(
        name,
        &format!("  - id: guarded\n    when: |-\n      {condition}\n    log: ran\n"),
    )
}

/// Every case of every class; names are unique.
pub fn all() -> Vec<Case> {
    let mut cases = Vec::new();
    cases.extend(controls::cases());
    cases.extend(files::cases());
    cases.extend(yaml::cases());
    cases.extend(templates::cases());
    cases.extend(render::cases());
    cases.extend(durations::cases());
    cases.extend(flow::cases());
    cases.extend(sub_runbooks::cases());
    cases.extend(names::cases());
    cases.extend(encoding::cases());
    cases.extend(escapes::cases());
    cases.extend(inputs::cases());
    let mut seen = std::collections::HashSet::new();
    for case in &cases {
        assert!(
            seen.insert(case.name.clone()),
            "two cases named {}",
            case.name
        );
    }
    cases
}
