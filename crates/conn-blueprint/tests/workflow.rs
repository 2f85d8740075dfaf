//! Workflows across connectors of a registry.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use conn_blueprint::{Blueprint, ConnectorConfig, Registry, StepError, Workflow};
use conn_core::{Request, Transport};
use conn_testkit::{MockReply, ScriptedTransport};
use tokio::time::Instant;

const TEXT: &str = r#"
[defaults]
retry = { max_attempts = 1 }
breaker = { enabled = false }
[connectors.orders]
base_url = "https://orders.example"
[connectors.flaky]
base_url = "https://flaky.example"
[connectors.catalog]
base_url = "https://catalog.example"
"#;

/// A registry whose connectors each get their own scripted transport.
fn registry(
    scripts: Vec<(&'static str, Vec<MockReply>)>,
) -> (Registry, HashMap<&'static str, Arc<ScriptedTransport>>) {
    let transports: HashMap<&'static str, Arc<ScriptedTransport>> = scripts
        .into_iter()
        .map(|(name, replies)| (name, Arc::new(ScriptedTransport::new(replies))))
        .collect();
    let lookup = transports.clone();
    let factory = Arc::new(
        move |c: &ConnectorConfig| -> Result<Arc<dyn Transport>, conn_core::Error> {
            Ok(lookup[c.name.as_str()].clone())
        },
    );
    let bp = Blueprint::from_str_with_env(TEXT, &HashMap::new()).unwrap();
    (Registry::with_factory(&bp, factory).unwrap(), transports)
}

#[tokio::test(start_paused = true)]
async fn a_failing_middle_step_keeps_the_other_results_and_says_why() {
    let (registry, transports) = registry(vec![
        (
            "orders",
            vec![MockReply::json(200, r#"{"id": 7}"#).delay(Duration::from_millis(300))],
        ),
        (
            "flaky",
            vec![MockReply::status(404).delay(Duration::from_millis(100))],
        ),
        (
            "catalog",
            vec![MockReply::json(200, r#"{"sku": "A-1"}"#).delay(Duration::from_millis(200))],
        ),
    ]);
    let orders = registry.get("orders").unwrap();
    let report = Workflow::new()
        .correlation_id("wf-42")
        .timeout(Duration::from_secs(5))
        .call("order", &orders, Request::get("/orders/7"))
        .call("stock", &registry.get("flaky").unwrap(), Request::get("/stock/7"))
        .call(
            "item",
            &registry.get("catalog").unwrap(),
            Request::get("/items/A-1"),
        )
        .then("invoice", &orders, |earlier| {
            let order = earlier.response("order").ok_or("no order")?;
            assert_eq!(&order.body()[..], br#"{"id": 7}"#);
            Ok(Request::get("/invoices/7"))
        })
        .then("reserve", &orders, |earlier| match earlier.response("stock") {
            Some(_) => Ok(Request::post("/reserve")),
            None => Err("needs the stock step, which failed".into()),
        })
        .run()
        .await;

    let names: Vec<&str> = report.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        ["order", "stock", "item", "invoice", "reserve"],
        "input order"
    );
    assert!(!report.is_success());
    assert_eq!(report.response("order").unwrap().status(), 200);
    assert_eq!(&report.response("item").unwrap().body()[..], br#"{"sku": "A-1"}"#);
    assert_eq!(report.response("invoice").unwrap().status(), 200);

    let failed = report.failed();
    assert_eq!(failed.len(), 2);
    assert_eq!(failed[0].name, "stock");
    assert_eq!(failed[0].connector, "flaky");
    match &failed[0].result {
        Err(StepError::Call(e)) => {
            assert_eq!(e.status().map(|s| s.as_u16()), Some(404));
            assert!(!e.is_transient());
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(&failed[1].result, Err(StepError::Skipped(r)) if r.contains("stock")));
    let shown = report.to_string();
    assert!(shown.contains("stock (flaky): call failed"), "{shown}");

    // Every call carried the workflow's correlation id.
    for transport in transports.values() {
        for sent in transport.requests() {
            let id = sent
                .request
                .headers()
                .iter()
                .find(|(_, v)| v.as_bytes() == b"wf-42");
            assert!(id.is_some(), "{:?}", sent.request.headers());
        }
    }
    assert_eq!(report.correlation_id, "wf-42");
}

#[tokio::test(start_paused = true)]
async fn concurrency_limit_and_shared_deadline() {
    let (registry, transports) = registry(vec![
        (
            "orders",
            vec![MockReply::status(200).delay(Duration::from_secs(1))],
        ),
        ("flaky", vec![MockReply::status(200)]),
        ("catalog", vec![MockReply::status(200)]),
    ]);
    let orders = registry.get("orders").unwrap();
    let mut workflow = Workflow::new()
        .concurrency(2)
        .timeout(Duration::from_millis(2_500));
    for i in 0..6 {
        workflow = workflow.call(format!("o{i}"), &orders, Request::get(format!("/orders/{i}")));
    }
    let started = Instant::now();
    let report = workflow
        .then("late", &registry.get("catalog").unwrap(), |_| {
            Ok(Request::get("/never"))
        })
        .run()
        .await;
    // Two at a time, one second each: o0,o1 at 0 s; o2,o3 at 1 s; o4,o5 would start at 2 s
    // and end at 3 s, past the 2.5 s deadline.
    let at: Vec<Duration> = transports["orders"]
        .requests()
        .iter()
        .map(|r| r.at - started)
        .collect();
    assert_eq!(
        at[..4],
        [
            Duration::ZERO,
            Duration::ZERO,
            Duration::from_secs(1),
            Duration::from_secs(1)
        ]
    );
    for name in ["o0", "o1", "o2", "o3"] {
        assert!(report.response(name).is_some(), "{report}");
    }
    for name in ["o4", "o5"] {
        match &report.step(name).unwrap().result {
            Err(StepError::Call(e)) => assert!(e.is_timeout(), "{e}"),
            other => panic!("{other:?}"),
        }
    }
    assert!(
        matches!(&report.step("late").unwrap().result, Err(StepError::Skipped(r)) if r.contains("deadline"))
    );
    assert_eq!(transports["catalog"].count(), 0);
}
