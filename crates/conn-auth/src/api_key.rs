//! `ApiKey`: a fixed key in a header or a query parameter.

use std::fmt;

use conn_core::{AuthStrategy, BoxFuture, Context, Error, Request};
use http::header::HeaderName;
use secrecy::{ExposeSecret, SecretString};

use crate::static_auth::{CachedHeader, scheme_header};

#[derive(Clone, Debug)]
enum Placement {
    Header(HeaderName),
    InvalidHeader,
    Query(String),
}

/// Sends a fixed API key in a header (`X-Api-Key: <key>`, or with a prefix:
/// `Authorization: Token <key>`) or in a query parameter (`?api_key=<key>`).
///
/// Either way the key is marked as a credential: redacted in `Debug` and
/// logs, and stripped if a redirect leaves the API's origin. Prefer a header:
/// URLs end up in proxy and server logs. A 401 is final.
///
/// ```
/// use conn_auth::ApiKey;
///
/// let in_header = ApiKey::header("x-api-key", "k-123");
/// let with_prefix = ApiKey::header("authorization", "k-123").prefix("Token");
/// let in_query = ApiKey::query("api_key", "k-123");
/// assert!(!format!("{in_header:?}{with_prefix:?}{in_query:?}").contains("k-123"));
/// ```
#[derive(Clone)]
pub struct ApiKey {
    placement: Placement,
    key: SecretString,
    prefix: Option<String>,
    header: CachedHeader,
}

impl ApiKey {
    /// The key in header `name`. An invalid header name is reported as a
    /// configuration error when a call is made.
    pub fn header(name: &str, key: impl Into<SecretString>) -> Self {
        let placement = match HeaderName::try_from(name) {
            Ok(name) => Placement::Header(name),
            Err(_) => Placement::InvalidHeader,
        };
        ApiKey {
            placement,
            key: key.into(),
            prefix: None,
            header: CachedHeader::default(),
        }
    }

    /// The key in query parameter `param`.
    pub fn query(param: impl Into<String>, key: impl Into<SecretString>) -> Self {
        ApiKey {
            placement: Placement::Query(param.into()),
            key: key.into(),
            prefix: None,
            header: CachedHeader::default(),
        }
    }

    /// Puts `prefix` and a space before the key in the header (`Token`,
    /// `ApiKey`...). Ignored for query parameters.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into());
        self.header = CachedHeader::default();
        self
    }
}

impl ApiKey {
    fn apply(&self, request: &mut Request) -> Result<(), Error> {
        match &self.placement {
            Placement::Header(name) => {
                let value = self
                    .header
                    .get_or_build(|| scheme_header(self.prefix.as_deref(), self.key.expose_secret()))
                    .ok_or_else(|| Error::config("the API key is not a valid header value"))?;
                request.set_credential_header(name.clone(), value);
            }
            Placement::InvalidHeader => return Err(Error::config("invalid API key header name")),
            Placement::Query(param) => {
                request.add_credential_query(param.clone(), self.key.expose_secret());
            }
        }
        Ok(())
    }
}

impl AuthStrategy for ApiKey {
    fn authorize<'a>(&'a self, request: &'a mut Request, _: &'a Context) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(std::future::ready(self.apply(request)))
    }

    fn try_authorize(&self, request: &mut Request, _: &Context) -> Option<Result<(), Error>> {
        Some(self.apply(request))
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("placement", &self.placement)
            .field("prefix", &self.prefix)
            .field("key", &"<redacted>")
            .finish()
    }
}
