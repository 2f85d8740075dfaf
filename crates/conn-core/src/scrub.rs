//! Scrubbing secrets out of text that is about to be logged or put in an error.

/// Key names whose values are secrets wherever they appear (JSON, form
/// bodies, query strings, headers), compared case-insensitively as substrings.
const SECRET_KEYS: [&str; 12] = [
    "token",
    "secret",
    "password",
    "passwd",
    "api_key",
    "apikey",
    "api-key",
    "authorization",
    "cookie",
    "session",
    "signature",
    "credential",
];

/// The replacement for a scrubbed value.
pub const REDACTED: &str = "<redacted>";

/// Replaces what looks like a secret in `text`: the values of secret-named
/// keys (`"access_token": "…"`, `password=…`, `api_key: …`), bearer and basic
/// credentials, and long unbroken runs of token-like characters (opaque
/// tokens, JWTs, keys). Used before any body or upstream message enters a
/// log line or an error.
///
/// ```
/// use conn_core::scrub_secrets;
///
/// let body = r#"{"error":"invalid_grant","refresh_token":"rt-8f7e6d5c","hint":"Bearer abc.def"}"#;
/// let clean = scrub_secrets(body);
/// assert!(!clean.contains("rt-8f7e6d5c") && !clean.contains("abc.def"));
/// assert!(clean.contains("invalid_grant"));
/// ```
pub fn scrub_secrets(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        if let Some((consumed, replaced)) = secret_at(rest) {
            out.push_str(&replaced);
            rest = &rest[consumed..];
            continue;
        }
        let Some(c) = rest.chars().next() else { break };
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Whether `byte` can be part of an opaque token.
fn token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~' | b'+' | b'/' | b'=')
}

/// If a secret starts at the beginning of `text`: how many bytes it spans
/// and what replaces them.
fn secret_at(text: &str) -> Option<(usize, String)> {
    let bytes = text.as_bytes();
    // "Bearer <credential>" / "Basic <credential>"
    for scheme in ["bearer ", "basic "] {
        if bytes.len() > scheme.len() && bytes[..scheme.len()].eq_ignore_ascii_case(scheme.as_bytes()) {
            let value_len = bytes[scheme.len()..]
                .iter()
                .take_while(|b| token_byte(**b))
                .count();
            if value_len > 0 {
                return Some((
                    scheme.len() + value_len,
                    format!("{}{REDACTED}", &text[..scheme.len()]),
                ));
            }
        }
    }
    // A secret-named key followed by a separator and a value.
    let key_len = bytes
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
        .count();
    if key_len > 0 {
        let key = text[..key_len].to_ascii_lowercase();
        if SECRET_KEYS.iter().any(|k| key.contains(k)) {
            // Skip a closing quote, then `=` or `:`, whitespace and an opening quote.
            let mut i = key_len;
            if bytes.get(i) == Some(&b'"') {
                i += 1;
            }
            while bytes.get(i).is_some_and(|b| *b == b' ') {
                i += 1;
            }
            if matches!(bytes.get(i), Some(b'=') | Some(b':')) {
                i += 1;
                while bytes.get(i).is_some_and(|b| *b == b' ') {
                    i += 1;
                }
                let quoted = bytes.get(i) == Some(&b'"');
                if quoted {
                    i += 1;
                }
                let value_len = if quoted {
                    bytes[i..].iter().take_while(|b| **b != b'"').count()
                } else {
                    // Spaces do not end an unquoted value, so `Authorization:
                    // Bearer x` loses its scheme and its credential alike.
                    bytes[i..]
                        .iter()
                        .take_while(|b| !matches!(b, b'&' | b',' | b';' | b'}' | b'\n' | b'"'))
                        .count()
                };
                if value_len > 0 {
                    return Some((i + value_len, format!("{}{REDACTED}", &text[..i])));
                }
            }
        }
        // Not a secret key: copy the whole word at once, so a key's tail is
        // never mistaken for the start of another key.
        if key_len < 24 {
            return Some((key_len, text[..key_len].to_owned()));
        }
    }
    // A long unbroken run of token characters is an opaque credential.
    let run = bytes.iter().take_while(|b| token_byte(**b)).count();
    if run >= 24 && bytes[..run].iter().any(u8::is_ascii_digit) {
        return Some((run, REDACTED.to_owned()));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubs_every_form() {
        let cases = [
            (r#"{"access_token":"abc123","expires_in":3600}"#, "abc123"),
            (r#"{"refresh_token": "rt-1"}"#, "rt-1"),
            (
                "grant_type=refresh_token&refresh_token=rt-2&client_secret=cs-3",
                "rt-2",
            ),
            (
                "grant_type=refresh_token&refresh_token=rt-2&client_secret=cs-3",
                "cs-3",
            ),
            ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig", "eyJhbGci"),
            ("auth: Basic dXNlcjpwYXNz", "dXNlcjpwYXNz"),
            ("password=hunter2", "hunter2"),
            ("X-Api-Key: k-77", "k-77"),
            (
                "opaque sk_live_51HxYzAbCdEfGh1234567890 here",
                "sk_live_51HxYzAbCdEfGh1234567890",
            ),
        ];
        for (text, secret) in cases {
            let clean = scrub_secrets(text);
            assert!(!clean.contains(secret), "{text:?} -> {clean:?}");
            assert!(clean.contains(REDACTED), "{text:?} -> {clean:?}");
        }
    }

    #[test]
    fn keeps_what_is_not_secret() {
        for text in [
            r#"{"error":"invalid_grant","error_description":"Token has been revoked"}"#,
            "<html><body>502 Bad Gateway</body></html>",
            "page=2&sort=name",
            "ünïcödé text",
        ] {
            assert_eq!(scrub_secrets(text), text);
        }
    }
}
