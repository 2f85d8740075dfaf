//! Short, bounded, secret-scrubbed excerpts of a body for error messages.
//!
//! A decode error is far easier to act on with a glimpse of the bytes that
//! broke, but a response body may carry tokens and passwords, and conn's
//! errors never show a secret. So an excerpt is cut from a wider window, that
//! window is scrubbed first (so a key just outside the excerpt still hides its
//! value inside it), and only then is the excerpt bounded.
//!
//! The scrubber is `conn_core::scrub_secrets`; it is deliberately simple
//! and errs towards hiding too much. Hidden values become
//! `<redacted>`:
//!
//! - the value after a sensitive key (`token=...`, `"password": "..."`,
//!   `secret: ...`, `<api_key>...</api_key>`, `authorization='...'`);
//! - the credential after an auth scheme word (`Bearer ...`, `Basic ...`);
//! - any run of 32 or more token-like characters (JWTs, API keys, long hex or
//!   base64), whatever precedes it (conn-core hides runs of 24 with a digit).

/// How far around the error the scrubber looks before the excerpt is cut.
const SCRUB_WINDOW: usize = 256;

/// A private-use character marking the error position through scrubbing.
const MARK: char = '\u{E000}';

/// Hides secrets in `input` with conn-core's scrubber: the project's one
/// set of secret shapes, for logs, errors and excerpts alike.
pub(crate) fn scrub(input: &str) -> String {
    conn_core::scrub_secrets(input)
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
            assert!(out.contains(conn_core::REDACTED), "{input:?} -> {out:?}");
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
