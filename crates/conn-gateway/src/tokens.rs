//! The `tokens` member of `GET /v1/connectors/{name}/state`: per tenant,
//! when the connector's token expires and whether its renewal is running or
//! failing.
//!
//! Why only times and flags: the state answer is for operators and their
//! dashboards, and an answer is never a place for a token. The registry's
//! `credential_status` hands out `CredentialStatus` values, which have no
//! field that could hold one.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use conn_blueprint::Registry;
use serde_json::{Value, json};

/// One entry per tenant the connector's auth holds a token (or a fetch, or
/// a failure) for; an empty list for credentials that do not expire.
pub(crate) fn statuses(registry: &Registry, name: &str) -> Value {
    let statuses = registry.credential_status(name).unwrap_or_default();
    let now = SystemTime::now();
    Value::Array(
        statuses
            .into_iter()
            .map(|s| {
                json!({
                    "tenant": s.tenant,
                    "expires_in_ms": s.expires_in.map(millis),
                    // Wall-clock seconds since the epoch, for dashboards.
                    "expires_at_unix": s.expires_in.and_then(|d| unix_seconds(now + d)),
                    "refreshing": s.refreshing,
                    "degraded": s.degraded,
                })
            })
            .collect(),
    )
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn unix_seconds(at: SystemTime) -> Option<u64> {
    at.duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs())
}
