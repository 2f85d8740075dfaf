//! `HyperTransportBuilder`: every setting of the hyper transport.

use std::sync::Arc;
use std::time::Duration;

use conn_core::Error;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::per_host::{CappedConnector, HostSlots};
use crate::proxy::ProxyConnector;
use crate::transport::{HyperTransport, Shared};
use crate::{ClientIdentity, Compression, DEFAULT_BODY_LIMIT, MinThroughput, Proxy, Redirects, Roots};

/// Which HTTP versions the transport speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Protocols {
    /// HTTP/1.1 and HTTP/2, chosen by ALPN over TLS; HTTP/1.1 over plain TCP.
    #[default]
    Auto,
    /// HTTP/1.1 only.
    Http1,
    /// HTTP/2 only (prior knowledge over plain TCP, ALPN `h2` over TLS).
    Http2,
}

/// Builds a [`HyperTransport`].
///
/// ```
/// use std::time::Duration;
/// use conn_transport_hyper::{HyperTransport, Protocols, Roots};
///
/// let transport = HyperTransport::builder()
///     .protocols(Protocols::Auto)
///     .roots(Roots::webpki())
///     .connect_timeout(Duration::from_secs(5))
///     .pool_idle_timeout(Duration::from_secs(60))
///     .pool_max_idle_per_host(16)
///     .build()
///     .unwrap();
/// # let _ = transport;
/// ```
#[derive(Clone, Debug)]
pub struct HyperTransportBuilder {
    connect_timeout: Duration,
    body_limit: usize,
    roots: Roots,
    protocols: Protocols,
    pool_idle_timeout: Duration,
    pool_max_idle_per_host: usize,
    redirects: Redirects,
    min_throughput: Option<MinThroughput>,
    compression: Compression,
    max_connections_per_host: Option<usize>,
    client_identity: Option<ClientIdentity>,
    proxy: Option<Proxy>,
}

impl Default for HyperTransportBuilder {
    fn default() -> Self {
        HyperTransportBuilder {
            connect_timeout: Duration::from_secs(10),
            body_limit: DEFAULT_BODY_LIMIT,
            roots: Roots::default(),
            protocols: Protocols::Auto,
            pool_idle_timeout: Duration::from_secs(90),
            pool_max_idle_per_host: 32,
            redirects: Redirects::None,
            min_throughput: None,
            compression: Compression::default(),
            max_connections_per_host: None,
            client_identity: None,
            proxy: None,
        }
    }
}

impl HyperTransportBuilder {
    /// Time limit for establishing a connection, TLS included (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Largest response body accepted, in bytes (default 16 MiB). Larger
    /// bodies fail with [`BodyTooLarge`](conn_core::ErrorKind::BodyTooLarge)
    /// as soon as the limit is passed (or at once, if `Content-Length` says so).
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// Trusted certificate authorities (default: the compiled-in Mozilla set).
    pub fn roots(mut self, roots: Roots) -> Self {
        self.roots = roots;
        self
    }

    /// HTTP versions to speak (default: HTTP/1.1 and HTTP/2 by ALPN).
    pub fn protocols(mut self, protocols: Protocols) -> Self {
        self.protocols = protocols;
        self
    }

    /// How long an idle pooled connection is kept (default 90 s).
    pub fn pool_idle_timeout(mut self, timeout: Duration) -> Self {
        self.pool_idle_timeout = timeout;
        self
    }

    /// Most idle connections kept per host (default 32).
    pub fn pool_max_idle_per_host(mut self, max: usize) -> Self {
        self.pool_max_idle_per_host = max;
        self
    }

    /// Redirect policy (default: not followed).
    pub fn redirects(mut self, redirects: Redirects) -> Self {
        self.redirects = redirects;
        self
    }

    /// Fails bodies that arrive slower than a floor (default: no floor).
    pub fn min_throughput(mut self, floor: MinThroughput) -> Self {
        self.min_throughput = Some(floor);
        self
    }

    /// Which compressed response encodings are offered and decoded
    /// (default: [`Compression::all`]). The body limit counts decoded bytes.
    pub fn compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// Most connections open to one origin (scheme, host, port), idle ones
    /// included (default: no cap). A request that finds all of them busy
    /// waits for one to come free, at most the connect timeout, instead of
    /// opening another socket. Over HTTP/2 one connection carries many
    /// requests, so the cap limits sockets, not requests.
    pub fn max_connections_per_host(mut self, max: usize) -> Self {
        self.max_connections_per_host = Some(max);
        self
    }

    /// The client certificate presented to servers that require one
    /// (mutual TLS; default: none). A server that refuses it fails the
    /// call with a `Connect` error saying so, not retried.
    pub fn client_identity(mut self, identity: ClientIdentity) -> Self {
        self.client_identity = Some(identity);
        self
    }

    /// Egress through an HTTP proxy (default: none; the environment's
    /// `HTTPS_PROXY` and friends only with [`Proxy::from_env`]). A proxy
    /// that refuses the tunnel (407, 502...) fails the call with a
    /// `Connect` error saying so.
    pub fn proxy(mut self, proxy: Proxy) -> Self {
        self.proxy = Some(proxy);
        self
    }

    /// Builds the transport. Fails with a configuration error when the TLS
    /// setup is invalid (e.g. a custom root CA is not PEM).
    pub fn build(self) -> Result<HyperTransport, Error> {
        if self.max_connections_per_host == Some(0) {
            return Err(Error::config("max_connections_per_host must be at least 1"));
        }
        if self.min_throughput.is_some_and(|f| f.grace.is_zero()) {
            return Err(Error::config(
                "the minimum-throughput grace period must be greater than zero",
            ));
        }
        let tls = self.roots.client_config(self.client_identity.as_ref())?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(self.connect_timeout));
        let route = match &self.proxy {
            Some(proxy) => Some(proxy.build()?),
            None => None,
        };
        let http = ProxyConnector::new(http, route.clone());
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http();
        let https = match self.protocols {
            Protocols::Auto => https.enable_http1().enable_http2().wrap_connector(http),
            Protocols::Http1 => https.enable_http1().wrap_connector(http),
            Protocols::Http2 => https.enable_http2().wrap_connector(http),
        };
        let slots = self
            .max_connections_per_host
            .map(|max| Arc::new(HostSlots::new(max, self.connect_timeout)));
        let https = CappedConnector::new(https, slots);
        let client = Client::builder(TokioExecutor::new())
            .timer(TokioTimer::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(self.pool_idle_timeout)
            .pool_max_idle_per_host(self.pool_max_idle_per_host)
            .http2_only(self.protocols == Protocols::Http2)
            .build(https);
        Ok(HyperTransport::from_shared(Arc::new(Shared {
            client,
            body_limit: self.body_limit,
            redirects: self.redirects,
            min_throughput: self.min_throughput,
            compression: self.compression,
            accept_encoding: self.compression.accept_encoding(),
            proxy: route,
        })))
    }
}
