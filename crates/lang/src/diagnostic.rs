//! A problem in a runbook file, located by `file:line:col` and rendered with the offending
//! line and a caret.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use annotate_snippets::{Level, Renderer, Snippet};

use crate::locate::{floor_char_boundary, line_break, line_col, lines, offset_of};

/// Bytes of the offending line shown before and after the problem.
const SHOWN_AROUND: usize = 160;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file as the user named it.
    pub file: String,
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
    /// Byte span in the source.
    pub span: Range<usize>,
    pub message: String,
    /// What to do about it.
    pub help: Option<String>,
    /// Byte spans of the source that must not be shown (a secret input's default): the
    /// rendered line shows `***` there.
    pub concealed: Vec<Range<usize>>,
    pub severity: Severity,
    /// The text of the file it is in, when that is a sub-runbook's rather than the text of
    /// the runbook being parsed: [`crate::Source::render`] renders it against this.
    pub text: Option<Arc<str>>,
}

/// An error stops the runbook from running; a warning is shown and the run goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Severity {
    #[default]
    Error,
    Warning,
}

impl Diagnostic {
    pub fn at_span(
        file: &str,
        source: &str,
        span: Range<usize>,
        message: impl Into<String>,
    ) -> Self {
        Self::at_position(file, span.clone(), line_col(source, span.start), message)
    }

    /// At a span whose line and column are already known.
    pub fn at_position(
        file: &str,
        span: Range<usize>,
        (line, column): (usize, usize),
        message: impl Into<String>,
    ) -> Self {
        Self {
            file: file.to_owned(),
            line,
            column,
            span,
            message: message.into(),
            help: None,
            concealed: Vec::new(),
            severity: Severity::Error,
            text: None,
        }
    }

    /// At a 1-based line and column, underlining one character. A position past the end
    /// (serde reports "end of stream" there) is moved to the end of the last line.
    pub fn at_line_col(
        file: &str,
        source: &str,
        line: usize,
        column: usize,
        message: impl Into<String>,
    ) -> Self {
        let mut content = source;
        while let Some(last) = content.chars().next_back() {
            let before = content.len() - last.len_utf8();
            if line_break(content, before).is_none() {
                break;
            }
            content = &content[..before];
        }
        let last_line = lines(content).count().max(1);
        let (line, column) = if line > last_line {
            let text = lines(content).last().map_or(0..0, |(text, _)| text);
            (last_line, content[text].chars().count() + 1)
        } else {
            (line, column)
        };
        let start = offset_of(source, line, column);
        let end = source[start..]
            .chars()
            .next()
            .map_or(start, |c| start + c.len_utf8());
        Self {
            file: file.to_owned(),
            line,
            column,
            span: start..end,
            message: message.into(),
            help: None,
            concealed: Vec::new(),
            severity: Severity::Error,
            text: None,
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The source line with every concealed span in it replaced by `***`. (The caret's
    /// position is computed on this text, so it may shift on a concealed line; better than
    /// showing the secret.)
    fn conceal(&self, source: &str, line: Range<usize>) -> String {
        let mut spans: Vec<Range<usize>> = self
            .concealed
            .iter()
            .filter(|span| span.start < line.end && span.end > line.start)
            .map(|span| span.start.max(line.start)..span.end.min(line.end))
            .collect();
        spans.sort_by_key(|span| span.start);
        let mut shown = String::new();
        let mut at = line.start;
        for span in spans {
            let start = floor_char_boundary(source, span.start.max(at));
            let end = floor_char_boundary(source, span.end.max(start));
            shown.push_str(&source[at..start]);
            shown.push_str("***");
            at = end;
        }
        shown.push_str(&source[floor_char_boundary(source, at.min(line.end))..line.end]);
        shown
    }

    /// `file:line:col: message`, one line.
    pub fn short(&self) -> String {
        let warning = if self.is_error() { "" } else { "warning: " };
        format!(
            "{}:{}:{}: {warning}{}",
            self.file, self.line, self.column, self.message
        )
    }

    /// The diagnostic with the offending line and a caret under the problem.
    pub fn render(&self, source: &str) -> String {
        // Only a window of a long line is shown (and scanned): a one-line file of thousands
        // of problems must not cost the line's length for each of them.
        let span_start = floor_char_boundary(source, self.span.start.min(source.len()));
        let look_back = floor_char_boundary(source, span_start.saturating_sub(SHOWN_AROUND));
        let last_line = lines(&source[look_back..span_start]).last();
        let line_start = look_back + last_line.map_or(0, |(text, _)| text.start);
        let cut = line_start == look_back && look_back > 0;
        let look_ahead = floor_char_boundary(
            source,
            self.span
                .end
                .max(span_start)
                .min(span_start + SHOWN_AROUND)
                .saturating_add(SHOWN_AROUND)
                .min(source.len()),
        );
        let line_end = span_start
            + lines(&source[span_start..look_ahead])
                .next()
                .map_or(0, |(text, _)| text.end);
        let shown_line = self.conceal(source, line_start..line_end);
        let line_text = shown_line.as_str();
        let start = floor_char_boundary(
            line_text,
            self.span
                .start
                .saturating_sub(line_start)
                .min(line_text.len()),
        );
        let end = floor_char_boundary(
            line_text,
            self.span
                .end
                .saturating_sub(line_start)
                .clamp(start, line_text.len()),
        );
        let level = match self.severity {
            Severity::Error => Level::Error,
            Severity::Warning => Level::Warning,
        };
        let mut message = level.title(&self.message).snippet(
            Snippet::source(line_text)
                .line_start(self.line)
                .origin(&self.file)
                .annotation(level.span(start..end.max(start)).label("")),
        );
        if let Some(help) = &self.help {
            message = message.footer(Level::Help.title(help));
        }
        let rendered = Renderer::plain().render(message).to_string();
        if !cut {
            return rendered;
        }
        // The window starts mid-line, so the renderer counts its column from there.
        let windowed = format!(
            "{}:{}:{}",
            self.file,
            self.line,
            line_text[..start].chars().count() + 1
        );
        rendered.replacen(
            &windowed,
            &format!("{}:{}:{}", self.file, self.line, self.column),
            1,
        )
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.short())?;
        if let Some(help) = &self.help {
            write!(f, " (help: {help})")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_file_line_col_and_caret() {
        let source = "a: 1\nbad: value\n";
        let d = Diagnostic::at_span("x.yaml", source, 10..15, "not good").with_help("fix it");
        assert_eq!((d.line, d.column), (2, 6));
        let text = d.render(source);
        assert!(text.contains("x.yaml:2:6"), "{text}");
        assert!(text.contains("bad: value"), "{text}");
        assert!(text.contains("^^^^^"), "{text}");
        assert!(text.contains("help: fix it"), "{text}");
    }

    #[test]
    fn a_long_line_is_shown_around_the_problem() {
        let source = format!("{}bad{}\n", "x".repeat(100_000), "y".repeat(100_000));
        let d = Diagnostic::at_span("x.yaml", &source, 100_000..100_003, "not good");
        let text = d.render(&source);
        assert!(text.contains("x.yaml:1:100001"), "{text}");
        assert!(text.contains("xbady"), "{text}");
        assert!(text.len() < 1_000, "{} bytes", text.len());
    }
}
