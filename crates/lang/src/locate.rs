//! Where each key and value of a YAML document starts, by path, so that diagnostics found
//! after deserialisation (by serde or by the semantic checks) still point at `line:col`.
//!
//! serde_yaml reports a location for the first error only and drops positions once a value
//! is built; yaml-rust2's event stream keeps a marker on every node.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// One step of a path into the document.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// A path into the document: `steps[2]."aom.wait".execution_id`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Path(pub Vec<Segment>);

impl Path {
    pub fn root() -> Self {
        Self::default()
    }

    pub fn key(&self, key: impl Into<String>) -> Self {
        let mut path = self.clone();
        path.0.push(Segment::Key(key.into()));
        path
    }

    pub fn index(&self, index: usize) -> Self {
        let mut path = self.clone();
        path.0.push(Segment::Index(index));
        path
    }

    fn parent(&self) -> Option<Self> {
        let mut path = self.clone();
        path.0.pop().map(|_| path)
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Index(n) => write!(f, "[{n}]")?,
                Segment::Key(k) if i == 0 => write!(f, "{k}")?,
                Segment::Key(k) => write!(f, ".{k}")?,
            }
        }
        Ok(())
    }
}

/// Which part of a mapping entry a diagnostic points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Key,
    Value,
}

/// The byte spans of every key and value in a document.
#[derive(Debug, Default)]
pub struct Locations {
    keys: HashMap<Path, Range<usize>>,
    values: HashMap<Path, Range<usize>>,
    lines: LineIndex,
}

impl Locations {
    /// Indexes `source`. A document yaml-rust2 cannot read yields what it read up to there;
    /// lookups then fall back to the nearest enclosing node.
    pub fn index(source: &str) -> Self {
        let mut builder = Builder {
            source,
            locations: Self {
                lines: LineIndex::new(source),
                ..Self::default()
            },
            stack: Vec::new(),
            root_done: false,
            cursor: Cursor::default(),
        };
        let mut parser = Parser::new_from_str(source);
        let _partial_is_fine = parser.load(&mut builder, false);
        builder.locations
    }

    /// The source's lines.
    pub fn lines(&self) -> &LineIndex {
        &self.lines
    }

    /// The span of `path`'s key or value, or of its nearest located ancestor; `0..0` when
    /// nothing is known.
    pub fn span(&self, path: &Path, part: Part) -> Range<usize> {
        let mut current = Some(path.clone());
        let mut first = true;
        while let Some(path) = current {
            let found = match (part, first) {
                (Part::Key, true) => self.keys.get(&path).or_else(|| self.values.get(&path)),
                (Part::Value, true) => self.values.get(&path).or_else(|| self.keys.get(&path)),
                // An ancestor: point at its key, which names it.
                (_, false) => self.keys.get(&path).or_else(|| self.values.get(&path)),
            };
            if let Some(span) = found {
                return span.clone();
            }
            first = false;
            current = path.parent();
        }
        0..0
    }
}

enum Frame {
    Mapping {
        path: Path,
        pending_key: Option<String>,
    },
    Sequence {
        path: Path,
        next: usize,
    },
}

struct Builder<'a> {
    source: &'a str,
    locations: Locations,
    stack: Vec<Frame>,
    root_done: bool,
    cursor: Cursor,
}

/// The last marker turned into a byte offset. Markers come in source order, so the next one
/// is found by walking on from here, not from the start of its line: one long line with
/// many nodes stays linear.
#[derive(Default, Clone, Copy)]
struct Cursor {
    line: usize,
    col: usize,
    byte: usize,
}

impl Builder<'_> {
    /// yaml-rust2's `Marker::index` counts characters, not bytes; line and (0-based) column
    /// give the byte offset.
    fn byte(&mut self, mark: Marker) -> usize {
        let (line, col) = (mark.line(), mark.col());
        let byte = if line == self.cursor.line && col >= self.cursor.col {
            let rest = &self.source[self.cursor.byte..];
            self.cursor.byte + column_bytes(rest, col - self.cursor.col + 1)
        } else {
            self.locations.lines.offset_of(self.source, line, col + 1)
        };
        self.cursor = Cursor { line, col, byte };
        byte
    }

    /// Block collections are marked after their first child has been scanned; point them at
    /// the child instead.
    fn pull_container_start(&mut self, child: &Range<usize>) {
        let container = match self.stack.last() {
            Some(Frame::Mapping { path, .. }) | Some(Frame::Sequence { path, .. }) => path,
            None => return,
        };
        if let Some(span) = self.locations.values.get_mut(container) {
            if child.start < span.start {
                *span = child.clone();
            }
        }
    }

    /// The path of the node that starts now, or `None` when it is a mapping key.
    fn next_node_path(&self) -> Option<Path> {
        match self.stack.last() {
            None => Some(Path::root()),
            Some(Frame::Mapping {
                path,
                pending_key: Some(key),
            }) => Some(path.key(key.clone())),
            Some(Frame::Mapping {
                pending_key: None, ..
            }) => None,
            Some(Frame::Sequence { path, next }) => Some(path.index(*next)),
        }
    }

    fn node_done(&mut self) {
        match self.stack.last_mut() {
            Some(Frame::Mapping { pending_key, .. }) => *pending_key = None,
            Some(Frame::Sequence { next, .. }) => *next += 1,
            None => self.root_done = true,
        }
    }

    fn scalar_span(&mut self, mark: Marker, value: &str, style: TScalarStyle) -> Range<usize> {
        let start = self.byte(mark);
        let quotes = match style {
            TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted => 2,
            _ => 0,
        };
        // Only as far as the span could reach: searching to the end of a long line for
        // every scalar on it would be quadratic.
        let reach = (start + value.len().max(1) + quotes + 1).min(self.source.len());
        let line_end = self.source.as_bytes()[start..reach]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(reach, |n| start + n);
        let end = (start + value.len().max(1) + quotes).min(line_end);
        start..end.max(start + usize::from(start < line_end))
    }
}

impl MarkedEventReceiver for Builder<'_> {
    fn on_event(&mut self, event: Event, mark: Marker) {
        if self.root_done {
            return;
        }
        match event {
            Event::Scalar(value, style, ..) => {
                let span = self.scalar_span(mark, &value, style);
                self.pull_container_start(&span);
                match self.next_node_path() {
                    Some(path) => {
                        self.locations.values.insert(path, span);
                        self.node_done();
                    }
                    None => {
                        if let Some(Frame::Mapping {
                            path, pending_key, ..
                        }) = self.stack.last_mut()
                        {
                            self.locations.keys.insert(path.key(value.clone()), span);
                            *pending_key = Some(value);
                        }
                    }
                }
            }
            Event::Alias(_) => {
                if let Some(path) = self.next_node_path() {
                    let start = self.byte(mark);
                    self.locations.values.insert(path, start..start + 1);
                }
                self.node_done();
            }
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                let start = self.byte(mark);
                self.pull_container_start(&(start..start + 1));
                // A complex (non-scalar) key: give it a name no real key has.
                let path = self
                    .next_node_path()
                    .unwrap_or_else(|| Path::root().key("<complex key>"));
                self.locations
                    .values
                    .entry(path.clone())
                    .or_insert(start..start + 1);
                self.stack.push(match event {
                    Event::MappingStart(..) => Frame::Mapping {
                        path,
                        pending_key: None,
                    },
                    _ => Frame::Sequence { path, next: 0 },
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
                self.node_done();
            }
            _ => {}
        }
    }
}

/// Where each line starts, so that offsets become lines and columns (and back) without
/// rescanning the source: a runbook with thousands of steps has thousands of locations.
#[derive(Debug, Clone, Default)]
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(source: &str) -> Self {
        let breaks = source.match_indices('\n').map(|(at, _)| at + 1);
        Self {
            starts: std::iter::once(0).chain(breaks).collect(),
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, source: &str, offset: usize) -> (usize, usize) {
        let offset = floor_char_boundary(source, offset.min(source.len()));
        let line = self.starts.partition_point(|start| *start <= offset).max(1);
        let start = self.starts[line - 1];
        (line, source[start..offset].chars().count() + 1)
    }

    /// The byte offset of a 1-based line and column (in characters); the end of the source
    /// for a line past the last.
    pub fn offset_of(&self, source: &str, line: usize, col: usize) -> usize {
        let Some(&start) = line.checked_sub(1).and_then(|index| self.starts.get(index)) else {
            return source.len();
        };
        start + column_bytes(&source[start..], col)
    }
}

/// Bytes from the start of `text` to its 1-based column `col`, stopping at the line's end.
fn column_bytes(text: &str, col: usize) -> usize {
    text.chars()
        .take_while(|c| *c != '\n')
        .take(col.saturating_sub(1))
        .map(char::len_utf8)
        .sum()
}

/// 1-based line and column (in characters) of a byte offset. Indexes the source each time:
/// for one lookup; use a [`LineIndex`] for many.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    LineIndex::new(source).line_col(source, offset)
}

/// The byte offset of a 1-based line and column (in characters), as [`line_col`] is for one
/// lookup.
pub fn offset_of(source: &str, line: usize, col: usize) -> usize {
    LineIndex::new(source).offset_of(source, line, col)
}

/// The largest char boundary at or before `offset`.
pub(crate) fn floor_char_boundary(source: &str, mut offset: usize) -> usize {
    while offset > 0 && !source.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_keys_and_values_by_path() {
        let source =
            "name: x\nsteps:\n  - id: a\n    aom.start:\n      workflow_id: \"wf\"\n  - id: é\n";
        let locations = Locations::index(source);
        let path = Path::root()
            .key("steps")
            .index(0)
            .key("aom.start")
            .key("workflow_id");
        let value = locations.span(&path, Part::Value);
        assert_eq!(&source[value.clone()], "\"wf\"");
        assert_eq!(line_col(source, value.start), (5, 20));
        let key = locations.span(&path, Part::Key);
        assert_eq!(&source[key], "workflow_id");
        let second = locations.span(&Path::root().key("steps").index(1).key("id"), Part::Value);
        assert_eq!(&source[second.clone()], "é");
        assert_eq!(line_col(source, second.start), (6, 9));
        // Unknown paths fall back to the nearest ancestor's key.
        let missing = locations.span(&Path::root().key("steps").index(1).key("when"), Part::Key);
        assert_eq!(line_col(source, missing.start), (6, 5));
        assert_eq!(offset_of(source, 6, 9), second.start);
    }
}
