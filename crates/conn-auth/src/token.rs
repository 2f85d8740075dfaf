//! `Token`: an access token and how long it lives, as a provider hands it over.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;

use crate::random;

/// A non-secret identifier of a token, for logs and access logs: random hex
/// digits made when the token is received or stored, never derived from the
/// token's value.
///
/// ```
/// use conn_auth::TokenId;
///
/// let a = TokenId::generate();
/// assert_ne!(a, TokenId::generate());
/// assert_eq!(a.as_str().len(), 16);
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TokenId(Arc<str>);

impl TokenId {
    /// A fresh random id.
    pub fn generate() -> Self {
        TokenId(Arc::from(random::id_hex()))
    }

    /// An id read back from a store. Anything but ASCII letters, digits, `-`
    /// and `_` is dropped and the length capped, so an id from a file can
    /// neither smuggle text into logs nor carry a secret of any length.
    pub fn from_stored(id: &str) -> Self {
        let clean: String = id
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .take(64)
            .collect();
        if clean.is_empty() {
            return TokenId::generate();
        }
        TokenId(Arc::from(clean))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenId({})", self.0)
    }
}

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
