//! Hedged requests on a paused clock: the hedge wins a slow attempt, spends
//! retry budget like a retry, passes the breaker and the throttle, stops in
//! an outage when the budget runs dry, and never touches a POST.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use conn::retry::{Retry, RetryBudget};
use conn::{
    AttemptOutcome, AttemptResult, BoxFuture, Breaker, CallInfo, Connector, Context, Error, ErrorKind,
    Hedging, Permit, Request, Throttle,
};
use conn_testkit::{MockReply, ScriptedTransport};
use tokio::time::Instant;

/// Counts what the breaker and the throttle see, and when permits are dropped.
#[derive(Default)]
struct Counting {
    breaker_admits: AtomicUsize,
    breaker_records: AtomicUsize,
    throttle_acquires: AtomicUsize,
    permits_dropped: Arc<AtomicUsize>,
}

struct CountedPermit(Arc<AtomicUsize>);

impl Drop for CountedPermit {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl Counting {
    fn permit(&self) -> Permit {
        Permit::new(CountedPermit(self.permits_dropped.clone()))
    }
}

impl Breaker for Counting {
    fn admit(&self, _: &CallInfo<'_>) -> Result<Permit, Error> {
        self.breaker_admits.fetch_add(1, Ordering::SeqCst);
        Ok(self.permit())
    }

    fn record(&self, _: &CallInfo<'_>, _: Permit, _: &AttemptOutcome<'_>) {
        self.breaker_records.fetch_add(1, Ordering::SeqCst);
    }
}

impl Throttle for Counting {
    fn acquire<'a>(&'a self, _: &'a CallInfo<'a>) -> BoxFuture<'a, Result<Permit, Error>> {
        self.throttle_acquires.fetch_add(1, Ordering::SeqCst);
        Box::pin(async { Ok(self.permit()) })
    }
}

fn connector(transport: &Arc<ScriptedTransport>, counting: &Arc<Counting>, retry: Retry) -> Connector {
    Connector::builder("hedged")
        .base_url("https://api.hedged.test")
        .transport(transport.clone())
        .breaker(counting.clone())
        .throttle(counting.clone())
        .retry(Arc::new(retry))
        .hedging(Hedging::after(Duration::from_millis(100)))
        .build()
        .unwrap()
}

/// A budget holding `tokens` retry tokens, refilled by `ratio` per call.
fn budget(tokens: u32, ratio: f64) -> Arc<RetryBudget> {
    let budget = Arc::new(RetryBudget::new(ratio, 0));
    while budget.available() < u64::from(tokens) {
        budget.deposit();
    }
    budget
}

#[tokio::test(start_paused = true)]
async fn a_fast_hedge_wins_the_slow_attempt_is_cancelled_and_one_token_is_spent() {
    let transport = Arc::new(ScriptedTransport::new([
        MockReply::json(200, "slow").delay(Duration::from_secs(5)),
        MockReply::json(200, "fast").delay(Duration::from_millis(10)),
    ]));
    let counting = Arc::new(Counting::default());
    let budget = budget(3, 0.5);
    let connector = connector(
        &transport,
        &counting,
        Retry::builder().budget(budget.clone()).build(),
    );

    let started = Instant::now();
    let response = connector
        .call(Request::get("/item"), Context::new())
        .await
        .unwrap();

    assert_eq!(response.body(), "fast");
    assert_eq!(
        started.elapsed(),
        Duration::from_millis(110),
        "the hedge answered, nobody waited 5 s"
    );
    let report = response.report();
    assert_eq!(report.attempts.len(), 2);
    assert_eq!(
        report.attempts[0].result,
        AttemptResult::Failed(ErrorKind::Cancelled)
    );
    assert!(!report.attempts[0].hedge);
    assert_eq!(
        report.attempts[1].result,
        AttemptResult::Status(http::StatusCode::OK)
    );
    assert!(report.attempts[1].hedge);
    assert_eq!((report.hedges(), report.retries()), (1, 0));
    assert!(report.to_string().contains("hedge"), "{report}");

    assert_eq!(transport.count(), 2);
    // 3 tokens, one spent on the hedge, half a token deposited by the call.
    assert_eq!(budget.available(), 2);
    // Both attempts passed the breaker and the throttle; only the answer was recorded,
    // and every permit (the cancelled attempt's included) was dropped.
    assert_eq!(counting.breaker_admits.load(Ordering::SeqCst), 2);
    assert_eq!(counting.throttle_acquires.load(Ordering::SeqCst), 2);
    assert_eq!(counting.breaker_records.load(Ordering::SeqCst), 1);
    assert_eq!(counting.permits_dropped.load(Ordering::SeqCst), 4);
}

#[tokio::test(start_paused = true)]
async fn a_fast_first_answer_sends_no_hedge_and_a_slow_one_may_still_win() {
    let transport = Arc::new(ScriptedTransport::new([
        MockReply::json(200, "quick").delay(Duration::from_millis(50)),
        // Second call: the first attempt answers at 150 ms, the hedge (sent at 100 ms) would take a second.
        MockReply::json(200, "first").delay(Duration::from_millis(150)),
        MockReply::json(200, "hedge").delay(Duration::from_secs(1)),
    ]));
    let counting = Arc::new(Counting::default());
    let budget = budget(3, 0.5);
    let connector = connector(
        &transport,
        &counting,
        Retry::builder().budget(budget.clone()).build(),
    );

    let response = connector
        .call(Request::get("/item"), Context::new())
        .await
        .unwrap();
    assert_eq!(
        (response.body().as_ref(), response.report().hedges()),
        (&b"quick"[..], 0)
    );
    assert_eq!(transport.count(), 1);

    let started = Instant::now();
    let response = connector
        .call(Request::get("/item"), Context::new())
        .await
        .unwrap();
    assert_eq!(response.body(), "first");
    assert_eq!(started.elapsed(), Duration::from_millis(150));
    let report = response.report();
    assert_eq!(report.attempts.len(), 2);
    assert_eq!(
        report.attempts[1].result,
        AttemptResult::Failed(ErrorKind::Cancelled)
    );
    assert!(report.attempts[1].hedge);
    assert_eq!(transport.count(), 3);
}

#[tokio::test(start_paused = true)]
async fn in_an_outage_hedges_stop_when_the_budget_runs_dry_and_the_breaker_counts_both() {
    let transport = Arc::new(ScriptedTransport::new([
        MockReply::status(503).delay(Duration::from_secs(1))
    ]));
    let counting = Arc::new(Counting::default());
    // Two tokens, a tenth of a token per call (a 10% budget).
    let budget = budget(2, 0.1);
    // No retries: only hedges spend the budget here.
    let retry = Retry::builder().max_attempts(1).budget(budget.clone()).build();
    let connector = connector(&transport, &counting, retry);

    for _ in 0..10 {
        let err = connector
            .call(Request::get("/item"), Context::new())
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(http::StatusCode::SERVICE_UNAVAILABLE));
    }
    // Two calls hedged (two tokens), eight could not: 12 sends for 10 calls, not 20.
    assert_eq!(transport.count(), 12);
    // Every send finished with a failure, and the breaker saw each of them.
    assert_eq!(counting.breaker_records.load(Ordering::SeqCst), 12);
    assert_eq!(counting.breaker_admits.load(Ordering::SeqCst), 12);
}

#[tokio::test(start_paused = true)]
async fn a_post_is_never_hedged_and_a_policy_without_hedging_refuses() {
    let transport = Arc::new(ScriptedTransport::new([
        MockReply::json(201, "created").delay(Duration::from_secs(2))
    ]));
    let counting = Arc::new(Counting::default());
    let budget = budget(3, 0.5);
    let connector = connector(
        &transport,
        &counting,
        Retry::builder().budget(budget.clone()).build(),
    );

    let response = connector
        .call(Request::post("/orders").idempotency_key("k-1"), Context::new())
        .await
        .unwrap();
    assert_eq!(response.report().attempts.len(), 1);
    assert_eq!(transport.count(), 1);
    assert_eq!(budget.available(), 3, "no token spent");

    // The default RetryPolicy (NoRetry) grants no hedge: hedging needs a policy that accounts for it.
    let plain = Connector::builder("plain")
        .base_url("https://api.hedged.test")
        .transport(transport.clone())
        .hedging(Hedging::after(Duration::from_millis(100)))
        .build()
        .unwrap();
    let response = plain.call(Request::get("/item"), Context::new()).await.unwrap();
    assert_eq!(response.report().hedges(), 0);
    assert_eq!(transport.count(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_percentile_delay_follows_the_connectors_own_latency() {
    // Twenty fast answers teach the connector its p90 (20 ms); then a slow one is hedged at 20 ms.
    let mut replies: Vec<MockReply> = (0..20)
        .map(|_| MockReply::json(200, "ok").delay(Duration::from_millis(20)))
        .collect();
    replies.push(MockReply::json(200, "slow").delay(Duration::from_secs(3)));
    replies.push(MockReply::json(200, "hedge").delay(Duration::from_millis(20)));
    let transport = Arc::new(ScriptedTransport::new(replies));
    let connector = Connector::builder("p90")
        .base_url("https://api.hedged.test")
        .transport(transport.clone())
        .retry(Arc::new(Retry::builder().build()))
        .hedging(Hedging::at_percentile(0.9, Duration::from_secs(10)))
        .build()
        .unwrap();
    for _ in 0..20 {
        let response = connector
            .call(Request::get("/item"), Context::new())
            .await
            .unwrap();
        assert_eq!(response.report().hedges(), 0);
    }
    let started = Instant::now();
    let response = connector
        .call(Request::get("/item"), Context::new())
        .await
        .unwrap();
    assert_eq!(response.body(), "hedge");
    assert_eq!(started.elapsed(), Duration::from_millis(40));
}
