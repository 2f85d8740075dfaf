//! [`Envelope`]: the normalized document with the status, a few headers and
//! what the call did, ready to hand to integration code or a queue.

use std::sync::Arc;
use std::time::Duration;

use conn_core::{Document, Format, Response};
use http::header::HeaderName;
use http::{HeaderMap, Method, StatusCode};
use serde::ser::{Serialize, SerializeMap, SerializeStruct, Serializer};

/// Headers an envelope keeps unless configured otherwise.
pub const DEFAULT_ENVELOPE_HEADERS: [&str; 8] = [
    "content-type",
    "content-language",
    "etag",
    "last-modified",
    "location",
    "link",
    "x-request-id",
    "request-id",
];

/// Headers an envelope never keeps, whatever the allow-list says: they carry
/// credentials or sessions (conn-core's list, shared with redaction).
pub const DENIED_HEADERS: [&str; 12] = conn_core::SECRET_HEADERS;

/// Whether an envelope may never keep header `name`.
pub(crate) fn is_denied(name: &HeaderName) -> bool {
    conn_core::is_secret_header_name(name)
}

/// A normalized response: status, selected headers, the document, and what
/// the call did.
///
/// Built by [`Normalize::envelope`](crate::Normalize::envelope); serializes
/// (with `serde`) to `{ status, headers, document, meta }`.
///
/// ```no_run
/// # async fn demo(connector: conn_core::Connector) -> Result<(), conn_core::Error> {
/// use conn_core::{Context, Request};
/// use conn_normalize::Normalize;
///
/// let response = connector.call(Request::get("/orders/7"), Context::new()).await?;
/// let envelope = Normalize::new().envelope(&response)?;
/// println!("{} from {} in {:?}", envelope.status, envelope.meta.connector, envelope.meta.latency);
/// println!("{}", serde_json::to_string(&envelope).unwrap());
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Envelope {
    /// The response status.
    pub status: StatusCode,
    /// The allowed headers only (see [`DEFAULT_ENVELOPE_HEADERS`]); never a
    /// credential or cookie header ([`DENIED_HEADERS`]) nor a value marked sensitive.
    pub headers: HeaderMap,
    /// The normalized body.
    pub document: Document,
    /// Where the response came from and what getting it took.
    pub meta: Metadata,
}

/// What the call behind an [`Envelope`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metadata {
    /// The connector's name.
    pub connector: Arc<str>,
    /// The method of the call.
    pub method: Method,
    /// The endpoint path (no query string).
    pub endpoint: String,
    /// The correlation id sent upstream.
    pub correlation_id: Arc<str>,
    /// The format the body was read from.
    pub format: Format,
    /// Attempts sent, auth replays included.
    pub attempts: u32,
    /// Retries (attempts after the first, auth replays excluded).
    pub retries: u32,
    /// Total latency of the call, waits included.
    pub latency: Duration,
}

impl Envelope {
    pub(crate) fn new(response: &Response, document: Document, allowed: &[HeaderName]) -> Envelope {
        let report = response.report();
        let mut headers = HeaderMap::new();
        for name in allowed {
            if is_denied(name) {
                continue;
            }
            for value in response.headers().get_all(name) {
                if !value.is_sensitive() {
                    headers.append(name.clone(), value.clone());
                }
            }
        }
        let meta = Metadata {
            connector: report.connector.clone(),
            method: report.method.clone(),
            endpoint: report.endpoint.clone(),
            correlation_id: report.correlation_id.clone(),
            format: document.format,
            attempts: u32::try_from(report.attempts.len()).unwrap_or(u32::MAX),
            retries: report.retries(),
            latency: report.total,
        };
        Envelope {
            status: response.status(),
            headers,
            document,
            meta,
        }
    }
}

/// The name of a format in serialized envelopes.
fn format_label(format: Format) -> &'static str {
    match format {
        Format::Json => "json",
        Format::Xml => "xml",
        Format::Empty => "empty",
        _ => "other",
    }
}

struct Headers<'a>(&'a HeaderMap);

impl Serialize for Headers<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.keys_len()))?;
        for name in self.0.keys() {
            // Repeated headers are joined as HTTP allows; values that are not
            // text are left out rather than mangled.
            let values: Vec<&str> = self
                .0
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect();
            map.serialize_entry(name.as_str(), &values.join(", "))?;
        }
        map.end()
    }
}

impl Serialize for Envelope {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut state = serializer.serialize_struct("Envelope", 5)?;
        state.serialize_field("status", &self.status.as_u16())?;
        state.serialize_field("headers", &Headers(&self.headers))?;
        state.serialize_field("format", format_label(self.document.format))?;
        state.serialize_field("document", &self.document.value)?;
        state.serialize_field("meta", &self.meta)?;
        state.end()
    }
}

impl Serialize for Metadata {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut state = serializer.serialize_struct("Metadata", 8)?;
        state.serialize_field("connector", &*self.connector)?;
        state.serialize_field("method", self.method.as_str())?;
        state.serialize_field("endpoint", &self.endpoint)?;
        state.serialize_field("correlation_id", &*self.correlation_id)?;
        state.serialize_field("format", format_label(self.format))?;
        state.serialize_field("attempts", &self.attempts)?;
        state.serialize_field("retries", &self.retries)?;
        state.serialize_field("latency_ms", &(self.latency.as_secs_f64() * 1000.0))?;
        state.end()
    }
}
