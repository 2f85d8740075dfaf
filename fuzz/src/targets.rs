//! The targets: each reads fuzz bytes the way its parser meets them in
//! production and checks the property that parser owes its callers, beyond
//! "does not panic". Each returns a short outcome label (what kind of
//! answer the input produced) or the violated property.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use conn_core::{
    BaseUrl, CallOutcome, CallReport, Document, Format, HintParser, MAX_HINT, ResetFormat, Response,
    scrub_secrets,
};
use conn_normalize::Normalize;
use conn_paginate::{NextUrl, PageView, Paginator, Position};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};

/// A fuzz target: a name, the function, and tokens worth inserting.
pub struct Target {
    /// The name used on the command line and for the corpus directory.
    pub name: &'static str,
    /// Runs one input: an outcome label, or the violated property.
    pub run: fn(&[u8]) -> Result<String, String>,
    /// Tokens the mutator inserts.
    pub dictionary: &'static [&'static str],
}

/// Every target, in the order `cargo xtask fuzz` runs them.
pub const TARGETS: &[Target] = &[
    Target {
        name: "server_hints",
        run: server_hints,
        dictionary: &[
            "retry-after: ",
            "ratelimit: ",
            "ratelimit-reset: ",
            "ratelimit-remaining: ",
            "x-ratelimit-reset: ",
            "x-reset-ms: ",
            "x-reset-at: ",
            "t=",
            "r=",
            "reset=",
            "GMT",
            "2026-12-02T06:00:00Z",
            "18446744073709551615",
            "1e308",
            "-1",
            "\n",
        ],
    },
    Target {
        name: "base_url",
        run: base_url,
        dictionary: &[
            "%2e", "%2E", "%2f", "..", "//", "\\", "@", "#", "?", "https://", "http://", ":443", "\n",
        ],
    },
    Target {
        name: "json",
        run: json,
        dictionary: &[
            "{", "}", "[", "]", "\"", ":", ",", "\\u0000", "\\ud800", "1e999", "-0", "null", "true",
        ],
    },
    Target {
        name: "xml",
        run: xml,
        dictionary: &[
            "<a>",
            "</a>",
            "<?xml version=\"1.0\"?>",
            "<!DOCTYPE a [<!ENTITY e \"xx\">]>",
            "&e;",
            "&amp;",
            "<![CDATA[",
            "]]>",
            "xmlns:p=\"urn:x\"",
            "<p:b/>",
            " id=\"1\"",
        ],
    },
    Target {
        name: "scrub",
        run: scrub,
        dictionary: &[
            "password",
            "token",
            "Bearer ",
            "Basic ",
            "api_key",
            "\"",
            "'",
            "=",
            ":",
            "\\\"",
            "<secret>",
            "</secret>",
            "&",
            "Authorization: ",
        ],
    },
    Target {
        name: "blueprint",
        run: blueprint,
        dictionary: &[
            "[connectors.a]\n",
            "base_url = \"https://api.example.com\"\n",
            "[connectors.a.retry]\n",
            "max_attempts = 3\n",
            "[connectors.a.auth]\n",
            "type = \"bearer\"\n",
            "token = { env = \"T\" }\n",
            "[connectors.a.throttle]\n",
            "rate = \"10/s\"\n",
            "[tenants.t]\n",
            "timeout = \"5s\"\n",
            "\"",
            "=",
        ],
    },
    Target {
        name: "link_header",
        run: link_header,
        dictionary: &[
            "<",
            ">",
            "; rel=\"next\"",
            "; rel=next",
            ", ",
            "https://api.example.com/v2/",
            "//api.example.com/v2/",
            "https://evil.example/v2/",
            "/v2/items?page=2",
            "/v1/",
            "%2e%2e",
            "?cursor=",
            "\n",
        ],
    },
];

/// A fixed "now", so absolute dates parse the same way on every run.
fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_000_000)
}

/// Lines `name: value` into a header map, skipping lines that are not valid headers.
fn headers(data: &[u8], default_name: &str) -> HeaderMap {
    let mut map = HeaderMap::new();
    for line in data.split(|b| *b == b'\n') {
        let (name, value) = match line.iter().position(|b| *b == b':') {
            Some(colon) => (&line[..colon], &line[colon + 1..]),
            None => (default_name.as_bytes(), line),
        };
        let value = value.strip_prefix(b" ").unwrap_or(value);
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(value)) {
            map.append(name, value);
        }
    }
    map
}

/// Server hints: never a wait above [`MAX_HINT`], whatever the headers say.
fn server_hints(data: &[u8]) -> Result<String, String> {
    let parser = HintParser::default()
        .vendor_reset(HeaderName::from_static("x-reset-ms"), ResetFormat::EpochMillis)
        .vendor_reset(HeaderName::from_static("x-reset-at"), ResetFormat::Auto);
    let hints = parser.parse(&headers(data, "retry-after"), now());
    for (field, value) in [
        ("retry_after", hints.retry_after),
        ("ratelimit_reset", hints.ratelimit_reset),
        ("vendor_reset", hints.vendor_reset),
    ] {
        if value.is_some_and(|d| d > MAX_HINT) {
            return Err(format!("{field} = {value:?} is above MAX_HINT"));
        }
    }
    Ok(format!(
        "{}{}{}{}{}",
        u8::from(hints.retry_after.is_some()),
        u8::from(hints.ratelimit_reset.is_some()),
        u8::from(hints.vendor_reset.is_some()),
        u8::from(hints.remaining.is_some()),
        u8::from(hints.limit.is_some())
    ))
}

/// Base URL and endpoint: a joined URI never leaves the base's origin or
/// path, and never holds a dot segment, however the endpoint is written.
fn base_url(data: &[u8]) -> Result<String, String> {
    let text = String::from_utf8_lossy(data);
    let (base, endpoint) = text
        .split_once('\n')
        .unwrap_or(("https://api.example.com/v2", &text));
    let parsed = match BaseUrl::parse(base, true) {
        Ok(parsed) => parsed,
        Err(err) => return Ok(format!("bad base: {}", outcome_of(&err))),
    };
    let joined = match parsed.join(endpoint) {
        Ok(joined) => joined,
        Err(err) => return Ok(format!("refused: {}", outcome_of(&err))),
    };
    let uri = match parsed.uri(&joined, &[("q".to_owned(), endpoint.to_owned())]) {
        Ok(uri) => uri,
        Err(err) => return Ok(format!("refused at uri: {}", outcome_of(&err))),
    };
    let base_uri: http::Uri = base
        .parse()
        .map_err(|_| "BaseUrl accepted what http::Uri refuses".to_owned())?;
    if uri.authority() != base_uri.authority() || uri.scheme() != base_uri.scheme() {
        return Err(format!("{endpoint:?} under {base:?} left the origin: {uri}"));
    }
    let prefix = base_uri.path().trim_end_matches('/');
    if !uri.path().starts_with(prefix) {
        return Err(format!("{endpoint:?} under {base:?} left the base path: {uri}"));
    }
    for segment in uri.path().split('/') {
        let decoded = percent_decode(segment);
        if decoded == "." || decoded == ".." {
            return Err(format!("{endpoint:?} under {base:?} kept a dot segment: {uri}"));
        }
    }
    Ok("joined".into())
}

fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = segment.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The normalizer under tight limits: answers a document or a decode /
/// size error, never anything else.
fn normalize(data: &[u8], content_type: &'static str) -> Result<String, String> {
    let normalizer = Normalize::builder()
        .max_size(2048)
        .max_depth(12)
        .max_nodes(500)
        .build()
        .map_err(|e| format!("limits refused: {e}"))?;
    let mut headers = HeaderMap::new();
    headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    match normalizer.normalize_parts(StatusCode::OK, &headers, data) {
        Ok(document) => {
            let depth = depth(&document.value);
            // The root counts as one level; a little slack for XML's wrapping objects.
            if depth > 2 * 12 + 2 {
                return Err(format!(
                    "a document {depth} levels deep passed a depth limit of 12"
                ));
            }
            Ok(format!("ok {:?}", document.format))
        }
        Err(err) if err.is_decode() || err.is_body_too_large() => Ok(format!("error {}", outcome_of(&err))),
        Err(err) => Err(format!("unexpected error kind {}: {err}", err.kind().label())),
    }
}

/// An error's kind and the words of its message (numbers and quoted parts
/// dropped), so "which check refused it" is an outcome of its own.
fn outcome_of(err: &conn_core::Error) -> String {
    let words: Vec<&str> = err
        .message()
        .split_whitespace()
        .take_while(|w| !w.contains(['"', '`', '\'']))
        .filter(|w| !w.chars().any(|c| c.is_ascii_digit()))
        .take(8)
        .collect();
    format!("{} {}", err.kind().label(), words.join(" "))
}

fn depth(value: &serde_json::Value) -> usize {
    match value {
        serde_json::Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        serde_json::Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 1,
    }
}

fn json(data: &[u8]) -> Result<String, String> {
    normalize(data, "application/json")
}

fn xml(data: &[u8]) -> Result<String, String> {
    normalize(data, "application/xml")
}

/// Where a planted secret sits in the scrubber's input.
const SECRET_CONTEXTS: [(&str, &str); 8] = [
    ("password=", ""),
    ("\"access_token\":\"", "\""),
    ("Authorization: Bearer ", ""),
    ("api_key: ", ""),
    ("<password>", "</password>"),
    ("client_secret='", "'"),
    ("{\\\"refresh_token\\\":\\\"", "\\\"}"),
    ("token=", "&"),
];

/// The scrubber: a planted secret never survives, and scrubbing twice
/// equals scrubbing once. The first byte picks the context, the next eight
/// make the secret, the rest (split at `|`) is the text around it.
fn scrub(data: &[u8]) -> Result<String, String> {
    let text = String::from_utf8_lossy(data);
    let once = scrub_secrets(&text);
    let twice = scrub_secrets(&once);
    if twice != once {
        return Err(format!("not idempotent: {text:?} -> {once:?} -> {twice:?}"));
    }
    let Some((&pick, rest)) = data.split_first() else {
        return Ok("empty".into());
    };
    let (key, close) = SECRET_CONTEXTS[pick as usize % SECRET_CONTEXTS.len()];
    let secret = planted_secret(rest);
    let around = String::from_utf8_lossy(rest.get(8..).unwrap_or_default()).into_owned();
    let (before, after) = around.split_once('|').unwrap_or((&around, ""));
    // A separator keeps the secret from merging with fuzz text into a longer value.
    let planted = format!("{before}\n{key}{secret}{close}\n{after}");
    let clean = scrub_secrets(&planted);
    if clean.contains(&secret) {
        return Err(format!("the planted secret survived: {planted:?} -> {clean:?}"));
    }
    Ok(format!("context {}", pick as usize % SECRET_CONTEXTS.len()))
}

/// An alphanumeric secret of 16 characters made from up to eight bytes.
fn planted_secret(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut secret = String::from("sk");
    for i in 0..14 {
        let b = bytes.get(i % 8).copied().unwrap_or(i as u8) as usize + i * 7;
        secret.push(ALPHABET[b % ALPHABET.len()] as char);
    }
    secret
}

/// The blueprint parser: any text answers a blueprint or validation errors.
fn blueprint(data: &[u8]) -> Result<String, String> {
    let text = String::from_utf8_lossy(data);
    let env = HashMap::from([("T".to_owned(), "token-value".to_owned())]);
    Ok(match conn_blueprint::Blueprint::from_str_with_env(&text, &env) {
        Ok(blueprint) => format!("ok {} connectors", blueprint.names().count().min(4)),
        Err(errors) => format!("errors {}", errors.to_string().lines().count().min(8)),
    })
}

/// `Link` headers for pagination: a next link is followed only when it
/// stays on the connector's origin and under its base path.
fn link_header(data: &[u8]) -> Result<String, String> {
    let base = BaseUrl::parse("https://api.example.com/v2", false).map_err(|e| e.to_string())?;
    let headers = headers(data, "link");
    let mut builder = http::Response::builder().status(200);
    if let Some(map) = builder.headers_mut() {
        *map = headers;
    }
    let response = builder.body(Bytes::new()).map_err(|e| e.to_string())?;
    let report = CallReport {
        connector: "fuzz".into(),
        method: Method::GET,
        endpoint: "/items".into(),
        correlation_id: "fuzz".into(),
        started: tokio::time::Instant::now(),
        total: Duration::ZERO,
        throttle_wait: Duration::ZERO,
        attempts: Default::default(),
        outcome: CallOutcome::Success,
        degraded: None,
    };
    let response = Response::new(response, report);
    let document = Document {
        format: Format::Json,
        value: serde_json::Value::Null,
    };
    let position = Position::Start;
    let page = PageView::new(&position, &document, &[], &response, &base);
    match NextUrl::link_header().next(&page) {
        Ok(Some(Position::Url(endpoint))) => {
            // A link that cannot become a request is refused when the next
            // page is requested (a config error): clean, if late. What must
            // never happen is a request that forms and leaves the base.
            let Ok(joined) = base.join(&endpoint) else {
                return Ok("next, refused at join".into());
            };
            let Ok(uri) = base.uri(&joined, &[]) else {
                return Ok("next, refused at uri".into());
            };
            if uri.authority() != Some(base.authority()) || !uri.path().starts_with("/v2") {
                return Err(format!("next link {endpoint:?} left the base: {uri}"));
            }
            Ok("next".into())
        }
        Ok(Some(other)) => Err(format!(
            "a link header gave a position that is not a URL: {other:?}"
        )),
        Ok(None) => Ok("none".into()),
        Err(err) => Ok(format!("refused {}", err.kind().label())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_check_their_properties() {
        assert_eq!(server_hints(b"retry-after: 5").unwrap(), "10000");
        assert_eq!(
            base_url(b"https://api.example.com/v2\n/users/7").unwrap(),
            "joined"
        );
        assert!(
            base_url(b"https://api.example.com/v2\n//evil.example/x")
                .unwrap()
                .starts_with("refused")
        );
        assert!(json(br#"{"a":[1,2]}"#).unwrap().starts_with("ok"));
        assert!(json(b"{").unwrap().starts_with("error decode"));
        assert!(xml(b"<a><b>1</b></a>").unwrap().starts_with("ok"));
        assert!(scrub(b"\x00abcdefghbefore|after").is_ok());
        assert!(
            blueprint(b"[connectors.a]\nbase_url = \"https://api.example.com\"\n")
                .unwrap()
                .starts_with("ok")
        );
        assert_eq!(
            link_header(b"link: </v2/items?page=2>; rel=\"next\"").unwrap(),
            "next"
        );
        assert_eq!(
            link_header(b"link: <https://evil.example/v2/x>; rel=\"next\"").unwrap(),
            "refused redirect"
        );
    }
}
