//! The `Transport` trait: the component that puts one attempt on the wire.

use bytes::Bytes;
use tokio::time::Instant;

use crate::{BoxFuture, Credentials, Error};

/// Sends one attempt of a call and returns the whole, buffered response.
///
/// The [`Connector`](crate::Connector) hands the transport a fully prepared
/// request (absolute URI, all headers, credentials already added) and enforces
/// the per-attempt timeout around the returned future, so a transport only has
/// to move bytes. It maps its failures onto [`ErrorKind`](crate::ErrorKind)s:
/// `Connect` when nothing was sent, `ConnectionLost` when the connection broke
/// later, `BodyTooLarge` past its size limit.
///
/// The returned future is `'static` (like tower's `Service::call`), so a
/// transport clones what it needs out of `&self`.
///
/// ```
/// use conn_core::{BoxFuture, Error, Transport, TransportRequest, TransportResponse};
///
/// /// Answers every request with 204, without touching the network.
/// struct NoContent;
///
/// impl Transport for NoContent {
///     fn send(&self, _request: TransportRequest) -> BoxFuture<'static, Result<TransportResponse, Error>> {
///         Box::pin(async {
///             let response = http::Response::builder().status(204).body(bytes::Bytes::new()).unwrap();
///             Ok(TransportResponse::new(response))
///         })
///     }
/// }
/// ```
pub trait Transport: Send + Sync {
    /// Sends `request` and reads the complete response body.
    fn send(&self, request: TransportRequest) -> BoxFuture<'static, Result<TransportResponse, Error>>;
}

/// One attempt, ready for the wire.
#[derive(Debug)]
pub struct TransportRequest {
    /// The request, with an absolute URI inside the connector's base URL.
    pub request: http::Request<Bytes>,
    /// Which headers and query parameters carry credentials: a transport that
    /// follows a redirect to another origin must strip all of them.
    pub credentials: Credentials,
}

/// The response to one attempt, with its body fully read.
#[derive(Debug)]
pub struct TransportResponse {
    /// Status, headers and body.
    pub response: http::Response<Bytes>,
    /// When the response head arrived, if the transport knows.
    pub first_byte: Option<Instant>,
}

impl TransportResponse {
    /// Wraps a buffered response; `first_byte` is left unknown.
    pub fn new(response: http::Response<Bytes>) -> Self {
        TransportResponse {
            response,
            first_byte: None,
        }
    }

    /// Records when the response head arrived.
    pub fn with_first_byte(mut self, at: Instant) -> Self {
        self.first_byte = Some(at);
        self
    }

    /// The response status.
    pub fn status(&self) -> http::StatusCode {
        self.response.status()
    }

    /// The response headers.
    pub fn headers(&self) -> &http::HeaderMap {
        self.response.headers()
    }

    /// The response body.
    pub fn body(&self) -> &Bytes {
        self.response.body()
    }
}
