//! The Connector pipeline, proved against the scripted transport on a paused
//! tokio clock: order of components, timing, deadlines, 401 replay,
//! classification, hostile endpoints and redaction.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use conn::{
    AttemptOutcome, AttemptResult, AuthStrategy, BoxFuture, Breaker, CallInfo, CallOutcome, Connector,
    Context, Error, ErrorKind, Permit, Request, RetryDecision, RetryPolicy, Throttle, TimeoutKind,
};
use conn_testkit::{MockReply, ScriptedTransport};
use http::header::{AUTHORIZATION, HeaderValue};
use tokio::time::Instant;

const BASE: &str = "https://api.example.com/v1";

fn connector(transport: &Arc<ScriptedTransport>) -> conn::ConnectorBuilder {
    Connector::builder("test")
        .base_url(BASE)
        .transport(transport.clone())
}

/// Retries 5xx and transport errors up to `max` attempts, `delay` apart.
struct FixedRetry {
    max: u32,
    delay: Duration,
}

impl RetryPolicy for FixedRetry {
    fn decide(&self, call: &CallInfo<'_>, outcome: &AttemptOutcome<'_>) -> RetryDecision {
        let failed = match outcome.result {
            Ok(response) => response.status().is_server_error(),
            Err(err) => err.is_transient(),
        };
        if failed && call.attempt < self.max {
            RetryDecision::Retry { delay: self.delay }
        } else {
            RetryDecision::Stop
        }
    }
}

#[tokio::test(start_paused = true)]
async fn success_sends_once_with_a_correlation_id() {
    let transport = Arc::new(ScriptedTransport::new([MockReply::json(200, r#"{"ok":true}"#)]));
    let connector = connector(&transport)
        .default_header("user-agent", "conn-test")
        .build()
        .unwrap();

    let response = connector
        .call(Request::get("/ping").query("a", "b c"), Context::new())
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    let sent = transport.requests();
    assert_eq!(sent.len(), 1);
    let request = &sent[0].request;
    assert_eq!(request.uri(), "https://api.example.com/v1/ping?a=b%20c");
    assert_eq!(request.headers()["user-agent"], "conn-test");
    let correlation = request.headers()["x-request-id"].to_str().unwrap();
    assert_eq!(correlation.len(), 32);
    let report = response.report();
    assert_eq!(&*report.correlation_id, correlation);
    assert_eq!(report.attempts.len(), 1);
    assert_eq!(report.outcome, CallOutcome::Success);
    assert_eq!(
        report.attempts[0].result,
        AttemptResult::Status(http::StatusCode::OK)
    );
}

#[tokio::test(start_paused = true)]
async fn correlation_id_and_header_are_configurable() {
    let transport = Arc::new(ScriptedTransport::new([MockReply::status(204)]));
    let connector = connector(&transport)
        .correlation_header(Some(http::HeaderName::from_static("x-correlation-id")))
        .build()
        .unwrap();
    let response = connector
        .call(Request::get("/"), Context::new().correlation_id("abc-123"))
        .await
        .unwrap();
    let request = &transport.requests()[0].request;
    assert_eq!(request.headers()["x-correlation-id"], "abc-123");
    assert!(request.headers().get("x-request-id").is_none());
    assert_eq!(&*response.report().correlation_id, "abc-123");
}

#[tokio::test(start_paused = true)]
async fn retries_follow_the_policy_with_exact_delays() {
    let transport = Arc::new(ScriptedTransport::new([
        MockReply::status(500),
        MockReply::status(500),
        MockReply::status(200),
    ]));
    let connector = connector(&transport)
        .retry(Arc::new(FixedRetry {
            max: 5,
            delay: Duration::from_millis(100),
        }))
        .build()
        .unwrap();
    let start = Instant::now();

    let response = connector
        .call(Request::get("/flaky"), Context::new())
        .await
        .unwrap();

    let sent: Vec<Duration> = transport.requests().iter().map(|r| r.at - start).collect();
    assert_eq!(
        sent,
        [
            Duration::ZERO,
            Duration::from_millis(100),
            Duration::from_millis(200)
        ]
    );
    let report = response.report();
    assert_eq!(report.attempts.len(), 3);
    assert_eq!(report.retries(), 2);
    assert_eq!(report.attempts[0].delay_after, Some(Duration::from_millis(100)));
    assert_eq!(report.total, Duration::from_millis(200));
    // Every attempt carries the same correlation id.
    let ids: Vec<_> = transport
        .requests()
        .iter()
        .map(|r| r.request.headers()["x-request-id"].clone())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] == w[1]));
}

#[tokio::test(start_paused = true)]
async fn exhausted_retries_return_the_last_classified_error() {
    let transport = Arc::new(ScriptedTransport::new([MockReply::status(503).body("down")]));
    let connector = connector(&transport)
        .retry(Arc::new(FixedRetry {
            max: 3,
            delay: Duration::from_millis(10),
        }))
        .build()
        .unwrap();
    let err = connector
        .call(Request::get("/down"), Context::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ServerStatus);
    assert!(err.is_transient());
    assert_eq!(err.status(), Some(http::StatusCode::SERVICE_UNAVAILABLE));
    assert_eq!(err.attempts(), 3);
    assert_eq!(err.response_body().map(|b| &b[..]), Some(&b"down"[..]));
    assert!(err.correlation_id().is_some());
    assert_eq!(
        err.report().unwrap().outcome,
        CallOutcome::Failed(ErrorKind::ServerStatus)
    );
}

#[tokio::test(start_paused = true)]
async fn a_retry_delay_past_the_deadline_ends_the_call_without_sleeping() {
    let transport = Arc::new(ScriptedTransport::new([
        MockReply::status(503).delay(Duration::from_millis(100))
    ]));
    let connector = connector(&transport)
        .total_timeout(Duration::from_millis(250))
        .retry(Arc::new(FixedRetry {
            max: 10,
            delay: Duration::from_millis(200),
        }))
        .build()
        .unwrap();
    let start = Instant::now();
    let err = connector
        .call(Request::get("/x"), Context::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ServerStatus);
    assert!(
        err.message().contains("no time left before the deadline"),
        "{err}"
    );
    assert_eq!(transport.count(), 1);
    assert_eq!(
        start.elapsed(),
        Duration::from_millis(100),
        "did not sleep towards the deadline"
    );
}

#[tokio::test(start_paused = true)]
async fn slow_attempt_hits_the_attempt_timeout() {
    let transport = Arc::new(ScriptedTransport::new([
        MockReply::status(200).delay(Duration::from_secs(5))
    ]));
    let connector = connector(&transport)
        .attempt_timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let start = Instant::now();
    let err = connector
        .call(Request::get("/slow"), Context::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout(TimeoutKind::Attempt));
    assert!(err.is_transient());
    assert_eq!(start.elapsed(), Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn per_request_timeout_overrides_the_connector() {
    let transport = Arc::new(ScriptedTransport::new([
        MockReply::status(200).delay(Duration::from_secs(5))
    ]));
    let connector = connector(&transport)
        .attempt_timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let start = Instant::now();
    let err = connector
        .call(
            Request::get("/slow").timeout(Duration::from_millis(300)),
            Context::new(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout(TimeoutKind::Attempt));
    assert_eq!(start.elapsed(), Duration::from_millis(300));
}

#[tokio::test(start_paused = true)]
async fn deadline_shorter_than_the_attempt_timeout_wins() {
    let transport = Arc::new(ScriptedTransport::new([
        MockReply::status(200).delay(Duration::from_secs(5))
    ]));
    let connector = connector(&transport)
        .attempt_timeout(Duration::from_secs(10))
        .total_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let start = Instant::now();
    let err = connector
        .call(Request::get("/slow"), Context::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout(TimeoutKind::Deadline));
    assert_eq!(start.elapsed(), Duration::from_secs(2));

    // A context deadline earlier than the connector's total timeout wins too.
    let start = Instant::now();
    let context = Context::new().timeout(Duration::from_millis(700));
    let err = connector.call(Request::get("/slow"), context).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout(TimeoutKind::Deadline));
    assert_eq!(start.elapsed(), Duration::from_millis(700));
}

/// A bearer strategy whose token changes on every refresh.
struct RotatingBearer {
    generation: AtomicU32,
    refreshes: AtomicU32,
}

impl AuthStrategy for RotatingBearer {
    fn authorize<'a>(&'a self, request: &'a mut Request, _: &'a Context) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let token = format!("Bearer token-{}", self.generation.load(Ordering::SeqCst));
            request.set_credential_header(AUTHORIZATION, HeaderValue::from_str(&token).unwrap());
            Ok(())
        })
    }

    fn refresh<'a>(&'a self, _: &'a Context) -> BoxFuture<'a, Result<bool, Error>> {
        Box::pin(async move {
            self.refreshes.fetch_add(1, Ordering::SeqCst);
            self.generation.fetch_add(1, Ordering::SeqCst);
            Ok(true)
        })
    }
}

#[tokio::test(start_paused = true)]
async fn unauthorized_refreshes_and_replays_once() {
    let transport = Arc::new(ScriptedTransport::new([
        MockReply::status(401),
        MockReply::status(200),
    ]));
    let auth = Arc::new(RotatingBearer {
        generation: AtomicU32::new(0),
        refreshes: AtomicU32::new(0),
    });
    let connector = connector(&transport).auth(auth.clone()).build().unwrap();

    let response = connector.call(Request::get("/me"), Context::new()).await.unwrap();

    let tokens: Vec<_> = transport
        .requests()
        .iter()
        .map(|r| r.request.headers()[AUTHORIZATION].clone())
        .collect();
    assert_eq!(tokens, ["Bearer token-0", "Bearer token-1"]);
    assert_eq!(auth.refreshes.load(Ordering::SeqCst), 1);
    let report = response.report();
    assert!(report.attempts[1].auth_replay);
    assert_eq!(report.retries(), 0, "a replay after refresh is not a retry");
}

#[tokio::test(start_paused = true)]
async fn a_second_unauthorized_is_an_error_not_a_loop() {
    let transport = Arc::new(ScriptedTransport::new([MockReply::status(401)]));
    let auth = Arc::new(RotatingBearer {
        generation: AtomicU32::new(0),
        refreshes: AtomicU32::new(0),
    });
    let connector = connector(&transport)
        .auth(auth.clone())
        .retry(Arc::new(FixedRetry {
            max: 5,
            delay: Duration::from_millis(1),
        }))
        .build()
        .unwrap();
    let err = connector
        .call(Request::get("/me"), Context::new())
        .await
        .unwrap_err();
    assert!(err.is_unauthorized());
    assert!(!err.is_transient());
    assert_eq!(transport.count(), 2);
    assert_eq!(auth.refreshes.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn final_statuses_are_classified() {
    let cases = [
        (400, ErrorKind::ClientStatus, false),
        (401, ErrorKind::Unauthorized, false),
        (403, ErrorKind::Forbidden, false),
        (404, ErrorKind::ClientStatus, false),
        (408, ErrorKind::ClientStatus, true),
        (429, ErrorKind::RateLimited, true),
        (500, ErrorKind::ServerStatus, true),
        (501, ErrorKind::ServerStatus, false),
        (503, ErrorKind::ServerStatus, true),
    ];
    for (status, kind, transient) in cases {
        let transport = Arc::new(ScriptedTransport::new([MockReply::status(status)]));
        let err = connector(&transport)
            .build()
            .unwrap()
            .call(Request::get("/x"), Context::new())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), kind, "status {status}");
        assert_eq!(err.is_transient(), transient, "status {status}");
        assert_eq!(err.status().map(|s| s.as_u16()), Some(status));
    }
    // A redirect that is not followed is returned as it is.
    let transport = Arc::new(ScriptedTransport::new([
        MockReply::status(302).header("location", "/elsewhere")
    ]));
    let response = connector(&transport)
        .build()
        .unwrap()
        .call(Request::get("/x"), Context::new())
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
}

#[tokio::test(start_paused = true)]
async fn rate_limited_error_says_when_to_come_back() {
    let transport = Arc::new(ScriptedTransport::new([
        MockReply::status(429).header("retry-after", "7")
    ]));
    let err = connector(&transport)
        .build()
        .unwrap()
        .call(Request::get("/x"), Context::new())
        .await
        .unwrap_err();
    assert!(err.is_rate_limited());
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
}

#[tokio::test(start_paused = true)]
async fn transport_errors_keep_their_kind() {
    for kind in [
        ErrorKind::Connect,
        ErrorKind::ConnectionLost,
        ErrorKind::BodyTooLarge,
    ] {
        let transport = Arc::new(ScriptedTransport::new([MockReply::error(kind)]));
        let err = connector(&transport)
            .build()
            .unwrap()
            .call(Request::get("/x"), Context::new())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), kind);
        assert_eq!(err.attempts(), 1);
    }
}

#[tokio::test(start_paused = true)]
async fn invalid_header_values_from_user_input_are_config_errors() {
    let transport = Arc::new(ScriptedTransport::new([MockReply::status(200)]));
    let connector = connector(&transport).build().unwrap();
    for request in [
        Request::get("/x").header("x-user", "line\r\nInjected: yes"),
        Request::get("/x").header("bad header", "v"),
        Request::get("/x").header("x-nul", "a\0b"),
    ] {
        let err = connector.call(request, Context::new()).await.unwrap_err();
        assert!(err.is_config(), "{err}");
        assert!(!err.to_string().contains("Injected"));
    }
    let err = Connector::builder("bad")
        .base_url(BASE)
        .transport(transport.clone())
        .default_header("x-key", "a\nb")
        .build()
        .unwrap_err();
    assert!(err.is_config());
    let err = connector
        .call(Request::get("/x"), Context::new().correlation_id("bad\nid"))
        .await
        .unwrap_err();
    assert!(err.is_config());
    assert_eq!(transport.count(), 0, "nothing invalid was sent");
}

/// Endpoints that try to leave the base URL: every one must be refused
/// before anything is sent.
const HOSTILE_ENDPOINTS: &[&str] = &[
    "//evil.example/steal",      // protocol-relative (axios CVE-2024-39338)
    "///evil.example/steal",     // extra slash
    "http://evil.example/steal", // absolute URL (axios CVE-2025-27152)
    "https://evil.example",      // absolute https
    "HTTP://EVIL.EXAMPLE/x",     // upper-case scheme
    "evil.example:443/x",        // host:port without scheme
    "javascript:alert(1)",       // other scheme
    "@evil.example/x",           // userinfo trick
    "user:pass@evil.example/x",  // userinfo with password
    "../admin",                  // parent segment
    "/users/../../admin",        // climbing out of the base path
    "/./admin/.",                // current-directory segments
    "/%2e%2e/admin",             // encoded dots
    "/%2E%2e/admin",             // mixed-case encoded dots
    "/.%2e/admin",               // half-encoded
    "/%252e%252e/admin",         // double-encoded
    "/a/%2e%2e%2fadmin",         // encoded dots and slash in one segment
    "/a/..%2f..%2fadmin",        // encoded slash between dot segments
    "/a/..%5cadmin",             // encoded backslash
    "\\\\evil.example\\share",   // UNC-style backslashes
    "/\\evil.example",           // slash-backslash
    "/a\r\nHost: evil.example",  // CRLF injection
    "/a b",                      // space
    "/a%00b",                    // encoded NUL
    "/\u{ff0e}\u{ff0e}/admin",   // raw full-width dots (non-ASCII)
    "/%ef%bc%8e%ef%bc%8e/admin", // encoded full-width dots
    "/a#@evil.example",          // fragment
    "/a/%zz",                    // invalid escape
];

#[tokio::test(start_paused = true)]
async fn hostile_endpoints_never_reach_another_host() {
    assert!(HOSTILE_ENDPOINTS.len() >= 15);
    let transport = Arc::new(ScriptedTransport::new([MockReply::status(200)]));
    let connector = connector(&transport).build().unwrap();
    for endpoint in HOSTILE_ENDPOINTS {
        let err = connector
            .call(Request::get(*endpoint), Context::new())
            .await
            .unwrap_err();
        assert!(err.is_config(), "{endpoint:?} was not refused: {err}");
        assert_eq!(err.attempts(), 0);
    }
    assert_eq!(transport.count(), 0, "a hostile endpoint reached the transport");
    // Legitimate paths that look unusual still work, and stay on the base host.
    for endpoint in [
        "/users/@me",
        "/group%2Fproject/files",
        "/files/...",
        "items?page=2",
    ] {
        connector
            .call(Request::get(endpoint), Context::new())
            .await
            .unwrap();
    }
    for sent in transport.requests() {
        assert_eq!(sent.request.uri().authority().unwrap(), "api.example.com");
        assert!(sent.request.uri().path().starts_with("/v1/"));
    }
}

/// Records the order in which components run.
#[derive(Default)]
struct Recorder(Mutex<Vec<&'static str>>);

impl Recorder {
    fn push(&self, step: &'static str) {
        self.0.lock().unwrap().push(step);
    }
}

struct RecordingBreaker(Arc<Recorder>);
impl Breaker for RecordingBreaker {
    fn admit(&self, _: &CallInfo<'_>) -> Result<Permit, Error> {
        self.0.push("admit");
        Ok(Permit::none())
    }
    fn record(&self, _: &CallInfo<'_>, _: Permit, _: &AttemptOutcome<'_>) {
        self.0.push("record");
    }
}

struct RecordingThrottle(Arc<Recorder>, Arc<AtomicUsize>);
struct Slot(Arc<AtomicUsize>);
impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}
impl Throttle for RecordingThrottle {
    fn acquire<'a>(&'a self, _: &'a CallInfo<'a>) -> BoxFuture<'a, Result<Permit, Error>> {
        Box::pin(async move {
            self.0.push("acquire");
            tokio::time::sleep(Duration::from_millis(50)).await;
            self.1.fetch_add(1, Ordering::SeqCst);
            Ok(Permit::new(Slot(self.1.clone())))
        })
    }
    fn observe(&self, _: &CallInfo<'_>, _: &AttemptOutcome<'_>) {
        assert_eq!(
            self.1.load(Ordering::SeqCst),
            0,
            "the permit is released when the attempt ends"
        );
        self.0.push("observe");
    }
}

struct RecordingAuth(Arc<Recorder>);
impl AuthStrategy for RecordingAuth {
    fn authorize<'a>(&'a self, _: &'a mut Request, _: &'a Context) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            self.0.push("authorize");
            Ok(())
        })
    }
}

struct RecordingRetry(Arc<Recorder>);
impl RetryPolicy for RecordingRetry {
    fn decide(&self, call: &CallInfo<'_>, _: &AttemptOutcome<'_>) -> RetryDecision {
        self.0.push("decide");
        if call.attempt == 1 {
            RetryDecision::Retry {
                delay: Duration::from_millis(10),
            }
        } else {
            RetryDecision::Stop
        }
    }
}

#[tokio::test(start_paused = true)]
async fn components_run_in_the_documented_order() {
    let recorder = Arc::new(Recorder::default());
    let in_flight = Arc::new(AtomicUsize::new(0));
    let transport = Arc::new(ScriptedTransport::new([MockReply::status(200)]));
    let connector = connector(&transport)
        .breaker(Arc::new(RecordingBreaker(recorder.clone())))
        .throttle(Arc::new(RecordingThrottle(recorder.clone(), in_flight.clone())))
        .auth(Arc::new(RecordingAuth(recorder.clone())))
        .retry(Arc::new(RecordingRetry(recorder.clone())))
        .build()
        .unwrap();
    let response = connector.call(Request::get("/x"), Context::new()).await.unwrap();
    let steps = recorder.0.lock().unwrap().clone();
    let one = ["admit", "acquire", "authorize", "observe", "record", "decide"];
    assert_eq!(steps, [one, one].concat());
    assert_eq!(response.report().throttle_wait, Duration::from_millis(100));
    assert_eq!(
        response.report().attempts[0].throttle_wait,
        Duration::from_millis(50)
    );
}

struct AlwaysOpen;
impl Breaker for AlwaysOpen {
    fn admit(&self, _: &CallInfo<'_>) -> Result<Permit, Error> {
        Err(Error::new(ErrorKind::CircuitOpen, "open").with_retry_after(Duration::from_secs(30)))
    }
    fn record(&self, _: &CallInfo<'_>, _: Permit, _: &AttemptOutcome<'_>) {}
}

#[tokio::test(start_paused = true)]
async fn an_open_circuit_fails_fast_without_sending() {
    let transport = Arc::new(ScriptedTransport::new([MockReply::status(200)]));
    let connector = connector(&transport)
        .breaker(Arc::new(AlwaysOpen))
        .build()
        .unwrap();
    let err = connector
        .call(Request::get("/x"), Context::new())
        .await
        .unwrap_err();
    assert!(err.is_circuit_open());
    assert_eq!(err.retry_after(), Some(Duration::from_secs(30)));
    assert_eq!(transport.count(), 0);
}

/// A throttle that never admits: the deadline must end the wait.
struct Closed;
impl Throttle for Closed {
    fn acquire<'a>(&'a self, _: &'a CallInfo<'a>) -> BoxFuture<'a, Result<Permit, Error>> {
        Box::pin(std::future::pending())
    }
}

#[tokio::test(start_paused = true)]
async fn throttle_waits_never_pass_the_deadline() {
    let transport = Arc::new(ScriptedTransport::new([MockReply::status(200)]));
    let connector = connector(&transport).throttle(Arc::new(Closed)).build().unwrap();
    let start = Instant::now();
    let err = connector
        .call(Request::get("/x"), Context::new().timeout(Duration::from_secs(3)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout(TimeoutKind::Deadline));
    assert!(err.message().contains("throttle"));
    assert_eq!(start.elapsed(), Duration::from_secs(3));
    assert_eq!(transport.count(), 0);
}

#[tokio::test(start_paused = true)]
async fn documents_and_typed_decoding() {
    #[derive(serde::Deserialize)]
    struct Item {
        id: u32,
    }
    let transport = Arc::new(ScriptedTransport::new([
        MockReply::json(200, r#"{"id":7}"#),
        MockReply::json(200, r#"{"id": 7"#),
        MockReply::status(204),
    ]));
    let connector = connector(&transport).build().unwrap();
    let item: Item = connector
        .call_as(Request::get("/item"), Context::new())
        .await
        .unwrap();
    assert_eq!(item.id, 7);
    let err = connector
        .call_document(Request::get("/item"), Context::new())
        .await
        .unwrap_err();
    assert!(err.is_decode());
    assert!(err.correlation_id().is_some());
    let (document, _) = connector
        .call_document(Request::get("/item"), Context::new())
        .await
        .unwrap();
    assert_eq!(document.value, serde_json::Value::Null);
}

/// An API key in a custom header and in the query string.
struct ApiKey(&'static str);
impl AuthStrategy for ApiKey {
    fn authorize<'a>(&'a self, request: &'a mut Request, _: &'a Context) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            request.set_credential_header(
                http::HeaderName::from_static("x-vendor-key"),
                HeaderValue::from_static(self.0),
            );
            request.add_credential_query("api_key", self.0);
            Ok(())
        })
    }
}

#[tokio::test(start_paused = true)]
async fn secrets_never_appear_in_errors_or_debug_output() {
    const CANARY: &str = "CANARY-5f1e0c9d";
    let transport = Arc::new(ScriptedTransport::new([MockReply::status(500).body(CANARY)]));
    let connector = connector(&transport)
        .auth(Arc::new(ApiKey(CANARY)))
        .build()
        .unwrap();
    let request = Request::get("/x")
        .query("token", CANARY)
        .header("authorization", format!("Bearer {CANARY}"));
    let debug_request = format!("{request:?}");
    let err = connector.call(request, Context::new()).await.unwrap_err();

    let sent = &transport.requests()[0].request;
    assert_eq!(sent.headers()["x-vendor-key"], CANARY, "the credential was sent");
    assert!(sent.uri().query().unwrap().contains(&format!("api_key={CANARY}")));
    for text in [
        format!("{err}"),
        format!("{err:?}"),
        format!("{:?}", err.report()),
        format!("{}", err.report().unwrap()),
        debug_request,
        format!("{connector:?}"),
    ] {
        assert!(!text.contains(CANARY), "canary leaked into: {text}");
    }
}

#[tokio::test(start_paused = true)]
async fn enormous_timeouts_do_not_overflow() {
    let transport = Arc::new(ScriptedTransport::new([MockReply::status(200)]));
    let connector = connector(&transport)
        .attempt_timeout(Duration::MAX)
        .total_timeout(Duration::MAX)
        .build()
        .unwrap();
    let context = Context::new().timeout(Duration::MAX);
    let request = Request::get("/x").timeout(Duration::MAX);
    connector.call(request, context).await.unwrap();
}
