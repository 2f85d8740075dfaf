//! conn: connectors to third-party HTTP APIs that keep working when those
//! APIs are slow, flaky, rate-limited or rotating credentials.
//!
//! This crate gathers the parts most users want under one name: the
//! [`Connector`] pipeline, [`Request`], [`Response`], [`Error`] and the
//! component traits from `conn-core`, and each component crate as a module:
//! `transport` (hyper), `auth`, `breaker`, `normalize`, `paginate`, `retry`, `throttle`,
//! and the `blueprint` layer above them. Each module has a cargo feature of
//! the same name, all on by default: a team that wants only retries writes
//! `conn = { version = "0.1", default-features = false, features = ["retry"] }`
//! and compiles neither TOML, XML nor cipher crates. Each part is also its
//! own crate, so a team can depend on `conn-core` alone and bring its own
//! components.
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

// What a user of connectors touches; plumbing for people who write their own
// components stays one level down, in `conn::core`.
pub use conn_core::{
    AttemptLimit, AttemptOutcome, AttemptRecord, AttemptResult, Attempts, AuthStrategy, BaseUrl, BodyLimit,
    BodyStream, BoxError, BoxFuture, Breaker, CallInfo, CallOutcome, CallReport, Connector, ConnectorBuilder,
    Context, CredentialStatus, Credentials, DEFAULT_ATTEMPT_TIMEOUT, DEFAULT_CORRELATION_HEADER,
    DEFAULT_TOTAL_TIMEOUT, Deadline, Document, Error, ErrorKind, Format, Hedging, HintParser,
    IDEMPOTENCY_KEY, Jitter, JsonPassThrough, NoAuth, NoBreaker, NoRetry, NoThrottle, Normalizer, Permit,
    REDACTED, Request, ResetFormat, ResetHeader, Response, RetryDecision, RetryPolicy, ServerHints,
    StreamingResponse, Telemetry, Throttle, TimeoutKind, Transport, TransportRequest, TransportResponse,
    TransportStream, endpoint_path, scrub_secrets,
};

/// conn-core in full, for component authors: the traits' plumbing
/// ([`core::component`]), telemetry hooks ([`core::telemetry`]) and the
/// shared-state stores ([`core::store`]).
pub use conn_core as core;

/// The hyper transport: pooled HTTP/1.1 and HTTP/2 over rustls. Feature `transport`.
#[cfg(feature = "transport")]
pub use conn_transport_hyper as transport;

/// Auth strategies: static keys, Basic, OAuth2 with a token cache and rotation, token stores,
/// request signing (AWS SigV4, HMAC), OIDC discovery, private_key_jwt. Feature `auth`.
#[cfg(feature = "auth")]
pub use conn_auth as auth;

/// Blueprints: connectors described in TOML, validated, built into a registry, hot-reloaded; workflows.
/// Feature `blueprint` (which brings every component).
#[cfg(feature = "blueprint")]
pub use conn_blueprint as blueprint;

/// Circuit breakers: consecutive and windowed failure rates, slow calls, half-open probes, keys, events.
/// Feature `breaker`.
#[cfg(feature = "breaker")]
pub use conn_breaker as breaker;

/// Normalization: JSON and XML into one document, mappings, envelopes, typed decoding. Feature `normalize`.
#[cfg(feature = "normalize")]
pub use conn_normalize as normalize;

/// Pages, polls and streams: paginated collections with checkpoints, polling for changes, NDJSON
/// exports. Feature `paginate`.
#[cfg(feature = "paginate")]
pub use conn_paginate as paginate;

/// Chaos injection for game days: a transport wrapper that injects latency, errors, resets,
/// timeouts, 429s and malformed bodies at configured rates. Feature `chaos`, off by default.
#[cfg(feature = "chaos")]
pub use conn_chaos as chaos;

/// tower interop: a `Connector` as a `tower::Service`, any tower HTTP `Service` as a `Transport`.
/// Feature `tower`, off by default.
#[cfg(feature = "tower")]
pub use conn_tower as tower;

/// The retry policy: classification, backoff, server hints, budgets. Feature `retry`.
#[cfg(feature = "retry")]
pub use conn_retry as retry;

/// The throttle: rate limits, concurrency ceilings, keys, adaptive rates. Feature `throttle`.
#[cfg(feature = "throttle")]
pub use conn_throttle as throttle;

/// The README's examples, compiled and run as doctests so they never rot.
#[cfg(all(doctest, feature = "blueprint"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// The guides' code blocks, compiled as doctests too.
#[cfg(all(doctest, feature = "blueprint"))]
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
    #[doc = include_str!("../docs/breaker.md")]
    pub struct Breaker;
    #[doc = include_str!("../docs/normalize.md")]
    pub struct Normalize;
    #[doc = include_str!("../docs/configuration.md")]
    pub struct Configuration;
    #[doc = include_str!("../docs/architecture.md")]
    pub struct Architecture;
    #[doc = include_str!("../docs/failure-semantics.md")]
    pub struct FailureSemantics;
    #[cfg(feature = "paginate")]
    #[doc = include_str!("../docs/pagination.md")]
    pub struct Pagination;
    #[doc = include_str!("../docs/transport.md")]
    pub struct Transport;
}
