//! `TowerTransport` under conn's pipeline: an axum Router as an in-process
//! API, with real tower and tower-http layers in the stack.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use conn_core::{
    AttemptOutcome, CallInfo, Connector, Context, Request, RetryDecision, RetryPolicy, Transport,
};
use conn_tower::TowerTransport;
use http::HeaderMap;
use http::header::{HeaderValue, USER_AGENT};
use tower::ServiceBuilder;
use tower_http::set_header::SetRequestHeaderLayer;
use tower_http::trace::TraceLayer;

/// Retries any transient failure at once, up to three attempts.
struct ThreeTries;

impl RetryPolicy for ThreeTries {
    fn decide(&self, call: &CallInfo<'_>, outcome: &AttemptOutcome<'_>) -> RetryDecision {
        let transient = match outcome.result {
            Ok(response) => response.status().is_server_error(),
            Err(err) => err.is_transient() && (call.request.is_idempotent() || err.is_connect()),
        };
        if transient && call.attempt < 3 {
            RetryDecision::Retry {
                delay: Duration::ZERO,
            }
        } else {
            RetryDecision::Stop
        }
    }
}

fn connector(transport: impl Transport + 'static) -> Connector {
    Connector::builder("inproc")
        .base_url("https://api.inproc.test/v1")
        .transport(Arc::new(transport))
        .retry(Arc::new(ThreeTries))
        .build()
        .unwrap()
}

#[tokio::test]
async fn an_axum_router_is_a_transport_and_tower_http_layers_see_every_attempt() {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let api = Router::new().route(
        "/v1/orders",
        get(move |headers: HeaderMap| {
            let counter = counter.clone();
            async move {
                // The first attempt fails: the retry goes through the layers again.
                if counter.fetch_add(1, Ordering::SeqCst) == 0 {
                    return (http::StatusCode::SERVICE_UNAVAILABLE, String::new());
                }
                let agent = headers[USER_AGENT].to_str().unwrap().to_owned();
                let correlation = headers["x-request-id"].to_str().unwrap().to_owned();
                (http::StatusCode::OK, format!("{agent} {correlation}"))
            }
        }),
    );
    let stack = ServiceBuilder::new()
        .layer(TraceLayer::new_for_http())
        .layer(SetRequestHeaderLayer::overriding(
            USER_AGENT,
            HeaderValue::from_static("orders/2"),
        ))
        .service(api);
    let connector = connector(TowerTransport::new(stack));

    let response = connector
        .call(Request::get("/orders"), Context::new().correlation_id("c-1"))
        .await
        .unwrap();
    assert_eq!(response.body(), "orders/2 c-1");
    assert_eq!(response.report().attempts.len(), 2);
    assert_eq!(hits.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_body_over_the_limit_fails_and_a_request_limit_overrides_it() {
    let api = Router::new()
        .route("/v1/big", get(|| async { "x".repeat(10_000) }))
        .route(
            "/v1/chunked",
            get(|| async {
                // No Content-Length: the limit is met while reading.
                let chunks = (0..100).map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b'y'; 1000])));
                axum::body::Body::from_stream(futures_util::stream::iter(chunks))
            }),
        );
    let connector = connector(TowerTransport::new(api).body_limit(5_000));

    let err = connector
        .call(Request::get("/big"), Context::new())
        .await
        .unwrap_err();
    assert!(err.is_body_too_large(), "{err}");
    let err = connector
        .call(Request::get("/chunked"), Context::new())
        .await
        .unwrap_err();
    assert!(err.is_body_too_large(), "{err}");
    assert_eq!(err.attempts(), 1, "a body over the limit is not retried");

    let response = connector
        .call(Request::get("/big").body_limit(20_000), Context::new())
        .await
        .unwrap();
    assert_eq!(response.body().len(), 10_000);

    let mut stream = connector
        .call_stream(Request::get("/chunked"), Context::new())
        .await
        .unwrap()
        .into_body();
    let mut received = 0;
    let err = loop {
        match stream.next_chunk().await {
            Some(Ok(chunk)) => received += chunk.len(),
            Some(Err(err)) => break err,
            None => panic!("the stream passed its limit"),
        }
    };
    assert!(err.is_body_too_large(), "{err}");
    assert!(received <= 5_000);
}

#[tokio::test]
async fn a_shed_request_sent_nothing_and_a_post_is_retried_only_then() {
    // tower's load-shed over a concurrency limit of zero: never ready, always shed.
    let posts = Arc::new(AtomicUsize::new(0));
    let counter = posts.clone();
    let api = Router::new().route(
        "/v1/orders",
        post(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            async { "created" }
        }),
    );
    let shedding = ServiceBuilder::new()
        .load_shed()
        .concurrency_limit(0)
        .service(api.clone());
    let err = connector(TowerTransport::new(shedding))
        .call(Request::post("/orders"), Context::new())
        .await
        .unwrap_err();
    assert!(err.is_connect(), "{err}");
    assert_eq!(err.attempts(), 3, "nothing was sent, so even a POST is retried");
    assert_eq!(posts.load(Ordering::SeqCst), 0);

    // A service error after the request may have arrived: a POST is not retried.
    let failing = tower::service_fn(|_: http::Request<http_body_util::Full<bytes::Bytes>>| async {
        Err::<http::Response<String>, _>(std::io::Error::other("upstream hung up"))
    });
    let err = connector(TowerTransport::new(failing))
        .call(Request::post("/orders"), Context::new())
        .await
        .unwrap_err();
    assert!(err.is_connection_lost(), "{err}");
    assert_eq!(err.attempts(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_tower_timeout_is_an_attempt_timeout() {
    let slow = tower::service_fn(|_: http::Request<http_body_util::Full<bytes::Bytes>>| async {
        tokio::time::sleep(Duration::from_secs(60)).await;
        Ok::<_, std::io::Error>(http::Response::new(String::new()))
    });
    let stack = ServiceBuilder::new()
        .timeout(Duration::from_secs(1))
        .service(slow);
    let started = tokio::time::Instant::now();
    let err = connector(TowerTransport::new(stack))
        .call(Request::get("/slow"), Context::new())
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert_eq!(err.attempts(), 3);
    assert_eq!(started.elapsed(), Duration::from_secs(3));
}
