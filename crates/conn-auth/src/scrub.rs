//! Scrubbing: removes anything that looks like a credential from text that
//! came from outside (a token endpoint's error body) before it enters an
//! error message or a log.

use conn_core::REDACTED;

/// Removes what looks like a credential from `text`, with
/// [`conn_core::scrub_secrets`] (the one set of secret shapes every conn
/// crate uses): values of secret-named keys in JSON, form, XML or header
/// notation, the credential after an auth scheme word, and long token-like
/// runs.
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
    // conn-core's scrubber: the one set of secret shapes every conn crate uses.
    conn_core::scrub_secrets(&text)
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
