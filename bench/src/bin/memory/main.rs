//! `cargo xtask bench --memory`: what conn keeps in memory, counted by the
//! allocator (live bytes), not guessed from RSS.
//!
//! Why live bytes: RSS moves in pages and keeps what the allocator freed, so
//! it cannot tell 600 bytes per call from noise; a counting allocator sees
//! every byte conn holds and gives the same figure on every run.
//!
//! - **Per in-flight call**: 10,000 calls parked inside a transport that
//!   never answers, so what is counted is conn's own state (the call's
//!   future, its request copy, report, permits and spans), not a socket's.
//! - **Per key**: 10,000 tenants through a tenant-keyed throttle, then a
//!   tenant-keyed breaker, each on its own connector.
//! - **No growth per call**: 200,000 calls of the full stack; the live
//!   bytes after 100,000 and after 200,000 must be the same.

mod counting;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use conn::auth::StaticBearer;
use conn::breaker::{self, CircuitBreaker};
use conn::normalize::Normalize;
use conn::retry::Retry;
use conn::throttle::{KeyBy, Limit, Throttler};
use conn::{
    BoxFuture, Connector, ConnectorBuilder, Context, Error, Request, Transport, TransportRequest,
    TransportResponse,
};

use counting::{Counting, live_bytes};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const IN_FLIGHT: usize = 10_000;
const KEYS: usize = 10_000;
const CALLS: usize = 200_000;

/// Answers at once, or never (`hang`); counts the requests it saw. Not the
/// test kit's `ScriptedTransport`: that one keeps every request it was sent,
/// which is exactly the growth this program must not add.
struct Local {
    hang: bool,
    seen: AtomicUsize,
}

impl Transport for Local {
    fn send(&self, _: TransportRequest) -> BoxFuture<'static, Result<TransportResponse, Error>> {
        self.seen.fetch_add(1, Ordering::Relaxed);
        if self.hang {
            return Box::pin(std::future::pending());
        }
        Box::pin(async {
            let response = http::Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .body(Bytes::from_static(
                    br#"{"id":1,"name":"widget","tags":["a","b"]}"#,
                ))
                .map_err(|_| Error::config("response"))?;
            Ok(TransportResponse::new(response))
        })
    }
}

fn local(hang: bool) -> Arc<Local> {
    Arc::new(Local {
        hang,
        seen: AtomicUsize::new(0),
    })
}

fn builder(transport: Arc<Local>) -> ConnectorBuilder {
    Connector::builder("memory")
        .base_url("https://api.memory.test")
        .transport(transport)
}

/// The bench's full stack: bearer auth, retry, tenant-keyed throttle and
/// breaker, normalization (telemetry on, no subscriber).
fn full(transport: Arc<Local>) -> Connector {
    builder(transport)
        .auth(Arc::new(StaticBearer::new("t0ken-for-the-memory-bench")))
        .retry(Arc::new(Retry::builder().max_attempts(3).build()))
        .throttle(Arc::new(
            Throttler::builder()
                .limit(Limit::per_second(1_000_000_000))
                .key_by(KeyBy::Tenant)
                .build(),
        ))
        .breaker(Arc::new(
            CircuitBreaker::builder().key_by(breaker::KeyBy::Tenant).build(),
        ))
        .normalizer(Arc::new(Normalize::new()))
        .build()
        .expect("the full stack builds")
}

/// Live bytes per call while `IN_FLIGHT` calls wait for an answer.
async fn per_in_flight_call(connector: Connector, transport: &Local) -> f64 {
    let warm = connector.clone();
    drop(tokio::spawn(async move {
        let _ = warm.call(Request::get("/warm"), Context::new().tenant("t")).await;
    }));
    while transport.seen.load(Ordering::Relaxed) < 1 {
        tokio::task::yield_now().await;
    }
    let before = live_bytes();
    let mut calls = Vec::with_capacity(IN_FLIGHT);
    let handles_bytes = live_bytes() - before;
    for _ in 0..IN_FLIGHT {
        let connector = connector.clone();
        calls.push(tokio::spawn(async move {
            connector
                .call(Request::get("/items/42"), Context::new().tenant("t"))
                .await
        }));
    }
    while transport.seen.load(Ordering::Relaxed) < IN_FLIGHT + 1 {
        tokio::task::yield_now().await;
    }
    let held = live_bytes() - before - handles_bytes;
    for call in calls {
        call.abort();
    }
    held as f64 / IN_FLIGHT as f64
}

/// Live bytes per tenant key after one call from each of `KEYS` tenants.
async fn per_key(connector: Connector) -> f64 {
    connector
        .call(Request::get("/warm"), Context::new().tenant("warm"))
        .await
        .expect("the warm-up call succeeds");
    let tenants: Vec<String> = (0..KEYS).map(|i| format!("tenant-{i:05}")).collect();
    let before = live_bytes();
    for tenant in &tenants {
        connector
            .call(Request::get("/items/42"), Context::new().tenant(tenant.as_str()))
            .await
            .expect("a call succeeds");
    }
    (live_bytes() - before) as f64 / KEYS as f64
}

/// Live bytes after `CALLS / 2` and after `CALLS` calls of the full stack.
async fn growth(connector: Connector) -> (isize, isize) {
    let mut half = 0;
    for i in 0..CALLS {
        let call = connector.call_document(Request::get("/items/42"), Context::new().tenant("t"));
        call.await.expect("a call succeeds");
        if i + 1 == CALLS / 2 {
            half = live_bytes();
        }
    }
    (half, live_bytes())
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let hanging = local(true);
        let transport_only = per_in_flight_call(builder(hanging.clone()).build().unwrap(), &hanging).await;
        let hanging = local(true);
        let full_stack = per_in_flight_call(full(hanging.clone()), &hanging).await;

        let throttle_key = per_key(
            builder(local(false))
                .throttle(Arc::new(
                    Throttler::builder()
                        .limit(Limit::per_second(1_000_000_000))
                        .key_by(KeyBy::Tenant)
                        .build(),
                ))
                .build()
                .unwrap(),
        )
        .await;
        let breaker_key = per_key(
            builder(local(false))
                .breaker(Arc::new(
                    CircuitBreaker::builder().key_by(breaker::KeyBy::Tenant).build(),
                ))
                .build()
                .unwrap(),
        )
        .await;
        let (half, end) = growth(full(local(false))).await;

        let probe = builder(local(true)).build().unwrap();
        let future_size = std::mem::size_of_val(&probe.call(Request::get("/"), Context::new()));
        println!("| what | live bytes |");
        println!("|---|---|");
        println!("| per in-flight call, transport only | {transport_only:.0} |");
        println!("| per in-flight call, full stack | {full_stack:.0} |");
        println!("| of which the call's future (size_of) | {future_size} |");
        println!("| per throttle key (tenant) | {throttle_key:.0} |");
        println!("| per breaker key (tenant) | {breaker_key:.0} |");
        println!(
            "| growth from call {} to call {CALLS} (full stack) | {} bytes in all, {:.4} per call |",
            CALLS / 2,
            end - half,
            (end - half) as f64 / (CALLS / 2) as f64
        );
    });
}
