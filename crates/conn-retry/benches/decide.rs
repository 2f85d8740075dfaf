//! The cost of one retry decision (classify + backoff + jitter + budget),
//! against the cheapest possible policy in the same run.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use conn_core::{
    AttemptOutcome, CallInfo, Context, Error, ErrorKind, HintParser, NoRetry, Request, RetryPolicy,
    TransportResponse,
};
use conn_retry::{Backoff, Jitter, Retry, RetryBudget};
use criterion::{Criterion, criterion_group, criterion_main};
use tokio::time::Instant;

fn bench(c: &mut Criterion) {
    let request = Request::get("/items");
    let mut context = Context::new();
    context.ensure_correlation_id();
    let started = Instant::now();
    let call = |attempt| {
        CallInfo::new("bench", &request, &context)
            .attempt(attempt)
            .started(started)
    };
    let response = |status: u16, headers: &[(&str, &str)]| {
        let mut builder = http::Response::builder().status(status);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        TransportResponse::new(builder.body(Bytes::new()).unwrap())
    };
    let ok = response(200, &[]);
    let unavailable = response(503, &[]);
    let limited = response(429, &[("retry-after", "2")]);
    let hints = HintParser::default().parse(limited.headers(), std::time::SystemTime::now());
    let connect = Error::new(ErrorKind::Connect, "refused");
    let outcome = |result| AttemptOutcome {
        result,
        latency: Duration::from_millis(3),
        hints: Default::default(),
    };

    let policy = Retry::builder()
        .max_attempts(5)
        .backoff(Backoff::exponential(
            Duration::from_millis(100),
            2.0,
            Duration::from_secs(20),
        ))
        .jitter(Jitter::Full)
        .budget(Arc::new(RetryBudget::new(1.0, 100).with_max_deposits(u32::MAX)))
        .build();

    let mut group = c.benchmark_group("retry_decide");
    group.bench_function("baseline_no_retry", |b| {
        b.iter(|| NoRetry.decide(black_box(&call(2)), black_box(&outcome(Ok(&unavailable)))))
    });
    group.bench_function("success", |b| {
        b.iter(|| policy.decide(black_box(&call(2)), black_box(&outcome(Ok(&ok)))))
    });
    group.bench_function("retry_503_with_budget", |b| {
        b.iter(|| {
            policy.decide(black_box(&call(1)), black_box(&outcome(Ok(&unavailable))));
            policy.decide(black_box(&call(2)), black_box(&outcome(Ok(&unavailable))))
        })
    });
    group.bench_function("retry_connect_error", |b| {
        b.iter(|| policy.decide(black_box(&call(2)), black_box(&outcome(Err(&connect)))))
    });
    group.bench_function("retry_429_with_hint", |b| {
        let with_hint = AttemptOutcome {
            result: Ok(&limited),
            latency: Duration::from_millis(3),
            hints,
        };
        b.iter(|| policy.decide(black_box(&call(2)), black_box(&with_hint)))
    });
    group.bench_function("hint_parse_429", |b| {
        let parser = HintParser::default();
        b.iter(|| parser.parse(black_box(limited.headers()), std::time::SystemTime::now()))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
