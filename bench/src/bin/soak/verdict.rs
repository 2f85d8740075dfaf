//! The soak's figures and the checks it must pass, printed for people.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use conn::ErrorKind;

use crate::faults::{MIX, Seen};
use crate::lag::LagProbe;
use crate::process::{self, Sample};

/// How late past its deadline a call may end: the time to notice the
/// deadline and unwind, on a busy 2-core machine.
const LATE_SLACK: Duration = Duration::from_millis(10);
/// How far back before a late call's end the runtime's timer lag counts.
const LAG_WINDOW: Duration = Duration::from_millis(100);
/// The most upstream attempts per call the retry budget may allow.
const MAX_ATTEMPTS_PER_CALL: f64 = 1.2;
/// The most RSS or descriptors may grow across the second half.
const MAX_GROWTH: f64 = 0.10;
/// Descriptors that may come and go whatever the growth: with under a
/// hundred sockets open, 10% is a handful that stalled connections (held
/// 2 s by the server) move by themselves. A leak of one per call shows at
/// once; a slow one shows in the 100,000-call run.
const FD_FLOOR: u64 = 16;

/// Outcomes counted as calls end.
#[derive(Default)]
pub struct Tally {
    outcomes: Mutex<BTreeMap<&'static str, u64>>,
    unclassified: AtomicU64,
    /// Calls that ended past deadline + slack: when (since the run
    /// started) and how far past the deadline.
    late: Mutex<Vec<(Duration, Duration)>>,
    latest_micros: AtomicU64,
    panicked: AtomicU64,
}

impl Tally {
    pub fn record(
        &self,
        result: Result<(), ErrorKind>,
        has_report: bool,
        late: Duration,
        ended_at: Duration,
    ) {
        let label = match result {
            Ok(()) => "success",
            Err(kind) => kind.label(),
        };
        *self
            .outcomes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(label)
            .or_default() += 1;
        let classified = match result {
            Ok(()) => true,
            Err(kind) => crate::is_classified(kind) && has_report,
        };
        if !classified {
            self.unclassified.fetch_add(1, Ordering::Relaxed);
        }
        if late > LATE_SLACK {
            self.late
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((ended_at, late));
        }
        self.latest_micros
            .fetch_max(late.as_micros() as u64, Ordering::Relaxed);
    }

    pub fn panicked(&self) {
        self.panicked.fetch_add(1, Ordering::Relaxed);
    }
}

/// The fault mix in one line.
pub fn mix_line() -> String {
    MIX.iter()
        .map(|(fault, share)| format!("{:.0}% {fault:?}", share * 100.0))
        .collect::<Vec<_>>()
        .join(", ")
}

pub struct Report {
    issued: usize,
    elapsed: Duration,
    outcomes: BTreeMap<&'static str, u64>,
    panics: u64,
    unclassified: u64,
    late: u64,
    late_beyond_lag: u64,
    latest: Duration,
    worst_lag: Duration,
    upstream: u64,
    unknown: u64,
    unauthorized: u64,
    mismatched: u64,
    first_mismatch: Option<(usize, u32, u32)>,
    tokens: u64,
    rss: (u64, u64, Option<(u64, u64)>),
    fds: (u64, u64, Option<(u64, u64)>),
}

impl Report {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        tally: &Tally,
        reported: &[AtomicU32],
        seen: &Seen,
        issued: usize,
        elapsed: Duration,
        samples: &[Sample],
        lag: &LagProbe,
        hook_panics: u64,
        tokens: u64,
    ) -> Report {
        let mut mismatched = 0;
        let mut first_mismatch = None;
        for (n, reported) in reported.iter().enumerate() {
            let reported = reported.load(Ordering::Relaxed);
            let server = seen.per_call[n].load(Ordering::Relaxed);
            if reported != server {
                mismatched += 1;
                first_mismatch.get_or_insert((n, reported, server));
            }
        }
        let late = tally.late.lock().unwrap_or_else(|e| e.into_inner()).clone();
        // Late by more than the slack plus what the runtime's own timers lagged
        // just before the call ended: that part is conn's.
        let late_beyond_lag = late
            .iter()
            .filter(|(ended_at, past)| *past > LATE_SLACK + lag.worst_before(*ended_at, LAG_WINDOW))
            .count() as u64;
        let footprint = |value: fn(&Sample) -> u64| {
            let first = samples.first().map(value).unwrap_or(0);
            let last = samples.last().map(value).unwrap_or(0);
            (first, last, process::second_half(samples, value))
        };
        Report {
            issued,
            elapsed,
            outcomes: tally.outcomes.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            panics: hook_panics.max(tally.panicked.load(Ordering::Relaxed)),
            unclassified: tally.unclassified.load(Ordering::Relaxed),
            late: late.len() as u64,
            late_beyond_lag,
            worst_lag: lag.worst(),
            latest: Duration::from_micros(tally.latest_micros.load(Ordering::Relaxed)),
            upstream: seen.total.load(Ordering::Relaxed),
            unknown: seen.unknown.load(Ordering::Relaxed),
            unauthorized: seen.unauthorized.load(Ordering::Relaxed),
            mismatched,
            first_mismatch,
            tokens,
            rss: footprint(|s| s.rss_kib),
            fds: footprint(|s| s.fds),
        }
    }

    fn attempts_per_call(&self) -> f64 {
        self.upstream as f64 / self.issued.max(1) as f64
    }

    /// Each check: what it says, whether it held.
    fn checks(&self) -> Vec<(String, bool)> {
        let growth_ok = |half: Option<(u64, u64)>, floor: u64| {
            half.is_none_or(|(middle, end)| {
                (end as f64) < middle as f64 * (1.0 + MAX_GROWTH) || end <= middle + floor
            })
        };
        let growth = |half: Option<(u64, u64)>| {
            half.map_or("n/a (run too short)".to_owned(), |(middle, end)| {
                format!(
                    "{:+.1}% ({middle} -> {end})",
                    (end as f64 / middle.max(1) as f64 - 1.0) * 100.0
                )
            })
        };
        vec![
            (format!("panics: {}", self.panics), self.panics == 0),
            (
                format!(
                    "calls ending neither in success nor a classified error: {}",
                    self.unclassified
                ),
                self.unclassified == 0,
            ),
            (
                format!(
                    "calls ending later than deadline + {} ms beyond the runtime's own timer lag: {} \
                     ({} past deadline + {} ms in all, latest {:.1} ms past; worst timer lag {:.1} ms)",
                    LATE_SLACK.as_millis(),
                    self.late_beyond_lag,
                    self.late,
                    LATE_SLACK.as_millis(),
                    self.latest.as_secs_f64() * 1000.0,
                    self.worst_lag.as_secs_f64() * 1000.0
                ),
                self.late_beyond_lag == 0,
            ),
            (
                format!(
                    "upstream attempts per call: {:.3} (limit {MAX_ATTEMPTS_PER_CALL})",
                    self.attempts_per_call()
                ),
                self.attempts_per_call() <= MAX_ATTEMPTS_PER_CALL,
            ),
            (
                match self.first_mismatch {
                    None => format!(
                        "reports whose attempt count differs from the server's: 0 of {}",
                        self.issued
                    ),
                    Some((n, reported, server)) => format!(
                        "reports whose attempt count differs from the server's: {} of {} (first: call {n}, report {reported}, server {server})",
                        self.mismatched, self.issued
                    ),
                },
                self.mismatched == 0 && self.unknown == 0,
            ),
            (
                format!(
                    "RSS across the second half: {} (start {} KiB, end {} KiB)",
                    growth(self.rss.2),
                    self.rss.0,
                    self.rss.1
                ),
                growth_ok(self.rss.2, 0),
            ),
            (
                format!(
                    "open descriptors across the second half: {} (start {}, end {}; {FD_FLOOR} more always allowed)",
                    growth(self.fds.2),
                    self.fds.0,
                    self.fds.1
                ),
                growth_ok(self.fds.2, FD_FLOOR),
            ),
        ]
    }

    pub fn passed(&self) -> bool {
        self.checks().iter().all(|(_, ok)| *ok)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.elapsed.as_secs_f64();
        writeln!(
            f,
            "{} calls in {seconds:.1} s ({:.0} calls/s), {} upstream requests, {} tokens issued, {} answered 401",
            self.issued,
            self.issued as f64 / seconds.max(1e-9),
            self.upstream,
            self.tokens,
            self.unauthorized
        )?;
        let outcomes: Vec<String> = self
            .outcomes
            .iter()
            .map(|(label, count)| {
                format!(
                    "{label} {count} ({:.2}%)",
                    *count as f64 * 100.0 / self.issued.max(1) as f64
                )
            })
            .collect();
        writeln!(f, "outcomes: {}", outcomes.join(", "))?;
        for (check, ok) in self.checks() {
            writeln!(f, "  [{}] {check}", if ok { "ok" } else { "FAIL" })?;
        }
        write!(f, "soak {}", if self.passed() { "passed" } else { "FAILED" })
    }
}
