//! Quickstart: a connector against an embedded flaky API.
//!
//! Run with `cargo run --example quickstart`. It starts the test kit's local
//! server (127.0.0.1, an ephemeral port) with a few misbehaving routes, calls
//! each through one connector, and prints what every call did.

use std::sync::Arc;
use std::time::Duration;

use conn::transport::HyperTransport;
use conn::{AttemptOutcome, CallInfo, Connector, Context, Request, RetryDecision, RetryPolicy};
use conn_testkit::{Reply, TestServer};
use http::Method;

/// A deliberately small policy: retry transient failures of idempotent
/// requests up to 3 attempts, 50 ms then 100 ms apart. (conn-retry brings
/// the full policy: jitter, Retry-After, budgets.)
struct RetryTransient;

impl RetryPolicy for RetryTransient {
    fn decide(&self, call: &CallInfo<'_>, outcome: &AttemptOutcome<'_>) -> RetryDecision {
        let transient = match outcome.result {
            Ok(response) => matches!(response.status().as_u16(), 429 | 502 | 503 | 504),
            Err(err) => err.is_transient(),
        };
        if transient && call.request.is_idempotent() && call.attempt < 3 {
            RetryDecision::Retry {
                delay: Duration::from_millis(50 * u64::from(call.attempt)),
            }
        } else {
            RetryDecision::Stop
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let api = TestServer::start().await?;
    api.route(
        Method::GET,
        "/products",
        [
            Reply::status(503),
            Reply::status(503),
            Reply::json(
                200,
                r#"[{"sku":"A-1","name":"Anvil"},{"sku":"B-2","name":"Bellows"}]"#,
            ),
        ],
    );
    api.route(
        Method::GET,
        "/slow",
        [Reply::json(200, "{}").delay(Duration::from_secs(3))],
    );
    api.route(
        Method::GET,
        "/missing",
        [Reply::json(404, r#"{"error":"no such order"}"#)],
    );
    api.route(
        Method::GET,
        "/flaky-connection",
        [Reply::reset(), Reply::json(200, r#"{"ok":true}"#)],
    );

    let connector = Connector::builder("demo-shop")
        .base_url(api.url())
        .allow_http(true) // the embedded API is plain HTTP on 127.0.0.1
        .transport(Arc::new(HyperTransport::builder().build()?))
        .retry(Arc::new(RetryTransient))
        .attempt_timeout(Duration::from_millis(500))
        .build()?;

    println!("conn quickstart: embedded API at {}\n", api.url());
    for endpoint in [
        "/products",
        "/flaky-connection",
        "/slow",
        "/missing",
        "//evil.example/steal",
    ] {
        let context = Context::new().tenant("acme");
        match connector.call(Request::get(endpoint), context).await {
            Ok(response) => {
                println!("OK   {}", response.report());
                println!("     body: {}", String::from_utf8_lossy(response.body()));
            }
            Err(err) => {
                println!("ERR  {err}");
                if let Some(report) = err.report() {
                    println!("     {}", report.to_string().replace('\n', "\n     "));
                }
            }
        }
        println!();
    }
    Ok(())
}
