//! What a `Connector` with only the hyper transport costs over raw
//! hyper-util, against the same local server in the same run.
//!
//! Criterion measures each client's per-request latency (shown as
//! requests/s); afterwards an interleaved A/B/A/B run prints the headline
//! ratio `conn / raw` in requests per second (goal: >= 0.97).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use conn::transport::{HyperTransport, Protocols};
use conn::{Connector, Context, Request};
use conn_testkit::{Reply, TestServer};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

const BODY: &str = r#"{"id":42,"name":"widget","tags":["a","b"],"price":12.5}"#;

struct Setup {
    /// Runs the server on its own thread, so it does not share the client's runtime.
    _server_runtime: tokio::runtime::Runtime,
    server: TestServer,
    raw: Client<HttpConnector, Full<Bytes>>,
    connector: Connector,
    url: http::Uri,
}

fn setup() -> Setup {
    let server_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = server_runtime
        .block_on(TestServer::builder().http1_only().start())
        .unwrap();
    server.route(http::Method::GET, "/item", [Reply::json(200, BODY)]);
    let raw = Client::builder(TokioExecutor::new()).build_http();
    let transport = HyperTransport::builder()
        .protocols(Protocols::Http1)
        .build()
        .unwrap();
    let connector = Connector::builder("bench")
        .base_url(server.url())
        .allow_http(true)
        .transport(Arc::new(transport))
        .build()
        .unwrap();
    let url = format!("{}/item", server.url()).parse().unwrap();
    Setup {
        _server_runtime: server_runtime,
        server,
        raw,
        connector,
        url,
    }
}

async fn raw_call(setup: &Setup) {
    let request = http::Request::get(setup.url.clone())
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = setup.raw.request(request).await.unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body.len(), BODY.len());
}

async fn conn_call(setup: &Setup) {
    let response = setup
        .connector
        .call(Request::get("/item"), Context::new())
        .await
        .unwrap();
    assert_eq!(response.body().len(), BODY.len());
}

fn bench(c: &mut Criterion) {
    let setup = setup();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("transport_overhead");
    group.throughput(Throughput::Elements(1));
    group.bench_function("raw_hyper_util", |b| {
        b.to_async(&runtime).iter(|| raw_call(&setup))
    });
    group.bench_function("conn_transport_only", |b| {
        b.to_async(&runtime).iter(|| conn_call(&setup))
    });
    group.finish();

    // Interleaved rounds: both clients see the same machine noise.
    let rounds = if std::env::args().any(|a| a == "--bench") {
        10
    } else {
        1
    };
    let per_round = 2_000;
    let mut ratios = Vec::new();
    for _ in 0..rounds {
        let raw = runtime.block_on(rate(per_round, || raw_call(&setup)));
        let conn = runtime.block_on(rate(per_round, || conn_call(&setup)));
        ratios.push(conn / raw);
        println!(
            "round: raw {raw:.0} req/s, conn {conn:.0} req/s, ratio {:.3}",
            conn / raw
        );
    }
    ratios.sort_by(f64::total_cmp);
    println!(
        "transport_overhead: median ratio conn/raw = {:.3} over {} interleaved rounds ({} requests served)",
        ratios[ratios.len() / 2],
        rounds,
        setup.server.requests().len()
    );
}

async fn rate<F, Fut>(count: u32, mut call: F) -> f64
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let start = Instant::now();
    for _ in 0..count {
        call().await;
    }
    f64::from(count) / start.elapsed().as_secs_f64()
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5)).warm_up_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
