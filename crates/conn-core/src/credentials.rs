//! Which parts of a request are credentials, so they can be stripped or redacted.

use http::header::{AUTHORIZATION, COOKIE, HeaderName, PROXY_AUTHORIZATION};

/// The names of the headers and query parameters that carry credentials.
///
/// An [`AuthStrategy`](crate::AuthStrategy) marks what it adds (through
/// [`Request::set_credential_header`](crate::Request::set_credential_header)
/// and [`Request::add_credential_query`](crate::Request::add_credential_query)),
/// so that a transport following a redirect to another origin can remove every
/// credential, custom API-key headers included, and so that logs redact them.
///
/// ```
/// use conn_core::Credentials;
///
/// let mut credentials = Credentials::default();
/// credentials.mark_header(http::HeaderName::from_static("x-api-key"));
/// credentials.mark_query_key("api_key");
///
/// let mut request = http::Request::builder()
///     .uri("https://other.example/v1/items?api_key=s3cr3t&page=2")
///     .header("x-api-key", "s3cr3t")
///     .header("authorization", "Bearer s3cr3t")
///     .body(bytes::Bytes::new())
///     .unwrap();
/// credentials.strip_from(&mut request);
///
/// assert_eq!(request.uri(), "https://other.example/v1/items?page=2");
/// assert!(request.headers().is_empty());
/// ```
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Credentials {
    headers: Vec<HeaderName>,
    query_keys: Vec<String>,
}

impl Clone for Credentials {
    /// Most requests mark nothing, and every attempt copies its request:
    /// empty lists are made new rather than cloned (cloning even an empty
    /// `Vec` costs a few dozen instructions, measured per attempt).
    fn clone(&self) -> Self {
        if self.is_empty() {
            return Credentials::default();
        }
        Credentials {
            headers: self.headers.clone(),
            query_keys: self.query_keys.clone(),
        }
    }
}

/// Headers that carry credentials whoever set them.
const ALWAYS_CREDENTIALS: [HeaderName; 3] = [AUTHORIZATION, PROXY_AUTHORIZATION, COOKIE];

impl Credentials {
    /// Marks a header as carrying a credential. `Authorization`,
    /// `Proxy-Authorization` and `Cookie` always do and are not listed
    /// (marking one costs nothing: no allocation per authorized attempt).
    pub fn mark_header(&mut self, name: HeaderName) {
        if !self.is_credential_header(&name) {
            self.headers.push(name);
        }
    }

    /// Marks a query parameter as carrying a credential.
    pub fn mark_query_key(&mut self, key: impl Into<String>) {
        let key = key.into();
        if !self.query_keys.contains(&key) {
            self.query_keys.push(key);
        }
    }

    /// Whether nothing is marked.
    pub fn is_empty(&self) -> bool {
        self.headers.is_empty() && self.query_keys.is_empty()
    }

    /// The marked header names (besides the three that always carry credentials).
    pub fn headers(&self) -> &[HeaderName] {
        &self.headers
    }

    /// The marked query parameter names.
    pub fn query_keys(&self) -> &[String] {
        &self.query_keys
    }

    /// Whether `name` carries a credential: a marked header, or one of
    /// `Authorization`, `Proxy-Authorization`, `Cookie`.
    pub fn is_credential_header(&self, name: &HeaderName) -> bool {
        ALWAYS_CREDENTIALS.contains(name) || self.headers.contains(name)
    }

    /// Whether the query parameter `key` carries a credential.
    pub fn is_credential_query_key(&self, key: &str) -> bool {
        self.query_keys.iter().any(|k| k == key)
    }

    /// Removes every credential from `request`: the standard credential
    /// headers, every marked header and every marked query parameter.
    pub fn strip_from<B>(&self, request: &mut http::Request<B>) {
        for name in ALWAYS_CREDENTIALS.iter().chain(&self.headers) {
            request.headers_mut().remove(name);
        }
        if self.query_keys.is_empty() {
            return;
        }
        let uri = request.uri();
        let Some(query) = uri.query() else { return };
        let kept: Vec<&str> = query
            .split('&')
            .filter(|pair| {
                let raw_key = pair.split('=').next().unwrap_or_default();
                let key = percent_encoding::percent_decode_str(raw_key).decode_utf8_lossy();
                !self.is_credential_query_key(&key)
            })
            .collect();
        let mut path_and_query = uri.path().to_owned();
        if !kept.is_empty() {
            path_and_query.push('?');
            path_and_query.push_str(&kept.join("&"));
        }
        let mut parts = uri.clone().into_parts();
        // The new value only drops pairs from a valid path-and-query, so it stays valid.
        if let Ok(pq) = path_and_query.parse() {
            parts.path_and_query = Some(pq);
            if let Ok(stripped) = http::Uri::from_parts(parts) {
                *request.uri_mut() = stripped;
            }
        }
    }
}
