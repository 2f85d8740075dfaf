//! tower interop for conn, in both directions.
//!
//! Most Rust services are built from [tower] `Service`s and layers (axum,
//! tonic, tower-http, a team's own middleware). conn should neither force a
//! team out of that ecosystem nor hide its own pipeline from it, so this
//! crate joins them both ways:
//!
//! - [`ConnectorService`]: a [`Connector`](conn_core::Connector) as a
//!   `tower::Service<http::Request<B>>`, so a connector composes with tower
//!   and tower-http layers and can sit behind an axum route. The call still
//!   runs conn's whole pipeline (breaker, throttle, auth, retries,
//!   deadlines); the layers wrap it from outside.
//! - [`TowerTransport`]: a conn [`Transport`](conn_core::Transport) made from
//!   any `tower::Service<http::Request<Full<Bytes>>>`, so a team can put
//!   tower-http layers, its own HTTP stack, or an in-process axum `Router`
//!   under conn's pipeline.
//!
//! ```
//! use std::sync::Arc;
//! use axum::{Router, routing::get};
//! use conn_core::{Connector, Context, Request};
//! use conn_tower::{ConnectorService, TowerTransport};
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), conn_core::Error> {
//! // An in-process API: an axum Router is a tower Service, so it is a transport.
//! let api = Router::new().route("/v1/orders", get(|| async { r#"{"orders":[]}"# }));
//! let connector = Connector::builder("orders")
//!     .base_url("https://orders.internal/v1")
//!     .transport(Arc::new(TowerTransport::new(api)))
//!     .build()?;
//!
//! // And the connector, with its whole pipeline, as a tower Service.
//! let request = http::Request::get("/orders")
//!     .extension(Context::new().tenant("acme"))
//!     .body(http_body_util::Full::new(bytes::Bytes::new()))
//!     .unwrap();
//! let response = ConnectorService::new(connector).oneshot(request).await?;
//! assert_eq!(response.status(), 200);
//! # Ok(()) }
//! ```
//!
//! [tower]: https://docs.rs/tower
#![deny(missing_docs)]

mod body;
mod errors;
mod service;
mod transport;

pub use service::{ConnectorService, DEFAULT_REQUEST_BODY_LIMIT};
pub use transport::{DEFAULT_BODY_LIMIT, TowerTransport};
