//! Redaction of headers for `Debug` output and logs.

use std::fmt;

use http::HeaderMap;
use http::header::HeaderName;

use crate::Credentials;

/// Header names whose values are credentials or sessions in common APIs,
/// whoever set them: never shown in `Debug`, logs or envelopes.
pub const SECRET_HEADERS: [&str; 12] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "www-authenticate",
    "proxy-authenticate",
    "x-api-key",
    "api-key",
    "x-auth-token",
    "x-access-token",
    "x-amz-security-token",
    "x-csrf-token",
];

/// Whether header `name` is one of [`SECRET_HEADERS`].
///
/// ```
/// use conn_core::is_secret_header_name;
///
/// assert!(is_secret_header_name(&http::header::AUTHORIZATION));
/// assert!(!is_secret_header_name(&http::header::CONTENT_TYPE));
/// ```
pub fn is_secret_header_name(name: &HeaderName) -> bool {
    SECRET_HEADERS.contains(&name.as_str())
}

/// Whether the value of header `name` must not be shown: a well-known secret
/// header, or one an auth strategy marked.
pub(crate) fn is_secret_header(name: &HeaderName, credentials: &Credentials) -> bool {
    credentials.is_credential_header(name) || is_secret_header_name(name)
}

/// `Debug` view of a header map that shows secret values as `<redacted>`.
pub(crate) struct RedactedHeaders<'a> {
    headers: &'a HeaderMap,
    credentials: &'a Credentials,
}

impl<'a> RedactedHeaders<'a> {
    pub(crate) fn new(headers: &'a HeaderMap, credentials: &'a Credentials) -> Self {
        RedactedHeaders { headers, credentials }
    }
}

impl fmt::Debug for RedactedHeaders<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (name, value) in self.headers {
            if value.is_sensitive() || is_secret_header(name, self.credentials) {
                map.entry(&name.as_str(), &"<redacted>");
            } else {
                map.entry(&name.as_str(), &value);
            }
        }
        map.finish()
    }
}
