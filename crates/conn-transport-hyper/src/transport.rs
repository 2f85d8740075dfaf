//! `HyperTransport`: the `Transport` implementation.

use std::sync::Arc;

use bytes::Bytes;
use conn_core::{
    BodyLimit, BoxFuture, Error, ErrorKind, Transport, TransportRequest, TransportResponse, TransportStream,
};
use http::HeaderValue;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use tokio::time::Instant;

use crate::body::GuardedBody;
use crate::decode::{ResponseBody, offer};
use crate::per_host::CappedConnector;
use crate::proxy::{ProxyConnector, ProxyRoute};
use crate::read::{read_limited, stream_limited};
use crate::redirect::next_hop;
use crate::{Compression, HyperTransportBuilder, MinThroughput, Redirects};

/// A pooled HTTP/1.1 + HTTP/2 client over rustls, implementing conn's
/// [`Transport`]. Cheap to clone: clones share one connection pool.
#[derive(Clone)]
pub struct HyperTransport {
    shared: Arc<Shared>,
}

pub(crate) struct Shared {
    pub(crate) client: Client<CappedConnector<HttpsConnector<ProxyConnector>>, Full<Bytes>>,
    pub(crate) body_limit: usize,
    pub(crate) redirects: Redirects,
    pub(crate) min_throughput: Option<MinThroughput>,
    pub(crate) compression: Compression,
    /// `compression.accept_encoding()`, built once.
    pub(crate) accept_encoding: Option<HeaderValue>,
    pub(crate) proxy: Option<Arc<ProxyRoute>>,
}

impl HyperTransport {
    /// Starts configuring a transport.
    pub fn builder() -> HyperTransportBuilder {
        HyperTransportBuilder::default()
    }

    pub(crate) fn from_shared(shared: Arc<Shared>) -> Self {
        HyperTransport { shared }
    }
}

impl std::fmt::Debug for HyperTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HyperTransport")
            .field("body_limit", &self.shared.body_limit)
            .field("redirects", &self.shared.redirects)
            .field("min_throughput", &self.shared.min_throughput)
            .field("compression", &self.shared.compression)
            .finish_non_exhaustive()
    }
}

impl Transport for HyperTransport {
    fn send(&self, request: TransportRequest) -> BoxFuture<'static, Result<TransportResponse, Error>> {
        // The call's own future, boxed as it is (an `async` block around it
        // would be one more layer whose state is copied on the first poll).
        Box::pin(Shared::execute(self.shared.clone(), request))
    }

    /// Streams the body chunk by chunk, under the body limit (or the
    /// request's [`BodyLimit`]) and the throughput floor.
    fn send_streaming(
        &self,
        request: TransportRequest,
    ) -> BoxFuture<'static, Result<TransportStream, Error>> {
        let shared = self.shared.clone();
        Box::pin(async move {
            let head = shared.head(request).await?;
            let first_byte = head.first_byte;
            let (parts, body, _) = head.into_body(shared.min_throughput)?;
            Ok(TransportStream {
                response: http::Response::from_parts(parts, stream_limited(body)),
                first_byte: Some(first_byte),
            })
        })
    }
}

/// A response head, its body not read yet.
struct Head {
    parts: http::response::Parts,
    body: Incoming,
    declared: Option<u64>,
    limit: u64,
    first_byte: Instant,
    encoding: Option<crate::decode::Encoding>,
}

impl Head {
    /// The head's parts and its body, guarded and (when compressed) decoded;
    /// plus the declared length when the body is handed over as it arrived.
    fn into_body(
        self,
        floor: Option<MinThroughput>,
    ) -> Result<(http::response::Parts, ResponseBody, Option<u64>), Error> {
        let mut parts = self.parts;
        let guarded = GuardedBody::new(self.body, self.declared, self.limit, floor)?;
        let declared = self.declared.filter(|_| self.encoding.is_none());
        let body = ResponseBody::new(guarded, self.encoding, &mut parts.headers);
        Ok((parts, body, declared))
    }
}

impl Shared {
    async fn execute(self: Arc<Self>, request: TransportRequest) -> Result<TransportResponse, Error> {
        let head = self.head(request).await?;
        let first_byte = head.first_byte;
        let (parts, body, declared) = head.into_body(self.min_throughput)?;
        let body = read_limited(body, declared).await?;
        let response = http::Response::from_parts(parts, body);
        Ok(TransportResponse::new(response).with_first_byte(first_byte))
    }

    /// Sends the request, following redirects as configured, up to the
    /// final response head.
    async fn head(&self, request: TransportRequest) -> Result<Head, Error> {
        let TransportRequest {
            mut request,
            credentials,
        } = request;
        let offered = offer(self.accept_encoding.as_ref(), request.headers_mut());
        let method = request.method().clone();
        let limit = request
            .extensions()
            .get::<BodyLimit>()
            .map_or(self.body_limit as u64, |limit| limit.0);
        let (max_hops, cross_origin) = match self.redirects {
            Redirects::None => (0, None),
            Redirects::Follow {
                max_hops,
                cross_origin,
            } => (max_hops, Some(cross_origin)),
        };
        let original = match cross_origin {
            Some(_) => Some(origin_of(request.uri())?),
            None => None,
        };
        let mut current = request;
        let mut hops = 0u8;
        loop {
            // Proxy credentials go to a forwarding proxy only, never to an origin.
            let forward_auth = self
                .proxy
                .as_ref()
                .and_then(|route| route.forward_auth(current.uri()));
            match forward_auth {
                Some(value) => current
                    .headers_mut()
                    .insert(http::header::PROXY_AUTHORIZATION, value),
                None => current.headers_mut().remove(http::header::PROXY_AUTHORIZATION),
            };
            // Kept for messages only: a cheap clone, formatted only on a failure.
            let authority = current.uri().authority().cloned();
            let authority = move || authority.as_ref().map_or("", |a| a.as_str()).to_owned();
            let via_proxy = self
                .proxy
                .as_ref()
                .is_some_and(|route| route.forwards(current.uri()));
            let next = cross_origin.map(|_| current.clone());
            let response = self
                .client
                .request(current.map(Full::new))
                .await
                .map_err(|e| crate::errors::request_error(e, &authority()))?;
            let first_byte = Instant::now();
            if response.status() == http::StatusCode::PROXY_AUTHENTICATION_REQUIRED && via_proxy {
                let authority = authority();
                return Err(Error::new(
                    ErrorKind::Connect,
                    format!(
                        "could not connect to {authority} through the proxy: the proxy requires \
                         authentication (407): check the proxy credentials"
                    ),
                )
                .transient(false)
                .with_status(response.status()));
            }

            if let (Some(previous), Some(policy), Some(original)) = (next, cross_origin, &original)
                && let Some(hop) = next_hop(
                    &previous,
                    response.status(),
                    response.headers(),
                    original,
                    policy,
                    &credentials,
                )?
            {
                if hops == max_hops {
                    return Err(
                        Error::new(ErrorKind::Redirect, format!("more than {max_hops} redirects"))
                            .with_status(response.status()),
                    );
                }
                hops += 1;
                // Dropping the redirect's body closes or recycles its connection without reading it.
                drop(response);
                current = hop.request;
                continue;
            }

            let declared = response
                .headers()
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            let encoding = self
                .compression
                .decoding(offered, &method, response.status(), response.headers());
            let (parts, body) = response.into_parts();
            return Ok(Head {
                parts,
                body,
                declared,
                limit,
                first_byte,
                encoding,
            });
        }
    }
}

fn origin_of(uri: &http::Uri) -> Result<url::Origin, Error> {
    url::Url::parse(&uri.to_string())
        .map(|u| u.origin())
        .map_err(|_| Error::config("the request URI could not be parsed"))
}
