//! What response compression costs and saves, on loopback: the same JSON
//! document served as gzip, brotli, zstd, or as is, read through conn's
//! hyper transport (bytes on the wire, time per call, p50/p99).
//!
//! `cargo run --release -p conn-transport-hyper --example compression_cost`
//!
//! Loopback has no bandwidth to save, so this measures the CPU price of
//! decoding; on a real network the smaller body usually wins it back.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_compression::Level;
use async_compression::tokio::bufread::{BrotliEncoder, GzipEncoder, ZstdEncoder};
use conn_core::{Connector, Context, Request};
use conn_testkit::{Reply, TestServer};
use conn_transport_hyper::HyperTransport;
use http::Method;
use tokio::io::AsyncReadExt;

const CALLS: usize = 400;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let items: Vec<String> = (0..8000)
        .map(|i| {
            format!(
                r#"{{"id":{i},"name":"item {i}","price":{}.{:02},"tags":["a","b"]}}"#,
                i % 97,
                i % 100
            )
        })
        .collect();
    let document = format!("[{}]", items.join(",")).into_bytes();
    let server = TestServer::builder().http1_only().start().await.unwrap();
    let mut rows = Vec::new();
    for encoding in ["identity", "gzip", "br", "zstd"] {
        let mut wire = Vec::new();
        match encoding {
            "gzip" => {
                GzipEncoder::with_quality(&document[..], Level::Default)
                    .read_to_end(&mut wire)
                    .await
            }
            "br" => {
                BrotliEncoder::with_quality(&document[..], Level::Precise(5))
                    .read_to_end(&mut wire)
                    .await
            }
            "zstd" => {
                ZstdEncoder::with_quality(&document[..], Level::Default)
                    .read_to_end(&mut wire)
                    .await
            }
            _ => {
                wire = document.clone();
                Ok(wire.len())
            }
        }
        .unwrap();
        let path = format!("/{encoding}");
        let mut reply = Reply::json(200, wire.clone());
        if encoding != "identity" {
            reply = reply.header("content-encoding", encoding);
        }
        server.route(Method::GET, &path, [reply]);
        let connector = Connector::builder("bench")
            .base_url(server.url())
            .allow_http(true)
            .transport(Arc::new(HyperTransport::builder().build().unwrap()))
            .build()
            .unwrap();
        let mut latencies = Vec::with_capacity(CALLS);
        for _ in 0..CALLS {
            let started = Instant::now();
            let response = connector.call(Request::get(&path), Context::new()).await.unwrap();
            assert_eq!(response.body().len(), document.len());
            latencies.push(started.elapsed());
        }
        latencies.sort_unstable();
        let mean = latencies.iter().sum::<Duration>() / CALLS as u32;
        rows.push((
            encoding,
            wire.len(),
            mean,
            latencies[CALLS / 2],
            latencies[CALLS * 99 / 100],
        ));
        server.reset_records();
    }
    println!(
        "document: {} bytes decoded, {CALLS} sequential calls each, loopback HTTP/1.1",
        document.len()
    );
    println!(
        "{:<9} {:>10} {:>10} {:>10} {:>10}",
        "encoding", "wire B", "mean µs", "p50 µs", "p99 µs"
    );
    for (encoding, wire, mean, p50, p99) in rows {
        println!(
            "{encoding:<9} {wire:>10} {:>10} {:>10} {:>10}",
            mean.as_micros(),
            p50.as_micros(),
            p99.as_micros()
        );
    }
}
