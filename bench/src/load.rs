//! One measured run of one client; prints a JSON line with throughput,
//! latency percentiles, attempts per call and peak RSS.
//!
//! Three ways to drive the client:
//! - closed loop for a time (`--seconds`): `concurrency` callers call in a
//!   loop, each starting its next call when the last one ends;
//! - closed loop for a number of calls (`--calls`): the same, until that
//!   many calls are done (for instruction counts under callgrind);
//! - open loop (`--rate`): calls are released on a fixed schedule whether
//!   or not earlier ones have finished, and latency is measured from the
//!   scheduled start, so a slow client cannot hide its queueing
//!   (coordinated omission).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::clients::{Client, Kind};

/// Settings of one run, parsed from `--flag value` pairs.
struct Run {
    kind: Kind,
    base: String,
    route: String,
    concurrency: usize,
    seconds: f64,
    tenants: usize,
    calls: Option<u64>,
    rate: Option<f64>,
    /// The Redis of the fleet clients.
    redis: Option<String>,
}

fn parse(args: &[String]) -> Result<Run, Box<dyn std::error::Error>> {
    let get = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let kind = get("--kind")
        .and_then(|k| Kind::parse(&k))
        .ok_or("--kind is required")?;
    Ok(Run {
        kind,
        base: get("--base").ok_or("--base is required")?,
        route: get("--route").unwrap_or_else(|| "/small".to_owned()),
        concurrency: get("--concurrency").map_or(Ok(1), |v| v.parse())?,
        seconds: get("--seconds").map_or(Ok(2.0), |v| v.parse())?,
        tenants: get("--tenants").map_or(Ok(1), |v| v.parse())?,
        calls: get("--calls").map(|v| v.parse()).transpose()?,
        rate: get("--rate").map(|v| v.parse()).transpose()?,
        redis: get("--redis"),
    })
}

pub fn client(args: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    let run = parse(args)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let rss_before = peak_rss_kb();
    let result = runtime.block_on(async {
        let client = Arc::new(Client::connect(run.kind, &run.base, run.tenants, run.redis.as_deref()).await?);
        match (run.calls, run.rate) {
            (Some(calls), _) => closed_loop_calls(&run, client, calls).await,
            (None, Some(rate)) => open_loop(&run, client, rate).await,
            (None, None) => closed_loop_timed(&run, client).await,
        }
    })?;
    let rss = peak_rss_kb();
    println!(
        "{}",
        serde_json::json!({
            "client": run.kind.name(),
            "route": run.route,
            "concurrency": run.concurrency,
            "tenants": run.tenants,
            "rate": run.rate,
            "calls": result.calls,
            "failed": result.failed,
            "rps": result.calls as f64 / result.elapsed.as_secs_f64(),
            "goodput": (result.calls - result.failed) as f64 / result.elapsed.as_secs_f64(),
            "p50_us": result.p50.as_secs_f64() * 1e6,
            "p99_us": result.p99.as_secs_f64() * 1e6,
            "attempts_per_call": result.attempts as f64 / result.calls.max(1) as f64,
            "peak_rss_kb": rss,
            "rss_before_kb": rss_before,
        })
    );
    Ok(())
}

struct Measured {
    calls: u64,
    failed: u64,
    attempts: u64,
    elapsed: Duration,
    p50: Duration,
    p99: Duration,
}

/// What the callers of one run saw.
#[derive(Default)]
struct Tally {
    latencies: Vec<Duration>,
    failed: u64,
    attempts: u64,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.latencies.extend(other.latencies);
        self.failed += other.failed;
        self.attempts += other.attempts;
    }

    fn measured(mut self, elapsed: Duration) -> Measured {
        self.latencies.sort();
        let at = |q: f64| {
            self.latencies
                .get(((self.latencies.len() as f64 - 1.0) * q) as usize)
                .copied()
                .unwrap_or_default()
        };
        Measured {
            calls: self.latencies.len() as u64,
            failed: self.failed,
            attempts: self.attempts,
            elapsed,
            p50: at(0.50),
            p99: at(0.99),
        }
    }
}

/// Closed loop: `concurrency` callers for `seconds`, after 300 ms of warm-up.
async fn closed_loop_timed(run: &Run, client: Arc<Client>) -> Result<Measured, Box<dyn std::error::Error>> {
    let warm_until = Instant::now() + Duration::from_millis(300);
    let measure_until = warm_until + Duration::from_secs_f64(run.seconds);
    let mut tasks = Vec::with_capacity(run.concurrency);
    for caller in 0..run.concurrency {
        let client = client.clone();
        let route = run.route.clone();
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            let mut n = caller;
            loop {
                let start = Instant::now();
                if start >= measure_until {
                    break;
                }
                let outcome = client.call(&route, n).await;
                n += STRIDE;
                if start >= warm_until {
                    tally.latencies.push(start.elapsed());
                    tally.failed += u64::from(!outcome.ok);
                    tally.attempts += u64::from(outcome.attempts);
                }
            }
            tally
        }));
    }
    let mut tally = Tally::default();
    for task in tasks {
        tally.merge(task.await?);
    }
    Ok(tally.measured(Duration::from_secs_f64(run.seconds)))
}

/// Closed loop until `calls` calls are done (no warm-up: the instruction
/// count subtracts a shorter run of the same client instead).
async fn closed_loop_calls(
    run: &Run,
    client: Arc<Client>,
    calls: u64,
) -> Result<Measured, Box<dyn std::error::Error>> {
    let started = Instant::now();
    let issued = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::with_capacity(run.concurrency);
    for caller in 0..run.concurrency {
        let (client, issued) = (client.clone(), issued.clone());
        let route = run.route.clone();
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            let mut n = caller;
            while issued.fetch_add(1, Ordering::Relaxed) < calls {
                let start = Instant::now();
                let outcome = client.call(&route, n).await;
                n += STRIDE;
                tally.latencies.push(start.elapsed());
                tally.failed += u64::from(!outcome.ok);
                tally.attempts += u64::from(outcome.attempts);
            }
            tally
        }));
    }
    let mut tally = Tally::default();
    for task in tasks {
        tally.merge(task.await?);
    }
    Ok(tally.measured(started.elapsed()))
}

/// Open loop: one call every `1 / rate` s for `seconds`, after 300 ms of
/// warm-up at the same rate; latency counts from each call's scheduled start.
///
/// As in wrk2, `concurrency` callers (one pooled connection each) take the
/// scheduled starts from a queue: when every caller is busy, starts wait in
/// the queue and that wait is part of their latency, but the client never
/// opens more connections than a closed loop would.
async fn open_loop(
    run: &Run,
    client: Arc<Client>,
    rate: f64,
) -> Result<Measured, Box<dyn std::error::Error>> {
    warm_pool(&client, &run.route, run.concurrency).await?;
    let interval = Duration::from_secs_f64(1.0 / rate.max(1.0));
    let started = Instant::now();
    let warm_until = started + Duration::from_millis(300);
    let end = warm_until + Duration::from_secs_f64(run.seconds);
    let (starts, queue) = tokio::sync::mpsc::unbounded_channel::<(u64, Instant)>();
    let queue = Arc::new(tokio::sync::Mutex::new(queue));
    let callers: Vec<_> = (0..run.concurrency)
        .map(|_| {
            let (client, queue, route) = (client.clone(), queue.clone(), run.route.clone());
            tokio::spawn(async move {
                let mut tally = Tally::default();
                loop {
                    let next = queue.lock().await.recv().await;
                    let Some((n, scheduled)) = next else { break };
                    let outcome = client.call(&route, n as usize).await;
                    if scheduled >= warm_until {
                        tally.latencies.push(scheduled.elapsed());
                        tally.failed += u64::from(!outcome.ok);
                        tally.attempts += u64::from(outcome.attempts);
                    }
                }
                tally
            })
        })
        .collect();
    for n in 0u64.. {
        let scheduled = started + interval.mul_f64(n as f64);
        if scheduled >= end {
            break;
        }
        // Yield rather than sleep: tokio's timer has a 1 ms resolution, which
        // would add up to a millisecond to every latency measured here.
        while Instant::now() < scheduled {
            tokio::task::yield_now().await;
        }
        if starts.send((n, scheduled)).is_err() {
            break;
        }
    }
    drop(starts);
    let mut tally = Tally::default();
    for caller in callers {
        tally.merge(caller.await?);
    }
    Ok(tally.measured(Duration::from_secs_f64(run.seconds)))
}

/// Opens `concurrency` pooled connections: `concurrency` callers make a few
/// calls each. Started cold, a fixed schedule would open a connection per
/// call until the first ones are ready, and measure that storm instead.
async fn warm_pool(
    client: &Arc<Client>,
    route: &str,
    concurrency: usize,
) -> Result<(), tokio::task::JoinError> {
    let callers: Vec<_> = (0..concurrency)
        .map(|caller| {
            let (client, route) = (client.clone(), route.to_owned());
            tokio::spawn(async move {
                for n in 0..20 {
                    client.call(&route, caller + n * STRIDE).await;
                }
            })
        })
        .collect();
    for caller in callers {
        caller.await?;
    }
    Ok(())
}

/// Callers step through tenants with a prime stride, so keys spread.
const STRIDE: usize = 7919;

/// Peak resident set size of this process, from /proc (0 where unavailable).
fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}
