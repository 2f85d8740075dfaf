//! `TokenResponse`: what a token endpoint answered, read without ever
//! quoting a secret.

use std::fmt;
use std::time::Duration;

use conn_core::TransportResponse;
use http::header::CONTENT_TYPE;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::Token;
use crate::scrub::for_message;

/// Longest lifetime believed: later expiries are clamped, so an absurd
/// `expires_in` can neither overflow an instant nor keep a token forever.
const MAX_LIFETIME: Duration = Duration::from_secs(366 * 24 * 3600);
/// How much of an error description makes it into a message.
const MAX_DESCRIPTION_CHARS: usize = 200;

/// A successful token response (RFC 6749 §5.1).
#[derive(Clone)]
pub struct TokenResponse {
    access_token: SecretString,
    token_type: Option<String>,
    expires_in: Option<Duration>,
    refresh_token: Option<SecretString>,
    scope: Option<String>,
}

impl TokenResponse {
    /// The access token.
    pub fn access_token(&self) -> &SecretString {
        &self.access_token
    }

    /// The token type the server declared (`Bearer`, usually).
    pub fn token_type(&self) -> Option<&str> {
        self.token_type.as_deref()
    }

    /// The lifetime the server declared; `None` when it sent no (readable)
    /// `expires_in`.
    pub fn expires_in(&self) -> Option<Duration> {
        self.expires_in
    }

    /// A new refresh token, when the server issued (or rotated) one.
    pub fn refresh_token(&self) -> Option<&SecretString> {
        self.refresh_token.as_ref()
    }

    /// The granted scope, when the server said.
    pub fn scope(&self) -> Option<&str> {
        self.scope.as_deref()
    }

    /// The access token as a [`Token`] for the cache.
    ///
    /// Its lifetime is the shorter of `expires_in` and, when the access
    /// token is a JWT, its own `exp` (read, not verified: see
    /// [`token_lifetime`](crate::token_lifetime)).
    pub fn into_token(self) -> Token {
        let lifetime = crate::jwt::token_lifetime(
            self.access_token.expose_secret(),
            self.expires_in,
            std::time::SystemTime::now(),
        );
        let mut token = Token::new(self.access_token);
        if let Some(lifetime) = lifetime {
            token = token.expires_in(lifetime);
        }
        if let Some(scope) = self.scope {
            token = token.scope(scope);
        }
        token
    }
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &"<redacted>")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "<redacted>"),
            )
            .field("scope", &self.scope)
            .finish()
    }
}

#[derive(Deserialize)]
struct RawToken {
    access_token: Option<SecretString>,
    token_type: Option<String>,
    expires_in: Option<serde_json::Value>,
    refresh_token: Option<SecretString>,
    scope: Option<String>,
}

/// Parses a successful token response; the error says what is wrong with
/// it without quoting it (a serde message can quote a value, and values
/// here are secrets).
pub(crate) fn parse_token_response(body: &[u8]) -> Result<TokenResponse, String> {
    let raw: RawToken = serde_json::from_slice(body).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => {
            format!(
                "its body is not a token response (a field has the wrong type, line {}, column {})",
                e.line(),
                e.column()
            )
        }
        _ => format!(
            "its body is not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        ),
    })?;
    let access_token = raw
        .access_token
        .filter(|t| !t.expose_secret().is_empty())
        .ok_or_else(|| "its body has no access_token".to_owned())?;
    let expires_in = raw.expires_in.as_ref().and_then(|value| {
        let seconds = match value {
            serde_json::Value::Number(n) => n.as_f64(),
            // Some servers send the number as a string.
            serde_json::Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        match seconds {
            Some(s) if s.is_finite() && s >= 0.0 => Some(Duration::from_secs_f64(s.min(MAX_LIFETIME.as_secs_f64()))),
            _ => {
                tracing::warn!(target: "conn_auth::token_endpoint", "unreadable expires_in ignored; the default lifetime applies");
                None
            }
        }
    });
    Ok(TokenResponse {
        access_token,
        token_type: raw
            .token_type
            .map(|t| t.chars().filter(|c| !c.is_control()).take(32).collect()),
        expires_in,
        refresh_token: raw.refresh_token.filter(|t| !t.expose_secret().is_empty()),
        scope: raw.scope.map(|s| s.chars().filter(|c| !c.is_control()).collect()),
    })
}

#[derive(Deserialize)]
struct RawError {
    error: Option<serde_json::Value>,
    error_description: Option<serde_json::Value>,
}

/// What an error body says, for a message (": invalid_grant (description)"),
/// and the OAuth error code if there is one.
pub(crate) fn describe_error_body(response: &TransportResponse, known: &[&str]) -> (String, Option<String>) {
    let body = response.body();
    if let Ok(raw) = serde_json::from_slice::<RawError>(body) {
        let code = match raw.error {
            Some(serde_json::Value::String(code)) => Some(sanitize_code(&code)),
            _ => None,
        };
        let description = match raw.error_description {
            Some(serde_json::Value::String(text)) => Some(for_message(&text, known, MAX_DESCRIPTION_CHARS)),
            _ => None,
        }
        .filter(|d| !d.is_empty());
        let detail = match (&code, description) {
            (Some(code), Some(description)) => format!(": {code} ({description})"),
            (Some(code), None) => format!(": {code}"),
            (None, Some(description)) => format!(" ({description})"),
            (None, None) => " (a JSON body without an OAuth error code)".to_owned(),
        };
        return (detail, code);
    }
    if body.is_empty() {
        return (" (empty body)".to_owned(), None);
    }
    let content_type: String = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or("unknown type")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '+' | '-' | '.'))
        .take(64)
        .collect();
    (
        format!(
            " (a {content_type} body of {} bytes, not an OAuth error)",
            body.len()
        ),
        None,
    )
}

/// An OAuth error code as it may appear in a message: codes are short
/// ASCII identifiers (`invalid_grant`); anything else is not quoted.
fn sanitize_code(code: &str) -> String {
    let valid = !code.is_empty()
        && code.len() <= 64
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if valid {
        // Long mixed runs could be a token in the wrong field.
        for_message(code, &[], 64)
    } else {
        "(unrecognised error code)".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_full_response() {
        let body = br#"{"access_token":"at","token_type":"Bearer","expires_in":3600,"refresh_token":"rt","scope":"a b"}"#;
        let token = parse_token_response(body).unwrap();
        assert_eq!(token.access_token().expose_secret(), "at");
        assert_eq!(token.expires_in(), Some(Duration::from_secs(3600)));
        assert_eq!(token.refresh_token().map(|t| t.expose_secret()), Some("rt"));
        assert_eq!(token.scope(), Some("a b"));
    }

    #[test]
    fn expires_in_as_a_string_or_unreadable() {
        let token = parse_token_response(br#"{"access_token":"at","expires_in":"120"}"#).unwrap();
        assert_eq!(token.expires_in(), Some(Duration::from_secs(120)));
        let token = parse_token_response(br#"{"access_token":"at","expires_in":"soon"}"#).unwrap();
        assert_eq!(token.expires_in(), None);
        let token = parse_token_response(br#"{"access_token":"at","expires_in":1e300}"#).unwrap();
        assert_eq!(token.expires_in(), Some(MAX_LIFETIME));
    }

    #[test]
    fn malformed_bodies_are_described_without_quoting_them() {
        let err = parse_token_response(br#"{"access_token": "secret-at" "#).unwrap_err();
        assert!(err.contains("not valid JSON"), "{err}");
        let err = parse_token_response(br#"{"access_token": 12345678, "x": "secret-x"}"#).unwrap_err();
        assert!(err.contains("wrong type") && !err.contains("12345678"), "{err}");
        let err = parse_token_response(br#"{"token": "secret"}"#).unwrap_err();
        assert_eq!(err, "its body has no access_token");
    }

    #[test]
    fn error_codes_are_quoted_only_when_they_look_like_codes() {
        assert_eq!(sanitize_code("invalid_grant"), "invalid_grant");
        assert_eq!(
            sanitize_code("bad code\nwith newline"),
            "(unrecognised error code)"
        );
        assert_eq!(sanitize_code("a1b2c3d4e5f6a7b8c9d0"), "<redacted>");
    }
}
