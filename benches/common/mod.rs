//! Pieces the root crate's benchmarks share.

use bytes::Bytes;
use conn::{BoxFuture, Error, Transport, TransportRequest, TransportResponse};

/// A transport that answers 200 with `body` at once: the pipeline alone,
/// without the network's cost or noise.
pub struct Instant200(pub &'static str);

impl Transport for Instant200 {
    fn send(&self, _: TransportRequest) -> BoxFuture<'static, Result<TransportResponse, Error>> {
        let response = http::Response::builder()
            .status(200)
            .body(Bytes::from_static(self.0.as_bytes()))
            .expect("a static 200 response is valid");
        Box::pin(std::future::ready(Ok(TransportResponse::new(response))))
    }
}
