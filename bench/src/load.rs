//! One measured run of one client: `concurrency` callers calling in a loop
//! for a fixed time; prints a JSON line with throughput, latency
//! percentiles, attempts per call and peak RSS.

use std::sync::Arc;
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
    })
}

pub fn client(args: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    let run = parse(args)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let rss_before = peak_rss_kb();
    let result = runtime.block_on(measure(&run))?;
    let rss = peak_rss_kb();
    println!(
        "{}",
        serde_json::json!({
            "client": run.kind.name(),
            "route": run.route,
            "concurrency": run.concurrency,
            "tenants": run.tenants,
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

async fn measure(run: &Run) -> Result<Measured, Box<dyn std::error::Error>> {
    let client = Arc::new(Client::new(run.kind, &run.base, run.tenants)?);
    // Warm the pool and the code paths; not measured.
    let warm_until = Instant::now() + Duration::from_millis(300);
    let measure_until = warm_until + Duration::from_secs_f64(run.seconds);
    let mut tasks = Vec::with_capacity(run.concurrency);
    for caller in 0..run.concurrency {
        let client = client.clone();
        let route = run.route.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let (mut failed, mut attempts) = (0u64, 0u64);
            let mut n = caller;
            loop {
                let start = Instant::now();
                if start >= measure_until {
                    break;
                }
                let outcome = client.call(&route, n).await;
                n += run_stride();
                if start >= warm_until {
                    latencies.push(start.elapsed());
                    failed += u64::from(!outcome.ok);
                    attempts += u64::from(outcome.attempts);
                }
            }
            (latencies, failed, attempts)
        }));
    }
    let mut latencies = Vec::new();
    let (mut failed, mut attempts) = (0, 0);
    for task in tasks {
        let (l, f, a) = task.await?;
        latencies.extend(l);
        failed += f;
        attempts += a;
    }
    latencies.sort();
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * q) as usize)
            .copied()
            .unwrap_or_default()
    };
    Ok(Measured {
        calls: latencies.len() as u64,
        failed,
        attempts,
        elapsed: Duration::from_secs_f64(run.seconds),
        p50: at(0.50),
        p99: at(0.99),
    })
}

/// Callers step through tenants with a prime stride, so keys spread.
fn run_stride() -> usize {
    7919
}

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
