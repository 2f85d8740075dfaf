//! Redaction of headers for `Debug` output and logs.

use std::fmt;

use http::HeaderMap;
use http::header::HeaderName;

use crate::Credentials;

/// Header names that carry secrets in common APIs even when no auth strategy
/// marked them (users set API keys by hand too).
const USUALLY_SECRET: [&str; 6] = [
    "set-cookie",
    "x-api-key",
    "api-key",
    "x-auth-token",
    "x-access-token",
    "x-amz-security-token",
];

/// Whether the value of header `name` must not be shown.
pub(crate) fn is_secret_header(name: &HeaderName, credentials: &Credentials) -> bool {
    credentials.is_credential_header(name) || USUALLY_SECRET.contains(&name.as_str())
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
