//! Scrubbing: removes anything that looks like a credential from text that
//! came from outside (a token endpoint's error body) before it enters an
//! error message or a log.

/// What a removed value is replaced with.
const REDACTED: &str = "<redacted>";

/// Keys whose values are credentials, in JSON (`"key": "value"`) or form
/// (`key=value`) notation. Matched case-insensitively, as whole words.
const SECRET_KEYS: [&str; 13] = [
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "client_assertion",
    "assertion",
    "password",
    "api_key",
    "apikey",
    "secret",
    "token",
    "code",
    "key",
];

/// Authorization schemes whose next word is a credential.
const SCHEMES: [&str; 2] = ["bearer", "basic"];

/// Runs of these characters are what base64, base64url and hex encodings
/// (and so most tokens) are made of.
fn is_encoding_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'_' | b'-')
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Removes what looks like a credential from `text`: what
/// [`conn_core::scrub_secrets`] removes, and more —
///
/// - the values of `access_token`, `refresh_token`, `id_token`,
///   `client_secret`, `password`, `code` and similar keys, in JSON or form
///   notation;
/// - the word after `Bearer` or `Basic`;
/// - long runs of base64 / base64url / hex characters: 32 or more, or 16 or
///   more mixing letters and digits; and JWTs (`eyJ...`), all their parts.
///
/// It errs on the side of removing too much: a long request id in an error
/// description is lost too.
///
/// ```
/// use conn_auth::scrub;
///
/// let body = r#"{"error":"invalid_grant","refresh_token":"rt-1","hint":"Bearer abc.def"}"#;
/// let clean = scrub(body);
/// assert!(!clean.contains("rt-1") && !clean.contains("abc.def"));
/// assert!(clean.contains("invalid_grant"));
///
/// assert_eq!(scrub("token 4f9a7c1e2b3d4a5f6e7d8c9b0a1f2e3d expired"), "token <redacted> expired");
/// ```
pub fn scrub(text: &str) -> String {
    scrub_with(text, &[])
}

/// [`scrub`], after replacing every occurrence of the `known` secrets (the
/// ones this process just sent, say).
pub(crate) fn scrub_with(text: &str, known: &[&str]) -> String {
    let mut text = text.to_owned();
    for secret in known {
        // Very short "secrets" would shred ordinary words; such secrets are
        // caught (if at all) by the other rules.
        if secret.len() >= 4 {
            text = text.replace(secret, REDACTED);
        }
    }
    // conn-core's scrubber first (what every conn crate scrubs), then the
    // stricter rules for token endpoints: their bodies are where tokens are.
    let text = conn_core::scrub_secrets(&text);
    let text = redact_key_values(&text);
    let text = redact_schemes(&text);
    redact_runs(&text)
}

/// Scrubs `text` and makes it fit on one line of a message: control
/// characters become spaces (no log injection) and at most `max_chars`
/// characters are kept.
pub(crate) fn for_message(text: &str, known: &[&str], max_chars: usize) -> String {
    let scrubbed = scrub_with(text, known);
    let mut out = String::with_capacity(scrubbed.len().min(max_chars + 3));
    for (count, c) in scrubbed.chars().enumerate() {
        if count == max_chars {
            out.push('…');
            break;
        }
        out.push(if c.is_control() { ' ' } else { c });
    }
    out.trim().to_owned()
}

/// Replaces the values of secret keys.
fn redact_key_values(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if let Some((start, end)) = secret_value_at(bytes, i) {
            out.push_str(&text[copied..start]);
            out.push_str(REDACTED);
            copied = end;
            i = end;
        } else {
            i += 1;
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// If a secret key starts at `i`, the byte range of its value.
///
/// Every index returned sits next to an ASCII byte (or at the end), so it is
/// a char boundary of the UTF-8 text.
fn secret_value_at(bytes: &[u8], i: usize) -> Option<(usize, usize)> {
    if i > 0 && is_word(bytes[i - 1]) {
        return None;
    }
    let quoted_key = i > 0 && matches!(bytes[i - 1], b'"' | b'\'');
    let key_len = SECRET_KEYS.iter().map(|k| k.len()).find(|&len| {
        bytes.get(i..i + len).is_some_and(|candidate| {
            SECRET_KEYS
                .iter()
                .any(|k| k.len() == len && candidate.eq_ignore_ascii_case(k.as_bytes()))
        }) && !bytes.get(i + len).is_some_and(|&b| is_word(b))
    })?;
    let mut j = i + key_len;
    // The closing quote of the key, possibly escaped (JSON inside a string).
    while j < bytes.len() && j < i + key_len + 2 && matches!(bytes[j], b'"' | b'\'' | b'\\') {
        j += 1;
    }
    while j < bytes.len() && bytes[j] == b' ' {
        j += 1;
    }
    // `key=value` anywhere; `"key": value` only when the key is quoted
    // (JSON): a colon after a bare word is usually prose.
    match bytes.get(j) {
        Some(b'=') => {}
        Some(b':') if quoted_key => {}
        _ => return None,
    }
    j += 1;
    while j < bytes.len() && bytes[j] == b' ' {
        j += 1;
    }
    let mut quoted_value = false;
    while j < bytes.len() && matches!(bytes[j], b'"' | b'\'' | b'\\') {
        quoted_value |= bytes[j] != b'\\';
        j += 1;
    }
    let start = j;
    let mut end = start;
    while end < bytes.len() {
        let b = bytes[end];
        let stop = if quoted_value {
            matches!(b, b'"' | b'\'' | b'\\')
        } else {
            b.is_ascii_whitespace()
                || matches!(b, b'&' | b',' | b';' | b'}' | b']' | b')' | b'"' | b'\'' | b'\\')
        };
        if stop {
            break;
        }
        end += 1;
    }
    (end > start).then_some((start, end))
}

/// Replaces the word after an authorization scheme name.
fn redact_schemes(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        let at_word_start = i == 0 || !is_word(bytes[i - 1]);
        let scheme = SCHEMES.iter().find(|s| {
            bytes
                .get(i..i + s.len())
                .is_some_and(|c| c.eq_ignore_ascii_case(s.as_bytes()))
        });
        if let (true, Some(scheme)) = (at_word_start, scheme) {
            let mut j = i + scheme.len();
            let spaces = j;
            while j < bytes.len() && bytes[j] == b' ' {
                j += 1;
            }
            let start = j;
            while j < bytes.len()
                && !bytes[j].is_ascii_whitespace()
                && !matches!(bytes[j], b'"' | b'\'' | b',')
            {
                j += 1;
            }
            // "Bearer" alone, or "tokens", is just a word.
            if start > spaces && j > start && &text[start..j] != REDACTED {
                out.push_str(&text[copied..start]);
                out.push_str(REDACTED);
                copied = j;
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// Replaces long runs of encoding characters.
fn redact_runs(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if !is_encoding_char(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        // `eyJ` is base64 for `{"`: the start of a JWT, whose dot-separated
        // parts go together (short ones included).
        let jwt = bytes[start..].starts_with(b"eyJ");
        while i < bytes.len() && (is_encoding_char(bytes[i]) || (jwt && bytes[i] == b'.')) {
            i += 1;
        }
        let run = &bytes[start..i];
        let digits = run.iter().any(u8::is_ascii_digit);
        let letters = run.iter().any(u8::is_ascii_alphabetic);
        if run.len() >= 32 || (run.len() >= 16 && digits && letters) || (jwt && run.len() >= 10) {
            out.push_str(&text[copied..start]);
            out.push_str(REDACTED);
            copied = i;
        }
    }
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_values_of_secret_keys_go() {
        let body =
            r#"{"access_token":"at-1","refresh_token": "rt 2", "id_token":"x","error":"invalid_grant"}"#;
        let clean = scrub(body);
        assert_eq!(
            clean,
            r#"{"access_token":"<redacted>","refresh_token": "<redacted>", "id_token":"<redacted>","error":"invalid_grant"}"#
        );
    }

    #[test]
    fn form_values_go_and_other_pairs_stay() {
        let clean = scrub("grant_type=refresh_token&refresh_token=rt-9&client_secret=cs&scope=read");
        assert_eq!(
            clean,
            "grant_type=refresh_token&refresh_token=<redacted>&client_secret=<redacted>&scope=read"
        );
    }

    #[test]
    fn escaped_json_inside_a_string_is_handled() {
        let clean = scrub(r#"upstream said {\"access_token\":\"at-7\"}"#);
        assert!(!clean.contains("at-7"), "{clean}");
    }

    #[test]
    fn schemes_lose_their_credential() {
        assert_eq!(
            scrub("sent Bearer abc.def.ghi here"),
            "sent Bearer <redacted> here"
        );
        assert_eq!(scrub("auth basic dXNlcjpwYXNz"), "auth basic <redacted>");
        assert_eq!(
            scrub("Authorization: Basic dXNlcjpwYXNz"),
            "Authorization: <redacted>"
        );
        // The scheme name alone, or inside a word, is prose.
        assert_eq!(scrub("a Bearer"), "a Bearer");
        assert_eq!(scrub("no bearers here"), "no bearers here");
    }

    #[test]
    fn prose_survives() {
        let text = "The refresh token is invalid, expired or revoked. See https://docs.example/errors";
        assert_eq!(scrub(text), text);
        assert_eq!(scrub("Token has been revoked"), "Token has been revoked");
    }

    #[test]
    fn long_encoded_runs_go() {
        assert_eq!(scrub("id 0123456789abcdef0123"), "id <redacted>");
        assert_eq!(scrub("x abcdefghijklmnopqrstuvwxyzABCDEFG y"), "x <redacted> y");
        let jwt = scrub("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl.");
        assert!(!jwt.contains("eyJ") && !jwt.contains("c2ln"), "{jwt}");
        // Short words and long words without digits stay.
        assert_eq!(scrub("internationalization"), "internationalization");
    }

    #[test]
    fn known_secrets_go_wherever_they_are() {
        assert_eq!(
            scrub_with("the key s3cr3 is wrong", &["s3cr3"]),
            "the key <redacted> is wrong"
        );
        // Too short to replace blindly.
        assert_eq!(scrub_with("a b c", &["b"]), "a b c");
    }

    #[test]
    fn messages_are_one_bounded_line() {
        assert_eq!(
            for_message("line one\nline two\r\n", &[], 100),
            "line one line two"
        );
        assert_eq!(for_message("abcdefgh", &[], 3), "abc…");
        assert_eq!(for_message("ééééé", &[], 2), "éé…");
    }

    #[test]
    fn non_ascii_text_is_safe_to_scan() {
        let text = "jeton expiré: «access_token=ßecret», ünïcode";
        let clean = scrub(text);
        assert!(!clean.contains("ßecret"), "{clean}");
        assert!(
            clean.contains("jeton expiré") && clean.contains("ünïcode"),
            "{clean}"
        );
    }
}
