//! Sub-runbooks: the file each `runbook:` step names, read through the caller's [`Loader`]
//! (the language reads no files itself), then parsed and checked once however many steps
//! run it. A chain that comes back to a file it is running, or goes deeper than
//! [`MAX_SUB_RUNBOOK_DEPTH`], is refused at the step that closes or deepens it.

use std::collections::HashMap;
use std::sync::Arc;

use crate::diagnostic::Diagnostic;
use crate::limits::{MAX_SUB_RUNBOOK_DEPTH, MAX_SUB_RUNBOOK_FILES};
use crate::locate::{Part, Path};
use crate::model::{LoadedRunbook, Runbook, Step};
use crate::template;

use super::{Reporter, Source};

/// Reads the files sub-runbooks name.
pub trait Loader {
    /// The file `path` names in the runbook called `from` (its [`Source`] name); the error
    /// says why it cannot be read.
    fn load(&self, from: &str, path: &str) -> Result<Loaded, String>;
}

/// A file read by a [`Loader`].
pub struct Loaded {
    /// The same whichever way the file is named (a canonical path): cycles are found on it.
    pub identity: String,
    pub source: Source,
}

/// Runbook files held in memory, by name: for tests and for tools that hold the files
/// themselves. A path is read relative to the directory of the runbook that names it.
#[derive(Debug, Default, Clone)]
pub struct InMemory {
    files: HashMap<String, String>,
}

impl InMemory {
    /// `files` as (name, text).
    pub fn new<'a>(files: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self {
            files: files
                .into_iter()
                .map(|(name, text)| (name.to_owned(), text.to_owned()))
                .collect(),
        }
    }

    /// The file `name`, to hand [`crate::parse_with_loader`] as the runbook to parse.
    pub fn root(&self, name: &str) -> Result<Loaded, String> {
        self.read(name.to_owned())
    }

    fn read(&self, name: String) -> Result<Loaded, String> {
        let text = self.files.get(&name).ok_or("no such file")?;
        Ok(Loaded {
            identity: name.clone(),
            source: Source::new(name, text.clone()),
        })
    }
}

impl Loader for InMemory {
    fn load(&self, from: &str, path: &str) -> Result<Loaded, String> {
        let name = match from.rsplit_once('/') {
            Some((dir, _)) => format!("{dir}/{path}"),
            None => path.to_owned(),
        };
        self.read(name)
    }
}

/// The loader of a runbook that was not read from a file: it has no sub-runbooks.
pub(super) struct NoFiles;

impl Loader for NoFiles {
    fn load(&self, _from: &str, _path: &str) -> Result<Loaded, String> {
        Err("this runbook was not read from a file, so there is nothing beside it to read".into())
    }
}

/// What one parse of a runbook and its sub-runbooks shares.
pub(super) struct Resolver<'l> {
    loader: &'l dyn Loader,
    /// The files being parsed, outermost first: (identity, name).
    chain: Vec<(String, String)>,
    files: HashMap<String, Checked>,
    /// The identity each (runbook, path) named, so a file is read once per name.
    named: HashMap<(String, String), String>,
    /// The sub-runbooks' own diagnostics, each carrying its file's text.
    pub(super) diagnostics: Vec<Diagnostic>,
}

#[derive(Clone)]
enum Checked {
    Good {
        loaded: Arc<LoadedRunbook>,
        /// Levels of sub-runbooks below it.
        height: usize,
    },
    Broken,
}

impl<'l> Resolver<'l> {
    pub(super) fn new(loader: &'l dyn Loader, identity: String, name: String) -> Self {
        Self {
            loader,
            chain: vec![(identity, name)],
            files: HashMap::new(),
            named: HashMap::new(),
            diagnostics: Vec::new(),
        }
    }

    /// Reads, parses and checks the sub-runbook of every `runbook:` step in `steps` (at
    /// `at`), blocks' steps included; returns the most levels found below.
    pub(super) fn resolve(
        &mut self,
        reporter: &mut Reporter<'_>,
        steps: &mut [Step],
        at: &Path,
    ) -> usize {
        let mut height = 0;
        for (index, step) in steps.iter_mut().enumerate() {
            let path = at.index(index);
            if let Some(body) = &mut step.body {
                height = height.max(self.resolve(reporter, body, &path.key("do")));
            }
            if let Some(sub) = &mut step.runbook {
                let at = path.key("runbook").key("path");
                if let Some((loaded, below)) = self.one(reporter, &sub.path, &at) {
                    sub.loaded = Some(loaded);
                    height = height.max(below + 1);
                }
            }
        }
        height
    }

    fn one(
        &mut self,
        reporter: &mut Reporter<'_>,
        path: &str,
        at: &Path,
    ) -> Option<(Arc<LoadedRunbook>, usize)> {
        if template::shape(path) != template::Shape::Literal {
            reporter.error(at, Part::Value, "`runbook.path` is a file name, not a template").help =
                Some("the sub-runbook is read and checked with this one, before anything runs; to choose between runbooks, use `when` on steps that run each".into());
            return None;
        }
        // A file named again from the same runbook is not read again: ten thousand steps
        // running one large child read it once.
        let named = (reporter.source.name.clone(), path.to_owned());
        let mut fresh = None;
        let identity = match self
            .named
            .get(&named)
            .filter(|id| self.files.contains_key(*id))
        {
            Some(identity) => identity.clone(),
            None => match self.loader.load(&named.0, path) {
                Ok(file) => {
                    let identity = file.identity.clone();
                    self.named.insert(named, identity.clone());
                    fresh = Some(file);
                    identity
                }
                Err(why) => {
                    reporter
                        .error(at, Part::Value, format!("cannot read `{path}`: {why}"))
                        .help = Some("the path is relative to the runbook that names it".into());
                    return None;
                }
            },
        };
        if let Some(start) = self.chain.iter().position(|(id, _)| *id == identity) {
            let mut names: Vec<&str> = self.chain[start..]
                .iter()
                .map(|(_, n)| n.as_str())
                .collect();
            names.push(&self.chain[start].1);
            reporter
                .error(
                    at,
                    Part::Value,
                    format!("a runbook cannot run itself: {}", names.join(" → ")),
                )
                .help = Some("to run steps again, use a `repeat` block".into());
            return None;
        }
        let depth = self.chain.len();
        let checked = match (self.files.get(&identity), fresh) {
            (Some(checked), _) => checked.clone(),
            // Not reached: a name is reused only for a file that is checked already.
            (None, None) => return None,
            (None, Some(file)) => {
                if self.files.len() >= MAX_SUB_RUNBOOK_FILES {
                    reporter.error(
                        at,
                        Part::Value,
                        format!(
                            "a runbook's sub-runbooks read at most {MAX_SUB_RUNBOOK_FILES} files"
                        ),
                    );
                    return None;
                }
                if depth > MAX_SUB_RUNBOOK_DEPTH {
                    // Not remembered: the same file is fine nearer the top.
                    reporter.error(at, Part::Value, too_deep(depth));
                    return None;
                }
                let checked = self.parse(file);
                self.files.insert(identity, checked.clone());
                checked
            }
        };
        match checked {
            Checked::Good { height, .. } if depth + height > MAX_SUB_RUNBOOK_DEPTH => {
                reporter.error(at, Part::Value, too_deep(depth + height));
                None
            }
            Checked::Good { loaded, height } => Some((loaded, height)),
            Checked::Broken => {
                reporter
                    .error(
                        at,
                        Part::Value,
                        format!("the sub-runbook `{path}` is not valid"),
                    )
                    .help = Some("its problems are listed under its own name".into());
                None
            }
        }
    }

    fn parse(&mut self, file: Loaded) -> Checked {
        let Loaded { identity, source } = file;
        self.chain.push((identity, source.name.clone()));
        let parsed = super::parse_nested(&source, self);
        self.chain.pop();
        let text: Arc<str> = Arc::from(source.text.as_str());
        let (result, diagnostics) = match parsed {
            Ok((runbook, height, warnings)) => (Some((runbook, height)), warnings),
            Err(diagnostics) => (None, diagnostics),
        };
        self.diagnostics
            .extend(diagnostics.into_iter().map(|mut diagnostic| {
                diagnostic.text = Some(Arc::clone(&text));
                diagnostic
            }));
        match result {
            Some((runbook, height)) => Checked::Good {
                loaded: Arc::new(LoadedRunbook {
                    name: source.name,
                    text: source.text,
                    steps_counted: steps_counted(&runbook),
                    runbook,
                }),
                height,
            },
            None => Checked::Broken,
        }
    }
}

/// The steps a run of `runbook` may go through: each step once, a sub-runbook's counted at
/// every step that runs it. A small file of steps that each run a file of steps that each run
/// another would otherwise be a plan of millions.
pub(crate) fn steps_counted(runbook: &Runbook) -> usize {
    fn of(steps: &[Step]) -> usize {
        steps.iter().fold(0usize, |total, step| {
            let body = step.body.as_deref().map_or(0, of);
            let child = step
                .runbook
                .as_ref()
                .and_then(|sub| sub.loaded.as_deref())
                .map_or(0, |loaded| loaded.steps_counted);
            total
                .saturating_add(1)
                .saturating_add(body)
                .saturating_add(child)
        })
    }
    of(&runbook.steps).saturating_add(of(&runbook.finally))
}

fn too_deep(depth: usize) -> String {
    format!("sub-runbooks nest {depth} deep here; at most {MAX_SUB_RUNBOOK_DEPTH}")
}
