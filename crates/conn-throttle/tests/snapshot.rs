//! `Throttler::key_snapshots`: each key's pause, slots in use and queue, as
//! an operator sees them, read without taking capacity. Paused clock,
//! scripted transport.

use std::sync::Arc;
use std::time::Duration;

use conn_core::{CallInfo, Connector, Context, Request, Throttle};
use conn_testkit::{MockReply, ScriptedTransport};
use conn_throttle::{KeyBy, KeySnapshot, Limit, Mode, Throttler};

fn of<'a>(snapshots: &'a [KeySnapshot], key: &str) -> &'a KeySnapshot {
    snapshots
        .iter()
        .find(|s| s.key == key)
        .unwrap_or_else(|| panic!("no key {key}: {snapshots:?}"))
}

#[tokio::test(start_paused = true)]
async fn each_key_shows_its_pause_its_slots_and_its_queue() {
    let throttle = Throttler::builder()
        .limit(Limit::per_second(1))
        .max_in_flight(2)
        .key_by(KeyBy::Tenant)
        .mode(Mode::Wait {
            max_wait: Duration::from_secs(60),
        })
        .build();
    let transport = Arc::new(ScriptedTransport::new([
        MockReply::status(429).header("retry-after", "12"),
        MockReply::status(200),
    ]));
    let connector = Connector::builder("snapshot-test")
        .base_url("https://api.example.com")
        .transport(transport.clone())
        .throttle(Arc::new(throttle.clone()))
        .no_timeouts()
        .build()
        .unwrap();
    assert!(throttle.key_snapshots().is_empty());

    // b: the API answers 429 + Retry-After: 12.
    connector
        .call(Request::get("/x"), Context::new().tenant("b"))
        .await
        .unwrap_err();
    // a: one attempt holds a slot.
    let request = Request::get("/x");
    let context = Context::new().tenant("a");
    let call = CallInfo::new("snapshot-test", &request, &context);
    let permit = throttle.acquire(&call).await.unwrap();
    // c: one call spends the quota, the next waits in line for a second.
    connector
        .call(Request::get("/x"), Context::new().tenant("c"))
        .await
        .unwrap();
    let waiting = {
        let connector = connector.clone();
        tokio::spawn(async move {
            connector
                .call(Request::get("/x"), Context::new().tenant("c"))
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;

    let snapshots = throttle.key_snapshots();
    let keys: Vec<&str> = snapshots.iter().map(|s| s.key.as_str()).collect();
    assert_eq!(keys, ["a", "b", "c"], "sorted by key");
    let (a, b, c) = (of(&snapshots, "a"), of(&snapshots, "b"), of(&snapshots, "c"));
    assert_eq!(a.in_flight, Some(1));
    assert!(!a.queued && a.paused_for.is_none() && a.policy.is_none(), "{a:?}");
    assert_eq!(b.paused_for, Some(Duration::from_millis(11_900)));
    assert_eq!(b.in_flight, Some(0));
    assert!(c.queued, "{c:?}");

    // Reading took nothing: a's second slot is still free, c's waiter
    // goes on when the quota allows (after 1 s), b's pause runs out.
    drop(permit);
    waiting.await.unwrap().unwrap();
    tokio::time::sleep(Duration::from_secs(12)).await;
    let snapshots = throttle.key_snapshots();
    assert!(!of(&snapshots, "c").queued);
    assert_eq!(of(&snapshots, "a").in_flight, Some(0));
    assert_eq!(of(&snapshots, "b").paused_for, None);
    assert!(of(&snapshots, "c").idle_for >= Duration::from_secs(12));
}
