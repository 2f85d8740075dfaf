//! `Throttler`: the `Throttle` implementation and its builder.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use conn_core::store::RateStore;
use conn_core::{AttemptOutcome, BoxFuture, CallInfo, Error, Permit, Throttle};
use dashmap::DashMap;
use governor::clock::Clock;
use tokio::time::Instant;

use crate::clock::TokioClock;
use crate::state::{FleetQuota, KeyState};
use crate::{Adaptive, EndpointPolicy, KeyBy, Limit};

/// What a throttle does when a key has no capacity now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Queue in arrival order, up to `max_wait` and never past the call's
    /// deadline; a wait that would end later fails at once with a
    /// rate-limited error saying when capacity returns.
    Wait {
        /// The longest a call waits for capacity.
        max_wait: Duration,
    },
    /// Fail at once with a rate-limited error saying when capacity returns.
    Reject,
}

impl Default for Mode {
    fn default() -> Self {
        Mode::Wait {
            max_wait: Duration::from_secs(30),
        }
    }
}

/// conn's throttle: rate limits, a concurrency ceiling, FIFO queueing,
/// server-driven pauses and an optional adaptive rate, per key.
///
/// Cheap to clone; clones share all state, so one `Throttler` given to
/// several connectors enforces one quota across all of them.
#[derive(Clone)]
pub struct Throttler {
    shared: Arc<Shared>,
}

/// What a throttle was configured with: the builder fills it, the throttle keeps it.
#[derive(Clone, Debug)]
struct Settings {
    limits: Vec<Limit>,
    max_in_flight: Option<usize>,
    key_by: KeyBy,
    mode: Mode,
    adaptive: Option<Adaptive>,
    honour_hints: bool,
    idle_timeout: Duration,
    policies: Vec<EndpointPolicy>,
    store: Option<FleetStore>,
}

/// The fleet's rate store and this throttle's namespace in it.
#[derive(Clone)]
struct FleetStore {
    store: Arc<dyn RateStore>,
    namespace: String,
}

impl std::fmt::Debug for FleetStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FleetStore")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

/// Separates the policy from the throttle key in a state's key; it cannot
/// appear in a validated endpoint or a tenant id.
const POLICY_SEPARATOR: char = '\u{1e}';

struct Shared {
    settings: Settings,
    keys: DashMap<Arc<str>, Arc<KeyState>>,
    clock: TokioClock,
    /// Clock reading (ns) of the last eviction sweep.
    last_sweep: AtomicU64,
}

impl Throttler {
    /// Starts from: no rate limit, no concurrency ceiling, one global key,
    /// wait mode (30 s at most), server hints honoured, keys evicted after
    /// 10 minutes idle.
    pub fn builder() -> ThrottlerBuilder {
        ThrottlerBuilder {
            settings: Settings {
                limits: Vec::new(),
                max_in_flight: None,
                key_by: KeyBy::Global,
                mode: Mode::default(),
                adaptive: None,
                honour_hints: true,
                idle_timeout: Duration::from_secs(600),
                policies: Vec::new(),
                store: None,
            },
        }
    }

    /// The number of keys currently held.
    pub fn key_count(&self) -> usize {
        self.shared.keys.len()
    }

    /// Removes keys idle for longer than the idle timeout that no attempt
    /// holds and no caller waits on; returns how many were removed. Runs by
    /// itself every half idle timeout as calls arrive; call it to force a sweep.
    pub fn evict_idle(&self) -> usize {
        let shared = &self.shared;
        shared
            .last_sweep
            .store(nanos(shared.clock.now()), Ordering::Relaxed);
        let before = shared.keys.len();
        // strong_count == 1: only the map holds it, so no permit or waiter uses it.
        shared.keys.retain(|_, state| {
            Arc::strong_count(state) > 1 || state.idle_for() < shared.settings.idle_timeout
        });
        shared.keys.shrink_to_fit();
        before - shared.keys.len()
    }

    /// How long calls of `key` are paused by the server, if they are.
    pub fn paused_for(&self, key: &str) -> Option<Duration> {
        let state = self.shared.keys.get(key)?.value().clone();
        let remaining = state.pause_remaining(Instant::now());
        (!remaining.is_zero()).then_some(remaining)
    }

    /// The first policy matching the call (`None`: the catch-all limits).
    fn policy(&self, call: &CallInfo<'_>) -> Option<&EndpointPolicy> {
        let (method, path) = (call.request.method(), call.request.path());
        self.shared
            .settings
            .policies
            .iter()
            .find(|p| p.matches(method, path))
    }

    /// The state key of `key` under `policy`: the key itself for the
    /// catch-all (so `paused_for(key)` keeps its meaning), prefixed by the
    /// policy's name otherwise.
    fn state_key<'k>(policy: Option<&EndpointPolicy>, key: &'k str) -> std::borrow::Cow<'k, str> {
        match policy {
            None => std::borrow::Cow::Borrowed(key),
            Some(policy) => std::borrow::Cow::Owned(format!("{}{POLICY_SEPARATOR}{key}", policy.name())),
        }
    }

    /// The state of the key `call` falls under (swept of idle keys now and then).
    fn call_state(&self, call: &CallInfo<'_>, now: Instant) -> Arc<KeyState> {
        self.maybe_sweep(now);
        let policy = self.policy(call);
        let key = self.shared.settings.key_by.key(call);
        self.state(policy, &Self::state_key(policy, &key), now)
    }

    fn state(&self, policy: Option<&EndpointPolicy>, key: &str, now: Instant) -> Arc<KeyState> {
        let shared = &self.shared;
        let state = match shared.keys.get(key) {
            Some(state) => state.value().clone(),
            None => shared
                .keys
                .entry(Arc::from(key))
                .or_insert_with(|| {
                    let limits = policy.map_or(&shared.settings.limits[..], EndpointPolicy::limits);
                    let fleet = shared.settings.store.as_ref().map(|fleet| FleetQuota {
                        store: fleet.store.clone(),
                        key: format!("{}\u{1f}{key}", fleet.namespace),
                        quotas: limits.iter().map(Limit::rate_quota).collect(),
                    });
                    Arc::new(KeyState::new(
                        limits,
                        shared.settings.max_in_flight,
                        shared.settings.adaptive,
                        shared.clock,
                        fleet,
                    ))
                })
                .value()
                .clone(),
        };
        state.touch(now);
        state
    }

    fn maybe_sweep(&self, now: Instant) {
        let shared = &self.shared;
        let last = Duration::from_nanos(shared.last_sweep.load(Ordering::Relaxed));
        if shared.clock.reading(now).saturating_sub(last) >= shared.settings.idle_timeout / 2 {
            let removed = self.evict_idle();
            tracing::debug!(removed, keys = shared.keys.len(), "throttle keys evicted");
        }
    }
}

fn nanos(at: Duration) -> u64 {
    u64::try_from(at.as_nanos()).unwrap_or(u64::MAX)
}

impl std::fmt::Debug for Throttler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shared = &self.shared;
        f.debug_struct("Throttler")
            .field("limits", &shared.settings.limits)
            .field("max_in_flight", &shared.settings.max_in_flight)
            .field("key_by", &shared.settings.key_by)
            .field("mode", &shared.settings.mode)
            .field("adaptive", &shared.settings.adaptive)
            .field("policies", &shared.settings.policies)
            .field("store", &shared.settings.store)
            .field("keys", &shared.keys.len())
            .finish_non_exhaustive()
    }
}

impl Throttle for Throttler {
    fn acquire<'a>(&'a self, call: &'a CallInfo<'a>) -> BoxFuture<'a, Result<Permit, Error>> {
        let now = Instant::now();
        let state = self.call_state(call, now);
        Box::pin(async move {
            let slot = match self.shared.settings.mode {
                Mode::Reject => state.admit_now(now, call.deadline).await?,
                Mode::Wait { max_wait } => {
                    let give_up_at = call.deadline.earliest(now.checked_add(max_wait));
                    state.admit(now, give_up_at.instant(), call.deadline).await?
                }
            };
            Ok(Permit::new(slot))
        })
    }

    fn try_acquire(&self, call: &CallInfo<'_>) -> Option<Result<Permit, Error>> {
        let now = Instant::now();
        let slot = self.call_state(call, now).try_admit_at_once(now)?;
        Some(Ok(Permit::new(slot)))
    }

    fn observe(&self, call: &CallInfo<'_>, outcome: &AttemptOutcome<'_>) {
        let shared = &self.shared;
        let throttled = outcome
            .status()
            .is_some_and(|s| s == http::StatusCode::TOO_MANY_REQUESTS);
        let pause = if !shared.settings.honour_hints {
            None
        } else if throttled {
            outcome.hints.wait()
        } else {
            outcome.hints.exhausted_for()
        };
        if pause.is_none() && !throttled {
            return;
        }
        let key = shared.settings.key_by.key(call);
        let key = Self::state_key(self.policy(call), &key);
        let Some(state) = shared.keys.get(&*key).map(|s| s.value().clone()) else {
            return;
        };
        let now = Instant::now();
        if let Some(pause) = pause.filter(|p| !p.is_zero())
            && let Some(until) = now.checked_add(pause)
        {
            state.pause_until(until);
            tracing::debug!(key = %key, pause_ms = pause.as_millis() as u64, "throttle paused by the server");
        }
        if throttled && state.is_adaptive() {
            state.on_throttle_signal(now);
        }
    }
}

/// Configures a [`Throttler`].
#[derive(Clone, Debug)]
pub struct ThrottlerBuilder {
    settings: Settings,
}

impl ThrottlerBuilder {
    /// Adds a rate limit; several limits apply together.
    pub fn limit(mut self, limit: Limit) -> Self {
        self.settings.limits.push(limit);
        self
    }

    /// Quotas for the endpoints a policy matches (method and path pattern),
    /// checked in the order added, first match wins; calls no policy
    /// matches get the limits of [`limit`](Self::limit) (the catch-all).
    /// Each policy's quotas are counted apart, per key.
    pub fn policy(mut self, policy: EndpointPolicy) -> Self {
        self.settings.policies.push(policy);
        self
    }

    /// Counts the rate limits in a shared store (a fleet's, e.g.
    /// `conn_redis::RedisRateStore`) instead of in this process, under
    /// `namespace` (the connector's name, or the name of a quota several
    /// connectors share). The concurrency ceiling, the FIFO queue, server
    /// pauses and the adaptive rate stay local and compose with the fleet
    /// quota. Without a store, the limits are counted in this process.
    pub fn rate_store(mut self, store: Arc<dyn RateStore>, namespace: impl Into<String>) -> Self {
        self.settings.store = Some(FleetStore {
            store,
            namespace: namespace.into(),
        });
        self
    }

    /// At most `max` attempts in flight per key (at least 1).
    pub fn max_in_flight(mut self, max: usize) -> Self {
        self.settings.max_in_flight = Some(max.max(1));
        self
    }

    /// How calls are grouped into keys (default: one global key).
    pub fn key_by(mut self, key_by: KeyBy) -> Self {
        self.settings.key_by = key_by;
        self
    }

    /// Wait or reject (default: wait up to 30 s).
    pub fn mode(mut self, mode: Mode) -> Self {
        self.settings.mode = mode;
        self
    }

    /// Learns a rate from 429s (off by default).
    pub fn adaptive(mut self, adaptive: Adaptive) -> Self {
        self.settings.adaptive = Some(adaptive);
        self
    }

    /// Whether `remaining = 0` + reset and 429 + `Retry-After` pause the key
    /// (default: yes).
    pub fn honour_server_hints(mut self, honour: bool) -> Self {
        self.settings.honour_hints = honour;
        self
    }

    /// How long a key stays unused before it may be evicted (default 10 min).
    /// Never shorter than the longest limit's period, so eviction cannot
    /// hand out a fresh burst early.
    pub fn idle_timeout(mut self, idle: Duration) -> Self {
        self.settings.idle_timeout = idle;
        self
    }

    /// Builds the throttle.
    pub fn build(self) -> Throttler {
        let mut settings = self.settings;
        let longest = settings
            .limits
            .iter()
            .chain(settings.policies.iter().flat_map(|p| p.limits()))
            .map(Limit::period)
            .max()
            .unwrap_or_default();
        settings.idle_timeout = settings.idle_timeout.max(longest).max(Duration::from_millis(1));
        Throttler {
            shared: Arc::new(Shared {
                settings,
                keys: DashMap::new(),
                clock: TokioClock::new(),
                last_sweep: AtomicU64::new(0),
            }),
        }
    }
}

/// Read-only inspection for operators (the gateway's state answer).
impl Throttler {
    /// Every key held now, sorted by policy and key: its server-driven
    /// pause, concurrency slots in use and whether calls are queued. Takes
    /// no capacity and waits for nothing; with many keys, it is as long as
    /// [`key_count`](Self::key_count).
    pub fn key_snapshots(&self) -> Vec<crate::KeySnapshot> {
        let shared = &self.shared;
        let now = Instant::now();
        let mut snapshots: Vec<crate::KeySnapshot> = shared
            .keys
            .iter()
            .map(|entry| {
                let (policy, key) = match entry.key().split_once(POLICY_SEPARATOR) {
                    Some((policy, key)) => (Some(policy.to_owned()), key.to_owned()),
                    None => (None, entry.key().to_string()),
                };
                let state = entry.value();
                let paused = state.pause_remaining(now);
                crate::KeySnapshot {
                    key,
                    policy,
                    paused_for: (!paused.is_zero()).then_some(paused),
                    in_flight: shared
                        .settings
                        .max_in_flight
                        .and_then(|max| state.slots_in_use(max)),
                    queued: state.is_queued(),
                    idle_for: state.idle_for(),
                }
            })
            .collect();
        snapshots.sort_by(|a, b| (&a.policy, &a.key).cmp(&(&b.policy, &b.key)));
        snapshots
    }
}
