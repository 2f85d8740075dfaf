//! The two OAuth2 grants: client credentials, and refresh token with rotation.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use conn_core::{BoxFuture, Error, ErrorKind};
use secrecy::{ExposeSecret, SecretString};

use crate::store::tenant_label;
use crate::{
    OAuth2Client, StoredToken, Token, TokenForm, TokenProvider, TokenRequest, TokenResponse, TokenStore,
};

/// The client credentials grant (RFC 6749 §4.4): the client's own id and
/// secret buy an access token, with optional scopes and audience. A
/// [`TokenProvider`]: wrap it in a [`TokenAuth`](crate::TokenAuth).
///
/// ```
/// use std::sync::Arc;
/// use conn_auth::{ClientCredentials, OAuth2Client, TokenAuth};
/// # fn client() -> OAuth2Client {
/// #     OAuth2Client::builder("https://login.example/token").client_id("c").client_secret("s")
/// #         .transport(Arc::new(conn_testkit::ScriptedTransport::default())).build().unwrap()
/// # }
///
/// let grant = ClientCredentials::new(client())
///     .scopes(["orders:read", "orders:write"])
///     .audience("https://api.vendor.example");
/// let auth = Arc::new(TokenAuth::new(Arc::new(grant)));
/// // Connector::builder("vendor").auth(auth)...
/// # let _ = auth;
/// ```
///
/// Some servers answer a client credentials request with a refresh token as
/// well; a server that issues one expects it to be used. The grant keeps it
/// (per tenant, in memory) and renews with it, replaced whenever the server
/// rotates it; when the server refuses it, the grant falls back to the
/// client's own credentials.
#[derive(Clone)]
pub struct ClientCredentials {
    client: OAuth2Client,
    scopes: Vec<String>,
    params: Vec<(String, String)>,
    /// Refresh tokens the server issued, per tenant (clones share them).
    refresh_tokens: Arc<Mutex<HashMap<TenantKey, SecretString>>>,
}

impl ClientCredentials {
    /// The grant for `client`, with no scope.
    pub fn new(client: OAuth2Client) -> Self {
        ClientCredentials {
            client,
            scopes: Vec::new(),
            params: Vec::new(),
            refresh_tokens: Arc::default(),
        }
    }

    /// Adds a scope (sent space-separated in `scope`).
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scopes.push(scope.into());
        self
    }

    /// Adds scopes.
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes.extend(scopes.into_iter().map(Into::into));
        self
    }

    /// Sets the `audience` parameter (the API the token is for, as Auth0 and
    /// others expect it).
    pub fn audience(self, audience: impl Into<String>) -> Self {
        self.param("audience", audience)
    }

    /// Adds any other non-secret parameter (`resource` from RFC 8707...).
    pub fn param(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push((key.into(), value.into()));
        self
    }

    fn form(&self) -> TokenForm {
        let mut form = TokenForm::new("client_credentials");
        if !self.scopes.is_empty() {
            form = form.param("scope", self.scopes.join(" "));
        }
        for (key, value) in &self.params {
            form = form.param(key.clone(), value.clone());
        }
        form
    }

    fn refresh_tokens(&self) -> MutexGuard<'_, HashMap<TenantKey, SecretString>> {
        // Entries are replaced whole, so a poisoned map is still consistent.
        self.refresh_tokens.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps the refresh token a response carried, if any.
    fn keep_refresh_token(&self, tenant: Option<&str>, response: &TokenResponse) {
        if let Some(refresh_token) = response.refresh_token() {
            self.refresh_tokens()
                .insert(tenant.map(str::to_owned), refresh_token.clone());
        }
    }

    /// Renews with the kept refresh token. `None` when there is none, or the
    /// server refused it (it is then forgotten, and the client credentials
    /// are used instead); an outage is the call's error.
    async fn renew(&self, request: &TokenRequest) -> Option<Result<TokenResponse, Error>> {
        let tenant = request.tenant();
        let refresh_token = self.refresh_tokens().get(&tenant.map(str::to_owned)).cloned()?;
        let mut form = TokenForm::new("refresh_token")
            .secret("refresh_token", refresh_token)
            .single_use();
        if !self.scopes.is_empty() {
            form = form.param("scope", self.scopes.join(" "));
        }
        match self.client.request_token(&form, request).await {
            Err(err) if !err.is_transient() => {
                tracing::debug!(
                    target: "conn_auth::token_endpoint",
                    tenant = tenant_label(tenant),
                    error = %err,
                    "refresh token refused; requesting with the client credentials"
                );
                self.refresh_tokens().remove(&tenant.map(str::to_owned));
                None
            }
            result => Some(result),
        }
    }
}

impl TokenProvider for ClientCredentials {
    fn fetch<'a>(&'a self, request: &'a TokenRequest) -> BoxFuture<'a, Result<Token, Error>> {
        Box::pin(async move {
            let response = match self.renew(request).await {
                Some(renewed) => renewed?,
                None => self.client.request_token(&self.form(), request).await?,
            };
            self.keep_refresh_token(request.tenant(), &response);
            Ok(response.into_token())
        })
    }
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("client", &self.client)
            .field("scopes", &self.scopes)
            .field("params", &self.params)
            .field("refresh_tokens_kept", &self.refresh_tokens().len())
            .finish()
    }
}

type TenantKey = Option<String>;

/// The refresh token grant (RFC 6749 §6) with refresh-token rotation: each
/// tenant's refresh token, kept in a [`TokenStore`], buys access tokens;
/// when the server answers with a new refresh token, the new one replaces
/// the old one **in the store before the new access token is used**, and the
/// old one is never sent again.
///
/// Where a tenant's refresh token comes from, first found wins: a rotated
/// token that the store failed to persist (kept in memory, retried on the
/// next refresh), the store, then the initial token configured with
/// [`initial_refresh_token`](Self::initial_refresh_token). So after a restart
/// with a persistent store, the rotated token is used, not the stale initial
/// one.
///
/// Refresh requests are [single use](TokenForm::single_use): retried after
/// a 5xx, never after a lost connection (the server may have rotated the
/// token already, and many servers revoke every token of a client that
/// replays an old one). A 400 `invalid_grant` is final and says the refresh
/// token was revoked, expired or already used.
///
/// ```
/// use std::sync::Arc;
/// use conn_auth::{MemoryStore, OAuth2Client, RefreshTokenGrant, TokenAuth};
/// use secrecy::SecretString;
/// # fn client() -> OAuth2Client {
/// #     OAuth2Client::builder("https://login.example/token").client_id("c").client_secret("s")
/// #         .transport(Arc::new(conn_testkit::ScriptedTransport::default())).build().unwrap()
/// # }
///
/// let grant = RefreshTokenGrant::new(client(), Arc::new(MemoryStore::new()))
///     .initial_refresh_token(Some("acme"), SecretString::from("rt-from-the-consent-flow"));
/// let auth = TokenAuth::new(Arc::new(grant));
/// # let _ = auth;
/// ```
pub struct RefreshTokenGrant {
    client: OAuth2Client,
    store: Arc<dyn TokenStore>,
    initial: HashMap<TenantKey, SecretString>,
    scopes: Vec<String>,
    /// Rotated tokens the store failed to persist: they are the only valid
    /// ones, so they are used (and saving retried) on the next refresh.
    unsaved: Mutex<HashMap<TenantKey, StoredToken>>,
    /// One refresh per tenant at a time, even when the grant is shared or
    /// called directly: two concurrent refreshes with one rotating token
    /// would make the second fail (or get the family revoked).
    in_progress: Mutex<HashMap<TenantKey, Arc<tokio::sync::Mutex<()>>>>,
}

impl RefreshTokenGrant {
    /// The grant for `client`, keeping refresh tokens in `store`.
    pub fn new(client: OAuth2Client, store: Arc<dyn TokenStore>) -> Self {
        RefreshTokenGrant {
            client,
            store,
            initial: HashMap::new(),
            scopes: Vec::new(),
            unsaved: Mutex::new(HashMap::new()),
            in_progress: Mutex::new(HashMap::new()),
        }
    }

    /// The refresh token to start from for `tenant` (`None`: calls without a
    /// tenant), used only while the store holds none for it.
    pub fn initial_refresh_token(mut self, tenant: Option<&str>, token: impl Into<SecretString>) -> Self {
        self.initial.insert(tenant.map(str::to_owned), token.into());
        self
    }

    /// Adds a scope to refresh requests (to narrow the token; most servers
    /// keep the original scope when none is sent).
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scopes.push(scope.into());
        self
    }

    fn unsaved(&self) -> MutexGuard<'_, HashMap<TenantKey, StoredToken>> {
        // Entries are replaced whole, so a poisoned map is still consistent.
        self.unsaved.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn tenant_lock(&self, tenant: Option<&str>) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.in_progress.lock().unwrap_or_else(|e| e.into_inner());
        locks.entry(tenant.map(str::to_owned)).or_default().clone()
    }

    /// The tenant's current refresh token, and whether it still has to be
    /// persisted.
    async fn current(&self, tenant: Option<&str>) -> Result<(StoredToken, bool), Error> {
        let key = tenant.map(str::to_owned);
        if let Some(unsaved) = self.unsaved().get(&key).cloned() {
            return Ok((unsaved, true));
        }
        if let Some(stored) = self.store.load(tenant).await? {
            return Ok((stored, false));
        }
        match self.initial.get(&key) {
            Some(initial) => Ok((StoredToken::new(initial.clone()), false)),
            None => Err(Error::new(
                ErrorKind::AuthProvider,
                format!(
                    "no refresh token for tenant {}: configure an initial refresh token or save one in the store",
                    tenant_label(tenant)
                ),
            )),
        }
    }
}

impl TokenProvider for RefreshTokenGrant {
    fn fetch<'a>(&'a self, request: &'a TokenRequest) -> BoxFuture<'a, Result<Token, Error>> {
        Box::pin(async move {
            let tenant = request.tenant();
            let lock = self.tenant_lock(tenant);
            let _one_at_a_time = lock.lock().await;
            let (current, unsaved) = self.current(tenant).await?;
            let mut form = TokenForm::new("refresh_token")
                .secret("refresh_token", current.refresh_token().clone())
                .single_use();
            if !self.scopes.is_empty() {
                form = form.param("scope", self.scopes.join(" "));
            }
            let response = self.client.request_token(&form, request).await?;
            let rotated = response
                .refresh_token()
                .filter(|new| new.expose_secret() != current.refresh_token().expose_secret())
                .cloned();
            if let Some(new) = rotated {
                let stored = StoredToken::new(new);
                let key = tenant.map(str::to_owned);
                // Persist before the access token is handed out: if the
                // process died right after using it, the old refresh token
                // would be all that is left, and it is already spent.
                if let Err(err) = self.store.save(tenant, &stored).await {
                    tracing::error!(
                        target: "conn_auth::rotation",
                        tenant = tenant_label(tenant),
                        old_token_id = %current.id(),
                        new_token_id = %stored.id(),
                        error = %err,
                        "rotated refresh token not persisted; kept in memory"
                    );
                    self.unsaved().insert(key, stored);
                    return Err(Error::new(
                        ErrorKind::AuthProvider,
                        format!(
                            "the refresh token was rotated but could not be persisted ({}); \
                             the new one is kept in memory and saving is retried on the next refresh",
                            err.message()
                        ),
                    ));
                }
                self.unsaved().remove(&key);
                tracing::info!(
                    target: "conn_auth::rotation",
                    tenant = tenant_label(tenant),
                    old_token_id = %current.id(),
                    new_token_id = %stored.id(),
                    "refresh token rotated and persisted"
                );
            } else if unsaved {
                // Not rotated this time, but the token in use was never
                // persisted: try again now. The access token is safe to use
                // either way (no new refresh token is at stake).
                match self.store.save(tenant, &current).await {
                    Ok(()) => {
                        self.unsaved().remove(&tenant.map(str::to_owned));
                    }
                    Err(err) => tracing::error!(
                        target: "conn_auth::rotation",
                        tenant = tenant_label(tenant),
                        token_id = %current.id(),
                        error = %err,
                        "refresh token still not persisted; kept in memory"
                    ),
                }
            }
            Ok(response.into_token())
        })
    }
}

impl fmt::Debug for RefreshTokenGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tenants: Vec<&str> = self.initial.keys().map(|t| tenant_label(t.as_deref())).collect();
        f.debug_struct("RefreshTokenGrant")
            .field("client", &self.client)
            .field("initial_tenants", &tenants)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}
