//! conn-retry through a real Connector pipeline. Timing is proved on a paused
//! tokio clock against the scripted transport; one test runs the same policy
//! over real sockets against the test kit server.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use conn_core::{Connector, Context, ErrorKind, Request, TimeoutKind};
use conn_retry::{Backoff, Jitter, Retry, RetryBudget};
use conn_testkit::{MockReply, ScriptedTransport};
use tokio::time::Instant;

const MS: Duration = Duration::from_millis(1);

fn connector(transport: &Arc<ScriptedTransport>, retry: Retry) -> Connector {
    Connector::builder("retry-test")
        .base_url("https://api.example.com")
        .transport(transport.clone())
        .retry(Arc::new(retry))
        .no_timeouts()
        .build()
        .unwrap()
}

/// Exponential 100 ms × 2, no jitter: delays are exactly the schedule.
fn exact() -> conn_retry::RetryBuilder {
    Retry::builder()
        .max_attempts(5)
        .backoff(Backoff::exponential(100 * MS, 2.0, Duration::from_secs(10)))
        .jitter(Jitter::None)
        .hint_jitter(0.0)
}

/// When each request reached the transport, relative to `start`.
fn send_times(transport: &ScriptedTransport, start: Instant) -> Vec<Duration> {
    transport.requests().iter().map(|r| r.at - start).collect()
}

#[tokio::test(start_paused = true)]
async fn two_500s_then_success_with_the_exact_schedule() {
    let transport = Arc::new(ScriptedTransport::new([
        MockReply::status(500),
        MockReply::status(500),
        MockReply::json(200, "{}"),
    ]));
    let start = Instant::now();
    let response = connector(&transport, exact().build())
        .call(Request::get("/x"), Context::new())
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        send_times(&transport, start),
        [Duration::ZERO, 100 * MS, 300 * MS]
    );
    let delays: Vec<_> = response.report().attempts.iter().map(|a| a.delay_after).collect();
    assert_eq!(delays, [Some(100 * MS), Some(200 * MS), None]);
}

#[tokio::test(start_paused = true)]
async fn retry_after_seconds_replaces_the_backoff() {
    let transport = Arc::new(ScriptedTransport::new([
        MockReply::status(429).header("retry-after", "7"),
        MockReply::status(200),
    ]));
    let start = Instant::now();
    connector(&transport, exact().build())
        .call(Request::get("/x"), Context::new())
        .await
        .unwrap();
    assert_eq!(
        send_times(&transport, start),
        [Duration::ZERO, Duration::from_secs(7)]
    );
}

#[tokio::test(start_paused = true)]
async fn hint_jitter_spreads_clients_above_the_hint() {
    let mut waits = Vec::new();
    for _ in 0..20 {
        let transport = Arc::new(ScriptedTransport::new([
            MockReply::status(503).header("retry-after", "10"),
            MockReply::status(200),
        ]));
        let start = Instant::now();
        let retry = exact().hint_jitter(0.1).build();
        connector(&transport, retry)
            .call(Request::get("/x"), Context::new())
            .await
            .unwrap();
        waits.push(send_times(&transport, start)[1]);
    }
    assert!(
        waits
            .iter()
            .all(|w| *w >= Duration::from_secs(10) && *w <= Duration::from_secs(11)),
        "{waits:?}"
    );
    waits.dedup();
    assert!(waits.len() > 10, "jitter spreads the clients: {waits:?}");
}

#[tokio::test(start_paused = true)]
async fn retry_after_as_an_http_date() {
    let at = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(5));
    let transport = Arc::new(ScriptedTransport::new([
        MockReply::status(503).header("retry-after", &at),
        MockReply::status(200),
    ]));
    let start = Instant::now();
    connector(&transport, exact().build())
        .call(Request::get("/x"), Context::new())
        .await
        .unwrap();
    let wait = send_times(&transport, start)[1];
    // HTTP-dates have whole seconds: the wait is between 4 and 5 s.
    assert!(
        wait > Duration::from_secs(4) && wait <= Duration::from_secs(5),
        "{wait:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_vendor_reset_header_is_honoured() {
    let transport = Arc::new(ScriptedTransport::new([
        MockReply::status(429)
            .header("x-ratelimit-remaining", "0")
            .header("x-ratelimit-reset", "3"),
        MockReply::status(200),
    ]));
    let start = Instant::now();
    connector(&transport, exact().build())
        .call(Request::get("/x"), Context::new())
        .await
        .unwrap();
    assert_eq!(send_times(&transport, start)[1], Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn a_hint_shorter_than_the_backoff_does_not_shorten_it() {
    let transport = Arc::new(ScriptedTransport::new([
        MockReply::status(503).header("retry-after", "0"),
        MockReply::status(200),
    ]));
    let start = Instant::now();
    connector(&transport, exact().build())
        .call(Request::get("/x"), Context::new())
        .await
        .unwrap();
    assert_eq!(send_times(&transport, start)[1], 100 * MS);
}

#[tokio::test(start_paused = true)]
async fn hints_are_capped_by_the_max_wait() {
    let transport = Arc::new(ScriptedTransport::new([
        MockReply::status(503).header("retry-after", "100"),
        MockReply::status(200),
    ]));
    let start = Instant::now();
    let retry = exact().max_hint_wait(Duration::from_secs(2)).build();
    connector(&transport, retry)
        .call(Request::get("/x"), Context::new())
        .await
        .unwrap();
    assert_eq!(send_times(&transport, start)[1], Duration::from_secs(2));
}

#[tokio::test(start_paused = true)]
async fn a_hint_past_the_deadline_fails_at_once_saying_when_to_come_back() {
    let transport = Arc::new(ScriptedTransport::new([
        MockReply::status(429).header("retry-after", "120")
    ]));
    let start = Instant::now();
    let err = connector(&transport, exact().build())
        .call(
            Request::get("/x"),
            Context::new().timeout(Duration::from_secs(10)),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(120)));
    assert!(err.message().contains("past the call's deadline"), "{err}");
    assert_eq!(transport.count(), 1);
    assert_eq!(start.elapsed(), Duration::ZERO, "no useless sleep");
}

#[tokio::test(start_paused = true)]
async fn malformed_retry_after_values_fall_back_to_the_schedule() {
    for bad in [
        "-5",
        "soon",
        "99999999999999999999999999999999",
        "Fri, 99 Foo 2026 99:99:99 GMT",
        "Sat, 31 Dec 99999 23:59:59 GMT",
        "1e9",
        "",
        "NaN",
    ] {
        let transport = Arc::new(ScriptedTransport::new([
            MockReply::status(503).header("retry-after", bad),
            MockReply::status(200),
        ]));
        let start = Instant::now();
        let retry = exact().max_hint_wait(Duration::from_secs(1)).build();
        connector(&transport, retry)
            .call(Request::get("/x"), Context::new())
            .await
            .unwrap();
        let wait = send_times(&transport, start)[1];
        // Unreadable values give the schedule; an absurdly large number is clamped
        // (then capped by max_hint_wait), never an overflow.
        assert!(
            wait == 100 * MS || wait == Duration::from_secs(1),
            "{bad:?}: {wait:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn non_idempotent_requests_are_retried_only_when_safe() {
    // POST without an idempotency key: a 503 is not retried.
    let transport = Arc::new(ScriptedTransport::new([
        MockReply::status(503),
        MockReply::status(201),
    ]));
    let err = connector(&transport, exact().build())
        .call(Request::post("/orders"), Context::new())
        .await
        .unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(503));
    assert_eq!(transport.count(), 1);

    // The same POST with an idempotency key is retried.
    let transport = Arc::new(ScriptedTransport::new([
        MockReply::status(503),
        MockReply::status(201),
    ]));
    let response = connector(&transport, exact().build())
        .call(
            Request::post("/orders").idempotency_key("order-1"),
            Context::new(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(transport.count(), 2);

    // A POST the user marks safe is retried.
    let transport = Arc::new(ScriptedTransport::new([
        MockReply::status(502),
        MockReply::status(201),
    ]));
    connector(&transport, exact().build())
        .call(Request::patch("/orders/1").idempotent(true), Context::new())
        .await
        .unwrap();
    assert_eq!(transport.count(), 2);

    // A POST that never connected (nothing sent) is retried.
    let transport = Arc::new(ScriptedTransport::new([
        MockReply::error(ErrorKind::Connect),
        MockReply::status(201),
    ]));
    connector(&transport, exact().build())
        .call(Request::post("/orders"), Context::new())
        .await
        .unwrap();
    assert_eq!(transport.count(), 2);

    // A POST whose connection broke (maybe processed) is not.
    let transport = Arc::new(ScriptedTransport::new([
        MockReply::error(ErrorKind::ConnectionLost),
        MockReply::status(201),
    ]));
    let err = connector(&transport, exact().build())
        .call(Request::post("/orders"), Context::new())
        .await
        .unwrap_err();
    assert!(err.is_connection_lost());
    assert_eq!(transport.count(), 1);
}

#[tokio::test(start_paused = true)]
async fn what_is_never_retried() {
    for status in [400, 401, 403, 404, 409, 422, 501, 505] {
        let transport = Arc::new(ScriptedTransport::new([
            MockReply::status(status),
            MockReply::status(200),
        ]));
        let err = connector(&transport, exact().build())
            .call(Request::get("/x"), Context::new())
            .await
            .unwrap_err();
        assert_eq!(err.status().map(|s| s.as_u16()), Some(status));
        assert_eq!(transport.count(), 1, "status {status} was retried");
    }
    for kind in [
        ErrorKind::Decode,
        ErrorKind::BodyTooLarge,
        ErrorKind::Redirect,
        ErrorKind::Timeout(TimeoutKind::Deadline),
        ErrorKind::CircuitOpen,
        ErrorKind::Config,
    ] {
        let transport = Arc::new(ScriptedTransport::new([
            MockReply::error(kind),
            MockReply::status(200),
        ]));
        let err = connector(&transport, exact().build())
            .call(Request::get("/x"), Context::new())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), kind);
        assert_eq!(transport.count(), 1, "{kind:?} was retried");
    }
}

#[tokio::test(start_paused = true)]
async fn what_is_retried_by_default() {
    for status in [408, 425, 429, 500, 502, 503, 504] {
        let transport = Arc::new(ScriptedTransport::new([
            MockReply::status(status),
            MockReply::status(200),
        ]));
        connector(&transport, exact().build())
            .call(Request::get("/x"), Context::new())
            .await
            .unwrap();
        assert_eq!(transport.count(), 2, "status {status} was not retried");
    }
    for kind in [
        ErrorKind::Connect,
        ErrorKind::ConnectionLost,
        ErrorKind::Timeout(TimeoutKind::Attempt),
    ] {
        let transport = Arc::new(ScriptedTransport::new([
            MockReply::error(kind),
            MockReply::status(200),
        ]));
        connector(&transport, exact().build())
            .call(Request::get("/x"), Context::new())
            .await
            .unwrap();
        assert_eq!(transport.count(), 2, "{kind:?} was not retried");
    }
    // 500 can be switched off.
    let transport = Arc::new(ScriptedTransport::new([
        MockReply::status(500),
        MockReply::status(200),
    ]));
    connector(&transport, exact().retry_500(false).build())
        .call(Request::get("/x"), Context::new())
        .await
        .unwrap_err();
    assert_eq!(transport.count(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_classifier_adds_and_removes_cases() {
    let retry = exact()
        .classifier(Arc::new(|_request, outcome| {
            let response = outcome.result.ok()?;
            match response.status().as_u16() {
                409 => Some(response.body().as_ref() == b"busy"),
                503 if response.headers().contains_key("x-permanent") => Some(false),
                _ => None,
            }
        }))
        .build();
    let transport = Arc::new(ScriptedTransport::new([
        MockReply::status(409).body("busy"),
        MockReply::status(200),
    ]));
    connector(&transport, retry.clone())
        .call(Request::get("/x"), Context::new())
        .await
        .unwrap();
    assert_eq!(transport.count(), 2);
    let transport = Arc::new(ScriptedTransport::new([
        MockReply::status(503).header("x-permanent", "1"),
        MockReply::status(200),
    ]));
    connector(&transport, retry)
        .call(Request::get("/x"), Context::new())
        .await
        .unwrap_err();
    assert_eq!(transport.count(), 1);
}

#[tokio::test(start_paused = true)]
async fn max_attempts_is_respected() {
    let transport = Arc::new(ScriptedTransport::new([MockReply::status(503)]));
    let err = connector(&transport, exact().max_attempts(4).build())
        .call(Request::get("/x"), Context::new())
        .await
        .unwrap_err();
    assert_eq!(err.attempts(), 4);
    assert_eq!(transport.count(), 4);
}

#[tokio::test(start_paused = true)]
async fn max_elapsed_stops_retrying() {
    let transport = Arc::new(ScriptedTransport::new([MockReply::status(503)]));
    let retry = exact()
        .max_attempts(100)
        .max_elapsed(Duration::from_millis(1000))
        .build();
    let err = connector(&transport, retry)
        .call(Request::get("/x"), Context::new())
        .await
        .unwrap_err();
    // 0, 100, 300, 700 ms; the next delay (800 ms) would end at 1.5 s.
    assert_eq!(transport.count(), 4);
    assert!(err.message().contains("retry limit"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn the_budget_bounds_load_when_upstream_is_down() {
    let calls = 1_000u32;
    let ratio = 0.1;
    let min_per_second = 10;
    let budget = Arc::new(RetryBudget::new(ratio, min_per_second));
    let transport = Arc::new(ScriptedTransport::new([MockReply::status(503)]));
    let retry = Retry::builder()
        .max_attempts(3)
        .backoff(Backoff::constant(Duration::ZERO))
        .budget(budget)
        .build();
    let connector = connector(&transport, retry);
    let mut exhausted = 0;
    for _ in 0..calls {
        let err = connector
            .call(Request::get("/down"), Context::new())
            .await
            .unwrap_err();
        if err.message().contains("retry budget exhausted") {
            exhausted += 1;
            assert_eq!(err.kind(), ErrorKind::ServerStatus, "the real last error is kept");
        }
    }
    let upstream = transport.count() as f64;
    let bound = f64::from(calls) * (1.0 + ratio) + f64::from(min_per_second);
    assert!(
        upstream <= bound,
        "upstream saw {upstream} attempts, bound {bound}"
    );
    assert!(
        upstream > f64::from(calls),
        "the budget still allows some retries"
    );
    assert!(exhausted > 900, "{exhausted}");
}

#[tokio::test(start_paused = true)]
async fn one_budget_is_shared_by_two_connectors() {
    let budget = Arc::new(RetryBudget::new(0.0, 3));
    let policy = || {
        Retry::builder()
            .backoff(Backoff::constant(Duration::ZERO))
            .max_attempts(10)
            .budget(budget.clone())
            .build()
    };
    let a_transport = Arc::new(ScriptedTransport::new([MockReply::status(503)]));
    let b_transport = Arc::new(ScriptedTransport::new([MockReply::status(503)]));
    connector(&a_transport, policy())
        .call(Request::get("/a"), Context::new())
        .await
        .unwrap_err();
    connector(&b_transport, policy())
        .call(Request::get("/b"), Context::new())
        .await
        .unwrap_err();
    assert_eq!(
        a_transport.count() + b_transport.count(),
        2 + 3,
        "three retries in all"
    );
}

#[tokio::test(start_paused = true)]
async fn seeded_jitter_is_reproducible_and_within_the_schedule() {
    let run = |seed| async move {
        let transport = Arc::new(ScriptedTransport::new([MockReply::status(503)]));
        let retry = Retry::builder()
            .max_attempts(6)
            .backoff(Backoff::exponential(100 * MS, 2.0, Duration::from_secs(10)))
            .jitter(Jitter::Full)
            .seed(seed)
            .build();
        let err = connector(&transport, retry)
            .call(Request::get("/x"), Context::new().correlation_id("fixed-id"))
            .await
            .unwrap_err();
        err.report()
            .unwrap()
            .attempts
            .iter()
            .filter_map(|a| a.delay_after)
            .collect::<Vec<_>>()
    };
    let first = run(42).await;
    assert_eq!(first, run(42).await);
    assert_ne!(first, run(43).await);
    for (i, delay) in first.iter().enumerate() {
        assert!(*delay <= 100 * MS * 2u32.pow(i as u32), "attempt {i}: {delay:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn decorrelated_jitter_grows_from_the_previous_delay() {
    let transport = Arc::new(ScriptedTransport::new([MockReply::status(503)]));
    let retry = Retry::builder()
        .max_attempts(8)
        .backoff(Backoff::decorrelated_jitter(50 * MS, Duration::from_secs(2)))
        .seed(7)
        .build();
    let err = connector(&transport, retry)
        .call(Request::get("/x"), Context::new())
        .await
        .unwrap_err();
    let delays: Vec<_> = err
        .report()
        .unwrap()
        .attempts
        .iter()
        .filter_map(|a| a.delay_after)
        .collect();
    let mut previous = 50 * MS;
    for delay in delays {
        assert!(
            delay >= 50 * MS && delay <= (previous * 3).min(Duration::from_secs(2)),
            "{delay:?} after {previous:?}"
        );
        previous = delay;
    }
}

#[tokio::test]
async fn retries_over_real_sockets() {
    use conn_testkit::{Reply, TestServer};
    let server = TestServer::start().await.unwrap();
    server.route(
        http::Method::GET,
        "/flaky",
        [Reply::status(503), Reply::reset(), Reply::json(200, "{}")],
    );
    let connector = Connector::builder("real")
        .base_url(server.url())
        .allow_http(true)
        .transport(Arc::new(
            conn_transport_hyper::HyperTransport::builder().build().unwrap(),
        ))
        .retry(Arc::new(
            Retry::builder().backoff(Backoff::constant(5 * MS)).build(),
        ))
        .build()
        .unwrap();
    let response = connector
        .call(Request::get("/flaky"), Context::new())
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(server.hits("/flaky"), 3);
    assert_eq!(response.report().retries(), 2);
}
