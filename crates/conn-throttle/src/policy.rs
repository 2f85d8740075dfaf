//! `EndpointPolicy`: different quotas for different endpoints, matched by
//! method and path pattern, first match wins.

use std::fmt;

use http::Method;

use crate::Limit;

/// Quotas for the endpoints that match a method and a path pattern, e.g.
/// "10 per minute for exports" beside "2,500 per 5 minutes for the rest".
///
/// A throttle checks its policies in the order they were added and the
/// first that matches decides the call's quotas; a call no policy matches
/// gets the throttle's own limits (the catch-all). Each policy counts its
/// own quotas, per key, in this process or in the fleet's store.
///
/// Patterns are paths whose segments are literal, `*` (any one segment) or
/// a final `**` (any number of segments, also none). A query string is never
/// part of the path.
///
/// ```
/// use std::time::Duration;
/// use conn_throttle::{EndpointPolicy, Limit, Throttler};
/// use http::Method;
///
/// let throttle = Throttler::builder()
///     .policy(EndpointPolicy::new("exports", "/v1/exports/**").limit(Limit::per_minute(10)))
///     .policy(EndpointPolicy::new("writes", "/v1/orders/*").method(Method::PUT).limit(Limit::per_second(5)))
///     .limit(Limit::new(2_500, Duration::from_secs(300))) // everything else
///     .build();
/// # let _ = throttle;
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct EndpointPolicy {
    name: String,
    method: Option<Method>,
    pattern: Vec<Segment>,
    limits: Vec<Limit>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Literal(String),
    One,
    Rest,
}

impl EndpointPolicy {
    /// A policy named `name` (its quotas' key; unique within a throttle)
    /// for every method on paths matching `pattern`, with no limit yet.
    pub fn new(name: impl Into<String>, pattern: &str) -> Self {
        EndpointPolicy {
            name: name.into(),
            method: None,
            pattern: parse(pattern),
            limits: Vec::new(),
        }
    }

    /// Matches only `method`.
    pub fn method(mut self, method: Method) -> Self {
        self.method = Some(method);
        self
    }

    /// Adds a rate limit; several apply together.
    pub fn limit(mut self, limit: Limit) -> Self {
        self.limits.push(limit);
        self
    }

    /// The policy's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its limits.
    pub fn limits(&self) -> &[Limit] {
        &self.limits
    }

    /// Whether a call with `method` to `path` falls under this policy.
    ///
    /// ```
    /// use conn_throttle::EndpointPolicy;
    /// use http::Method;
    ///
    /// let exports = EndpointPolicy::new("exports", "/v1/exports/**");
    /// assert!(exports.matches(&Method::GET, "/v1/exports"));
    /// assert!(exports.matches(&Method::POST, "/v1/exports/42/files"));
    /// assert!(!exports.matches(&Method::GET, "/v1/exportsx"));
    /// ```
    pub fn matches(&self, method: &Method, path: &str) -> bool {
        if self.method.as_ref().is_some_and(|m| m != method) {
            return false;
        }
        let path = path.split(['?', '#']).next().unwrap_or_default();
        let mut parts = path.split('/').filter(|s| !s.is_empty());
        for segment in &self.pattern {
            match segment {
                Segment::Rest => return true,
                Segment::One => {
                    if parts.next().is_none() {
                        return false;
                    }
                }
                Segment::Literal(literal) => {
                    if parts.next() != Some(literal.as_str()) {
                        return false;
                    }
                }
            }
        }
        parts.next().is_none()
    }
}

fn parse(pattern: &str) -> Vec<Segment> {
    let parts: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
    let last = parts.len().saturating_sub(1);
    parts
        .iter()
        .enumerate()
        .map(|(i, part)| match *part {
            "**" if i == last => Segment::Rest,
            // `**` elsewhere is read as one segment: patterns stay linear.
            "*" | "**" => Segment::One,
            literal => Segment::Literal(literal.to_owned()),
        })
        .collect()
}

impl fmt::Debug for EndpointPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pattern: Vec<&str> = self
            .pattern
            .iter()
            .map(|s| match s {
                Segment::Literal(l) => l.as_str(),
                Segment::One => "*",
                Segment::Rest => "**",
            })
            .collect();
        f.debug_struct("EndpointPolicy")
            .field("name", &self.name)
            .field("method", &self.method)
            .field("pattern", &format!("/{}", pattern.join("/")))
            .field("limits", &self.limits)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_segments() {
        let one = EndpointPolicy::new("p", "/v1/orders/*");
        assert!(one.matches(&Method::GET, "/v1/orders/7"));
        assert!(one.matches(&Method::GET, "/v1/orders/7?page=2"));
        assert!(!one.matches(&Method::GET, "/v1/orders"));
        assert!(!one.matches(&Method::GET, "/v1/orders/7/items"));
        let exact = EndpointPolicy::new("p", "/v1/export").method(Method::POST);
        assert!(exact.matches(&Method::POST, "/v1/export/"));
        assert!(!exact.matches(&Method::GET, "/v1/export"));
        let all = EndpointPolicy::new("p", "/**");
        assert!(all.matches(&Method::DELETE, "/"));
        assert!(all.matches(&Method::DELETE, "/a/b/c"));
    }
}
