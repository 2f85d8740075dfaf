//! `RedisSignal`: breaker overrides and opened circuits, shared by a fleet
//! through Redis and mirrored in memory.

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, LazyLock, Mutex, Weak};
use std::time::Duration;

use conn_core::store::{BreakerSignal, LocalSignal, OperatorState};
use conn_core::{BoxFuture, Deadline, Error};
use redis::Script;

use crate::Fleet;

/// How long an operator override lives in Redis without being set again.
const OVERRIDE_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// Records that circuit ARGV[1] opened for ARGV[2] ms, on Redis's clock.
const ANNOUNCE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local untill = now + tonumber(ARGV[2])
local old = tonumber(redis.call('HGET', KEYS[1], ARGV[1])) or 0
if untill > old then redis.call('HSET', KEYS[1], ARGV[1], string.format('%.0f', untill)) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1
";

/// The override (KEYS[1]) and the circuits still open (KEYS[2]) with the
/// milliseconds each has left; expired entries are dropped.
const READ: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('GET', KEYS[1])
local out = {}
local all = redis.call('HGETALL', KEYS[2])
for i = 1, #all, 2 do
  local left = tonumber(all[i + 1]) - now
  if left > 0 then
    out[#out + 1] = all[i]
    out[#out + 1] = left
  else
    redis.call('HDEL', KEYS[2], all[i])
  end
end
return {state, out}
";

/// What the read script answers: the override, and each open circuit with
/// its milliseconds left.
type Snapshot = (Option<String>, Vec<(String, u64)>);

static ANNOUNCE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(ANNOUNCE));
static READ_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(READ));

/// A [`BreakerSignal`] shared through Redis.
///
/// An operator's force-open / force-close / disable written on one replica
/// reaches every replica within one poll interval (default 250 ms): each
/// replica polls the connectors it has been asked about and answers
/// [`operator_state`](BreakerSignal::operator_state) from memory, so a
/// breaker's `admit` never waits on Redis. While Redis is down the last
/// known state stays in force.
///
/// With [`announce_opens`](Self::announce_opens) (off by default) a circuit
/// that opens on one replica is announced with its open duration, and the
/// others see it in [`opened_elsewhere`](BreakerSignal::opened_elsewhere).
///
/// Must be created inside a tokio runtime (it spawns its poller, which stops
/// when the signal is dropped).
#[derive(Clone)]
pub struct RedisSignal {
    inner: Arc<Inner>,
}

struct Inner {
    fleet: Fleet,
    mirror: LocalSignal,
    watched: Mutex<HashSet<String>>,
    announce: bool,
}

impl RedisSignal {
    /// A signal on `fleet`, polled every 250 ms, announcements off.
    pub fn new(fleet: Fleet) -> Self {
        RedisSignal::with_options(fleet, Duration::from_millis(250), false)
    }

    /// A signal polled every `poll_interval`, announcing opened circuits
    /// when `announce_opens`.
    pub fn with_options(fleet: Fleet, poll_interval: Duration, announce_opens: bool) -> Self {
        let inner = Arc::new(Inner {
            fleet,
            mirror: LocalSignal::new(),
            watched: Mutex::new(HashSet::new()),
            announce: announce_opens,
        });
        tokio::spawn(poll(
            Arc::downgrade(&inner),
            poll_interval.max(Duration::from_millis(10)),
        ));
        RedisSignal { inner }
    }

    /// Whether opened circuits are announced (see the type's docs).
    pub fn announce_opens(&self) -> bool {
        self.inner.announce
    }

    /// Starts following `connector` (reads do it by themselves).
    pub fn watch(&self, connector: &str) {
        let mut watched = self.inner.watched.lock().unwrap_or_else(|e| e.into_inner());
        if !watched.contains(connector) {
            watched.insert(connector.to_owned());
        }
    }
}

async fn poll(inner: Weak<Inner>, every: Duration) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let Some(inner) = inner.upgrade() else {
            return;
        };
        let connectors: Vec<String> = inner
            .watched
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect();
        for connector in connectors {
            let keys = inner.fleet.keys();
            let mut invocation = READ_SCRIPT.prepare_invoke();
            invocation
                .key(keys.signal(&connector, "state"))
                .key(keys.signal(&connector, "opened"));
            let read: Result<Snapshot, Error> = inner.fleet.invoke(&invocation, Deadline::NONE).await;
            let Ok((state, opened)) = read else {
                // Redis is down: the last known states stay in force.
                break;
            };
            let state = state
                .as_deref()
                .and_then(OperatorState::from_label)
                .unwrap_or_default();
            inner.mirror.set_local(&connector, state);
            if inner.announce {
                for (key, left_ms) in opened {
                    inner
                        .mirror
                        .opened_local(&connector, &key, Duration::from_millis(left_ms));
                }
            }
        }
    }
}

impl BreakerSignal for RedisSignal {
    fn operator_state(&self, connector: &str) -> OperatorState {
        self.watch(connector);
        self.inner.mirror.operator_state(connector)
    }

    fn set_operator_state<'a>(
        &'a self,
        connector: &'a str,
        state: OperatorState,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            self.watch(connector);
            let key = self.inner.fleet.keys().signal(connector, "state");
            let cmd = if state == OperatorState::Auto {
                redis::cmd("DEL").arg(&key).to_owned()
            } else {
                redis::cmd("SET")
                    .arg(&key)
                    .arg(state.label())
                    .arg("PX")
                    .arg(OVERRIDE_TTL.as_millis() as u64)
                    .to_owned()
            };
            // An operator's command gets more time than a call's operation.
            let deadline = Deadline::after(Duration::from_secs(2));
            self.inner.fleet.query::<()>(&cmd, deadline).await?;
            self.inner.mirror.set_local(connector, state);
            tracing::warn!(
                target: "conn_redis",
                connector,
                state = state.label(),
                "breaker override set for the fleet"
            );
            Ok(())
        })
    }

    fn announce_open(&self, connector: &str, key: &str, open_for: Duration) {
        if !self.inner.announce {
            return;
        }
        let inner = self.inner.clone();
        let redis_key = inner.fleet.keys().signal(connector, "opened");
        let circuit = key.to_owned();
        let ms = u64::try_from(open_for.as_millis()).unwrap_or(u64::MAX).max(1);
        // Fire and forget: the breaker that opened does not wait on Redis.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let mut invocation = ANNOUNCE_SCRIPT.prepare_invoke();
                invocation.key(redis_key).arg(circuit).arg(ms);
                let _ = inner.fleet.invoke::<i64>(&invocation, Deadline::NONE).await;
            });
        }
    }

    fn opened_elsewhere(&self, connector: &str, key: &str) -> Option<Duration> {
        if !self.inner.announce {
            return None;
        }
        self.watch(connector);
        self.inner.mirror.opened_elsewhere(connector, key)
    }
}

impl fmt::Debug for RedisSignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisSignal")
            .field("fleet", &self.inner.fleet)
            .field("announce_opens", &self.inner.announce)
            .finish_non_exhaustive()
    }
}
