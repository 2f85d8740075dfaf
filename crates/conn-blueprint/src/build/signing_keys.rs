//! Reads the `[auth]` keys of the signing and discovery types
//! (`aws_sigv4`, `hmac`, `oidc_client_credentials`, `private_key_jwt`);
//! a child of `build` so it reads keys the same way every other table does.

use super::Build;
use crate::config::AuthConfig;
use crate::layers::Origin;
use crate::secret::Secret;
use crate::signing_auth::{SIGNING_TYPES, SigningAuth, hmac_scheme, signed_part};
use crate::values::Value;

/// Whether `kind` is one of this module's auth types.
pub(crate) fn is_signing(kind: &str) -> bool {
    SIGNING_TYPES.contains(&kind)
}

/// The keys `kind` reads (others set explicitly are errors).
pub(crate) fn used_keys(kind: &str) -> &'static [&'static str] {
    match kind {
        "aws_sigv4" => &[
            "auth.region",
            "auth.service",
            "auth.access_key_id",
            "auth.secret_access_key",
            "auth.session_token",
            "auth.payload",
        ],
        "hmac" => &[
            "auth.scheme",
            "auth.key",
            "auth.algorithm",
            "auth.encoding",
            "auth.signed_parts",
            "auth.signature_header",
            "auth.signature_prefix",
            "auth.separator",
            "auth.timestamp_header",
            "auth.nonce_header",
        ],
        "oidc_client_credentials" => &[
            "auth.issuer",
            "auth.client_id",
            "auth.client_secret",
            "auth.private_key",
            "auth.key_id",
            "auth.scopes",
            "auth.audience",
            "auth.client_auth",
        ],
        _ => &[
            "auth.token_url",
            "auth.client_id",
            "auth.private_key",
            "auth.key_id",
            "auth.scopes",
            "auth.audience",
        ],
    }
}

impl Build<'_> {
    /// A secret that may be absent.
    fn optional_secret(&mut self, key: &str) -> Option<Secret> {
        matches!(self.get(key), Some(Value::Secret(_)))
            .then(|| self.secret(key))
            .flatten()
    }

    /// Whether `key` was set by the blueprint or the environment (not
    /// only the schema's default).
    fn explicit(&self, key: &str) -> bool {
        self.effective
            .get(self.resolve(key).as_str())
            .is_some_and(|(_, origin)| *origin != Origin::Default)
    }

    fn base_url_for(&mut self, kind: &str) -> Option<String> {
        let base = self.str("base_url");
        if base.is_none() {
            self.error("auth.type", format!("{kind} signs the base URL: set base_url"));
        }
        base
    }

    fn checked_url(&mut self, key: &str) -> Option<String> {
        let url = self.required(key)?;
        if url.starts_with("http://") && !self.bool("allow_http") {
            self.error(key, "an http:// URL needs allow_http = true");
        } else if !url.starts_with("https://") && !url.starts_with("http://") {
            self.error(key, "expected an absolute https:// URL");
        }
        Some(url)
    }

    /// The auth of a signing or discovery type.
    pub(crate) fn signing_auth(&mut self, kind: &str) -> Option<AuthConfig> {
        let settings = match kind {
            "aws_sigv4" => {
                let base_url = self.base_url_for(kind);
                let region = self.required("auth.region");
                let service = self.required("auth.service");
                let access_key_id = self.secret("auth.access_key_id");
                let secret_access_key = self.secret("auth.secret_access_key");
                SigningAuth::AwsSigV4 {
                    session_token: self.optional_secret("auth.session_token"),
                    unsigned_payload: self.str("auth.payload").as_deref() == Some("unsigned"),
                    base_url: base_url?,
                    region: region?,
                    service: service?,
                    access_key_id: access_key_id?,
                    secret_access_key: secret_access_key?,
                }
            }
            "hmac" => {
                let base_url = self.base_url_for(kind);
                let key = self.secret("auth.key");
                let signed_parts = self.list("auth.signed_parts");
                for part in &signed_parts {
                    if let Err(err) = signed_part(part) {
                        self.error("auth.signed_parts", format!("{part:?}: {}", err.message()));
                    }
                }
                let settings = SigningAuth::Hmac {
                    base_url: base_url?,
                    scheme: self.str("auth.scheme").unwrap_or_else(|| "generic".into()),
                    key: key?,
                    algorithm: self.str("auth.algorithm").unwrap_or_else(|| "sha256".into()),
                    encoding: self.str("auth.encoding").unwrap_or_else(|| "hex".into()),
                    signed_parts,
                    signature_header: self.str("auth.signature_header"),
                    signature_prefix: self.str("auth.signature_prefix"),
                    separator: self.str("auth.separator"),
                    timestamp_header: self.str("auth.timestamp_header"),
                    nonce_header: self.str("auth.nonce_header"),
                };
                if let Err(err) = hmac_scheme(&settings).and_then(|scheme| scheme.check()) {
                    self.error("auth.scheme", err.message().to_owned());
                    return None;
                }
                settings
            }
            "oidc_client_credentials" => {
                let issuer = self.checked_url("auth.issuer");
                let client_id = self.required("auth.client_id");
                // A shared secret, or a private key (private_key_jwt): one of them.
                let private_key = self.optional_secret("auth.private_key");
                let client_secret = if private_key.is_some() {
                    if self.explicit("auth.client_secret") {
                        self.error(
                            "auth.client_secret",
                            "set auth.client_secret or auth.private_key, not both",
                        );
                    }
                    None
                } else {
                    Some(self.secret("auth.client_secret")?)
                };
                if let Some(key) = &private_key
                    && let Err(err) = conn_auth::ClientAssertionKey::from_pem(key.value())
                {
                    self.error("auth.private_key", err.message().to_owned());
                }
                SigningAuth::OidcClientCredentials {
                    private_key,
                    key_id: self.str("auth.key_id"),
                    client_auth: self
                        .explicit("auth.client_auth")
                        .then(|| self.str("auth.client_auth"))
                        .flatten(),
                    scopes: self.list("auth.scopes"),
                    audience: self.str("auth.audience"),
                    issuer: issuer?,
                    client_id: client_id?,
                    client_secret,
                }
            }
            _ => {
                let token_url = self.checked_url("auth.token_url");
                let client_id = self.required("auth.client_id");
                let private_key = self.secret("auth.private_key");
                if let Some(key) = &private_key
                    && let Err(err) = conn_auth::ClientAssertionKey::from_pem(key.value())
                {
                    self.error("auth.private_key", err.message().to_owned());
                }
                SigningAuth::PrivateKeyJwt {
                    key_id: self.str("auth.key_id"),
                    scopes: self.list("auth.scopes"),
                    audience: self.str("auth.audience"),
                    token_url: token_url?,
                    client_id: client_id?,
                    private_key: private_key?,
                }
            }
        };
        Some(AuthConfig::Signing(settings))
    }
}
