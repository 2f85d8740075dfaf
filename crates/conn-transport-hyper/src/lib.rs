//! conn's [`Transport`](conn_core::Transport) on hyper 1 and hyper-util's
//! pooled client.
//!
//! What it is for: putting each attempt of a conn call on the wire safely and
//! fast. HTTPS goes through rustls with the `ring` provider (no OpenSSL),
//! HTTP/1.1 and HTTP/2 are negotiated by ALPN, connections are pooled, the
//! response body is bounded while it streams (past the limit the connection is
//! dropped, nothing more is buffered), and redirects are not followed unless
//! asked — and then never carry a credential to another origin.
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//! use conn_transport_hyper::{HyperTransport, Redirects};
//!
//! # fn demo() -> Result<(), conn_core::Error> {
//! let transport = HyperTransport::builder()
//!     .connect_timeout(Duration::from_secs(3))
//!     .body_limit(8 * 1024 * 1024)
//!     .redirects(Redirects::same_origin(5))
//!     .build()?;
//! let connector = conn_core::Connector::builder("vendor")
//!     .base_url("https://api.vendor.example")
//!     .transport(Arc::new(transport))
//!     .build()?;
//! # let _ = connector; Ok(()) }
//! ```
//!
//! Redirects come in two forms, named for what they do with another origin:
//!
//! ```
//! use conn_transport_hyper::{CrossOrigin, Redirects};
//!
//! // An API that moves between its own paths: a hop to another host is an error.
//! let within = Redirects::same_origin(5);
//! // An API that hands a download to a storage host: followed, but every
//! // credential (Authorization, Cookie, auth-marked headers and query keys)
//! // is removed before the request leaves the original origin.
//! let across = Redirects::any_origin_without_credentials(5);
//! assert_eq!(across, Redirects::Follow { max_hops: 5, cross_origin: CrossOrigin::StripCredentials });
//! # let _ = within;
//! ```
#![deny(missing_docs)]

mod body;
mod builder;
mod decode;
mod errors;
mod identity;
mod per_host;
mod proxy;
mod read;
mod redirect;
mod tls;
mod transport;

pub use body::MinThroughput;
pub use builder::{HyperTransportBuilder, Protocols};
pub use decode::Compression;
pub use identity::ClientIdentity;
pub use proxy::Proxy;
pub use redirect::{CrossOrigin, Redirects};
pub use tls::Roots;
pub use transport::HyperTransport;

/// Default response body limit: 16 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 16 * 1024 * 1024;
