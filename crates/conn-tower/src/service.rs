//! `ConnectorService`: a connector as a `tower::Service<http::Request<B>>`.
//!
//! Why `http::Request` and not conn's own `Request`: the layers a team
//! already has (tower-http's header, tracing, limit and timeout layers,
//! axum's routing and error handling) are written against `http::Request`
//! and `http::Response`. A `Service<conn_core::Request>` would compose only
//! with the few protocol-agnostic tower layers, and code holding a conn
//! `Request` can call [`Connector::call`] directly. What conn needs beyond
//! HTTP travels in extensions: the caller's [`Context`] in the request's,
//! the [`CallReport`](conn_core::CallReport) in the response's.

use std::task::{Context as TaskContext, Poll};

use bytes::Bytes;
use conn_core::{BoxError, BoxFuture, Connector, Context, Error, Request};
use http::header::{self, HeaderName};
use http_body::Body;
use http_body_util::Full;

use crate::body;
use crate::errors::request_body_broke;

/// The largest request body a [`ConnectorService`] reads by default: 16 MiB.
pub const DEFAULT_REQUEST_BODY_LIMIT: u64 = 16 * 1024 * 1024;

/// A [`Connector`] as a tower `Service`: each request runs conn's whole
/// pipeline (breaker, throttle, auth, retries, deadline), and tower layers
/// wrap it from outside.
///
/// - The request URI's path and query are the **endpoint**, relative to the
///   connector's base URL, exactly as in [`Request::new`]; a URI with a
///   scheme or an authority is refused (a `Config` error, nothing sent):
///   the connector alone decides where its requests, and its credentials,
///   go.
/// - The request's headers are sent (hop-by-hop headers, `Host` and
///   `Content-Length` are the transport's business and are dropped); the
///   body is read whole, up to [`request_body_limit`](Self::request_body_limit),
///   because conn replays it on retries.
/// - A [`Context`] in the request's extensions is the call's context
///   (tenant, deadline, correlation id); without one, a fresh context.
/// - The response carries the call's [`CallReport`](conn_core::CallReport)
///   in its extensions. A final 4xx/5xx is a conn [`Error`] (as from
///   [`Connector::call`]): the status, headers and body are on the error.
///
/// `poll_ready` is always ready: waiting for capacity is the connector's
/// throttle's job, inside the call, bounded by the deadline. Put a
/// `ConcurrencyLimitLayer` or `LoadShedLayer` outside to shed earlier.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use axum::{Router, routing::get};
/// use conn_core::Connector;
/// use conn_tower::{ConnectorService, TowerTransport};
/// use tower::{ServiceBuilder, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), conn_core::BoxError> {
/// # let api = Router::new().route("/v1/ping", get(|| async { "pong" }));
/// # let connector = Connector::builder("api").base_url("https://api.example/v1")
/// #     .transport(Arc::new(TowerTransport::new(api))).build()?;
/// let service = ServiceBuilder::new()
///     .concurrency_limit(64) // tower's layer, outside conn's pipeline
///     .service(ConnectorService::new(connector));
/// let request = http::Request::get("/ping").body(http_body_util::Empty::<bytes::Bytes>::new())?;
/// let response = service.oneshot(request).await?;
/// let report = response.extensions().get::<conn_core::CallReport>().unwrap();
/// assert_eq!(report.attempts.len(), 1);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct ConnectorService {
    connector: Connector,
    request_body_limit: u64,
}

impl ConnectorService {
    /// Wraps `connector`.
    pub fn new(connector: Connector) -> Self {
        ConnectorService {
            connector,
            request_body_limit: DEFAULT_REQUEST_BODY_LIMIT,
        }
    }

    /// The largest request body read from callers (default 16 MiB); a
    /// larger one fails with `BodyTooLarge` before anything is sent.
    pub fn request_body_limit(mut self, bytes: u64) -> Self {
        self.request_body_limit = bytes;
        self
    }

    /// The connector.
    pub fn connector(&self) -> &Connector {
        &self.connector
    }
}

impl<B> tower::Service<http::Request<B>> for ConnectorService
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type Response = http::Response<Full<Bytes>>;
    type Error = Error;
    type Future = BoxFuture<'static, Result<Self::Response, Error>>;

    fn poll_ready(&mut self, _: &mut TaskContext<'_>) -> Poll<Result<(), Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let connector = self.connector.clone();
        let limit = self.request_body_limit;
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let endpoint = endpoint(&parts.uri)?;
            body::declared_over(&parts.headers, &body, limit)?;
            let bytes = body::collect(body, limit, request_body_broke).await?;
            let context = parts.extensions.get::<Context>().cloned().unwrap_or_default();
            let mut outgoing = Request::new(parts.method, endpoint).body(bytes);
            let mut name: Option<HeaderName> = None;
            for (next, value) in parts.headers {
                // `HeaderMap::into_iter` names only the first of repeated values.
                if next.is_some() {
                    name = next;
                }
                if let Some(name) = &name
                    && !is_transport_header(name)
                {
                    outgoing.headers_mut().append(name.clone(), value);
                }
            }
            let response = connector.call(outgoing, context).await?;
            let mut answer = http::Response::new(Full::new(response.body().clone()));
            *answer.status_mut() = response.status();
            *answer.version_mut() = response.version();
            *answer.headers_mut() = response.headers().clone();
            answer.extensions_mut().insert(response.report().clone());
            Ok(answer)
        })
    }
}

/// The endpoint a request URI names: its path and query, when it names no
/// scheme or authority of its own.
fn endpoint(uri: &http::Uri) -> Result<String, Error> {
    if uri.scheme().is_some() || uri.authority().is_some() {
        return Err(Error::config(
            "a request to a connector service names an endpoint (a path), not a URL: the connector's \
             base URL decides where it goes",
        ));
    }
    Ok(uri.path_and_query().map_or("/", |p| p.as_str()).to_owned())
}

/// Headers that belong to one hop, which the transport sets for its own.
fn is_transport_header(name: &HeaderName) -> bool {
    [
        header::HOST,
        header::CONTENT_LENGTH,
        header::TRANSFER_ENCODING,
        header::CONNECTION,
        header::TE,
        header::UPGRADE,
        header::PROXY_AUTHORIZATION,
    ]
    .contains(name)
        || name == "keep-alive"
        || name == "proxy-connection"
}
