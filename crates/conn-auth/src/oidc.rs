//! OIDC discovery: an OAuth2 client configured from an issuer URL.
//!
//! OpenID providers publish where their token endpoint is and how clients
//! may authenticate (`/.well-known/openid-configuration`), and move it when
//! they like; configuring the issuer alone keeps a connector working across
//! such moves. The document is fetched once, cached, refreshed in the
//! background of later calls, and kept in use for a while when the provider
//! is down. Its `issuer` must be the configured one (OpenID Connect
//! Discovery §4.3): a document that names another issuer was not published
//! by the provider we trust and is refused.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use conn_core::{
    BoxFuture, Credentials, Deadline, Error, ErrorKind, TimeoutKind, Transport, TransportRequest,
};
use http::Uri;
use http::header::{ACCEPT, HeaderValue};
use secrecy::SecretString;
use serde::Deserialize;
use tokio::time::Instant;

use crate::{
    ClientAssertionKey, ClientAuth, ClientCredentials, OAuth2Client, PrivateKeyJwt, Token, TokenProvider,
    TokenRequest,
};

/// Largest discovery document accepted (real ones are a few kilobytes).
const MAX_DOCUMENT: usize = 256 * 1024;
const WELL_KNOWN: &str = "/.well-known/openid-configuration";

/// What conn reads from a provider's discovery document.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct OidcDocument {
    /// The issuer the document speaks for.
    pub issuer: String,
    /// Where tokens are requested.
    pub token_endpoint: String,
    /// How clients may authenticate at the token endpoint; the spec's
    /// default (`client_secret_basic`) when the document says nothing.
    #[serde(default = "default_auth_methods")]
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// Where the provider's signing keys are published.
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// The grants the provider supports, when it says.
    #[serde(default)]
    pub grant_types_supported: Option<Vec<String>>,
}

fn default_auth_methods() -> Vec<String> {
    vec!["client_secret_basic".to_owned()]
}

/// Fetches and caches an issuer's discovery document.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use conn_auth::OidcDiscovery;
/// # let transport: Arc<dyn conn_core::Transport> = Arc::new(conn_testkit::ScriptedTransport::default());
///
/// let discovery = OidcDiscovery::builder("https://login.vendor.example/realms/acme")
///     .transport(transport)
///     .refresh_after(Duration::from_secs(3600)) // fetched again after an hour
///     .max_age(Duration::from_secs(24 * 3600))  // used at most a day while the provider is down
///     .build()?;
/// # let _ = discovery;
/// # Ok::<(), conn_core::Error>(())
/// ```
#[derive(Clone)]
pub struct OidcDiscovery {
    inner: Arc<DiscoveryInner>,
}

struct DiscoveryInner {
    issuer: String,
    url: Uri,
    transport: Arc<dyn Transport>,
    allow_http: bool,
    request_timeout: Duration,
    refresh_after: Duration,
    max_age: Duration,
    /// The document and when it was fetched; the lock is held across a
    /// fetch, so concurrent callers make one request.
    cached: tokio::sync::Mutex<Option<(Arc<OidcDocument>, Instant)>>,
}

/// Builds an [`OidcDiscovery`].
pub struct OidcDiscoveryBuilder {
    issuer: String,
    transport: Option<Arc<dyn Transport>>,
    allow_http: bool,
    request_timeout: Duration,
    refresh_after: Duration,
    max_age: Duration,
}

impl OidcDiscovery {
    /// Discovery for `issuer` (the exact issuer identifier, e.g.
    /// `https://login.example.com/realms/acme`). Defaults: refreshed after
    /// 1 hour, used up to 24 hours while the provider is unreachable,
    /// 10 s per request, `https://` only.
    pub fn builder(issuer: impl Into<String>) -> OidcDiscoveryBuilder {
        OidcDiscoveryBuilder {
            issuer: issuer.into(),
            transport: None,
            allow_http: false,
            request_timeout: Duration::from_secs(10),
            refresh_after: Duration::from_secs(3600),
            max_age: Duration::from_secs(24 * 3600),
        }
    }

    /// The configured issuer.
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// The document: the cached one while fresh; else fetched (once for
    /// all concurrent callers). If fetching fails, a cached document younger
    /// than `max_age` is used (with a warning); without one, the error is a
    /// transient `AuthProvider` error for an outage.
    pub async fn document(&self, deadline: Option<Instant>) -> Result<Arc<OidcDocument>, Error> {
        let inner = &*self.inner;
        let mut cached = inner.cached.lock().await;
        if let Some((document, fetched)) = cached.as_ref()
            && fetched.elapsed() < inner.refresh_after
        {
            return Ok(document.clone());
        }
        match self.fetch(deadline).await {
            Ok(document) => {
                let document = Arc::new(document);
                *cached = Some((document.clone(), Instant::now()));
                Ok(document)
            }
            Err(err) => match cached.as_ref() {
                Some((document, fetched)) if fetched.elapsed() < inner.max_age && err.is_transient() => {
                    tracing::warn!(
                        target: "conn_auth::oidc",
                        issuer = %inner.issuer,
                        age_s = fetched.elapsed().as_secs(),
                        error = %err,
                        "the discovery document could not be refreshed; using the cached one"
                    );
                    Ok(document.clone())
                }
                _ => Err(err),
            },
        }
    }

    async fn fetch(&self, deadline: Option<Instant>) -> Result<OidcDocument, Error> {
        let inner = &*self.inner;
        let limit = Deadline::from(deadline).attempt_limit(Some(inner.request_timeout))?;
        let wait = limit.duration().unwrap_or(inner.request_timeout);
        let mut request = http::Request::new(Bytes::new());
        *request.uri_mut() = inner.url.clone();
        request
            .headers_mut()
            .insert(ACCEPT, HeaderValue::from_static("application/json"));
        let wire = TransportRequest {
            request,
            credentials: Credentials::default(),
        };
        let outage = |what: String| Error::new(ErrorKind::AuthProvider, what).transient(true);
        let response = match tokio::time::timeout(wait, inner.transport.send(wire)).await {
            Err(_) if limit.kind() == TimeoutKind::Deadline => {
                return Err(Error::new(
                    ErrorKind::Timeout(TimeoutKind::Deadline),
                    "the deadline passed while fetching the OIDC discovery document",
                ));
            }
            Err(_) => {
                return Err(outage(format!(
                    "the OIDC discovery endpoint did not answer within {} ms",
                    wait.as_millis()
                )));
            }
            Ok(Err(err)) => {
                return Err(outage(format!(
                    "the OIDC discovery endpoint could not be reached: {err}"
                )));
            }
            Ok(Ok(response)) => response,
        };
        let status = response.status();
        if !status.is_success() {
            let transient = status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429;
            return Err(Error::new(
                ErrorKind::AuthProvider,
                format!("the OIDC discovery endpoint answered {status}"),
            )
            .transient(transient));
        }
        if response.body().len() > MAX_DOCUMENT {
            return Err(Error::new(
                ErrorKind::AuthProvider,
                "the OIDC discovery document is too large",
            ));
        }
        let document: OidcDocument = serde_json::from_slice(response.body()).map_err(|err| {
            Error::new(
                ErrorKind::AuthProvider,
                format!(
                    "the OIDC discovery document is not valid (line {}, column {})",
                    err.line(),
                    err.column()
                ),
            )
        })?;
        if trim_slash(&document.issuer) != trim_slash(&inner.issuer) {
            return Err(Error::new(
                ErrorKind::AuthProvider,
                "the OIDC discovery document names another issuer than the configured one; refused",
            ));
        }
        let endpoint: Uri = document.token_endpoint.parse().map_err(|_| {
            Error::new(
                ErrorKind::AuthProvider,
                "the discovered token endpoint is not a URL",
            )
        })?;
        match endpoint.scheme_str() {
            Some("https") => {}
            Some("http") if inner.allow_http => {}
            _ => {
                return Err(Error::new(
                    ErrorKind::AuthProvider,
                    "the discovered token endpoint is not an https:// URL",
                ));
            }
        }
        tracing::debug!(
            target: "conn_auth::oidc",
            issuer = %inner.issuer,
            token_endpoint = %endpoint.path(),
            "discovery document fetched"
        );
        Ok(document)
    }
}

fn trim_slash(url: &str) -> &str {
    url.strip_suffix('/').unwrap_or(url)
}

impl OidcDiscoveryBuilder {
    /// The transport the document (and tokens) are fetched through
    /// (required); it should not follow redirects.
    pub fn transport(mut self, transport: Arc<dyn Transport>) -> Self {
        self.transport = Some(transport);
        self
    }

    /// Allows `http://` issuers and token endpoints (local servers).
    pub fn allow_http(mut self, allow: bool) -> Self {
        self.allow_http = allow;
        self
    }

    /// Time limit of one document request (default 10 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// How long a fetched document is used before it is fetched again
    /// (default 1 hour).
    pub fn refresh_after(mut self, age: Duration) -> Self {
        self.refresh_after = age;
        self
    }

    /// How long a document stays usable while refreshing it fails
    /// (default 24 hours).
    pub fn max_age(mut self, age: Duration) -> Self {
        self.max_age = age;
        self
    }

    /// Checks the issuer URL and builds the discovery.
    pub fn build(self) -> Result<OidcDiscovery, Error> {
        let issuer: Uri = self
            .issuer
            .parse()
            .map_err(|_| Error::config("the OIDC issuer is not a valid URL"))?;
        match issuer.scheme_str() {
            Some("https") => {}
            Some("http") if self.allow_http => {}
            _ => return Err(Error::config("the OIDC issuer must be an https:// URL")),
        }
        if issuer.authority().is_none_or(|a| a.as_str().contains('@')) || issuer.query().is_some() {
            return Err(Error::config(
                "the OIDC issuer must have a host, and no credentials or query",
            ));
        }
        let url: Uri = format!("{}{WELL_KNOWN}", trim_slash(&self.issuer))
            .parse()
            .map_err(|_| Error::config("the OIDC issuer is not a valid URL"))?;
        let transport = self
            .transport
            .ok_or_else(|| Error::config("OIDC discovery has no transport"))?;
        if self.request_timeout.is_zero() {
            return Err(Error::config(
                "the OIDC request timeout must be greater than zero",
            ));
        }
        Ok(OidcDiscovery {
            inner: Arc::new(DiscoveryInner {
                issuer: self.issuer,
                url,
                transport,
                allow_http: self.allow_http,
                request_timeout: self.request_timeout,
                refresh_after: self.refresh_after,
                max_age: self.max_age.max(self.refresh_after),
                cached: tokio::sync::Mutex::new(None),
            }),
        })
    }
}

/// The client credentials grant at a discovered token endpoint: the
/// endpoint and the client authentication method come from the issuer's
/// document, fetched on the first token request and refreshed as the
/// discovery says. A [`TokenProvider`] for [`TokenAuth`](crate::TokenAuth).
///
/// With a secret ([`new`](Self::new)) the method is the configured one,
/// which the provider must list; without one, `client_secret_basic` if
/// listed, else `client_secret_post`. With a private key
/// ([`with_private_key`](Self::with_private_key)) it is `private_key_jwt`,
/// which the provider must list; assertions are addressed to the
/// discovered token endpoint.
///
/// ```
/// use std::sync::Arc;
/// use conn_auth::{OidcClientCredentials, OidcDiscovery, TokenAuth};
/// # let transport: Arc<dyn conn_core::Transport> = Arc::new(conn_testkit::ScriptedTransport::default());
///
/// let discovery = OidcDiscovery::builder("https://login.vendor.example/realms/acme")
///     .transport(transport)
///     .build()?;
/// let grant = OidcClientCredentials::new(discovery, "inventory-sync", "from-a-secrets-manager")
///     .scope("orders:read");
/// let auth = TokenAuth::new(Arc::new(grant));
/// # let _ = auth;
/// # Ok::<(), conn_core::Error>(())
/// ```
pub struct OidcClientCredentials {
    discovery: OidcDiscovery,
    client_id: String,
    credential: Credential,
    method: Option<ClientAuth>,
    scopes: Vec<String>,
    params: Vec<(String, String)>,
    /// The grant for the last document seen: rebuilt when the endpoint or
    /// the method changes, kept otherwise (it remembers refresh tokens).
    grant: std::sync::Mutex<Option<(String, &'static str, Grant)>>,
}

/// How the client proves who it is.
enum Credential {
    Secret(SecretString),
    PrivateKey(ClientAssertionKey),
}

/// The grant built for one endpoint and method.
#[derive(Clone)]
enum Grant {
    Secret(ClientCredentials),
    Assertion(PrivateKeyJwt),
}

impl OidcClientCredentials {
    /// The grant for a client with a shared secret.
    pub fn new(
        discovery: OidcDiscovery,
        client_id: impl Into<String>,
        secret: impl Into<SecretString>,
    ) -> Self {
        Self::with(discovery, client_id.into(), Credential::Secret(secret.into()))
    }

    /// The grant for a client that authenticates with `private_key_jwt`.
    pub fn with_private_key(
        discovery: OidcDiscovery,
        client_id: impl Into<String>,
        key: ClientAssertionKey,
    ) -> Self {
        Self::with(discovery, client_id.into(), Credential::PrivateKey(key))
    }

    fn with(discovery: OidcDiscovery, client_id: String, credential: Credential) -> Self {
        OidcClientCredentials {
            discovery,
            client_id,
            credential,
            method: None,
            scopes: Vec::new(),
            params: Vec::new(),
            grant: std::sync::Mutex::new(None),
        }
    }

    /// Requires this client authentication method for a secret (the
    /// provider must list it).
    pub fn auth_method(mut self, method: ClientAuth) -> Self {
        self.method = Some(method);
        self
    }

    /// Adds a scope.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scopes.push(scope.into());
        self
    }

    /// Adds a form parameter (`audience`, `resource`...).
    pub fn param(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push((key.into(), value.into()));
        self
    }

    /// The method to use with `document`, by its registered name.
    fn method_for(&self, document: &OidcDocument) -> Result<&'static str, Error> {
        let supported = &document.token_endpoint_auth_methods_supported;
        let listed = |name: &str| supported.iter().any(|m| m == name);
        let unsupported = |name: &str| {
            Error::new(
                ErrorKind::AuthProvider,
                format!("the OIDC provider does not support {name} at its token endpoint"),
            )
        };
        match (&self.credential, self.method) {
            (Credential::PrivateKey(_), _) if listed("private_key_jwt") => Ok("private_key_jwt"),
            (Credential::PrivateKey(_), _) => Err(unsupported("private_key_jwt")),
            (Credential::Secret(_), Some(method)) if listed(method_name(method)) => Ok(method_name(method)),
            (Credential::Secret(_), Some(method)) => Err(unsupported(method_name(method))),
            (Credential::Secret(_), None) if listed("client_secret_basic") => Ok("client_secret_basic"),
            (Credential::Secret(_), None) if listed("client_secret_post") => Ok("client_secret_post"),
            (Credential::Secret(_), None) => Err(Error::new(
                ErrorKind::AuthProvider,
                "the OIDC provider supports neither client_secret_basic nor client_secret_post",
            )),
        }
    }

    fn grant_for(&self, document: &OidcDocument) -> Result<Grant, Error> {
        let method = self.method_for(document)?;
        let mut slot = self.grant.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((endpoint, kept_method, grant)) = slot.as_ref()
            && *endpoint == document.token_endpoint
            && *kept_method == method
        {
            return Ok(grant.clone());
        }
        let client = OAuth2Client::builder(document.token_endpoint.clone())
            .client_id(self.client_id.clone())
            .transport(self.discovery.inner.transport.clone())
            .allow_http(self.discovery.inner.allow_http);
        let grant = match &self.credential {
            Credential::PrivateKey(key) => {
                let client = client.auth_method(ClientAuth::Public).build()?;
                let mut grant = PrivateKeyJwt::new(client, key.clone());
                for scope in &self.scopes {
                    grant = grant.scope(scope.clone());
                }
                for (key, value) in &self.params {
                    grant = grant.param(key.clone(), value.clone());
                }
                Grant::Assertion(grant)
            }
            Credential::Secret(secret) => {
                let client = client
                    .client_secret(secret.clone())
                    .auth_method(match method {
                        "client_secret_post" => ClientAuth::Post,
                        "none" => ClientAuth::Public,
                        _ => ClientAuth::Basic,
                    })
                    .build()?;
                let mut grant = ClientCredentials::new(client).scopes(self.scopes.clone());
                for (key, value) in &self.params {
                    grant = grant.param(key.clone(), value.clone());
                }
                Grant::Secret(grant)
            }
        };
        *slot = Some((document.token_endpoint.clone(), method, grant.clone()));
        Ok(grant)
    }
}

fn method_name(method: ClientAuth) -> &'static str {
    match method {
        ClientAuth::Basic => "client_secret_basic",
        ClientAuth::Post => "client_secret_post",
        ClientAuth::Public => "none",
    }
}

impl TokenProvider for OidcClientCredentials {
    fn fetch<'a>(&'a self, request: &'a TokenRequest) -> BoxFuture<'a, Result<Token, Error>> {
        Box::pin(async move {
            let document = self.discovery.document(request.deadline_at()).await?;
            match self.grant_for(&document)? {
                Grant::Secret(grant) => grant.fetch(request).await,
                Grant::Assertion(grant) => grant.fetch(request).await,
            }
        })
    }
}

impl fmt::Debug for OidcDiscovery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcDiscovery")
            .field("issuer", &self.inner.issuer)
            .field("refresh_after", &self.inner.refresh_after)
            .field("max_age", &self.inner.max_age)
            .finish()
    }
}

impl fmt::Debug for OidcClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcClientCredentials")
            .field("discovery", &self.discovery)
            .field("client_id", &self.client_id)
            .field("credential", &"<redacted>")
            .field("method", &self.method)
            .field("scopes", &self.scopes)
            .finish()
    }
}

impl fmt::Debug for OidcDiscoveryBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcDiscoveryBuilder")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}
