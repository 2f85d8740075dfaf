//! AWS credentials for SigV4: fixed ones, or ones that expire and are
//! fetched again (STS, an instance role, a vault).
//!
//! The secret access key and the session token are `SecretString`s from
//! the moment they are read; the access key id is an identifier (it is sent
//! in every `Authorization` header) and shows in `Debug`.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use conn_core::{BoxFuture, Error, ErrorKind};
use secrecy::{ExposeSecret, SecretString};

use crate::SigningClock;
use crate::scrub::scrub;

/// Credentials are fetched again this long before they expire.
const REFRESH_AHEAD: Duration = Duration::from_secs(5 * 60);

/// One set of AWS credentials: access key id, secret access key, and for
/// temporary credentials a session token and an expiry.
///
/// ```
/// use conn_auth::AwsCredentials;
///
/// let credentials = AwsCredentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
///     .session_token("FQoGZXIvYXdzEXAMPLE");
/// let shown = format!("{credentials:?}");
/// assert!(shown.contains("AKIDEXAMPLE") && !shown.contains("wJalrXUtnFEMI") && !shown.contains("FQoG"));
/// ```
#[derive(Clone)]
pub struct AwsCredentials {
    access_key_id: String,
    secret_access_key: SecretString,
    session_token: Option<SecretString>,
    expires_at: Option<SystemTime>,
}

impl AwsCredentials {
    /// Long-term credentials: an access key id and its secret.
    pub fn new(access_key_id: impl Into<String>, secret_access_key: impl Into<SecretString>) -> Self {
        AwsCredentials {
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
            session_token: None,
            expires_at: None,
        }
    }

    /// Adds the session token of temporary credentials (sent as
    /// `X-Amz-Security-Token`, signed).
    pub fn session_token(mut self, token: impl Into<SecretString>) -> Self {
        self.session_token = Some(token.into());
        self
    }

    /// When temporary credentials stop working: a refreshing source fetches
    /// new ones five minutes before.
    pub fn expires_at(mut self, at: SystemTime) -> Self {
        self.expires_at = Some(at);
        self
    }

    /// Reads `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and, if set,
    /// `AWS_SESSION_TOKEN`; a `Config` error names the missing variable.
    pub fn from_env() -> Result<Self, Error> {
        let read = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let id = read("AWS_ACCESS_KEY_ID").ok_or_else(|| Error::config("AWS_ACCESS_KEY_ID is not set"))?;
        let secret =
            read("AWS_SECRET_ACCESS_KEY").ok_or_else(|| Error::config("AWS_SECRET_ACCESS_KEY is not set"))?;
        let mut credentials = AwsCredentials::new(id, secret);
        if let Some(token) = read("AWS_SESSION_TOKEN") {
            credentials = credentials.session_token(token);
        }
        Ok(credentials)
    }

    /// The access key id.
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// When these credentials expire, if they do.
    pub fn expiry(&self) -> Option<SystemTime> {
        self.expires_at
    }

    /// The signer's form. The copy lives only while one request is signed.
    pub(crate) fn to_signing(&self) -> aws_credential_types::Credentials {
        aws_credential_types::Credentials::new(
            self.access_key_id.clone(),
            self.secret_access_key.expose_secret().to_owned(),
            self.session_token.as_ref().map(|t| t.expose_secret().to_owned()),
            self.expires_at,
            "conn-auth",
        )
    }

    /// The values an error or log must never show.
    pub(crate) fn secrets(&self) -> Vec<&str> {
        let mut secrets = vec![self.secret_access_key.expose_secret()];
        if let Some(token) = &self.session_token {
            secrets.push(token.expose_secret());
        }
        secrets
    }

    /// Whether these credentials are still good for a while at `now`.
    fn fresh_at(&self, now: SystemTime) -> bool {
        self.expires_at
            .is_none_or(|at| at.duration_since(now).is_ok_and(|left| left > REFRESH_AHEAD))
    }
}

impl fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Where refreshing AWS credentials come from (STS `AssumeRole`, instance
/// metadata, a secrets manager...). Called when none are cached or the
/// cached ones expire within five minutes, and after a 401.
pub trait AwsCredentialSource: Send + Sync {
    /// Fetches a fresh set of credentials.
    fn fetch(&self) -> BoxFuture<'_, Result<AwsCredentials, Error>>;
}

/// An [`AwsCredentialSource`] from an async closure.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use conn_auth::{AwsCredentials, aws_credentials_fn};
///
/// let source = aws_credentials_fn(|| async {
///     // e.g. call STS AssumeRole here
///     Ok(AwsCredentials::new("ASIAEXAMPLE", "temporary-secret")
///         .session_token("session-token")
///         .expires_at(SystemTime::now() + Duration::from_secs(3600)))
/// });
/// # let _ = source;
/// ```
pub fn aws_credentials_fn<F, Fut>(fetch: F) -> impl AwsCredentialSource
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<AwsCredentials, Error>> + Send + 'static,
{
    struct FnSource<F>(F);
    impl<F, Fut> AwsCredentialSource for FnSource<F>
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<AwsCredentials, Error>> + Send + 'static,
    {
        fn fetch(&self) -> BoxFuture<'_, Result<AwsCredentials, Error>> {
            Box::pin((self.0)())
        }
    }
    FnSource(fetch)
}

/// Static credentials, or a source with a one-entry cache that fetches one
/// set at a time (the lock is held across the fetch: single flight).
pub(crate) enum CredentialSlot {
    Static(AwsCredentials),
    Refreshing {
        source: Arc<dyn AwsCredentialSource>,
        cached: tokio::sync::Mutex<Option<AwsCredentials>>,
    },
}

impl CredentialSlot {
    pub(crate) fn refreshing(source: Arc<dyn AwsCredentialSource>) -> Self {
        CredentialSlot::Refreshing {
            source,
            cached: tokio::sync::Mutex::new(None),
        }
    }

    /// Credentials good for this request.
    pub(crate) async fn current(&self, clock: &SigningClock) -> Result<AwsCredentials, Error> {
        match self {
            CredentialSlot::Static(credentials) => Ok(credentials.clone()),
            CredentialSlot::Refreshing { source, cached } => {
                let mut cached = cached.lock().await;
                if let Some(credentials) = cached.as_ref()
                    && credentials.fresh_at(clock.now())
                {
                    return Ok(credentials.clone());
                }
                let fetched = fetch(&**source).await?;
                *cached = Some(fetched.clone());
                Ok(fetched)
            }
        }
    }

    /// Forgets cached credentials after a 401; `false` when there is
    /// nothing to renew.
    pub(crate) async fn discard(&self) -> bool {
        match self {
            CredentialSlot::Static(_) => false,
            CredentialSlot::Refreshing { cached, .. } => {
                cached.lock().await.take();
                true
            }
        }
    }
}

async fn fetch(source: &dyn AwsCredentialSource) -> Result<AwsCredentials, Error> {
    let fetched = source.fetch().await.map_err(|err| {
        let message = scrub(&err.to_string());
        Error::new(
            ErrorKind::AuthProvider,
            format!("AWS credentials could not be fetched: {message}"),
        )
        .transient(err.is_transient())
    })?;
    tracing::debug!(
        target: "conn_auth::sigv4",
        access_key_id = fetched.access_key_id(),
        expires = fetched.expires_at.is_some(),
        "AWS credentials fetched"
    );
    Ok(fetched)
}

impl fmt::Debug for CredentialSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialSlot::Static(credentials) => f.debug_tuple("Static").field(credentials).finish(),
            CredentialSlot::Refreshing { .. } => f.write_str("Refreshing"),
        }
    }
}
