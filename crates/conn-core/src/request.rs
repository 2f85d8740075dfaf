//! `Request`: what a caller asks a connector to do.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method};

use crate::redact::RedactedHeaders;
use crate::{Credentials, Error};

/// The header that makes a non-idempotent request safe to retry.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// One logical call to an API: method, endpoint path relative to the
/// connector's base URL, query pairs, headers and a body that every attempt
/// replays.
///
/// Builder methods never fail: an invalid header is remembered and reported
/// as a [`Config`](crate::ErrorKind::Config) error when the call is made, so
/// user input can be passed straight in.
///
/// ```
/// use conn_core::Request;
///
/// let request = Request::post("/v1/orders")
///     .query("dry_run", "false")
///     .header("x-client", "inventory-sync")
///     .json(&serde_json::json!({ "sku": "A-1", "qty": 2 }))
///     .idempotency_key("order-7f3a");
///
/// assert!(request.is_idempotent()); // the key makes this POST retryable
/// assert_eq!(request.endpoint(), "/v1/orders");
/// ```
#[derive(Clone)]
pub struct Request {
    pub(crate) method: Method,
    endpoint: String,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    timeout: Option<Duration>,
    idempotent: Option<bool>,
    pub(crate) credentials: Credentials,
    invalid: Option<&'static str>,
    degraded: Option<&'static str>,
    body_limit: Option<u64>,
}

impl Request {
    /// A request with `method` to `endpoint` (a path relative to the base URL,
    /// optionally with a `?query`).
    pub fn new(method: Method, endpoint: impl Into<String>) -> Self {
        Request {
            method,
            endpoint: endpoint.into(),
            query: Vec::new(),
            headers: HeaderMap::new(),
            body: Bytes::new(),
            timeout: None,
            idempotent: None,
            credentials: Credentials::default(),
            invalid: None,
            degraded: None,
            body_limit: None,
        }
    }

    /// A GET request.
    pub fn get(endpoint: impl Into<String>) -> Self {
        Request::new(Method::GET, endpoint)
    }

    /// A POST request.
    pub fn post(endpoint: impl Into<String>) -> Self {
        Request::new(Method::POST, endpoint)
    }

    /// A PUT request.
    pub fn put(endpoint: impl Into<String>) -> Self {
        Request::new(Method::PUT, endpoint)
    }

    /// A PATCH request.
    pub fn patch(endpoint: impl Into<String>) -> Self {
        Request::new(Method::PATCH, endpoint)
    }

    /// A DELETE request.
    pub fn delete(endpoint: impl Into<String>) -> Self {
        Request::new(Method::DELETE, endpoint)
    }

    /// Appends a query pair; keys and values are percent-encoded when sent.
    pub fn query(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((key.into(), value.into()));
        self
    }

    /// Sets a header, replacing any earlier value. An invalid name or value
    /// makes the call fail with a configuration error (naming neither, since
    /// either may be a secret).
    pub fn header<K, V>(mut self, name: K, value: V) -> Self
    where
        K: TryInto<HeaderName>,
        V: TryInto<HeaderValue>,
    {
        match (name.try_into(), value.try_into()) {
            (Ok(name), Ok(value)) => {
                self.headers.insert(name, value);
            }
            (Err(_), _) => self.invalid = Some("invalid header name"),
            (_, Err(_)) => self.invalid = Some("invalid header value"),
        }
        self
    }

    /// Sets the query parameter `key` to `value`, replacing every earlier
    /// pair with that key (a paginator moving to the next page).
    pub fn set_query(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let key = key.into();
        self.query.retain(|(k, _)| *k != key);
        self.query.push((key, value.into()));
        self
    }

    /// Removes every query pair (the endpoint's own `?query` stays).
    pub fn clear_query(mut self) -> Self {
        self.query.clear();
        self
    }

    /// Replaces the endpoint (a path relative to the base URL, optionally
    /// with a `?query`), keeping method, headers, query pairs and body: a
    /// paginator following a next-page link. The endpoint is validated when
    /// the call is made, like any other.
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = endpoint.into();
        self
    }

    /// The largest response body accepted for this call, overriding the
    /// transport's limit (larger or smaller): an export read with
    /// [`Connector::call_stream`](crate::Connector::call_stream) may be
    /// gigabytes. Reaches the transport as a [`BodyLimit`](crate::BodyLimit)
    /// extension of the wire request; a transport that does not know it
    /// keeps its own limit.
    pub fn body_limit(mut self, bytes: u64) -> Self {
        self.body_limit = Some(bytes);
        self
    }

    /// The body limit set with [`body_limit`](Self::body_limit), if any.
    pub fn max_body_bytes(&self) -> Option<u64> {
        self.body_limit
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// Serializes `value` as the JSON body and sets `Content-Type: application/json`.
    pub fn json<T: serde::Serialize + ?Sized>(mut self, value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(bytes) => {
                self.body = Bytes::from(bytes);
                self.headers.insert(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
            }
            Err(_) => self.invalid = Some("the JSON body could not be serialized"),
        }
        self
    }

    /// Sets a timeout for each attempt of this call, overriding the connector's.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Declares whether repeating this request is safe, overriding the default
    /// taken from the method.
    pub fn idempotent(mut self, idempotent: bool) -> Self {
        self.idempotent = Some(idempotent);
        self
    }

    /// Sets the `Idempotency-Key` header, which makes a POST or PATCH safe to retry.
    pub fn idempotency_key(self, key: impl AsRef<str>) -> Self {
        self.header(IDEMPOTENCY_KEY, key.as_ref())
    }

    /// Sets a header that carries a credential: it is marked sensitive
    /// (redacted in `Debug`), stripped on a cross-origin redirect, and never
    /// logged. Used by [`AuthStrategy`](crate::AuthStrategy) implementations.
    pub fn set_credential_header(&mut self, name: HeaderName, mut value: HeaderValue) {
        value.set_sensitive(true);
        self.credentials.mark_header(name.clone());
        self.headers.insert(name, value);
    }

    /// Adds a query parameter that carries a credential (an API key in the
    /// URL): redacted in `Debug` and stripped on a cross-origin redirect.
    pub fn add_credential_query(&mut self, key: impl Into<String>, value: impl Into<String>) {
        let key = key.into();
        self.credentials.mark_query_key(key.clone());
        self.query.push((key, value.into()));
    }

    /// Marks this attempt as sent with degraded credentials (an auth
    /// strategy's fallback, e.g. a read-only key after a failed refresh).
    /// The call's [`CallReport::degraded`](crate::CallReport::degraded) says so.
    pub fn mark_degraded(&mut self, reason: &'static str) {
        self.degraded = Some(reason);
    }

    /// Why this attempt runs degraded, if it does.
    pub fn degraded(&self) -> Option<&'static str> {
        self.degraded
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The endpoint path, relative to the connector's base URL.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The endpoint without its query: what reports, keys and labels name.
    ///
    /// ```
    /// assert_eq!(conn_core::Request::get("/orders/7?expand=lines").path(), "/orders/7");
    /// ```
    pub fn path(&self) -> &str {
        crate::endpoint_path(&self.endpoint)
    }

    /// The query pairs, in order.
    pub fn query_pairs(&self) -> &[(String, String)] {
        &self.query
    }

    /// The headers set on this request.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The headers, for components that add to them.
    pub fn headers_mut(&mut self) -> &mut HeaderMap {
        &mut self.headers
    }

    /// The body, replayed unchanged by every attempt.
    pub fn body_bytes(&self) -> &Bytes {
        &self.body
    }

    /// The per-attempt timeout of this call, if set.
    pub fn attempt_timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// Which headers and query keys carry credentials.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// Whether sending this request twice is safe: as declared, else true when
    /// it carries an `Idempotency-Key`, else from the method (GET, HEAD,
    /// OPTIONS, TRACE, PUT and DELETE are idempotent).
    pub fn is_idempotent(&self) -> bool {
        if let Some(declared) = self.idempotent {
            return declared;
        }
        if self.headers.contains_key(IDEMPOTENCY_KEY) {
            return true;
        }
        matches!(
            self.method,
            Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
        )
    }

    /// The configuration error a builder method recorded, if any.
    pub(crate) fn check(&self) -> Result<(), Error> {
        match self.invalid {
            Some(reason) => Err(Error::config(reason)),
            None => Ok(()),
        }
    }
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Query values and credential headers may be secrets: show keys only.
        let query_keys: Vec<&str> = self.query.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("endpoint", &self.endpoint)
            .field("query_keys", &query_keys)
            .field("headers", &RedactedHeaders::new(&self.headers, &self.credentials))
            .field("body_len", &self.body.len())
            .field("timeout", &self.timeout)
            .field("idempotent", &self.is_idempotent())
            .finish()
    }
}
