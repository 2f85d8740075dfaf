//! `RateStore`: where GCRA quotas are counted, in this process or for a fleet.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::{BoxFuture, Deadline, Error};

/// One quota: `count` requests per `period`, `burst` of them back to back.
///
/// Counted with GCRA: requests are spaced `period / count` apart, and a
/// quiet key lets `burst` through at once. A zero count, period or burst is
/// read as the most restrictive value (1, 1 ms, 1).
///
/// ```
/// use std::time::Duration;
/// use conn_core::store::RateQuota;
///
/// let quota = RateQuota::new(2_500, Duration::from_secs(300)).burst(10);
/// assert_eq!(quota.interval(), Duration::from_millis(120));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RateQuota {
    count: u32,
    period: Duration,
    burst: u32,
}

impl RateQuota {
    /// `count` requests per `period`, no burst.
    pub fn new(count: u32, period: Duration) -> Self {
        RateQuota {
            count: count.max(1),
            period: period.max(Duration::from_millis(1)),
            burst: 1,
        }
    }

    /// Lets `burst` requests through back to back (at least 1).
    pub fn burst(mut self, burst: u32) -> Self {
        self.burst = burst.max(1);
        self
    }

    /// Requests per period.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The period the count is published for.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Requests allowed back to back.
    pub fn burst_size(&self) -> u32 {
        self.burst
    }

    /// The time between two requests at the steady rate (at least 1 ns).
    pub fn interval(&self) -> Duration {
        (self.period / self.count).max(Duration::from_nanos(1))
    }

    /// How far ahead of the steady schedule a burst may run.
    pub fn tolerance(&self) -> Duration {
        self.interval().saturating_mul(self.burst - 1)
    }

    /// The same quota shared by `replicas` processes: each gets its share of
    /// the count (at least 1) and of the burst. What a fleet falls back to
    /// when its shared store is unreachable.
    pub fn share(&self, replicas: u32) -> RateQuota {
        let replicas = replicas.max(1);
        RateQuota {
            count: (self.count / replicas).max(1),
            period: self.period,
            burst: (self.burst / replicas).max(1),
        }
    }
}

/// One admission asked of a [`RateStore`]: a key, its quotas, and how long
/// the caller may wait.
#[derive(Clone, Debug)]
pub struct RateRequest<'a> {
    /// The throttle key (connector, tenant, endpoint...), already namespaced
    /// by the caller; a store adds its own prefix.
    pub key: &'a str,
    /// Every quota of the key; all must admit.
    pub quotas: &'a [RateQuota],
    /// The longest the caller will wait for a reserved slot.
    pub max_wait: Duration,
    /// The call's deadline: a store's own I/O never outlasts it.
    pub deadline: Deadline,
}

impl<'a> RateRequest<'a> {
    /// A request for `key` under `quotas`, admitted only now (no wait) and
    /// without a deadline.
    pub fn new(key: &'a str, quotas: &'a [RateQuota]) -> Self {
        RateRequest {
            key,
            quotas,
            max_wait: Duration::ZERO,
            deadline: Deadline::NONE,
        }
    }

    /// Accepts a slot up to `max_wait` ahead.
    pub fn max_wait(mut self, max_wait: Duration) -> Self {
        self.max_wait = max_wait;
        self
    }

    /// Bounds the store's I/O by `deadline`.
    pub fn deadline(mut self, deadline: Deadline) -> Self {
        self.deadline = deadline;
        self
    }
}

/// A [`RateStore`]'s answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// A slot is reserved for the caller: go after `wait` (zero: now).
    Go {
        /// How long to wait before sending.
        wait: Duration,
    },
    /// The next slot is further than `max_wait` ahead: nothing was charged;
    /// capacity returns after `retry_after`.
    Refused {
        /// When to come back.
        retry_after: Duration,
    },
}

/// Which state answered an admission, for metrics and spans.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StoreMode {
    /// This process's own state (no fleet configured).
    Local,
    /// The fleet's shared store.
    Fleet,
    /// The shared store is unreachable; this process's share of the quota is
    /// counted locally (fail open).
    Fallback,
    /// The shared store is unreachable and the policy is to refuse (fail
    /// closed).
    Closed,
}

impl StoreMode {
    /// A short label: `local`, `fleet`, `fallback`, `closed`.
    pub fn label(self) -> &'static str {
        match self {
            StoreMode::Local => "local",
            StoreMode::Fleet => "fleet",
            StoreMode::Fallback => "fallback",
            StoreMode::Closed => "closed",
        }
    }
}

impl fmt::Display for StoreMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Counts GCRA quotas for keys and answers "admit now, or wait *d*".
///
/// An admission is a reservation: a store that answers
/// [`Admission::Go`] with a wait has already charged the slot, so the caller
/// sleeps and sends without asking again, and callers of several processes
/// sharing a store are spaced on one schedule. All quotas of a key are
/// checked and charged together, or none is.
///
/// A store must never block a call for long: a shared one bounds its I/O by
/// its own time limit and by [`RateRequest::deadline`], and applies its
/// failure policy when the backend is unreachable.
///
/// ```
/// use std::time::Duration;
/// use conn_core::store::{Admission, LocalRateStore, RateQuota, RateRequest, RateStore};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() -> Result<(), conn_core::Error> {
/// let store = LocalRateStore::new();
/// let quotas = [RateQuota::new(10, Duration::from_secs(1))];
/// let request = RateRequest::new("vendor", &quotas).max_wait(Duration::from_secs(1));
/// assert_eq!(store.admit(&request).await?, Admission::Go { wait: Duration::ZERO });
/// assert_eq!(store.admit(&request).await?, Admission::Go { wait: Duration::from_millis(100) });
/// # Ok(()) }
/// ```
pub trait RateStore: Send + Sync {
    /// Reserves a slot for `request.key` under every quota, or refuses.
    fn admit<'a>(&'a self, request: &'a RateRequest<'a>) -> BoxFuture<'a, Result<Admission, Error>>;

    /// Which state answers now (a shared store reports its fallback).
    fn mode(&self) -> StoreMode {
        StoreMode::Local
    }
}

/// The in-process [`RateStore`]: GCRA on tokio time (so a paused test clock
/// drives it), one entry per key, idle keys dropped as they expire.
///
/// Cheap to clone; clones share the counts.
#[derive(Clone, Default)]
pub struct LocalRateStore {
    keys: Arc<Mutex<Keys>>,
}

#[derive(Default)]
struct Keys {
    /// Theoretical arrival times per key and quota.
    tats: HashMap<Box<str>, Entry>,
    /// When the map was last swept for expired keys.
    swept: Option<Instant>,
}

struct Entry {
    tats: Vec<(RateQuota, Instant)>,
    /// After this the entry equals a fresh one and may be dropped.
    expires: Instant,
}

impl LocalRateStore {
    /// An empty store.
    pub fn new() -> Self {
        LocalRateStore::default()
    }

    /// How many keys hold state.
    pub fn key_count(&self) -> usize {
        self.lock().tats.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Keys> {
        // Every update is complete before the guard drops.
        self.keys.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The synchronous GCRA step, shared by the trait method.
    pub fn admit_now(&self, request: &RateRequest<'_>, now: Instant) -> Admission {
        let mut keys = self.lock();
        if keys
            .swept
            .is_none_or(|at| now.saturating_duration_since(at) >= Duration::from_secs(60))
        {
            keys.tats.retain(|_, entry| entry.expires > now);
            keys.swept = Some(now);
        }
        let entry = keys.tats.get(request.key);
        let tat_of = |quota: &RateQuota| {
            entry
                .and_then(|e| e.tats.iter().find(|(q, _)| q == quota))
                .map_or(now, |(_, tat)| (*tat).max(now))
        };
        // The earliest start every quota allows.
        let mut start = now;
        for quota in request.quotas {
            let allowed = tat_of(quota).checked_sub(quota.tolerance()).unwrap_or(now);
            start = start.max(allowed);
        }
        let wait = start - now;
        if wait > request.max_wait {
            return Admission::Refused { retry_after: wait };
        }
        let tats: Vec<(RateQuota, Instant)> = request
            .quotas
            .iter()
            .map(|quota| (*quota, tat_of(quota).max(start) + quota.interval()))
            .collect();
        let expires = tats.iter().map(|(_, tat)| *tat).max().unwrap_or(now);
        keys.tats.insert(request.key.into(), Entry { tats, expires });
        Admission::Go { wait }
    }
}

impl RateStore for LocalRateStore {
    fn admit<'a>(&'a self, request: &'a RateRequest<'a>) -> BoxFuture<'a, Result<Admission, Error>> {
        let admission = self.admit_now(request, Instant::now());
        Box::pin(std::future::ready(Ok(admission)))
    }
}

impl fmt::Debug for LocalRateStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalRateStore")
            .field("keys", &self.key_count())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[tokio::test(start_paused = true)]
    async fn bursts_then_spaces_and_refuses_past_max_wait() {
        let store = LocalRateStore::new();
        let quotas = [RateQuota::new(10, Duration::from_secs(1)).burst(3)];
        let request = RateRequest::new("k", &quotas).max_wait(ms(150));
        let now = Instant::now();
        for _ in 0..3 {
            assert_eq!(store.admit_now(&request, now), Admission::Go { wait: ms(0) });
        }
        assert_eq!(store.admit_now(&request, now), Admission::Go { wait: ms(100) });
        assert_eq!(
            store.admit_now(&request, now),
            Admission::Refused { retry_after: ms(200) },
            "past max_wait: refused, nothing charged"
        );
        assert_eq!(
            store.admit_now(&request, now + ms(100)),
            Admission::Go { wait: ms(100) }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn several_quotas_are_charged_together() {
        let store = LocalRateStore::new();
        let quotas = [
            RateQuota::new(10, Duration::from_secs(1)).burst(10),
            RateQuota::new(2, Duration::from_secs(60)).burst(2),
        ];
        let request = RateRequest::new("k", &quotas).max_wait(Duration::from_secs(600));
        let now = Instant::now();
        assert_eq!(store.admit_now(&request, now), Admission::Go { wait: ms(0) });
        assert_eq!(store.admit_now(&request, now), Admission::Go { wait: ms(0) });
        assert_eq!(
            store.admit_now(&request, now),
            Admission::Go {
                wait: Duration::from_secs(30)
            },
            "the per-minute quota binds"
        );
        let other = RateRequest::new("other", &quotas);
        assert_eq!(
            store.admit_now(&other, now),
            Admission::Go { wait: ms(0) },
            "keys are apart"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn idle_keys_expire() {
        let store = LocalRateStore::new();
        let quotas = [RateQuota::new(1, Duration::from_secs(1))];
        let request = RateRequest::new("k", &quotas);
        let now = Instant::now();
        store.admit_now(&request, now);
        assert_eq!(store.key_count(), 1);
        store.admit_now(&RateRequest::new("j", &quotas), now + Duration::from_secs(120));
        assert_eq!(store.key_count(), 1, "the idle key was swept");
    }

    #[test]
    fn shares_divide_count_and_burst() {
        let quota = RateQuota::new(100, Duration::from_secs(1)).burst(8);
        let share = quota.share(4);
        assert_eq!((share.count(), share.burst_size()), (25, 2));
        assert_eq!(RateQuota::new(2, Duration::from_secs(1)).share(8).count(), 1);
    }
}
