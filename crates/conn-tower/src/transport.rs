//! `TowerTransport`: a conn transport made from any tower HTTP service.

use bytes::Bytes;
use conn_core::{
    BodyLimit, BoxError, BoxFuture, Error, Transport, TransportRequest, TransportResponse, TransportStream,
};
use http_body::Body;
use http_body_util::Full;
use tokio::time::Instant;
use tower::{Service, ServiceExt};

use crate::body;
use crate::errors::{body_broke, call_failed, not_ready};

/// The largest response body a [`TowerTransport`] reads by default: 16 MiB,
/// as the hyper transport.
pub const DEFAULT_BODY_LIMIT: u64 = 16 * 1024 * 1024;

/// A conn [`Transport`] from any `tower::Service<http::Request<Full<Bytes>>>`:
/// put tower-http layers, a company's own HTTP stack, or an in-process axum
/// `Router` under conn's pipeline.
///
/// The service is cloned for each attempt (tower's usual contract); wrap a
/// service that is not `Clone + Sync` in `tower::buffer::Buffer`. Each
/// attempt waits for `poll_ready`, then calls; conn's pipeline keeps the
/// attempt timeout, the deadline, retries and everything else around it.
///
/// - The response body is read (or, for
///   [`call_stream`](conn_core::Connector::call_stream), streamed) under a
///   size limit: [`body_limit`](Self::body_limit), or the request's
///   [`BodyLimit`]. A declared length over the limit fails at once.
/// - Errors keep what retry policies need to know: a service that is not
///   ready, or that sheds load (`tower::load_shed`), sent nothing
///   (`Connect`, so even a POST may be retried); an elapsed
///   `tower::timeout` is an attempt timeout; a conn [`Error`] passes
///   through; anything else may have reached the server (`ConnectionLost`).
/// - The service sees the wire request as conn built it (absolute URI,
///   credentials added). conn's redirect rules are the hyper transport's:
///   a stack with a redirect-following layer must keep credentials to the
///   original origin itself.
///
/// ```
/// use std::sync::Arc;
/// use axum::{Router, routing::get};
/// use conn_core::{Connector, Context, Request};
/// use conn_tower::TowerTransport;
/// use http::header::{HeaderValue, USER_AGENT};
/// use tower::ServiceBuilder;
/// use tower_http::set_header::SetRequestHeaderLayer;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), conn_core::Error> {
/// let api = Router::new().route(
///     "/v1/agent",
///     get(|headers: http::HeaderMap| async move { format!("{:?}", headers[USER_AGENT]) }),
/// );
/// // tower-http layers under conn: they see every attempt.
/// let stack = ServiceBuilder::new()
///     .layer(SetRequestHeaderLayer::overriding(USER_AGENT, HeaderValue::from_static("billing/1.0")))
///     .service(api);
/// let connector = Connector::builder("billing")
///     .base_url("https://billing.internal/v1")
///     .transport(Arc::new(TowerTransport::new(stack).body_limit(1 << 20)))
///     .build()?;
/// let response = connector.call(Request::get("/agent"), Context::new()).await?;
/// assert_eq!(response.body(), "\"billing/1.0\"");
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct TowerTransport<S> {
    service: S,
    body_limit: u64,
}

impl<S> TowerTransport<S> {
    /// A transport that sends every attempt through `service`.
    pub fn new(service: S) -> Self {
        TowerTransport {
            service,
            body_limit: DEFAULT_BODY_LIMIT,
        }
    }

    /// Largest response body accepted, in bytes (default 16 MiB); a
    /// request's [`BodyLimit`] overrides it.
    pub fn body_limit(mut self, bytes: u64) -> Self {
        self.body_limit = bytes;
        self
    }

    /// The size limit of one attempt's response body.
    fn limit(&self, request: &TransportRequest) -> u64 {
        request
            .request
            .extensions()
            .get::<BodyLimit>()
            .map_or(self.body_limit, |limit| limit.0)
    }
}

impl<S> TowerTransport<S>
where
    S: Service<http::Request<Full<Bytes>>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Into<BoxError>,
{
    /// Sends `request` up to the response head.
    fn head(
        &self,
        request: TransportRequest,
    ) -> impl Future<Output = Result<(S::Response, Instant), Error>> + Send + 'static {
        let service = self.service.clone();
        let request = request.request.map(Full::new);
        async move {
            let ready = service
                .ready_oneshot()
                .await
                .map_err(|err| not_ready(err.into()))?;
            let mut ready = ready;
            let response = ready.call(request).await.map_err(|err| call_failed(err.into()))?;
            Ok((response, Instant::now()))
        }
    }
}

impl<S, B> Transport for TowerTransport<S>
where
    S: Service<http::Request<Full<Bytes>>, Response = http::Response<B>> + Clone + Send + Sync + 'static,
    S::Future: Send,
    S::Error: Into<BoxError>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    fn send(&self, request: TransportRequest) -> BoxFuture<'static, Result<TransportResponse, Error>> {
        let limit = self.limit(&request);
        let head = self.head(request);
        Box::pin(async move {
            let (response, first_byte) = head.await?;
            let (parts, body) = response.into_parts();
            body::declared_over(&parts.headers, &body, limit)?;
            let bytes = body::collect(body, limit, body_broke).await?;
            Ok(TransportResponse::new(http::Response::from_parts(parts, bytes)).with_first_byte(first_byte))
        })
    }

    /// Streams the body chunk by chunk under the size limit.
    fn send_streaming(
        &self,
        request: TransportRequest,
    ) -> BoxFuture<'static, Result<TransportStream, Error>> {
        let limit = self.limit(&request);
        let head = self.head(request);
        Box::pin(async move {
            let (response, first_byte) = head.await?;
            let (parts, body) = response.into_parts();
            body::declared_over(&parts.headers, &body, limit)?;
            Ok(TransportStream {
                response: http::Response::from_parts(parts, body::stream(body, limit, body_broke)),
                first_byte: Some(first_byte),
            })
        })
    }
}
