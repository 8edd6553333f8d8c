//! Every step of a runbook, the steps of blocks included, in one numbering: a block comes
//! before its body, so "written above" is "a smaller number" here as it is in the file. Each
//! step knows the block it is in, which is how ids inside a block stay its own.

use std::collections::HashMap;

use crate::locate::Path;
use crate::model::{Runbook, Step};

/// One step, where it is written and the block it belongs to.
pub(super) struct Entry<'a> {
    pub step: &'a Step,
    pub path: Path,
    /// The block whose body holds this step; `None` for a step of `steps` or `finally`.
    pub parent: Option<usize>,
    pub finally: bool,
    /// Blocks around this step.
    pub depth: usize,
    /// One past this step's last descendant (itself + 1 for a step that is not a block).
    pub end: usize,
    /// An outline standing in for a step that did not parse.
    pub unparsed: bool,
}

/// Where a template is read: the steps numbered below `before` that are not hidden in a
/// block `inside` is not in.
#[derive(Clone, Copy)]
pub(super) struct Reader {
    pub before: usize,
    pub inside: Option<usize>,
}

pub(super) struct StepTree<'a> {
    pub entries: Vec<Entry<'a>>,
    /// The first id each step has, by id; filled by `flow::step_ids`.
    pub ids: HashMap<String, usize>,
}

impl<'a> StepTree<'a> {
    /// `unparsed` lists the top-level steps (of `steps` then `finally`) that are outlines.
    pub(super) fn new(runbook: &'a Runbook, unparsed: &[usize]) -> Self {
        let mut entries = Vec::new();
        let lists = [
            (&runbook.steps, "steps", false, 0),
            (&runbook.finally, "finally", true, runbook.steps.len()),
        ];
        for (steps, key, finally, offset) in lists {
            for (index, step) in steps.iter().enumerate() {
                let unparsed = unparsed.contains(&(offset + index));
                let path = Path::root().key(key).index(index);
                push(&mut entries, step, path, None, finally, 0, unparsed);
            }
        }
        Self {
            entries,
            ids: HashMap::new(),
        }
    }

    pub(super) fn step(&self, index: usize) -> Option<&'a Step> {
        self.entries.get(index).map(|entry| entry.step)
    }

    pub(super) fn is_finally(&self, index: usize) -> bool {
        self.entries.get(index).is_some_and(|entry| entry.finally)
    }

    pub(super) fn parent(&self, index: usize) -> Option<usize> {
        self.entries.get(index).and_then(|entry| entry.parent)
    }

    /// The blocks around `index`, innermost first.
    pub(super) fn blocks_around(&self, index: usize) -> impl Iterator<Item = usize> + '_ {
        self.blocks_enclosing(self.reader_at(index))
    }

    /// The blocks `reader` is inside, innermost first.
    pub(super) fn blocks_enclosing(&self, reader: Reader) -> impl Iterator<Item = usize> + '_ {
        std::iter::successors(reader.inside, |&block| self.parent(block))
    }

    /// Where a template is read from: a step, a block's `repeat.until`, or `outputs`.
    pub(super) fn reader_at(&self, index: usize) -> Reader {
        Reader {
            before: index,
            inside: self.parent(index),
        }
    }

    /// `outputs`: every step of `steps` and `finally`, none inside a block.
    pub(super) fn outputs_reader(&self) -> Reader {
        Reader {
            before: self.entries.len(),
            inside: None,
        }
    }

    /// A block's `repeat.until`, read after each pass: it sees the whole body.
    pub(super) fn after_body(&self, block: usize) -> Reader {
        Reader {
            before: self.entries.get(block).map_or(block, |entry| entry.end),
            inside: Some(block),
        }
    }

    /// Whether `reader` is inside `block`'s body, however deep.
    pub(super) fn encloses(&self, block: usize, reader: Reader) -> bool {
        self.blocks_enclosing(reader).any(|around| around == block)
    }

    /// The outermost block around `index` that `reader` is not inside: the block that keeps
    /// `index`'s id to itself, as `reader` sees it.
    pub(super) fn hidden_by(&self, index: usize, reader: Reader) -> Option<usize> {
        self.blocks_around(index)
            .filter(|&block| !self.encloses(block, reader))
            .last()
    }
}

fn push<'a>(
    entries: &mut Vec<Entry<'a>>,
    step: &'a Step,
    path: Path,
    parent: Option<usize>,
    finally: bool,
    depth: usize,
    unparsed: bool,
) {
    let at = entries.len();
    entries.push(Entry {
        step,
        path: path.clone(),
        parent,
        finally,
        depth,
        end: at + 1,
        unparsed,
    });
    for (index, inner) in step.body.iter().flatten().enumerate() {
        let inner_path = path.key("do").index(index);
        push(
            entries,
            inner,
            inner_path,
            Some(at),
            finally,
            depth + 1,
            false,
        );
    }
    let end = entries.len();
    entries[at].end = end;
}
