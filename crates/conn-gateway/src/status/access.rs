//! Who is looking at the status page: the gateway's own caller keys and
//! admin key, checked by its own `Callers`.
//!
//! Why HTTP Basic too: a browser cannot add `Authorization: Bearer` to a
//! page it navigates to, but it asks for Basic credentials by itself and
//! sends them with every later request to the page (the charts' refresh,
//! the admin buttons). The key is taken from the password (or the user name
//! when the password is empty) and handed to the same check as
//! `X-Conn-Key`; nothing else is accepted and nothing is kept.

use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, header};

use crate::callers::Caller;
use crate::headers::KEY;
use crate::problem::Problem;
use crate::state::Shared;

/// An authenticated viewer.
pub(crate) enum Viewer {
    /// The admin key: every connector, and the breaker actions.
    Admin,
    /// A caller key: the connectors it may use.
    Caller(Arc<Caller>),
}

impl Viewer {
    pub(crate) fn is_admin(&self) -> bool {
        matches!(self, Viewer::Admin)
    }

    /// Whether this viewer sees `connector`.
    pub(crate) fn sees(&self, connector: &str) -> bool {
        match self {
            Viewer::Admin => true,
            Viewer::Caller(caller) => caller.may_use(connector),
        }
    }
}

/// The viewer the request's key names, or a 401 that makes a browser ask
/// for the key.
pub(crate) fn viewer(shared: &Shared, headers: &HeaderMap) -> Result<Viewer, Box<Response>> {
    let headers = with_basic_as_key(headers);
    let current = shared.current();
    if current.callers.authenticate_admin(&headers).is_ok() {
        return Ok(Viewer::Admin);
    }
    current
        .callers
        .authenticate(&headers)
        .map(Viewer::Caller)
        .map_err(challenge)
}

/// Only the admin, for the breaker actions.
pub(crate) fn admin(shared: &Shared, headers: &HeaderMap) -> Result<(), Box<Response>> {
    let headers = with_basic_as_key(headers);
    shared
        .current()
        .callers
        .authenticate_admin(&headers)
        .map_err(challenge)
}

fn challenge(problem: Problem) -> Box<Response> {
    let mut response = problem.into_response();
    if response.status() == http::StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(
                r#"Basic realm="conn status (your gateway key as the password)", charset="UTF-8""#,
            ),
        );
    }
    Box::new(response)
}

/// `headers`, with the key of a Basic `Authorization` moved to `X-Conn-Key`.
fn with_basic_as_key(headers: &HeaderMap) -> HeaderMap {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .and_then(|(_, encoded)| decode_base64(encoded.trim()))
        .and_then(|bytes| String::from_utf8(bytes).ok());
    let Some(pair) = basic else {
        return headers.clone();
    };
    let (user, password) = pair.split_once(':').unwrap_or((pair.as_str(), ""));
    let key = if password.is_empty() { user } else { password };
    let mut headers = headers.clone();
    headers.remove(header::AUTHORIZATION);
    if let Ok(value) = HeaderValue::from_str(key) {
        headers.insert(KEY, value);
    }
    headers
}

/// Standard base64 with padding (RFC 4648 §4); `None` for anything else.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some(u32::from(c - b'A')),
            b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for chunk in bytes.chunks(4) {
        let padding = chunk.iter().rev().take_while(|c| **c == b'=').count();
        if padding > 2 {
            return None;
        }
        let mut word = 0u32;
        for &c in &chunk[..4 - padding] {
            word = (word << 6) | value(c)?;
        }
        word <<= 6 * padding as u32;
        let decoded = [(word >> 16) as u8, (word >> 8) as u8, word as u8];
        out.extend_from_slice(&decoded[..3 - padding]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_and_refuses_garbage() {
        assert_eq!(decode_base64("b3BzOmstb3Bz").unwrap(), b"ops:k-ops");
        assert_eq!(decode_base64("YQ==").unwrap(), b"a");
        assert_eq!(decode_base64("YWI=").unwrap(), b"ab");
        assert_eq!(decode_base64("").unwrap(), b"");
        for bad in ["YQ=", "Y===", "Y$==", "é123"] {
            assert!(decode_base64(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn the_basic_password_or_user_becomes_the_key() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic b3BzOmstb3Bz"),
        );
        assert_eq!(with_basic_as_key(&headers)[KEY], "k-ops");
        assert!(with_basic_as_key(&headers).get(header::AUTHORIZATION).is_none());
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic ay1vcHM6"));
        assert_eq!(with_basic_as_key(&headers)[KEY], "k-ops");
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer k-ops"));
        assert_eq!(with_basic_as_key(&headers)[header::AUTHORIZATION], "Bearer k-ops");
    }
}
