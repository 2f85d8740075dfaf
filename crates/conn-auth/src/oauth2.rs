//! `OAuth2Client`: one OAuth2 client at one token endpoint, and the token
//! request every grant sends through it.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use conn_core::{
    Credentials, Deadline, Error, ErrorKind, HintParser, Jitter, TimeoutKind, Transport, TransportRequest,
    TransportResponse,
};
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use http::{Method, Uri};
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::basic::basic_credentials;
use crate::form::FormValue;
use crate::static_auth::scheme_header;
use crate::store::tenant_label;
use crate::token_response::{describe_error_body, parse_token_response};
use crate::{TokenForm, TokenRequest, TokenResponse, random};

/// Largest token response accepted: real ones are a few hundred bytes.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// Longest server-requested wait (`Retry-After`) honoured between attempts.
const MAX_HINT_WAIT: Duration = Duration::from_secs(30);

/// How the client authenticates to the token endpoint (RFC 6749 §2.3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ClientAuth {
    /// `client_secret_basic`: HTTP Basic with the form-encoded client id and
    /// secret. The default, and what RFC 6749 says servers must support.
    #[default]
    Basic,
    /// `client_secret_post`: `client_id` and `client_secret` in the form body.
    Post,
    /// A public client: `client_id` in the form body, no secret.
    Public,
}

/// An OAuth2 client registered at one token endpoint: its URL (any origin,
/// configured explicitly: it need not be the API's), the client's id and
/// secret, how it authenticates, and the transport token requests go
/// through.
///
/// Token requests are `POST`s with an `application/x-www-form-urlencoded`
/// body and `Accept: application/json`. Each attempt is limited by the
/// request timeout and by the deadline of the call that needs the token;
/// connect errors, lost connections, timeouts, 408, 429 and 5xx are retried
/// with exponential backoff and jitter (a few attempts, never past the
/// deadline; see [`TokenForm::single_use`]). Errors are
/// [`AuthProvider`](ErrorKind::AuthProvider) errors that say what the
/// endpoint answered — status, OAuth `error` code, scrubbed
/// `error_description` — and never contain a secret.
///
/// Give it a transport that does not follow redirects (the hyper
/// transport's default): a token request must not be replayed to wherever a
/// `Location` points. A 3xx answer is reported as an error.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use conn_auth::{ClientAuth, OAuth2Client};
/// use secrecy::SecretString;
/// # fn transport() -> Arc<dyn conn_core::Transport> { Arc::new(conn_testkit::ScriptedTransport::default()) }
///
/// let client = OAuth2Client::builder("https://login.vendor.example/oauth2/token")
///     .client_id("inventory-sync")
///     .client_secret(SecretString::from("from-a-secrets-manager"))
///     .auth_method(ClientAuth::Basic)
///     .transport(transport())
///     .request_timeout(Duration::from_secs(5))
///     .build()?;
/// # let _ = client;
/// # Ok::<(), conn_core::Error>(())
/// ```
#[derive(Clone)]
pub struct OAuth2Client {
    inner: Arc<ClientInner>,
}

struct ClientInner {
    token_url: Uri,
    client_id: String,
    client_secret: Option<SecretString>,
    auth: ClientAuth,
    transport: Arc<dyn Transport>,
    request_timeout: Duration,
    max_attempts: u32,
    backoff_base: Duration,
    backoff_max: Duration,
}

/// Builds an [`OAuth2Client`]; see [`OAuth2Client::builder`].
pub struct OAuth2ClientBuilder {
    token_url: String,
    client_id: Option<String>,
    client_secret: Option<SecretString>,
    auth: ClientAuth,
    transport: Option<Arc<dyn Transport>>,
    allow_http: bool,
    request_timeout: Duration,
    max_attempts: u32,
    backoff_base: Duration,
    backoff_max: Duration,
}

impl OAuth2Client {
    /// Starts a client for the token endpoint at `token_url`. Defaults:
    /// `client_secret_basic`, 10 s per attempt, 3 attempts, backoff from
    /// 250 ms doubling up to 2 s with equal jitter, `https://` only.
    pub fn builder(token_url: impl Into<String>) -> OAuth2ClientBuilder {
        OAuth2ClientBuilder {
            token_url: token_url.into(),
            client_id: None,
            client_secret: None,
            auth: ClientAuth::Basic,
            transport: None,
            allow_http: false,
            request_timeout: Duration::from_secs(10),
            max_attempts: 3,
            backoff_base: Duration::from_millis(250),
            backoff_max: Duration::from_secs(2),
        }
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        &self.inner.client_id
    }

    /// The token endpoint's URL without its query (the audience of client
    /// assertions).
    pub fn token_url(&self) -> String {
        display_url(&self.inner.token_url)
    }

    /// Sends `form` to the token endpoint for `request.tenant()`, retrying
    /// transient failures, and parses the answer.
    ///
    /// # Errors
    ///
    /// [`AuthProvider`](ErrorKind::AuthProvider) when the endpoint refused
    /// (4xx, with the OAuth error code), kept failing, or answered something
    /// that is not a token response;
    /// [`Timeout(Deadline)`](ErrorKind::Timeout) when the request's deadline
    /// passed first.
    pub async fn request_token(
        &self,
        form: &TokenForm,
        request: &TokenRequest,
    ) -> Result<TokenResponse, Error> {
        let inner = &*self.inner;
        let tenant = tenant_label(request.tenant());
        let deadline = Deadline::from(request.deadline_at());
        let mut attempt = 1;
        loop {
            let limit = deadline
                .attempt_limit(Some(inner.request_timeout))
                .map_err(|_| out_of_time(attempt - 1))?;
            let limit_duration = limit.duration().unwrap_or(inner.request_timeout);
            let wire = self.wire_request(form)?;
            tracing::debug!(
                target: "conn_auth::token_endpoint",
                tenant,
                grant_type = form.grant_type(),
                attempt,
                correlation_id = request.correlation_id().unwrap_or("-"),
                "token request"
            );
            let failure = match tokio::time::timeout(limit_duration, inner.transport.send(wire)).await {
                Err(_) if limit.kind() == TimeoutKind::Deadline => return Err(out_of_time(attempt)),
                Err(_) => Failure {
                    // An endpoint too slow to answer is an outage, not a wrong secret.
                    error: Error::new(
                        ErrorKind::AuthProvider,
                        format!(
                            "the token endpoint did not answer within {} ms",
                            limit_duration.as_millis()
                        ),
                    )
                    .transient(true),
                    retry: !form.single_use,
                    wait: None,
                },
                Ok(Err(err)) => Failure {
                    retry: err.is_connect()
                        || (!form.single_use && (err.is_connection_lost() || err.is_timeout())),
                    error: Error::new(
                        ErrorKind::AuthProvider,
                        format!("the token endpoint could not be reached: {err}"),
                    )
                    .transient(err.is_transient())
                    .with_source(err),
                    wait: None,
                },
                Ok(Ok(response)) => match self.read_response(&response, form) {
                    Ok(token) => {
                        tracing::debug!(
                            target: "conn_auth::token_endpoint",
                            tenant,
                            grant_type = form.grant_type(),
                            attempt,
                            status = response.status().as_u16(),
                            expires_in_s = token.expires_in().map(|d| d.as_secs()),
                            new_refresh_token = token.refresh_token().is_some(),
                            "token endpoint issued a token"
                        );
                        return Ok(token);
                    }
                    Err(failure) => failure,
                },
            };
            let attempts_note = |err: Error| {
                if attempt > 1 {
                    err.with_note(&format!("after {attempt} attempts"))
                } else {
                    err
                }
            };
            if !failure.retry || attempt >= inner.max_attempts {
                tracing::warn!(
                    target: "conn_auth::token_endpoint",
                    tenant,
                    grant_type = form.grant_type(),
                    attempt,
                    error = %failure.error,
                    "token request failed"
                );
                return Err(attempts_note(failure.error));
            }
            let delay = self
                .backoff(attempt)
                .max(failure.wait.unwrap_or_default().min(MAX_HINT_WAIT));
            if !deadline.allows_wait(delay) {
                return Err(attempts_note(failure.error)
                    .with_note("no time left before the deadline for another attempt"));
            }
            tracing::debug!(
                target: "conn_auth::token_endpoint",
                tenant,
                attempt,
                delay_ms = delay.as_millis() as u64,
                error = %failure.error,
                "token request failed, retrying"
            );
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    /// Exponential backoff with equal jitter: half the delay is fixed, half random.
    fn backoff(&self, attempt: u32) -> Duration {
        let inner = &*self.inner;
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        let delay = inner.backoff_base.saturating_mul(factor).min(inner.backoff_max);
        Jitter::Equal.apply(delay, random::unit())
    }

    fn wire_request(&self, form: &TokenForm) -> Result<TransportRequest, Error> {
        let inner = &*self.inner;
        let mut body = form_urlencoded::Serializer::new(String::with_capacity(256));
        body.append_pair("grant_type", &form.grant_type);
        for (key, value) in &form.params {
            match value {
                FormValue::Plain(v) => body.append_pair(key, v),
                FormValue::Secret(v) => body.append_pair(key, v.expose_secret()),
            };
        }
        let secret = inner.client_secret.as_ref().map(|s| s.expose_secret());
        match (inner.auth, secret) {
            (ClientAuth::Post, Some(secret)) => {
                body.append_pair("client_id", &inner.client_id);
                body.append_pair("client_secret", secret);
            }
            (ClientAuth::Public, _) => {
                body.append_pair("client_id", &inner.client_id);
            }
            _ => {}
        }
        let body = body.finish();
        let mut request = http::Request::new(Bytes::from(body));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = inner.token_url.clone();
        let headers = request.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            http::HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        headers.insert(ACCEPT, http::HeaderValue::from_static("application/json"));
        if let (ClientAuth::Basic, Some(secret)) = (inner.auth, secret) {
            // RFC 6749 §2.3.1: id and secret are form-encoded before Basic.
            let id = Zeroizing::new(
                form_urlencoded::byte_serialize(inner.client_id.as_bytes()).collect::<String>(),
            );
            let secret =
                Zeroizing::new(form_urlencoded::byte_serialize(secret.as_bytes()).collect::<String>());
            let value = scheme_header(Some("Basic"), &basic_credentials(&id, &secret))
                .ok_or_else(|| Error::config("the client credentials are not a valid header value"))?;
            headers.insert(AUTHORIZATION, value);
        }
        let mut credentials = Credentials::default();
        credentials.mark_header(AUTHORIZATION);
        Ok(TransportRequest { request, credentials })
    }

    /// The token in a response, or why there is none and whether to retry.
    fn read_response(
        &self,
        response: &TransportResponse,
        form: &TokenForm,
    ) -> Result<TokenResponse, Failure> {
        let status = response.status();
        let body = response.body();
        let fail = |message: String, retry: bool| Failure {
            error: Error::new(ErrorKind::AuthProvider, message).with_status(status),
            retry,
            wait: None,
        };
        if status.is_success() {
            if body.len() > MAX_RESPONSE_BYTES {
                return Err(fail(
                    format!(
                        "the token endpoint answered {status} with {} bytes, more than the {MAX_RESPONSE_BYTES} accepted",
                        body.len()
                    ),
                    false,
                ));
            }
            return parse_token_response(body)
                .map_err(|why| fail(format!("the token endpoint answered {status} but {why}"), false));
        }
        if status.is_redirection() || status.is_informational() {
            return Err(fail(
                format!(
                    "the token endpoint answered {status}: redirects are not followed for token requests (check the token URL)"
                ),
                false,
            ));
        }
        let mut known: Vec<&str> = form.secrets().collect();
        if let Some(secret) = &self.inner.client_secret {
            known.push(secret.expose_secret());
        }
        let (detail, code) = describe_error_body(response, &known);
        let mut message = format!("the token endpoint answered {status}{detail}");
        if code.as_deref() == Some("invalid_grant") && form.grant_type == "refresh_token" {
            message.push_str(
                "; the refresh token was revoked, expired or already used: authorize again and seed the new refresh token",
            );
        }
        // The endpoint is down or overloaded: an outage, worth trying again
        // later. Any other refusal (invalid_client, invalid_grant) is permanent.
        let retry = matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504);
        let wait = HintParser::default()
            .parse(response.headers(), SystemTime::now())
            .wait();
        Err(Failure {
            error: Error::new(ErrorKind::AuthProvider, message)
                .with_status(status)
                .transient(retry),
            retry,
            wait,
        })
    }
}

/// A failed attempt: the error, whether another attempt may succeed, and
/// how long the server asked to wait.
struct Failure {
    error: Error,
    retry: bool,
    wait: Option<Duration>,
}

fn out_of_time(attempts: u32) -> Error {
    Error::new(
        ErrorKind::Timeout(TimeoutKind::Deadline),
        format!("the deadline passed before the token endpoint answered ({attempts} attempt(s) sent)"),
    )
}

impl OAuth2ClientBuilder {
    /// The client id (required).
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.client_id = Some(id.into());
        self
    }

    /// The client secret (required unless the method is [`ClientAuth::Public`]).
    pub fn client_secret(mut self, secret: impl Into<SecretString>) -> Self {
        self.client_secret = Some(secret.into());
        self
    }

    /// How the client authenticates (default [`ClientAuth::Basic`]).
    pub fn auth_method(mut self, auth: ClientAuth) -> Self {
        self.auth = auth;
        self
    }

    /// The transport token requests go through (required); it should not
    /// follow redirects.
    pub fn transport(mut self, transport: Arc<dyn Transport>) -> Self {
        self.transport = Some(transport);
        self
    }

    /// Allows a plain `http://` token URL (local servers, tests). Off by default.
    pub fn allow_http(mut self, allow: bool) -> Self {
        self.allow_http = allow;
        self
    }

    /// Time limit of one attempt, body included (default 10 s). The deadline
    /// of the call that needs the token is always a limit too.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Attempts per token request, the first included (default 3).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// Backoff between attempts: `base`, doubling, at most `max`, with equal
    /// jitter (default 250 ms up to 2 s). A longer `Retry-After` (up to 30 s)
    /// wins.
    pub fn backoff(mut self, base: Duration, max: Duration) -> Self {
        self.backoff_base = base;
        self.backoff_max = max;
        self
    }

    /// Validates the configuration and builds the client.
    ///
    /// # Errors
    ///
    /// A configuration error when the token URL is not an absolute
    /// `https://` URL (or `http://` with [`allow_http`](Self::allow_http)),
    /// contains user info, or when the client id, the secret (for Basic and
    /// Post) or the transport is missing, or a limit is zero.
    pub fn build(self) -> Result<OAuth2Client, Error> {
        let token_url: Uri = self
            .token_url
            .parse()
            .map_err(|_| Error::config("the token endpoint URL is not a valid URL"))?;
        match token_url.scheme_str() {
            Some("https") => {}
            Some("http") if self.allow_http => {}
            Some("http") => {
                return Err(Error::config(
                    "the token endpoint URL must be https:// (allow_http(true) for local endpoints)",
                ));
            }
            _ => {
                return Err(Error::config(
                    "the token endpoint URL must be an absolute https:// URL",
                ));
            }
        }
        match token_url.authority() {
            Some(authority) if authority.as_str().contains('@') => {
                return Err(Error::config(
                    "the token endpoint URL must not contain credentials",
                ));
            }
            Some(_) => {}
            None => return Err(Error::config("the token endpoint URL has no host")),
        }
        let client_id = self
            .client_id
            .filter(|id| !id.is_empty())
            .ok_or_else(|| Error::config("the OAuth2 client has no client id"))?;
        if self.auth != ClientAuth::Public && self.client_secret.is_none() {
            return Err(Error::config(
                "the OAuth2 client has no client secret (or use ClientAuth::Public)",
            ));
        }
        let transport = self
            .transport
            .ok_or_else(|| Error::config("the OAuth2 client has no transport"))?;
        if self.max_attempts == 0 || self.request_timeout.is_zero() {
            return Err(Error::config(
                "token request attempts and timeout must be greater than zero",
            ));
        }
        Ok(OAuth2Client {
            inner: Arc::new(ClientInner {
                token_url,
                client_id,
                client_secret: self.client_secret,
                auth: self.auth,
                transport,
                request_timeout: self.request_timeout,
                max_attempts: self.max_attempts,
                backoff_base: self.backoff_base,
                backoff_max: self.backoff_max.max(self.backoff_base),
            }),
        })
    }
}

/// The token URL without its query, which could hold a secret.
fn display_url(uri: &Uri) -> String {
    format!(
        "{}://{}{}",
        uri.scheme_str().unwrap_or("?"),
        uri.authority().map_or("?", |a| a.as_str()),
        uri.path()
    )
}

impl fmt::Debug for OAuth2Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        f.debug_struct("OAuth2Client")
            .field("token_url", &display_url(&inner.token_url))
            .field("client_id", &inner.client_id)
            .field(
                "client_secret",
                &inner.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("auth", &inner.auth)
            .field("request_timeout", &inner.request_timeout)
            .field("max_attempts", &inner.max_attempts)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for OAuth2ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuth2ClientBuilder")
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}
