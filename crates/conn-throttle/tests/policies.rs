//! Endpoint policies and a shared rate store, through a real Connector on a
//! paused clock with the scripted transport.

use std::sync::Arc;
use std::time::Duration;

use conn_core::store::{LocalRateStore, RateStore};
use conn_core::{Connector, Context, Request};
use conn_testkit::{MockReply, ScriptedTransport};
use conn_throttle::{EndpointPolicy, Limit, Mode, Throttler};
use http::Method;
use tokio::time::Instant;

fn connector(transport: &Arc<ScriptedTransport>, throttle: &Throttler) -> Connector {
    Connector::builder("policy-test")
        .base_url("https://api.example.com")
        .transport(transport.clone())
        .throttle(Arc::new(throttle.clone()))
        .no_timeouts()
        .build()
        .unwrap()
}

/// Calls `count` times concurrently and returns when the last one finished.
async fn burst(connector: &Connector, method: Method, path: &str, count: usize) -> Duration {
    let start = Instant::now();
    let tasks: Vec<_> = (0..count)
        .map(|_| {
            let connector = connector.clone();
            let request = Request::new(method.clone(), path);
            tokio::spawn(async move { connector.call(request, Context::new()).await.map(|_| ()) })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    start.elapsed()
}

#[tokio::test(start_paused = true)]
async fn the_first_matching_policy_decides_and_the_rest_get_the_catch_all() {
    let throttle = Throttler::builder()
        .policy(EndpointPolicy::new("exports", "/v1/exports/**").limit(Limit::per_minute(10)))
        .policy(
            EndpointPolicy::new("everything", "/**")
                .method(Method::POST)
                .limit(Limit::per_second(1)),
        )
        .limit(Limit::per_second(100))
        .mode(Mode::Wait {
            max_wait: Duration::from_secs(3600),
        })
        .build();
    let transport = Arc::new(ScriptedTransport::new([MockReply::status(200)]));
    let connector = connector(&transport, &throttle);
    // 3 exports at 10/min: the third goes 12 s after the first.
    let exports = burst(&connector, Method::GET, "/v1/exports/1", 3).await;
    assert_eq!(exports, Duration::from_secs(12));
    // 100 reads at 100/s: one second, untouched by the exports quota.
    let reads = burst(&connector, Method::GET, "/v1/orders", 100).await;
    assert!(reads <= Duration::from_secs(1), "{reads:?}");
    // POSTs match the second policy, exports (first match) do not.
    let posts = burst(&connector, Method::POST, "/v1/orders", 3).await;
    assert_eq!(posts, Duration::from_secs(2));
}

#[tokio::test(start_paused = true)]
async fn two_replicas_sharing_a_store_share_one_quota() {
    let store: Arc<dyn RateStore> = Arc::new(LocalRateStore::new());
    let replica = || {
        Throttler::builder()
            .limit(Limit::per_second(10))
            .rate_store(store.clone(), "vendor")
            .mode(Mode::Wait {
                max_wait: Duration::from_secs(3600),
            })
            .build()
    };
    let transport = Arc::new(ScriptedTransport::new([MockReply::status(200)]));
    let (a, b) = (
        connector(&transport, &replica()),
        connector(&transport, &replica()),
    );
    let start = Instant::now();
    let (ta, tb) = tokio::join!(
        burst(&a, Method::GET, "/v1/x", 20),
        burst(&b, Method::GET, "/v1/x", 20)
    );
    // 40 calls at 10/s between them: the last leaves at 3.9 s, not 1.9 s.
    let last = ta.max(tb);
    assert_eq!(last, Duration::from_millis(3_900), "{:?}", start.elapsed());
    assert_eq!(transport.requests().len(), 40);
}

#[tokio::test(start_paused = true)]
async fn reject_mode_with_a_store_refuses_with_a_hint() {
    let store: Arc<dyn RateStore> = Arc::new(LocalRateStore::new());
    let throttle = Throttler::builder()
        .limit(Limit::per_second(1))
        .rate_store(store, "vendor")
        .mode(Mode::Reject)
        .build();
    let transport = Arc::new(ScriptedTransport::new([MockReply::status(200)]));
    let connector = connector(&transport, &throttle);
    connector.call(Request::get("/a"), Context::new()).await.unwrap();
    let err = connector
        .call(Request::get("/a"), Context::new())
        .await
        .unwrap_err();
    assert!(err.is_rate_limited());
    assert_eq!(err.retry_after(), Some(Duration::from_secs(1)));
}
