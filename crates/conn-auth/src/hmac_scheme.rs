//! What an HMAC request signature covers and how it travels: one
//! description shared by the signer (outgoing calls) and the verifier
//! (webhook receivers, the gateway), so both build the same string to sign.
//!
//! Payment, webhook and many partner APIs sign requests with a shared key
//! instead of sending a bearer token: the key never crosses the wire, the
//! body cannot be altered, and a timestamp (and a nonce) stop a captured
//! request from being replayed. The schemes differ only in what they sign,
//! in what order, and where the signature goes, so one configurable scheme
//! covers them; [`HmacScheme::stripe`] and [`HmacScheme::slack`] are the two
//! presets.

use std::fmt;

use base64::Engine;
use hmac::{Hmac, Mac};
use http::HeaderName;
use secrecy::{ExposeSecret, SecretSlice};
use sha2::{Digest, Sha256, Sha512};

/// The hash under the HMAC.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HmacAlgorithm {
    /// HMAC-SHA256 (the default; what nearly every scheme uses).
    #[default]
    Sha256,
    /// HMAC-SHA512.
    Sha512,
}

/// How the signature bytes are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SignatureEncoding {
    /// Lowercase hex (the default).
    #[default]
    Hex,
    /// Standard base64 with padding.
    Base64,
}

/// One part of the string to sign; the parts are joined with the scheme's
/// separator, in the order given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignedPart {
    /// The method, uppercase (`POST`).
    Method,
    /// The path as sent, without the query (`/v2/orders`).
    Path,
    /// The query string as sent, without `?` (empty when there is none).
    Query,
    /// A header's value (several values joined with `,`; empty when
    /// absent). Only headers set on the request itself are seen.
    Header(HeaderName),
    /// The timestamp, Unix seconds.
    Timestamp,
    /// The nonce: 32 random hex digits per request.
    Nonce,
    /// The body, byte for byte.
    Body,
    /// Lowercase hex SHA-256 of the body.
    BodySha256,
    /// A fixed string (a version tag such as `v0`).
    Literal(String),
}

/// Where the signature (and the timestamp) travel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignatureLayout {
    /// `name: <prefix><signature>`; the timestamp and nonce in their own
    /// headers ([`HmacScheme::timestamp_header`], [`HmacScheme::nonce_header`]).
    Header {
        /// The signature header.
        name: HeaderName,
        /// Written before the signature (`sha256=`, `v0=`), may be empty.
        prefix: String,
    },
    /// `name: <timestamp_key>=<ts>,<signature_key>=<sig>` (Stripe's
    /// layout); a verifier accepts any of several signatures under the
    /// key (a key being rotated).
    Pairs {
        /// The signature header.
        name: HeaderName,
        /// The key of the timestamp pair (`t`).
        timestamp_key: String,
        /// The key of the signature pair (`v1`).
        signature_key: String,
    },
}

/// A signing scheme: algorithm, signed parts, separator, encoding, layout,
/// and the replay window.
///
/// ```
/// use conn_auth::{HmacScheme, SignedPart, SignatureLayout};
/// use http::HeaderName;
///
/// // The default: method, path, query, timestamp, nonce and body hash,
/// // one per line, hex HMAC-SHA256 in X-Signature.
/// let generic = HmacScheme::default();
/// assert_eq!(generic.parts().len(), 6);
///
/// // A partner's own scheme.
/// let partner = HmacScheme::new(
///     vec![SignedPart::Timestamp, SignedPart::Method, SignedPart::Path, SignedPart::BodySha256],
///     SignatureLayout::Header { name: HeaderName::from_static("x-partner-signature"), prefix: "sha256=".into() },
/// )
/// .separator("|")
/// .timestamp_header(HeaderName::from_static("x-partner-timestamp"));
/// # let _ = partner;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HmacScheme {
    pub(crate) algorithm: HmacAlgorithm,
    pub(crate) parts: Vec<SignedPart>,
    pub(crate) separator: String,
    pub(crate) encoding: SignatureEncoding,
    pub(crate) layout: SignatureLayout,
    pub(crate) timestamp_header: Option<HeaderName>,
    pub(crate) nonce_header: Option<HeaderName>,
    pub(crate) tolerance_secs: u64,
}

impl Default for HmacScheme {
    fn default() -> Self {
        HmacScheme::new(
            vec![
                SignedPart::Method,
                SignedPart::Path,
                SignedPart::Query,
                SignedPart::Timestamp,
                SignedPart::Nonce,
                SignedPart::BodySha256,
            ],
            SignatureLayout::Header {
                name: HeaderName::from_static("x-signature"),
                prefix: String::new(),
            },
        )
        .timestamp_header(HeaderName::from_static("x-timestamp"))
        .nonce_header(HeaderName::from_static("x-nonce"))
    }
}

impl HmacScheme {
    /// A scheme signing `parts` (joined with `\n`), hex HMAC-SHA256, with
    /// the signature where `layout` says and a 5-minute replay window.
    pub fn new(parts: Vec<SignedPart>, layout: SignatureLayout) -> Self {
        HmacScheme {
            algorithm: HmacAlgorithm::Sha256,
            parts,
            separator: "\n".to_owned(),
            encoding: SignatureEncoding::Hex,
            layout,
            timestamp_header: None,
            nonce_header: None,
            tolerance_secs: 300,
        }
    }

    /// Stripe's webhook signatures: `Stripe-Signature: t=<ts>,v1=<sig>`,
    /// where `sig` is hex HMAC-SHA256 of `"<ts>.<body>"`; 5 minutes of
    /// tolerance (Stripe's default).
    pub fn stripe() -> Self {
        HmacScheme::new(
            vec![SignedPart::Timestamp, SignedPart::Body],
            SignatureLayout::Pairs {
                name: HeaderName::from_static("stripe-signature"),
                timestamp_key: "t".to_owned(),
                signature_key: "v1".to_owned(),
            },
        )
        .separator(".")
    }

    /// Slack's request signing: `X-Slack-Signature: v0=<sig>` with
    /// `X-Slack-Request-Timestamp: <ts>`, where `sig` is hex HMAC-SHA256 of
    /// `"v0:<ts>:<body>"`; 5 minutes of tolerance.
    pub fn slack() -> Self {
        HmacScheme::new(
            vec![
                SignedPart::Literal("v0".to_owned()),
                SignedPart::Timestamp,
                SignedPart::Body,
            ],
            SignatureLayout::Header {
                name: HeaderName::from_static("x-slack-signature"),
                prefix: "v0=".to_owned(),
            },
        )
        .separator(":")
        .timestamp_header(HeaderName::from_static("x-slack-request-timestamp"))
    }

    /// Replaces the signed parts (a preset's layout, another string).
    pub fn with_parts(mut self, parts: Vec<SignedPart>) -> Self {
        self.parts = parts;
        self
    }

    /// Replaces where the signature travels.
    pub fn with_layout(mut self, layout: SignatureLayout) -> Self {
        self.layout = layout;
        self
    }

    /// The hash under the HMAC.
    pub fn algorithm(mut self, algorithm: HmacAlgorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// What joins the signed parts (`\n` by default).
    pub fn separator(mut self, separator: impl Into<String>) -> Self {
        self.separator = separator.into();
        self
    }

    /// How the signature is written.
    pub fn encoding(mut self, encoding: SignatureEncoding) -> Self {
        self.encoding = encoding;
        self
    }

    /// The header carrying the timestamp (for the `Header` layout).
    pub fn timestamp_header(mut self, name: HeaderName) -> Self {
        self.timestamp_header = Some(name);
        self
    }

    /// The header carrying the nonce.
    pub fn nonce_header(mut self, name: HeaderName) -> Self {
        self.nonce_header = Some(name);
        self
    }

    /// How far a request's timestamp may be from the verifier's clock, in
    /// seconds, either way (default 300). It also bounds how long a
    /// verifier remembers nonces.
    pub fn tolerance_secs(mut self, seconds: u64) -> Self {
        self.tolerance_secs = seconds;
        self
    }

    /// The signed parts, in order.
    pub fn parts(&self) -> &[SignedPart] {
        &self.parts
    }

    /// The layout.
    pub fn layout(&self) -> &SignatureLayout {
        &self.layout
    }

    pub(crate) fn signs(&self, part: &SignedPart) -> bool {
        self.parts.contains(part)
    }

    /// Checks that the scheme can be verified: a timestamp that is signed
    /// must travel somewhere, and so must a nonce.
    pub fn check(&self) -> Result<(), conn_core::Error> {
        if self.parts.is_empty() {
            return Err(conn_core::Error::config("an HMAC scheme must sign something"));
        }
        let pairs = matches!(self.layout, SignatureLayout::Pairs { .. });
        if self.signs(&SignedPart::Timestamp) && !pairs && self.timestamp_header.is_none() {
            return Err(conn_core::Error::config(
                "an HMAC scheme that signs a timestamp needs a timestamp header",
            ));
        }
        if self.signs(&SignedPart::Nonce) && self.nonce_header.is_none() {
            return Err(conn_core::Error::config(
                "an HMAC scheme that signs a nonce needs a nonce header",
            ));
        }
        Ok(())
    }
}

/// An HMAC key: secret bytes, wiped on drop, never shown.
#[derive(Clone)]
pub struct HmacKey(SecretSlice<u8>);

impl HmacKey {
    /// A key from raw bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        HmacKey(SecretSlice::from(bytes.into()))
    }

    /// A key that is the UTF-8 bytes of a shared secret string (Stripe's
    /// `whsec_...`, Slack's signing secret).
    pub fn from_secret(secret: &secrecy::SecretString) -> Self {
        HmacKey::new(secret.expose_secret().as_bytes().to_vec())
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        self.0.expose_secret()
    }
}

impl From<&str> for HmacKey {
    fn from(secret: &str) -> Self {
        HmacKey::new(secret.as_bytes().to_vec())
    }
}

impl fmt::Debug for HmacKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HmacKey(<redacted>)")
    }
}

/// The values a request contributes to its string to sign.
pub(crate) struct SignedInput<'a> {
    pub(crate) method: &'a str,
    pub(crate) path: &'a str,
    pub(crate) query: &'a str,
    pub(crate) headers: &'a http::HeaderMap,
    pub(crate) body: &'a [u8],
    pub(crate) timestamp: &'a str,
    pub(crate) nonce: &'a str,
}

impl HmacScheme {
    /// The string to sign: the parts joined with the separator.
    pub(crate) fn string_to_sign(&self, input: &SignedInput<'_>) -> Vec<u8> {
        let mut out = Vec::with_capacity(input.body.len() + 128);
        for (i, part) in self.parts.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(self.separator.as_bytes());
            }
            match part {
                SignedPart::Method => out.extend_from_slice(input.method.to_ascii_uppercase().as_bytes()),
                SignedPart::Path => out.extend_from_slice(input.path.as_bytes()),
                SignedPart::Query => out.extend_from_slice(input.query.as_bytes()),
                SignedPart::Header(name) => {
                    let values: Vec<&[u8]> =
                        input.headers.get_all(name).iter().map(|v| v.as_bytes()).collect();
                    out.extend_from_slice(&values.join(&b","[..]));
                }
                SignedPart::Timestamp => out.extend_from_slice(input.timestamp.as_bytes()),
                SignedPart::Nonce => out.extend_from_slice(input.nonce.as_bytes()),
                SignedPart::Body => out.extend_from_slice(input.body),
                SignedPart::BodySha256 => out.extend_from_slice(hex(&Sha256::digest(input.body)).as_bytes()),
                SignedPart::Literal(text) => out.extend_from_slice(text.as_bytes()),
            }
        }
        out
    }

    /// The raw MAC of `message`.
    pub(crate) fn mac(&self, key: &HmacKey, message: &[u8]) -> Vec<u8> {
        match self.algorithm {
            HmacAlgorithm::Sha256 => {
                // HMAC accepts keys of any length: this cannot fail.
                let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.bytes()).expect("any key length");
                mac.update(message);
                mac.finalize().into_bytes().to_vec()
            }
            HmacAlgorithm::Sha512 => {
                let mut mac = <Hmac<Sha512> as Mac>::new_from_slice(key.bytes()).expect("any key length");
                mac.update(message);
                mac.finalize().into_bytes().to_vec()
            }
        }
    }

    pub(crate) fn encode(&self, mac: &[u8]) -> String {
        match self.encoding {
            SignatureEncoding::Hex => hex(mac),
            SignatureEncoding::Base64 => base64::engine::general_purpose::STANDARD.encode(mac),
        }
    }

    /// The MAC bytes a written signature stands for; `None` if malformed.
    pub(crate) fn decode(&self, written: &str) -> Option<Vec<u8>> {
        match self.encoding {
            SignatureEncoding::Hex => unhex(written),
            SignatureEncoding::Base64 => base64::engine::general_purpose::STANDARD.decode(written).ok(),
        }
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_sha256_matches_rfc_4231_test_case_2() {
        let scheme = HmacScheme::default();
        let mac = scheme.mac(&HmacKey::from("Jefe"), b"what do ya want for nothing?");
        assert_eq!(
            hex(&mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let mac = scheme
            .clone()
            .algorithm(HmacAlgorithm::Sha512)
            .mac(&HmacKey::from("Jefe"), b"what do ya want for nothing?");
        assert!(hex(&mac).starts_with("164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"));
    }

    #[test]
    fn the_string_to_sign_joins_the_parts_in_order() {
        let mut headers = http::HeaderMap::new();
        headers.append("x-a", "1".parse().unwrap());
        headers.append("x-a", "2".parse().unwrap());
        let scheme = HmacScheme::new(
            vec![
                SignedPart::Literal("v0".into()),
                SignedPart::Method,
                SignedPart::Path,
                SignedPart::Query,
                SignedPart::Header(HeaderName::from_static("x-a")),
                SignedPart::Timestamp,
                SignedPart::Nonce,
                SignedPart::Body,
            ],
            SignatureLayout::Header {
                name: HeaderName::from_static("x-sig"),
                prefix: String::new(),
            },
        )
        .separator("|");
        let input = SignedInput {
            method: "post",
            path: "/p",
            query: "a=1",
            headers: &headers,
            body: b"{}",
            timestamp: "1700000000",
            nonce: "n1",
        };
        assert_eq!(
            scheme.string_to_sign(&input),
            b"v0|POST|/p|a=1|1,2|1700000000|n1|{}"
        );
    }

    #[test]
    fn signatures_round_trip_through_both_encodings_and_garbage_is_refused() {
        for encoding in [SignatureEncoding::Hex, SignatureEncoding::Base64] {
            let scheme = HmacScheme::default().encoding(encoding);
            let mac = scheme.mac(&HmacKey::from("k"), b"m");
            assert_eq!(scheme.decode(&scheme.encode(&mac)), Some(mac));
            assert_eq!(scheme.decode("zz!"), None);
        }
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("é1"), None);
    }

    #[test]
    fn schemes_that_cannot_be_verified_are_refused() {
        assert!(HmacScheme::default().check().is_ok());
        assert!(HmacScheme::stripe().check().is_ok());
        assert!(HmacScheme::slack().check().is_ok());
        let no_ts_header = HmacScheme::new(
            vec![SignedPart::Timestamp],
            SignatureLayout::Header {
                name: HeaderName::from_static("x-sig"),
                prefix: String::new(),
            },
        );
        assert!(no_ts_header.check().is_err());
        let nothing = HmacScheme::new(
            vec![],
            SignatureLayout::Header {
                name: HeaderName::from_static("x-sig"),
                prefix: String::new(),
            },
        );
        assert!(nothing.check().is_err());
    }

    #[test]
    fn keys_never_show() {
        assert_eq!(
            format!("{:?}", HmacKey::from("CANARY-hmac")),
            "HmacKey(<redacted>)"
        );
    }
}
