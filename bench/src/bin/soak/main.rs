//! `cargo xtask soak`: the whole stack (auth with expiring tokens, retry
//! with a budget, throttle, breaker, normalizer, telemetry) against a local
//! server that fails in every way an API does, for 100,000 calls at 64
//! concurrent callers by default. Single scenarios prove each failure path
//! once; this proves them at volume, where leaks, lost wake-ups, stuck
//! permits and miscounted attempts show.
//!
//! Flags: `--calls N` (100000), `--concurrency N` (64), `--seconds N`
//! (stop issuing calls after N seconds, whichever comes first).
//! Exits non-zero when a check fails; prints every figure either way.

mod faults;
mod lag;
mod process;
mod stack;
mod verdict;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use conn::{Connector, Context, Error, ErrorKind, Request};

use verdict::Tally;

/// Each call's deadline: a stalled attempt and a retry fit, a second stall
/// does not, so the deadline itself is exercised too.
const CALL_TIMEOUT: Duration = Duration::from_millis(400);
/// Tenants the calls rotate through (throttle and breaker keys).
const TENANTS: usize = 8;

struct Options {
    calls: usize,
    concurrency: usize,
    seconds: Option<u64>,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        calls: 100_000,
        concurrency: 64,
        seconds: None,
    };
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number: u64 = value
            .parse()
            .map_err(|_| format!("{flag} needs a number, not {value:?}"))?;
        match flag.as_str() {
            "--calls" => options.calls = number.max(1) as usize,
            "--concurrency" => options.concurrency = number.max(1) as usize,
            "--seconds" => options.seconds = Some(number),
            other => {
                return Err(format!(
                    "unknown flag {other}: expected --calls, --concurrency or --seconds"
                ));
            }
        }
    }
    Ok(options)
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse(&args) {
        Ok(options) => options,
        Err(err) => {
            eprintln!("conn-soak: {err}");
            return std::process::ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::FAILURE,
        Err(err) => {
            eprintln!("conn-soak: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Everything the callers share.
struct Run {
    connector: Connector,
    next: AtomicU64,
    calls: usize,
    stop: AtomicBool,
    reported: Vec<AtomicU32>,
    tally: Tally,
    started: Instant,
    lag: lag::LagProbe,
}

fn run(options: &Options) -> Result<bool, Box<dyn std::error::Error>> {
    let panics = Arc::new(AtomicU64::new(0));
    let hook_panics = panics.clone();
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        hook_panics.fetch_add(1, Ordering::Relaxed);
        default_hook(info);
    }));

    let seen = faults::Seen::new(options.calls);
    let seed = conn::core::component::random::next_u64();
    let port = faults::start(seen.clone(), seed)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let tokens = Arc::new(AtomicU64::new(0));
    let connector = stack::connector(port, tokens.clone())?;
    println!(
        "conn-soak: {} calls, {} concurrent callers, server fault mix {}",
        options.calls,
        options.concurrency,
        verdict::mix_line()
    );
    let run = Arc::new(Run {
        connector,
        next: AtomicU64::new(0),
        calls: options.calls,
        stop: AtomicBool::new(false),
        reported: (0..options.calls).map(|_| AtomicU32::new(0)).collect(),
        tally: Tally::default(),
        started: Instant::now(),
        lag: lag::LagProbe::new(Instant::now()),
    });
    let started = run.started;
    let samples = runtime.block_on(async {
        let sampler = tokio::spawn(sample_footprint(run.clone()));
        let probe_run = run.clone();
        let probe = tokio::spawn(async move { probe_run.lag.run(&probe_run.stop).await });
        let limit = options.seconds.map(Duration::from_secs);
        let mut callers = Vec::new();
        for _ in 0..options.concurrency {
            callers.push(tokio::spawn(caller(run.clone(), started, limit)));
        }
        for caller in callers {
            // A caller task itself never panics: each call runs in its own task.
            let _ = caller.await;
        }
        run.stop.store(true, Ordering::Relaxed);
        let samples = sampler.await.unwrap_or_default();
        let _ = probe.await;
        // Stalled answers were counted when they arrived; let the last
        // requests of timed-out attempts land before comparing counts.
        tokio::time::sleep(Duration::from_millis(300)).await;
        samples
    });
    let elapsed = started.elapsed();
    let issued = (run.next.load(Ordering::Relaxed) as usize).min(options.calls);
    let report = verdict::Report::new(
        &run.tally,
        &run.reported[..issued],
        &seen,
        issued,
        elapsed,
        &samples,
        &run.lag,
        panics.load(Ordering::Relaxed),
        tokens.load(Ordering::Relaxed),
    );
    println!("{report}");
    Ok(report.passed())
}

/// One of the concurrent callers: takes the next call number until all are
/// issued or time is up.
async fn caller(run: Arc<Run>, started: Instant, limit: Option<Duration>) {
    loop {
        if limit.is_some_and(|limit| started.elapsed() >= limit) {
            return;
        }
        let n = run.next.fetch_add(1, Ordering::Relaxed) as usize;
        if n >= run.calls {
            return;
        }
        let task = tokio::spawn(one_call(run.clone(), n));
        if let Err(err) = task.await
            && err.is_panic()
        {
            run.tally.panicked();
        }
    }
}

async fn one_call(run: Arc<Run>, n: usize) {
    let request = Request::get(format!("/items/{}", n % 100));
    let start = Instant::now();
    let context = Context::new()
        .tenant(format!("tenant-{}", n % TENANTS))
        .correlation_id(format!("soak-{n}"))
        .timeout(CALL_TIMEOUT);
    let result = run.connector.call_document(request, context).await;
    let late = start.elapsed().saturating_sub(CALL_TIMEOUT);
    let attempts = match &result {
        Ok((_, response)) => Some(response.report().attempts.len()),
        Err(err) => err.report().map(|report| report.attempts.len()),
    };
    run.reported[n].store(attempts.map_or(u32::MAX, |a| a as u32), Ordering::Relaxed);
    let ended_at = run.started.elapsed();
    run.tally.record(
        result.as_ref().map(|_| ()).map_err(Error::kind),
        attempts.is_some(),
        late,
        ended_at,
    );
}

/// Samples RSS and open descriptors every 100 ms until the run stops.
async fn sample_footprint(run: Arc<Run>) -> Vec<process::Sample> {
    let mut samples = Vec::new();
    while !run.stop.load(Ordering::Relaxed) {
        samples.push(process::sample());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    samples
}

/// The error kinds a call may end with: every failure the mix provokes, classified.
pub fn is_classified(kind: ErrorKind) -> bool {
    !matches!(kind, ErrorKind::Config | ErrorKind::Cancelled)
}
