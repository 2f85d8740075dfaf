//! conn as an HTTP service: an axum router over a blueprint
//! [`Registry`].
//!
//! | route | who | what |
//! |---|---|---|
//! | `ANY /v1/connectors/{connector}/{*path}` | caller key | one call through the connector |
//! | `POST /v1/workflows/{name}` | caller key | a named workflow |
//! | `GET /healthz`, `GET /readyz`, `GET /metrics` | anyone | liveness, readiness, Prometheus text |
//! | `GET /v1/connectors`, `GET /v1/connectors/{name}/state` | admin key | connectors explained, live state |
//! | `POST /v1/admin/reload`, `POST /v1/connectors/{name}/breaker` | admin key | hot reload, breaker control |
//! | `GET /status`, `GET /v1/status` | caller or admin key | the live status page and its data |
//!
//! Errors are RFC 9457 `application/problem+json` ([`problem`], whose
//! [`problem::mapping`] is the error table). Callers are authenticated by
//! keys kept only as digests; each may use the connectors and tenants its
//! configuration lists. See docs/gateway.md.
//!
//! ```no_run
//! use std::sync::Arc;
//! use conn_blueprint::{Blueprint, Registry};
//! use conn_gateway::{CallerConfig, Gateway, GatewayConfig};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let blueprint = Blueprint::from_file("blueprint.toml")?;
//! let registry = Arc::new(Registry::from_blueprint_hyper(&blueprint)?);
//! let mut config = GatewayConfig::default();
//! config.callers.insert(
//!     "shop".into(),
//!     CallerConfig::new("a-long-random-key").connectors(["orders"]).tenants(["acme"]),
//! );
//! let gateway = Gateway::builder(registry, config).explain(blueprint.explain()).build();
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! gateway.run(listener).await?; // until SIGTERM; SIGHUP reloads
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod admin;
mod callers;
mod config;
pub mod headers;
pub mod logs;
pub mod metrics;
mod ops;
pub mod problem;
mod protect;
mod proxy;
mod shutdown;
mod state;
mod status;
mod throttle_keys;
mod tokens;
mod workflow;

use std::future::Future;
use std::io;
use std::sync::Arc;

use axum::Router;
use axum::routing::{any, get, post};
use conn_blueprint::Registry;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use callers::{Caller, Callers};
pub use config::{CallerConfig, GatewayConfig, RateLimit, StepSpec, WorkflowSpec};
pub use ops::explained;
pub use problem::Problem;
pub use shutdown::terminate_signal;
pub use state::{Loaded, Reloader, file_reloader};

use state::Shared;

/// The gateway: a registry, the settings in force, and the router over them.
/// Cheap to clone.
#[derive(Clone)]
pub struct Gateway {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("registry", &self.shared.registry)
            .field("callers", &self.shared.current().callers)
            .finish_non_exhaustive()
    }
}

/// Assembles a [`Gateway`].
pub struct GatewayBuilder {
    registry: Arc<Registry>,
    config: GatewayConfig,
    explain: String,
    reloader: Option<Reloader>,
    metrics: Option<PrometheusHandle>,
}

impl GatewayBuilder {
    /// The text of `Blueprint::explain`, served by `GET /v1/connectors`.
    pub fn explain(mut self, explain: String) -> Self {
        self.explain = explain;
        self
    }

    /// How a reload reads the blueprint again (without one, reload answers 409).
    pub fn reloader(mut self, reloader: Reloader) -> Self {
        self.reloader = Some(reloader);
        self
    }

    /// The Prometheus recorder's handle rendered by `GET /metrics`.
    pub fn metrics(mut self, handle: PrometheusHandle) -> Self {
        self.metrics = Some(handle);
        self
    }

    /// The gateway.
    pub fn build(self) -> Gateway {
        Gateway {
            shared: Arc::new(Shared::new(
                self.registry,
                self.config,
                self.explain,
                self.reloader,
                self.metrics,
            )),
        }
    }
}

impl Gateway {
    /// A gateway over `registry` with `config`.
    pub fn builder(registry: Arc<Registry>, config: GatewayConfig) -> GatewayBuilder {
        GatewayBuilder {
            registry,
            config,
            explain: String::new(),
            reloader: None,
            metrics: None,
        }
    }

    /// The registry it serves.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.shared.registry
    }

    /// The router, with every route and protection layer. The request time
    /// limit, body limit and concurrency ceiling are taken from the settings
    /// in force now (a reload changes the call deadline and the header and
    /// body limits the handlers apply, not these outer layers).
    pub fn router(&self) -> Router {
        let shared = self.shared.clone();
        let config = &shared.current().config;
        let ceiling = protect::ceiling(Arc::new(tokio::sync::Semaphore::new(config.max_in_flight.max(1))));

        let calls = any(proxy::call).layer(ceiling.clone());
        let routes = Router::new()
            .route("/healthz", get(ops::healthz))
            .route("/readyz", get(ops::readyz))
            .route("/metrics", get(ops::metrics))
            .route("/v1/connectors", get(ops::connectors))
            .route(
                "/v1/connectors/{connector}/state",
                get(ops::state).fallback(proxy::call).layer(ceiling.clone()),
            )
            .route(
                "/v1/connectors/{connector}/breaker",
                post(admin::breaker).fallback(proxy::call).layer(ceiling.clone()),
            )
            .route("/v1/connectors/{connector}", calls.clone())
            .route("/v1/connectors/{connector}/", calls.clone())
            .route("/v1/connectors/{connector}/{*path}", calls)
            .route("/v1/workflows/{name}", post(workflow::run).layer(ceiling))
            .route("/v1/admin/reload", post(admin::reload))
            .merge(status::routes(&shared))
            .route_layer(axum::middleware::from_fn(metrics::carry_route))
            .with_state(shared.clone());
        // The outer layers wrap the router once. `Router::layer` would wrap
        // every route instead, and axum clones a route's whole boxed stack
        // for each request: the same layers, applied once, cost a fraction
        // (docs/benchmarks.md). First listed is outermost.
        let outer = ServiceBuilder::new()
            .layer(
                TraceLayer::new_for_http().make_span_with(|request: &http::Request<_>| {
                    // The path only: a query string may carry a secret.
                    tracing::info_span!("gateway.request", method = %request.method(), path = %request.uri().path())
                }),
            )
            .layer(axum::middleware::from_fn(metrics::record))
            .layer(axum::middleware::from_fn(protect::problems_for_bare_errors))
            .layer(axum::middleware::from_fn_with_state(shared, protect::header_limit))
            .layer(RequestBodyLimitLayer::new(config.body_limit))
            .layer(TimeoutLayer::with_status_code(
                http::StatusCode::GATEWAY_TIMEOUT,
                protect::outer_timeout(config.request_timeout),
            ))
            .service(routes);
        Router::new().fallback_service(outer)
    }

    /// Reads the blueprint again and swaps it in (as `POST
    /// /v1/admin/reload` and SIGHUP do); on any problem the running one is
    /// kept and the problem lists them.
    pub async fn reload(&self) -> Result<serde_json::Value, Problem> {
        admin::reload_now(&self.shared).await
    }

    /// Serves on `listener` until `shutdown` completes, then drains: stops
    /// accepting, lets calls in flight finish for up to the configured
    /// grace period, and returns.
    pub async fn serve(
        &self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        let grace = self.shared.current().config.shutdown_grace;
        shutdown::serve(self, listener, shutdown, grace).await
    }

    /// [`serve`](Self::serve) until SIGTERM or SIGINT, reloading on SIGHUP.
    pub async fn run(&self, listener: TcpListener) -> io::Result<()> {
        let hangup = tokio::spawn(shutdown::reload_on_hangup(self.clone()));
        let result = self.serve(listener, terminate_signal()).await;
        hangup.abort();
        result
    }
}
