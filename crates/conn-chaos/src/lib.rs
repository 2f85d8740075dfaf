//! Chaos injection for conn connectors: prove in your own staging that the
//! failure handling you configured (retries, budgets, throttles, breakers,
//! deadlines, fallbacks) does what you think, before an upstream proves it
//! for you in production.
//!
//! [`ChaosTransport`] wraps any [`Transport`](conn_core::Transport) and, at
//! configured rates, adds latency or replaces an attempt with a fault:
//! a 5xx, a 429 with `Retry-After`, a connection reset, a timeout (the
//! attempt hangs until the connector's attempt timeout cuts it) or a
//! malformed body (the real response, truncated and corrupted). It can be
//! limited to some endpoints, methods or tenants ([`Target`]), switched on
//! and off at run time ([`ChaosSwitch`]), and counts what it injected
//! ([`ChaosStats`]). This is what Polly's Simmy does for .NET.
//!
//! Two rules keep it from hurting anyone by accident:
//! - it is **off by default**: a built transport forwards every request
//!   untouched until it is enabled (by the builder or the switch);
//! - it **refuses to build in a release binary** (`debug_assertions` off)
//!   unless the builder was told why with
//!   [`allow_in_release`](ChaosTransportBuilder::allow_in_release).
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use conn_chaos::{ChaosTransport, Faults, Target};
//! use conn_testkit::{MockReply, ScriptedTransport};
//!
//! # fn main() -> Result<(), conn_core::Error> {
//! let upstream = Arc::new(ScriptedTransport::new([MockReply::json(200, "{}")]));
//! let chaos = ChaosTransport::builder(upstream)
//!     .faults(
//!         Faults::none()
//!             .server_errors(0.10)
//!             .rate_limits(0.05, Duration::from_secs(1))
//!             .resets(0.05)
//!             .latency(0.20, Duration::from_millis(50), Duration::from_millis(300)),
//!     )
//!     .target(Target::all().path_prefix("/v1/orders"))
//!     .seed(7) // the same faults in the same order on every run
//!     .build()?;
//! let switch = chaos.switch(); // hand it to an admin endpoint or a signal handler
//! switch.enable();
//! // Connector::builder("shop").transport(Arc::new(chaos))...
//! # let _ = chaos.stats();
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod faults;
mod inject;
mod release;
mod stats;
mod switch;
mod target;
mod transport;

pub use faults::{Fault, Faults};
pub use inject::CHAOS_HEADER;
pub use stats::{ChaosStats, StatsSnapshot};
pub use switch::ChaosSwitch;
pub use target::Target;
pub use transport::{ChaosTransport, ChaosTransportBuilder};

/// The game-day guide's code, compiled and run as doctests so it never rots.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/chaos.md")]
pub struct GameDayGuide;
