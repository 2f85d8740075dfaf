//! `RedisRateStore`: GCRA quotas a fleet shares, one atomic Lua script per
//! admission, on Redis's own clock.

use std::fmt;
use std::sync::LazyLock;
use std::time::Duration;

use conn_core::store::{Admission, LocalRateStore, RateQuota, RateRequest, RateStore, StoreMode};
use conn_core::{BoxFuture, Error, ErrorKind};
use redis::Script;
use tokio::time::Instant;

use crate::{FailurePolicy, Fleet};

/// Retry hint of a refusal while Redis is down and the policy fails closed.
const CLOSED_RETRY_AFTER: Duration = Duration::from_millis(500);

/// Counter of admissions answered without Redis, by mode (`fallback`, `closed`).
pub const FLEET_DEGRADED_TOTAL: &str = "conn_fleet_degraded_admissions_total";

/// GCRA with reservations over every quota of one key, atomically.
///
/// KEYS[1]: the key's hash (one field per quota: its theoretical arrival
/// time, microseconds on Redis's clock). ARGV[1]: the longest wait the
/// caller accepts (µs); then per quota: interval (µs), burst tolerance (µs),
/// field name. Returns `{1, wait}` with the slot charged on every quota, or
/// `{0, wait}` with nothing charged. `TIME` is Redis's clock, so the
/// replicas' clocks never matter; the key expires when its state would
/// equal a fresh one, so idle keys leave by themselves.
const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local max_wait = tonumber(ARGV[1])
local n = (#ARGV - 1) / 3
local fields = {}
for i = 1, n do fields[i] = ARGV[3 * i + 1] end
local stored = redis.call('HMGET', KEYS[1], unpack(fields))
local start = now
local tats = {}
for i = 1, n do
  local tat = tonumber(stored[i]) or now
  if tat < now then tat = now end
  tats[i] = tat
  local allowed = tat - tonumber(ARGV[3 * i])
  if allowed > start then start = allowed end
end
local wait = start - now
if wait > max_wait then return {0, wait} end
local horizon = 0
for i = 1, n do
  local tat = tats[i]
  if tat < start then tat = start end
  tat = tat + tonumber(ARGV[3 * i - 1])
  redis.call('HSET', KEYS[1], fields[i], string.format('%.0f', tat))
  if tat - now > horizon then horizon = tat - now end
end
redis.call('PEXPIRE', KEYS[1], math.ceil(horizon / 1000) + 1000)
return {1, wait}
";

static SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(GCRA));

/// A [`RateStore`] in Redis: every replica of a fleet draws from one quota.
///
/// - **Exact** while Redis answers: one Lua script per admission checks and
///   charges every quota of the key together, on Redis's clock (`TIME`), so
///   4 replicas × 64 callers on 100/s send 100/s between them.
/// - **Cluster-ready**: one key per throttle key, hash-tagged, so a script
///   never spans slots and tenants spread over the masters.
/// - **TTL** on every key, set to when its state equals a fresh one: idle
///   keys leave; a live key is never older than its TTL.
/// - **Never hangs**: every operation is bounded by the fleet's operation
///   time limit and the call's deadline; on failure the
///   [`FailurePolicy`] answers.
///
/// ```no_run
/// use std::sync::Arc;
/// use conn_redis::{FailurePolicy, Fleet, FleetConfig, RedisRateStore};
///
/// # async fn run() -> Result<(), conn_core::Error> {
/// let fleet = Fleet::connect(FleetConfig::new("redis://10.0.0.5:6379").key_prefix("sync")).await?;
/// let store = Arc::new(RedisRateStore::new(fleet, FailurePolicy::fail_open(4)));
/// // conn_throttle::Throttler::builder().rate_store(store)...
/// # let _ = store; Ok(()) }
/// ```
pub struct RedisRateStore {
    fleet: Fleet,
    policy: FailurePolicy,
    local: LocalRateStore,
}

impl RedisRateStore {
    /// A store on `fleet` with `policy` for when Redis does not answer.
    pub fn new(fleet: Fleet, policy: FailurePolicy) -> Self {
        RedisRateStore {
            fleet,
            policy,
            local: LocalRateStore::new(),
        }
    }

    /// The failure policy.
    pub fn policy(&self) -> FailurePolicy {
        self.policy
    }

    async fn admit_in_redis(&self, request: &RateRequest<'_>) -> Result<Admission, Error> {
        let key = self.fleet.keys().rate(request.key);
        let mut invocation = SCRIPT.prepare_invoke();
        invocation.key(key).arg(micros(request.max_wait));
        for quota in request.quotas {
            invocation
                .arg(micros(quota.interval()).max(1))
                .arg(micros(quota.tolerance()))
                .arg(field(quota));
        }
        let (admitted, wait): (i64, i64) = self.fleet.invoke(&invocation, request.deadline).await?;
        let wait = Duration::from_micros(u64::try_from(wait).unwrap_or(0));
        Ok(if admitted == 1 {
            Admission::Go { wait }
        } else {
            Admission::Refused { retry_after: wait }
        })
    }

    fn degraded(&self, request: &RateRequest<'_>) -> Result<Admission, Error> {
        match self.policy {
            FailurePolicy::FailOpen { replicas } => {
                metrics::counter!(FLEET_DEGRADED_TOTAL, "mode" => "fallback").increment(1);
                let shares: Vec<RateQuota> = request.quotas.iter().map(|q| q.share(replicas)).collect();
                let local = RateRequest {
                    quotas: &shares,
                    ..request.clone()
                };
                Ok(self.local.admit_now(&local, Instant::now()))
            }
            FailurePolicy::FailClosed => {
                metrics::counter!(FLEET_DEGRADED_TOTAL, "mode" => "closed").increment(1);
                Err(Error::new(
                    ErrorKind::RateLimited,
                    "throttled: the fleet quota store (Redis) does not answer and the policy is fail-closed",
                )
                .with_retry_after(CLOSED_RETRY_AFTER))
            }
        }
    }
}

impl RateStore for RedisRateStore {
    fn admit<'a>(&'a self, request: &'a RateRequest<'a>) -> BoxFuture<'a, Result<Admission, Error>> {
        Box::pin(async move {
            if request.quotas.is_empty() {
                return Ok(Admission::Go { wait: Duration::ZERO });
            }
            match self.admit_in_redis(request).await {
                Ok(admission) => Ok(admission),
                Err(_) => self.degraded(request),
            }
        })
    }

    fn mode(&self) -> StoreMode {
        match (self.fleet.is_up(), self.policy) {
            (true, _) => StoreMode::Fleet,
            (false, FailurePolicy::FailOpen { .. }) => StoreMode::Fallback,
            (false, FailurePolicy::FailClosed) => StoreMode::Closed,
        }
    }
}

impl fmt::Debug for RedisRateStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisRateStore")
            .field("fleet", &self.fleet)
            .field("policy", &self.policy)
            .field("mode", &self.mode())
            .finish()
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// The hash field of a quota: its parameters, so a changed quota starts
/// fresh instead of reading another quota's state.
fn field(quota: &RateQuota) -> String {
    format!(
        "{}/{}/{}",
        quota.count(),
        micros(quota.period()),
        quota.burst_size()
    )
}
