//! Short, bounded, secret-scrubbed excerpts of a body for error messages.
//!
//! A decode error is far easier to act on with a glimpse of the bytes that
//! broke, but a response body may carry tokens and passwords, and conn's
//! errors never show a secret. So an excerpt is cut from a wider window, that
//! window is scrubbed first (so a key just outside the excerpt still hides its
//! value inside it), and only then is the excerpt bounded.
//!
//! The scrubber is `conn_core::scrub_secrets` plus rules of its own; it is
//! deliberately simple and errs towards hiding too much. Hidden values become
//! `<redacted>`:
//!
//! - the value after a sensitive key (`token=...`, `"password": "..."`,
//!   `secret: ...`, `<api_key>...</api_key>`, `authorization='...'`);
//! - the credential after an auth scheme word (`Bearer ...`, `Basic ...`);
//! - any run of 32 or more token-like characters (JWTs, API keys, long hex or
//!   base64), whatever precedes it (conn-core hides runs of 24 with a digit).

/// Replacement for a hidden value: the same marker as conn-core's scrubber.
const HIDDEN: &str = conn_core::REDACTED;

/// Key names (matched case-insensitively at the start of a word) whose value is hidden.
/// A word starts after any non-alphanumeric byte, so `access_token`, `x-api-key`
/// and `client_secret` are caught through `token`, `key` and `secret`.
const KEYS: [&str; 16] = [
    "password",
    "passwd",
    "pwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "api_key",
    "key",
    "authorization",
    "auth",
    "credential",
    "session",
    "cookie",
    "signature",
    "sig",
];

/// Auth scheme words whose following credential is hidden.
const SCHEMES: [&str; 5] = ["bearer", "basic", "digest", "negotiate", "token"];

/// Runs of token-like characters at least this long are hidden.
const LONG_RUN: usize = 32;

/// How far around the error the scrubber looks before the excerpt is cut.
const SCRUB_WINDOW: usize = 256;

/// A private-use character marking the error position through scrubbing.
const MARK: char = '\u{E000}';

/// Hides secrets in `input`: conn-core's scrubber first (the project's one
/// list of secret shapes), then this module's rules, which add what bodies
/// need beyond logs: XML element and single-quoted attribute forms, escaped
/// JSON, and shorter opaque tokens.
pub(crate) fn scrub(input: &str) -> String {
    scrub_more(&conn_core::scrub_secrets(input))
}

/// This module's rules (see the module docs).
fn scrub_more(input: &str) -> String {
    let bytes = input.as_bytes();
    let mut out = String::with_capacity(input.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        let word_start = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        if word_start && bytes[i].is_ascii_alphabetic() {
            if let Some(span) = key_value_span(bytes, i) {
                out.push_str(&input[copied..span.0]);
                out.push_str(HIDDEN);
                copied = span.1;
                i = span.1;
                continue;
            }
            if let Some(span) = scheme_credential_span(bytes, i) {
                out.push_str(&input[copied..span.0]);
                out.push_str(HIDDEN);
                copied = span.1;
                i = span.1;
                continue;
            }
        }
        if is_token_byte(bytes[i]) && (i == 0 || !is_token_byte(bytes[i - 1])) {
            let end = run_end(bytes, i, is_token_byte);
            if end - i >= LONG_RUN {
                out.push_str(&input[copied..i]);
                out.push_str(HIDDEN);
                copied = end;
                i = end;
                continue;
            }
            // A short run is walked byte by byte: `access_token` holds a key
            // at a word start inside the run.
        }
        i += 1;
    }
    out.push_str(&input[copied..]);
    out
}

/// A bounded, scrubbed, single-line excerpt of `body` around byte `offset`:
/// at most `max_chars` characters, at least a third of them before the offset.
pub(crate) fn excerpt(body: &[u8], offset: usize, max_chars: usize) -> String {
    if max_chars == 0 || body.is_empty() {
        return String::new();
    }
    let offset = offset.min(body.len());
    let start = offset.saturating_sub(SCRUB_WINDOW);
    let end = offset.saturating_add(SCRUB_WINDOW).min(body.len());
    // Lossy: a window edge may split a character, and the body may not be
    // valid UTF-8 at all (that may be the very error being reported).
    let before = String::from_utf8_lossy(&body[start..offset]);
    let after = String::from_utf8_lossy(&body[offset..end]);
    let mut marked = String::with_capacity(before.len() + after.len() + MARK.len_utf8());
    marked.push_str(&before);
    marked.push(MARK);
    marked.push_str(&after);
    let scrubbed = scrub(&marked);
    let chars: Vec<char> = scrubbed.chars().collect();
    // The mark is gone when it sat inside a hidden value: centre on the start then.
    let at = chars.iter().position(|&c| c == MARK).unwrap_or(0);
    // About a third before the error, more when the text ends soon after it
    // (a truncated body's excerpt is all "before").
    let after = chars.len().saturating_sub(at + 1);
    let lead = (max_chars / 3).max(max_chars.saturating_sub(after));
    let from = at.saturating_sub(lead);
    chars[from..]
        .iter()
        .filter(|&&c| c != MARK)
        .take(max_chars)
        .map(|&c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// A scrubbed, single-line snippet of at most `max_chars` characters (for an
/// HTML page's title and the like).
pub(crate) fn snippet(text: &str, max_chars: usize) -> String {
    let collapsed: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    scrub(&collapsed)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max_chars)
        .collect()
}

/// If a sensitive key starts at `i`, the byte span of its value.
fn key_value_span(bytes: &[u8], i: usize) -> Option<(usize, usize)> {
    let key_len = KEYS
        .iter()
        .find(|key| starts_with_ignore_case(&bytes[i..], key.as_bytes()))?
        .len();
    // The rest of the name: `token_type`, `password2`, `api-key-id`.
    let mut j = run_end(bytes, i + key_len, |b| {
        b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
    });
    // The closing quote of a JSON key (escaped too, inside a JSON string).
    for _ in 0..2 {
        if matches!(bytes.get(j), Some(b'"' | b'\'' | b'\\')) {
            j += 1;
        }
    }
    j = run_end(bytes, j, |b| b == b' ' || b == b'\t');
    let separator = *bytes.get(j)?;
    if !matches!(separator, b'=' | b':' | b'>') {
        return None;
    }
    j += 1;
    if separator != b'>' {
        j = run_end(bytes, j, |b| b == b' ' || b == b'\t');
    }
    value_span(bytes, j, separator == b'>')
}

/// If an auth scheme word followed by a credential starts at `i`, the span of the credential.
fn scheme_credential_span(bytes: &[u8], i: usize) -> Option<(usize, usize)> {
    let word = SCHEMES
        .iter()
        .find(|word| starts_with_ignore_case(&bytes[i..], word.as_bytes()))?;
    let after = i + word.len();
    if bytes.get(after).is_some_and(|b| b.is_ascii_alphanumeric()) {
        return None; // a longer word (`tokens`, `basics`)
    }
    let start = run_end(bytes, after, |b| b == b' ');
    if start == after {
        return None;
    }
    let end = run_end(bytes, start, is_token_byte);
    (end > start).then_some((start, end))
}

/// The span of the value starting at `j`: a quoted string, element text, or a bare word.
fn value_span(bytes: &[u8], j: usize, element_text: bool) -> Option<(usize, usize)> {
    let first = *bytes.get(j)?;
    let (start, end) = if element_text {
        (j, run_end(bytes, j, |b| b != b'<'))
    } else if first == b'"' || first == b'\'' {
        (j + 1, run_end(bytes, j + 1, |b| b != first))
    } else if first == b'\\' && matches!(bytes.get(j + 1), Some(b'"' | b'\'')) {
        // An escaped quote: a JSON document inside a JSON string.
        (
            j + 2,
            run_end(bytes, j + 2, |b| b != b'\\' && b != b'"' && b != b'\''),
        )
    } else {
        let end = run_end(bytes, j, is_bare_value_byte);
        // `Authorization: Bearer abc`: hide the credential after the scheme too.
        let word = &bytes[j..end];
        let end = if SCHEMES.iter().any(|s| word.eq_ignore_ascii_case(s.as_bytes())) {
            scheme_credential_span(bytes, j).map_or(end, |(_, e)| e)
        } else {
            end
        };
        (j, end)
    };
    (end > start).then_some((start, end))
}

/// The first index at or after `from` whose byte fails `keep`.
fn run_end(bytes: &[u8], from: usize, keep: impl Fn(u8) -> bool) -> usize {
    let from = from.min(bytes.len());
    bytes[from..]
        .iter()
        .position(|&b| !keep(b))
        .map_or(bytes.len(), |p| from + p)
}

fn starts_with_ignore_case(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.len() >= needle.len() && haystack[..needle.len()].eq_ignore_ascii_case(needle)
}

/// Characters of tokens, keys, JWTs, base64 and hex.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'+' | b'/' | b'=')
}

/// Characters of an unquoted value (query strings, headers, YAML-ish text).
/// Multi-byte UTF-8 counts as part of the value.
fn is_bare_value_byte(b: u8) -> bool {
    !(b.is_ascii_whitespace()
        || matches!(
            b,
            b'&' | b',' | b';' | b'<' | b'>' | b'"' | b'\'' | b'}' | b']' | b')'
        ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hides_values_after_sensitive_keys() {
        let cases = [
            (r#"{"password":"hunter2","user":"ada"}"#, "hunter2"),
            (r#"{"access_token" : "abc.def"}"#, "abc.def"),
            ("grant=x&client_secret=s3cr3t&x=1", "s3cr3t"),
            ("token=abc123 rest", "abc123"),
            ("<api_key>k-123</api_key>", "k-123"),
            (r#"<login password="pw 1"/>"#, "pw 1"),
            ("Authorization: Bearer abc.def", "abc.def"),
            ("authorization=Basic dXNlcjpwYXNz", "dXNlcjpwYXNz"),
            ("sent Bearer eyJhbGc.xyz along", "eyJhbGc.xyz"),
            ("x-api-key: 1234", "1234"),
        ];
        for (input, secret) in cases {
            let out = scrub(input);
            assert!(!out.contains(secret), "{input:?} -> {out:?}");
            assert!(out.contains(HIDDEN), "{input:?} -> {out:?}");
        }
    }

    #[test]
    fn hides_long_token_runs() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abc";
        let out = scrub(&format!("{{\"data\": \"{jwt}\"}}"));
        assert!(!out.contains(jwt));
    }

    #[test]
    fn leaves_ordinary_text_alone() {
        let input = r#"{"id": 7, "monkey": "banana", "name": "Ada"}"#;
        assert_eq!(scrub(input), input);
    }

    #[test]
    fn excerpt_is_bounded_single_line_and_scrubbed() {
        let body = format!("{}\n{{\"password\": \"hunter2\", \"oops\" 1}}", "x ".repeat(300));
        let at = body.find("\"oops\"").unwrap();
        let text = excerpt(body.as_bytes(), at, 64);
        assert!(text.chars().count() <= 64);
        assert!(!text.contains("hunter2"));
        assert!(!text.contains('\n'));
        assert!(text.contains("oops"));
    }

    #[test]
    fn excerpt_of_invalid_utf8_is_lossy_not_a_panic() {
        let body = b"{\"a\": \"\xff\xfe\"}";
        let text = excerpt(body, 7, 64);
        assert!(text.contains('\u{FFFD}'));
    }
}
