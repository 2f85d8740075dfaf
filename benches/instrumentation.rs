//! What instrumentation costs: the same pipeline with telemetry off, on with
//! no subscriber installed, and on with a fmt subscriber at INFO, measured in
//! the same run. Two settings: a transport that answers at once (the
//! pipeline alone, the strictest view) and a real local server.

use std::sync::Arc;
use std::time::{Duration, Instant};

use conn::transport::{HyperTransport, Protocols};
use conn::{Connector, Context, Request, Telemetry, Transport};
use conn_testkit::Reply;
mod common;

use common::Instant200;
use criterion::{Criterion, criterion_group, criterion_main};

const BODY: &str = r#"{"id":42,"name":"widget"}"#;

fn connector(base: &str, transport: Arc<dyn Transport>, enabled: bool) -> Connector {
    Connector::builder("bench")
        .base_url(base)
        .allow_http(true)
        .transport(transport)
        .telemetry(Telemetry {
            enabled,
            ..Telemetry::default()
        })
        .build()
        .unwrap()
}

fn info_subscriber() -> impl tracing::Subscriber + Send + Sync {
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_writer(std::io::sink)
        .finish()
}

/// Median over `rounds` of the time per call of each variant, interleaved
/// call by call so all variants see the same machine noise.
fn interleaved(
    runtime: &tokio::runtime::Runtime,
    variants: &[Connector],
    rounds: usize,
    calls: u32,
) -> Vec<Duration> {
    let mut per_round: Vec<Vec<Duration>> = vec![Vec::new(); variants.len()];
    for _ in 0..rounds {
        let mut totals = vec![Duration::ZERO; variants.len()];
        runtime.block_on(async {
            for _ in 0..calls {
                for (i, connector) in variants.iter().enumerate() {
                    let start = Instant::now();
                    connector
                        .call(Request::get("/item"), Context::new())
                        .await
                        .unwrap();
                    totals[i] += start.elapsed();
                }
            }
        });
        for (i, total) in totals.into_iter().enumerate() {
            per_round[i].push(total / calls);
        }
    }
    per_round
        .into_iter()
        .map(|mut v| {
            v.sort();
            v[v.len() / 2]
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let instant: Arc<dyn Transport> = Arc::new(Instant200(BODY));
    let off = connector("https://api.example.com", instant.clone(), false);
    let on = connector("https://api.example.com", instant.clone(), true);

    let mut group = c.benchmark_group("instrumentation");
    group.bench_function("pipeline_telemetry_off", |b| {
        b.to_async(&runtime)
            .iter(|| async { off.call(Request::get("/item"), Context::new()).await.unwrap() })
    });
    group.bench_function("pipeline_no_subscriber", |b| {
        b.to_async(&runtime)
            .iter(|| async { on.call(Request::get("/item"), Context::new()).await.unwrap() })
    });
    tracing::subscriber::with_default(info_subscriber(), || {
        group.bench_function("pipeline_fmt_info", |b| {
            b.to_async(&runtime)
                .iter(|| async { on.call(Request::get("/item"), Context::new()).await.unwrap() })
        });
    });
    group.finish();

    let full = std::env::args().any(|a| a == "--bench");
    let (rounds, calls) = if full { (15, 20_000) } else { (1, 100) };
    let [off_t, on_t] = interleaved(&runtime, &[off.clone(), on.clone()], rounds, calls)[..] else {
        unreachable!()
    };
    let info_t = tracing::subscriber::with_default(info_subscriber(), || {
        interleaved(&runtime, &[off.clone(), on.clone()], rounds, calls)
    });
    println!(
        "instrumentation, pipeline alone: off {:?}, no subscriber {:?} ({:+.1}%), fmt INFO {:?} ({:+.1}% vs off in its own run)",
        off_t,
        on_t,
        pct(on_t, off_t),
        info_t[1],
        pct(info_t[1], info_t[0])
    );

    // The same over real loopback HTTP: what a caller actually pays.
    let (_server_runtime, server) = common::local_server();
    server.route(http::Method::GET, "/item", [Reply::json(200, BODY)]);
    let hyper: Arc<dyn Transport> = Arc::new(
        HyperTransport::builder()
            .protocols(Protocols::Http1)
            .build()
            .unwrap(),
    );
    let net_off = connector(&server.url(), hyper.clone(), false);
    let net_on = connector(&server.url(), hyper, true);
    let (rounds, calls) = if full { (9, 1_000) } else { (1, 20) };
    let [net_off_t, net_on_t] = interleaved(&runtime, &[net_off, net_on], rounds, calls)[..] else {
        unreachable!()
    };
    println!(
        "instrumentation, loopback HTTP: off {:?}, no subscriber {:?} ({:+.1}%)",
        net_off_t,
        net_on_t,
        pct(net_on_t, net_off_t)
    );
}

fn pct(a: Duration, base: Duration) -> f64 {
    (a.as_secs_f64() / base.as_secs_f64() - 1.0) * 100.0
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
