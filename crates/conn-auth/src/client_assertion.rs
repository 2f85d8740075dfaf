//! `private_key_jwt` (RFC 7523, OpenID Connect Core §9): the client proves
//! who it is with a short-lived JWT signed by its private key, for token
//! endpoints that refuse shared secrets (banks, health APIs, FAPI
//! profiles). The key never leaves the process; each assertion is fresh
//! (its own `jti`, one minute of validity), so a captured one is useless
//! soon after.
//!
//! Signing uses `ring` (already conn's TLS crypto): RS256 with an RSA key,
//! ES256 with a P-256 key, both from PEM.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use conn_core::component::random::next_u64;
use conn_core::{BoxFuture, Error};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::{OAuth2Client, Token, TokenForm, TokenProvider, TokenRequest};

/// RFC 7523's assertion type.
pub const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A private key that signs client assertions.
///
/// ```
/// use conn_auth::ClientAssertionKey;
///
/// let pem = rcgen::KeyPair::generate().unwrap().serialize_pem(); // a P-256 key, PKCS#8
/// let key = ClientAssertionKey::from_pem(&pem.into())?.key_id("2024-01");
/// assert_eq!(key.algorithm(), "ES256");
/// assert!(!format!("{key:?}").contains("PRIVATE"));
/// # Ok::<(), conn_core::Error>(())
/// ```
#[derive(Clone)]
pub struct ClientAssertionKey {
    key: Arc<KeyKind>,
    key_id: Option<String>,
}

enum KeyKind {
    Rs256(RsaKeyPair),
    Es256(EcdsaKeyPair),
}

impl ClientAssertionKey {
    /// Reads a PEM private key: PKCS#8 (`BEGIN PRIVATE KEY`, RSA or P-256)
    /// or PKCS#1 (`BEGIN RSA PRIVATE KEY`). Errors say what is wrong, never
    /// quote the key.
    pub fn from_pem(pem: &SecretString) -> Result<Self, Error> {
        let pem = pem.expose_secret();
        let (label, der) = pem_body(pem)?;
        let rng = SystemRandom::new();
        let key = match label {
            "PRIVATE KEY" => {
                if let Ok(rsa) = RsaKeyPair::from_pkcs8(&der) {
                    KeyKind::Rs256(rsa)
                } else if let Ok(ec) = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der, &rng)
                {
                    KeyKind::Es256(ec)
                } else {
                    return Err(Error::config(
                        "the client assertion key is neither an RSA (2048+ bits) nor a P-256 PKCS#8 key",
                    ));
                }
            }
            "RSA PRIVATE KEY" => KeyKind::Rs256(
                RsaKeyPair::from_der(&der)
                    .map_err(|_| Error::config("the client assertion key is not a usable RSA key"))?,
            ),
            _ => {
                return Err(Error::config(
                    "the client assertion key must be a PKCS#8 (BEGIN PRIVATE KEY) or RSA PEM key; convert EC keys with `openssl pkcs8 -topk8 -nocrypt`",
                ));
            }
        };
        Ok(ClientAssertionKey {
            key: Arc::new(key),
            key_id: None,
        })
    }

    /// The `kid` header: which of the client's registered keys this is.
    pub fn key_id(mut self, kid: impl Into<String>) -> Self {
        self.key_id = Some(kid.into());
        self
    }

    /// `RS256` or `ES256`.
    pub fn algorithm(&self) -> &'static str {
        match *self.key {
            KeyKind::Rs256(_) => "RS256",
            KeyKind::Es256(_) => "ES256",
        }
    }

    /// A signed assertion: `iss` = `sub` = `client_id`, `aud` = `audience`,
    /// a random `jti`, issued now, expiring after `lifetime`.
    pub fn assertion(
        &self,
        client_id: &str,
        audience: &str,
        lifetime: Duration,
        now: SystemTime,
    ) -> Result<SecretString, Error> {
        let iat = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let mut header = serde_json::json!({ "alg": self.algorithm(), "typ": "JWT" });
        if let Some(kid) = &self.key_id {
            header["kid"] = kid.clone().into();
        }
        let claims = serde_json::json!({
            "iss": client_id,
            "sub": client_id,
            "aud": audience,
            "jti": format!("{:016x}{:016x}", next_u64(), next_u64()),
            "iat": iat,
            "exp": iat + lifetime.as_secs().max(1),
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let rng = SystemRandom::new();
        let failed = |_| Error::config("the client assertion could not be signed");
        let signature = match &*self.key {
            KeyKind::Rs256(key) => {
                let mut signature = vec![0; key.public().modulus_len()];
                key.sign(&RSA_PKCS1_SHA256, &rng, signing_input.as_bytes(), &mut signature)
                    .map_err(failed)?;
                signature
            }
            KeyKind::Es256(key) => key
                .sign(&rng, signing_input.as_bytes())
                .map_err(failed)?
                .as_ref()
                .to_vec(),
        };
        Ok(SecretString::from(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        )))
    }
}

impl fmt::Debug for ClientAssertionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientAssertionKey")
            .field("algorithm", &self.algorithm())
            .field("key_id", &self.key_id)
            .field("key", &"<redacted>")
            .finish()
    }
}

/// The PEM block's label and its decoded body.
fn pem_body(pem: &str) -> Result<(&str, Zeroizing<Vec<u8>>), Error> {
    let not_pem = || Error::config("the client assertion key is not a PEM private key");
    let start = pem.find("-----BEGIN ").ok_or_else(not_pem)?;
    let rest = &pem[start + "-----BEGIN ".len()..];
    let label_end = rest.find("-----").ok_or_else(not_pem)?;
    let label = &rest[..label_end];
    let body = &rest[label_end + 5..];
    let end = body.find("-----END ").ok_or_else(not_pem)?;
    let base64: Zeroizing<String> =
        Zeroizing::new(body[..end].chars().filter(|c| !c.is_whitespace()).collect());
    let der = STANDARD.decode(base64.as_bytes()).map_err(|_| not_pem())?;
    Ok((label, Zeroizing::new(der)))
}

/// The client credentials grant authenticated with `private_key_jwt`: a
/// [`TokenProvider`] for [`TokenAuth`](crate::TokenAuth). Give it an
/// [`OAuth2Client`] built with [`ClientAuth::Public`](crate::ClientAuth::Public)
/// (no shared secret: the assertion is the authentication).
///
/// ```
/// use std::sync::Arc;
/// use conn_auth::{ClientAssertionKey, ClientAuth, OAuth2Client, PrivateKeyJwt, TokenAuth};
/// # let transport: Arc<dyn conn_core::Transport> = Arc::new(conn_testkit::ScriptedTransport::default());
/// # let pem = secrecy::SecretString::from(rcgen::KeyPair::generate().unwrap().serialize_pem());
///
/// let client = OAuth2Client::builder("https://auth.bank.example/oauth2/token")
///     .client_id("ledger-sync")
///     .auth_method(ClientAuth::Public)
///     .transport(transport)
///     .build()?;
/// let key = ClientAssertionKey::from_pem(&pem)?.key_id("2024-01"); // pem: from a secrets manager
/// let grant = PrivateKeyJwt::new(client, key).scope("accounts:read");
/// let auth = TokenAuth::new(Arc::new(grant));
/// # let _ = auth;
/// # Ok::<(), conn_core::Error>(())
/// ```
#[derive(Clone)]
pub struct PrivateKeyJwt {
    client: OAuth2Client,
    key: ClientAssertionKey,
    audience: String,
    lifetime: Duration,
    scopes: Vec<String>,
    params: Vec<(String, String)>,
}

impl PrivateKeyJwt {
    /// The grant for `client`, asserting with `key`. The audience defaults
    /// to the token endpoint's URL; assertions live 60 seconds.
    pub fn new(client: OAuth2Client, key: ClientAssertionKey) -> Self {
        PrivateKeyJwt {
            audience: client.token_url(),
            client,
            key,
            lifetime: Duration::from_secs(60),
            scopes: Vec::new(),
            params: Vec::new(),
        }
    }

    /// The `aud` claim, when the server wants another (its issuer URL).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = audience.into();
        self
    }

    /// How long each assertion is valid (default 60 s).
    pub fn assertion_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// Adds a scope.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scopes.push(scope.into());
        self
    }

    /// Adds a form parameter (`audience`, `resource`...).
    pub fn param(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push((key.into(), value.into()));
        self
    }
}

impl TokenProvider for PrivateKeyJwt {
    fn fetch<'a>(&'a self, request: &'a TokenRequest) -> BoxFuture<'a, Result<Token, Error>> {
        Box::pin(async move {
            let assertion = self.key.assertion(
                self.client.client_id(),
                &self.audience,
                self.lifetime,
                SystemTime::now(),
            )?;
            let mut form = TokenForm::new("client_credentials")
                .param("client_assertion_type", JWT_BEARER_ASSERTION)
                .secret("client_assertion", assertion);
            if !self.scopes.is_empty() {
                form = form.param("scope", self.scopes.join(" "));
            }
            for (key, value) in &self.params {
                form = form.param(key.clone(), value.clone());
            }
            Ok(self.client.request_token(&form, request).await?.into_token())
        })
    }
}

impl fmt::Debug for PrivateKeyJwt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKeyJwt")
            .field("client", &self.client)
            .field("key", &self.key)
            .field("audience", &self.audience)
            .field("scopes", &self.scopes)
            .finish()
    }
}
