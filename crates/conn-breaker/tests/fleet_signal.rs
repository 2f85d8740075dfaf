//! Breakers of several replicas sharing operator signals (conn-core's
//! in-process `LocalSignal` standing in for Redis), through real Connectors
//! on a paused clock with the scripted transport.

use std::sync::Arc;
use std::time::Duration;

use conn_breaker::{CircuitBreaker, KeyBy};
use conn_core::store::{BreakerSignal, LocalSignal, OperatorState};
use conn_core::{Connector, Context, Request};
use conn_testkit::{MockReply, ScriptedTransport};

fn replica(signal: &Arc<LocalSignal>, transport: &Arc<ScriptedTransport>) -> Connector {
    let breaker = CircuitBreaker::builder()
        .consecutive_failures(2)
        .cooldown(Duration::from_secs(10))
        .key_by(KeyBy::Connector)
        .signal(signal.clone())
        .build();
    Connector::builder("billing")
        .base_url("https://api.example.com")
        .transport(transport.clone())
        .breaker(Arc::new(breaker))
        .no_timeouts()
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn an_operator_override_applies_in_every_replica() {
    let signal = Arc::new(LocalSignal::new());
    let transport = Arc::new(ScriptedTransport::new([MockReply::status(200)]));
    let (a, b) = (replica(&signal, &transport), replica(&signal, &transport));
    signal
        .set_operator_state("billing", OperatorState::ForcedOpen)
        .await
        .unwrap();
    for connector in [&a, &b] {
        let err = connector
            .call(Request::get("/x"), Context::new())
            .await
            .unwrap_err();
        assert!(err.is_circuit_open(), "{err}");
    }
    assert!(transport.requests().is_empty(), "nothing sent while forced open");
    signal
        .set_operator_state("billing", OperatorState::Disabled)
        .await
        .unwrap();
    a.call(Request::get("/x"), Context::new()).await.unwrap();
    signal
        .set_operator_state("billing", OperatorState::Auto)
        .await
        .unwrap();
    b.call(Request::get("/x"), Context::new()).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_circuit_opened_in_one_replica_is_refused_in_the_others_until_its_cooldown() {
    let signal = Arc::new(LocalSignal::new());
    let failing = Arc::new(ScriptedTransport::new([MockReply::status(503)]));
    let healthy = Arc::new(ScriptedTransport::new([MockReply::status(200)]));
    let a = replica(&signal, &failing);
    let b = replica(&signal, &healthy);
    for _ in 0..2 {
        let _ = a.call(Request::get("/x"), Context::new()).await;
    }
    let err = b.call(Request::get("/x"), Context::new()).await.unwrap_err();
    assert!(err.is_circuit_open(), "{err}");
    assert!(err.retry_after().is_some_and(|d| d <= Duration::from_secs(10)));
    tokio::time::advance(Duration::from_secs(11)).await;
    b.call(Request::get("/x"), Context::new()).await.unwrap();
}
