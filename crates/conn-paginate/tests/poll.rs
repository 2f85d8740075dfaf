//! Polling on a paused clock with the test kit's scripted transport.

use std::sync::Arc;
use std::time::Duration;

use conn_core::{Connector, Request};
use conn_paginate::PaginateExt;
use conn_testkit::{MockReply, ScriptedTransport};
use futures_util::StreamExt;
use tokio::time::Instant;

fn connector(transport: Arc<ScriptedTransport>) -> Connector {
    Connector::builder("poll")
        .base_url("https://api.example.com")
        .transport(transport)
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn only_changes_are_yielded_with_validators_sent_back() {
    let transport = Arc::new(ScriptedTransport::new([
        MockReply::json(200, r#"{"v":1}"#)
            .header("etag", "\"v1\"")
            .header("last-modified", "Wed, 21 Oct 2026 07:28:00 GMT"),
        MockReply::status(304),
        MockReply::status(304),
        MockReply::status(304),
        MockReply::json(200, r#"{"v":2}"#).header("etag", "\"v2\""),
        MockReply::status(304),
    ]));
    let start = Instant::now();
    let mut changes = connector(transport.clone()).poll(Request::get("/status"), Duration::from_secs(10));

    let (first, _) = changes.next().await.unwrap().unwrap();
    assert_eq!(first.value["v"], 1);
    let (second, response) = changes.next().await.unwrap().unwrap();
    assert_eq!(second.value["v"], 2);
    assert_eq!(response.status(), 200);
    assert_eq!(
        start.elapsed(),
        Duration::from_secs(40),
        "three 304s yielded nothing"
    );
    let third = tokio::time::timeout(Duration::from_secs(60), changes.next()).await;
    assert!(third.is_err(), "304s forever: nothing more");

    let sent = transport.requests();
    assert!(sent[0].request.headers().get("if-none-match").is_none());
    for request in &sent[1..5] {
        assert_eq!(request.request.headers()["if-none-match"], "\"v1\"");
        assert_eq!(
            request.request.headers()["if-modified-since"],
            "Wed, 21 Oct 2026 07:28:00 GMT"
        );
    }
    assert_eq!(sent[5].request.headers()["if-none-match"], "\"v2\"");
    assert!(sent[5].request.headers().get("if-modified-since").is_none());
    drop(changes);
    let count = transport.count();
    tokio::time::sleep(Duration::from_secs(600)).await;
    assert_eq!(transport.count(), count, "dropping the stream stopped the loop");
}

#[tokio::test(start_paused = true)]
async fn the_server_stretches_the_interval() {
    let transport = Arc::new(ScriptedTransport::new([
        MockReply::json(200, "1").header("x-poll-interval", "60"),
        MockReply::status(304).header("retry-after", "120"),
        MockReply::json(503, "{}").header("retry-after", "300"),
        MockReply::json(200, "2"),
        MockReply::json(200, "2"),
        MockReply::json(200, "3").header("retry-after", "99999"),
        MockReply::status(304),
    ]));
    let mut changes = connector(transport.clone())
        .poll(Request::get("/events"), Duration::from_secs(5))
        .max_interval(Duration::from_secs(1000));
    assert_eq!(changes.next().await.unwrap().unwrap().0.value, 1);
    let err = changes.next().await.unwrap().unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(503));
    assert_eq!(changes.next().await.unwrap().unwrap().0.value, 2);
    // The same body again is not a change.
    assert_eq!(changes.next().await.unwrap().unwrap().0.value, 3);
    tokio::time::timeout(Duration::from_secs(2000), changes.next())
        .await
        .unwrap_err();

    let at: Vec<u64> = transport
        .requests()
        .iter()
        .map(|r| (r.at - transport.requests()[0].at).as_secs())
        .collect();
    assert_eq!(at[..7], [0, 60, 180, 480, 485, 490, 1490]);
}
