//! conn's authentication: credentials that refresh themselves and never leak.
//!
//! What it is for: putting the right credentials on every attempt of a
//! connector's calls — for the right tenant, renewed before they expire,
//! renewed once when the API refuses them — without ever writing a secret
//! to a log, an error or a debug print. Every strategy implements
//! [`conn_core::AuthStrategy`], so it is chosen at run time
//! (`Arc<dyn AuthStrategy>`) without touching the connector.
//!
//! | strategy | sends |
//! |---|---|
//! | [`StaticBearer`] | `Authorization: Bearer <fixed token>` |
//! | [`ApiKey`] | a fixed key in a header or a query parameter |
//! | [`BasicAuth`] | `Authorization: Basic base64(user:password)` |
//! | [`TokenAuth`] + [`ClientCredentials`] | OAuth2 client credentials tokens (secret basic or post, scopes, audience) |
//! | [`TokenAuth`] + [`RefreshTokenGrant`] | OAuth2 refresh-token grant with refresh-token rotation |
//! | [`TokenAuth`] + your [`TokenProvider`] / [`provider_fn`] | tokens from any flow (signed JWTs, vendor logins) |
//! | [`Fallback`] | another strategy's credentials, degraded ones when they fail |
//! | [`SigV4`] | AWS Signature Version 4 on every attempt; presigned URLs; clock-skew correction |
//! | [`HmacAuth`] / [`HmacVerifier`] | HMAC request signatures (generic, Stripe, Slack), and their constant-time verification |
//! | [`TokenAuth`] + [`OidcClientCredentials`] | client credentials at an issuer's discovered token endpoint |
//! | [`TokenAuth`] + [`PrivateKeyJwt`] | client credentials authenticated with a signed JWT (RFC 7523) |
//!
//! - **Fleet tokens** ([`TokenAuthBuilder::shared`]): replicas share their
//!   tokens through conn-core's `SharedTokens` (e.g. conn-redis): one token
//!   request for the whole fleet, one refresh-token presentation at a time.
//! - **Token cache** ([`TokenAuth`]): per tenant; refresh ahead of expiry
//!   with skew and jitter; single-flight (1,000 calls on an expired token make
//!   one token request); a 401 discards the token, fetches a new one and the
//!   pipeline replays once; a failing endpoint is retried with backoff within
//!   the call's deadline while a still-valid token stays in use.
//! - **Token endpoint** ([`OAuth2Client`]): explicit URL (any origin), a
//!   transport you pass in, per-attempt and deadline time limits, errors that
//!   say what the endpoint answered with the body [scrubbed](scrub).
//! - **Stores** ([`TokenStore`]): [`MemoryStore`], and [`EncryptedFileStore`]
//!   (XChaCha20-Poly1305, atomic 0600 writes) so a rotated refresh token
//!   survives a restart. Every read and write is access-logged on the
//!   `conn_auth::access` target with tenant and token id, never the value.
//! - **Secrets** are `secrecy::SecretString` throughout; every type's
//!   `Debug` redacts them.
//!
//! ```
//! use std::sync::Arc;
//! use conn_auth::{ClientCredentials, OAuth2Client, TokenAuth};
//! use conn_core::Connector;
//! use secrecy::SecretString;
//! # fn transport() -> Arc<dyn conn_core::Transport> { Arc::new(conn_testkit::ScriptedTransport::default()) }
//!
//! let client = OAuth2Client::builder("https://login.vendor.example/oauth2/token")
//!     .client_id("inventory-sync")
//!     .client_secret(SecretString::from("from-a-secrets-manager"))
//!     .transport(transport()) // e.g. a HyperTransport (redirects off by default)
//!     .build()?;
//! let auth = TokenAuth::new(Arc::new(ClientCredentials::new(client).scope("orders:read")));
//! let connector = Connector::builder("vendor")
//!     .base_url("https://api.vendor.example/v2")
//!     .transport(transport())
//!     .auth(Arc::new(auth))
//!     .build()?;
//! # let _ = connector;
//! # Ok::<(), conn_core::Error>(())
//! ```
#![deny(missing_docs)]

mod api_key;
mod aws_credentials;
mod basic;
mod cache;
mod client_assertion;
mod clock;
mod fallback;
mod file_store;
mod fleet;
mod form;
mod grants;
mod hmac_scheme;
mod hmac_signing;
mod hmac_verify;
mod jwt;
mod memory_store;
mod oauth2;
mod oidc;
mod provider;
mod random;
mod scrub;
mod sigv4;
mod sigv4_skew;
mod static_auth;
mod store;
mod token;
mod token_auth;
mod token_metrics;
mod token_response;

pub use api_key::ApiKey;
pub use aws_credentials::{AwsCredentialSource, AwsCredentials, aws_credentials_fn};
pub use basic::BasicAuth;
pub use client_assertion::{ClientAssertionKey, JWT_BEARER_ASSERTION, PrivateKeyJwt};
pub use clock::SigningClock;
pub use fallback::Fallback;
pub use file_store::{DEFAULT_KEY_VAR, EncryptedFileStore, StoreKey};
pub use form::TokenForm;
pub use grants::{ClientCredentials, RefreshTokenGrant};
pub use hmac_scheme::{HmacAlgorithm, HmacKey, HmacScheme, SignatureEncoding, SignatureLayout, SignedPart};
pub use hmac_signing::HmacAuth;
pub use hmac_verify::HmacVerifier;
pub use jwt::{JwtTimes, token_lifetime};
pub use memory_store::MemoryStore;
pub use oauth2::{ClientAuth, OAuth2Client, OAuth2ClientBuilder};
pub use oidc::{OidcClientCredentials, OidcDiscovery, OidcDiscoveryBuilder, OidcDocument};
pub use provider::{FetchReason, FnProvider, TokenProvider, TokenRequest, provider_fn};
pub use scrub::scrub;
pub use sigv4::{PayloadSigning, PresignedUrl, SigV4, SigV4Builder};
pub use sigv4_skew::SkewCorrecting;
pub use static_auth::StaticBearer;
pub use store::{StoredToken, TokenStore};
pub use token::{Token, TokenId};
pub use token_auth::{TokenAuth, TokenAuthBuilder};
pub use token_response::TokenResponse;

/// The examples of the guide, `docs/auth.md`, compiled as doctests so they
/// never rot.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/auth.md")]
pub struct GuideDoctests;
