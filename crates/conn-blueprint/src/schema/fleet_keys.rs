//! The keys of the `[fleet]` section, and the parts a connector's `fleet`
//! opt-in turns on.

use super::key_spec::{KeySpec, Kind, key};

/// Every key of the `[fleet]` section, in documentation order (paths
/// relative to `[fleet]`).
pub const FLEET_KEYS: &[KeySpec] = &[
    key(
        "url",
        Kind::Secret,
        None,
        "The fleet's Redis: redis:// (or rediss:// for TLS) URL, password included if any; with cluster = true, the seed nodes' URLs separated by commas. Required.",
    ),
    key(
        "cluster",
        Kind::Bool,
        Some("false"),
        "url names Redis Cluster seed nodes instead of one standalone Redis (or Sentinel-managed master).",
    ),
    key(
        "key_prefix",
        Kind::Str,
        Some("\"conn\""),
        "Prefix of every Redis key: one per application, so several share a Redis without meeting.",
    ),
    key(
        "op_timeout",
        Kind::Duration,
        Some("\"50ms\""),
        "Time limit of one Redis operation, always within the call's own deadline.",
    ),
    key(
        "connect_timeout",
        Kind::Duration,
        Some("\"1s\""),
        "Time limit of connecting at start (an unreachable Redis is not an error: the fallback runs until it answers).",
    ),
    key(
        "failure_policy",
        Kind::Enum(&["fail_open", "fail_closed"]),
        Some("\"fail_open\""),
        "While Redis does not answer: count quota / replicas locally (fail_open), or refuse with RateLimited (fail_closed).",
    ),
    key(
        "replicas",
        Kind::Int { min: 1 },
        Some("1"),
        "Replicas expected to share each quota: fail_open counts quota / replicas in each process.",
    ),
    key(
        "token_key",
        Kind::Secret,
        None,
        "32-byte key (hex or base64) encrypting tokens at rest in Redis. Required when a connector shares tokens.",
    ),
    key(
        "announce_opens",
        Kind::Bool,
        Some("false"),
        "A circuit opened in one replica opens in the others too, for its cooldown (off: one sick replica cannot trip the fleet).",
    ),
];

/// The keys `fleet = true` under a connector turns on.
pub(crate) const FLEET_USE_KEYS: [&str; 3] = ["fleet.throttle", "fleet.tokens", "fleet.breaker"];
