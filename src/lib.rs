//! conn: connectors to third-party HTTP APIs that keep working when those
//! APIs are slow, flaky, rate-limited or rotating credentials.
//!
//! This crate gathers the parts most users want under one name: everything
//! from [`conn_core`] (the [`Connector`] pipeline, [`Request`], [`Response`],
//! [`Error`], the component traits), and each component crate as a module:
//! [`transport`] (hyper), [`auth`], [`breaker`], [`normalize`], [`retry`], [`throttle`], and the [`blueprint`] layer above them. Each part is also its own crate, so a team can depend on
//! `conn-core` alone and bring its own components.
//!
//! ```no_run
//! use std::sync::Arc;
//! use conn::{Connector, Context, Request};
//! use conn::transport::HyperTransport;
//!
//! # async fn demo() -> Result<(), conn::Error> {
//! let api = Connector::builder("catalog")
//!     .base_url("https://api.catalog.example/v1")
//!     .transport(Arc::new(HyperTransport::builder().build()?))
//!     .build()?;
//! let response = api.call(Request::get("/items"), Context::new()).await?;
//! println!("{}", response.report());
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

pub use conn_core::*;

/// The hyper transport: pooled HTTP/1.1 and HTTP/2 over rustls.
pub use conn_transport_hyper as transport;

/// Auth strategies: static keys, Basic, OAuth2 with a token cache and rotation, token stores.
pub use conn_auth as auth;

/// Blueprints: connectors described in TOML, validated, built into a registry, hot-reloaded; workflows.
pub use conn_blueprint as blueprint;

/// Circuit breakers: consecutive and windowed failure rates, slow calls, half-open probes, keys, events.
pub use conn_breaker as breaker;

/// Normalization: JSON and XML into one document, mappings, envelopes, typed decoding.
pub use conn_normalize as normalize;

/// The retry policy: classification, backoff, server hints, budgets.
pub use conn_retry as retry;

/// The throttle: rate limits, concurrency ceilings, keys, adaptive rates.
pub use conn_throttle as throttle;

/// The README's examples, compiled and run as doctests so they never rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// The guides' code blocks, compiled as doctests too.
#[cfg(doctest)]
pub mod guides {
    #[doc = include_str!("../docs/custom-backend.md")]
    pub struct CustomBackend;
    #[doc = include_str!("../docs/retry.md")]
    pub struct Retry;
    #[doc = include_str!("../docs/throttle.md")]
    pub struct Throttle;
    #[doc = include_str!("../docs/observability.md")]
    pub struct Observability;
    #[doc = include_str!("../docs/testing.md")]
    pub struct Testing;
}
