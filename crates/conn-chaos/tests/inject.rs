//! The chaos transport end to end: rates, the switch, targets, and what a
//! connector makes of each injected fault, on a paused clock.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use conn_chaos::{CHAOS_HEADER, ChaosSwitch, ChaosTransport, Fault, Faults, Target};
use conn_core::{
    Connector, Context, Credentials, ErrorKind, Request, TimeoutKind, Transport, TransportRequest,
};
use conn_testkit::{MockReply, ScriptedTransport};
use tokio::time::Instant;

fn upstream() -> Arc<ScriptedTransport> {
    Arc::new(ScriptedTransport::new([MockReply::json(200, r#"{"ok":true}"#)]))
}

fn wire(path: &str, tenant: Option<&str>) -> TransportRequest {
    let mut builder = http::Request::get(format!("https://api.example.com{path}"));
    if let Some(tenant) = tenant {
        builder = builder.header("x-tenant", tenant);
    }
    TransportRequest {
        request: builder.body(Bytes::new()).unwrap(),
        credentials: Credentials::default(),
    }
}

/// What one attempt looked like from outside: the injected fault's label, or "ok".
async fn outcome(chaos: &ChaosTransport, path: &str, tenant: Option<&str>) -> String {
    match chaos.send(wire(path, tenant)).await {
        Ok(response) => match response.headers().get(CHAOS_HEADER) {
            Some(label) => label.to_str().unwrap().to_owned(),
            None => "ok".to_owned(),
        },
        Err(err) if err.kind() == ErrorKind::ConnectionLost => "reset".to_owned(),
        Err(err) => panic!("unexpected error {err}"),
    }
}

fn mix() -> Faults {
    Faults::none()
        .server_errors(0.10)
        .rate_limits(0.05, Duration::from_secs(1))
        .resets(0.05)
        .malformed_bodies(0.01)
}

#[tokio::test(start_paused = true)]
async fn off_by_default_everything_passes_untouched() {
    let upstream = upstream();
    let chaos = ChaosTransport::builder(upstream.clone())
        .faults(Faults::none().resets(1.0))
        .build()
        .unwrap();
    for _ in 0..50 {
        assert_eq!(outcome(&chaos, "/a", None).await, "ok");
    }
    assert_eq!(upstream.count(), 50);
    let stats = chaos.stats();
    assert_eq!((stats.attempts, stats.targeted, stats.faults()), (50, 0, 0));
}

#[tokio::test(start_paused = true)]
async fn injected_rates_match_the_mix_and_a_seed_replays_them() {
    let run = |seed| async move {
        let chaos = ChaosTransport::builder(upstream())
            .faults(mix())
            .seed(seed)
            .enabled(true)
            .build()
            .unwrap();
        let mut seen = Vec::new();
        for _ in 0..10_000 {
            seen.push(outcome(&chaos, "/a", None).await);
        }
        (seen, chaos.stats())
    };
    let (first, stats) = run(42).await;
    let share = |label: &str| first.iter().filter(|s| *s == label).count() as f64 / 10_000.0;
    assert!(
        (0.085..0.115).contains(&share("server-error")),
        "{}",
        share("server-error")
    );
    assert!(
        (0.04..0.06).contains(&share("rate-limited")),
        "{}",
        share("rate-limited")
    );
    assert!((0.04..0.06).contains(&share("reset")), "{}", share("reset"));
    assert!(
        (0.005..0.015).contains(&share("malformed")),
        "{}",
        share("malformed")
    );
    assert_eq!(stats.faults(), first.iter().filter(|s| *s != "ok").count() as u64);
    assert_eq!(stats.targeted, 10_000);

    let (again, _) = run(42).await;
    assert_eq!(
        first, again,
        "the same seed gives the same faults in the same order"
    );
    let (other, _) = run(43).await;
    assert_ne!(first, other);
}

#[tokio::test(start_paused = true)]
async fn the_switch_starts_and_stops_injection_at_run_time() {
    let switch = ChaosSwitch::off();
    let chaos = ChaosTransport::builder(upstream())
        .faults(Faults::none().server_errors(1.0))
        .switch(switch.clone())
        .build()
        .unwrap();
    assert_eq!(outcome(&chaos, "/a", None).await, "ok");
    switch.enable();
    assert_eq!(outcome(&chaos, "/a", None).await, "server-error");
    assert!(chaos.switch().is_enabled());
    switch.disable();
    assert_eq!(outcome(&chaos, "/a", None).await, "ok");
    assert_eq!(chaos.stats().server_errors, 1);
}

#[tokio::test(start_paused = true)]
async fn only_targeted_endpoints_and_tenants_are_touched() {
    let chaos = ChaosTransport::builder(upstream())
        .faults(Faults::none().resets(1.0))
        .target(
            Target::all()
                .path_prefix("/orders")
                .tenants("x-tenant", ["staging"]),
        )
        .enabled(true)
        .build()
        .unwrap();
    assert_eq!(outcome(&chaos, "/orders/1", Some("staging")).await, "reset");
    assert_eq!(outcome(&chaos, "/orders/1", Some("production")).await, "ok");
    assert_eq!(outcome(&chaos, "/orders/1", None).await, "ok");
    assert_eq!(outcome(&chaos, "/invoices", Some("staging")).await, "ok");

    chaos.set_target(Target::all());
    assert_eq!(outcome(&chaos, "/invoices", None).await, "reset");
}

#[tokio::test(start_paused = true)]
async fn faults_change_at_run_time_and_a_bad_mix_is_refused() {
    let chaos = ChaosTransport::builder(upstream())
        .faults(Faults::none().resets(1.0))
        .enabled(true)
        .build()
        .unwrap();
    assert!(
        chaos
            .set_faults(Faults::none().resets(0.8).server_errors(0.8))
            .unwrap_err()
            .is_config()
    );
    assert_eq!(outcome(&chaos, "/a", None).await, "reset", "the old mix stays");
    chaos.set_faults(Faults::none().server_errors(1.0)).unwrap();
    assert_eq!(outcome(&chaos, "/a", None).await, "server-error");
    assert!(
        ChaosTransport::builder(upstream())
            .faults(Faults::none().resets(2.0))
            .build()
            .is_err()
    );
}

fn connector(chaos: ChaosTransport) -> Connector {
    Connector::builder("chaos")
        .base_url("https://api.example.com")
        .transport(Arc::new(chaos))
        .attempt_timeout(Duration::from_secs(2))
        .total_timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn latency_delays_the_send_itself() {
    let upstream = upstream();
    let chaos = ChaosTransport::builder(upstream.clone())
        .faults(Faults::none().latency(1.0, Duration::from_millis(250), Duration::from_millis(250)))
        .enabled(true)
        .build()
        .unwrap();
    let start = Instant::now();
    connector(chaos)
        .call(Request::get("/a"), Context::new())
        .await
        .unwrap();
    assert_eq!(start.elapsed(), Duration::from_millis(250));
    assert_eq!(
        upstream.requests()[0].at - start,
        Duration::from_millis(250),
        "sent after the delay"
    );
}

#[tokio::test(start_paused = true)]
async fn an_injected_hang_is_cut_by_the_attempt_timeout() {
    let upstream = upstream();
    let chaos = ChaosTransport::builder(upstream.clone())
        .faults(Faults::none().timeouts(1.0))
        .enabled(true)
        .build()
        .unwrap();
    let start = Instant::now();
    let err = connector(chaos)
        .call(Request::get("/a"), Context::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout(TimeoutKind::Attempt));
    assert_eq!(start.elapsed(), Duration::from_secs(2));
    assert_eq!(upstream.count(), 0, "a hang never reaches the upstream");
}

#[tokio::test(start_paused = true)]
async fn the_connector_reads_injected_rate_limits_and_resets_like_real_ones() {
    let chaos = ChaosTransport::builder(upstream())
        .faults(Faults::none().rate_limits(1.0, Duration::from_secs(3)))
        .enabled(true)
        .build()
        .unwrap();
    let err = connector(chaos)
        .call(Request::get("/a"), Context::new())
        .await
        .unwrap_err();
    assert!(err.is_rate_limited());
    assert_eq!(err.retry_after(), Some(Duration::from_secs(3)));

    let chaos = ChaosTransport::builder(upstream())
        .faults(Faults::none().resets(1.0))
        .enabled(true)
        .build()
        .unwrap();
    let err = connector(chaos)
        .call(Request::get("/a"), Context::new())
        .await
        .unwrap_err();
    assert!(err.is_connection_lost() && err.is_transient());
    assert!(err.message().contains("chaos"));
}

#[tokio::test(start_paused = true)]
async fn a_malformed_body_fails_to_decode() {
    let upstream = upstream();
    let chaos = ChaosTransport::builder(upstream.clone())
        .faults(Faults::none().malformed_bodies(1.0))
        .enabled(true)
        .build()
        .unwrap();
    let connector = connector(chaos);
    let response = connector.call(Request::get("/a"), Context::new()).await.unwrap();
    assert_eq!(response.headers()[CHAOS_HEADER], Fault::Malformed.label());
    assert!(connector.normalize(&response).unwrap_err().is_decode());
    assert_eq!(
        upstream.count(),
        1,
        "the upstream answered; its body was corrupted"
    );
}
