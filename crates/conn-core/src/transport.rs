//! The `Transport` trait: the component that puts one attempt on the wire.

use bytes::Bytes;
use tokio::time::Instant;

use crate::{BodyStream, BoxFuture, Credentials, Error};

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

    /// Sends `request` and returns as soon as the response head arrives,
    /// the body following as a [`BodyStream`]; used by
    /// [`Connector::call_stream`](crate::Connector::call_stream).
    ///
    /// The body stream must apply the transport's size limit (or the
    /// request's [`BodyLimit`](crate::BodyLimit) extension) and any
    /// throughput guard chunk by chunk, and must never buffer the body.
    ///
    /// The default reads the whole body with [`send`](Self::send) and hands
    /// it over as one chunk, so every transport works with `call_stream`;
    /// only a transport that overrides this streams in bounded memory.
    fn send_streaming(
        &self,
        request: TransportRequest,
    ) -> BoxFuture<'static, Result<TransportStream, Error>> {
        let buffered = self.send(request);
        Box::pin(async move { buffered.await.map(TransportStream::from) })
    }
}

/// The response to one streamed attempt: its head, and the body still on
/// the wire.
#[derive(Debug)]
pub struct TransportStream {
    /// Status and headers; the body arrives through the stream.
    pub response: http::Response<BodyStream>,
    /// When the response head arrived, if the transport knows.
    pub first_byte: Option<Instant>,
}

impl From<TransportResponse> for TransportStream {
    fn from(buffered: TransportResponse) -> Self {
        TransportStream {
            response: buffered.response.map(BodyStream::from_bytes),
            first_byte: buffered.first_byte,
        }
    }
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
