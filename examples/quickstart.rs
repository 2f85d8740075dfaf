//! Quickstart: a connector against an embedded flaky API.
//!
//! Run with `cargo run --example quickstart`. It starts the test kit's local
//! server (127.0.0.1, an ephemeral port) with a few misbehaving routes, calls
//! each through one connector, and prints what every call did.

use std::sync::Arc;
use std::time::Duration;

use conn::auth::{ClientCredentials, OAuth2Client, TokenAuth};
use conn::breaker::CircuitBreaker;
use conn::normalize::Normalize;
use conn::retry::{Backoff, Retry, RetryBudget};
use conn::throttle::{KeyBy, Limit, Throttler};
use conn::transport::HyperTransport;
use conn::{Connector, Context, Request};
use conn_testkit::{Reply, TestServer};
use http::Method;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let api = TestServer::start().await?;
    let products = r#"[{"sku":"A-1","name":"Anvil"},{"sku":"B-2","name":"Bellows"}]"#;
    api.route(
        Method::GET,
        "/products",
        [Reply::status(503), Reply::status(503), Reply::json(200, products)],
    );
    api.route(
        Method::GET,
        "/flaky-connection",
        [Reply::reset(), Reply::json(200, r#"{"ok":true}"#)],
    );
    let rate_limited = Reply::status(429).header("retry-after", "1");
    api.route(
        Method::GET,
        "/rate-limited",
        [rate_limited, Reply::json(200, r#"{"quota":"renewed"}"#)],
    );
    api.route(
        Method::POST,
        "/orders",
        [Reply::status(503), Reply::json(201, r#"{"id":"o-1"}"#)],
    );
    api.route(
        Method::POST,
        "/payments",
        [Reply::status(503), Reply::json(201, r#"{"id":"p-1"}"#)],
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

    let retry = Retry::builder()
        .max_attempts(3)
        .backoff(Backoff::exponential(
            Duration::from_millis(50),
            2.0,
            Duration::from_secs(2),
        ))
        .budget(Arc::new(RetryBudget::new(0.2, 5)))
        .build();
    // The shop's API allows 10 requests per second per tenant, bursts of 3.
    let throttle = Throttler::builder()
        .limit(Limit::per_second(10).burst(3))
        .max_in_flight(4)
        .key_by(KeyBy::Tenant)
        .build();
    let connector = Connector::builder("demo-shop")
        .base_url(api.url())
        .allow_http(true) // the embedded API is plain HTTP on 127.0.0.1
        .transport(Arc::new(HyperTransport::builder().build()?))
        .retry(Arc::new(retry))
        .throttle(Arc::new(throttle))
        .attempt_timeout(Duration::from_millis(500))
        .build()?;

    println!("conn quickstart: embedded API at {}\n", api.url());
    let calls = [
        (
            "503, 503, 200: retried with jittered backoff",
            Request::get("/products"),
        ),
        ("TCP reset, then 200", Request::get("/flaky-connection")),
        (
            "429 + Retry-After: 1 -> waits the server's 1 s",
            Request::get("/rate-limited"),
        ),
        (
            "POST + 503: not retried, a POST is not idempotent",
            Request::post("/orders"),
        ),
        (
            "the same POST with an Idempotency-Key: retried",
            Request::post("/payments").idempotency_key("pay-7f3a"),
        ),
        ("every attempt times out (500 ms each)", Request::get("/slow")),
        ("404: a client error, never retried", Request::get("/missing")),
        (
            "hostile endpoint: refused before anything is sent",
            Request::get("//evil.example/steal"),
        ),
    ];
    for (what, request) in calls {
        println!("--- {what}");
        match connector.call(request, Context::new().tenant("acme")).await {
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

    println!("--- a burst of 8 calls for one tenant against 10/s, burst 3: the throttle spaces them");
    let burst: Vec<_> = (0..8)
        .map(|_| {
            let connector = connector.clone();
            tokio::spawn(async move {
                connector
                    .call(Request::get("/products"), Context::new().tenant("globex"))
                    .await
            })
        })
        .collect();
    let mut waits = Vec::new();
    for call in burst {
        let response = call.await??;
        waits.push((response.report().throttle_wait, response.status()));
    }
    waits.sort();
    for (waited, status) in waits {
        println!(
            "     {status} after {:>5.1} ms in the throttle",
            waited.as_secs_f64() * 1e3
        );
    }

    println!(
        "\n--- OAuth2 client credentials: the API revokes the first token (401), conn refreshes and replays once"
    );
    let token = |n: u32| {
        Reply::json(
            200,
            format!(r#"{{"access_token":"demo-token-{n}","token_type":"Bearer","expires_in":3600}}"#),
        )
    };
    api.route(Method::POST, "/oauth/token", [token(1), token(2)]);
    api.route(
        Method::GET,
        "/invoices",
        [Reply::status(401), Reply::json(200, r#"[{"id":"inv-1"}]"#)],
    );
    let oauth = OAuth2Client::builder(format!("{}/oauth/token", api.url()))
        .client_id("demo-shop")
        .client_secret("demo-secret".to_owned())
        .allow_http(true)
        .transport(Arc::new(HyperTransport::builder().build()?))
        .build()?;
    let billing = Connector::builder("billing")
        .base_url(api.url())
        .allow_http(true)
        .transport(Arc::new(HyperTransport::builder().build()?))
        .auth(Arc::new(TokenAuth::new(Arc::new(ClientCredentials::new(oauth)))))
        .build()?;
    let response = billing
        .call(Request::get("/invoices"), Context::new().tenant("acme"))
        .await?;
    println!("OK   {}", response.report());
    println!(
        "     token requests: {} (the first token, then the refresh after the 401)",
        api.hits("/oauth/token")
    );

    println!("\n--- an XML API, normalized into the same document model as JSON");
    let xml = r#"<catalog><item sku="A-1"><name>Anvil</name><price>12.50</price></item></catalog>"#;
    api.route(
        Method::GET,
        "/catalog.xml",
        [Reply::text(200, "application/xml", xml)],
    );
    let catalog = Connector::builder("catalog")
        .base_url(api.url())
        .allow_http(true)
        .transport(Arc::new(HyperTransport::builder().build()?))
        .normalizer(Arc::new(
            Normalize::builder().force_array("/catalog/item").build()?,
        ))
        .build()?;
    let (document, _) = catalog
        .call_document(Request::get("/catalog.xml"), Context::new())
        .await?;
    println!("     {}", document.value);

    println!("\n--- a dead endpoint behind a circuit breaker: 3 failures open it, then calls fail fast");
    api.route(Method::GET, "/down", [Reply::status(503)]);
    let guarded = Connector::builder("legacy")
        .base_url(api.url())
        .allow_http(true)
        .transport(Arc::new(HyperTransport::builder().build()?))
        .breaker(Arc::new(
            CircuitBreaker::builder()
                .consecutive_failures(3)
                .no_windows()
                .cooldown(Duration::from_secs(30))
                .build(),
        ))
        .build()?;
    for _ in 0..5 {
        match guarded.call(Request::get("/down"), Context::new()).await {
            Ok(response) => println!("     {}", response.status()),
            Err(err) => println!("     {err}"),
        }
    }
    println!("     requests that reached the API: {}", api.hits("/down"));
    Ok(())
}
