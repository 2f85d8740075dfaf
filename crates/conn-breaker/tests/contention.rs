//! Two threads hammering one key through `admit` / `record` directly: every
//! update must land (exact counts), and half-open must never lend more probe
//! slots than configured.

mod support;

use std::sync::Barrier;
use std::time::Duration;

use conn_breaker::{CircuitBreaker, State, Window};
use conn_core::{Breaker, CallInfo, Context, Permit, Request};
use support::{MS, outcome, response};

const PER_THREAD: u64 = 100_000;

/// Runs `work(thread, call)` on 2 threads at once, each with its own call.
fn on_two_threads(breaker: &CircuitBreaker, work: impl Fn(usize, &CircuitBreaker, &CallInfo<'_>) + Sync) {
    let barrier = Barrier::new(2);
    std::thread::scope(|scope| {
        for thread in 0..2 {
            let (barrier, work) = (&barrier, &work);
            scope.spawn(move || {
                let request = Request::get("/items");
                let context = Context::new();
                let call = CallInfo::new("api", &request, &context);
                barrier.wait();
                work(thread, breaker, &call);
            });
        }
    });
}

#[test]
fn two_threads_times_100_000_give_exact_counts() {
    // Nothing trips it (metrics only), so every outcome lands in the same state.
    let breaker = CircuitBreaker::builder()
        .window(Window::last_calls(1_000))
        .window(Window::last(Duration::from_secs(3600)))
        .slow_calls(Duration::from_millis(100), 1.0)
        .metrics_only(true)
        .build();
    let ok = response(200);
    let down = response(503);
    on_two_threads(&breaker, |_, breaker, call| {
        for i in 0..PER_THREAD {
            let permit = breaker.admit(call).unwrap();
            let failed = i % 4 == 0;
            let latency = if i % 10 == 0 { 200 * MS } else { MS };
            let outcome = outcome(if failed { &down } else { &ok }, latency);
            breaker.record(call, permit, &outcome);
        }
    });

    let snapshot = breaker.snapshot("api").unwrap();
    assert_eq!(snapshot.state, State::MetricsOnly);
    let totals = snapshot.totals;
    assert_eq!(totals.recorded(), 2 * PER_THREAD);
    assert_eq!(totals.failures, 2 * PER_THREAD / 4);
    assert_eq!(totals.successes, 2 * PER_THREAD * 3 / 4);
    assert_eq!(totals.slow, 2 * PER_THREAD / 10);
    // The hour-long window holds every call.
    let hour = snapshot.time_window.unwrap();
    assert_eq!(u64::from(hour.calls), 2 * PER_THREAD);
    assert_eq!(u64::from(hour.failures), 2 * PER_THREAD / 4);
    assert_eq!(u64::from(hour.slow), 2 * PER_THREAD / 10);
    // The count window holds exactly the last 1,000, whatever their interleaving.
    assert_eq!(snapshot.count_window.unwrap().calls, 1_000);
}

#[test]
fn consecutive_failures_from_two_threads_all_count() {
    let breaker = CircuitBreaker::builder()
        .consecutive_failures(u32::MAX)
        .no_windows()
        .build();
    let down = response(500);
    on_two_threads(&breaker, |_, breaker, call| {
        for _ in 0..PER_THREAD {
            let permit = breaker.admit(call).unwrap();
            breaker.record(call, permit, &outcome(&down, MS));
        }
    });
    let snapshot = breaker.snapshot("api").unwrap();
    assert_eq!(snapshot.state, State::Closed);
    assert_eq!(u64::from(snapshot.consecutive_failures), 2 * PER_THREAD);
}

#[test]
fn opening_under_contention_happens_once_and_refusals_are_counted() {
    let breaker = CircuitBreaker::builder()
        .consecutive_failures(1_000)
        .no_windows()
        .cooldown(Duration::from_secs(3600))
        .build();
    let mut events = breaker.subscribe();
    let down = response(500);
    let admitted = std::sync::atomic::AtomicU64::new(0);
    on_two_threads(&breaker, |_, breaker, call| {
        for _ in 0..PER_THREAD {
            if let Ok(permit) = breaker.admit(call) {
                admitted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                breaker.record(call, permit, &outcome(&down, MS));
            }
        }
    });
    let snapshot = breaker.snapshot("api").unwrap();
    assert_eq!(snapshot.state, State::Open);
    let admitted = admitted.into_inner();
    assert_eq!(admitted + snapshot.totals.rejected, 2 * PER_THREAD);
    assert_eq!(snapshot.totals.recorded(), admitted);
    // Each thread admits and records in turn, so when the 1,000th failure
    // opens the circuit the other thread holds at most one admitted call: it
    // is recorded (stale, counting towards nothing) and no other gets through.
    assert!((1_000..=1_001).contains(&admitted), "{admitted}");
    assert_eq!(support::drain(&mut events).len(), 1);
}

#[test]
fn half_open_lends_exactly_n_probe_slots_under_contention() {
    let breaker = CircuitBreaker::builder()
        .consecutive_failures(1)
        .no_windows()
        .cooldown(Duration::ZERO)
        .half_open_probes(5)
        .build();
    let down = response(503);
    on_two_threads(&breaker, |thread, breaker, call| {
        if thread == 0 {
            let permit = breaker.admit(call).unwrap();
            breaker.record(call, permit, &outcome(&down, MS));
        }
    });
    assert_eq!(breaker.state("api"), Some(State::Open));

    // Both threads grab as many probe slots as they can and hold on to them.
    let held = std::sync::Mutex::new(Vec::<Permit>::new());
    on_two_threads(&breaker, |_, breaker, call| {
        let mut mine = Vec::new();
        for _ in 0..PER_THREAD {
            if let Ok(permit) = breaker.admit(call) {
                mine.push(permit);
            }
        }
        held.lock().unwrap().extend(mine);
    });
    let mut held = held.into_inner().unwrap();
    assert_eq!(held.len(), 5);
    let snapshot = breaker.snapshot("api").unwrap();
    assert_eq!((snapshot.state, snapshot.probes_in_flight), (State::HalfOpen, 5));
    assert_eq!(snapshot.totals.rejected, 2 * PER_THREAD - 5);

    // Dropped without an outcome (cancelled): every slot comes back.
    held.truncate(2);
    assert_eq!(breaker.snapshot("api").unwrap().probes_in_flight, 2);
    drop(held);
    assert_eq!(breaker.snapshot("api").unwrap().probes_in_flight, 0);

    // And five successful probes close it.
    let ok = response(200);
    on_two_threads(&breaker, |thread, breaker, call| {
        let n = if thread == 0 { 3 } else { 2 };
        let permits: Vec<_> = (0..n).map(|_| breaker.admit(call).unwrap()).collect();
        for permit in permits {
            breaker.record(call, permit, &outcome(&ok, MS));
        }
    });
    assert_eq!(breaker.state("api"), Some(State::Closed));
}

#[test]
fn a_full_key_table_of_open_circuits_lets_new_keys_through_untracked() {
    let breaker = CircuitBreaker::builder()
        .key_by(conn_breaker::KeyBy::Tenant)
        .max_keys(2)
        .build();
    breaker.force_open("api\u{1f}a");
    breaker.force_open("api\u{1f}b");
    let request = Request::get("/x");
    let context = Context::new().tenant("c");
    let call = CallInfo::new("api", &request, &context);
    for _ in 0..3 {
        let permit = breaker.admit(&call).expect("untracked calls go through");
        breaker.record(&call, permit, &outcome(&response(503), MS));
    }
    assert_eq!(breaker.untracked_calls(), 3);
    assert_eq!(breaker.key_count(), 2);
    assert_eq!(breaker.state("api\u{1f}c"), None);
    // Once a key is closed again it can make room.
    breaker.reset("api\u{1f}a");
    assert!(breaker.admit(&call).is_ok());
    assert_eq!(breaker.state("api\u{1f}c"), Some(State::Closed));
    assert_eq!(breaker.state("api\u{1f}a"), None, "evicted");
    assert_eq!(breaker.evicted_keys(), 1);
}

#[test]
fn interleaved_keys_on_one_thread_record_into_the_right_circuit() {
    let breaker = CircuitBreaker::builder()
        .key_by(conn_breaker::KeyBy::Tenant)
        .consecutive_failures(2)
        .no_windows()
        .max_keys(2)
        .build();
    let request = Request::get("/x");
    let contexts: Vec<_> = ["a", "b", "c"]
        .iter()
        .map(|t| Context::new().tenant(*t))
        .collect();
    let calls: Vec<_> = contexts
        .iter()
        .map(|context| CallInfo::new("api", &request, context))
        .collect();
    let (a, b, c) = (&calls[0], &calls[1], &calls[2]);
    let down = response(503);
    let ok = response(200);

    // Admit a, then b (the thread's cached key is now b), then record both.
    for _ in 0..2 {
        let pa = breaker.admit(a).unwrap();
        let pb = breaker.admit(b).unwrap();
        breaker.record(a, pa, &outcome(&down, MS));
        breaker.record(b, pb, &outcome(&ok, MS));
    }
    assert_eq!(breaker.state("api\u{1f}a"), Some(State::Open));
    let b_totals = breaker.snapshot("api\u{1f}b").unwrap().totals;
    assert_eq!((b_totals.successes, b_totals.failures), (2, 0));

    // b is evicted (to make room for c) while its attempt is in flight: the
    // outcome is dropped, not recorded into c's or a recreated b's circuit.
    let pb = breaker.admit(b).unwrap();
    let pc = breaker.admit(c).unwrap();
    assert_eq!(
        breaker.state("api\u{1f}b"),
        None,
        "evicted: a is open, so b had to go"
    );
    breaker.record(b, pb, &outcome(&down, MS));
    breaker.record(c, pc, &outcome(&down, MS));
    assert_eq!(breaker.state("api\u{1f}b"), None);
    assert_eq!(breaker.snapshot("api\u{1f}c").unwrap().totals.failures, 1);
}
