//! `HyperTransport`: the `Transport` implementation.

use std::sync::Arc;

use bytes::Bytes;
use conn_core::{BoxFuture, Error, ErrorKind, Transport, TransportRequest, TransportResponse};
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use tokio::time::Instant;

use crate::body::read_limited;
use crate::redirect::next_hop;
use crate::{HyperTransportBuilder, MinThroughput, Redirects};

/// A pooled HTTP/1.1 + HTTP/2 client over rustls, implementing conn's
/// [`Transport`]. Cheap to clone: clones share one connection pool.
#[derive(Clone)]
pub struct HyperTransport {
    shared: Arc<Shared>,
}

pub(crate) struct Shared {
    pub(crate) client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    pub(crate) body_limit: usize,
    pub(crate) redirects: Redirects,
    pub(crate) min_throughput: Option<MinThroughput>,
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
            .finish_non_exhaustive()
    }
}

impl Transport for HyperTransport {
    fn send(&self, request: TransportRequest) -> BoxFuture<'static, Result<TransportResponse, Error>> {
        let shared = self.shared.clone();
        Box::pin(async move { shared.execute(request).await })
    }
}

impl Shared {
    async fn execute(&self, request: TransportRequest) -> Result<TransportResponse, Error> {
        let TransportRequest { request, credentials } = request;
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
            let authority = current
                .uri()
                .authority()
                .map(|a| a.to_string())
                .unwrap_or_default();
            let next = cross_origin.map(|_| current.clone());
            let response = self
                .client
                .request(current.map(Full::new))
                .await
                .map_err(|e| crate::errors::request_error(e, &authority))?;
            let first_byte = Instant::now();

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
            let (parts, body) = response.into_parts();
            let body = read_limited(body, declared, self.body_limit, self.min_throughput).await?;
            let response = http::Response::from_parts(parts, body);
            return Ok(TransportResponse::new(response).with_first_byte(first_byte));
        }
    }
}

fn origin_of(uri: &http::Uri) -> Result<url::Origin, Error> {
    url::Url::parse(&uri.to_string())
        .map(|u| u.origin())
        .map_err(|_| Error::config("the request URI could not be parsed"))
}
