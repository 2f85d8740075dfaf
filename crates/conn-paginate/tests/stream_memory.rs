//! A 1 GiB NDJSON export streamed through the whole pipeline and the hyper
//! transport in bounded memory. A test binary of its own, so the process's
//! peak RSS (`VmHWM`) measures this test alone.
//!
//! `CONN_NDJSON_TEST_BYTES` sets the size (default 1 GiB).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use conn_core::{Connector, Context, Request};
use conn_paginate::PaginateExt;
use conn_testkit::ScriptedBody;
use conn_transport_hyper::HyperTransport;
use futures_util::StreamExt;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

const LIMIT: u64 = 64 << 20;

/// A kibibyte-value field from /proc/self/status.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| {
            line.strip_prefix(field)?
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

/// About 64 KiB of whole NDJSON lines.
fn chunk() -> (Bytes, u64) {
    let mut text = String::new();
    let mut lines = 0;
    while text.len() < 64 * 1024 - 200 {
        text.push_str(&format!(
            "{{\"id\":{lines},\"sku\":\"SKU-{lines:06}\",\"qty\":{},\"note\":\"{}\"}}\n",
            lines % 7,
            "n".repeat(2000)
        ));
        lines += 1;
    }
    (Bytes::from(text), lines)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gigabyte_of_ndjson_streams_in_bounded_memory() {
    let target: u64 = std::env::var("CONN_NDJSON_TEST_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1 << 30);
    let (chunk, lines_per_chunk) = chunk();
    let chunks = target.div_ceil(chunk.len() as u64);
    let total = chunks * chunk.len() as u64;

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let served = chunk.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let chunk = served.clone();
            tokio::spawn(async move {
                let service = service_fn(move |_request| {
                    let body = ScriptedBody::new()
                        .repeat(chunk.clone(), total)
                        .declared_len(Some(total));
                    let response = http::Response::builder()
                        .header("content-type", "application/x-ndjson")
                        .body(body)
                        .unwrap();
                    async move { Ok::<_, Infallible>(response) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });

    let connector = Connector::builder("export")
        .base_url(format!("http://{addr}"))
        .allow_http(true)
        .transport(Arc::new(HyperTransport::builder().build().unwrap()))
        .build()
        .unwrap();

    let baseline = status_kib("VmRSS:");
    let started = Instant::now();
    let mut documents = connector
        .call_ndjson::<serde_json::Value>(
            Request::get("/export.ndjson").body_limit(u64::MAX),
            Context::new(),
        )
        .await
        .unwrap();
    let mut count = 0u64;
    let mut qty = 0u64;
    while let Some(document) = documents.next().await {
        let document = document.unwrap();
        qty += document["qty"].as_u64().unwrap();
        count += 1;
    }
    let elapsed = started.elapsed();
    let peak = status_kib("VmHWM:");
    let growth = peak.saturating_sub(baseline) * 1024;
    eprintln!(
        "{} MiB, {count} documents in {:.1} s; RSS baseline {} KiB, peak {} KiB",
        total >> 20,
        elapsed.as_secs_f64(),
        baseline,
        peak
    );
    assert_eq!(documents.received(), total);
    assert_eq!(count, chunks * lines_per_chunk);
    assert!(qty > 0);
    assert!(growth < LIMIT, "peak RSS grew by {} MiB", growth >> 20);
    assert!(elapsed < Duration::from_secs(600));
}
