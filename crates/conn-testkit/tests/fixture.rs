//! Recorded fixtures: the canary proves nothing secret is written down, the
//! strict matcher proves a test cannot silently drift from its recording.

use std::sync::Arc;

use bytes::Bytes;
use conn_core::{
    AuthStrategy, BoxFuture, Connector, Context, Credentials, Error, Request, Transport, TransportRequest,
};
use conn_testkit::fixture::{Fixture, RecordingTransport, ReplayTransport};
use conn_testkit::{MockReply, ScriptedTransport};
use http::{HeaderName, HeaderValue};

const CANARY: &str = "CANARY7f3a9";

/// Puts the canary in every place an auth strategy can put a credential.
struct CanaryAuth;

impl AuthStrategy for CanaryAuth {
    fn authorize<'a>(&'a self, request: &'a mut Request, _: &'a Context) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let bearer = HeaderValue::from_str(&format!("Bearer {CANARY}-bearer")).unwrap();
            request.set_credential_header(http::header::AUTHORIZATION, bearer);
            let custom = HeaderValue::from_str(&format!("{CANARY}-custom")).unwrap();
            request.set_credential_header(HeaderName::from_static("x-vendor-key"), custom);
            request.add_credential_query("sig", format!("{CANARY}-query"));
            Ok(())
        })
    }
}

fn connector(transport: Arc<dyn Transport>) -> Connector {
    Connector::builder("vendor")
        .base_url("https://api.vendor.example/v2")
        .transport(transport)
        .auth(Arc::new(CanaryAuth))
        .build()
        .unwrap()
}

/// An upstream whose answers carry the canary too: a session cookie and a token in the body.
fn upstream() -> Arc<ScriptedTransport> {
    Arc::new(ScriptedTransport::new([
        MockReply::json(
            200,
            format!(r#"{{"access_token":"{CANARY}-token","expires_in":3600}}"#),
        )
        .header("set-cookie", &format!("session={CANARY}-cookie; HttpOnly")),
        MockReply::json(200, r#"{"orders":[{"id":1}]}"#).header("x-page", "1"),
    ]))
}

async fn session(connector: &Connector) -> Vec<(u16, Bytes)> {
    let mut seen = Vec::new();
    let login = Request::post("/login")
        .json(&serde_json::json!({"user": "ops", "password": format!("{CANARY}-password")}));
    let orders = Request::get("/orders")
        .query("status", "open")
        .header("api-key", format!("{CANARY}-header"));
    for request in [login, orders] {
        let response = connector.call(request, Context::new()).await.unwrap();
        seen.push((response.status().as_u16(), response.body().clone()));
    }
    seen
}

#[tokio::test]
async fn canary_nothing_secret_is_recorded_and_the_recording_replays() {
    let recorder = Arc::new(RecordingTransport::new(upstream()));
    let recorded = session(&connector(recorder.clone())).await;
    let dir = std::env::temp_dir().join(format!("conn-fixture-canary-{}", std::process::id()));
    let path = dir.join("session.json");
    recorder.save(&path).unwrap();
    let file = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();

    assert!(
        !file.contains(CANARY),
        "a secret reached the fixture file:\n{file}"
    );
    assert!(file.contains("/v2/orders?status=open&sig=<redacted>"), "{file}");
    assert!(
        file.contains(r#"{\"orders\":[{\"id\":1}]}"#) && file.contains(r#""x-page: 1""#),
        "what is not secret stays readable: {file}"
    );

    // Offline, the same session gets the recorded answers (scrubbed where they held secrets).
    let replay = Arc::new(ReplayTransport::new(Fixture::from_json(&file).unwrap()));
    let replayed = session(&connector(replay.clone())).await;
    replay.verify();
    assert_eq!(replayed[1], recorded[1]);
    assert_eq!(replayed[0].0, 200);
    assert!(!String::from_utf8_lossy(&replayed[0].1).contains(CANARY));
}

fn wire(uri: &str, body: &'static str) -> TransportRequest {
    TransportRequest {
        request: http::Request::post(uri)
            .body(Bytes::from_static(body.as_bytes()))
            .unwrap(),
        credentials: Credentials::default(),
    }
}

#[tokio::test]
async fn equal_requests_replay_in_recorded_order_each_once() {
    let upstream = Arc::new(ScriptedTransport::new([
        MockReply::status(503),
        MockReply::status(200),
    ]));
    let recorder = RecordingTransport::new(upstream);
    for _ in 0..2 {
        recorder.send(wire("https://h/jobs", "{}")).await.unwrap();
    }
    let replay = ReplayTransport::new(recorder.fixture());
    assert_eq!(
        replay
            .send(wire("https://elsewhere:8443/jobs", "{}"))
            .await
            .unwrap()
            .status(),
        503
    );
    assert_eq!(replay.unused(), 1);
    assert_eq!(
        replay.send(wire("https://h/jobs", "{}")).await.unwrap().status(),
        200
    );
    let third = replay.send(wire("https://h/jobs", "{}")).await.unwrap_err();
    assert!(third.is_config());
    assert!(
        third.message().contains("already replayed"),
        "{}",
        third.message()
    );
}

#[tokio::test]
async fn a_mismatch_fails_with_a_diff_against_the_nearest_recording() {
    let recorder = RecordingTransport::new(Arc::new(ScriptedTransport::new([MockReply::status(201)])));
    recorder
        .send(wire("https://h/orders?page=1", r#"{"qty":1}"#))
        .await
        .unwrap();
    recorder.send(wire("https://h/invoices", "")).await.unwrap();
    let replay = ReplayTransport::new(recorder.fixture());

    let err = replay
        .send(wire("https://h/orders?page=2", r#"{"qty":1}"#))
        .await
        .unwrap_err();
    let diff = err.message();
    assert!(
        diff.contains("no recorded interaction matches POST /orders?page=2"),
        "{diff}"
    );
    assert!(diff.contains("nearest recorded (#0)"), "{diff}");
    assert!(
        diff.contains("recorded /orders?page=1\n    sent     /orders?page=2"),
        "{diff}"
    );
    assert!(!diff.contains("body:"), "equal parts are not shown: {diff}");

    let verdict = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| replay.verify()));
    let message = *verdict.unwrap_err().downcast::<String>().unwrap();
    assert!(message.contains("nearest recorded (#0)"), "{message}");
    assert!(message.contains("recorded #0 was never replayed") && message.contains("#1 was never replayed"));
}

#[tokio::test]
async fn matched_headers_take_part_in_the_match() {
    let recorder = RecordingTransport::new(Arc::new(ScriptedTransport::new([MockReply::status(200)])));
    let mut request = wire("https://h/a", "");
    request
        .request
        .headers_mut()
        .insert("content-type", HeaderValue::from_static("text/csv"));
    recorder.send(request).await.unwrap();

    let replay = ReplayTransport::new(recorder.fixture()).match_header("Content-Type");
    let mut request = wire("https://h/a", "");
    request
        .request
        .headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    let err = replay.send(request).await.unwrap_err();
    assert!(
        err.message()
            .contains("content-type:\n    recorded text/csv\n    sent     application/json"),
        "{}",
        err.message()
    );
}

#[tokio::test]
async fn transport_errors_are_recorded_and_replayed() {
    let upstream = ScriptedTransport::new([MockReply::error(conn_core::ErrorKind::ConnectionLost)]);
    let recorder = RecordingTransport::new(Arc::new(upstream));
    assert!(recorder.send(wire("https://h/a", "")).await.is_err());
    let replay = ReplayTransport::new(recorder.fixture());
    assert!(
        replay
            .send(wire("https://h/a", ""))
            .await
            .unwrap_err()
            .is_connection_lost()
    );
}
