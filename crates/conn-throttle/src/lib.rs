//! conn's throttle: keeps every connector inside the third party's quota
//! instead of discovering it through 429s.
//!
//! What it is for: admitting attempts at the rate and concurrency an API
//! allows, per tenant or endpoint, shared across every connector that uses
//! the same account, and slowing down when the API says so.
//!
//! - **Rate limits** ([`Limit`]): GCRA through `governor`, several at once
//!   (e.g. 10/s and 5,000/hour), each with its burst.
//! - **Concurrency ceiling**: at most N attempts in flight per key; the slot
//!   is released when the attempt ends, also when the caller is cancelled.
//! - **Keys** ([`KeyBy`]): one state per tenant, endpoint, both, or a user
//!   function; created on demand, evicted when idle.
//! - **Modes** ([`Mode`]): wait in a FIFO queue (never past the call's
//!   deadline) or reject at once with a rate-limited error saying when
//!   capacity returns.
//! - **Server hints**: `remaining = 0` until `T`, or a 429 with `Retry-After`,
//!   pauses that key until `T` (read from conn-core's parsed hints).
//! - **Endpoint policies** ([`EndpointPolicy`]): other quotas for the
//!   endpoints a method and path pattern match, first match wins, the
//!   throttle's own limits as the catch-all.
//! - **Fleet quotas** ([`ThrottlerBuilder::rate_store`]): the rate limits
//!   counted in a store shared by every replica (conn-core's `RateStore`,
//!   e.g. conn-redis), the rest staying local.
//! - **Adaptive** ([`Adaptive`], opt-in): learns a rate from 429s alone,
//!   multiplicative decrease and CUBIC recovery, beside the fixed quotas.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use conn_throttle::{KeyBy, Limit, Mode, Throttler};
//!
//! let throttle = Throttler::builder()
//!     .limit(Limit::per_second(10).burst(5))
//!     .limit(Limit::new(5_000, Duration::from_secs(3600)))
//!     .max_in_flight(4)
//!     .key_by(KeyBy::Tenant)
//!     .mode(Mode::Wait { max_wait: Duration::from_secs(10) })
//!     .build();
//! // One quota for every connector of this account:
//! // connector_a_builder.throttle(Arc::new(throttle.clone()));
//! // connector_b_builder.throttle(Arc::new(throttle));
//! # let _ = throttle;
//! ```
#![deny(missing_docs)]

mod adaptive;
mod clock;
mod key;
mod limit;
mod policy;
mod snapshot;
mod state;
mod throttler;

pub use adaptive::Adaptive;
pub use key::KeyBy;
pub use limit::Limit;
pub use policy::EndpointPolicy;
pub use snapshot::KeySnapshot;
pub use throttler::{Mode, Throttler, ThrottlerBuilder};
