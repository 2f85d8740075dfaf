//! What hedging does to a slow tail: one call in twenty takes 100 ms, the
//! others 2 ms. The same 1,000 sequential calls without hedging and with a
//! hedge after 10 ms (one retry-budget token per hedge), against a real
//! local server: p50, p99, max, and how many hedges were sent.
//!
//! `cargo run --release --example hedging_tail --features transport,retry`

use std::sync::Arc;
use std::time::{Duration, Instant};

use conn::retry::{Retry, RetryBudget};
use conn::transport::HyperTransport;
use conn::{Connector, Context, Hedging, Request};
use conn_testkit::{Reply, TestServer};
use http::Method;

const CALLS: usize = 1000;

fn script() -> Vec<Reply> {
    // Enough replies for the calls and their hedges; every 20th is slow.
    (0..CALLS * 2)
        .map(|i| {
            let delay = if i % 20 == 7 { 100 } else { 2 };
            Reply::json(200, "{}").delay(Duration::from_millis(delay))
        })
        .collect()
}

async fn run(server: &TestServer, hedging: Option<Hedging>) -> (Vec<Duration>, u32) {
    let budget = Arc::new(RetryBudget::new(0.1, 10));
    let mut builder = Connector::builder("tail")
        .base_url(server.url())
        .allow_http(true)
        .transport(Arc::new(HyperTransport::builder().build().unwrap()))
        .retry(Arc::new(Retry::builder().budget(budget).build()));
    if let Some(hedging) = hedging {
        builder = builder.hedging(hedging);
    }
    let connector = builder.build().unwrap();
    let mut latencies = Vec::with_capacity(CALLS);
    let mut hedges = 0;
    for _ in 0..CALLS {
        let started = Instant::now();
        let response = connector
            .call(Request::get("/item"), Context::new())
            .await
            .unwrap();
        latencies.push(started.elapsed());
        hedges += response.report().hedges();
    }
    latencies.sort_unstable();
    (latencies, hedges)
}

#[tokio::main]
async fn main() {
    println!("{CALLS} sequential GETs, 1 in 20 answered after 100 ms, the rest after 2 ms");
    println!(
        "{:<22} {:>8} {:>8} {:>8} {:>7}",
        "", "p50 ms", "p99 ms", "max ms", "hedges"
    );
    for (name, hedging) in [
        ("no hedging", None),
        (
            "hedge after 10 ms",
            Some(Hedging::after(Duration::from_millis(10))),
        ),
    ] {
        let server = TestServer::start().await.unwrap();
        server.route(Method::GET, "/item", script());
        let (latencies, hedges) = run(&server, hedging).await;
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "{name:<22} {:>8.1} {:>8.1} {:>8.1} {:>7}",
            ms(latencies[CALLS / 2]),
            ms(latencies[CALLS * 99 / 100]),
            ms(latencies[CALLS - 1]),
            hedges
        );
    }
}
