//! Reads the egress keys (`proxy.*`, `tls.client_cert_file`,
//! `tls.client_key`, `compression`, `max_connections_per_host`); a child of
//! `build` so it reads keys, files and secrets the same way every other
//! table does.

use std::path::PathBuf;

use super::{Build, resolve_secret};
use crate::egress::{EgressConfig, IdentityConfig, ProxyConfig};
use crate::secret::Secret;
use crate::values::Value;

impl Build<'_> {
    pub(crate) fn egress(&mut self) -> EgressConfig {
        let max = self
            .get("max_connections_per_host")
            .map(|_| self.int("max_connections_per_host"));
        if max.is_some_and(|m| m < 1) {
            self.error("max_connections_per_host", "must be at least 1");
        }
        EgressConfig {
            proxy: self.proxy(),
            client_identity: self.client_identity(),
            compression: !matches!(self.get("compression"), Some(Value::Bool(false))),
            max_connections_per_host: max.and_then(|m| usize::try_from(m).ok()).filter(|m| *m > 0),
        }
    }

    fn proxy(&mut self) -> Option<ProxyConfig> {
        let url = self.str("proxy.url");
        let from_env = self.bool("proxy.from_env");
        let (http, https, no_proxy) = match (url, from_env) {
            (Some(_), true) => {
                self.error(
                    "proxy.from_env",
                    "set either proxy.url or proxy.from_env, not both",
                );
                return None;
            }
            (Some(url), false) => (Some(url.clone()), Some(url), String::new()),
            (None, true) => {
                // The environment the blueprint is loaded with, as for `{ env = ... }` secrets.
                let env = self.secrets.env;
                let var = |names: &[&str]| {
                    names
                        .iter()
                        .find_map(|n| env.get(*n).filter(|v| !v.is_empty()).cloned())
                };
                let all = var(&["ALL_PROXY", "all_proxy"]);
                (
                    var(&["http_proxy"]).or_else(|| all.clone()),
                    var(&["HTTPS_PROXY", "https_proxy"]).or(all),
                    var(&["NO_PROXY", "no_proxy"]).unwrap_or_default(),
                )
            }
            (None, false) => {
                for key in ["proxy.username", "proxy.password", "proxy.no_proxy"] {
                    if self.get(key).is_some() {
                        self.error(key, "has no effect without proxy.url or proxy.from_env");
                    }
                }
                return None;
            }
        };
        let username = self.str("proxy.username");
        let password = self.secret_if_set("proxy.password");
        if username.is_some() != password.is_some() {
            self.error("proxy.username", "proxy.username and proxy.password go together");
        }
        Some(ProxyConfig {
            http,
            https,
            no_proxy: self.str("proxy.no_proxy").unwrap_or(no_proxy),
            username,
            password,
        })
    }

    fn client_identity(&mut self) -> Option<IdentityConfig> {
        let cert_file = self.str("tls.client_cert_file").map(PathBuf::from);
        let key = self.secret_if_set("tls.client_key");
        match (cert_file, key) {
            (None, None) => None,
            (Some(_), None) => {
                self.error("tls.client_key", "missing (required by tls.client_cert_file)");
                None
            }
            (None, Some(_)) => {
                self.error("tls.client_cert_file", "missing (required by tls.client_key)");
                None
            }
            (Some(cert_file), Some(key)) => match std::fs::read(&cert_file) {
                Ok(cert_pem) => Some(IdentityConfig {
                    cert_file,
                    cert_pem,
                    key,
                }),
                Err(e) => {
                    self.error(
                        "tls.client_cert_file",
                        format!("cannot read {}: {}", cert_file.display(), e.kind()),
                    );
                    None
                }
            },
        }
    }

    /// A secret that may be absent; an unresolvable reference is an error.
    fn secret_if_set(&mut self, key: &str) -> Option<Secret> {
        let reference = match self.get(key) {
            Some(Value::Secret(reference)) => reference.clone(),
            _ => return None,
        };
        let shown = self.path(key);
        match resolve_secret(reference, self.secrets, &shown) {
            Ok(secret) => Some(secret),
            Err(message) => {
                self.error(key, message);
                None
            }
        }
    }
}
