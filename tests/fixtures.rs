//! Recorded fixtures end to end: a session recorded over real sockets (the
//! test kit's server, the hyper transport, a bearer token and an API key in
//! the query) is written without its secrets and replays offline, retries
//! included. The committed fixture in `tests/fixtures/` replays with other
//! credentials than the ones it was recorded with.

use std::sync::Arc;
use std::time::Duration;

use conn::auth::StaticBearer;
use conn::retry::{Backoff, Retry};
use conn::transport::HyperTransport;
use conn::{Connector, Context, Request, Transport};
use conn_testkit::fixture::{RecordingTransport, ReplayTransport};
use conn_testkit::{Reply, TestServer};
use http::Method;

const SECRET: &str = "live-9c1e44d0b7";
const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/catalog.json");

fn connector(base_url: &str, transport: Arc<dyn Transport>, secret: &str) -> Connector {
    Connector::builder("catalog")
        .base_url(base_url)
        .allow_http(true)
        .transport(transport)
        .auth(Arc::new(StaticBearer::new(secret.to_owned())))
        .retry(Arc::new(
            Retry::builder()
                .max_attempts(3)
                .backoff(Backoff::constant(Duration::ZERO))
                .build(),
        ))
        .attempt_timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// The session under test: a listing that fails once, then an order.
async fn session(connector: &Connector) -> Vec<(u16, usize, String)> {
    let mut seen = Vec::new();
    let calls = [
        Request::get("/items").query("page", "1"),
        Request::post("/orders").json(&serde_json::json!({"sku": "A-1", "qty": 2})),
    ];
    for request in calls {
        let response = connector.call(request, Context::new()).await.unwrap();
        let body = String::from_utf8_lossy(response.body()).into_owned();
        seen.push((response.status().as_u16(), response.report().attempts.len(), body));
    }
    seen
}

#[tokio::test]
async fn a_session_recorded_over_real_sockets_replays_offline() {
    let server = TestServer::start().await.unwrap();
    server.route(
        Method::GET,
        "/items",
        [
            Reply::status(503).header("retry-after", "0"),
            Reply::json(200, r#"{"items":[{"sku":"A-1"}]}"#),
        ],
    );
    server.route(Method::POST, "/orders", [Reply::json(201, r#"{"order":"o-1"}"#)]);
    let recorder = Arc::new(RecordingTransport::new(Arc::new(
        HyperTransport::builder().build().unwrap(),
    )));
    let live = session(&connector(&server.url(), recorder.clone(), SECRET)).await;
    assert_eq!(server.requests().len(), 3);
    let fixture = recorder.fixture().to_json();
    assert!(!fixture.contains(SECRET), "{fixture}");
    // `CONN_RECORD_FIXTURES=1 cargo test --test fixtures` refreshes the committed file.
    if std::env::var_os("CONN_RECORD_FIXTURES").is_some() {
        recorder.save(COMMITTED).unwrap();
    }

    let replay = Arc::new(ReplayTransport::new(recorder.fixture()));
    let offline = session(&connector(
        "https://api.catalog.invalid",
        replay.clone(),
        "another-secret",
    ))
    .await;
    replay.verify();
    assert_eq!(offline, live);
    assert_eq!(offline[0].1, 2, "the retry replays too");
}

#[tokio::test]
async fn the_committed_fixture_replays_with_any_credentials() {
    let replay = Arc::new(ReplayTransport::from_file(COMMITTED).unwrap());
    let seen = session(&connector(
        "https://api.catalog.invalid",
        replay.clone(),
        "ci-secret",
    ))
    .await;
    replay.verify();
    assert_eq!(seen[0], (200, 2, r#"{"items":[{"sku":"A-1"}]}"#.to_owned()));
    assert_eq!(seen[1].0, 201);
}
