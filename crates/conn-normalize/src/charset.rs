//! Byte order marks and charsets: every body becomes UTF-8 before it is parsed.
//!
//! Which charset applies, first match wins (RFC 8259, RFC 7303, the XML spec):
//!
//! 1. a byte order mark (UTF-8, UTF-16 LE/BE), which is then stripped;
//! 2. the `charset` parameter of `Content-Type`;
//! 3. a UTF-16 body without a mark, recognised by a NUL in its first two bytes;
//! 4. for XML, the `encoding` of the XML declaration;
//! 5. UTF-8.
//!
//! Decoded: UTF-8 (and US-ASCII as its subset), ISO-8859-1, windows-1252,
//! UTF-16 LE/BE. Any other label is [`DecodeProblem::UnsupportedCharset`]; bytes
//! that are invalid in the charset are [`DecodeProblem::InvalidEncoding`].

use std::borrow::Cow;

use conn_core::Format;

use crate::detect;
use crate::problem::{DecodeError, DecodeProblem};

/// A charset this crate decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Charset {
    Utf8,
    Latin1,
    Windows1252,
    Utf16Le,
    Utf16Be,
}

impl Charset {
    /// The charset a label names (WHATWG-style aliases for the common ones).
    pub(crate) fn from_label(label: &str) -> Option<Charset> {
        let label = label.trim().trim_matches(|c| c == '"' || c == '\'');
        let known = [
            ("utf-8", Charset::Utf8),
            ("utf8", Charset::Utf8),
            ("unicode-1-1-utf-8", Charset::Utf8),
            ("us-ascii", Charset::Utf8),
            ("ascii", Charset::Utf8),
            ("iso-8859-1", Charset::Latin1),
            ("iso8859-1", Charset::Latin1),
            ("iso_8859-1", Charset::Latin1),
            ("latin1", Charset::Latin1),
            ("l1", Charset::Latin1),
            ("windows-1252", Charset::Windows1252),
            ("cp1252", Charset::Windows1252),
            ("utf-16le", Charset::Utf16Le),
            ("utf-16be", Charset::Utf16Be),
            // Without a mark, RFC 2781 says big-endian.
            ("utf-16", Charset::Utf16Be),
        ];
        known
            .iter()
            .find(|(name, _)| label.eq_ignore_ascii_case(name))
            .map(|&(_, charset)| charset)
    }

    fn name(self) -> &'static str {
        match self {
            Charset::Utf8 => "UTF-8",
            Charset::Latin1 => "ISO-8859-1",
            Charset::Windows1252 => "windows-1252",
            Charset::Utf16Le => "UTF-16LE",
            Charset::Utf16Be => "UTF-16BE",
        }
    }
}

/// `body` as UTF-8 bytes, without a byte order mark. Borrowed whenever the body
/// already is UTF-8 (validation of UTF-8 is left to the parser's path, see
/// [`check_utf8`]).
pub(crate) fn to_utf8<'a>(
    body: &'a [u8],
    declared: Option<&str>,
    format: Format,
) -> Result<Cow<'a, [u8]>, DecodeError> {
    let (charset, rest) = if let Some(rest) = body.strip_prefix(b"\xEF\xBB\xBF") {
        (Charset::Utf8, rest)
    } else if let Some(rest) = body.strip_prefix(b"\xFF\xFE") {
        (Charset::Utf16Le, rest)
    } else if let Some(rest) = body.strip_prefix(b"\xFE\xFF") {
        (Charset::Utf16Be, rest)
    } else if let Some(label) = declared {
        match Charset::from_label(label) {
            Some(charset) => (charset, body),
            None => {
                return Err(DecodeError::new(DecodeProblem::UnsupportedCharset, Some(format))
                    .detail(format!("charset `{}` is not supported", safe_label(label))));
            }
        }
    } else if let Some(charset) = utf16_without_mark(body) {
        (charset, body)
    } else if format == Format::Xml {
        match xml_declared_encoding(body) {
            Some(label) => match Charset::from_label(label) {
                Some(charset) => (charset, body),
                None => {
                    return Err(DecodeError::new(DecodeProblem::UnsupportedCharset, Some(format))
                        .detail(format!("encoding `{}` is not supported", safe_label(label))));
                }
            },
            None => (Charset::Utf8, body),
        }
    } else {
        (Charset::Utf8, body)
    };
    transcode(rest, charset, format)
}

/// Checks that `text` is UTF-8, naming the first bad byte.
pub(crate) fn check_utf8(text: &[u8], format: Format) -> Result<&str, DecodeError> {
    std::str::from_utf8(text).map_err(|e| invalid_utf8(e.valid_up_to(), format))
}

/// The error for invalid UTF-8 at `offset`.
pub(crate) fn invalid_utf8(offset: usize, format: Format) -> DecodeError {
    DecodeError::new(DecodeProblem::InvalidEncoding, Some(format))
        .offset(offset)
        .detail("invalid UTF-8 (a wrong or missing charset?)")
}

/// Strips a UTF-8 byte order mark, if any.
pub(crate) fn strip_utf8_bom(body: &[u8]) -> &[u8] {
    body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body)
}

fn transcode(bytes: &[u8], charset: Charset, format: Format) -> Result<Cow<'_, [u8]>, DecodeError> {
    match charset {
        Charset::Utf8 => Ok(Cow::Borrowed(bytes)),
        // Both agree with UTF-8 on ASCII: nothing to do for the common case.
        Charset::Latin1 | Charset::Windows1252 if bytes.is_ascii() => Ok(Cow::Borrowed(bytes)),
        Charset::Latin1 => Ok(Cow::Owned(
            bytes.iter().map(|&b| b as char).collect::<String>().into_bytes(),
        )),
        Charset::Windows1252 => Ok(Cow::Owned(
            bytes
                .iter()
                .map(|&b| windows_1252(b))
                .collect::<String>()
                .into_bytes(),
        )),
        Charset::Utf16Le | Charset::Utf16Be => {
            if !bytes.len().is_multiple_of(2) {
                return Err(DecodeError::new(DecodeProblem::InvalidEncoding, Some(format))
                    .offset(bytes.len())
                    .detail(format!("an odd number of bytes in {}", charset.name())));
            }
            let units = bytes.chunks_exact(2).map(|pair| match charset {
                Charset::Utf16Le => u16::from_le_bytes([pair[0], pair[1]]),
                _ => u16::from_be_bytes([pair[0], pair[1]]),
            });
            let mut text = String::with_capacity(bytes.len() / 2);
            for (index, unit) in char::decode_utf16(units).enumerate() {
                match unit {
                    Ok(c) => text.push(c),
                    Err(_) => {
                        return Err(DecodeError::new(DecodeProblem::InvalidEncoding, Some(format))
                            .offset(index * 2)
                            .detail(format!("an unpaired surrogate in {}", charset.name())));
                    }
                }
            }
            Ok(Cow::Owned(text.into_bytes()))
        }
    }
}

/// windows-1252 differs from ISO-8859-1 in 0x80..=0x9F only.
fn windows_1252(b: u8) -> char {
    const HIGH: [char; 32] = [
        '\u{20AC}', '\u{81}', '\u{201A}', '\u{0192}', '\u{201E}', '\u{2026}', '\u{2020}', '\u{2021}',
        '\u{02C6}', '\u{2030}', '\u{0160}', '\u{2039}', '\u{0152}', '\u{8D}', '\u{017D}', '\u{8F}', '\u{90}',
        '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}', '\u{2022}', '\u{2013}', '\u{2014}', '\u{02DC}',
        '\u{2122}', '\u{0161}', '\u{203A}', '\u{0153}', '\u{9D}', '\u{017E}', '\u{0178}',
    ];
    match b {
        0x80..=0x9F => HIGH[usize::from(b - 0x80)],
        _ => b as char,
    }
}

/// A UTF-16 body without a mark starts with an ASCII character (`{`, `<`,
/// whitespace), so one of its first two bytes is NUL.
fn utf16_without_mark(body: &[u8]) -> Option<Charset> {
    match body {
        [0, b, ..] if *b != 0 => Some(Charset::Utf16Be),
        [b, 0, ..] if *b != 0 => Some(Charset::Utf16Le),
        _ => None,
    }
}

/// The `encoding` of an XML declaration at the very start of `body`.
fn xml_declared_encoding(body: &[u8]) -> Option<&str> {
    let head = body.get(..body.len().min(256))?;
    if !head.starts_with(b"<?xml") {
        return None;
    }
    // Byte searches: `str::find` with a `&str` needle sets up a two-way
    // searcher, which costs more than the whole scan of a short declaration.
    let end = detect::find(head, b"?>")?;
    let declaration = std::str::from_utf8(&head[..end]).ok()?;
    let after = &declaration[detect::find(declaration.as_bytes(), b"encoding")? + "encoding".len()..];
    let after = after.trim_start().strip_prefix('=')?.trim_start();
    let quote = after.chars().next().filter(|&c| c == '"' || c == '\'')?;
    let value = &after[1..];
    Some(&value[..value.find(quote)?])
}

/// A charset label as it may appear in a message: a bounded run of label characters.
fn safe_label(label: &str) -> String {
    label
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
        .take(32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boms_are_stripped_and_decoded() {
        assert_eq!(&*to_utf8(b"\xEF\xBB\xBF{}", None, Format::Json).unwrap(), b"{}");
        assert_eq!(&*to_utf8(b"\xFF\xFE{\0}\0", None, Format::Json).unwrap(), b"{}");
        assert_eq!(&*to_utf8(b"\xFE\xFF\0{\0}", None, Format::Json).unwrap(), b"{}");
    }

    #[test]
    fn declared_charsets_are_transcoded() {
        let latin = to_utf8(b"\"caf\xE9\"", Some("ISO-8859-1"), Format::Json).unwrap();
        assert_eq!(std::str::from_utf8(&latin).unwrap(), "\"café\"");
        let cp = to_utf8(b"\"\x80 5\"", Some("windows-1252"), Format::Json).unwrap();
        assert_eq!(std::str::from_utf8(&cp).unwrap(), "\"€ 5\"");
        let xml = to_utf8(
            b"<?xml version='1.0' encoding='latin1'?><a>\xE9</a>",
            None,
            Format::Xml,
        )
        .unwrap();
        assert!(std::str::from_utf8(&xml).unwrap().ends_with("<a>é</a>"));
    }

    #[test]
    fn unknown_charsets_are_refused() {
        let err = to_utf8(b"{}", Some("shift_jis"), Format::Json).unwrap_err();
        assert_eq!(err.problem(), DecodeProblem::UnsupportedCharset);
        assert!(err.message().contains("shift_jis"));
    }

    #[test]
    fn broken_utf16_is_an_encoding_problem() {
        let err = to_utf8(b"\xFF\xFE{\0\x00\xD8", None, Format::Json).unwrap_err();
        assert_eq!(err.problem(), DecodeProblem::InvalidEncoding);
        let err = to_utf8(b"\xFF\xFE{\0}", None, Format::Json).unwrap_err();
        assert_eq!(err.problem(), DecodeProblem::InvalidEncoding);
    }
}
