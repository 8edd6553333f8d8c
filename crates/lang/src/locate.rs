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
}

impl Locations {
    /// Indexes `source`. A document yaml-rust2 cannot read yields what it read up to there;
    /// lookups then fall back to the nearest enclosing node.
    pub fn index(source: &str) -> Self {
        let mut builder = Builder {
            source,
            locations: Self::default(),
            stack: Vec::new(),
            root_done: false,
        };
        let mut parser = Parser::new_from_str(source);
        let _partial_is_fine = parser.load(&mut builder, false);
        builder.locations
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
}

impl Builder<'_> {
    /// yaml-rust2's `Marker::index` counts characters, not bytes; line and (0-based) column
    /// give the byte offset.
    fn byte(&self, mark: Marker) -> usize {
        offset_of(self.source, mark.line(), mark.col() + 1)
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

    fn scalar_span(&self, mark: Marker, value: &str, style: TScalarStyle) -> Range<usize> {
        let start = self.byte(mark);
        let line_end = self.source[start..]
            .find('\n')
            .map_or(self.source.len(), |n| start + n);
        let quotes = match style {
            TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted => 2,
            _ => 0,
        };
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

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = &source[..floor_char_boundary(source, offset)];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |n| n + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

/// The byte offset of a 1-based line and column (in characters).
pub fn offset_of(source: &str, line: usize, col: usize) -> usize {
    let mut offset = 0;
    for (n, text) in source.split_inclusive('\n').enumerate() {
        if n + 1 == line {
            let within: usize = text
                .chars()
                .take(col.saturating_sub(1))
                .map(char::len_utf8)
                .sum();
            return offset + within;
        }
        offset += text.len();
    }
    source.len()
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
