//! Who may call: caller keys (hashed in memory, compared in constant time),
//! what each caller may use, its own rate limit, and the admin key.
//!
//! Keys are kept only as SHA-256 digests: a heap dump or a `Debug` print
//! shows no key. Digests are compared with `subtle`, so how long a wrong key
//! takes to refuse says nothing about the right one.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use http::{HeaderMap, header};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::{CallerConfig, RateLimit};
use crate::headers::{self, KEY, TENANT};
use crate::problem::Problem;

type KeyDigest = [u8; 32];

fn digest(key: &str) -> KeyDigest {
    Sha256::digest(key.as_bytes()).into()
}

/// A permission list: everything (`"*"`) or these names.
#[derive(Clone, Debug)]
enum Allow {
    Any,
    Only(Vec<String>),
}

impl Allow {
    fn new(names: &[String]) -> Allow {
        if names.iter().any(|n| n == "*") {
            Allow::Any
        } else {
            Allow::Only(names.to_vec())
        }
    }

    fn allows(&self, name: &str) -> bool {
        match self {
            Allow::Any => true,
            Allow::Only(names) => names.iter().any(|n| n == name),
        }
    }

    fn is_empty(&self) -> bool {
        matches!(self, Allow::Only(names) if names.is_empty())
    }
}

/// An authenticated caller.
pub struct Caller {
    name: String,
    connectors: Allow,
    tenants: Allow,
    limiter: Option<DefaultDirectRateLimiter>,
}

impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller")
            .field("name", &self.name)
            .field("connectors", &self.connectors)
            .field("tenants", &self.tenants)
            .finish_non_exhaustive()
    }
}

impl Caller {
    /// The caller's name (from the configuration, never its key).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether it may call `connector`.
    pub fn may_use(&self, connector: &str) -> bool {
        self.connectors.allows(connector)
    }

    /// The tenant a request acts for, from its `X-Conn-Tenant` header: the
    /// header's tenant if this caller lists it; the caller's only tenant
    /// when the header is absent; no tenant for a caller that lists none.
    /// A caller can never act for a tenant it does not list.
    pub fn tenant(&self, request: &HeaderMap) -> Result<Option<String>, Problem> {
        let asked = match request.get(TENANT) {
            None => None,
            Some(value) => match value.to_str() {
                Ok(t) if headers::valid_tenant(t) => Some(t.to_owned()),
                _ => {
                    return Err(Problem::bad_request(
                        "X-Conn-Tenant must be 1 to 64 letters, digits, '-', '_' or '.'",
                    ));
                }
            },
        };
        match (asked, &self.tenants) {
            (Some(tenant), allow) if allow.allows(&tenant) => Ok(Some(tenant)),
            (Some(_), _) => Err(Problem::forbidden("this caller may not act for that tenant")),
            (None, Allow::Only(names)) if names.len() == 1 => Ok(Some(names[0].clone())),
            (None, allow) if allow.is_empty() => Ok(None),
            (None, _) => Err(Problem::bad_request(
                "this caller may act for several tenants: name one in X-Conn-Tenant",
            )),
        }
    }

    /// Takes one unit of the caller's own rate limit; a 429 problem with
    /// `Retry-After` when it is spent.
    pub fn admit(&self) -> Result<(), Problem> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        limiter.check().map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            Problem::new(
                http::StatusCode::TOO_MANY_REQUESTS,
                "caller_rate_limited",
                "Rate limited",
                "this caller's own rate limit is spent",
            )
            .retry_after(wait.max(Duration::from_millis(1)))
        })
    }
}

/// Every caller, by key digest, and the admin key's digest.
pub struct Callers {
    callers: Vec<(KeyDigest, Arc<Caller>)>,
    admin: Option<KeyDigest>,
}

impl std::fmt::Debug for Callers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.callers.iter().map(|(_, c)| c.name()).collect();
        f.debug_struct("Callers")
            .field("callers", &names)
            .field("admin", &self.admin.is_some())
            .finish()
    }
}

impl Callers {
    /// Hashes every key; the `SecretString`s are not kept.
    pub fn new(callers: &BTreeMap<String, CallerConfig>, admin_key: Option<&SecretString>) -> Callers {
        Callers {
            callers: callers
                .iter()
                .map(|(name, config)| {
                    let caller = Caller {
                        name: name.clone(),
                        connectors: Allow::new(&config.connectors),
                        tenants: Allow::new(&config.tenants),
                        limiter: config.rate_limit.map(limiter),
                    };
                    (digest(config.key.expose_secret()), Arc::new(caller))
                })
                .collect(),
            admin: admin_key.map(|k| digest(k.expose_secret())),
        }
    }

    /// The caller whose key the request carries; 401 without one or with a
    /// key nobody has.
    pub fn authenticate(&self, request: &HeaderMap) -> Result<Arc<Caller>, Problem> {
        let key = presented_key(request)?;
        let presented = digest(key);
        let mut found = None;
        // Every digest is compared, so the time taken does not depend on
        // which caller (if any) matched.
        for (stored, caller) in &self.callers {
            if bool::from(stored.ct_eq(&presented)) {
                found = Some(caller.clone());
            }
        }
        found.ok_or_else(|| Problem::unauthenticated("the key is not valid; check the key you were given"))
    }

    /// Whether the request carries the admin key: 401 without a key or with
    /// a wrong one, 403 when the gateway has no admin key at all.
    pub fn authenticate_admin(&self, request: &HeaderMap) -> Result<(), Problem> {
        let key = presented_key(request)?;
        let Some(admin) = &self.admin else {
            return Err(Problem::forbidden(
                "the admin API is closed: the gateway has no admin key configured",
            ));
        };
        if bool::from(admin.ct_eq(&digest(key))) {
            Ok(())
        } else {
            Err(Problem::unauthenticated("this endpoint needs the admin key"))
        }
    }

    /// How many callers there are.
    pub fn len(&self) -> usize {
        self.callers.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.callers.is_empty()
    }
}

fn presented_key(request: &HeaderMap) -> Result<&str, Problem> {
    let from_bearer = headers::text(request, &header::AUTHORIZATION).and_then(|v| {
        let (scheme, rest) = v.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
    });
    from_bearer
        .or_else(|| headers::text(request, &KEY).map(str::trim))
        .filter(|k| !k.is_empty())
        .ok_or_else(|| {
            Problem::unauthenticated("send your key as 'Authorization: Bearer <key>' or 'X-Conn-Key: <key>'")
        })
}

fn limiter(limit: RateLimit) -> DefaultDirectRateLimiter {
    let count = limit.count.max(1);
    let period = Duration::from_secs(u64::from(limit.per_seconds.max(1))) / count;
    let quota = Quota::with_period(period.max(Duration::from_nanos(1)))
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(NonZeroU32::new(limit.burst).unwrap_or(NonZeroU32::MIN));
    RateLimiter::direct(quota)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn callers() -> Callers {
        let mut map = BTreeMap::new();
        map.insert(
            "shop".to_owned(),
            CallerConfig::new("k-shop")
                .connectors(["orders"])
                .tenants(["acme"]),
        );
        map.insert(
            "ops".to_owned(),
            CallerConfig::new("k-ops").connectors(["*"]).tenants(["*"]),
        );
        Callers::new(&map, Some(&SecretString::from("k-admin")))
    }

    fn with(name: &'static str, value: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_static(value));
        h
    }

    #[test]
    fn keys_find_their_caller_and_nothing_else() {
        let c = callers();
        assert_eq!(
            c.authenticate(&with("authorization", "Bearer k-shop"))
                .unwrap()
                .name(),
            "shop"
        );
        assert_eq!(
            c.authenticate(&with("x-conn-key", "k-ops")).unwrap().name(),
            "ops"
        );
        assert_eq!(
            c.authenticate(&with("x-conn-key", "k-shopx"))
                .unwrap_err()
                .status(),
            401
        );
        assert_eq!(c.authenticate(&HeaderMap::new()).unwrap_err().status(), 401);
        assert!(c.authenticate_admin(&with("x-conn-key", "k-admin")).is_ok());
        assert_eq!(
            c.authenticate_admin(&with("x-conn-key", "k-ops"))
                .unwrap_err()
                .status(),
            401
        );
    }

    #[test]
    fn a_caller_never_acts_for_a_tenant_it_does_not_list() {
        let c = callers();
        let shop = c.authenticate(&with("x-conn-key", "k-shop")).unwrap();
        assert_eq!(shop.tenant(&HeaderMap::new()).unwrap().as_deref(), Some("acme"));
        assert_eq!(
            shop.tenant(&with("x-conn-tenant", "acme")).unwrap().as_deref(),
            Some("acme")
        );
        assert_eq!(
            shop.tenant(&with("x-conn-tenant", "globex"))
                .unwrap_err()
                .status(),
            403
        );
        assert_eq!(
            shop.tenant(&with("x-conn-tenant", "a b")).unwrap_err().status(),
            400
        );
        assert!(shop.may_use("orders") && !shop.may_use("billing"));
    }

    #[test]
    fn debug_shows_no_key() {
        let text = format!("{:?}", callers());
        assert!(!text.contains("k-shop") && !text.contains("k-admin"));
    }
}
