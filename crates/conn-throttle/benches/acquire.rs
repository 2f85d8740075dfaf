//! The cost of one `acquire` (and its permit's release) against governor's
//! raw `check()` in the same run, uncontended and on 2 threads.

use std::hint::black_box;
use std::num::NonZeroU32;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, Waker};
use std::time::{Duration, Instant as StdInstant};

use conn_core::{CallInfo, Context, Request, Throttle};
use conn_throttle::{KeyBy, Limit, Throttler};
use criterion::{Criterion, criterion_group, criterion_main};
use governor::{Quota, RateLimiter};

/// A quota so large it never binds: the benchmark measures bookkeeping, not waiting.
const HUGE: u32 = 1_000_000_000;

/// Acquires and releases once. With capacity available the future completes
/// on its first poll, so it is polled directly (no executor cost in the figure).
fn acquire_once(throttle: &Throttler, call: &CallInfo<'_>) {
    let mut cx = TaskContext::from_waker(Waker::noop());
    let mut future = pin!(throttle.acquire(call));
    // Under contention the other thread may hold the key's queue for a moment:
    // the waiter is handed the lock on release, so polling again completes.
    loop {
        if let Poll::Ready(permit) = future.as_mut().poll(&mut cx) {
            drop(black_box(permit.unwrap()));
            return;
        }
        std::hint::spin_loop();
    }
}

fn with_call<R>(f: impl FnOnce(&CallInfo<'_>) -> R) -> R {
    let request = Request::get("/items");
    let context = Context::new().tenant("acme");
    let call = CallInfo::new("bench", &request, &context);
    f(&call)
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let _guard = runtime.enter();
    let quota = || Quota::per_second(NonZeroU32::new(HUGE).unwrap());
    let raw = RateLimiter::direct(quota());
    let raw_keyed = RateLimiter::keyed(quota());
    let throttle = Throttler::builder()
        .limit(Limit::per_second(HUGE).burst(HUGE))
        .key_by(KeyBy::Tenant)
        .build();

    let mut group = c.benchmark_group("throttle_acquire");
    group.bench_function("governor_direct_check", |b| {
        b.iter(|| black_box(raw.check().is_ok()))
    });
    group.bench_function("governor_keyed_check", |b| {
        b.iter(|| black_box(raw_keyed.check_key(&"acme").is_ok()))
    });
    group.bench_function("conn_acquire_keyed", |b| {
        with_call(|call| b.iter(|| acquire_once(&throttle, call)))
    });
    group.finish();

    // Contended: 2 threads on the same key, conn and raw governor in the same run.
    let per_thread = 300_000u32;
    let contended = |work: Arc<dyn Fn() + Send + Sync>| {
        let start = StdInstant::now();
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let work = work.clone();
                std::thread::spawn(move || {
                    for _ in 0..per_thread {
                        work();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        start.elapsed().as_nanos() as f64 / f64::from(per_thread)
    };
    let raw = Arc::new(RateLimiter::keyed(quota()));
    let raw_ns = contended(Arc::new(move || {
        black_box(raw.check_key(&"acme").is_ok());
    }));
    let handle = runtime.handle().clone();
    let conn_ns = contended(Arc::new(move || {
        let _guard = handle.enter();
        with_call(|call| acquire_once(&throttle, call));
    }));
    println!(
        "contended, 2 threads, ns per op per thread: governor keyed check {raw_ns:.0}, conn acquire {conn_ns:.0} (ratio {:.2})",
        conn_ns / raw_ns
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
