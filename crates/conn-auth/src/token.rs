//! `Token`: an access token and how long it lives, as a provider hands it over.

use std::fmt;
use std::time::Duration;

use secrecy::SecretString;

pub use conn_core::store::TokenId;

/// An access token: its secret value, its lifetime as issued, the scope it
/// was granted, and a [`TokenId`] for logs.
///
/// A [`TokenProvider`](crate::TokenProvider) returns one; the cache of
/// [`TokenAuth`](crate::TokenAuth) decides when it is refreshed. A token
/// without a lifetime gets the cache's default lifetime. `Debug` shows
/// everything but the value.
///
/// ```
/// use std::time::Duration;
/// use conn_auth::Token;
///
/// let token = Token::new("s3cr3t-value").expires_in(Duration::from_secs(3600)).scope("read");
/// assert_eq!(token.lifetime(), Some(Duration::from_secs(3600)));
/// assert!(!format!("{token:?}").contains("s3cr3t"));
/// ```
#[derive(Clone)]
pub struct Token {
    id: TokenId,
    secret: SecretString,
    lifetime: Option<Duration>,
    scope: Option<String>,
}

impl Token {
    /// A token with this secret value and no known lifetime.
    pub fn new(secret: impl Into<SecretString>) -> Self {
        Token {
            id: TokenId::generate(),
            secret: secret.into(),
            lifetime: None,
            scope: None,
        }
    }

    /// The same token under another id (a token adopted from a fleet keeps
    /// the id every replica logs).
    pub(crate) fn with_id(mut self, id: TokenId) -> Self {
        self.id = id;
        self
    }

    /// Sets how long the token is valid, counted from when it was requested.
    pub fn expires_in(mut self, lifetime: Duration) -> Self {
        self.lifetime = Some(lifetime);
        self
    }

    /// Records the scope the token was granted.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// The token's id, for logs.
    pub fn id(&self) -> &TokenId {
        &self.id
    }

    /// The secret value (use `secrecy::ExposeSecret` to read it).
    pub fn secret(&self) -> &SecretString {
        &self.secret
    }

    /// How long the token is valid from when it was requested, if known.
    pub fn lifetime(&self) -> Option<Duration> {
        self.lifetime
    }

    /// The scope the token was granted, if the provider said.
    pub fn granted_scope(&self) -> Option<&str> {
        self.scope.as_deref()
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .field("lifetime", &self.lifetime)
            .field("scope", &self.scope)
            .finish()
    }
}
