//! What a retry budget does during an outage: 200 calls against an API that
//! answers 503 to everything, with and without a budget.
//!
//! Run with `cargo run -p conn-retry --example retry_outage`.

use std::sync::Arc;
use std::time::Duration;

use conn_core::{Connector, Context, Request};
use conn_retry::{Backoff, Retry, RetryBudget};
use conn_testkit::{Reply, TestServer};
use conn_transport_hyper::HyperTransport;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let api = TestServer::start().await?;
    api.route(http::Method::GET, "/down", [Reply::status(503)]);
    let transport = Arc::new(HyperTransport::builder().build()?);
    let calls = 200;

    for budget in [None, Some(Arc::new(RetryBudget::new(0.1, 5)))] {
        let mut retry = Retry::builder()
            .max_attempts(4)
            .backoff(Backoff::constant(Duration::from_millis(1)));
        if let Some(budget) = &budget {
            retry = retry.budget(budget.clone());
        }
        let connector = Connector::builder("outage")
            .base_url(api.url())
            .allow_http(true)
            .transport(transport.clone())
            .retry(Arc::new(retry.build()))
            .build()?;
        api.reset_records();
        let mut exhausted = 0;
        for _ in 0..calls {
            let err = connector
                .call(Request::get("/down"), Context::new())
                .await
                .unwrap_err();
            if err.message().contains("retry budget exhausted") {
                exhausted += 1;
            }
        }
        let label = if budget.is_some() {
            "with a 10% budget"
        } else {
            "without a budget"
        };
        println!(
            "{label:>18}: {calls} calls -> {} upstream requests ({:.2} per call), {exhausted} calls stopped by the budget",
            api.hits("/down"),
            api.hits("/down") as f64 / f64::from(calls)
        );
    }
    Ok(())
}
