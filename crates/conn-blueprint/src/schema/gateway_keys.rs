//! The keys of the `[gateway]` section, and which of them the environment
//! may set.

use super::key_spec::{KeySpec, Kind, key};

/// Every key of the `[gateway]` section, in documentation order (paths
/// relative to `[gateway]`; `<name>` stands for a caller's or workflow's name).
pub const GATEWAY_KEYS: &[KeySpec] = &[
    key(
        "listen",
        Kind::Str,
        Some("\"127.0.0.1:8080\""),
        "Address `conn serve` listens on (`--listen` overrides it).",
    ),
    key(
        "body_limit",
        Kind::Int { min: 1 },
        Some("1048576"),
        "Largest request body accepted, in bytes; larger gets 413.",
    ),
    key(
        "request_timeout",
        Kind::Duration,
        Some("\"30s\""),
        "Time limit of one request, the upstream call included; past it 504.",
    ),
    key(
        "max_in_flight",
        Kind::Int { min: 1 },
        Some("256"),
        "Requests handled at once on the call routes; more are shed with 503 and Retry-After.",
    ),
    key(
        "max_header_bytes",
        Kind::Int { min: 1 },
        Some("16384"),
        "Largest total size of request header names and values; more gets 431.",
    ),
    key(
        "shutdown_grace",
        Kind::Duration,
        Some("\"30s\""),
        "On SIGTERM, how long calls in flight may take to finish.",
    ),
    key(
        "admin_key",
        Kind::Secret,
        None,
        "Key of the admin API; without it the admin API refuses everyone.",
    ),
    key(
        "callers.<name>.key",
        Kind::Secret,
        None,
        "The caller's key (Authorization: Bearer <key> or X-Conn-Key). Required.",
    ),
    key(
        "callers.<name>.connectors",
        Kind::StrList,
        Some("[]"),
        "Connectors the caller may use; \"*\" means every one.",
    ),
    key(
        "callers.<name>.tenants",
        Kind::StrList,
        Some("[]"),
        "Tenants the caller may act for (X-Conn-Tenant); \"*\" means any; none: calls without a tenant.",
    ),
    key(
        "callers.<name>.rate_limit",
        Kind::Limits,
        None,
        "The caller's own rate limit: { count = 100, per_seconds = 1, burst = 10 }.",
    ),
    key(
        "workflows.<name>.timeout",
        Kind::Duration,
        None,
        "Deadline of the whole workflow (default: request_timeout).",
    ),
    key(
        "workflows.<name>.steps",
        Kind::Limits,
        None,
        "The calls, run concurrently: [{ name, connector, method = \"GET\", path = \"/orders/{id}\" }].",
    ),
];

/// The `[gateway]` keys `CONN__GATEWAY__<KEY>` may set: the scalars. Keys
/// stay secret references (`admin_key`), and callers and workflows are
/// tables, so neither comes from a variable's text.
pub const ENV_KEYS: &[&str] = &[
    "listen",
    "body_limit",
    "request_timeout",
    "max_in_flight",
    "max_header_bytes",
    "shutdown_grace",
];

/// The spec of a `[gateway]` key settable from the environment.
pub(crate) fn env_key(path: &str) -> Option<&'static KeySpec> {
    if !ENV_KEYS.contains(&path) {
        return None;
    }
    GATEWAY_KEYS.iter().find(|spec| spec.path == path)
}
