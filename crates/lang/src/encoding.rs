//! From a file's bytes to text: UTF-8, a byte order mark dropped. Anything else is a
//! diagnostic at the first byte that is not text, because a reader that guessed (or replaced
//! bad bytes) would run something other than what the author wrote.

use std::fmt;

use crate::diagnostic::Diagnostic;
use crate::locate::lines;
use crate::parse::Source;

/// Bytes that are not UTF-8 text, and what of them can be shown under the diagnostic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotText {
    pub diagnostic: Diagnostic,
    /// The file as far as it reads, bad bytes replaced: the text the diagnostic's span is in.
    readable: String,
}

impl NotText {
    fn new(diagnostic: Diagnostic, readable: String) -> Box<Self> {
        Box::new(Self {
            diagnostic,
            readable,
        })
    }

    /// The diagnostic with the line it is on and a caret, as [`Source::render`] shows others.
    /// For a runbook only: an inputs file's line may hold a secret (its `Display` says where
    /// and what without quoting the file).
    pub fn render(&self) -> String {
        self.diagnostic.render(&self.readable)
    }
}

impl fmt::Display for NotText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.diagnostic.fmt(f)
    }
}

impl Source {
    /// A runbook file's bytes, decoded by [`decode`].
    pub fn from_bytes(name: impl Into<String>, bytes: &[u8]) -> Result<Self, Box<NotText>> {
        let name = name.into();
        let text = decode(&name, bytes)?;
        Ok(Self::new(name, text))
    }
}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// The bytes of a file named `name` (runbook, inputs or scenario) as text: UTF-8, without a
/// leading byte order mark. UTF-16 and UTF-32 (which Windows tools write), invalid UTF-8 and a
/// NUL character are refused, located by `name:line:col`.
pub fn decode(name: &str, bytes: &[u8]) -> Result<String, Box<NotText>> {
    if let Some(wide) = wide_encoding(bytes) {
        let message = format!("the file is {}; save it as UTF-8", wide.name());
        // Its first line, decoded, shows the user the file they meant.
        let readable = wide.first_line(bytes);
        let first = readable.chars().next().map_or(0, char::len_utf8);
        return Err(NotText::new(
            Diagnostic::at_span(name, &readable, 0..first, message),
            readable,
        ));
    }
    let bytes = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => {
            let at = error.valid_up_to();
            let readable = String::from_utf8_lossy(bytes).into_owned();
            // The prefix is identical in the lossy text, and the bad byte starts a U+FFFD there.
            let span = at..at + char::REPLACEMENT_CHARACTER.len_utf8();
            let message = format!(
                "invalid UTF-8 (byte 0x{:02X}); save the file as UTF-8",
                bytes[at]
            );
            return Err(NotText::new(
                Diagnostic::at_span(name, &readable, span, message),
                readable,
            ));
        }
    };
    // YAML readers treat NUL as the end of the document (yaml-rust2, which locates
    // diagnostics) or refuse it; either way the file is not what it seems.
    if let Some(at) = text.find('\0') {
        let message = "a NUL character (byte 0x00); save the file as UTF-8 text";
        // Shown as invalid UTF-8 is: the same offsets before it, a U+FFFD for it.
        let readable = text.replace('\0', "\u{FFFD}");
        let span = at..at + char::REPLACEMENT_CHARACTER.len_utf8();
        let diagnostic = Diagnostic::at_span(name, &readable, span, message);
        return Err(NotText::new(diagnostic, readable));
    }
    Ok(text.to_owned())
}

#[derive(Debug, Clone, Copy)]
enum Wide {
    Utf16 { little_endian: bool, bom: bool },
    Utf32 { little_endian: bool },
}

impl Wide {
    fn name(self) -> &'static str {
        match self {
            Self::Utf16 {
                little_endian: true,
                ..
            } => "UTF-16 (little-endian)",
            Self::Utf16 { .. } => "UTF-16 (big-endian)",
            Self::Utf32 {
                little_endian: true,
            } => "UTF-32 (little-endian)",
            Self::Utf32 { .. } => "UTF-32 (big-endian)",
        }
    }

    /// The text of the first line, what cannot be decoded replaced.
    fn first_line(self, bytes: &[u8]) -> String {
        // A line longer than this is cut: the point is to recognise the file.
        let bytes = &bytes[..bytes.len().min(1024)];
        let text: String = match self {
            Self::Utf16 { little_endian, bom } => {
                let units = bytes[if bom { 2 } else { 0 }..]
                    .chunks_exact(2)
                    .map(|unit| {
                        let unit = [unit[0], unit[1]];
                        if little_endian {
                            u16::from_le_bytes(unit)
                        } else {
                            u16::from_be_bytes(unit)
                        }
                    });
                char::decode_utf16(units)
                    .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
                    .collect()
            }
            Self::Utf32 { little_endian } => bytes[4..]
                .chunks_exact(4)
                .map(|unit| {
                    let unit = [unit[0], unit[1], unit[2], unit[3]];
                    let value = if little_endian {
                        u32::from_le_bytes(unit)
                    } else {
                        u32::from_be_bytes(unit)
                    };
                    char::from_u32(value).unwrap_or(char::REPLACEMENT_CHARACTER)
                })
                .collect(),
        };
        let end = lines(&text).next().map_or(0, |(line, _)| line.end);
        text[..end].replace('\0', "\u{FFFD}")
    }
}

/// UTF-16 or UTF-32, by its byte order mark or, without one, by the NULs that every ASCII
/// character (and a runbook's keys and punctuation are ASCII) brings along.
fn wide_encoding(bytes: &[u8]) -> Option<Wide> {
    match bytes {
        [0xFF, 0xFE, 0, 0, ..] => {
            return Some(Wide::Utf32 {
                little_endian: true,
            })
        }
        [0, 0, 0xFE, 0xFF, ..] => {
            return Some(Wide::Utf32 {
                little_endian: false,
            })
        }
        [0xFF, 0xFE, ..] => {
            return Some(Wide::Utf16 {
                little_endian: true,
                bom: true,
            })
        }
        [0xFE, 0xFF, ..] => {
            return Some(Wide::Utf16 {
                little_endian: false,
                bom: true,
            })
        }
        _ => {}
    }
    // Enough to tell, and a bounded cost whatever the file's size.
    let sample = &bytes[..bytes.len().min(1024)];
    let units = sample.chunks_exact(2);
    let pairs = units.len();
    if pairs == 0 {
        return None;
    }
    let (mut even, mut odd) = (0, 0);
    for unit in units {
        even += usize::from(unit[0] == 0);
        odd += usize::from(unit[1] == 0);
    }
    // Most units of ASCII-heavy UTF-16 have a NUL on one side and almost none on the other.
    let wide = |nuls: usize, other: usize| nuls * 2 >= pairs && other * 8 < nuls;
    let little_endian = if wide(odd, even) {
        true
    } else if wide(even, odd) {
        false
    } else {
        return None;
    };
    Some(Wide::Utf16 {
        little_endian,
        bom: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    const RUNBOOK: &str = "version: 1\nname: x\nsteps:\n  - id: a\n    log: hi\n";

    fn utf16(text: &str, little_endian: bool, bom: bool) -> Vec<u8> {
        let mut bytes = Vec::new();
        if bom {
            bytes.extend(if little_endian {
                [0xFF, 0xFE]
            } else {
                [0xFE, 0xFF]
            });
        }
        for unit in text.encode_utf16() {
            bytes.extend(if little_endian {
                unit.to_le_bytes()
            } else {
                unit.to_be_bytes()
            });
        }
        bytes
    }

    fn refused(bytes: &[u8]) -> NotText {
        *Source::from_bytes("x.yaml", bytes).expect_err("refused")
    }

    #[test]
    fn a_utf8_byte_order_mark_is_dropped() {
        let source =
            Source::from_bytes("x.yaml", format!("\u{feff}{RUNBOOK}").as_bytes()).expect("decodes");
        assert_eq!(source.text, RUNBOOK);
        assert!(parse(&source).is_ok());
    }

    #[test]
    fn utf16_with_or_without_a_byte_order_mark_is_refused_at_1_1() {
        for (little_endian, bom) in [(true, true), (false, true), (true, false), (false, false)] {
            let not_text = refused(&utf16(RUNBOOK, little_endian, bom));
            let d = &not_text.diagnostic;
            let order = if little_endian { "little" } else { "big" };
            assert_eq!(
                d.short(),
                format!("x.yaml:1:1: the file is UTF-16 ({order}-endian); save it as UTF-8"),
                "little endian {little_endian}, bom {bom}"
            );
            assert!(not_text.render().contains("x.yaml:1:1"));
        }
        let utf32 = [0xFF, 0xFE, 0, 0, b'a', 0, 0, 0];
        assert!(refused(&utf32).diagnostic.message.contains("UTF-32"));
    }

    #[test]
    fn text_that_is_mostly_not_ascii_is_not_taken_for_utf16() {
        let text = "version: 1\nname: 日本語の名前\nsteps:\n  - id: a\n    log: \"héllo ✓\"\n";
        assert!(Source::from_bytes("x.yaml", text.as_bytes()).is_ok());
        assert!(Source::from_bytes("x.yaml", b"a").is_ok());
        assert!(Source::from_bytes("x.yaml", b"").is_ok());
    }

    #[test]
    fn invalid_utf8_is_located_at_its_first_bad_byte() {
        let bytes = b"version: 1\nname: x\nsteps: caf\xE9 \xFF\n";
        let not_text = refused(bytes);
        let d = &not_text.diagnostic;
        assert_eq!(
            d.short(),
            "x.yaml:3:11: invalid UTF-8 (byte 0xE9); save the file as UTF-8"
        );
        let rendered = not_text.render();
        assert!(rendered.contains("x.yaml:3:11"), "{rendered}");
        assert!(rendered.contains("steps: caf\u{FFFD}"), "{rendered}");
        assert!(rendered.contains('^'), "{rendered}");
        // The display, for files whose content must not be shown, has no line of the file.
        assert!(!not_text.to_string().contains("steps"));
    }

    #[test]
    fn a_sequence_cut_off_at_the_end_is_invalid_utf8() {
        let d = refused(b"name: \xE2\x82").diagnostic;
        assert_eq!((d.line, d.column), (1, 7));
        assert!(d.message.contains("byte 0xE2"), "{}", d.message);
    }

    #[test]
    fn invalid_utf8_after_cr_only_line_breaks_is_on_the_right_line() {
        let d = refused(b"a: 1\rb: 2\r\nc: \x80\n").diagnostic;
        assert_eq!((d.line, d.column), (3, 4));
    }

    #[test]
    fn a_nul_character_is_located() {
        let d = refused(b"version: 1\nname: \"x\0\"\n").diagnostic;
        assert_eq!((d.line, d.column), (2, 9));
        assert!(d.message.starts_with("a NUL character"), "{}", d.message);
        let d = refused(b"\0").diagnostic;
        assert_eq!((d.line, d.column), (1, 1));
    }

    #[test]
    fn decode_names_the_file_it_was_given() {
        let not_text = decode("inputs file in.yaml", b"token: \xFF").expect_err("refused");
        assert_eq!(
            not_text.to_string(),
            "inputs file in.yaml:1:8: invalid UTF-8 (byte 0xFF); save the file as UTF-8"
        );
        assert_eq!(
            decode("in.yaml", b"\xEF\xBB\xBFa: 1").expect("decodes"),
            "a: 1"
        );
    }
}
