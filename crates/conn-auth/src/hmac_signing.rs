//! Signs every attempt with an HMAC scheme: a fresh timestamp and nonce per
//! attempt (the pipeline authorizes a fresh copy of the request each time),
//! so a retry is never refused as a replay of the first attempt.

use std::fmt;
use std::time::UNIX_EPOCH;

use conn_core::component::random::next_u64;
use conn_core::{AuthStrategy, BaseUrl, BoxFuture, Context, Error, Request};
use http::HeaderValue;

use crate::SigningClock;
use crate::hmac_scheme::{HmacKey, HmacScheme, SignatureLayout, SignedInput, SignedPart};

/// An [`AuthStrategy`] that signs requests with a shared key.
///
/// ```
/// use std::sync::Arc;
/// use conn_auth::{HmacAuth, HmacKey, HmacScheme};
/// use conn_core::AuthStrategy;
///
/// let auth: Arc<dyn AuthStrategy> = Arc::new(
///     HmacAuth::new(HmacScheme::default(), HmacKey::from("shared-secret"))
///         .key_id(http::HeaderName::from_static("x-key-id"), "partner-7")? // optional: which key signed
///         .base_url("https://api.partner.example/v1")?,                   // the path is signed as sent
/// );
/// # Ok::<(), conn_core::Error>(())
/// ```
#[derive(Clone)]
pub struct HmacAuth {
    scheme: HmacScheme,
    key: HmacKey,
    key_id: Option<(http::HeaderName, HeaderValue)>,
    base: Option<BaseUrl>,
    clock: SigningClock,
}

impl HmacAuth {
    /// Signs with `scheme` under `key`.
    pub fn new(scheme: HmacScheme, key: HmacKey) -> Self {
        HmacAuth {
            scheme,
            key,
            key_id: None,
            base: None,
            clock: SigningClock::system(),
        }
    }

    /// Sends `id` in header `name` so the receiver knows which key to use
    /// (not signed unless the scheme lists the header).
    pub fn key_id(mut self, name: http::HeaderName, id: &str) -> Result<Self, Error> {
        self.key_id = Some((name, header_value(id)?));
        Ok(self)
    }

    /// The connector's base URL: needed when it has a path of its own and
    /// the scheme signs the path or query (they are signed as sent).
    pub fn base_url(mut self, url: &str) -> Result<Self, Error> {
        self.base = Some(BaseUrl::parse(url, true)?);
        Ok(self)
    }

    /// The clock timestamps come from.
    pub fn clock(mut self, clock: SigningClock) -> Self {
        self.clock = clock;
        self
    }

    /// The scheme.
    pub fn scheme(&self) -> &HmacScheme {
        &self.scheme
    }

    fn path_and_query(&self, request: &Request) -> Result<(String, String), Error> {
        let uri = match &self.base {
            Some(base) => base.uri(&base.join(request.endpoint())?, request.query_pairs())?,
            None => {
                let any = BaseUrl::parse("https://signing.invalid", false)?;
                any.uri(&any.join(request.endpoint())?, request.query_pairs())?
            }
        };
        Ok((uri.path().to_owned(), uri.query().unwrap_or_default().to_owned()))
    }
}

impl AuthStrategy for HmacAuth {
    fn authorize<'a>(&'a self, request: &'a mut Request, _: &'a Context) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            self.scheme.check()?;
            let timestamp = self
                .clock
                .now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or_default()
                .to_string();
            // Unique per attempt; uniqueness is what replay protection needs.
            let nonce = format!("{:016x}{:016x}", next_u64(), next_u64());
            if let Some((name, value)) = &self.key_id {
                request.headers_mut().insert(name.clone(), value.clone());
            }
            if let Some(name) = &self.scheme.timestamp_header {
                request
                    .headers_mut()
                    .insert(name.clone(), header_value(&timestamp)?);
            }
            if self.scheme.signs(&SignedPart::Nonce)
                && let Some(name) = &self.scheme.nonce_header
            {
                request.headers_mut().insert(name.clone(), header_value(&nonce)?);
            }
            let (path, query) = self.path_and_query(request)?;
            let message = self.scheme.string_to_sign(&SignedInput {
                method: request.method().as_str(),
                path: &path,
                query: &query,
                headers: request.headers(),
                body: request.body_bytes(),
                timestamp: &timestamp,
                nonce: &nonce,
            });
            let signature = self.scheme.encode(&self.scheme.mac(&self.key, &message));
            let (name, value) = match &self.scheme.layout {
                SignatureLayout::Header { name, prefix } => (name.clone(), format!("{prefix}{signature}")),
                SignatureLayout::Pairs {
                    name,
                    timestamp_key,
                    signature_key,
                } => (
                    name.clone(),
                    format!("{timestamp_key}={timestamp},{signature_key}={signature}"),
                ),
            };
            request.set_credential_header(name, header_value(&value)?);
            Ok(())
        })
    }
}

fn header_value(text: &str) -> Result<HeaderValue, Error> {
    HeaderValue::from_str(text).map_err(|_| {
        Error::config(
            "an HMAC signing header (signature, timestamp, nonce or key id) is not a valid header value",
        )
    })
}

impl fmt::Debug for HmacAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HmacAuth")
            .field("scheme", &self.scheme)
            .field("key", &self.key)
            .field("key_id", &self.key_id.as_ref().map(|(name, _)| name))
            .finish()
    }
}
