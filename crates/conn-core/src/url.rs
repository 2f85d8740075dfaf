//! Safe joining of endpoint paths onto a connector's base URL.
//!
//! An endpoint is a path *under* the base URL, never a URL of its own: it can
//! not change the scheme, host or port, and it can not climb out of the base
//! path. Anything that could (protocol-relative `//host`, absolute URLs, dot
//! segments in any encoding, backslashes, userinfo tricks, control
//! characters) is rejected with a configuration error rather than rewritten,
//! because a rewritten hostile path is still a bug in the caller.

use http::uri::{Authority, Parts, PathAndQuery, Scheme};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use crate::Error;

/// How many layers of percent-encoding are unwrapped looking for dot segments
/// (`%252e%252e` is `..` to a server that decodes twice).
const DECODE_ROUNDS: usize = 3;

/// Characters left as they are in query keys and values (RFC 3986 unreserved).
const QUERY_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A validated base URL: scheme, authority and a path prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseUrl {
    scheme: Scheme,
    authority: Authority,
    /// The authority's host, parsed once (every call's span names it).
    host: Box<str>,
    /// The base path without a trailing slash ("" for the root).
    prefix: String,
}

impl BaseUrl {
    /// Parses and validates a base URL: `http` or `https`, a host, no
    /// userinfo, no query or fragment. Plain `http` is refused unless
    /// `allow_http` is set.
    ///
    /// ```
    /// use conn_core::BaseUrl;
    ///
    /// let base = BaseUrl::parse("https://api.example.com/v2/", false).unwrap();
    /// assert_eq!(base.join("/users/7").unwrap(), "/v2/users/7");
    /// assert!(base.join("//evil.example/x").is_err());
    /// assert!(BaseUrl::parse("http://api.example.com", false).is_err());
    /// ```
    pub fn parse(url: &str, allow_http: bool) -> Result<Self, Error> {
        let uri: http::Uri = url
            .parse()
            .map_err(|_| Error::config("the base URL is not a valid absolute URL"))?;
        let scheme = uri
            .scheme()
            .cloned()
            .ok_or_else(|| Error::config("the base URL has no scheme"))?;
        if scheme == Scheme::HTTP {
            if !allow_http {
                return Err(Error::config(
                    "the base URL uses plain http; allow it explicitly for non-production use",
                ));
            }
        } else if scheme != Scheme::HTTPS {
            return Err(Error::config("the base URL scheme must be http or https"));
        }
        let authority = uri
            .authority()
            .cloned()
            .ok_or_else(|| Error::config("the base URL has no host"))?;
        if authority.as_str().contains('@') {
            return Err(Error::config(
                "the base URL contains credentials; configure an auth strategy instead",
            ));
        }
        if authority.host().is_empty() {
            return Err(Error::config("the base URL has no host"));
        }
        if uri.query().is_some() || url.contains('#') {
            return Err(Error::config("the base URL must not have a query or fragment"));
        }
        // `host:` with a port that is not a number parses as an authority but
        // can never be connected to: say so now rather than at the first call.
        if authority.as_str().len() > authority.host().len() && authority.port_u16().is_none() {
            return Err(Error::config("the base URL has an invalid port"));
        }
        let prefix = uri.path().trim_end_matches('/').to_owned();
        // The base path obeys the endpoints' rules (found by fuzzing): a dot
        // segment in it, raw or encoded, lets the server resolve every call
        // outside the path the connector was configured with.
        for segment in prefix.split('/') {
            check_segment(segment).map_err(|_| {
                Error::config("the base URL path contains a dot segment (. or ..), raw or percent-encoded")
            })?;
        }
        Ok(BaseUrl {
            scheme,
            host: authority.host().into(),
            authority,
            prefix,
        })
    }

    /// The scheme.
    pub fn scheme(&self) -> &Scheme {
        &self.scheme
    }

    /// The authority (host and port).
    pub fn authority(&self) -> &Authority {
        &self.authority
    }

    /// The host, without the port.
    ///
    /// ```
    /// let base = conn_core::BaseUrl::parse("https://api.example.com:8443/v1", false).unwrap();
    /// assert_eq!(base.host(), "api.example.com");
    /// ```
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Joins a validated endpoint onto the base path; returns the path and
    /// the endpoint's own raw query, if it had one (`/items?page=2`).
    pub fn join(&self, endpoint: &str) -> Result<String, Error> {
        let (path, query) = split_endpoint(endpoint)?;
        let mut joined = String::with_capacity(self.prefix.len() + path.len() + 1);
        joined.push_str(&self.prefix);
        if !path.is_empty() {
            if !path.starts_with('/') {
                joined.push('/');
            }
            joined.push_str(path);
        }
        if joined.is_empty() {
            joined.push('/');
        }
        if let Some(query) = query {
            joined.push('?');
            joined.push_str(query);
        }
        Ok(joined)
    }

    /// Builds the absolute URI for a joined path and query pairs.
    ///
    /// The scheme and authority are always this base's own (the endpoint
    /// only supplies the path and query, validated by [`join`](Self::join)),
    /// so the URI cannot leave the base's origin whatever the endpoint was.
    pub fn uri(&self, path_and_query: &str, pairs: &[(String, String)]) -> Result<http::Uri, Error> {
        let path_and_query = if pairs.is_empty() {
            PathAndQuery::try_from(path_and_query)
        } else {
            let mut pq = String::with_capacity(path_and_query.len() + 32 * pairs.len());
            pq.push_str(path_and_query);
            let mut separator = if pq.contains('?') { '&' } else { '?' };
            for (key, value) in pairs {
                pq.push(separator);
                separator = '&';
                pq.extend(utf8_percent_encode(key, QUERY_ENCODE));
                pq.push('=');
                pq.extend(utf8_percent_encode(value, QUERY_ENCODE));
            }
            PathAndQuery::try_from(pq)
        }
        .map_err(|_| Error::config("the endpoint does not form a valid URL"))?;
        let mut parts = Parts::default();
        parts.scheme = Some(self.scheme.clone());
        parts.authority = Some(self.authority.clone());
        parts.path_and_query = Some(path_and_query);
        http::Uri::from_parts(parts).map_err(|_| Error::config("the endpoint does not form a valid URL"))
    }
}

/// The path of an endpoint: everything before its `?`.
///
/// ```
/// assert_eq!(conn_core::endpoint_path("/orders/7?expand=lines"), "/orders/7");
/// assert_eq!(conn_core::endpoint_path("/orders"), "/orders");
/// ```
pub fn endpoint_path(endpoint: &str) -> &str {
    // A byte scan: endpoints are short, and `split_once('?')`'s char
    // searcher costs several times more on every call (measured).
    match endpoint.bytes().position(|b| b == b'?') {
        Some(end) => &endpoint[..end],
        None => endpoint,
    }
}

/// Validates an endpoint and splits off its raw query.
fn split_endpoint(endpoint: &str) -> Result<(&str, Option<&str>), Error> {
    if is_plain(endpoint) {
        let path = endpoint_path(endpoint);
        return Ok((path, endpoint.get(path.len() + 1..)));
    }
    split_endpoint_checked(endpoint)
}

/// Whether `endpoint` passes every check of [`split_endpoint_checked`] at a
/// glance, in one pass: a path of ASCII letters, digits, `/`, `-`, `_` and
/// `~` (nothing that could be a dot segment, an escape, a scheme or
/// userinfo), a query of printable ASCII without `\` or `#`, and no leading
/// `//`. Most endpoints are like this; the rest take the full checks.
fn is_plain(endpoint: &str) -> bool {
    if endpoint.starts_with("//") {
        return false;
    }
    let mut in_query = false;
    endpoint.bytes().all(|b| {
        if in_query {
            b.is_ascii_graphic() && b != b'\\' && b != b'#'
        } else if b == b'?' {
            in_query = true;
            true
        } else {
            b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'~')
        }
    })
}

/// Every check of an endpoint, one rule at a time.
fn split_endpoint_checked(endpoint: &str) -> Result<(&str, Option<&str>), Error> {
    if let Some(bad) = endpoint.bytes().find(|b| !b.is_ascii_graphic()) {
        return Err(Error::config(if bad.is_ascii() {
            "the endpoint contains a space or control character"
        } else {
            "the endpoint contains non-ASCII characters; percent-encode them"
        }));
    }
    if endpoint.contains('\\') {
        return Err(Error::config("the endpoint contains a backslash"));
    }
    if endpoint.contains('#') {
        return Err(Error::config("the endpoint contains a fragment"));
    }
    let path = endpoint_path(endpoint);
    let query = endpoint.get(path.len() + 1..);
    if path.starts_with("//") {
        return Err(Error::config("the endpoint is a protocol-relative URL (//host)"));
    }
    // Text before the first '/' must not look like a scheme or an authority.
    let head = path.split('/').next().unwrap_or_default();
    if head.contains(':') {
        return Err(Error::config("the endpoint is an absolute URL or has a scheme"));
    }
    if head.contains('@') {
        return Err(Error::config("the endpoint contains userinfo (user@host)"));
    }
    for segment in path.split('/') {
        check_segment(segment)?;
    }
    Ok((path, query))
}

/// Rejects a path segment that is, or decodes (up to [`DECODE_ROUNDS`]
/// times) to, a dot segment, a separator trick or a control character.
fn check_segment(segment: &str) -> Result<(), Error> {
    // The common case: nothing encoded (raw backslashes and controls were refused already).
    if !segment.contains('%') {
        return if is_dot_segment(segment) {
            Err(Error::config("the endpoint contains a dot segment (. or ..)"))
        } else {
            Ok(())
        };
    }
    let mut current = segment.to_owned();
    for _ in 0..=DECODE_ROUNDS {
        for piece in current.split(['/', '\\']) {
            if is_dot_segment(piece) {
                return Err(Error::config("the endpoint contains a dot segment (. or ..)"));
            }
        }
        if current.chars().any(char::is_control) {
            return Err(Error::config("the endpoint encodes a control character"));
        }
        if current.contains('\\') {
            return Err(Error::config("the endpoint encodes a backslash"));
        }
        if !current.contains('%') {
            return Ok(());
        }
        check_percent_escapes(&current)?;
        let decoded = percent_decode_str(&current).decode_utf8_lossy().into_owned();
        if decoded == current {
            return Ok(());
        }
        current = decoded;
    }
    Err(Error::config("the endpoint is percent-encoded too many times"))
}

/// `.` and `..`, also spelled with look-alike dots that some servers fold to ASCII.
fn is_dot_segment(piece: &str) -> bool {
    let dots = piece
        .chars()
        .filter(|c| matches!(c, '.' | '\u{FF0E}' | '\u{2024}' | '\u{FE52}'))
        .count();
    let len = piece.chars().count();
    (len == 1 || len == 2) && dots == len
}

fn check_percent_escapes(s: &str) -> Result<(), Error> {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let valid = bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
            if !valid {
                return Err(Error::config("the endpoint has an invalid percent-escape"));
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> BaseUrl {
        BaseUrl::parse("https://api.example.com/v1", false).unwrap()
    }

    /// The fast path may only accept what the full checks accept, and must
    /// split it the same way: every endpoint of up to four characters from
    /// an alphabet of the characters the checks care about.
    #[test]
    fn the_plain_fast_path_agrees_with_the_full_checks() {
        let alphabet: Vec<char> = "a/.%?#:@\\-2e \u{ff0e}~=&".chars().collect();
        let mut endpoints = vec![String::new()];
        let mut frontier = vec![String::new()];
        for _ in 0..4 {
            frontier = frontier
                .iter()
                .flat_map(|prefix| alphabet.iter().map(move |c| format!("{prefix}{c}")))
                .collect();
            endpoints.extend(frontier.iter().cloned());
        }
        let mut plain = 0;
        for endpoint in &endpoints {
            if is_plain(endpoint) {
                plain += 1;
                let checked = split_endpoint_checked(endpoint);
                assert!(checked.is_ok(), "{endpoint:?} is plain but the checks refuse it");
                let (path, query) = checked.unwrap();
                assert_eq!(split_endpoint(endpoint).unwrap(), (path, query), "{endpoint:?}");
            }
        }
        assert!(plain > 1_000, "the fast path took only {plain} endpoints");
    }

    #[test]
    fn joins_under_the_base_path() {
        let base = base();
        assert_eq!(base.join("/users").unwrap(), "/v1/users");
        assert_eq!(base.join("users").unwrap(), "/v1/users");
        assert_eq!(base.join("").unwrap(), "/v1");
        assert_eq!(base.join("/users/@me").unwrap(), "/v1/users/@me");
        assert_eq!(base.join("/items?page=2").unwrap(), "/v1/items?page=2");
        assert_eq!(base.join("/group%2Fproject").unwrap(), "/v1/group%2Fproject");
        assert_eq!(base.join("/files/...").unwrap(), "/v1/files/...");
        let root = BaseUrl::parse("https://api.example.com", false).unwrap();
        assert_eq!(root.join("").unwrap(), "/");
    }

    #[test]
    fn query_pairs_are_encoded() {
        let base = base();
        let uri = base
            .uri(&base.join("/search").unwrap(), &[("q".into(), "a b&c=d".into())])
            .unwrap();
        assert_eq!(uri, "https://api.example.com/v1/search?q=a%20b%26c%3Dd");
    }

    #[test]
    fn base_url_rules() {
        assert!(BaseUrl::parse("https://user:pw@api.example.com", false).is_err());
        assert!(BaseUrl::parse("ftp://api.example.com", false).is_err());
        assert!(BaseUrl::parse("/relative", false).is_err());
        assert!(BaseUrl::parse("https://api.example.com/?a=b", false).is_err());
        assert!(BaseUrl::parse("http://127.0.0.1:8080", true).is_ok());
        assert!(BaseUrl::parse("http://[::1]:8080/v1", true).is_ok());
    }

    /// Regressions from `cargo xtask fuzz` (target `base_url`): bases whose
    /// own path left the configured prefix once the server resolved it.
    #[test]
    fn a_base_path_with_dot_segments_is_refused() {
        for hostile in [
            "http://12/../etc",
            "https://api.example.com/v2/%2E",
            "https://api.example.com/v2/%252e%252e/admin",
            "https://api.example.com//./api/v2",
            "https://api.example.com/v2/../v1",
        ] {
            let err = BaseUrl::parse(hostile, true).unwrap_err();
            assert!(err.message().contains("dot segment"), "{hostile}: {err}");
        }
        assert!(BaseUrl::parse("https://api.example.com/files/.../v1", false).is_ok());
    }

    /// Regression from `cargo xtask fuzz`: `127.0.0.1:rs` parsed as an authority.
    #[test]
    fn a_base_with_a_port_that_is_not_a_number_is_refused() {
        assert!(
            BaseUrl::parse("http://127.0.0.1:rs/v1", true)
                .unwrap_err()
                .message()
                .contains("port")
        );
        assert!(BaseUrl::parse("https://api.example.com:/v1", false).is_err());
    }
}
