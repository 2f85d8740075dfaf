//! `call_stream` and NDJSON over a real local server and the hyper transport.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::RetryTransient;
use conn_core::{Connector, Context, Request};
use conn_paginate::PaginateExt;
use conn_testkit::{Reply, TestServer};
use conn_transport_hyper::{HyperTransport, MinThroughput};
use futures_util::StreamExt;
use http::Method;

fn connector(server: &TestServer, transport: HyperTransport) -> Connector {
    Connector::builder("export")
        .base_url(server.url())
        .allow_http(true)
        .transport(Arc::new(transport))
        .retry(Arc::new(RetryTransient(3)))
        .attempt_timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_head_is_retried_and_the_body_streams_past_the_buffered_limit() {
    let server = TestServer::start().await.unwrap();
    server.route(
        Method::GET,
        "/export",
        [Reply::status(503), Reply::huge_body(200, 40 << 20)],
    );
    let transport = HyperTransport::builder().body_limit(1 << 20).build().unwrap();
    let connector = connector(&server, transport);

    // The transport's limit holds for streams too...
    let response = connector
        .call_stream(Request::get("/export"), Context::new())
        .await;
    let err = response.unwrap_err();
    assert!(err.is_body_too_large(), "{err}");

    // ...unless the request raises it.
    let response = connector
        .call_stream(Request::get("/export").body_limit(64 << 20), Context::new())
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    let mut largest = 0;
    while let Some(chunk) = body.next().await {
        largest = largest.max(chunk.unwrap().len());
    }
    assert_eq!(body.received(), 40 << 20);
    assert!(largest <= 1 << 20, "chunks stay small: {largest}");
}

#[tokio::test]
async fn retries_happen_only_before_the_head() {
    let server = TestServer::start().await.unwrap();
    server.route(
        Method::GET,
        "/export",
        [
            Reply::status(503),
            Reply::text(200, "text/plain", "0123456789").truncate_body(4),
        ],
    );
    let connector = connector(&server, HyperTransport::builder().build().unwrap());
    let response = connector
        .call_stream(Request::get("/export"), Context::new())
        .await
        .unwrap();
    assert_eq!(response.report().attempts.len(), 2);
    let mut body = response.into_body();
    assert_eq!(body.next().await.unwrap().unwrap(), "0123");
    let err = body.next().await.unwrap().unwrap_err();
    assert!(err.is_connection_lost(), "{err}");
    assert!(err.to_string().contains("after 4 body bytes"), "{err}");
    assert!(body.next().await.is_none());
    assert_eq!(server.hits("/export"), 2, "the body error was not retried");
}

#[tokio::test]
async fn a_stalled_body_ends_with_a_timeout_that_counts_the_bytes() {
    let server = TestServer::start().await.unwrap();
    let body = "x".repeat(64 * 1024);
    server.route(
        Method::GET,
        "/export",
        [Reply::text(200, "text/plain", body).stall_body(10_000, Duration::from_secs(30))],
    );
    let transport = HyperTransport::builder()
        .min_throughput(MinThroughput {
            bytes_per_second: 1024,
            grace: Duration::from_millis(300),
        })
        .build()
        .unwrap();
    let connector = connector(&server, transport);
    let mut body = connector
        .call_stream(Request::get("/export"), Context::new())
        .await
        .unwrap()
        .into_body();
    let err = loop {
        match body.next().await {
            Some(Ok(_)) => {}
            Some(Err(err)) => break err,
            None => panic!("the stalled body ended without an error"),
        }
    };
    assert!(err.is_timeout(), "{err}");
    assert_eq!(body.received(), 10_000);
    assert!(err.to_string().contains("after 10000 body bytes"), "{err}");
}

#[tokio::test]
async fn an_error_status_is_read_whole_and_classified() {
    let server = TestServer::start().await.unwrap();
    server.route(Method::GET, "/export", [Reply::json(404, r#"{"error":"gone"}"#)]);
    let connector = connector(&server, HyperTransport::builder().build().unwrap());
    let err = connector
        .call_stream(Request::get("/export"), Context::new())
        .await
        .unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(404));
    assert_eq!(err.response_body().unwrap(), r#"{"error":"gone"}"#);
}

#[tokio::test]
async fn ndjson_lines_split_across_chunks_become_documents() {
    let server = TestServer::start().await.unwrap();
    let lines: String = (0..2_000)
        .map(|i| format!("{{\"id\":{i},\"pad\":\"{}\"}}\r\n\n", "p".repeat(i % 50)))
        .collect();
    server.route(
        Method::GET,
        "/events.ndjson",
        [Reply::text(200, "application/x-ndjson", lines).stall_body(12_345, Duration::from_millis(20))],
    );
    let connector = connector(&server, HyperTransport::builder().build().unwrap());
    let ids: Vec<u64> = connector
        .call_ndjson::<serde_json::Value>(Request::get("/events.ndjson"), Context::new())
        .await
        .unwrap()
        .map(|doc| doc.unwrap()["id"].as_u64().unwrap())
        .collect()
        .await;
    assert_eq!(ids, (0..2_000).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_bad_ndjson_line_ends_the_stream_with_its_number() {
    let server = TestServer::start().await.unwrap();
    server.route(
        Method::GET,
        "/e",
        [Reply::text(
            200,
            "application/x-ndjson",
            "{\"a\":1}\n{oops\n{\"a\":3}\n",
        )],
    );
    let connector = connector(&server, HyperTransport::builder().build().unwrap());
    let results: Vec<_> = connector
        .call_ndjson::<serde_json::Value>(Request::get("/e"), Context::new())
        .await
        .unwrap()
        .collect()
        .await;
    assert_eq!(results.len(), 2);
    let err = results[1].as_ref().unwrap_err();
    assert!(err.is_decode() && err.to_string().contains("line 2"), "{err}");
}
