//! `TokenProvider`: where tokens come from — an OAuth2 grant, or your own
//! code for anything else (signed JWT assertions, vendor login flows).

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use conn_core::{BoxFuture, Error};
use tokio::time::Instant;

use crate::Token;

/// Why the cache asks for a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FetchReason {
    /// The tenant has no token yet.
    Missing,
    /// The tenant's token expired.
    Expired,
    /// The tenant's token is still valid but close to expiry (refresh ahead).
    RefreshAhead,
    /// The API answered 401 to the tenant's token.
    Unauthorized,
}

/// What a [`TokenProvider`] is asked for: a token for one tenant, before a
/// deadline.
///
/// ```
/// use std::time::Duration;
/// use conn_auth::TokenRequest;
///
/// let request = TokenRequest::new(Some("acme")).timeout(Duration::from_secs(5));
/// assert_eq!(request.tenant(), Some("acme"));
/// assert!(request.remaining().is_some());
/// ```
#[derive(Clone, Debug)]
pub struct TokenRequest {
    tenant: Option<Arc<str>>,
    deadline: Option<Instant>,
    correlation_id: Option<Arc<str>>,
    reason: FetchReason,
}

impl TokenRequest {
    /// A request for `tenant` (`None`: calls made without a tenant), without
    /// a deadline.
    pub fn new(tenant: Option<&str>) -> Self {
        TokenRequest {
            tenant: tenant.map(Arc::from),
            deadline: None,
            correlation_id: None,
            reason: FetchReason::Missing,
        }
    }

    pub(crate) fn for_cache(
        tenant: Option<Arc<str>>,
        deadline: Instant,
        correlation_id: Option<Arc<str>>,
        reason: FetchReason,
    ) -> Self {
        TokenRequest {
            tenant,
            deadline: Some(deadline),
            correlation_id,
            reason,
        }
    }

    /// Sets the instant by which the token must be obtained.
    pub fn deadline(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Sets the deadline to `timeout` from now (a timeout too large to
    /// represent leaves the deadline as it was).
    pub fn timeout(self, timeout: Duration) -> Self {
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.deadline(deadline),
            None => self,
        }
    }

    /// The tenant the token is for.
    pub fn tenant(&self) -> Option<&str> {
        self.tenant.as_deref()
    }

    /// The instant by which the token must be obtained: never later than the
    /// deadline of the call that needed it.
    pub fn deadline_at(&self) -> Option<Instant> {
        self.deadline
    }

    /// Time left before the deadline, if there is one (zero once passed).
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline.map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// The correlation id of the call that needed the token, for logs.
    pub fn correlation_id(&self) -> Option<&str> {
        self.correlation_id.as_deref()
    }

    /// Why the token is needed.
    pub fn reason(&self) -> FetchReason {
        self.reason
    }
}

/// Obtains a new token for a tenant. [`ClientCredentials`](crate::ClientCredentials)
/// and [`RefreshTokenGrant`](crate::RefreshTokenGrant) implement it; implement
/// it yourself (or pass an async closure to [`provider_fn`]) for any other
/// flow, and [`TokenAuth`](crate::TokenAuth) adds caching, refresh ahead of
/// expiry, single-flight and 401 handling.
///
/// A provider should honour [`TokenRequest::deadline_at`]; the cache also
/// enforces it. Errors should be of kind
/// [`AuthProvider`](conn_core::ErrorKind::AuthProvider) and their messages
/// must not contain secrets (the cache scrubs them anyway).
///
/// ```
/// use conn_auth::{Token, TokenProvider, TokenRequest};
/// use conn_core::{BoxFuture, Error};
///
/// /// Signs a short-lived token locally.
/// struct Signer;
///
/// impl TokenProvider for Signer {
///     fn fetch<'a>(&'a self, request: &'a TokenRequest) -> BoxFuture<'a, Result<Token, Error>> {
///         Box::pin(async move {
///             let tenant = request.tenant().unwrap_or("default");
///             Ok(Token::new(format!("signed-for-{tenant}"))
///                 .expires_in(std::time::Duration::from_secs(300)))
///         })
///     }
/// }
/// ```
pub trait TokenProvider: Send + Sync {
    /// Obtains a new token for `request.tenant()`.
    fn fetch<'a>(&'a self, request: &'a TokenRequest) -> BoxFuture<'a, Result<Token, Error>>;
}

/// A [`TokenProvider`] made from an async closure; see [`provider_fn`].
pub struct FnProvider<F> {
    f: F,
}

/// Makes a [`TokenProvider`] from an async closure that receives the
/// [`TokenRequest`].
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use conn_auth::{Token, TokenAuth, provider_fn};
///
/// let provider = provider_fn(|request| async move {
///     let tenant = request.tenant().unwrap_or("default").to_owned();
///     // ... call a vendor's login endpoint, sign a JWT ...
///     Ok(Token::new(format!("token-for-{tenant}")).expires_in(Duration::from_secs(600)))
/// });
/// let auth = TokenAuth::new(Arc::new(provider));
/// # let _ = auth;
/// ```
pub fn provider_fn<F, Fut>(f: F) -> FnProvider<F>
where
    F: Fn(TokenRequest) -> Fut + Send + Sync,
    Fut: Future<Output = Result<Token, Error>> + Send + 'static,
{
    FnProvider { f }
}

impl<F, Fut> TokenProvider for FnProvider<F>
where
    F: Fn(TokenRequest) -> Fut + Send + Sync,
    Fut: Future<Output = Result<Token, Error>> + Send + 'static,
{
    fn fetch<'a>(&'a self, request: &'a TokenRequest) -> BoxFuture<'a, Result<Token, Error>> {
        Box::pin((self.f)(request.clone()))
    }
}

impl<F> fmt::Debug for FnProvider<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FnProvider(<closure>)")
    }
}
