//! Clock-skew correction for SigV4: AWS refuses a signature more than
//! 5 minutes away from its own clock (`RequestTimeTooSkewed`,
//! `RequestExpired`, "Signature expired"), and a host whose clock drifted
//! would fail every call until someone fixed NTP.
//!
//! An auth strategy never sees responses, so the correction sits on the
//! transport: it notices the refusal, learns the offset from the server's
//! `Date`, re-signs the same wire request with the corrected time and sends
//! it once more. Later signatures use the offset too. One re-send per
//! attempt at most: a server that keeps refusing gets its answer back.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use conn_core::{BoxFuture, Error, Transport, TransportRequest, TransportResponse, TransportStream};
use http::StatusCode;

use crate::SigV4;
use crate::clock::millis_between;

/// Error codes (in the body) that mean "your clock is off".
const SKEW_CODES: [&str; 4] = [
    "RequestTimeTooSkewed",
    "RequestExpired",
    "Signature expired",
    "Signature not yet current",
];
/// Longest body searched for a skew code (AWS error bodies are small).
const MAX_SCANNED: usize = 16 * 1024;

/// A transport that corrects SigV4 clock skew once and re-sends; made by
/// [`SigV4::correcting_skew`].
pub struct SkewCorrecting {
    signer: SigV4,
    inner: Arc<dyn Transport>,
}

impl SigV4 {
    /// Wraps the connector's transport so a clock-skew refusal is corrected
    /// and the attempt re-sent once, re-signed with the server's time. Give
    /// the connector the wrapped transport.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use conn_auth::{AwsCredentials, SigV4};
    /// use conn_core::Connector;
    /// # let transport: Arc<dyn conn_core::Transport> = Arc::new(conn_testkit::ScriptedTransport::default());
    ///
    /// let base = "https://sqs.eu-west-1.amazonaws.com";
    /// let sigv4 = SigV4::builder("eu-west-1", "sqs")
    ///     .base_url(base)
    ///     .credentials(AwsCredentials::new("AKIDEXAMPLE", "secret"))
    ///     .build()?;
    /// let connector = Connector::builder("sqs")
    ///     .base_url(base)
    ///     .transport(sigv4.correcting_skew(transport))
    ///     .auth(Arc::new(sigv4))
    ///     .build()?;
    /// # let _ = connector;
    /// # Ok::<(), conn_core::Error>(())
    /// ```
    pub fn correcting_skew(&self, transport: Arc<dyn Transport>) -> Arc<dyn Transport> {
        Arc::new(SkewCorrecting {
            signer: self.clone(),
            inner: transport,
        })
    }
}

impl Transport for SkewCorrecting {
    fn send(&self, request: TransportRequest) -> BoxFuture<'static, Result<TransportResponse, Error>> {
        let signer = self.signer.clone();
        let inner = self.inner.clone();
        Box::pin(async move {
            let (parts, body) = request.request.into_parts();
            let credentials = request.credentials;
            let mut again = http::Request::from_parts(parts, body);
            let first = TransportRequest {
                request: clone_request(&again),
                credentials: credentials.clone(),
            };
            let response = inner.send(first).await?;
            let Some(server_time) = skew_refusal(&response) else {
                return Ok(response);
            };
            let offset = millis_between(signer.local_now(), server_time);
            signer.set_skew(offset);
            tracing::warn!(
                target: "conn_auth::sigv4",
                offset_ms = offset,
                status = response.status().as_u16(),
                "the server refused the signature's time; correcting the clock offset and re-sending once"
            );
            signer.resign_wire(&mut again).await?;
            inner
                .send(TransportRequest {
                    request: again,
                    credentials,
                })
                .await
        })
    }

    /// Streamed calls go through unchanged: telling a skew refusal apart
    /// would mean reading the body the caller wants to stream.
    fn send_streaming(
        &self,
        request: TransportRequest,
    ) -> BoxFuture<'static, Result<TransportStream, Error>> {
        self.inner.send_streaming(request)
    }
}

impl fmt::Debug for SkewCorrecting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SkewCorrecting")
            .field("signer", &self.signer)
            .finish()
    }
}

fn clone_request(request: &http::Request<bytes::Bytes>) -> http::Request<bytes::Bytes> {
    let mut copy = http::Request::new(request.body().clone());
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.version_mut() = request.version();
    *copy.headers_mut() = request.headers().clone();
    // Extensions (a body limit) are not Clone in general; copy the known one.
    if let Some(limit) = request.extensions().get::<conn_core::BodyLimit>() {
        copy.extensions_mut().insert(*limit);
    }
    copy
}

/// The server's time, when `response` refuses the signature's time.
fn skew_refusal(response: &TransportResponse) -> Option<SystemTime> {
    if !matches!(
        response.status(),
        StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
    ) {
        return None;
    }
    let body = response.body();
    let scanned = String::from_utf8_lossy(&body[..body.len().min(MAX_SCANNED)]);
    if !SKEW_CODES.iter().any(|code| scanned.contains(code)) {
        return None;
    }
    let date = response.headers().get(http::header::DATE)?.to_str().ok()?;
    httpdate::parse_http_date(date).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, body: &str, date: Option<&str>) -> TransportResponse {
        let mut builder = http::Response::builder().status(status);
        if let Some(date) = date {
            builder = builder.header("date", date);
        }
        TransportResponse::new(builder.body(bytes::Bytes::from(body.to_owned())).unwrap())
    }

    #[test]
    fn only_skew_refusals_with_a_date_are_recognised() {
        let date = "Sun, 30 Aug 2015 12:36:00 GMT";
        let skewed = "<Error><Code>RequestTimeTooSkewed</Code></Error>";
        assert!(skew_refusal(&response(403, skewed, Some(date))).is_some());
        assert!(skew_refusal(&response(403, skewed, None)).is_none());
        assert!(skew_refusal(&response(403, "<Code>AccessDenied</Code>", Some(date))).is_none());
        assert!(skew_refusal(&response(500, skewed, Some(date))).is_none());
        assert!(skew_refusal(&response(403, skewed, Some("yesterday"))).is_none());
        assert!(
            skew_refusal(&response(
                400,
                "{\"message\":\"Signature expired: 20150830T123600Z\"}",
                Some(date)
            ))
            .is_some()
        );
    }
}
