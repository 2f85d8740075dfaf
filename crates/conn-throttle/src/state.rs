//! `KeyState`: everything the throttle keeps for one key.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use conn_core::store::{Admission, RateQuota, RateRequest, RateStore};
use conn_core::{Deadline, Error, ErrorKind};
use governor::{
    RateLimiter, clock::Clock, middleware::NoOpMiddleware, state::InMemoryState, state::NotKeyed,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::adaptive::AdaptiveRate;
use crate::clock::TokioClock;
use crate::{Adaptive, Limit};

type Gcra = RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Duration>>;

/// Quotas, queue, concurrency slots, pause and learned rate of one key.
pub(crate) struct KeyState {
    limiters: Vec<Gcra>,
    /// Waiters line up here; tokio's mutex is FIFO, so arrival order is kept
    /// and nobody starves. Only the head of the line sleeps on a quota.
    queue: tokio::sync::Mutex<()>,
    in_flight: Option<Arc<Semaphore>>,
    /// The server said "no more until": a clock reading in nanoseconds, 0 for none.
    paused_until: AtomicU64,
    /// Last use, as a clock reading in nanoseconds, for idle eviction.
    last_used: AtomicU64,
    adaptive: Option<Mutex<AdaptiveRate>>,
    clock: TokioClock,
    /// The fleet's store of this key's quotas, if any (then `limiters` is
    /// empty: the quotas are counted there).
    fleet: Option<FleetQuota>,
}

/// This key's quotas as a shared store counts them.
pub(crate) struct FleetQuota {
    pub(crate) store: Arc<dyn RateStore>,
    /// The key in the store: namespace, policy and throttle key.
    pub(crate) key: String,
    pub(crate) quotas: Vec<RateQuota>,
}

/// What an attempt holds while it runs: its concurrency slot, and the key
/// state (so an in-use key is never evicted).
pub(crate) struct Slot {
    _permit: Option<OwnedSemaphorePermit>,
    _state: Arc<KeyState>,
}

/// Why a key cannot admit now, and for how long.
pub(crate) struct Busy {
    pub(crate) wait: Duration,
    pub(crate) reason: &'static str,
}

impl KeyState {
    pub(crate) fn new(
        limits: &[Limit],
        max_in_flight: Option<usize>,
        adaptive: Option<Adaptive>,
        clock: TokioClock,
        fleet: Option<FleetQuota>,
    ) -> Self {
        let local_limits = if fleet.is_some() { &[][..] } else { limits };
        KeyState {
            limiters: local_limits
                .iter()
                .map(|l| RateLimiter::direct_with_clock(l.quota(), clock))
                .collect(),
            queue: tokio::sync::Mutex::new(()),
            in_flight: max_in_flight.map(|n| Arc::new(Semaphore::new(n))),
            paused_until: AtomicU64::new(0),
            last_used: AtomicU64::new(0),
            adaptive: adaptive.map(|config| Mutex::new(AdaptiveRate::new(config))),
            clock,
            fleet,
        }
    }

    fn nanos(at: Duration) -> u64 {
        u64::try_from(at.as_nanos()).unwrap_or(u64::MAX)
    }

    pub(crate) fn touch(&self, now: Instant) {
        self.last_used
            .store(Self::nanos(self.clock.reading(now)), Ordering::Relaxed);
    }

    pub(crate) fn idle_for(&self) -> Duration {
        self.clock
            .now()
            .saturating_sub(Duration::from_nanos(self.last_used.load(Ordering::Relaxed)))
    }

    /// No call for this key before `until` (a later pause wins).
    pub(crate) fn pause_until(&self, until: Instant) {
        let reading = Self::nanos(self.clock.reading(until)).max(1);
        self.paused_until.fetch_max(reading, Ordering::Relaxed);
    }

    /// How long the server-driven pause still lasts.
    pub(crate) fn pause_remaining(&self, now: Instant) -> Duration {
        match self.paused_until.load(Ordering::Relaxed) {
            0 => Duration::ZERO,
            until => self
                .clock
                .instant(Duration::from_nanos(until))
                .saturating_duration_since(now),
        }
    }

    pub(crate) fn on_throttle_signal(&self, now: Instant) {
        if let Some(adaptive) = &self.adaptive {
            adaptive
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .on_throttle(now);
        }
    }

    pub(crate) fn is_adaptive(&self) -> bool {
        self.adaptive.is_some()
    }

    /// Admits now or says how long to wait, without queueing.
    ///
    /// Limits are checked in order and only the ones not yet passed are
    /// checked again (`passed`), so a caller that waits for the second limit
    /// does not take the first limit's capacity twice.
    fn try_rates(&self, now: Instant, passed: &mut usize) -> Result<(), Busy> {
        let paused = self.pause_remaining(now);
        if !paused.is_zero() {
            return Err(Busy {
                wait: paused,
                reason: "the API said its quota is exhausted",
            });
        }
        while let Some(limiter) = self.limiters.get(*passed) {
            match limiter.check() {
                Ok(()) => *passed += 1,
                Err(not_until) => {
                    let wait = not_until.wait_time_from(self.clock.now());
                    return Err(Busy {
                        wait,
                        reason: "rate limit reached",
                    });
                }
            }
        }
        if let Some(adaptive) = &self.adaptive {
            let wait = adaptive.lock().unwrap_or_else(|e| e.into_inner()).reserve(now);
            if !wait.is_zero() {
                return Err(Busy {
                    wait,
                    reason: "adaptive rate limit (the API answered 429)",
                });
            }
        }
        Ok(())
    }

    /// Waits in line for the quotas, then for a concurrency slot, giving up
    /// with a rate-limited error if that would take past `give_up_at`.
    pub(crate) async fn admit(
        self: &Arc<Self>,
        now: Instant,
        give_up_at: Option<Instant>,
        deadline: Deadline,
    ) -> Result<Slot, Error> {
        // Nobody in line (the common case): no timer is armed.
        let queue = match (self.queue.try_lock(), give_up_at) {
            (Ok(queue), _) => queue,
            (Err(_), Some(at)) => tokio::time::timeout_at(at, self.queue.lock())
                .await
                .map_err(|_| rate_limited(Duration::ZERO, "the throttle queue did not move in time"))?,
            (Err(_), None) => self.queue.lock().await,
        };
        let mut passed = 0;
        let mut now = now;
        loop {
            match self.try_rates(now, &mut passed) {
                Ok(()) => break,
                Err(busy) => {
                    if give_up_at.is_some_and(|at| now.checked_add(busy.wait).is_none_or(|end| end > at)) {
                        return Err(rate_limited(busy.wait, busy.reason));
                    }
                    tokio::time::sleep(busy.wait).await;
                    now = Instant::now();
                }
            }
        }
        // The fleet's answer is a reservation already charged in the shared
        // store, so the line can move on while it travels: holding the queue
        // across the round trip would admit one call per round trip per key.
        drop(queue);
        self.admit_in_fleet(now, give_up_at, deadline).await?;
        let permit = match &self.in_flight {
            None => None,
            Some(slots) => {
                if let Ok(permit) = slots.clone().try_acquire_owned() {
                    return Ok(Slot {
                        _permit: Some(permit),
                        _state: self.clone(),
                    });
                }
                let acquire = slots.clone().acquire_owned();
                let permit = match give_up_at {
                    Some(at) => tokio::time::timeout_at(at, acquire)
                        .await
                        .map_err(|_| rate_limited(Duration::ZERO, "no concurrency slot freed in time"))?,
                    None => acquire.await,
                };
                // The semaphore is never closed, so acquiring cannot fail.
                permit.ok()
            }
        };
        Ok(Slot {
            _permit: permit,
            _state: self.clone(),
        })
    }

    /// Admits at once or fails with a rate-limited error saying when to come
    /// back (reject mode). With a fleet store, its answer is awaited (a
    /// Redis round trip, bounded by its time limit), never a wait for capacity.
    pub(crate) async fn admit_now(self: &Arc<Self>, now: Instant, deadline: Deadline) -> Result<Slot, Error> {
        let queue = self
            .queue
            .try_lock()
            .map_err(|_| rate_limited(Duration::ZERO, "other calls are waiting for this quota"))?;
        let mut passed = 0;
        self.try_rates(now, &mut passed)
            .map_err(|busy| rate_limited(busy.wait, busy.reason))?;
        drop(queue);
        self.admit_in_fleet(now, Some(now), deadline).await?;
        self.take_slot_now()
    }

    /// The fleet's part of an admission: a slot reserved in the shared store
    /// (asked for after the local line, so each call's place in the fleet is
    /// the order its reservation reached the store), or a refusal saying when
    /// capacity returns.
    async fn admit_in_fleet(
        &self,
        now: Instant,
        give_up_at: Option<Instant>,
        deadline: Deadline,
    ) -> Result<(), Error> {
        let Some(fleet) = &self.fleet else {
            return Ok(());
        };
        let max_wait = give_up_at.map_or(Duration::MAX, |at| at.saturating_duration_since(now));
        let request = RateRequest::new(&fleet.key, &fleet.quotas)
            .max_wait(max_wait)
            .deadline(deadline);
        let admission = fleet.store.admit(&request).await;
        tracing::Span::current().record("conn.fleet.mode", fleet.store.mode().label());
        match admission? {
            Admission::Go { wait } => {
                if !wait.is_zero() {
                    tokio::time::sleep(wait).await;
                }
                Ok(())
            }
            Admission::Refused { retry_after } => Err(rate_limited(retry_after, "fleet rate limit reached")),
        }
    }

    /// A slot at once when every check passes without waiting and without
    /// charging anything it would have to undo: no fleet (an async round
    /// trip), no adaptive limit (which reserves as it answers), at most one
    /// rate limit (a second could refuse after the first was charged), a
    /// free concurrency slot. `None`: take the async path, which starts over.
    pub(crate) fn try_admit_at_once(self: &Arc<Self>, now: Instant) -> Option<Slot> {
        if self.fleet.is_some() || self.adaptive.is_some() || self.limiters.len() > 1 {
            return None;
        }
        // The slot first: given back untouched if a rate then refuses,
        // whereas a rate, once charged, cannot be.
        let permit = match &self.in_flight {
            None => None,
            Some(slots) => Some(slots.clone().try_acquire_owned().ok()?),
        };
        let queue = self.queue.try_lock().ok()?;
        let mut passed = 0;
        self.try_rates(now, &mut passed).ok()?;
        drop(queue);
        Some(Slot {
            _permit: permit,
            _state: self.clone(),
        })
    }

    fn take_slot_now(self: &Arc<Self>) -> Result<Slot, Error> {
        let permit = match &self.in_flight {
            None => None,
            Some(slots) => Some(
                slots
                    .clone()
                    .try_acquire_owned()
                    .map_err(|_| rate_limited(Duration::ZERO, "the concurrency ceiling is reached"))?,
            ),
        };
        Ok(Slot {
            _permit: permit,
            _state: self.clone(),
        })
    }
}

fn rate_limited(wait: Duration, reason: &'static str) -> Error {
    let message = if wait.is_zero() {
        format!("throttled: {reason}")
    } else {
        format!("throttled: {reason}; capacity returns in {} ms", wait.as_millis())
    };
    let err = Error::new(ErrorKind::RateLimited, message);
    if wait.is_zero() {
        err
    } else {
        err.with_retry_after(wait)
    }
}

/// Read-only inspection for `Throttler::key_snapshots`: nothing here takes
/// capacity or waits.
impl KeyState {
    /// Concurrency slots in use, out of `max`.
    pub(crate) fn slots_in_use(&self, max: usize) -> Option<usize> {
        self.in_flight
            .as_ref()
            .map(|slots| max.saturating_sub(slots.available_permits()))
    }

    /// Whether a call holds the queue (the head of the line waiting for a
    /// quota, or admitting now).
    pub(crate) fn is_queued(&self) -> bool {
        self.queue.try_lock().is_err()
    }
}
