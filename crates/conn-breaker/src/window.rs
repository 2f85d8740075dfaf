//! Sliding windows over recent calls: the last N calls, or the last T of time
//! in buckets. Both keep running totals, so reading a rate is O(1).

use std::fmt;
use std::time::Duration;

use crate::clock::nanos;

/// The largest count-based window: one byte per call per key.
pub const MAX_WINDOW_CALLS: u32 = 10_000;

/// The most buckets a time-based window keeps per key.
pub const MAX_TIME_BUCKETS: u32 = 60;

/// The minimum number of calls a window needs before its rates can trip the
/// circuit, unless [`Window::minimum_calls`] says otherwise.
pub const DEFAULT_MINIMUM_CALLS: u32 = 20;

/// A sliding window the failure rate and slow-call rate are measured over.
///
/// A breaker may have one count-based and one time-based window at once; each
/// trips the circuit on its own once it holds at least `minimum_calls` calls.
///
/// ```
/// use std::time::Duration;
/// use conn_breaker::Window;
///
/// let last_100_calls = Window::last_calls(100).minimum_calls(20);
/// let last_minute = Window::last(Duration::from_secs(60)).minimum_calls(50);
/// # let _ = (last_100_calls, last_minute);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub(crate) kind: WindowKind,
    pub(crate) minimum_calls: u32,
}

/// What a [`Window`] spans.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WindowKind {
    /// The last `n` recorded calls (1..=[`MAX_WINDOW_CALLS`]).
    Calls(u32),
    /// The calls recorded during the last `duration`, in up to
    /// [`MAX_TIME_BUCKETS`] buckets of at least one second (shorter windows
    /// use one bucket).
    Time(Duration),
}

impl fmt::Display for WindowKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WindowKind::Calls(n) => write!(f, "last {n} calls"),
            WindowKind::Time(d) => write!(f, "last {:.1} s", d.as_secs_f64()),
        }
    }
}

impl Window {
    /// The last `calls` recorded calls (clamped to 1..=[`MAX_WINDOW_CALLS`]);
    /// minimum calls [`DEFAULT_MINIMUM_CALLS`] (or the window size, if smaller).
    pub fn last_calls(calls: u32) -> Window {
        let calls = calls.clamp(1, MAX_WINDOW_CALLS);
        Window {
            kind: WindowKind::Calls(calls),
            minimum_calls: DEFAULT_MINIMUM_CALLS.min(calls),
        }
    }

    /// The calls recorded during the last `duration` (a zero duration means one
    /// second); minimum calls [`DEFAULT_MINIMUM_CALLS`].
    pub fn last(duration: Duration) -> Window {
        let duration = if duration.is_zero() {
            Duration::from_secs(1)
        } else {
            duration
        };
        Window {
            kind: WindowKind::Time(duration),
            minimum_calls: DEFAULT_MINIMUM_CALLS,
        }
    }

    /// How many calls the window must hold before its rates can trip the
    /// circuit (at least 1; a count window clamps it to its size, so it can
    /// trip at all).
    pub fn minimum_calls(mut self, calls: u32) -> Window {
        let calls = calls.max(1);
        self.minimum_calls = match self.kind {
            WindowKind::Calls(size) => calls.min(size),
            WindowKind::Time(_) => calls,
        };
        self
    }

    /// What the window spans.
    pub fn kind(&self) -> WindowKind {
        self.kind
    }

    /// The minimum number of calls before it can trip the circuit.
    pub fn minimum(&self) -> u32 {
        self.minimum_calls
    }
}

/// The calls a window holds right now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WindowStats {
    /// Calls recorded (successes and failures; ignored outcomes are not calls).
    pub calls: u32,
    /// Calls that failed.
    pub failures: u32,
    /// Calls slower than the slow-call threshold (failed or not).
    pub slow: u32,
}

impl WindowStats {
    /// Failures / calls (0 with no calls).
    pub fn failure_rate(&self) -> f64 {
        ratio(self.failures, self.calls)
    }

    /// Slow calls / calls (0 with no calls).
    pub fn slow_rate(&self) -> f64 {
        ratio(self.slow, self.calls)
    }

    /// Saturating: a long time window under extreme traffic must not panic
    /// (and poison the key's lock) on overflow.
    fn add(&mut self, failed: bool, slow: bool) {
        self.calls = self.calls.saturating_add(1);
        self.failures = self.failures.saturating_add(u32::from(failed));
        self.slow = self.slow.saturating_add(u32::from(slow));
    }

    /// Removes what `add` added; saturating, as totals must never wrap.
    fn remove(&mut self, calls: u32, failures: u32, slow: u32) {
        self.calls = self.calls.saturating_sub(calls);
        self.failures = self.failures.saturating_sub(failures);
        self.slow = self.slow.saturating_sub(slow);
    }
}

fn ratio(part: u32, whole: u32) -> f64 {
    if whole == 0 {
        0.0
    } else {
        f64::from(part) / f64::from(whole)
    }
}

const PRESENT: u8 = 1;
const FAILED: u8 = 2;
const SLOW: u8 = 4;

/// The last N calls: a ring of one byte per call plus running totals.
#[derive(Debug)]
pub(crate) struct CountWindow {
    slots: Box<[u8]>,
    next: usize,
    stats: WindowStats,
}

impl CountWindow {
    pub(crate) fn new(size: u32) -> Self {
        let size = usize::try_from(size.clamp(1, MAX_WINDOW_CALLS)).unwrap_or(1);
        CountWindow {
            slots: vec![0; size].into_boxed_slice(),
            next: 0,
            stats: WindowStats::default(),
        }
    }

    pub(crate) fn record(&mut self, failed: bool, slow: bool) {
        let Some(slot) = self.slots.get_mut(self.next) else {
            // `next` always stays below the length; recover rather than panic.
            self.next = 0;
            return;
        };
        let old = *slot;
        *slot = PRESENT | if failed { FAILED } else { 0 } | if slow { SLOW } else { 0 };
        if old & PRESENT != 0 {
            self.stats
                .remove(1, u32::from(old & FAILED != 0), u32::from(old & SLOW != 0));
        }
        self.stats.add(failed, slow);
        self.next = (self.next + 1) % self.slots.len();
    }

    pub(crate) fn stats(&self) -> WindowStats {
        self.stats
    }

    pub(crate) fn clear(&mut self) {
        self.slots.fill(0);
        self.next = 0;
        self.stats = WindowStats::default();
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Bucket {
    calls: u32,
    failures: u32,
    slow: u32,
}

/// The last T of time: a ring of buckets, each `width` long, plus running
/// totals. The window is the current (partial) bucket and the `len - 1`
/// before it, so it spans between `T - width` and `T`.
#[derive(Debug)]
pub(crate) struct TimeWindow {
    width: u64,
    buckets: Box<[Bucket]>,
    /// The newest bucket index seen; older buckets have been expired.
    head: u64,
    /// Where the head bucket lives and when it ends: a record within the
    /// same bucket (the common case) costs a comparison, not two divisions.
    head_slot: usize,
    head_end: u64,
    stats: WindowStats,
}

impl TimeWindow {
    pub(crate) fn new(span: Duration) -> Self {
        let span = nanos(span).max(1);
        let second = 1_000_000_000u64;
        let count = span.div_ceil(second).clamp(1, u64::from(MAX_TIME_BUCKETS));
        let len = usize::try_from(count).unwrap_or(1);
        let width = span.div_ceil(count).max(1);
        TimeWindow {
            width,
            buckets: vec![Bucket::default(); len].into_boxed_slice(),
            head: 0,
            head_slot: 0,
            head_end: width,
            stats: WindowStats::default(),
        }
    }

    pub(crate) fn record(&mut self, now: u64, failed: bool, slow: bool) {
        self.advance(now);
        let Some(bucket) = self.buckets.get_mut(self.head_slot) else {
            return;
        };
        bucket.calls = bucket.calls.saturating_add(1);
        bucket.failures = bucket.failures.saturating_add(u32::from(failed));
        bucket.slow = bucket.slow.saturating_add(u32::from(slow));
        self.stats.add(failed, slow);
    }

    /// The totals as of `now` (expiring buckets that fell out of the window).
    pub(crate) fn stats(&mut self, now: u64) -> WindowStats {
        self.advance(now);
        self.stats
    }

    pub(crate) fn clear(&mut self) {
        self.buckets.fill(Bucket::default());
        self.stats = WindowStats::default();
    }

    /// Moves the head to the bucket of `now`, emptying every slot that now
    /// holds a bucket older than the window. At most `len` slots are touched,
    /// however long the window was idle.
    fn advance(&mut self, now: u64) {
        if now < self.head_end {
            return;
        }
        let current = now / self.width;
        if current <= self.head {
            // Same bucket, or a reading from a thread whose clock lags: count
            // it in the newest bucket rather than rewriting history.
            return;
        }
        let len = self.buckets.len() as u64;
        let first = if current - self.head >= len {
            current + 1 - len
        } else {
            self.head + 1
        };
        for index in first..=current {
            let Some(bucket) = usize::try_from(index % len)
                .ok()
                .and_then(|i| self.buckets.get_mut(i))
            else {
                continue;
            };
            self.stats.remove(bucket.calls, bucket.failures, bucket.slow);
            *bucket = Bucket::default();
        }
        if current - self.head >= len {
            // Every slot was rewritten: nothing older remains.
            self.stats = WindowStats::default();
        }
        self.head = current;
        self.head_slot = usize::try_from(current % len).unwrap_or(0);
        self.head_end = current.saturating_add(1).saturating_mul(self.width);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = 1_000_000_000;

    #[test]
    fn count_window_keeps_the_last_n() {
        let mut w = CountWindow::new(4);
        for failed in [true, true, false, false] {
            w.record(failed, false);
        }
        assert_eq!(
            w.stats(),
            WindowStats {
                calls: 4,
                failures: 2,
                slow: 0
            }
        );
        w.record(false, true); // evicts the first failure
        assert_eq!(
            w.stats(),
            WindowStats {
                calls: 4,
                failures: 1,
                slow: 1
            }
        );
        for _ in 0..4 {
            w.record(true, false);
        }
        assert_eq!(
            w.stats(),
            WindowStats {
                calls: 4,
                failures: 4,
                slow: 0
            }
        );
        assert_eq!(w.stats().failure_rate(), 1.0);
        w.clear();
        assert_eq!(w.stats(), WindowStats::default());
    }

    #[test]
    fn time_window_expires_old_buckets() {
        let mut w = TimeWindow::new(Duration::from_secs(10));
        assert_eq!(w.buckets.len(), 10);
        w.record(0, true, false);
        w.record(SECOND / 2, false, false);
        w.record(5 * SECOND, true, true);
        assert_eq!(
            w.stats(9 * SECOND),
            WindowStats {
                calls: 3,
                failures: 2,
                slow: 1
            }
        );
        // At 10 s the bucket of second 0 leaves the window.
        assert_eq!(
            w.stats(10 * SECOND),
            WindowStats {
                calls: 1,
                failures: 1,
                slow: 1
            }
        );
        assert_eq!(w.stats(15 * SECOND), WindowStats::default());
        // Long idle: everything expires without walking every missed bucket.
        w.record(16 * SECOND, true, false);
        assert_eq!(w.stats(1_000_000 * SECOND), WindowStats::default());
        // A lagging reading counts in the newest bucket.
        w.record(3 * SECOND, false, false);
        assert_eq!(w.stats(1_000_000 * SECOND).calls, 1);
    }

    #[test]
    fn long_time_windows_use_at_most_60_buckets() {
        let w = TimeWindow::new(Duration::from_secs(3600));
        assert_eq!(w.buckets.len(), 60);
        assert_eq!(w.width, 60 * SECOND);
        let short = TimeWindow::new(Duration::from_millis(300));
        assert_eq!(short.buckets.len(), 1);
    }

    #[test]
    fn window_config_clamps() {
        assert_eq!(Window::last_calls(0).kind(), WindowKind::Calls(1));
        assert_eq!(Window::last_calls(5).minimum(), 5);
        assert_eq!(Window::last_calls(100).minimum_calls(500).minimum(), 100);
        assert_eq!(
            Window::last(Duration::ZERO).kind(),
            WindowKind::Time(Duration::from_secs(1))
        );
        assert_eq!(Window::last(Duration::from_secs(5)).minimum_calls(0).minimum(), 1);
    }
}
