//! What `paginate` and `call_stream` cost over doing the same by hand,
//! against one local server in the same run.
//!
//! - Pagination: items/s of `paginate` (cursor in the body, 100 pages × 100
//!   items) against a hand-written loop of `Connector::call` + serde_json
//!   doing the same walk (goal: >= 0.95×).
//! - Streaming: bytes/s of `Connector::call_stream` reading a 256 MiB body
//!   against hyper-util's client streaming the same body (goal: >= 0.95×).
//!
//! Criterion measures each side; afterwards interleaved A/B rounds print
//! the headline ratios, so both sides see the same machine noise.

mod common;

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use conn::paginate::{Cursor, PaginateExt};
use conn::transport::{HyperTransport, Protocols};
use conn::{Connector, Context, Request};
use conn_testkit::{Reply, TestServer};
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use futures_util::StreamExt;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

const PAGES: usize = 100;
const PER_PAGE: usize = 100;
const STREAM_BYTES: u64 = 256 << 20;

struct Setup {
    /// Runs the server on its own thread, so it does not share the client's runtime.
    _server_runtime: tokio::runtime::Runtime,
    server: TestServer,
    /// The 100 pages, replayed from the first before each walk.
    pages: Vec<Reply>,
    raw: Client<HttpConnector, Full<Bytes>>,
    connector: Connector,
    big_url: http::Uri,
}

fn page(n: usize) -> Reply {
    let items: Vec<Value> = (0..PER_PAGE)
        .map(|i| {
            let id = n * PER_PAGE + i;
            serde_json::json!({"id": id, "name": format!("item-{id}"), "price": 12.5, "tags": ["a", "b"]})
        })
        .collect();
    let next = (n + 1 < PAGES).then(|| format!("c{}", n + 1));
    Reply::json(
        200,
        serde_json::to_vec(&serde_json::json!({"data": items, "meta": {"next": next}})).unwrap(),
    )
}

fn setup() -> Setup {
    let (server_runtime, server) = common::local_server();
    // One static 64 KiB chunk sent over and over: the server allocates nothing.
    server.route(http::Method::GET, "/big", [Reply::huge_body(200, STREAM_BYTES)]);
    let connector = Connector::builder("bench")
        .base_url(server.url())
        .allow_http(true)
        .transport(Arc::new(
            HyperTransport::builder()
                .protocols(Protocols::Http1)
                .build()
                .unwrap(),
        ))
        .build()
        .unwrap();
    let big_url = format!("{}/big", server.url()).parse().unwrap();
    Setup {
        _server_runtime: server_runtime,
        pages: (0..PAGES).map(page).collect(),
        server,
        raw: Client::builder(TokioExecutor::new()).build_http(),
        connector,
        big_url,
    }
}

impl Setup {
    /// The page script starts over (the server ignores the query).
    fn rewind(&self) {
        self.server.route(http::Method::GET, "/items", self.pages.clone());
    }
}

async fn paginate_walk(connector: &Connector) -> usize {
    let mut pages = connector
        .paginate(
            Request::get("/items"),
            Cursor::from_body("/meta/next")
                .query("cursor")
                .page_size("limit", PER_PAGE as u32),
        )
        .items_at("/data");
    let mut items = 0;
    while let Some(page) = pages.next().await {
        items += black_box(page.unwrap().items).len();
    }
    assert_eq!(items, PAGES * PER_PAGE);
    items
}

/// The loop users write without conn-paginate: same requests, same parsing.
async fn hand_walk(connector: &Connector) -> usize {
    let mut cursor: Option<String> = None;
    let mut items = 0;
    loop {
        let mut request = Request::get("/items").query("limit", PER_PAGE.to_string());
        if let Some(cursor) = &cursor {
            request = request.query("cursor", cursor.clone());
        }
        let response = connector.call(request, Context::new()).await.unwrap();
        let mut document: Value = serde_json::from_slice(response.body()).unwrap();
        if let Some(Value::Array(page)) = document.pointer_mut("/data").map(Value::take) {
            items += black_box(page).len();
        }
        match document.pointer("/meta/next").and_then(Value::as_str) {
            Some(next) if !next.is_empty() => cursor = Some(next.to_owned()),
            _ => break,
        }
    }
    assert_eq!(items, PAGES * PER_PAGE);
    items
}

async fn conn_stream(connector: &Connector) -> u64 {
    let response = connector
        .call_stream(Request::get("/big").body_limit(1 << 30), Context::new())
        .await
        .unwrap();
    let mut body = response.into_body();
    let mut received = 0;
    while let Some(chunk) = body.next().await {
        received += black_box(chunk.unwrap()).len() as u64;
    }
    assert_eq!(received, STREAM_BYTES);
    received
}

async fn raw_stream(setup: &Setup) -> u64 {
    let request = http::Request::get(setup.big_url.clone())
        .body(Full::new(Bytes::new()))
        .unwrap();
    let mut body = setup.raw.request(request).await.unwrap().into_body();
    let mut received = 0;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.unwrap().into_data() {
            received += black_box(data).len() as u64;
        }
    }
    assert_eq!(received, STREAM_BYTES);
    received
}

/// Times `walk` over `iters` walks, rewinding the page script (untimed) before each.
fn timed_walks<F: Future<Output = usize>>(
    runtime: &tokio::runtime::Runtime,
    setup: &Setup,
    iters: u64,
    walk: impl Fn() -> F,
) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        setup.rewind();
        let start = Instant::now();
        runtime.block_on(walk());
        total += start.elapsed();
    }
    total
}

fn bench(c: &mut Criterion) {
    let setup = setup();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    let mut group = c.benchmark_group("pagination");
    group.sample_size(10).sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements((PAGES * PER_PAGE) as u64));
    group.bench_function("hand_loop_call_serde_json", |b| {
        b.iter_custom(|iters| timed_walks(&runtime, &setup, iters, || hand_walk(&setup.connector)))
    });
    group.bench_function("paginate", |b| {
        b.iter_custom(|iters| timed_walks(&runtime, &setup, iters, || paginate_walk(&setup.connector)))
    });
    group.finish();

    let mut group = c.benchmark_group("streaming_256MiB");
    group.sample_size(10).sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Bytes(STREAM_BYTES));
    group.bench_function("raw_hyper_util_body", |b| {
        b.to_async(&runtime).iter(|| raw_stream(&setup))
    });
    group.bench_function("conn_call_stream", |b| {
        b.to_async(&runtime).iter(|| conn_stream(&setup.connector))
    });
    group.finish();

    // Interleaved A/B (hand, paginate, hand, ...; raw, conn, raw, ...), so
    // both sides of each ratio see the same machine noise.
    let rounds = if std::env::args().any(|a| a == "--bench") {
        9
    } else {
        1
    };
    let (mut walk_ratios, mut stream_ratios) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let walks = 5;
        let hand = timed_walks(&runtime, &setup, walks, || hand_walk(&setup.connector));
        let paged = timed_walks(&runtime, &setup, walks, || paginate_walk(&setup.connector));
        let items = (walks as usize * PAGES * PER_PAGE) as f64;
        let (hand_rate, paged_rate) = (items / hand.as_secs_f64(), items / paged.as_secs_f64());
        walk_ratios.push(paged_rate / hand_rate);

        let (raw, conn) = runtime.block_on(async {
            let start = Instant::now();
            raw_stream(&setup).await;
            let raw = start.elapsed();
            let start = Instant::now();
            conn_stream(&setup.connector).await;
            (raw, start.elapsed())
        });
        let mib = (STREAM_BYTES >> 20) as f64;
        let (raw_rate, conn_rate) = (mib / raw.as_secs_f64(), mib / conn.as_secs_f64());
        stream_ratios.push(conn_rate / raw_rate);
        println!(
            "round: hand loop {hand_rate:.0} items/s, paginate {paged_rate:.0} items/s (ratio {:.3}); raw hyper {raw_rate:.0} MiB/s, call_stream {conn_rate:.0} MiB/s (ratio {:.3})",
            paged_rate / hand_rate,
            conn_rate / raw_rate
        );
    }
    println!(
        "pagination_streaming: median ratio paginate/hand loop = {:.3}, call_stream/raw hyper = {:.3} over {rounds} interleaved rounds",
        median(&mut walk_ratios),
        median(&mut stream_ratios)
    );
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
