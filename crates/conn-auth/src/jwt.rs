//! A token's lifetime from the token itself, when it is a JWT.
//!
//! Some token servers omit `expires_in`, and some state one that the token
//! contradicts (a cached token handed out again, a misconfigured proxy);
//! the token's own `exp` is what the API will check. Its claims are read
//! **without verifying the signature**: the token is not ours to verify
//! (the API does that), and nothing here grants trust, it only plans the
//! refresh earlier. Anything that is not a readable JWT is ignored.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Longest token looked into (real JWTs are a few kilobytes at most).
const MAX_JWT: usize = 16 * 1024;
/// Latest instant accepted as a claim (year ~2554): later ones are nonsense.
const MAX_CLAIM_SECS: u64 = 1 << 34;

/// The time claims of a JWT: `exp` and `iat`, when present and readable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JwtTimes {
    /// `exp`: when the token stops being accepted.
    pub expires_at: Option<SystemTime>,
    /// `iat`: when it was issued.
    pub issued_at: Option<SystemTime>,
}

impl JwtTimes {
    /// Reads the claims of a compact JWS (`header.payload.signature`);
    /// `None` for anything else (opaque tokens, encrypted JWTs, malformed
    /// ones). Never panics, whatever the input.
    ///
    /// ```
    /// use conn_auth::JwtTimes;
    ///
    /// // {"alg":"none"} . {"sub":"svc","iat":1700000000,"exp":1700003600}
    /// let jwt = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJzdmMiLCJpYXQiOjE3MDAwMDAwMDAsImV4cCI6MTcwMDAwMzYwMH0.";
    /// let times = JwtTimes::read(jwt).unwrap();
    /// assert!(times.expires_at.is_some() && times.issued_at.is_some());
    /// assert_eq!(JwtTimes::read("an-opaque-token"), None);
    /// ```
    pub fn read(token: &str) -> Option<JwtTimes> {
        if token.len() > MAX_JWT {
            return None;
        }
        let mut parts = token.split('.');
        let (header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None; // five parts: an encrypted JWT, unreadable to us
        }
        let header: serde_json::Value = serde_json::from_slice(&decode(header)?).ok()?;
        header.get("alg")?;
        let claims: serde_json::Value = serde_json::from_slice(&decode(payload)?).ok()?;
        let claims = claims.as_object()?;
        let times = JwtTimes {
            expires_at: claims.get("exp").and_then(instant),
            issued_at: claims.get("iat").and_then(instant),
        };
        (times.expires_at.is_some() || times.issued_at.is_some()).then_some(times)
    }

    /// How long the token is good for from `now`, by its own claims: until
    /// `exp`, and never longer than `exp - iat` (so a server clock ahead of
    /// ours does not stretch it). Zero when it has expired; `None` without
    /// `exp`.
    pub fn lifetime(&self, now: SystemTime) -> Option<Duration> {
        let expires_at = self.expires_at?;
        let left = expires_at.duration_since(now).unwrap_or(Duration::ZERO);
        Some(match self.issued_at {
            Some(issued_at) => left.min(expires_at.duration_since(issued_at).unwrap_or(Duration::ZERO)),
            None => left,
        })
    }
}

/// The lifetime to plan with: the shorter of what the server declared
/// (`expires_in`) and what the token says, or whichever is known.
///
/// ```
/// use std::time::{Duration, SystemTime, UNIX_EPOCH};
/// use conn_auth::token_lifetime;
///
/// // A token that expired at 1700003600, from a server claiming 3600 s.
/// let jwt = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJzdmMiLCJpYXQiOjE3MDAwMDAwMDAsImV4cCI6MTcwMDAwMzYwMH0.";
/// let now = UNIX_EPOCH + Duration::from_secs(1_700_010_000);
/// assert_eq!(token_lifetime(jwt, Some(Duration::from_secs(3600)), now), Some(Duration::ZERO));
/// assert_eq!(token_lifetime("opaque", Some(Duration::from_secs(3600)), now), Some(Duration::from_secs(3600)));
/// ```
pub fn token_lifetime(token: &str, declared: Option<Duration>, now: SystemTime) -> Option<Duration> {
    let from_jwt = JwtTimes::read(token).and_then(|times| times.lifetime(now));
    match (declared, from_jwt) {
        (Some(declared), Some(jwt)) => {
            if jwt < declared {
                tracing::debug!(
                    target: "conn_auth::cache",
                    declared_s = declared.as_secs(),
                    jwt_s = jwt.as_secs(),
                    "the token's exp is earlier than expires_in says; planning with exp"
                );
            }
            Some(declared.min(jwt))
        }
        (declared, jwt) => declared.or(jwt),
    }
}

fn decode(part: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()
}

fn instant(value: &serde_json::Value) -> Option<SystemTime> {
    let seconds = match value {
        serde_json::Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite() && *f >= 0.0)
                .map(|f| f as u64)
        })?,
        _ => return None,
    };
    (seconds <= MAX_CLAIM_SECS).then(|| UNIX_EPOCH + Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: &str) -> String {
        format!(
            "{}.{}.sig",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(claims)
        )
    }

    fn t(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn exp_and_iat_bound_the_lifetime() {
        let token = jwt(r#"{"iat":1000,"exp":4600}"#);
        assert_eq!(
            token_lifetime(&token, None, t(1000)),
            Some(Duration::from_secs(3600))
        );
        // Our clock behind the server's: exp - iat caps it.
        assert_eq!(
            token_lifetime(&token, None, t(400)),
            Some(Duration::from_secs(3600))
        );
        // The server claims longer than the token: the token wins.
        assert_eq!(
            token_lifetime(&token, Some(Duration::from_secs(7200)), t(1000)),
            Some(Duration::from_secs(3600))
        );
        // The server claims shorter: the server wins.
        assert_eq!(
            token_lifetime(&token, Some(Duration::from_secs(60)), t(1000)),
            Some(Duration::from_secs(60))
        );
        // Expired already.
        assert_eq!(
            token_lifetime(&token, Some(Duration::from_secs(3600)), t(9000)),
            Some(Duration::ZERO)
        );
        // exp before iat is nonsense: zero, so it is replaced at once.
        assert_eq!(
            token_lifetime(&jwt(r#"{"iat":5000,"exp":4600}"#), None, t(1000)),
            Some(Duration::ZERO)
        );
        // Fractional and exp-only claims.
        assert_eq!(
            token_lifetime(&jwt(r#"{"exp":1060.5}"#), None, t(1000)),
            Some(Duration::from_secs(60))
        );
    }

    #[test]
    fn malformed_tokens_are_ignored_not_a_panic() {
        let declared = Some(Duration::from_secs(300));
        let long = "a.".repeat(20_000);
        let cases: Vec<String> = vec![
            String::new(),
            ".".into(),
            "..".into(),
            "a.b.c".into(),
            "a.b.c.d.e".into(),
            "eyJ.eyJ.".into(),
            jwt("not json"),
            jwt("[1,2]"),
            jwt(r#"{"exp":"tomorrow"}"#),
            jwt(r#"{"exp":-5}"#),
            jwt(r#"{"exp":1e300}"#),
            jwt(r#"{"exp":18446744073709551615}"#),
            jwt(r#"{"sub":"no times"}"#),
            format!(
                "{}.{}.s",
                URL_SAFE_NO_PAD.encode("{}"),
                URL_SAFE_NO_PAD.encode(r#"{"exp":1}"#)
            ),
            "\u{1F600}.\u{1F600}.\u{1F600}".into(),
            long,
        ];
        for case in &cases {
            assert_eq!(token_lifetime(case, declared, t(1000)), declared, "{case:.40}");
            assert_eq!(token_lifetime(case, None, t(1000)), None, "{case:.40}");
        }
    }
}
