//! Which format a body is in: the `Content-Type` header, the body's first
//! bytes, or both ([`Detection`]).

use std::borrow::Cow;

use conn_core::Format;

/// How the format of a body is decided.
///
/// ```
/// use conn_core::Format;
/// use conn_normalize::{Detection, Normalize};
///
/// let strict = Normalize::builder().detect(Detection::Header).build();
/// let forced = Normalize::builder().detect(Detection::Force(Format::Xml)).build();
/// # let _ = (strict, forced);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Detection {
    /// The header decides when it names JSON or XML and the body does not
    /// contradict it (a "JSON" body starting with `<`, an "XML" body starting
    /// with `{` or `[`); otherwise, and when the header is missing or names
    /// another type (`text/plain`, `application/octet-stream`, `text/html`),
    /// the body is sniffed. The default.
    #[default]
    Auto,
    /// Only the header decides: a missing header or one naming neither JSON
    /// nor XML is [`DecodeProblem::UnknownFormat`](crate::DecodeProblem::UnknownFormat).
    Header,
    /// Only the body decides; the header is ignored (its charset still counts).
    Sniff,
    /// Always this format, whatever the header and the body say. Forcing
    /// [`Format::Empty`] ignores every body.
    Force(Format),
}

/// A parsed `Content-Type` value: the essence (`type/subtype`, lower case) and the charset.
///
/// ```
/// use conn_core::Format;
/// use conn_normalize::MediaType;
///
/// let media = MediaType::parse("application/problem+json; charset=UTF-8").unwrap();
/// assert_eq!(media.essence(), "application/problem+json");
/// assert_eq!(media.charset(), Some("UTF-8"));
/// assert_eq!(media.format(), Some(Format::Json));
/// assert_eq!(MediaType::parse("text/xml").unwrap().format(), Some(Format::Xml));
/// assert_eq!(MediaType::parse("text/html").unwrap().format(), None);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaType {
    essence: Cow<'static, str>,
    charset: Option<String>,
}

/// The types most responses carry, kept as `&'static str`: parsing them
/// (once per response) then allocates nothing.
const COMMON_TYPES: [&str; 6] = [
    "application/json",
    "application/problem+json",
    "application/xml",
    "text/xml",
    "text/json",
    "text/html",
];

impl MediaType {
    /// Parses a `Content-Type` value; `None` when it has no `type/subtype`.
    pub fn parse(value: &str) -> Option<MediaType> {
        // Byte positions rather than `split`/`split_once`: this runs on
        // every response, and their char searchers cost several times
        // more on values this short (measured).
        let (essence, params) = match find_byte(value, b';') {
            Some(semicolon) => (&value[..semicolon], Some(&value[semicolon + 1..])),
            None => (value, None),
        };
        let essence = essence.trim();
        let slash = find_byte(essence, b'/')?;
        let token = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic() && b != b'/');
        if !token(&essence[..slash]) || !token(&essence[slash + 1..]) {
            return None;
        }
        let charset = params.and_then(|params| {
            params.split(';').find_map(|param| {
                let (name, value) = param.split_once('=')?;
                name.trim()
                    .eq_ignore_ascii_case("charset")
                    .then(|| value.trim().trim_matches('"').to_owned())
                    .filter(|v| !v.is_empty())
            })
        });
        let essence = match COMMON_TYPES
            .iter()
            .find(|known| known.eq_ignore_ascii_case(essence))
        {
            Some(known) => Cow::Borrowed(*known),
            None => Cow::Owned(essence.to_ascii_lowercase()),
        };
        Some(MediaType { essence, charset })
    }

    /// `type/subtype` in lower case.
    pub fn essence(&self) -> &str {
        &self.essence
    }

    /// The `charset` parameter, as written.
    pub fn charset(&self) -> Option<&str> {
        self.charset.as_deref()
    }

    /// The format the type names: JSON for `application/json`, `text/json` and
    /// any `+json` suffix; XML for `application/xml`, `text/xml` and any `+xml`
    /// suffix; `None` otherwise (HTML included).
    pub fn format(&self) -> Option<Format> {
        let essence = &*self.essence;
        if matches!(essence, "application/json" | "text/json") || essence.ends_with("+json") {
            Some(Format::Json)
        } else if self.is_html() {
            None
        } else if matches!(essence, "application/xml" | "text/xml") || essence.ends_with("+xml") {
            Some(Format::Xml)
        } else {
            None
        }
    }

    /// Whether the type is HTML (`text/html`, `application/xhtml+xml`).
    pub fn is_html(&self) -> bool {
        matches!(&*self.essence, "text/html" | "application/xhtml+xml")
    }
}

/// What to parse a body as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Decision {
    /// The format to parse, `None` when neither fits.
    pub(crate) format: Option<Format>,
    /// The format the header promised, for messages.
    pub(crate) expected: Option<Format>,
    /// Whether an HTML page is reported as such rather than parsed.
    pub(crate) check_html: bool,
}

/// Decides the format of `body` under `mode`.
pub(crate) fn decide(mode: Detection, media: Option<&MediaType>, body: &[u8]) -> Decision {
    let declared = media.and_then(MediaType::format);
    let first = first_significant(body);
    let format = match mode {
        Detection::Force(format) => {
            return Decision {
                format: Some(format),
                expected: Some(format),
                check_html: false,
            };
        }
        Detection::Header => declared,
        Detection::Sniff => sniff(body, first),
        Detection::Auto => match (declared, first) {
            (Some(Format::Json), Some(b'<')) => Some(Format::Xml),
            (Some(Format::Xml), Some(b'{' | b'[')) => Some(Format::Json),
            (Some(format), _) => Some(format),
            (None, _) => sniff(body, first),
        },
    };
    Decision {
        format,
        expected: declared,
        check_html: first == Some(b'<'),
    }
}

/// The format the body's first bytes suggest.
fn sniff(body: &[u8], first: Option<u8>) -> Option<Format> {
    match first? {
        b'{' | b'[' | b'"' => Some(Format::Json),
        b'<' => Some(Format::Xml),
        b'-' | b'0'..=b'9' | b't' | b'f' | b'n' if is_json_scalar(body) => Some(Format::Json),
        _ => None,
    }
}

/// Whether the whole (trimmed) body is a bare JSON number or literal, so that
/// a plain-text "404 Not Found" is not taken for JSON.
fn is_json_scalar(body: &[u8]) -> bool {
    let text = body.trim_ascii();
    matches!(text, b"true" | b"false" | b"null")
        || (!text.is_empty()
            && text
                .iter()
                .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E')))
}

/// The first byte that is not whitespace, a byte order mark or a NUL (the
/// high half of an ASCII character in UTF-16), if any in the first few KiB.
fn first_significant(body: &[u8]) -> Option<u8> {
    let body = body
        .strip_prefix(b"\xEF\xBB\xBF")
        .or_else(|| body.strip_prefix(b"\xFF\xFE"))
        .or_else(|| body.strip_prefix(b"\xFE\xFF"))
        .unwrap_or(body);
    body.iter()
        .take(4096)
        .copied()
        .find(|&b| !b.is_ascii_whitespace() && b != 0)
}

/// Whether `text` (UTF-8, no mark) is an HTML page: its first tag, after an
/// XML declaration, processing instructions and comments, is `<!DOCTYPE html`
/// or `<html`.
pub(crate) fn looks_like_html(text: &[u8]) -> bool {
    let mut rest = &text[..text.len().min(4096)];
    loop {
        rest = rest.trim_ascii_start();
        let skip = if rest.starts_with(b"<?") {
            find(rest, b"?>").map(|end| end + 2)
        } else if rest.starts_with(b"<!--") {
            find(rest, b"-->").map(|end| end + 3)
        } else {
            break;
        };
        match skip {
            Some(end) => rest = &rest[end..],
            None => return false,
        }
    }
    let tag_is = |tag: &[u8]| {
        rest.len() > tag.len()
            && rest[..tag.len()].eq_ignore_ascii_case(tag)
            && matches!(rest[tag.len()], b' ' | b'\t' | b'\r' | b'\n' | b'>' | b'/')
    };
    tag_is(b"<!doctype html") || tag_is(b"<html")
}

/// The text of an HTML page's `<title>`, if it has one in its first 8 KiB.
pub(crate) fn html_title(text: &[u8]) -> Option<&[u8]> {
    let head = &text[..text.len().min(8192)];
    let lower = head.to_ascii_lowercase();
    let open = find(&lower, b"<title")?;
    let start = open + lower[open..].iter().position(|&b| b == b'>')? + 1;
    let end = start + find(&lower[start..], b"</")?;
    Some(&head[start..end])
}

/// Where `needle` first occurs in `haystack`. Jumps between occurrences of the
/// needle's first byte (a vectorised scan) rather than comparing every window:
/// this runs on every XML body, before it is parsed.
pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let Some((&first, rest)) = needle.split_first() else {
        return Some(0);
    };
    let mut from = 0;
    while let Some(i) = haystack.get(from..)?.iter().position(|&b| b == first) {
        let at = from + i;
        if haystack[at + 1..].starts_with(rest) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Where `byte` first occurs in `text`.
fn find_byte(text: &str, byte: u8) -> Option<usize> {
    text.bytes().position(|b| b == byte)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn media(value: &str) -> MediaType {
        MediaType::parse(value).unwrap()
    }

    #[test]
    fn content_types_name_formats() {
        for json in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/vnd.api+json",
            "text/json",
        ] {
            assert_eq!(media(json).format(), Some(Format::Json), "{json}");
        }
        for xml in [
            "application/xml",
            "text/xml;charset=\"ISO-8859-1\"",
            "application/atom+xml",
            "application/soap+xml",
        ] {
            assert_eq!(media(xml).format(), Some(Format::Xml), "{xml}");
        }
        for other in [
            "text/html",
            "application/xhtml+xml",
            "text/plain",
            "application/octet-stream",
        ] {
            assert_eq!(media(other).format(), None, "{other}");
        }
        assert_eq!(
            media("text/xml;charset=\"ISO-8859-1\"").charset(),
            Some("ISO-8859-1")
        );
        assert!(MediaType::parse("nonsense").is_none());
        assert!(MediaType::parse("/json").is_none());
    }

    #[test]
    fn auto_trusts_an_agreeing_header_and_sniffs_otherwise() {
        let json = Some(media("application/json"));
        let xml = Some(media("application/xml"));
        let plain = Some(media("text/plain"));
        let d = |m: &Option<MediaType>, body: &[u8]| decide(Detection::Auto, m.as_ref(), body).format;
        assert_eq!(d(&json, b"{}"), Some(Format::Json));
        assert_eq!(d(&json, b"<a/>"), Some(Format::Xml));
        assert_eq!(d(&xml, b" [1]"), Some(Format::Json));
        assert_eq!(d(&xml, b"<a/>"), Some(Format::Xml));
        assert_eq!(d(&plain, b"<a/>"), Some(Format::Xml));
        assert_eq!(d(&None, b"\xEF\xBB\xBF{}"), Some(Format::Json));
        assert_eq!(d(&None, b"\xFF\xFE<\0a\0/\0>\0"), Some(Format::Xml));
        assert_eq!(d(&None, b"42"), Some(Format::Json));
        assert_eq!(d(&None, b"true"), Some(Format::Json));
        assert_eq!(d(&None, b"404 Not Found"), None);
        assert_eq!(d(&None, b"Service Unavailable"), None);
    }

    #[test]
    fn header_mode_needs_a_known_header() {
        assert_eq!(decide(Detection::Header, None, b"{}").format, None);
        let xml = media("text/xml");
        assert_eq!(
            decide(Detection::Header, Some(&xml), b"{}").format,
            Some(Format::Xml)
        );
        assert_eq!(
            decide(Detection::Sniff, Some(&xml), b"{}").format,
            Some(Format::Json)
        );
    }

    #[test]
    fn find_matches_windows() {
        let cases: [(&[u8], &[u8]); 7] = [
            (b"<?xml?>", b"?>"),
            (b"??>", b"?>"),
            (b"a-->", b"-->"),
            (b"--", b"-->"),
            (b"", b"x"),
            (b"abc", b""),
            (b"xencodingencoding", b"encoding"),
        ];
        for (haystack, needle) in cases {
            let windows = if needle.is_empty() {
                Some(0)
            } else {
                haystack.windows(needle.len()).position(|w| w == needle)
            };
            assert_eq!(find(haystack, needle), windows, "{haystack:?} {needle:?}");
        }
    }

    #[test]
    fn html_pages_are_recognised() {
        assert!(looks_like_html(b"<!DOCTYPE html><html><body>x</body></html>"));
        assert!(looks_like_html(b"\n <HTML>\n<head><title>502</title>"));
        assert!(looks_like_html(
            b"<?xml version=\"1.0\"?><!-- x --><html xmlns=\"x\">"
        ));
        assert!(!looks_like_html(b"<htmlish/>"));
        assert!(!looks_like_html(b"<data><![CDATA[<html>]]></data>"));
        assert_eq!(
            html_title(b"<html><head><TITLE>502 Bad Gateway</title>"),
            Some(&b"502 Bad Gateway"[..])
        );
    }
}
