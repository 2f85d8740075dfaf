//! The cap on connections per host, over real sockets: a burst waits for a
//! connection instead of opening hundreds.

use std::sync::Arc;
use std::time::Duration;

use conn_core::{Connector, Context, Request};
use conn_testkit::{Reply, TestServer};
use conn_transport_hyper::HyperTransport;
use http::Method;

async fn burst(server: &TestServer, transport: HyperTransport, calls: usize) {
    let connector = Connector::builder("burst")
        .base_url(server.url())
        .allow_http(true)
        .transport(Arc::new(transport))
        .build()
        .unwrap();
    let tasks: Vec<_> = (0..calls)
        .map(|_| {
            let connector = connector.clone();
            tokio::spawn(async move { connector.call(Request::get("/item"), Context::new()).await })
        })
        .collect();
    for task in tasks {
        let response = task.await.unwrap().unwrap();
        assert_eq!(response.status(), 200);
    }
}

async fn server() -> TestServer {
    let server = TestServer::builder().http1_only().start().await.unwrap();
    server.route(
        Method::GET,
        "/item",
        [Reply::json(200, "{}").delay(Duration::from_millis(5))],
    );
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_calls_use_at_most_the_cap() {
    let server = server().await;
    let transport = HyperTransport::builder()
        .max_connections_per_host(8)
        .build()
        .unwrap();
    burst(&server, transport, 1000).await;

    assert_eq!(server.hits("/item"), 1000);
    assert!(
        server.connections() <= 8,
        "{} sockets opened",
        server.connections()
    );
    assert!(
        server.max_in_flight() <= 8,
        "{} requests in flight",
        server.max_in_flight()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_cap_a_burst_opens_a_socket_per_request() {
    let server = server().await;
    burst(&server, HyperTransport::builder().build().unwrap(), 100).await;
    assert!(
        server.connections() > 8,
        "only {} sockets: the cap test proves nothing",
        server.connections()
    );
}

#[test]
fn a_cap_of_zero_is_a_config_error() {
    let err = HyperTransport::builder()
        .max_connections_per_host(0)
        .build()
        .unwrap_err();
    assert!(err.is_config(), "{err}");
}
