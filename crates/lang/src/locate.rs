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
        self.then(Segment::Key(key.into()))
    }

    pub fn index(&self, index: usize) -> Self {
        self.then(Segment::Index(index))
    }

    /// This path and one more segment, allocated once (a clone then a push would grow it).
    fn then(&self, segment: Segment) -> Self {
        let mut segments = Vec::with_capacity(self.0.len() + 1);
        segments.extend_from_slice(&self.0);
        segments.push(segment);
        Self(segments)
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
    /// The last occurrence of each key (a duplicate key replaces the first).
    keys: HashMap<Path, Range<usize>>,
    values: HashMap<Path, Range<usize>>,
    /// Keys written more than once in their mapping: the first occurrence.
    first_of_duplicates: HashMap<Path, Range<usize>>,
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
            cursor: (0, 0),
        };
        let mut parser = Parser::new_from_str(source);
        let _partial_is_fine = parser.load(&mut builder, false);
        builder.locations
    }

    /// Keys written twice in one mapping, in file order of their second occurrence: the
    /// key's path, its first and its second span.
    pub fn duplicate_keys(&self) -> Vec<(&Path, Range<usize>, Range<usize>)> {
        let mut found: Vec<_> = self
            .first_of_duplicates
            .iter()
            .filter_map(|(path, first)| Some((path, first.clone(), self.keys.get(path)?.clone())))
            .collect();
        found.sort_by_key(|(_, _, second)| second.start);
        found
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
    /// The last marker's position, in characters and in bytes.
    cursor: (usize, usize),
}

impl Builder<'_> {
    /// The byte offset of a marker. yaml-rust2 counts lines its own way (CR and LF only, where
    /// libyaml, which reads the document, also breaks lines at NEL, LS and PS), so its line and
    /// column are not used: its `index` counts characters from the start, and the cursor walks
    /// there from the previous marker, which is near (events come in document order).
    fn byte(&mut self, mark: Marker) -> usize {
        let (mut chars, mut byte) = self.cursor;
        let target = mark.index();
        if target >= chars {
            for c in self.source[byte..].chars() {
                if chars == target {
                    break;
                }
                chars += 1;
                byte += c.len_utf8();
            }
        } else {
            for c in self.source[..byte].chars().rev() {
                if chars == target {
                    break;
                }
                chars -= 1;
                byte -= c.len_utf8();
            }
        }
        self.cursor = (chars, byte);
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
        let reach = floor_char_boundary(
            self.source,
            (start + value.len().max(1) + quotes + 1).min(self.source.len()),
        );
        let line_end = next_break(&self.source[..reach], start).map_or(reach, |(at, _)| at);
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
                            let key = path.key(value.clone());
                            if let Some(first) = self.locations.keys.insert(key.clone(), span) {
                                self.locations
                                    .first_of_duplicates
                                    .entry(key)
                                    .or_insert(first);
                            }
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

/// The length of the line break that starts at byte `at`, if one does: CR LF, CR, LF, NEL
/// (U+0085), LS (U+2028) or PS (U+2029), the breaks libyaml counts. serde_yaml (libyaml) reports
/// its errors by line and column, so every line and column here is counted the same way: a
/// runbook saved with old Mac (CR-only) line endings is located like any other.
pub fn line_break(source: &str, at: usize) -> Option<usize> {
    match source.as_bytes().get(at..)? {
        [b'\r', b'\n', ..] => Some(2),
        [b'\r' | b'\n', ..] => Some(1),
        [0xC2, 0x85, ..] => Some(2),
        [0xE2, 0x80, 0xA8 | 0xA9, ..] => Some(3),
        _ => None,
    }
}

/// The byte offset of the next line break at or after `from`, and its length.
fn next_break(source: &str, from: usize) -> Option<(usize, usize)> {
    let bytes = source.as_bytes();
    let mut at = from;
    while at < bytes.len() {
        // Every break starts with one of these bytes; anything else is skipped fast.
        let skip = bytes[at..]
            .iter()
            .position(|b| matches!(b, b'\r' | b'\n' | 0xC2 | 0xE2))?;
        at += skip;
        if let Some(len) = line_break(source, at) {
            return Some((at, len));
        }
        at += 1;
    }
    None
}

/// Each line's text (without its break) and where the next line starts.
pub fn lines(source: &str) -> impl Iterator<Item = (Range<usize>, usize)> + '_ {
    let mut start = Some(0);
    std::iter::from_fn(move || {
        let from = start?;
        match next_break(source, from) {
            Some((at, len)) => {
                start = Some(at + len);
                Some((from..at, at + len))
            }
            None => {
                start = None;
                Some((from..source.len(), source.len()))
            }
        }
    })
}

/// Where each line starts, so that offsets become lines and columns (and back) without
/// rescanning the source: a runbook with thousands of steps has thousands of locations.
#[derive(Debug, Clone, Default)]
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(source: &str) -> Self {
        Self {
            starts: lines(source).map(|(text, _)| text.start).collect(),
        }
    }

    /// 1-based line and column (in characters) of a byte offset; an offset inside a break
    /// belongs to the line the break ends.
    pub fn line_col(&self, source: &str, offset: usize) -> (usize, usize) {
        let offset = floor_char_boundary(source, offset.min(source.len()));
        let line = self.starts.partition_point(|start| *start <= offset).max(1);
        let start = self.starts.get(line - 1).copied().unwrap_or(0);
        (line, source[start..offset].chars().count() + 1)
    }

    /// The byte offset of a 1-based line and column (in characters). A column past the end
    /// of its line stops at the end of the line's break; a line past the last is the end.
    pub fn offset_of(&self, source: &str, line: usize, col: usize) -> usize {
        let Some(&start) = line.checked_sub(1).and_then(|index| self.starts.get(index)) else {
            return source.len();
        };
        let next = self.starts.get(line).copied().unwrap_or(source.len());
        let within: usize = source[start..next]
            .chars()
            .take(col.saturating_sub(1))
            .map(char::len_utf8)
            .sum();
        start + within
    }
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

    #[test]
    fn every_line_break_libyaml_counts_counts_here() {
        for newline in ["\n", "\r", "\r\n", "\u{85}", "\u{2028}", "\u{2029}"] {
            let source = ["a: 1", "bé: 2", "", "c: 3"].join(newline);
            let c = source.find('c').unwrap();
            assert_eq!(line_col(&source, c), (4, 1), "{newline:?}");
            assert_eq!(offset_of(&source, 4, 1), c, "{newline:?}");
            let e = source.find(':').unwrap();
            assert_eq!(
                line_col(&source, source[e + 1..].find(':').unwrap() + e + 1),
                (2, 3)
            );
            let texts: Vec<&str> = lines(&source).map(|(text, _)| &source[text]).collect();
            assert_eq!(texts, ["a: 1", "bé: 2", "", "c: 3"], "{newline:?}");
            // The break itself belongs to the line it ends.
            assert_eq!(line_col(&source, 4), (1, 5), "{newline:?}");
            assert_eq!(lines(&source).count(), 4);
        }
        assert_eq!(line_col("a\n", 2), (2, 1));
        assert_eq!(lines("").count(), 1);
    }

    #[test]
    fn yaml_locations_do_not_depend_on_how_lines_end() {
        let lf = "name: x\nsteps:\n  - id: a\n    log: \"é\"\n  - id: b\n";
        let path = Path::root().key("steps").index(1).key("id");
        // Not NEL, LS or PS: yaml-rust2 reads no line there, so the document has another shape.
        for newline in ["\r", "\r\n"] {
            let source = lf.replace('\n', newline);
            let span = Locations::index(&source).span(&path, Part::Value);
            assert_eq!(&source[span.clone()], "b", "{newline:?}");
            assert_eq!(line_col(&source, span.start), (5, 9), "{newline:?}");
        }
    }
}
