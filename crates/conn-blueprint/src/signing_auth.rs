//! Request signing and discovery in blueprints: `aws_sigv4`, `hmac`,
//! `oidc_client_credentials` and `private_key_jwt`, so the big API families
//! (AWS-compatible, webhook and payment APIs, OpenID providers, token
//! endpoints that refuse shared secrets) are configured like any other auth.

use std::sync::Arc;

use conn_auth::{
    AwsCredentials, ClientAssertionKey, ClientAuth, HmacAlgorithm, HmacAuth, HmacKey, HmacScheme,
    OAuth2Client, OidcClientCredentials, OidcDiscovery, PayloadSigning, PrivateKeyJwt, SigV4,
    SignatureEncoding, SignatureLayout, SignedPart, TokenAuth, TokenProvider,
};
use conn_core::store::SharedTokens;
use conn_core::{AuthStrategy, Error, Transport};
use http::HeaderName;
use secrecy::ExposeSecret;

use crate::secret::Secret;

/// The auth types this module configures.
pub(crate) const SIGNING_TYPES: [&str; 4] =
    ["aws_sigv4", "hmac", "oidc_client_credentials", "private_key_jwt"];

/// A signing or discovery strategy's settings.
#[derive(Clone, Debug, PartialEq)]
pub enum SigningAuth {
    /// AWS Signature Version 4 on every attempt.
    AwsSigV4 {
        /// The connector's base URL (what is signed).
        base_url: String,
        /// Signing region.
        region: String,
        /// Signing name (`s3`, `sqs`, ...).
        service: String,
        /// Access key id.
        access_key_id: Secret,
        /// Secret access key.
        secret_access_key: Secret,
        /// Session token of temporary credentials.
        session_token: Option<Secret>,
        /// `UNSIGNED-PAYLOAD` instead of the body's hash.
        unsigned_payload: bool,
    },
    /// HMAC request signing.
    Hmac {
        /// The connector's base URL (its path is signed).
        base_url: String,
        /// `generic`, `stripe` or `slack`.
        scheme: String,
        /// The shared key.
        key: Secret,
        /// `sha256` or `sha512`.
        algorithm: String,
        /// `hex` or `base64`.
        encoding: String,
        /// Parts signed, replacing the scheme's (`method`, `path`, `query`,
        /// `timestamp`, `nonce`, `body`, `body_sha256`, `header:<name>`,
        /// `literal:<text>`); empty: the scheme's own.
        signed_parts: Vec<String>,
        /// Signature header, replacing the scheme's.
        signature_header: Option<String>,
        /// Text before the signature.
        signature_prefix: Option<String>,
        /// What joins the parts.
        separator: Option<String>,
        /// Timestamp header, replacing the scheme's.
        timestamp_header: Option<String>,
        /// Nonce header, replacing the scheme's.
        nonce_header: Option<String>,
    },
    /// OAuth2 client credentials at an issuer's discovered token endpoint.
    OidcClientCredentials {
        /// The issuer URL.
        issuer: String,
        /// Client id.
        client_id: String,
        /// Client secret (or a private key).
        client_secret: Option<Secret>,
        /// PEM private key for `private_key_jwt` (instead of a secret).
        private_key: Option<Secret>,
        /// `kid` header of the assertions.
        key_id: Option<String>,
        /// Scopes.
        scopes: Vec<String>,
        /// Audience parameter.
        audience: Option<String>,
        /// `basic` or `post` when set explicitly; else chosen from the document.
        client_auth: Option<String>,
    },
    /// Client credentials authenticated with a signed JWT (RFC 7523).
    PrivateKeyJwt {
        /// Token endpoint.
        token_url: String,
        /// Client id.
        client_id: String,
        /// PEM private key (PKCS#8, or PKCS#1 RSA).
        private_key: Secret,
        /// `kid` header.
        key_id: Option<String>,
        /// Scopes.
        scopes: Vec<String>,
        /// Audience parameter of the token request.
        audience: Option<String>,
    },
}

/// The strategy for `settings`.
pub(crate) fn strategy(
    settings: &SigningAuth,
    allow_http: bool,
    transport: Arc<dyn Transport>,
    shared: Option<Arc<dyn SharedTokens>>,
) -> Result<Arc<dyn AuthStrategy>, Error> {
    let cached = |provider: Arc<dyn TokenProvider>| -> Arc<dyn AuthStrategy> {
        let mut builder = TokenAuth::builder(provider);
        if let Some(shared) = shared.clone() {
            builder = builder.shared(shared);
        }
        Arc::new(builder.build())
    };
    Ok(match settings {
        SigningAuth::AwsSigV4 {
            base_url,
            region,
            service,
            access_key_id,
            secret_access_key,
            session_token,
            unsigned_payload,
        } => {
            let mut credentials = AwsCredentials::new(
                access_key_id.value().expose_secret().to_owned(),
                secret_access_key.value().clone(),
            );
            if let Some(token) = session_token {
                credentials = credentials.session_token(token.value().clone());
            }
            Arc::new(
                SigV4::builder(region.clone(), service.clone())
                    .base_url(base_url.clone())
                    .allow_http(allow_http)
                    .credentials(credentials)
                    .payload(if *unsigned_payload {
                        PayloadSigning::Unsigned
                    } else {
                        PayloadSigning::Signed
                    })
                    .build()?,
            )
        }
        SigningAuth::Hmac { base_url, key, .. } => Arc::new(
            HmacAuth::new(hmac_scheme(settings)?, HmacKey::from_secret(key.value())).base_url(base_url)?,
        ),
        SigningAuth::OidcClientCredentials {
            issuer,
            client_id,
            client_secret,
            private_key,
            key_id,
            scopes,
            audience,
            client_auth,
        } => {
            let discovery = OidcDiscovery::builder(issuer.clone())
                .transport(transport)
                .allow_http(allow_http)
                .build()?;
            let mut grant = match (private_key, client_secret) {
                (Some(pem), _) => {
                    let mut key = ClientAssertionKey::from_pem(pem.value())?;
                    if let Some(kid) = key_id {
                        key = key.key_id(kid.clone());
                    }
                    OidcClientCredentials::with_private_key(discovery, client_id.clone(), key)
                }
                (None, Some(secret)) => {
                    OidcClientCredentials::new(discovery, client_id.clone(), secret.value().clone())
                }
                (None, None) => {
                    return Err(Error::config(
                        "oidc_client_credentials needs a client secret or a private key",
                    ));
                }
            };
            for scope in scopes {
                grant = grant.scope(scope.clone());
            }
            if let Some(audience) = audience {
                grant = grant.param("audience", audience.clone());
            }
            match client_auth.as_deref() {
                Some("post") => grant = grant.auth_method(ClientAuth::Post),
                Some(_) => grant = grant.auth_method(ClientAuth::Basic),
                None => {}
            }
            cached(Arc::new(grant))
        }
        SigningAuth::PrivateKeyJwt {
            token_url,
            client_id,
            private_key,
            key_id,
            scopes,
            audience,
        } => {
            let client = OAuth2Client::builder(token_url.clone())
                .client_id(client_id.clone())
                .auth_method(ClientAuth::Public)
                .transport(transport)
                .allow_http(allow_http)
                .build()?;
            let mut key = ClientAssertionKey::from_pem(private_key.value())?;
            if let Some(kid) = key_id {
                key = key.key_id(kid.clone());
            }
            let mut grant = PrivateKeyJwt::new(client, key);
            for scope in scopes {
                grant = grant.scope(scope.clone());
            }
            if let Some(audience) = audience {
                grant = grant.param("audience", audience.clone());
            }
            cached(Arc::new(grant))
        }
    })
}

/// The HMAC scheme an `hmac` table describes.
pub(crate) fn hmac_scheme(settings: &SigningAuth) -> Result<HmacScheme, Error> {
    let SigningAuth::Hmac {
        scheme,
        algorithm,
        encoding,
        signed_parts,
        signature_header,
        signature_prefix,
        separator,
        timestamp_header,
        nonce_header,
        ..
    } = settings
    else {
        return Err(Error::config("not an hmac auth table"));
    };
    let header = |name: &str| {
        HeaderName::from_bytes(name.as_bytes()).map_err(|_| Error::config("an hmac header name is not valid"))
    };
    let mut built = match scheme.as_str() {
        "stripe" => HmacScheme::stripe(),
        "slack" => HmacScheme::slack(),
        _ => HmacScheme::default(),
    };
    if !signed_parts.is_empty() {
        let parts = signed_parts
            .iter()
            .map(|part| signed_part(part))
            .collect::<Result<Vec<_>, _>>()?;
        built = built.with_parts(parts);
    }
    if signature_header.is_some() || signature_prefix.is_some() {
        let (name, prefix) = match built.layout() {
            SignatureLayout::Header { name, prefix } => (name.clone(), prefix.clone()),
            SignatureLayout::Pairs { name, .. } => (name.clone(), String::new()),
        };
        built = built.with_layout(SignatureLayout::Header {
            name: match signature_header {
                Some(text) => header(text)?,
                None => name,
            },
            prefix: signature_prefix.clone().unwrap_or(prefix),
        });
    }
    if let Some(separator) = separator {
        built = built.separator(separator.clone());
    }
    if let Some(name) = timestamp_header {
        built = built.timestamp_header(header(name)?);
    }
    if let Some(name) = nonce_header {
        built = built.nonce_header(header(name)?);
    }
    built = built
        .algorithm(if algorithm == "sha512" {
            HmacAlgorithm::Sha512
        } else {
            HmacAlgorithm::Sha256
        })
        .encoding(if encoding == "base64" {
            SignatureEncoding::Base64
        } else {
            SignatureEncoding::Hex
        });
    Ok(built)
}

/// One `signed_parts` entry.
pub(crate) fn signed_part(text: &str) -> Result<SignedPart, Error> {
    Ok(match text {
        "method" => SignedPart::Method,
        "path" => SignedPart::Path,
        "query" => SignedPart::Query,
        "timestamp" => SignedPart::Timestamp,
        "nonce" => SignedPart::Nonce,
        "body" => SignedPart::Body,
        "body_sha256" => SignedPart::BodySha256,
        other => match other.split_once(':') {
            Some(("header", name)) => SignedPart::Header(
                HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| Error::config("a signed header name is not valid"))?,
            ),
            Some(("literal", text)) => SignedPart::Literal(text.to_owned()),
            _ => {
                return Err(Error::config(
                    "expected method, path, query, timestamp, nonce, body, body_sha256, header:<name> or literal:<text>",
                ));
            }
        },
    })
}
