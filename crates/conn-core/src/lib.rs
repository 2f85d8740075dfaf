//! The core of conn: the types every connector speaks, the small traits each
//! component implements, and the [`Connector`] pipeline that runs every call
//! through them in one fixed order.
//!
//! `conn-core` depends on no other conn crate. Each component crate
//! (`conn-transport-hyper`, `conn-retry`, `conn-throttle`, ...) implements one
//! trait from here, and a team can implement its own instead:
//!
//! | trait | decides | default here |
//! |---|---|---|
//! | [`Transport`] | how an attempt goes on the wire | none (required) |
//! | [`AuthStrategy`] | which credentials an attempt carries | [`NoAuth`] |
//! | [`RetryPolicy`] | whether and when to try again | [`NoRetry`] |
//! | [`Throttle`] | when an attempt may start | [`NoThrottle`] |
//! | [`Breaker`] | whether an endpoint is called at all | [`NoBreaker`] |
//! | [`Normalizer`] | how a body becomes a [`Document`] | [`JsonPassThrough`] |
//!
//! Every wait uses tokio time, so timing is testable on a paused clock, and
//! every wait is bounded by one [`Deadline`].
//!
//! State a fleet of replicas shares (rate quotas, tokens, breaker signals)
//! is reached through the small traits of [`store`], each with an
//! in-process default.
//!
//! Authors of component crates find their building blocks (randomness for
//! jitter, metric hooks) in [`component`].
#![deny(missing_docs)]

mod auth;
mod body;
mod breaker;
mod call;
pub mod component;
mod connector;
mod context;
mod credential_status;
mod credentials;
mod deadline;
mod error;
mod future;
mod jitter;
mod normalize;
mod permit;
mod redact;
mod request;
mod response;
mod retry;
mod scrub;
mod server_hints;
pub mod store;
pub mod telemetry;
mod throttle;
mod transport;
mod url;

pub use auth::{AuthStrategy, NoAuth};
pub use body::{BodyLimit, BodyStream};
pub use breaker::{Breaker, NoBreaker};
pub use call::{AttemptOutcome, CallInfo};
pub use connector::builder::{
    ConnectorBuilder, DEFAULT_ATTEMPT_TIMEOUT, DEFAULT_CORRELATION_HEADER, DEFAULT_TOTAL_TIMEOUT,
};
pub use connector::hedging::Hedging;
pub use connector::{Connector, StreamingResponse};
pub use context::Context;
pub use credential_status::CredentialStatus;
pub use credentials::Credentials;
pub use deadline::{AttemptLimit, Deadline};
pub use error::{BoxError, Error, ErrorKind, TimeoutKind};
pub use future::BoxFuture;
pub use jitter::Jitter;
pub use normalize::{Document, Format, JsonPassThrough, Normalizer};
pub use permit::Permit;
pub use redact::{SECRET_HEADERS, is_secret_header_name};
pub use request::{IDEMPOTENCY_KEY, Request};
pub use response::{AttemptRecord, AttemptResult, Attempts, CallOutcome, CallReport, Response};
pub use retry::{NoRetry, RetryDecision, RetryPolicy};
pub use scrub::{REDACTED, scrub_secrets};
pub use server_hints::{HintParser, MAX_HINT, ResetFormat, ResetHeader, ServerHints};
pub use telemetry::Telemetry;
pub use throttle::{NoThrottle, Throttle};
pub use transport::{Transport, TransportRequest, TransportResponse, TransportStream};
pub use url::{BaseUrl, endpoint_path};
