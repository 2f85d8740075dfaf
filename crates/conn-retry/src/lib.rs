//! conn's retry policy: retries that never make an outage worse.
//!
//! What it is for: deciding, after each attempt of a call, whether another
//! attempt is worth it and when — without retrying what must not be retried,
//! without sleeping past the call's deadline, and without multiplying load
//! when an upstream is down.
//!
//! - **Classification** ([`classify`]): connect errors, lost connections,
//!   attempt timeouts, 408, 425, 429, 500 (configurable), 502, 503 and 504
//!   are retried; a user predicate adds or removes cases. Requests that are
//!   not idempotent are retried only when nothing was sent.
//! - **Backoff** ([`Backoff`], [`Jitter`]): constant, linear, exponential,
//!   decorrelated jitter; jitter none / full / equal, from a seedable source.
//! - **Server hints**: `Retry-After`, the IETF RateLimit fields and vendor
//!   reset headers (parsed by conn-core) replace the computed delay when
//!   larger, with jitter, capped by a maximum wait; a hint past the deadline
//!   ends the call at once.
//! - **Budget** ([`RetryBudget`]): retries limited to a fraction of recent
//!   traffic plus a small floor, shared by every call of a connector (or of
//!   several connectors).
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use conn_retry::{Backoff, Jitter, Retry, RetryBudget};
//!
//! let budget = Arc::new(RetryBudget::new(0.1, 10));
//! let retry = Retry::builder()
//!     .max_attempts(4)
//!     .backoff(Backoff::exponential(Duration::from_millis(100), 2.0, Duration::from_secs(10)))
//!     .jitter(Jitter::Full)
//!     .max_hint_wait(Duration::from_secs(30))
//!     .budget(budget)
//!     .build();
//! // connector_builder.retry(Arc::new(retry))
//! # let _ = retry;
//! ```
#![deny(missing_docs)]

mod backoff;
mod budget;
pub mod classify;
mod policy;
mod random;

pub use backoff::Backoff;
pub use budget::RetryBudget;
pub use classify::{Classifier, RetryReason};
pub use conn_core::Jitter;
pub use policy::{Retry, RetryBuilder};
