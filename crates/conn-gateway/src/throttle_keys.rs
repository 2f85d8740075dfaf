//! `throttle.per_key` in `GET /v1/connectors/{name}/state`: each throttle
//! key's server-driven pause, concurrency slots in use and queue.
//!
//! Why a cap: a throttle keyed by tenant may hold 10,000 keys, and an
//! operator wants the ones holding calls back; those come first, and the
//! list stops at [`MAX_KEYS`] (the total is in `keys`).

use conn_throttle::{KeySnapshot, Throttler};
use serde_json::{Value, json};

/// Most keys listed in one answer.
pub(crate) const MAX_KEYS: usize = 100;

/// The listed keys (paused or queued first, then by policy and key) and
/// whether some were left out.
pub(crate) fn snapshot(throttle: &Throttler) -> (Vec<Value>, bool) {
    let mut keys = throttle.key_snapshots();
    // Stable: within each group the throttle's own order (policy, key) stays.
    keys.sort_by_key(|k| !(k.paused_for.is_some() || k.queued));
    let truncated = keys.len() > MAX_KEYS;
    let listed = keys.iter().take(MAX_KEYS).map(entry).collect();
    (listed, truncated)
}

fn entry(key: &KeySnapshot) -> Value {
    json!({
        "key": key.key,
        "policy": key.policy,
        "paused_for_ms": key.paused_for.map(|d| d.as_millis() as u64),
        "in_flight": key.in_flight,
        "queued": key.queued,
        "idle_for_ms": key.idle_for.as_millis() as u64,
    })
}
