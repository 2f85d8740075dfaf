//! conn-breaker through a real `Connector` on a paused tokio clock, against
//! the scripted transport, which records every request it receives: "the
//! upstream saw nothing while the circuit was open" is a request count.

mod support;

use std::sync::Arc;
use std::time::Duration;

use conn_breaker::{CircuitBreaker, KeyBy, Reason, State, Verdict, Window, WindowKind};
use conn_core::{ErrorKind, TimeoutKind};
use conn_testkit::MockReply;
use support::{MS, Router, SEC, connector, drain, get, get_as, scripted};

/// Opens after 3 failures in a row; nothing else trips it.
fn three_strikes() -> conn_breaker::CircuitBreakerBuilder {
    CircuitBreaker::builder()
        .consecutive_failures(3)
        .no_windows()
        .cooldown(10 * SEC)
}

#[tokio::test(start_paused = true)]
async fn opens_after_the_configured_failures_and_sends_nothing_while_open() {
    let transport = scripted([MockReply::status(503)]);
    let breaker = three_strikes().build();
    let api = connector(transport.clone(), &breaker);

    for _ in 0..3 {
        assert_eq!(get(&api, "/x").await.unwrap_err().kind(), ErrorKind::ServerStatus);
    }
    assert_eq!(breaker.state("api"), Some(State::Open));

    tokio::time::advance(4 * SEC).await;
    for _ in 0..10 {
        let err = get(&api, "/x").await.unwrap_err();
        assert!(err.is_circuit_open(), "{err}");
        assert!(err.is_transient());
        assert_eq!(err.attempts(), 0);
        assert_eq!(
            err.retry_after(),
            Some(6 * SEC),
            "says when the next probe is allowed"
        );
        assert!(
            err.to_string().contains("next probe is allowed in 6.000 s"),
            "{err}"
        );
    }
    assert_eq!(transport.count(), 3, "the upstream saw no request while open");
    let snapshot = breaker.snapshot("api").unwrap();
    assert_eq!(snapshot.totals.rejected, 10);
    assert_eq!(snapshot.next_probe_in, Some(6 * SEC));
    assert_eq!(snapshot.reason, Some(Reason::ConsecutiveFailures { count: 3 }));
}

#[tokio::test(start_paused = true)]
async fn after_the_cooldown_exactly_n_probes_reach_the_upstream() {
    let transport = scripted([MockReply::status(503)]);
    let breaker = three_strikes().half_open_probes(3).build();
    let api = connector(transport.clone(), &breaker);
    for _ in 0..3 {
        let _ = get(&api, "/x").await;
    }
    tokio::time::advance(10 * SEC).await;

    // Ten callers at once; the probes take 100 ms to answer.
    transport.push([MockReply::status(200).delay(100 * MS)]);
    let calls: Vec<_> = (0..10)
        .map(|_| {
            let api = api.clone();
            tokio::spawn(async move { get(&api, "/x").await })
        })
        .collect();
    let mut ok = 0;
    let mut refused = 0;
    for call in calls {
        match call.await.unwrap() {
            Ok(200) => ok += 1,
            Err(err) if err.is_circuit_open() => {
                assert_eq!(err.retry_after(), Some(SEC), "busy half-open: try again shortly");
                refused += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((ok, refused), (3, 7));
    assert_eq!(transport.count(), 3 + 3, "exactly 3 probes reached the upstream");
    assert_eq!(breaker.state("api"), Some(State::Closed));

    // Closed: traffic flows again.
    for _ in 0..20 {
        assert_eq!(get(&api, "/x").await.unwrap(), 200);
    }
    assert_eq!(transport.count(), 6 + 20);
}

#[tokio::test(start_paused = true)]
async fn failed_probes_reopen_with_a_grown_cooldown() {
    let transport = scripted([MockReply::status(500)]);
    let breaker = three_strikes()
        .cooldown_growth(2.0, 35 * SEC)
        .half_open_probes(1)
        .build();
    let mut events = breaker.subscribe();
    let api = connector(transport.clone(), &breaker);
    for _ in 0..3 {
        let _ = get(&api, "/x").await;
    }

    // Each failed probe reopens for longer: 10 s, 20 s, 40 s capped at 35 s.
    for (cooldown, next) in [(10, 20), (20, 35), (35, 35)] {
        tokio::time::advance(Duration::from_secs(cooldown) - MS).await;
        assert!(
            get(&api, "/x").await.unwrap_err().is_circuit_open(),
            "not before the cooldown"
        );
        tokio::time::advance(MS).await;
        let sent = transport.count();
        assert_eq!(get(&api, "/x").await.unwrap_err().kind(), ErrorKind::ServerStatus);
        assert_eq!(transport.count(), sent + 1, "one probe went out");
        let err = get(&api, "/x").await.unwrap_err();
        assert_eq!(err.retry_after(), Some(Duration::from_secs(next)));
    }
    let opens: Vec<_> = drain(&mut events)
        .into_iter()
        .filter(|t| t.to == State::Open)
        .map(|t| (t.open_for.unwrap().as_secs(), t.reason))
        .collect();
    assert_eq!(
        opens,
        [
            (10, Reason::ConsecutiveFailures { count: 3 }),
            (20, Reason::ProbeFailed { slow: false }),
            (35, Reason::ProbeFailed { slow: false }),
            (35, Reason::ProbeFailed { slow: false }),
        ]
    );

    // Recovery resets the growth: the next trip waits the base cooldown again.
    tokio::time::advance(35 * SEC).await;
    transport.push([MockReply::status(200)]);
    assert_eq!(get(&api, "/x").await.unwrap(), 200);
    assert_eq!(breaker.state("api"), Some(State::Closed));
    transport.push([MockReply::status(500)]);
    for _ in 0..3 {
        let _ = get(&api, "/x").await;
    }
    assert_eq!(breaker.snapshot("api").unwrap().next_probe_in, Some(10 * SEC));
}

#[tokio::test(start_paused = true)]
async fn successful_probes_close_the_circuit_and_traffic_flows() {
    let transport = scripted([MockReply::error(ErrorKind::Connect)]);
    let breaker = three_strikes().half_open_probes(2).build();
    let api = connector(transport.clone(), &breaker);
    for _ in 0..3 {
        assert!(get(&api, "/x").await.unwrap_err().is_connect());
    }
    tokio::time::advance(10 * SEC).await;
    transport.push([MockReply::status(204)]);

    assert_eq!(get(&api, "/x").await.unwrap(), 204);
    let half = breaker.snapshot("api").unwrap();
    assert_eq!((half.state, half.probe_successes), (State::HalfOpen, 1));
    assert_eq!(get(&api, "/x").await.unwrap(), 204);
    let closed = breaker.snapshot("api").unwrap();
    assert_eq!(closed.state, State::Closed);
    assert_eq!(closed.reason, Some(Reason::ProbesSucceeded { probes: 2 }));
    assert_eq!(closed.consecutive_failures, 0);

    for _ in 0..50 {
        assert_eq!(get(&api, "/x").await.unwrap(), 204);
    }
    assert_eq!(transport.count(), 3 + 2 + 50);
}

#[tokio::test(start_paused = true)]
async fn slow_calls_trip_it() {
    // Answers arrive, but take 2 s each.
    let transport = scripted([MockReply::status(200).delay(2 * SEC)]);
    let breaker = CircuitBreaker::builder()
        .consecutive_failures(0)
        .window(Window::last_calls(10).minimum_calls(4))
        .slow_calls(SEC, 0.75)
        .build();
    let api = connector(transport.clone(), &breaker);
    for _ in 0..4 {
        assert_eq!(get(&api, "/slow").await.unwrap(), 200);
    }
    let snapshot = breaker.snapshot("api").unwrap();
    assert_eq!(snapshot.state, State::Open);
    assert_eq!(
        snapshot.reason,
        Some(Reason::SlowCallRate {
            rate: 1.0,
            calls: 4,
            window: WindowKind::Calls(10)
        })
    );
    assert!(get(&api, "/slow").await.unwrap_err().is_circuit_open());
    assert_eq!(transport.count(), 4);
}

#[tokio::test(start_paused = true)]
async fn a_slow_probe_reopens() {
    let transport = scripted([MockReply::status(503)]);
    let breaker = three_strikes().slow_calls(SEC, 1.0).half_open_probes(1).build();
    let api = connector(transport.clone(), &breaker);
    for _ in 0..3 {
        let _ = get(&api, "/x").await;
    }
    tokio::time::advance(10 * SEC).await;
    transport.push([MockReply::status(200).delay(3 * SEC)]);
    assert_eq!(get(&api, "/x").await.unwrap(), 200);
    let snapshot = breaker.snapshot("api").unwrap();
    assert_eq!(snapshot.state, State::Open);
    assert_eq!(snapshot.reason, Some(Reason::ProbeFailed { slow: true }));
}

#[tokio::test(start_paused = true)]
async fn client_errors_do_not_trip_it() {
    let transport = scripted([
        MockReply::status(404),
        MockReply::status(400),
        MockReply::status(422),
        MockReply::status(429),
    ]);
    let breaker = three_strikes()
        .window(Window::last_calls(10).minimum_calls(2))
        .build();
    let api = connector(transport.clone(), &breaker);
    for _ in 0..100 {
        assert!(get(&api, "/missing").await.unwrap_err().is_status());
    }
    let snapshot = breaker.snapshot("api").unwrap();
    assert_eq!(snapshot.state, State::Closed);
    assert_eq!(snapshot.totals.successes, 100);
    assert_eq!(snapshot.totals.failures, 0);
    assert_eq!(transport.count(), 100);
}

#[tokio::test(start_paused = true)]
async fn classification_is_configurable_by_status_and_kind() {
    let transport = scripted([MockReply::status(404)]);
    let breaker = three_strikes()
        .classify_status(404, Verdict::Failure)
        .classify_kind(ErrorKind::Connect, Verdict::Ignore)
        .build();
    let api = connector(transport.clone(), &breaker);
    for _ in 0..3 {
        let _ = get(&api, "/gone").await;
    }
    assert_eq!(breaker.state("api"), Some(State::Open));

    let transport = scripted([MockReply::error(ErrorKind::Connect)]);
    let breaker = three_strikes()
        .classify_kind(ErrorKind::Connect, Verdict::Ignore)
        .build();
    let api = connector(transport, &breaker);
    for _ in 0..10 {
        assert!(get(&api, "/x").await.unwrap_err().is_connect());
    }
    let snapshot = breaker.snapshot("api").unwrap();
    assert_eq!((snapshot.state, snapshot.totals.ignored), (State::Closed, 10));
}

#[tokio::test(start_paused = true)]
async fn attempt_timeouts_count_as_failures() {
    let transport = scripted([MockReply::status(200).delay(10 * SEC)]);
    let breaker = three_strikes().build();
    let api = conn_core::Connector::builder("api")
        .base_url("https://api.example.com")
        .transport(transport.clone())
        .breaker(Arc::new(breaker.clone()))
        .attempt_timeout(SEC)
        .build()
        .unwrap();
    for _ in 0..3 {
        let err = get(&api, "/hang").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout(TimeoutKind::Attempt));
    }
    assert_eq!(breaker.state("api"), Some(State::Open));
}

#[tokio::test(start_paused = true)]
async fn cancelled_calls_do_not_count() {
    // Every answer would be a failure, but takes 5 s: the callers give up after 1 s.
    let transport = scripted([MockReply::status(503).delay(5 * SEC)]);
    let breaker = three_strikes().build();
    let api = connector(transport.clone(), &breaker);
    for _ in 0..10 {
        let cancelled = tokio::time::timeout(SEC, get(&api, "/x")).await;
        assert!(cancelled.is_err(), "the caller gave up");
    }
    assert_eq!(transport.count(), 10, "the attempts were sent");
    let snapshot = breaker.snapshot("api").unwrap();
    assert_eq!(snapshot.state, State::Closed);
    assert_eq!(snapshot.totals.recorded(), 0, "but none was counted");
    assert_eq!(snapshot.consecutive_failures, 0);
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_probe_gives_its_slot_back() {
    let transport = scripted([MockReply::status(503)]);
    let breaker = three_strikes().half_open_probes(1).build();
    let api = connector(transport.clone(), &breaker);
    for _ in 0..3 {
        let _ = get(&api, "/x").await;
    }
    tokio::time::advance(10 * SEC).await;

    transport.push([MockReply::status(200).delay(5 * SEC)]);
    assert!(tokio::time::timeout(SEC, get(&api, "/x")).await.is_err());
    let snapshot = breaker.snapshot("api").unwrap();
    assert_eq!(snapshot.state, State::HalfOpen);
    assert_eq!(
        snapshot.probes_in_flight, 0,
        "the cancelled probe's slot is free again"
    );

    // The slot is usable: the next call is the probe, and it closes the circuit.
    transport.push([MockReply::status(200)]);
    assert_eq!(get(&api, "/x").await.unwrap(), 200);
    assert_eq!(transport.count(), 3 + 2);
    assert_eq!(breaker.state("api"), Some(State::Closed));
}

#[tokio::test(start_paused = true)]
async fn outcomes_of_calls_admitted_before_the_circuit_opened_do_not_count() {
    // Two stragglers are admitted while closed; their 503s land at 12 s and 30 s.
    let transport = scripted([
        MockReply::status(503).delay(12 * SEC),
        MockReply::status(503).delay(30 * SEC),
    ]);
    let breaker = CircuitBreaker::builder()
        .consecutive_failures(1)
        .no_windows()
        .cooldown(10 * SEC)
        .half_open_probes(1)
        .build();
    let api = connector(transport.clone(), &breaker);
    let spawn_get = || {
        let api = api.clone();
        tokio::spawn(async move { get(&api, "/x").await })
    };
    let (early, late) = (spawn_get(), spawn_get());
    tokio::task::yield_now().await;
    assert_eq!(transport.count(), 2);

    // The circuit opens at 0 s and goes half-open at 10 s with a probe that
    // answers at 15 s.
    transport.push([MockReply::status(503), MockReply::status(200).delay(5 * SEC)]);
    let _ = get(&api, "/x").await;
    assert_eq!(breaker.state("api"), Some(State::Open));
    tokio::time::advance(10 * SEC).await;
    let probe = spawn_get();

    // 12 s: a failure from before the opening does not decide the probe...
    assert!(early.await.unwrap().is_err());
    assert_eq!(breaker.state("api"), Some(State::HalfOpen));
    assert_eq!(probe.await.unwrap().unwrap(), 200);
    assert_eq!(breaker.state("api"), Some(State::Closed));
    // ...and at 30 s another does not count against the new closed period
    // (one failure would reopen it).
    assert!(late.await.unwrap().is_err());
    let snapshot = breaker.snapshot("api").unwrap();
    assert_eq!(snapshot.state, State::Closed);
    assert_eq!(snapshot.consecutive_failures, 0);
    assert_eq!(snapshot.totals.failures, 3, "still in the lifetime totals");
}

#[tokio::test(start_paused = true)]
async fn a_failing_endpoint_does_not_block_a_healthy_one() {
    let router = Arc::new(
        Router::default()
            .route("/bad", [MockReply::status(502)])
            .route("/good", [MockReply::status(200)]),
    );
    let breaker = three_strikes().key_by(KeyBy::Endpoint).build();
    let api = connector(router.clone(), &breaker);
    for _ in 0..3 {
        let _ = get(&api, "/bad").await;
    }
    for _ in 0..5 {
        assert!(
            get(&api, "/bad?page=2").await.unwrap_err().is_circuit_open(),
            "query ignored"
        );
        assert_eq!(get(&api, "/good").await.unwrap(), 200);
    }
    assert_eq!(router.hits("/bad"), 3);
    assert_eq!(router.hits("/good"), 5);
    let bad = KeyBy::Endpoint.key_parts("api", "/bad", None);
    let good = KeyBy::Endpoint.key_parts("api", "/good", None);
    assert_eq!(breaker.state(&bad), Some(State::Open));
    assert_eq!(breaker.state(&good), Some(State::Closed));
}

#[tokio::test(start_paused = true)]
async fn tenants_are_isolated() {
    // The upstream fails for acme's account only.
    let router = Arc::new(
        Router::default()
            .route("acme:/orders", [MockReply::status(503)])
            .route("globex:/orders", [MockReply::status(200)]),
    );
    let breaker = three_strikes().key_by(KeyBy::TenantAndEndpoint).build();
    let api = connector(router.clone(), &breaker);
    for _ in 0..3 {
        let _ = get_as(&api, "/orders", "acme").await;
    }
    for _ in 0..5 {
        assert!(
            get_as(&api, "/orders", "acme")
                .await
                .unwrap_err()
                .is_circuit_open()
        );
        assert_eq!(get_as(&api, "/orders", "globex").await.unwrap(), 200);
    }
    assert_eq!(
        (router.hits("acme:/orders"), router.hits("globex:/orders")),
        (3, 5)
    );
    let acme = KeyBy::TenantAndEndpoint.key_parts("api", "/orders", Some("acme"));
    assert_eq!(breaker.state(&acme), Some(State::Open));
    assert_eq!(breaker.key_count(), 2);
}

#[tokio::test(start_paused = true)]
async fn forced_open_refuses_everything_until_reset() {
    let transport = scripted([MockReply::status(200)]);
    let breaker = three_strikes().build();
    let api = connector(transport.clone(), &breaker);
    let mut events = breaker.subscribe();

    breaker.force_open("api");
    tokio::time::advance(3600 * SEC).await; // no cooldown ends a forced opening
    for _ in 0..5 {
        let err = get(&api, "/x").await.unwrap_err();
        assert!(err.is_circuit_open());
        assert_eq!(err.retry_after(), None, "no probe is scheduled");
        assert!(err.message().contains("forced open by an operator"));
    }
    assert_eq!(transport.count(), 0);

    breaker.reset("api");
    assert_eq!(get(&api, "/x").await.unwrap(), 200);
    let seen: Vec<_> = drain(&mut events)
        .into_iter()
        .map(|t| (t.from, t.to, t.reason))
        .collect();
    assert_eq!(
        seen,
        [
            (State::Closed, State::ForcedOpen, Reason::Manual),
            (State::ForcedOpen, State::Closed, Reason::Manual),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn disabled_lets_everything_through_and_records_nothing() {
    let transport = scripted([MockReply::status(503)]);
    let breaker = three_strikes().build();
    let api = connector(transport.clone(), &breaker);
    breaker.disable("api");
    for _ in 0..20 {
        assert_eq!(get(&api, "/x").await.unwrap_err().kind(), ErrorKind::ServerStatus);
    }
    assert_eq!(transport.count(), 20);
    let snapshot = breaker.snapshot("api").unwrap();
    assert_eq!(snapshot.state, State::Disabled);
    assert_eq!(snapshot.totals.recorded(), 0);

    // Back under the breaker: three more failures open it.
    breaker.reset("api");
    for _ in 0..4 {
        let _ = get(&api, "/x").await;
    }
    assert_eq!(transport.count(), 23);
    assert_eq!(breaker.state("api"), Some(State::Open));
}

#[tokio::test(start_paused = true)]
async fn metrics_only_records_but_never_blocks() {
    let transport = scripted([MockReply::status(500)]);
    let breaker = three_strikes()
        .window(Window::last_calls(10).minimum_calls(5))
        .metrics_only(true)
        .build();
    let api = connector(transport.clone(), &breaker);
    for _ in 0..30 {
        assert_eq!(get(&api, "/x").await.unwrap_err().kind(), ErrorKind::ServerStatus);
    }
    assert_eq!(transport.count(), 30);
    let snapshot = breaker.snapshot("api").unwrap();
    assert_eq!(snapshot.state, State::MetricsOnly);
    assert_eq!(snapshot.consecutive_failures, 30);
    assert_eq!(snapshot.count_window.unwrap().failure_rate(), 1.0);
    assert_eq!(snapshot.totals.failures, 30);

    // Per key, on an ordinary breaker, too.
    let breaker = three_strikes().build();
    let api = connector(transport.clone(), &breaker);
    breaker.metrics_only("api");
    for _ in 0..10 {
        let _ = get(&api, "/x").await;
    }
    assert_eq!(breaker.snapshot("api").unwrap().totals.failures, 10);
    assert_eq!(breaker.state("api"), Some(State::MetricsOnly));
}

#[tokio::test(start_paused = true)]
async fn a_503_with_retry_after_opens_until_the_time_the_server_named() {
    let transport = scripted([MockReply::status(503).header("retry-after", "7")]);
    let breaker = three_strikes().build();
    let api = connector(transport.clone(), &breaker);

    assert_eq!(get(&api, "/x").await.unwrap_err().kind(), ErrorKind::ServerStatus);
    let snapshot = breaker.snapshot("api").unwrap();
    assert_eq!(
        snapshot.state,
        State::Open,
        "one answer is enough: the server said so"
    );
    assert_eq!(snapshot.next_probe_in, Some(7 * SEC));
    assert_eq!(
        snapshot.reason,
        Some(Reason::ServerDriven {
            status: 503,
            wait: 7 * SEC
        })
    );
    assert_eq!(get(&api, "/x").await.unwrap_err().retry_after(), Some(7 * SEC));

    tokio::time::advance(7 * SEC).await;
    transport.push([MockReply::status(200)]);
    for _ in 0..3 {
        assert_eq!(get(&api, "/x").await.unwrap(), 200);
    }
    assert_eq!(breaker.state("api"), Some(State::Closed));
    assert_eq!(transport.count(), 1 + 3);
}

#[tokio::test(start_paused = true)]
async fn server_driven_open_is_capped_and_can_be_turned_off() {
    let transport = scripted([MockReply::status(503).header("retry-after", "86400")]);
    let breaker = three_strikes().max_server_open(60 * SEC).build();
    let api = connector(transport.clone(), &breaker);
    let _ = get(&api, "/x").await;
    assert_eq!(breaker.snapshot("api").unwrap().next_probe_in, Some(60 * SEC));

    let breaker = three_strikes().server_driven_open(false).build();
    let api = connector(transport.clone(), &breaker);
    let _ = get(&api, "/x").await;
    assert_eq!(breaker.state("api"), Some(State::Closed));

    // Only the configured statuses: a 429's Retry-After is the throttle's business.
    let limited = scripted([MockReply::status(429).header("retry-after", "30")]);
    let breaker = three_strikes().build();
    let api = connector(limited, &breaker);
    let _ = get(&api, "/x").await;
    assert_eq!(breaker.state("api"), Some(State::Closed));
}

#[tokio::test(start_paused = true)]
async fn failure_rate_over_the_last_calls() {
    // Failures and successes alternate: 50% once there are enough calls.
    let transport = scripted([MockReply::status(500), MockReply::status(200)]);
    let replies: Vec<_> = (0..20)
        .map(|i| MockReply::status(if i % 2 == 0 { 500 } else { 200 }))
        .collect();
    transport.push(replies);
    let breaker = CircuitBreaker::builder()
        .consecutive_failures(0)
        .window(Window::last_calls(20).minimum_calls(10))
        .failure_rate(0.5)
        .build();
    let api = connector(transport.clone(), &breaker);
    for _ in 0..9 {
        let _ = get(&api, "/x").await;
        assert_eq!(
            breaker.state("api"),
            Some(State::Closed),
            "fewer than the minimum calls"
        );
    }
    let _ = get(&api, "/x").await;
    let snapshot = breaker.snapshot("api").unwrap();
    assert_eq!(snapshot.state, State::Open);
    assert_eq!(
        snapshot.reason,
        Some(Reason::FailureRate {
            rate: 0.5,
            calls: 10,
            window: WindowKind::Calls(20)
        })
    );
}

#[tokio::test(start_paused = true)]
async fn failure_rate_over_a_time_window_forgets_old_failures() {
    let transport = scripted([MockReply::status(503)]);
    let breaker = CircuitBreaker::builder()
        .consecutive_failures(0)
        .no_windows()
        .window(Window::last(10 * SEC).minimum_calls(4))
        .failure_rate(0.5)
        .build();
    let api = connector(transport.clone(), &breaker);
    // Two failures, then they age out of the window.
    let _ = get(&api, "/x").await;
    let _ = get(&api, "/x").await;
    tokio::time::advance(11 * SEC).await;
    transport.push([MockReply::status(200)]);
    for _ in 0..3 {
        let _ = get(&api, "/x").await;
    }
    let window = breaker.snapshot("api").unwrap().time_window.unwrap();
    assert_eq!((window.calls, window.failures), (3, 0));

    // Three failures among six calls within 10 s: 50% -> open.
    transport.push([MockReply::status(503)]);
    for _ in 0..3 {
        tokio::time::advance(SEC).await;
        let _ = get(&api, "/x").await;
    }
    let snapshot = breaker.snapshot("api").unwrap();
    assert_eq!(snapshot.state, State::Open);
    assert!(matches!(
        snapshot.reason,
        Some(Reason::FailureRate {
            calls: 6,
            window: WindowKind::Time(_),
            ..
        })
    ));
}

#[tokio::test(start_paused = true)]
async fn events_are_delivered_for_every_transition_in_order() {
    let transport = scripted([MockReply::status(503)]);
    let breaker = three_strikes().half_open_probes(1).build();
    let mut events = breaker.subscribe();
    let api = connector(transport.clone(), &breaker);

    for _ in 0..3 {
        let _ = get(&api, "/x").await; // closed -> open
    }
    tokio::time::advance(10 * SEC).await;
    let _ = get(&api, "/x").await; // open -> half-open -> open
    tokio::time::advance(10 * SEC).await;
    transport.push([MockReply::status(200)]);
    let _ = get(&api, "/x").await; // open -> half-open -> closed
    breaker.force_open("api"); // closed -> forced-open
    breaker.disable("api"); // forced-open -> disabled
    breaker.reset("api"); // disabled -> closed

    let seen: Vec<_> = drain(&mut events).into_iter().collect();
    let steps: Vec<_> = seen.iter().map(|t| (t.from, t.to)).collect();
    use State::*;
    assert_eq!(
        steps,
        [
            (Closed, Open),
            (Open, HalfOpen),
            (HalfOpen, Open),
            (Open, HalfOpen),
            (HalfOpen, Closed),
            (Closed, ForcedOpen),
            (ForcedOpen, Disabled),
            (Disabled, Closed),
        ]
    );
    assert!(seen.iter().all(|t| &*t.key == "api" && &*t.connector == "api"));
    assert!(seen.windows(2).all(|w| w[0].at <= w[1].at));
    assert_eq!(seen[1].reason, Reason::CooldownElapsed);
    assert_eq!(seen[4].reason, Reason::ProbesSucceeded { probes: 1 });
    assert_eq!(breaker.snapshot("api").unwrap().generation, 8);
}

#[tokio::test(start_paused = true)]
async fn many_keys_stay_within_the_bound_and_open_keys_are_kept() {
    let router = Arc::new(Router::default().route("/x", [MockReply::status(200)]));
    let failing = Arc::new(Router::default().route("bad:/x", [MockReply::status(503)]));
    let breaker = three_strikes().key_by(KeyBy::Tenant).max_keys(100).build();
    let bad_api = connector(failing, &breaker);
    for _ in 0..3 {
        let _ = get_as(&bad_api, "/x", "bad").await;
    }
    let api = connector(router, &breaker);
    for tenant in 0..5_000 {
        let context = conn_core::Context::new().tenant(format!("t{tenant}"));
        api.call(conn_core::Request::get("/x"), context).await.unwrap();
        assert!(breaker.key_count() <= 100);
    }
    assert!(breaker.evicted_keys() >= 4_900);
    let bad = KeyBy::Tenant.key_parts("api", "/x", Some("bad"));
    assert_eq!(
        breaker.state(&bad),
        Some(State::Open),
        "an open circuit is never evicted"
    );
    assert_eq!(breaker.untracked_calls(), 0);
}
