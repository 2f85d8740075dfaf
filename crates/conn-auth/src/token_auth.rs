//! `TokenAuth`: the strategy that sends cached tokens from a provider.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use conn_core::store::SharedTokens;
use conn_core::{AuthStrategy, BoxFuture, Context, Error, ErrorKind, Request};
use http::header::{AUTHORIZATION, HeaderName};
use secrecy::ExposeSecret;

use crate::cache::{CacheSettings, TokenCache};
use crate::static_auth::scheme_header;
use crate::{Token, TokenProvider};

/// Sends `Authorization: Bearer <token>` with tokens from a
/// [`TokenProvider`] (an OAuth2 grant or your own), cached per tenant.
///
/// - **Per tenant**: each [`Context::tenant_id`] has its own token; a tenant
///   never gets another's.
/// - **Refresh ahead**: a token is renewed in the background once it is
///   within `skew` + a random part of `jitter` of its expiry (at most half
///   its lifetime), while calls keep using it, so a fleet of processes does
///   not renew at the same instant and calls rarely wait.
/// - **Single flight**: however many calls find a tenant's token missing or
///   expired, one fetch runs; the others wait for it, each within its own
///   deadline.
/// - **401**: the pipeline calls [`refresh`](AuthStrategy::refresh): the
///   refused token is discarded, a new one fetched, and the call replayed
///   once; a second 401 is the call's `Unauthorized` error.
/// - **Failures**: a failed background refresh keeps the still-valid token
///   in use until it expires; once no valid token is left, the call fails
///   with the provider's [`AuthProvider`](ErrorKind::AuthProvider) error.
///   A failure is remembered for `failure_cooldown`, during which calls
///   needing a new token fail at once instead of hammering the endpoint
///   (wrap the strategy in a [`Fallback`](crate::Fallback) to degrade instead).
///
/// A strategy is an `Arc<dyn AuthStrategy>` given to the connector, so it
/// can be chosen at run time; share one `TokenAuth` between the connectors
/// of one API so they share tokens.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use conn_auth::{Token, TokenAuth, provider_fn};
///
/// let auth = TokenAuth::builder(Arc::new(provider_fn(|_request| async {
///         Ok(Token::new("t").expires_in(Duration::from_secs(3600)))
///     })))
///     .skew(Duration::from_secs(60))
///     .jitter(Duration::from_secs(30))
///     .default_lifetime(Duration::from_secs(300))
///     .build();
/// // Connector::builder("vendor").auth(Arc::new(auth))...
/// # let _ = auth;
/// ```
pub struct TokenAuth {
    cache: TokenCache,
    settings: CacheSettings,
    header: HeaderName,
    scheme: Option<String>,
}

/// Builds a [`TokenAuth`]; see [`TokenAuth::builder`].
pub struct TokenAuthBuilder {
    provider: Arc<dyn TokenProvider>,
    shared: Option<Arc<dyn SharedTokens>>,
    settings: CacheSettings,
    header: HeaderName,
    scheme: Option<String>,
}

impl TokenAuth {
    /// A strategy with the default settings (see [`builder`](Self::builder)).
    pub fn new(provider: Arc<dyn TokenProvider>) -> Self {
        TokenAuth::builder(provider).build()
    }

    /// Starts from: refresh 60 s before expiry plus up to 30 s of jitter;
    /// tokens without `expires_in` live 5 minutes; failures remembered for
    /// 1 s; a background fetch given at most 30 s; `Authorization: Bearer`.
    pub fn builder(provider: Arc<dyn TokenProvider>) -> TokenAuthBuilder {
        TokenAuthBuilder {
            provider,
            shared: None,
            settings: CacheSettings {
                skew: Duration::from_secs(60),
                jitter: Duration::from_secs(30),
                default_lifetime: Duration::from_secs(300),
                failure_cooldown: Duration::from_secs(1),
                fetch_timeout: Duration::from_secs(30),
            },
            header: AUTHORIZATION,
            scheme: Some("Bearer".to_owned()),
        }
    }

    /// The tenant's current token, fetching one if needed (what `authorize`
    /// sends), for code that needs the token itself.
    pub async fn token(&self, context: &Context) -> Result<Arc<Token>, Error> {
        self.cache.get(context).await
    }

    /// Forgets the tenant's token: the next call fetches a new one.
    pub fn invalidate(&self, tenant: Option<&str>) {
        self.cache.invalidate(tenant);
    }

    /// Drops everything kept for a tenant that is gone (its token, its
    /// remembered failure), freeing the memory.
    pub fn forget_tenant(&self, tenant: Option<&str>) {
        self.cache.forget(tenant);
    }

    /// How many tenants the cache holds state for.
    pub fn tenant_count(&self) -> usize {
        self.cache.tenant_count()
    }
}

impl TokenAuthBuilder {
    /// How long before expiry a token is refreshed, at least (default 60 s).
    pub fn skew(mut self, skew: Duration) -> Self {
        self.settings.skew = skew;
        self
    }

    /// A random extra of up to this much is added to the skew of each token
    /// (default 30 s), so processes started together refresh apart.
    pub fn jitter(mut self, jitter: Duration) -> Self {
        self.settings.jitter = jitter;
        self
    }

    /// The lifetime of a token whose provider did not say (no `expires_in`;
    /// default 5 minutes).
    pub fn default_lifetime(mut self, lifetime: Duration) -> Self {
        self.settings.default_lifetime = lifetime;
        self
    }

    /// How long a failed fetch is remembered: calls that need a new token in
    /// that time fail at once with the same error (default 1 s; zero turns
    /// it off).
    pub fn failure_cooldown(mut self, cooldown: Duration) -> Self {
        self.settings.failure_cooldown = cooldown;
        self
    }

    /// Time limit of one fetch, retries included, when no call's deadline is
    /// earlier: the bound of background refreshes (default 30 s).
    pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
        self.settings.fetch_timeout = timeout;
        self
    }

    /// Shares tokens with the other replicas of a fleet (e.g.
    /// `conn_redis::RedisTokenStore`): the first replica that needs a token
    /// takes the fleet's lock and fetches, the others wait and use what it
    /// published, so N replicas make one token request; a token refused
    /// with 401 is replaced once for the whole fleet. Without it (the
    /// default) each process fetches its own tokens.
    pub fn shared(mut self, shared: Arc<dyn SharedTokens>) -> Self {
        self.shared = Some(shared);
        self
    }

    /// The header the token goes in (default `Authorization`).
    pub fn header(mut self, name: HeaderName) -> Self {
        self.header = name;
        self
    }

    /// The scheme before the token (default `Bearer`; `None` sends the bare
    /// token, for APIs that want `X-Access-Token: <token>`).
    pub fn scheme(mut self, scheme: Option<&str>) -> Self {
        self.scheme = scheme.map(str::to_owned);
        self
    }

    /// Builds the strategy.
    pub fn build(self) -> TokenAuth {
        TokenAuth {
            cache: TokenCache::new(self.provider, self.settings, self.shared),
            settings: self.settings,
            header: self.header,
            scheme: self.scheme,
        }
    }
}

impl TokenAuth {
    /// Puts `token` in the request's credential header.
    fn apply(&self, request: &mut Request, token: &Token) -> Result<(), Error> {
        let value =
            scheme_header(self.scheme.as_deref(), token.secret().expose_secret()).ok_or_else(|| {
                Error::new(
                    ErrorKind::AuthProvider,
                    "the token provider returned a token that is not a valid header value",
                )
            })?;
        request.set_credential_header(self.header.clone(), value);
        Ok(())
    }
}

impl AuthStrategy for TokenAuth {
    fn authorize<'a>(
        &'a self,
        request: &'a mut Request,
        context: &'a Context,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let token = self.cache.get(context).await?;
            self.apply(request, &token)
        })
    }

    /// A cached token that needs no refresh yet is added at once, without
    /// the boxed future and the deadline wrapper of `authorize`.
    fn try_authorize(&self, request: &mut Request, context: &Context) -> Option<Result<(), Error>> {
        let token = self.cache.fresh(context)?;
        Some(self.apply(request, &token))
    }

    fn refresh<'a>(&'a self, context: &'a Context) -> BoxFuture<'a, Result<bool, Error>> {
        Box::pin(self.cache.refresh_after_unauthorized(context))
    }

    /// Per tenant: the cached token's expiry, whether a fetch is in flight,
    /// whether the last one failed; tenants sorted, calls without a tenant first.
    fn credential_status(&self) -> Vec<conn_core::CredentialStatus> {
        let mut statuses = self.cache.statuses();
        statuses.sort_by(|a, b| a.tenant.cmp(&b.tenant));
        statuses
    }

    /// Labels the token metrics (`conn_token_refreshes_total`,
    /// `conn_token_expiry_timestamp_seconds`) with the connector.
    fn bind_telemetry(&self, connector: &str, telemetry: conn_core::Telemetry) {
        self.cache.bind_telemetry(connector, telemetry);
    }
}

impl fmt::Debug for TokenAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenAuth")
            .field("settings", &self.settings)
            .field("header", &self.header)
            .field("scheme", &self.scheme)
            .field("tenants", &self.cache.tenant_count())
            .finish()
    }
}

impl fmt::Debug for TokenAuthBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenAuthBuilder")
            .field("settings", &self.settings)
            .field("header", &self.header)
            .field("scheme", &self.scheme)
            .finish_non_exhaustive()
    }
}
