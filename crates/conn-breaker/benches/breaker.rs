//! The cost of one `admit` + `record` (the breaker's whole per-attempt work)
//! against baselines in the same run: conn-core's `NoBreaker` (the trait
//! calls and permit alone) and a bare `AtomicU64::fetch_add`. Uncontended,
//! and on 2 threads hammering one key.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant as StdInstant};

use bytes::Bytes;
use conn_breaker::{CircuitBreaker, KeyBy, Window};
use conn_core::{
    AttemptOutcome, Breaker, CallInfo, Context, NoBreaker, Request, ServerHints, TransportResponse,
};
use criterion::{Criterion, criterion_group, criterion_main};

fn response(status: u16) -> TransportResponse {
    TransportResponse::new(
        http::Response::builder()
            .status(status)
            .body(Bytes::new())
            .unwrap(),
    )
}

fn with_call<R>(f: impl FnOnce(&CallInfo<'_>) -> R) -> R {
    let request = Request::get("/items?page=2");
    let context = Context::new().tenant("acme");
    let call = CallInfo::new("bench", &request, &context);
    f(&call)
}

/// One attempt's worth of breaker work.
fn attempt(breaker: &dyn Breaker, call: &CallInfo<'_>, outcome: &AttemptOutcome<'_>) {
    match breaker.admit(call) {
        Ok(permit) => breaker.record(call, permit, outcome),
        Err(err) => drop(black_box(err)),
    }
}

fn bench(c: &mut Criterion) {
    let ok = response(200);
    let down = response(503);
    let success = AttemptOutcome {
        result: Ok(&ok),
        latency: Duration::from_millis(3),
        hints: ServerHints::default(),
    };
    let failure = AttemptOutcome {
        result: Ok(&down),
        ..success
    };

    let default = CircuitBreaker::default();
    let keyed = CircuitBreaker::builder().key_by(KeyBy::TenantAndEndpoint).build();
    let timed = CircuitBreaker::builder()
        .window(Window::last(Duration::from_secs(60)))
        .slow_calls(Duration::from_secs(1), 0.9)
        .build();
    let open = CircuitBreaker::builder()
        .cooldown(Duration::from_secs(1_000_000))
        .build();
    open.force_open("bench");

    let mut group = c.benchmark_group("breaker_admit_record");
    group.bench_function("baseline_atomic_fetch_add", |b| {
        let counter = AtomicU64::new(0);
        b.iter(|| black_box(counter.fetch_add(1, Ordering::Relaxed)))
    });
    group.bench_function("baseline_no_breaker", |b| {
        with_call(|call| b.iter(|| attempt(black_box(&NoBreaker), call, black_box(&success))))
    });
    group.bench_function("closed_success_default", |b| {
        with_call(|call| b.iter(|| attempt(black_box(&default), call, black_box(&success))))
    });
    group.bench_function("closed_25pct_failures_default", |b| {
        with_call(|call| {
            let mut i = 0u32;
            b.iter(|| {
                i = i.wrapping_add(1);
                let outcome = if i.is_multiple_of(4) { &failure } else { &success };
                attempt(black_box(&default), call, black_box(outcome))
            })
        })
    });
    group.bench_function("closed_success_tenant_endpoint_key", |b| {
        with_call(|call| b.iter(|| attempt(black_box(&keyed), call, black_box(&success))))
    });
    group.bench_function("closed_success_time_window_and_slow_calls", |b| {
        with_call(|call| b.iter(|| attempt(black_box(&timed), call, black_box(&success))))
    });
    group.bench_function("open_fail_fast", |b| {
        with_call(|call| b.iter(|| attempt(black_box(&open), call, black_box(&success))))
    });
    group.finish();

    // Ratios, measured by hand in the same run: 1 thread, then 2 threads on
    // the same key, each thread with its own call and response built once.
    for threads in [1, 2] {
        let atomic_ns = per_op(threads, Work::FetchAdd(Arc::new(AtomicU64::new(0))));
        let none_ns = per_op(threads, Work::Breaker(Arc::new(NoBreaker)));
        let breaker_ns = per_op(threads, Work::Breaker(Arc::new(default.clone())));
        println!(
            "{threads} thread(s) on one key, ns per admit+record per thread: atomic fetch_add {atomic_ns:.1}, \
             NoBreaker {none_ns:.1}, CircuitBreaker {breaker_ns:.1} (breaker cost {:.1} ns; {:.1}x a fetch_add)",
            breaker_ns - none_ns,
            breaker_ns / atomic_ns
        );
    }
}

#[derive(Clone)]
enum Work {
    FetchAdd(Arc<AtomicU64>),
    Breaker(Arc<dyn Breaker>),
}

/// Nanoseconds per operation per thread, `threads` threads starting together.
fn per_op(threads: usize, work: Work) -> f64 {
    const OPS: u32 = 2_000_000;
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (work, barrier) = (work.clone(), barrier.clone());
            std::thread::spawn(move || {
                let ok = response(200);
                let outcome = AttemptOutcome {
                    result: Ok(&ok),
                    latency: Duration::from_millis(3),
                    hints: ServerHints::default(),
                };
                with_call(|call| {
                    barrier.wait();
                    let start = StdInstant::now();
                    for _ in 0..OPS {
                        match &work {
                            Work::FetchAdd(counter) => {
                                black_box(counter.fetch_add(1, Ordering::Relaxed));
                            }
                            Work::Breaker(breaker) => attempt(&**breaker, call, &outcome),
                        }
                    }
                    start.elapsed().as_nanos() as f64 / f64::from(OPS)
                })
            })
        })
        .collect();
    let per_thread: Vec<f64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    per_thread.iter().sum::<f64>() / per_thread.len() as f64
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
