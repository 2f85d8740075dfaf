//! Pieces the root crate's benchmarks share.
#![allow(dead_code)] // each benchmark uses a different subset

use bytes::Bytes;
use conn::{BoxFuture, Error, Transport, TransportRequest, TransportResponse};
use conn_testkit::TestServer;

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

/// A conn-testkit HTTP/1.1 server on a one-thread runtime of its own, so the
/// measured client keeps its runtime to itself. The runtime must live as
/// long as the server.
pub fn local_server() -> (tokio::runtime::Runtime, TestServer) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a server runtime");
    let server = runtime
        .block_on(TestServer::builder().http1_only().start())
        .expect("the test server starts");
    (runtime, server)
}
