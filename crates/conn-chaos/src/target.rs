//! Which attempts chaos may touch: a game day usually starts with one
//! endpoint of one test tenant, not with all traffic.

use bytes::Bytes;
use http::{HeaderName, Method};

/// A filter over attempts; every condition set must hold (an empty list
/// means "any"). [`Target::all`] matches every attempt.
///
/// The transport sees the wire request, not the call's
/// [`Context`](conn_core::Context), so a tenant is recognised by a request
/// header that carries it (a default header of a per-tenant connector, or one
/// your auth strategy sets).
///
/// ```
/// use conn_chaos::Target;
///
/// let target = Target::all()
///     .path_prefix("/v2/orders")
///     .method(http::Method::GET)
///     .tenants("x-tenant-id", ["staging-acme"]);
/// let request = http::Request::get("https://api.example.com/v2/orders/7")
///     .header("x-tenant-id", "staging-acme")
///     .body(bytes::Bytes::new())
///     .unwrap();
/// assert!(target.matches(&request));
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Target {
    path_prefixes: Vec<String>,
    methods: Vec<Method>,
    tenant: Option<(HeaderName, Vec<String>)>,
}

impl Target {
    /// Every attempt.
    pub fn all() -> Self {
        Target::default()
    }

    /// Only requests whose path, as sent (the base URL's path included),
    /// starts with `prefix`; several prefixes add up.
    pub fn path_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.path_prefixes.push(prefix.into());
        self
    }

    /// Only requests with this method; several methods add up.
    pub fn method(mut self, method: Method) -> Self {
        self.methods.push(method);
        self
    }

    /// Only requests whose header `header` holds one of `tenants`. A header
    /// name that is not valid matches nothing, so a typo never widens a game
    /// day to every tenant.
    pub fn tenants<I, S>(mut self, header: &str, tenants: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let values = tenants.into_iter().map(Into::into).collect();
        let name = HeaderName::from_bytes(header.as_bytes())
            .unwrap_or_else(|_| HeaderName::from_static("x-conn-chaos-invalid-tenant-header"));
        self.tenant = Some((name, values));
        self
    }

    /// Whether `request` is one chaos may touch.
    pub fn matches(&self, request: &http::Request<Bytes>) -> bool {
        let path = request.uri().path();
        let path_ok =
            self.path_prefixes.is_empty() || self.path_prefixes.iter().any(|p| path.starts_with(p.as_str()));
        let method_ok = self.methods.is_empty() || self.methods.contains(request.method());
        let tenant_ok = match &self.tenant {
            None => true,
            Some((name, tenants)) => request
                .headers()
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .any(|v| tenants.iter().any(|t| t == v)),
        };
        path_ok && method_ok && tenant_ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: Method, uri: &str, tenant: Option<&str>) -> http::Request<Bytes> {
        let mut builder = http::Request::builder().method(method).uri(uri);
        if let Some(tenant) = tenant {
            builder = builder.header("x-tenant", tenant);
        }
        builder.body(Bytes::new()).unwrap()
    }

    #[test]
    fn every_condition_must_hold() {
        let target = Target::all()
            .path_prefix("/v1/a")
            .method(Method::GET)
            .tenants("x-tenant", ["t1", "t2"]);
        assert!(target.matches(&request(Method::GET, "https://h/v1/a/1", Some("t2"))));
        assert!(!target.matches(&request(Method::POST, "https://h/v1/a/1", Some("t2"))));
        assert!(!target.matches(&request(Method::GET, "https://h/v1/b", Some("t2"))));
        assert!(!target.matches(&request(Method::GET, "https://h/v1/a", Some("t3"))));
        assert!(!target.matches(&request(Method::GET, "https://h/v1/a", None)));
        assert!(Target::all().matches(&request(Method::DELETE, "https://h/", None)));
    }

    #[test]
    fn an_invalid_tenant_header_matches_nothing() {
        let target = Target::all().tenants("bad header", ["t1"]);
        assert!(!target.matches(&request(Method::GET, "https://h/", Some("t1"))));
    }
}
