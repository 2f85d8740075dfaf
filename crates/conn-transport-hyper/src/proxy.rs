//! Egress through an HTTP proxy: a CONNECT tunnel for `https://`
//! destinations, absolute-form requests for `http://` ones.
//!
//! Why credentials are kept apart: the proxy's credentials go only to the
//! proxy (in the CONNECT request, or as `Proxy-Authorization` on a forwarded
//! plain-HTTP request, which the proxy consumes), and the origin's
//! credentials only through the tunnel, encrypted end to end. A
//! `Proxy-Authorization` header a request carries itself is never sent to
//! an origin directly.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use base64::Engine;
use conn_core::{BoxError, BoxFuture, Error};
use http::{HeaderValue, Uri};
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::TokioIo;
use secrecy::{ExposeSecret, SecretString};
use tokio::net::TcpStream;
use tower_service::Service;

/// Which proxy the transport goes through, for which destinations.
///
/// `https://` destinations go through an HTTP CONNECT tunnel (TLS is still
/// end to end, the proxy sees only the host and port); `http://` ones are
/// sent to the proxy in absolute form. `NO_PROXY`-style exceptions name
/// hosts (and their subdomains), IP addresses or subnets reached directly.
///
/// ```
/// use conn_transport_hyper::{HyperTransport, Proxy};
/// use secrecy::SecretString;
///
/// let proxy = Proxy::all("http://egress.internal:3128")
///     .basic_auth("svc-billing", SecretString::from("from-the-vault"))
///     .no_proxy("localhost, .internal, 10.0.0.0/8");
/// let transport = HyperTransport::builder().proxy(proxy).build().unwrap();
/// # let _ = transport;
/// // Or the usual HTTPS_PROXY / HTTP_PROXY / NO_PROXY variables (lower case too):
/// let from_env = Proxy::from_env();
/// # let _ = from_env;
/// ```
#[derive(Clone)]
pub struct Proxy {
    http: Option<String>,
    https: Option<String>,
    no: String,
    credentials: Option<(String, SecretString)>,
}

impl Proxy {
    /// Every destination through the proxy at `url` (`http://host:port`).
    pub fn all(url: impl Into<String>) -> Self {
        let url = url.into();
        Proxy {
            http: Some(url.clone()),
            https: Some(url),
            no: String::new(),
            credentials: None,
        }
    }

    /// Only `http://` destinations through the proxy at `url`.
    pub fn http(url: impl Into<String>) -> Self {
        Proxy {
            http: Some(url.into()),
            https: None,
            no: String::new(),
            credentials: None,
        }
    }

    /// Only `https://` destinations through the proxy at `url`.
    pub fn https(url: impl Into<String>) -> Self {
        Proxy {
            http: None,
            https: Some(url.into()),
            no: String::new(),
            credentials: None,
        }
    }

    /// A proxy per destination scheme; `None` reaches that scheme directly.
    pub fn new(http: Option<String>, https: Option<String>) -> Self {
        Proxy {
            http,
            https,
            no: String::new(),
            credentials: None,
        }
    }

    /// From `HTTPS_PROXY`, `http_proxy`, `ALL_PROXY` and `NO_PROXY` (or
    /// their lower-case forms), as curl reads them; credentials in a
    /// variable's URL (`http://user:pass@proxy:3128`) are used as proxy
    /// credentials. With none set, every destination is reached directly.
    pub fn from_env() -> Self {
        Proxy::from_lookup(|name| std::env::var(name).ok())
    }

    /// As [`from_env`](Self::from_env), with the variables looked up by
    /// `lookup` (a configuration's own copy of the environment).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let var = |names: &[&str]| names.iter().find_map(|n| lookup(n).filter(|v| !v.is_empty()));
        let all = var(&["ALL_PROXY", "all_proxy"]);
        // Like curl, HTTP_PROXY in upper case is not read (CGI sets it from a request header).
        let mut proxy = Proxy::new(
            var(&["http_proxy"]).or_else(|| all.clone()),
            var(&["HTTPS_PROXY", "https_proxy"]).or(all),
        );
        proxy.no = var(&["NO_PROXY", "no_proxy"]).unwrap_or_default();
        proxy
    }

    /// Hosts reached directly, comma-separated: names (matching their
    /// subdomains too), IP addresses, subnets (`10.0.0.0/8`), or `*`.
    pub fn no_proxy(mut self, list: impl Into<String>) -> Self {
        self.no = list.into();
        self
    }

    /// Credentials for the proxy (Basic), sent to the proxy only.
    pub fn basic_auth(mut self, user: impl Into<String>, password: SecretString) -> Self {
        self.credentials = Some((user.into(), password));
        self
    }

    /// The connector's view: a matcher and the credentials header.
    pub(crate) fn build(&self) -> Result<Arc<ProxyRoute>, Error> {
        for url in self.http.iter().chain(&self.https) {
            let uri: Uri = url
                .parse()
                .map_err(|_| Error::config("the proxy URL is not a valid URL"))?;
            if uri.scheme_str() != Some("http") || uri.host().is_none() {
                return Err(Error::config("the proxy URL must be http://host:port"));
            }
        }
        let mut matcher = Matcher::builder().no(self.no.clone());
        if let Some(http) = &self.http {
            matcher = matcher.http(http.clone());
        }
        if let Some(https) = &self.https {
            matcher = matcher.https(https.clone());
        }
        let auth = match &self.credentials {
            Some((user, password)) => {
                let token = base64::engine::general_purpose::STANDARD
                    .encode(format!("{user}:{}", password.expose_secret()));
                let mut value = HeaderValue::from_str(&format!("Basic {token}"))
                    .map_err(|_| Error::config("the proxy credentials are not a valid header value"))?;
                value.set_sensitive(true);
                Some(value)
            }
            None => None,
        };
        Ok(Arc::new(ProxyRoute {
            matcher: matcher.build(),
            auth,
        }))
    }
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A proxy URL from the environment may carry credentials: only whether one is set shows.
        f.debug_struct("Proxy")
            .field("http", &self.http.is_some())
            .field("https", &self.https.is_some())
            .field("no_proxy", &self.no)
            .field("basic_auth", &self.credentials.as_ref().map(|(user, _)| user))
            .finish()
    }
}

/// Where each destination goes, and the credentials for the proxy.
pub(crate) struct ProxyRoute {
    matcher: Matcher,
    auth: Option<HeaderValue>,
}

impl ProxyRoute {
    /// Whether a plain-HTTP request to `dst` is forwarded by the proxy
    /// (whose own answers, such as 407, then arrive as responses).
    pub(crate) fn forwards(&self, dst: &Uri) -> bool {
        dst.scheme_str() == Some("http") && self.matcher.intercept(dst).is_some()
    }

    /// The `Proxy-Authorization` value for a plain-HTTP request forwarded
    /// to the proxy (`None` when it goes direct or through a tunnel).
    pub(crate) fn forward_auth(&self, dst: &Uri) -> Option<HeaderValue> {
        if dst.scheme_str() != Some("http") {
            return None;
        }
        let intercept = self.matcher.intercept(dst)?;
        self.auth.clone().or_else(|| intercept.basic_auth().cloned())
    }
}

/// The TCP connector, through the proxy where the route says so.
#[derive(Clone)]
pub(crate) struct ProxyConnector {
    inner: HttpConnector,
    route: Option<Arc<ProxyRoute>>,
}

impl ProxyConnector {
    pub(crate) fn new(inner: HttpConnector, route: Option<Arc<ProxyRoute>>) -> Self {
        ProxyConnector { inner, route }
    }
}

/// A TCP connection, and whether requests on it go to a forwarding proxy
/// (absolute-form request targets).
pub(crate) struct Proxied {
    io: TokioIo<TcpStream>,
    forwarding: bool,
}

impl Connection for Proxied {
    fn connected(&self) -> Connected {
        self.io.connected().proxy(self.forwarding)
    }
}

impl Service<Uri> for ProxyConnector {
    type Response = Proxied;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<Proxied, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let mut inner = self.inner.clone();
        let intercept = self
            .route
            .as_ref()
            .and_then(|r| Some((r.matcher.intercept(&dst)?, r.auth.clone())));
        Box::pin(async move {
            let Some((intercept, auth)) = intercept else {
                let io = inner.call(dst).await?;
                return Ok(Proxied {
                    io,
                    forwarding: false,
                });
            };
            let proxy = intercept.uri().clone();
            if dst.scheme_str() == Some("https") {
                let mut tunnel = Tunnel::new(proxy, inner);
                if let Some(auth) = auth.or_else(|| intercept.basic_auth().cloned()) {
                    tunnel = tunnel.with_auth(auth);
                }
                let io = tunnel.call(dst).await.map_err(ProxyRefused::from_tunnel)?;
                Ok(Proxied {
                    io,
                    forwarding: false,
                })
            } else {
                let io = inner.call(proxy).await.map_err(|e| ProxyRefused {
                    reason: "the proxy could not be reached".to_owned(),
                    credentials: false,
                    source: Some(e.into()),
                })?;
                Ok(Proxied { io, forwarding: true })
            }
        })
    }
}

/// The proxy could not be reached or refused the tunnel.
#[derive(Debug)]
pub(crate) struct ProxyRefused {
    pub(crate) reason: String,
    /// The proxy asked for (other) credentials: retrying cannot help.
    pub(crate) credentials: bool,
    source: Option<BoxError>,
}

impl ProxyRefused {
    /// The tunnel's error (whose type hyper-util does not export), by its text.
    fn from_tunnel<E: StdError + Send + Sync + 'static>(err: E) -> BoxError {
        let text = err.to_string();
        let (reason, credentials) = if text.ends_with("proxy authorization required") {
            (
                "the proxy requires authentication (407): check the proxy credentials",
                true,
            )
        } else if text.ends_with("unsuccessful") {
            (
                "the proxy refused the CONNECT tunnel (a non-2xx answer such as 502)",
                false,
            )
        } else if text.ends_with("failed to create underlying connection") {
            ("the proxy could not be reached", false)
        } else {
            ("the CONNECT tunnel through the proxy failed", false)
        };
        Box::new(ProxyRefused {
            reason: reason.to_owned(),
            credentials,
            source: Some(Box::new(err)),
        })
    }
}

impl fmt::Display for ProxyRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl StdError for ProxyRefused {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn StdError + 'static))
    }
}

impl hyper::rt::Read for Proxied {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for Proxied {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }
}
