//! `BasicAuth`: HTTP Basic authentication (RFC 7617).

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use conn_core::{AuthStrategy, BoxFuture, Context, Error, Request};
use http::header::AUTHORIZATION;
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::static_auth::{CachedHeader, scheme_header};

/// Sends `Authorization: Basic base64(user:password)`. A 401 is final.
///
/// ```
/// use conn_auth::BasicAuth;
///
/// let auth = BasicAuth::new("reporting", "pa55word");
/// assert!(!format!("{auth:?}").contains("pa55word"));
/// ```
#[derive(Clone)]
pub struct BasicAuth {
    username: String,
    password: SecretString,
    header: CachedHeader,
}

impl BasicAuth {
    /// Credentials for `username`. A user name containing `:` cannot be sent
    /// (RFC 7617) and fails the call with a configuration error.
    pub fn new(username: impl Into<String>, password: impl Into<SecretString>) -> Self {
        BasicAuth {
            username: username.into(),
            password: password.into(),
            header: CachedHeader::default(),
        }
    }
}

/// The base64 of `user:password`, for a Basic `Authorization` header.
pub(crate) fn basic_credentials(user: &str, password: &str) -> Zeroizing<String> {
    let joined = Zeroizing::new(format!("{user}:{password}"));
    Zeroizing::new(STANDARD.encode(joined.as_bytes()))
}

impl BasicAuth {
    fn apply(&self, request: &mut Request) -> Result<(), Error> {
        if self.username.contains(':') {
            return Err(Error::config("a Basic auth user name cannot contain ':'"));
        }
        let value = self
            .header
            .get_or_build(|| {
                let encoded = basic_credentials(&self.username, self.password.expose_secret());
                scheme_header(Some("Basic"), &encoded)
            })
            .ok_or_else(|| Error::config("the Basic credentials are not a valid header value"))?;
        request.set_credential_header(AUTHORIZATION, value);
        Ok(())
    }
}

impl AuthStrategy for BasicAuth {
    fn authorize<'a>(&'a self, request: &'a mut Request, _: &'a Context) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(std::future::ready(self.apply(request)))
    }

    fn try_authorize(&self, request: &mut Request, _: &Context) -> Option<Result<(), Error>> {
        Some(self.apply(request))
    }
}

impl fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicAuth")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_7617_example() {
        assert_eq!(
            &*basic_credentials("Aladdin", "open sesame"),
            "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
    }
}
