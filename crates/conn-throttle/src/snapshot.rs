//! `KeySnapshot`: one throttle key as an operator sees it.
//!
//! Why: "why are acme's calls slow?" is answered by the key's state (the
//! API paused it, its concurrency slots are full, calls are queued behind
//! its quota), and that state lives inside the throttle. A snapshot reads
//! it without taking capacity or waiting, so an admin endpoint can show it
//! at any time.

use std::time::Duration;

/// The state of one throttle key at one instant; see
/// [`Throttler::key_snapshots`](crate::Throttler::key_snapshots).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeySnapshot {
    /// The throttle key (per [`KeyBy`](crate::KeyBy): `""` for the global
    /// key, the tenant, the endpoint, ...).
    pub key: String,
    /// The endpoint policy the key counts for (`None`: the catch-all limits).
    pub policy: Option<String>,
    /// How long the server-driven pause (429 + `Retry-After`, an exhausted
    /// quota with its reset) still holds calls of this key back.
    pub paused_for: Option<Duration>,
    /// Attempts holding a concurrency slot, when the throttle has a
    /// `max_in_flight` ceiling.
    pub in_flight: Option<usize>,
    /// Calls are waiting in line for this key's quota right now.
    pub queued: bool,
    /// Time since the key was last used.
    pub idle_for: Duration,
}
