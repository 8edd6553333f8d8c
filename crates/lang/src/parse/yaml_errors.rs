//! YAML syntax errors as diagnostics, each where the mistake is written: a duplicate key at
//! its second occurrence, an unclosed quote where it opens, a tab in indentation named.

use super::Source;
use crate::diagnostic::Diagnostic;
use crate::locate::{Locations, Segment};

pub(super) fn yaml_error(source: &Source, error: &crate::yaml::Error) -> Diagnostic {
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
pub(super) fn strip_position(message: &str) -> String {
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
