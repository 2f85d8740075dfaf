//! Fleet state for conn on Redis: what several replicas of one service must
//! share so that together they behave like one.
//!
//! conn-redis implements conn-core's store traits, and depends on conn-core
//! only (plus redis-rs); the throttle, the token cache and the breaker take
//! them without knowing Redis:
//!
//! | type | implements | shares |
//! |---|---|---|
//! | [`RedisRateStore`] | `RateStore` | GCRA quotas: one Lua script per admission, on Redis's clock |
//! | [`RedisTokenStore`] | `TokenStore`, `SharedTokens` | refresh tokens and access tokens, encrypted; single-flight fetches across the fleet |
//! | [`RedisSignal`] | `BreakerSignal` | operator overrides of breakers; optionally, circuits opened elsewhere |
//!
//! All of them use one [`Fleet`] connection (standalone through redis-rs's
//! connection manager, or Redis Cluster), bound every operation by a short
//! time limit inside the call's deadline, and keep working when Redis does
//! not answer ([`FailurePolicy`]). See `docs/fleet.md` for the guarantees.
//!
//! ```no_run
//! use std::sync::Arc;
//! use conn_core::store::StoreKey;
//! use conn_redis::{FailurePolicy, Fleet, FleetConfig, RedisRateStore, RedisSignal, RedisTokenStore};
//!
//! # async fn run() -> Result<(), conn_core::Error> {
//! let fleet = Fleet::connect(FleetConfig::new("redis://10.0.0.5:6379").key_prefix("sync")).await?;
//! let quotas = Arc::new(RedisRateStore::new(fleet.clone(), FailurePolicy::fail_open(4)));
//! let tokens = Arc::new(RedisTokenStore::new(fleet.clone(), "billing", &StoreKey::from_env("CONN_AUTH_STORE_KEY")?));
//! let signal = Arc::new(RedisSignal::new(fleet));
//! # let _ = (quotas, tokens, signal); Ok(()) }
//! ```
#![deny(missing_docs)]

mod fleet;
mod health;
mod keys;
mod policy;
mod rate;
mod signal;
mod tokens;

pub use fleet::{DEFAULT_CONNECT_TIMEOUT, DEFAULT_OP_TIMEOUT, Fleet, FleetConfig};
pub use health::FLEET_UP;
pub use policy::FailurePolicy;
pub use rate::{FLEET_DEGRADED_TOTAL, RedisRateStore};
pub use signal::RedisSignal;
pub use tokens::RedisTokenStore;

/// The guide, `docs/fleet.md`, compiled as doctests so it never rots.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/fleet.md")]
pub struct GuideDoctests;
