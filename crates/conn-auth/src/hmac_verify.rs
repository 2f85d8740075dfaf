//! Verifying an incoming HMAC signature: for webhook receivers and the
//! gateway, the other side of [`HmacAuth`](crate::HmacAuth).
//!
//! The comparison runs in constant time (`subtle`), so response timing
//! tells an attacker nothing about how much of a forged signature was
//! right. Replays are refused twice over: a timestamp outside the
//! tolerance window, and a nonce seen before within that window.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::UNIX_EPOCH;

use conn_core::{Error, ErrorKind};
use http::{HeaderMap, Method, Uri};
use subtle::ConstantTimeEq;

use crate::SigningClock;
use crate::hmac_scheme::{HmacKey, HmacScheme, SignatureLayout, SignedInput, SignedPart};

/// Longest nonce accepted (ours are 32 hex digits).
const MAX_NONCE: usize = 128;
/// Most nonces remembered at once; past it, the oldest are forgotten
/// first (they are also the first to leave the window).
const MAX_NONCES: usize = 100_000;

/// Checks signatures made with an [`HmacScheme`] under one of its keys.
///
/// ```
/// use conn_auth::{HmacKey, HmacScheme, HmacVerifier};
///
/// let verifier = HmacVerifier::new(HmacScheme::stripe(), HmacKey::from("whsec_test"));
/// let request = http::Request::post("/webhooks/stripe")
///     .header("stripe-signature", "t=1,v1=00")
///     .body(bytes::Bytes::from_static(b"{}"))
///     .unwrap();
/// let refused = verifier.verify_request(&request).unwrap_err();
/// assert!(refused.is_unauthorized()); // a timestamp from 1970 is outside the window
/// ```
pub struct HmacVerifier {
    scheme: HmacScheme,
    keys: Vec<HmacKey>,
    clock: SigningClock,
    /// Nonce -> Unix second after which it may be forgotten.
    nonces: Mutex<HashMap<String, u64>>,
}

impl HmacVerifier {
    /// A verifier for `scheme` under `key`.
    pub fn new(scheme: HmacScheme, key: HmacKey) -> Self {
        HmacVerifier {
            scheme,
            keys: vec![key],
            clock: SigningClock::system(),
            nonces: Mutex::new(HashMap::new()),
        }
    }

    /// Also accepts signatures under `key` (a key being rotated in or out).
    pub fn also_accept(mut self, key: HmacKey) -> Self {
        self.keys.push(key);
        self
    }

    /// The clock timestamps are checked against.
    pub fn clock(mut self, clock: SigningClock) -> Self {
        self.clock = clock;
        self
    }

    /// Verifies a whole request (the body already read).
    pub fn verify_request<B: AsRef<[u8]>>(&self, request: &http::Request<B>) -> Result<(), Error> {
        self.verify(
            request.method(),
            request.uri(),
            request.headers(),
            request.body().as_ref(),
        )
    }

    /// Verifies a request's signature, timestamp and nonce. The error is
    /// `Unauthorized`, says which check failed, and quotes nothing sent.
    pub fn verify(&self, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Result<(), Error> {
        self.scheme.check()?;
        let (timestamp, candidates) = self.read_signature(headers)?;
        let now = self
            .clock
            .now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        if self.scheme.signs(&SignedPart::Timestamp) {
            let sent: u64 = timestamp
                .as_deref()
                .and_then(|t| t.trim().parse().ok())
                .ok_or_else(|| refused("the signature's timestamp is missing or not a number"))?;
            if sent.abs_diff(now) > self.scheme.tolerance_secs {
                return Err(refused(
                    "the signature's timestamp is outside the allowed window (a replay, or a clock off)",
                ));
            }
        }
        let nonce = if self.scheme.signs(&SignedPart::Nonce) {
            let nonce = self
                .scheme
                .nonce_header
                .as_ref()
                .and_then(|name| headers.get(name))
                .and_then(|v| v.to_str().ok())
                .filter(|n| !n.is_empty() && n.len() <= MAX_NONCE)
                .ok_or_else(|| refused("the nonce is missing or malformed"))?;
            Some(nonce.to_owned())
        } else {
            None
        };
        let message = self.scheme.string_to_sign(&SignedInput {
            method: method.as_str(),
            path: uri.path(),
            query: uri.query().unwrap_or_default(),
            headers,
            body,
            timestamp: timestamp.as_deref().unwrap_or_default(),
            nonce: nonce.as_deref().unwrap_or_default(),
        });
        let mut matched = subtle::Choice::from(0);
        for key in &self.keys {
            let expected = self.scheme.mac(key, &message);
            for candidate in &candidates {
                // Malformed candidates compare as a wrong signature of the
                // right length, so they take the same time.
                let decoded = self
                    .scheme
                    .decode(candidate)
                    .filter(|g| g.len() == expected.len());
                let well_formed = subtle::Choice::from(u8::from(decoded.is_some()));
                let given = decoded.unwrap_or_else(|| vec![0; expected.len()]);
                matched |= given.ct_eq(&expected) & well_formed;
            }
        }
        if !bool::from(matched) {
            return Err(refused("the signature does not match"));
        }
        if let Some(nonce) = nonce {
            self.remember(nonce, now)?;
        }
        Ok(())
    }

    /// The timestamp (if the layout carries one) and the signatures sent.
    fn read_signature(&self, headers: &HeaderMap) -> Result<(Option<String>, Vec<String>), Error> {
        let header_text =
            |name: &http::HeaderName| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let from_header = self.scheme.timestamp_header.as_ref().and_then(header_text);
        match &self.scheme.layout {
            SignatureLayout::Header { name, prefix } => {
                let value = header_text(name).ok_or_else(|| refused("the request carries no signature"))?;
                let signature = value
                    .strip_prefix(prefix.as_str())
                    .ok_or_else(|| refused("the signature header is malformed"))?;
                Ok((from_header, vec![signature.trim().to_owned()]))
            }
            SignatureLayout::Pairs {
                name,
                timestamp_key,
                signature_key,
            } => {
                let value = header_text(name).ok_or_else(|| refused("the request carries no signature"))?;
                let mut timestamp = None;
                let mut signatures = Vec::new();
                for pair in value.split(',') {
                    let Some((key, val)) = pair.trim().split_once('=') else {
                        continue;
                    };
                    if key == timestamp_key && timestamp.is_none() {
                        timestamp = Some(val.to_owned());
                    } else if key == signature_key && signatures.len() < 8 {
                        signatures.push(val.to_owned());
                    }
                }
                if signatures.is_empty() {
                    return Err(refused("the signature header is malformed"));
                }
                Ok((timestamp.or(from_header), signatures))
            }
        }
    }

    /// Records a nonce; refuses one seen within the window.
    fn remember(&self, nonce: String, now: u64) -> Result<(), Error> {
        let mut nonces = self.nonces.lock().unwrap_or_else(|e| e.into_inner());
        if nonces.get(&nonce).is_some_and(|&until| until >= now) {
            return Err(refused("the nonce was already used (a replay)"));
        }
        if nonces.len() >= MAX_NONCES {
            nonces.retain(|_, until| *until >= now);
        }
        if nonces.len() >= MAX_NONCES
            && let Some(oldest) = nonces
                .iter()
                .min_by_key(|(_, until)| **until)
                .map(|(n, _)| n.clone())
        {
            nonces.remove(&oldest);
        }
        // A timestamp may be up to the tolerance ahead or behind: remember
        // the nonce until any timestamp it could carry has left the window.
        nonces.insert(nonce, now + 2 * self.scheme.tolerance_secs);
        Ok(())
    }
}

fn refused(why: &'static str) -> Error {
    Error::new(ErrorKind::Unauthorized, why)
}

impl fmt::Debug for HmacVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HmacVerifier")
            .field("scheme", &self.scheme)
            .field("keys", &self.keys.len())
            .finish()
    }
}
