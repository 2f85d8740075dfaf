//! `StaticBearer`: one long-lived bearer token for every call.

use std::fmt;
use std::sync::OnceLock;

use conn_core::{AuthStrategy, BoxFuture, Context, Error, Request};
use http::header::{AUTHORIZATION, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

/// Sends `Authorization: Bearer <token>` with a fixed token (a personal
/// access token, a service key). A 401 is final: there is nothing to renew.
///
/// ```
/// use std::sync::Arc;
/// use conn_auth::StaticBearer;
/// use secrecy::SecretString;
///
/// let token = SecretString::from(std::env::var("VENDOR_TOKEN").unwrap_or_default());
/// let auth = Arc::new(StaticBearer::new(token));
/// // Connector::builder("vendor").auth(auth)...
/// # let _ = auth;
/// ```
#[derive(Clone)]
pub struct StaticBearer {
    token: SecretString,
    header: CachedHeader,
}

impl StaticBearer {
    /// A strategy that always sends `token`.
    pub fn new(token: impl Into<SecretString>) -> Self {
        StaticBearer {
            token: token.into(),
            header: CachedHeader::default(),
        }
    }
}

/// A fixed credential's header value, built on first use and reused: the
/// secret does not change, so neither does the header. One copy, marked
/// sensitive, instead of formatting the secret again for every request.
#[derive(Clone, Default)]
pub(crate) struct CachedHeader(OnceLock<Option<HeaderValue>>);

impl CachedHeader {
    /// The value `build` made the first time (`None`: not a valid header value).
    pub(crate) fn get_or_build(&self, build: impl FnOnce() -> Option<HeaderValue>) -> Option<HeaderValue> {
        self.0.get_or_init(build).clone()
    }
}

/// `Authorization: <scheme> <secret>`, as a sensitive header value.
pub(crate) fn scheme_header(scheme: Option<&str>, secret: &str) -> Option<HeaderValue> {
    let text = Zeroizing::new(match scheme {
        Some(scheme) => format!("{scheme} {secret}"),
        None => secret.to_owned(),
    });
    let mut value = HeaderValue::from_str(&text).ok()?;
    value.set_sensitive(true);
    Some(value)
}

impl StaticBearer {
    fn apply(&self, request: &mut Request) -> Result<(), Error> {
        let value = self
            .header
            .get_or_build(|| scheme_header(Some("Bearer"), self.token.expose_secret()))
            .ok_or_else(|| Error::config("the bearer token is not a valid header value"))?;
        request.set_credential_header(AUTHORIZATION, value);
        Ok(())
    }
}

impl AuthStrategy for StaticBearer {
    fn authorize<'a>(&'a self, request: &'a mut Request, _: &'a Context) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(std::future::ready(self.apply(request)))
    }

    fn try_authorize(&self, request: &mut Request, _: &Context) -> Option<Result<(), Error>> {
        Some(self.apply(request))
    }
}

impl fmt::Debug for StaticBearer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticBearer")
            .field("token", &"<redacted>")
            .finish()
    }
}
