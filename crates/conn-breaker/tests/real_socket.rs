//! The breaker over real sockets: the test kit's HTTP server and the hyper
//! transport, on a normal clock (a paused clock would auto-advance while the
//! runtime waits on I/O). Asserts behaviour only; no timing.

use std::sync::Arc;
use std::time::Duration;

use conn_breaker::{CircuitBreaker, KeyBy, State};
use conn_core::{Connector, Context, Request};
use conn_testkit::{Reply, TestServer};
use http::Method;

#[tokio::test]
async fn the_server_sees_nothing_while_the_circuit_is_open() {
    let server = TestServer::start().await.unwrap();
    server.route(Method::GET, "/down", [Reply::status(503)]);
    server.route(Method::GET, "/up", [Reply::json(200, "{}")]);
    let breaker = CircuitBreaker::builder()
        .consecutive_failures(3)
        .no_windows()
        .cooldown(Duration::from_secs(3600))
        .key_by(KeyBy::Endpoint)
        .build();
    let api = Connector::builder("real")
        .base_url(server.url())
        .allow_http(true)
        .transport(Arc::new(
            conn_transport_hyper::HyperTransport::builder().build().unwrap(),
        ))
        .breaker(Arc::new(breaker.clone()))
        .build()
        .unwrap();
    let call = |path: &'static str| api.call(Request::get(path), Context::new());

    for _ in 0..3 {
        assert_eq!(
            call("/down").await.unwrap_err().status().map(|s| s.as_u16()),
            Some(503)
        );
    }
    for _ in 0..5 {
        let err = call("/down").await.unwrap_err();
        assert!(err.is_circuit_open(), "{err}");
        assert!(err.retry_after().is_some_and(|d| d > Duration::from_secs(3000)));
        assert_eq!(
            call("/up").await.unwrap().status(),
            200,
            "another endpoint is unaffected"
        );
    }
    assert_eq!(server.hits("/down"), 3);
    assert_eq!(server.hits("/up"), 5);

    // An operator closes it once the upstream is back.
    server.route(Method::GET, "/down", [Reply::json(200, "{}")]);
    let key = KeyBy::Endpoint.key_parts("real", "/down", None);
    assert_eq!(breaker.state(&key), Some(State::Open));
    breaker.reset(&key);
    assert_eq!(call("/down").await.unwrap().status(), 200);
    assert_eq!(server.hits("/down"), 4);
}
