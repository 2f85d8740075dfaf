//! Observability: the quickstart's flaky API called through a connector with
//! a `tracing` fmt subscriber and the Prometheus exporter; after a burst of
//! flaky calls it prints the `/metrics` text an operator would scrape.
//!
//! Run with `cargo run --example observability` (human-readable logs), or
//! `cargo run --example observability -- --json` (one JSON object per line).
//! Set `RUST_LOG`-style verbosity with `-- --debug` to see every attempt.

use std::sync::Arc;
use std::time::Duration;

use conn::retry::{Backoff, Retry};
use conn::throttle::{KeyBy, Limit, Throttler};
use conn::transport::HyperTransport;
use conn::{Connector, Context, Request};
use conn_testkit::{Reply, TestServer};
use http::Method;
use metrics_exporter_prometheus::PrometheusBuilder;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let level = if args.iter().any(|a| a == "--debug") {
        tracing::Level::DEBUG
    } else {
        tracing::Level::INFO
    };
    let logs = tracing_subscriber::fmt().with_max_level(level).with_target(false);
    if args.iter().any(|a| a == "--json") {
        logs.json().init();
    } else {
        logs.init();
    }
    let metrics = PrometheusBuilder::new().install_recorder()?;

    let api = TestServer::start().await?;
    let flaky = [
        Reply::status(503),
        Reply::reset(),
        Reply::json(200, r#"{"ok":true}"#),
    ];
    api.route(Method::GET, "/orders", flaky.iter().cloned().cycle().take(30));
    api.route(Method::GET, "/missing", [Reply::json(404, "{}")]);

    let connector = Connector::builder("shop")
        .base_url(api.url())
        .allow_http(true)
        .transport(Arc::new(HyperTransport::builder().build()?))
        .retry(Arc::new(
            Retry::builder()
                .max_attempts(3)
                .backoff(Backoff::constant(Duration::from_millis(5)))
                .build(),
        ))
        .throttle(Arc::new(
            Throttler::builder()
                .limit(Limit::per_second(50).burst(5))
                .key_by(KeyBy::Tenant)
                .build(),
        ))
        .build()?;

    let mut calls = Vec::new();
    for i in 0..20 {
        let connector = connector.clone();
        let endpoint = if i % 5 == 4 { "/missing" } else { "/orders" };
        calls.push(tokio::spawn(async move {
            connector
                .call(
                    Request::get(endpoint),
                    Context::new().tenant(format!("tenant-{}", i % 2)),
                )
                .await
        }));
    }
    let (mut ok, mut failed) = (0, 0);
    for call in calls {
        match call.await? {
            Ok(_) => ok += 1,
            Err(err) => {
                failed += 1;
                tracing::info!(error = %err, "call failed");
            }
        }
    }
    println!("\n{ok} calls succeeded, {failed} failed. The /metrics text:\n");
    println!("{}", metrics.render());
    Ok(())
}
