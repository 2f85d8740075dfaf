//! Which headers cross the gateway, and the checks on the few it reads.
//!
//! Allow-lists rather than deny-lists: a header nobody thought of (a cookie,
//! a proxy's credential, a hop-by-hop header) never crosses by accident.

use http::header::{self, HeaderName};
use http::{HeaderMap, HeaderValue};

/// The correlation id header, read from the caller and echoed back.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// The tenant the caller acts for.
pub const TENANT: HeaderName = HeaderName::from_static("x-conn-tenant");
/// The caller's key, when not sent as `Authorization: Bearer`.
pub const KEY: HeaderName = HeaderName::from_static("x-conn-key");
/// How many attempts the call took (on call answers).
pub const ATTEMPTS: HeaderName = HeaderName::from_static("x-conn-attempts");
/// The media type that asks for the normalized document.
pub const DOCUMENT_MEDIA_TYPE: &str = "application/vnd.conn.document+json";

/// Request headers forwarded to the upstream (lower case). Never
/// `Authorization` or `Cookie`: those belong to the gateway, and the
/// connector adds its own credentials.
pub const FORWARDED_REQUEST: &[&str] = &[
    "accept",
    "accept-language",
    "content-type",
    "if-match",
    "if-none-match",
    "if-modified-since",
    "if-unmodified-since",
    "range",
    "prefer",
    "idempotency-key",
];

/// Upstream response headers passed back to the caller (lower case).
pub const FORWARDED_RESPONSE: &[&str] = &[
    "content-type",
    "content-language",
    "content-disposition",
    "cache-control",
    "etag",
    "expires",
    "last-modified",
    "link",
    "location",
    "retry-after",
    "ratelimit",
    "ratelimit-policy",
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
];

/// Copies the allowed `names` from `from` to `to`.
pub(crate) fn copy_allowed(from: &HeaderMap, to: &mut HeaderMap, names: &[&'static str]) {
    for name in names {
        for value in from.get_all(*name) {
            to.append(HeaderName::from_static(name), value.clone());
        }
    }
}

/// A correlation id we accept from a caller: 1 to 128 characters of
/// letters, digits and `-_.:`. Anything else (CR/LF, spaces, quotes) could
/// smuggle content into logs or upstream headers, so it is refused.
pub fn valid_correlation_id(id: &str) -> bool {
    valid_token(id, 128, b"-_.:")
}

/// A tenant name: 1 to 64 letters, digits and `-_.`.
pub fn valid_tenant(tenant: &str) -> bool {
    valid_token(tenant, 64, b"-_.")
}

fn valid_token(s: &str, max: usize, extra: &[u8]) -> bool {
    !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_alphanumeric() || extra.contains(&b))
}

/// The total size of the header names and values (what a limit on header
/// size bounds).
pub(crate) fn header_bytes(headers: &HeaderMap) -> usize {
    headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum()
}

/// One header's value as text, if it is present and visible ASCII.
pub(crate) fn text<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<&'a str> {
    headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok())
}

/// Whether the caller asks for the normalized document.
pub(crate) fn wants_document(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            item.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case(DOCUMENT_MEDIA_TYPE))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn correlation_ids_refuse_control_characters() {
        assert!(valid_correlation_id("req-81f2:a.b_c"));
        assert!(!valid_correlation_id(""));
        assert!(!valid_correlation_id("a\r\nx-injected: 1"));
        assert!(!valid_correlation_id("a b"));
        assert!(!valid_correlation_id(&"a".repeat(129)));
    }

    #[test]
    fn the_document_media_type_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("text/html, application/vnd.conn.document+json;q=0.9"),
        );
        assert!(wants_document(&headers));
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        assert!(!wants_document(&headers));
    }
}
