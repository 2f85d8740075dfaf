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
mod common;

use common::Instant200;
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
    /// The same connector without per-attempt and total timeouts: isolates
    /// the cost of arming a tokio timer per attempt.
    untimed: Connector,
    url: http::Uri,
}

fn setup() -> Setup {
    let (server_runtime, server) = common::local_server();
    server.route(http::Method::GET, "/item", [Reply::json(200, BODY)]);
    let raw = Client::builder(TokioExecutor::new()).build_http();
    let transport = HyperTransport::builder()
        .protocols(Protocols::Http1)
        .build()
        .unwrap();
    let transport = Arc::new(transport);
    let builder = || {
        Connector::builder("bench")
            .base_url(server.url())
            .allow_http(true)
            .transport(transport.clone())
    };
    let connector = builder().build().unwrap();
    let untimed = builder().no_timeouts().build().unwrap();
    let url = format!("{}/item", server.url()).parse().unwrap();
    Setup {
        _server_runtime: server_runtime,
        server,
        raw,
        connector,
        untimed,
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

async fn conn_call(connector: &Connector) {
    let response = connector
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
        b.to_async(&runtime).iter(|| conn_call(&setup.connector))
    });
    group.finish();

    // The pipeline alone, with a transport that answers at once: the cost
    // conn adds to every call, without the network's noise.
    let instant = Connector::builder("bench")
        .base_url("https://api.example.com")
        .transport(Arc::new(Instant200(BODY)))
        .build()
        .unwrap();
    let mut group = c.benchmark_group("pipeline");
    group.throughput(Throughput::Elements(1));
    group.bench_function("connector_call_no_network", |b| {
        b.to_async(&runtime).iter(|| async {
            instant.call(Request::get("/item"), Context::new()).await.unwrap();
        })
    });
    group.finish();

    // Interleaved at request granularity (raw, conn, conn untimed, raw, ...),
    // so every client sees the same machine noise; each round gives ratios.
    let rounds = if std::env::args().any(|a| a == "--bench") {
        15
    } else {
        1
    };
    let triples = 1_000;
    let mut ratios = Vec::new();
    let mut untimed_ratios = Vec::new();
    for _ in 0..rounds {
        let [raw, conn, untimed] = runtime.block_on(async {
            let mut totals = [Duration::ZERO; 3];
            for _ in 0..triples {
                let start = Instant::now();
                raw_call(&setup).await;
                totals[0] += start.elapsed();
                let start = Instant::now();
                conn_call(&setup.connector).await;
                totals[1] += start.elapsed();
                let start = Instant::now();
                conn_call(&setup.untimed).await;
                totals[2] += start.elapsed();
            }
            totals
        });
        let rate = |total: Duration| f64::from(triples) / total.as_secs_f64();
        ratios.push(rate(conn) / rate(raw));
        untimed_ratios.push(rate(untimed) / rate(raw));
        println!(
            "round: raw {:.0} req/s, conn {:.0} req/s (ratio {:.3}), conn without timeouts {:.0} req/s (ratio {:.3})",
            rate(raw),
            rate(conn),
            rate(conn) / rate(raw),
            rate(untimed),
            rate(untimed) / rate(raw)
        );
    }
    println!(
        "transport_overhead: median ratio conn/raw = {:.3} (without timeouts {:.3}) over {} interleaved rounds of {} requests per client ({} requests served)",
        median(&mut ratios),
        median(&mut untimed_ratios),
        rounds,
        triples,
        setup.server.requests().len()
    );
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5)).warm_up_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
