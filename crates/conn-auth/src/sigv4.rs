//! AWS Signature Version 4: every AWS-compatible API (S3 and its clones,
//! DynamoDB, SQS, API Gateway with IAM auth...) authenticates each request
//! with an HMAC over its method, path, query, headers, payload hash and
//! time.
//!
//! The signature itself comes from `aws-sigv4`, the AWS SDK's own signer,
//! not from a hand-written canonicalization: the rules (double encoding of
//! paths except for S3, header folding, query ordering) are subtle, and the
//! SDK's signer is checked against AWS's test suite. This module decides
//! what is signed (the same URL the pipeline sends: the base URL joined
//! with the endpoint, the query pairs), puts the result on the request as
//! credential headers, and signs **every attempt** anew: the pipeline calls
//! `authorize` on a fresh copy per attempt, so a retry carries a fresh
//! `X-Amz-Date` and signature.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation,
    SigningSettings, UriPathNormalizationMode, sign,
};
use conn_core::{AuthStrategy, BaseUrl, BoxFuture, Context, Error, Request, Transport};
use http::header::{HeaderName, HeaderValue};
use secrecy::SecretString;

use crate::SigningClock;
use crate::aws_credentials::{AwsCredentialSource, AwsCredentials, CredentialSlot};
use crate::scrub::scrub_with;

/// The longest a presigned URL may be valid (SigV4's own limit).
const MAX_PRESIGN: Duration = Duration::from_secs(7 * 24 * 3600);

/// Headers a signature puts on a request; removed before signing again.
pub(crate) const SIGNING_HEADERS: [&str; 4] = [
    "authorization",
    "x-amz-date",
    "x-amz-security-token",
    "x-amz-content-sha256",
];

/// How the body enters the signature.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PayloadSigning {
    /// The SHA-256 of the body is signed (the default; what every AWS API
    /// accepts).
    #[default]
    Signed,
    /// `UNSIGNED-PAYLOAD`: the body is not hashed (S3 over HTTPS accepts
    /// it; saves hashing large uploads). Sent in `x-amz-content-sha256`.
    Unsigned,
}

/// Signs every attempt with AWS Signature Version 4.
///
/// ```
/// use conn_auth::{AwsCredentials, PayloadSigning, SigV4};
///
/// let sigv4 = SigV4::builder("eu-west-1", "s3")
///     .base_url("https://my-bucket.s3.eu-west-1.amazonaws.com") // the connector's base URL
///     .credentials(AwsCredentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"))
///     .payload(PayloadSigning::Unsigned)
///     .build()?;
/// # let _ = sigv4;
/// # Ok::<(), conn_core::Error>(())
/// ```
#[derive(Clone)]
pub struct SigV4 {
    inner: Arc<Inner>,
}

struct Inner {
    region: String,
    service: String,
    base: BaseUrl,
    credentials: CredentialSlot,
    payload: PayloadSigning,
    content_sha256_header: bool,
    s3_uri_encoding: bool,
    clock: SigningClock,
    /// Server time minus local time, learnt from a clock-skew error.
    skew_ms: AtomicI64,
}

/// Builds a [`SigV4`] strategy.
pub struct SigV4Builder {
    region: String,
    service: String,
    base_url: Option<String>,
    allow_http: bool,
    credentials: Option<CredentialSlot>,
    payload: PayloadSigning,
    content_sha256_header: Option<bool>,
    s3_uri_encoding: Option<bool>,
    clock: SigningClock,
}

/// A request signed for one method, one URL and a limited time: handed to
/// someone who has no credentials (a browser upload, a download link).
///
/// The URL is a bearer credential until it expires (and carries the session
/// token of temporary credentials), so it is a `SecretString` and `Debug`
/// shows only its path.
#[derive(Clone)]
pub struct PresignedUrl {
    url: SecretString,
    path: String,
    expires_in: Duration,
}

impl PresignedUrl {
    /// The full URL, signature included.
    pub fn url(&self) -> &SecretString {
        &self.url
    }

    /// How long the URL is valid from its signing time.
    pub fn expires_in(&self) -> Duration {
        self.expires_in
    }
}

impl fmt::Debug for PresignedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PresignedUrl")
            .field("path", &self.path)
            .field("query", &"<redacted>")
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// What a signature adds to a request.
pub(crate) struct Signed {
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    pub(crate) params: Vec<(String, String)>,
}

impl SigV4 {
    /// A builder for `region` (`us-east-1`...) and `service`, the signing
    /// name (`s3`, `dynamodb`, `execute-api`...).
    pub fn builder(region: impl Into<String>, service: impl Into<String>) -> SigV4Builder {
        SigV4Builder {
            region: region.into(),
            service: service.into(),
            base_url: None,
            allow_http: false,
            credentials: None,
            payload: PayloadSigning::Signed,
            content_sha256_header: None,
            s3_uri_encoding: None,
            clock: SigningClock::system(),
        }
    }

    /// The region signed for.
    pub fn region(&self) -> &str {
        &self.inner.region
    }

    /// The service signed for.
    pub fn service(&self) -> &str {
        &self.inner.service
    }

    /// The clock offset learnt from the server (server time minus local
    /// time), zero until a clock-skew error taught one.
    pub fn clock_skew(&self) -> Duration {
        Duration::from_millis(self.inner.skew_ms.load(Ordering::Relaxed).unsigned_abs())
    }

    /// A URL for `method` on `endpoint` (relative to the base URL, like a
    /// [`Request`]'s) with `query`, signed in its query string and valid for
    /// `expires_in` (at most 7 days). The payload is `UNSIGNED-PAYLOAD` for S3 (or
    /// when configured unsigned), else the hash of an empty body.
    ///
    /// ```
    /// use std::time::Duration;
    /// use conn_auth::{AwsCredentials, SigV4};
    /// use secrecy::ExposeSecret;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), conn_core::Error> {
    /// let sigv4 = SigV4::builder("us-east-1", "s3")
    ///     .base_url("https://examplebucket.s3.amazonaws.com")
    ///     .credentials(AwsCredentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"))
    ///     .build()?;
    /// let link = sigv4.presign(http::Method::GET, "/reports/2024.csv", &[], Duration::from_secs(900)).await?;
    /// assert!(link.url().expose_secret().contains("X-Amz-Signature="));
    /// assert!(link.url().expose_secret().contains("X-Amz-Expires=900"));
    /// # Ok(()) }
    /// ```
    pub async fn presign(
        &self,
        method: http::Method,
        endpoint: &str,
        query: &[(String, String)],
        expires_in: Duration,
    ) -> Result<PresignedUrl, Error> {
        if expires_in.is_zero() || expires_in > MAX_PRESIGN {
            return Err(Error::config(
                "a presigned URL must expire within 7 days (and not at once)",
            ));
        }
        let inner = &*self.inner;
        let credentials = inner.credentials.current(&inner.clock).await?;
        let path = inner.base.join(endpoint)?;
        let uri = inner.base.uri(&path, query)?;
        let signed = self.sign_parts(
            &credentials,
            method.as_str(),
            &uri.to_string(),
            &[],
            // S3 presigns UNSIGNED-PAYLOAD (the body is not known yet);
            // other services sign the hash of the empty body.
            if inner.s3_uri_encoding || inner.payload == PayloadSigning::Unsigned {
                SignableBody::UnsignedPayload
            } else {
                SignableBody::empty()
            },
            Some(expires_in),
        )?;
        let mut pairs = query.to_vec();
        pairs.extend(signed.params);
        let url = inner.base.uri(&path, &pairs)?;
        Ok(PresignedUrl {
            url: SecretString::from(url.to_string()),
            path: conn_core::endpoint_path(&path).to_owned(),
            expires_in,
        })
    }

    /// Signs an already assembled wire request again (after a clock-skew
    /// correction): its old signature headers are replaced.
    pub(crate) async fn resign_wire(&self, request: &mut http::Request<bytes::Bytes>) -> Result<(), Error> {
        for name in SIGNING_HEADERS {
            request.headers_mut().remove(name);
        }
        let credentials = self.inner.credentials.current(&self.inner.clock).await?;
        let headers = string_headers(request.headers());
        let uri = request.uri().to_string();
        let signed = self.sign_parts(
            &credentials,
            request.method().as_str(),
            &uri,
            &borrow(&headers),
            self.body(request.body()),
            None,
        )?;
        for (name, value) in signed.headers {
            request.headers_mut().insert(name, value);
        }
        Ok(())
    }

    /// Records the server's clock offset (server minus local, ms).
    pub(crate) fn set_skew(&self, offset_ms: i64) {
        self.inner.skew_ms.store(offset_ms, Ordering::Relaxed);
    }

    /// The signer's idea of now, corrected by what a server said.
    pub(crate) fn local_now(&self) -> SystemTime {
        self.inner.clock.now()
    }

    fn body<'a>(&self, body: &'a [u8]) -> SignableBody<'a> {
        match self.inner.payload {
            PayloadSigning::Signed => SignableBody::Bytes(body),
            PayloadSigning::Unsigned => SignableBody::UnsignedPayload,
        }
    }

    /// The one place a signature is computed.
    fn sign_parts(
        &self,
        credentials: &AwsCredentials,
        method: &str,
        uri: &str,
        headers: &[(&str, &str)],
        body: SignableBody<'_>,
        presign_for: Option<Duration>,
    ) -> Result<Signed, Error> {
        let inner = &*self.inner;
        let mut settings = SigningSettings::default();
        if inner.content_sha256_header {
            settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        }
        if inner.s3_uri_encoding {
            settings.percent_encoding_mode = PercentEncodingMode::Single;
            settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        }
        if let Some(expires_in) = presign_for {
            settings.signature_location = SignatureLocation::QueryParams;
            settings.expires_in = Some(expires_in);
            settings.payload_checksum_kind = PayloadChecksumKind::NoHeader;
        }
        let identity = credentials.to_signing().into();
        let time = inner.clock.now_shifted(inner.skew_ms.load(Ordering::Relaxed));
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(&inner.region)
            .name(&inner.service)
            .time(time)
            .settings(settings)
            .build()
            .map_err(|_| Error::config("the SigV4 signing parameters are incomplete"))?
            .into();
        let request = SignableRequest::new(method, uri, headers.iter().copied(), body)
            .map_err(|err| self.signing_error(&err, credentials))?;
        // aws-sigv4 traces the canonical request, session token included:
        // its events are silenced for the signing (it is synchronous).
        let output = tracing::subscriber::with_default(tracing::subscriber::NoSubscriber::default(), || {
            sign(request, &params)
        });
        let (instructions, _signature) = output
            .map_err(|err| self.signing_error(&err, credentials))?
            .into_parts();
        let (raw_headers, raw_params) = instructions.into_parts();
        let mut headers = Vec::with_capacity(raw_headers.len());
        for header in raw_headers {
            let name = HeaderName::from_bytes(header.name().as_bytes())
                .map_err(|_| Error::config("the SigV4 signer produced an invalid header name"))?;
            let mut value = HeaderValue::from_str(header.value())
                .map_err(|_| Error::config("the SigV4 signer produced an invalid header value"))?;
            value.set_sensitive(true);
            headers.push((name, value));
        }
        let params = raw_params
            .into_iter()
            .map(|(key, value)| (key.to_owned(), value.into_owned()))
            .collect();
        Ok(Signed { headers, params })
    }

    fn signing_error(&self, err: &dyn std::error::Error, credentials: &AwsCredentials) -> Error {
        let message = scrub_with(&err.to_string(), &credentials.secrets());
        Error::config(format!("the request cannot be signed with SigV4: {message}"))
    }
}

impl AuthStrategy for SigV4 {
    fn authorize<'a>(&'a self, request: &'a mut Request, _: &'a Context) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let inner = &*self.inner;
            let credentials = inner.credentials.current(&inner.clock).await?;
            for name in SIGNING_HEADERS {
                request.headers_mut().remove(name);
            }
            // The URL exactly as the pipeline will build it, so the
            // canonical path and query are the ones the server sees.
            let path = inner.base.join(request.endpoint())?;
            let uri = inner.base.uri(&path, request.query_pairs())?;
            let headers = string_headers(request.headers());
            let signed = self.sign_parts(
                &credentials,
                request.method().as_str(),
                &uri.to_string(),
                &borrow(&headers),
                self.body(request.body_bytes()),
                None,
            )?;
            for (name, value) in signed.headers {
                request.set_credential_header(name, value);
            }
            Ok(())
        })
    }

    fn refresh<'a>(&'a self, _: &'a Context) -> BoxFuture<'a, Result<bool, Error>> {
        // Static keys refused are refused: only fetched credentials renew.
        Box::pin(async move { Ok(self.inner.credentials.discard().await) })
    }

    /// Clock-skew correction: the connector's transport learns the server's
    /// clock from a `RequestTimeTooSkewed` answer and re-signs once.
    fn wrap_transport(&self, transport: Arc<dyn Transport>) -> Arc<dyn Transport> {
        self.correcting_skew(transport)
    }
}

impl SigV4Builder {
    /// The base URL of the API signed for: the connector's own (the
    /// strategy signs the URL the pipeline sends, host included).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// Allows a plain `http://` base URL (local emulators).
    pub fn allow_http(mut self, allow: bool) -> Self {
        self.allow_http = allow;
        self
    }

    /// Fixed credentials.
    pub fn credentials(mut self, credentials: AwsCredentials) -> Self {
        self.credentials = Some(CredentialSlot::Static(credentials));
        self
    }

    /// Credentials fetched from `source`, cached until five minutes before
    /// they expire, and fetched again after a 401.
    pub fn credential_source(mut self, source: Arc<dyn AwsCredentialSource>) -> Self {
        self.credentials = Some(CredentialSlot::refreshing(source));
        self
    }

    /// Whether the body's hash is signed (default) or `UNSIGNED-PAYLOAD`.
    pub fn payload(mut self, payload: PayloadSigning) -> Self {
        self.payload = payload;
        self
    }

    /// Whether to send the payload hash in `x-amz-content-sha256` (S3 and
    /// its clones require it). Default: on for `s3`, and whenever the
    /// payload is unsigned; off otherwise.
    pub fn content_sha256_header(mut self, send: bool) -> Self {
        self.content_sha256_header = Some(send);
        self
    }

    /// S3's URI rules: the path is encoded once and not normalized (keys
    /// may contain `//` and `.`). Default: on for the service `s3`.
    pub fn s3_uri_encoding(mut self, s3: bool) -> Self {
        self.s3_uri_encoding = Some(s3);
        self
    }

    /// The clock signatures are stamped with (tests: fixed, or following
    /// tokio's paused clock).
    pub fn clock(mut self, clock: SigningClock) -> Self {
        self.clock = clock;
        self
    }

    /// Checks the configuration.
    pub fn build(self) -> Result<SigV4, Error> {
        let valid_name = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        if !valid_name(&self.region) {
            return Err(Error::config("the SigV4 region is empty or not a region name"));
        }
        if !valid_name(&self.service) {
            return Err(Error::config("the SigV4 service is empty or not a signing name"));
        }
        let base_url = self
            .base_url
            .ok_or_else(|| Error::config("SigV4 needs the base URL of the API it signs for"))?;
        let base = BaseUrl::parse(&base_url, self.allow_http)?;
        let credentials = self
            .credentials
            .ok_or_else(|| Error::config("SigV4 needs credentials or a credential source"))?;
        let is_s3 = self.service == "s3";
        Ok(SigV4 {
            inner: Arc::new(Inner {
                content_sha256_header: self
                    .content_sha256_header
                    .unwrap_or(is_s3 || self.payload == PayloadSigning::Unsigned),
                s3_uri_encoding: self.s3_uri_encoding.unwrap_or(is_s3),
                region: self.region,
                service: self.service,
                base,
                credentials,
                payload: self.payload,
                clock: self.clock,
                skew_ms: AtomicI64::new(0),
            }),
        })
    }
}

impl fmt::Debug for SigV4 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        f.debug_struct("SigV4")
            .field("region", &inner.region)
            .field("service", &inner.service)
            .field(
                "base",
                &format_args!("{}://{}", inner.base.scheme(), inner.base.authority()),
            )
            .field("credentials", &inner.credentials)
            .field("payload", &inner.payload)
            .field("clock", &inner.clock)
            .finish()
    }
}

impl fmt::Debug for SigV4Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigV4Builder")
            .field("region", &self.region)
            .field("service", &self.service)
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

/// Header values the signer can read (`&str`); others are sent unsigned.
fn string_headers(headers: &http::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter_map(|(name, value)| Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned())))
        .collect()
}

fn borrow(headers: &[(String, String)]) -> Vec<(&str, &str)> {
    headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect()
}
