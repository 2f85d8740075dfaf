//! The transport's way out: a proxy, a client certificate (mutual TLS),
//! response compression and a cap on connections per host, from the
//! connector's `proxy.*`, `tls.client_*`, `compression` and
//! `max_connections_per_host` keys (read in `build/egress.rs`).
//!
//! Why kept apart from the TLS roots and redirects: these settings carry
//! secrets (the proxy password, the client key), so they are resolved from
//! `{ env }` / `{ file }` references like auth's, and compared as secrets
//! when a reload decides whether the transport can be kept.

use std::path::PathBuf;

use conn_core::Error;
use conn_transport_hyper::{ClientIdentity, Compression, HyperTransportBuilder, Proxy};
use secrecy::ExposeSecret;

use crate::secret::Secret;

/// A connector's egress settings.
#[derive(Clone, Debug, PartialEq)]
pub struct EgressConfig {
    /// The proxy, if any (`proxy.*`).
    pub proxy: Option<ProxyConfig>,
    /// The client certificate, if any (`tls.client_cert_file`, `tls.client_key`).
    pub client_identity: Option<IdentityConfig>,
    /// Whether compressed responses are asked for and decoded (`compression`).
    pub compression: bool,
    /// The cap on connections per origin (`max_connections_per_host`).
    pub max_connections_per_host: Option<usize>,
}

/// Where requests go through a proxy.
#[derive(Clone, Debug, PartialEq)]
pub struct ProxyConfig {
    /// The proxy for `http://` destinations.
    pub http: Option<String>,
    /// The proxy for `https://` destinations.
    pub https: Option<String>,
    /// Hosts reached directly.
    pub no_proxy: String,
    /// The proxy's user, with `password`.
    pub username: Option<String>,
    /// The proxy's password.
    pub password: Option<Secret>,
}

/// A client certificate chain (read at load) and its key (a secret).
#[derive(Clone, Debug, PartialEq)]
pub struct IdentityConfig {
    /// Where the chain was read from.
    pub cert_file: PathBuf,
    /// The chain, PEM.
    pub cert_pem: Vec<u8>,
    /// The private key, PEM.
    pub key: Secret,
}

impl EgressConfig {
    /// Applies the settings to a hyper transport's builder.
    pub(crate) fn apply(&self, mut builder: HyperTransportBuilder) -> Result<HyperTransportBuilder, Error> {
        if !self.compression {
            builder = builder.compression(Compression::none());
        }
        if let Some(max) = self.max_connections_per_host {
            builder = builder.max_connections_per_host(max);
        }
        if let Some(proxy) = &self.proxy {
            let mut settings =
                Proxy::new(proxy.http.clone(), proxy.https.clone()).no_proxy(proxy.no_proxy.clone());
            if let (Some(user), Some(password)) = (&proxy.username, &proxy.password) {
                settings = settings.basic_auth(user.clone(), password.value().clone());
            }
            builder = builder.proxy(settings);
        }
        if let Some(identity) = &self.client_identity {
            let key = identity.key.value().expose_secret().as_bytes().to_vec();
            builder = builder.client_identity(ClientIdentity::from_pem(identity.cert_pem.clone(), key));
        }
        Ok(builder)
    }
}
