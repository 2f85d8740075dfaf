//! What the test server saw: one [`RecordedRequest`] per request received.

use bytes::Bytes;
use http::{HeaderMap, Method, Uri, Version};
use tokio::time::Instant;

/// One request as the [`TestServer`](crate::TestServer) received it, kept so a
/// test can assert on what its client actually sent.
///
/// A request is recorded once its body has been read completely, before the
/// scripted reply is played, so even requests answered with a delay, a reset
/// or a truncated body are on record.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    /// The request method.
    pub method: Method,
    /// The request target as received: path and query (origin form), or the
    /// full URI when the client sent one (HTTP/2 always sends scheme and
    /// authority as pseudo-headers, so it appears here).
    pub uri: Uri,
    /// The HTTP version the request arrived with.
    pub version: Version,
    /// The request headers, in the order received.
    pub headers: HeaderMap,
    /// The complete request body.
    pub body: Bytes,
    /// When the server finished receiving the request (its body included),
    /// on the tokio clock.
    pub received_at: Instant,
    /// Which TCP connection the request came on: connections are numbered
    /// from 1 in the order the server accepted them, so two requests with the
    /// same number shared a connection.
    pub connection: u64,
}

impl RecordedRequest {
    /// The path of the request, without the query.
    ///
    /// ```
    /// # use conn_testkit::RecordedRequest;
    /// # let request = RecordedRequest {
    /// #     method: http::Method::GET,
    /// #     uri: "/v1/items?page=2".parse().unwrap(),
    /// #     version: http::Version::HTTP_11,
    /// #     headers: http::HeaderMap::new(),
    /// #     body: bytes::Bytes::new(),
    /// #     received_at: tokio::time::Instant::now(),
    /// #     connection: 1,
    /// # };
    /// assert_eq!(request.path(), "/v1/items");
    /// assert_eq!(request.query(), Some("page=2"));
    /// ```
    pub fn path(&self) -> &str {
        self.uri.path()
    }

    /// The query string without the leading `?`, if the request had one.
    pub fn query(&self) -> Option<&str> {
        self.uri.query()
    }

    /// The first value of the header `name` (case-insensitive), if present
    /// and valid visible ASCII; use [`headers`](Self::headers) for repeated
    /// or non-ASCII values.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)?.to_str().ok()
    }

    /// The body as UTF-8 text (lossy), handy in assertion messages.
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}
