//! The injected answers themselves: shaped like what a real upstream or
//! network does, and marked so an operator watching a game day can tell an
//! injected failure from a real one.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use conn_core::{Error, ErrorKind, TimeoutKind, TransportResponse};
use tokio::time::Instant;

use crate::Fault;

/// The response header every injected or corrupted answer carries, naming
/// the fault (`server-error`, `rate-limited`, `malformed`). Errors without a
/// response (resets, timeouts) say "chaos" in their message instead.
pub const CHAOS_HEADER: &str = "x-conn-chaos";

/// The answer an injected status fault gives.
pub(crate) fn status_response(fault: Fault, retry_after: Duration) -> Result<TransportResponse, Error> {
    let (status, body) = match fault {
        Fault::RateLimited => (429, r#"{"error":"chaos: injected rate limit"}"#),
        _ => (503, r#"{"error":"chaos: injected server error"}"#),
    };
    let mut builder = http::Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(CHAOS_HEADER, fault.label());
    if fault == Fault::RateLimited {
        // Retry-After counts whole seconds; round up so a client never comes back early.
        let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
        builder = builder.header(http::header::RETRY_AFTER, seconds);
    }
    let response = builder
        .body(Bytes::from_static(body.as_bytes()))
        .map_err(|e| Error::config("chaos: could not build an injected response").with_source(e))?;
    Ok(TransportResponse::new(response).with_first_byte(Instant::now()))
}

/// A lost connection, as a transport reports one.
pub(crate) fn reset() -> Error {
    Error::new(ErrorKind::ConnectionLost, "chaos: injected connection reset")
}

/// A hang that ended by itself (the connector's attempt timeout usually ends it first).
pub(crate) fn timeout() -> Error {
    Error::new(
        ErrorKind::Timeout(TimeoutKind::Attempt),
        "chaos: injected timeout",
    )
}

/// The real answer with its body cut at half and garbage appended: invalid
/// JSON and invalid XML alike, the way a proxy error page or a truncated
/// stream looks to a parser.
pub(crate) fn corrupt(mut response: TransportResponse) -> TransportResponse {
    let body = response.response.body();
    let mut broken = BytesMut::with_capacity(body.len() / 2 + 8);
    broken.extend_from_slice(&body[..body.len() / 2]);
    broken.extend_from_slice(b"\x00<{\"\xff");
    *response.response.body_mut() = broken.freeze();
    response
        .response
        .headers_mut()
        .remove(http::header::CONTENT_LENGTH);
    response
        .response
        .headers_mut()
        .insert(CHAOS_HEADER, http::HeaderValue::from_static("malformed"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up() {
        let response = status_response(Fault::RateLimited, Duration::from_millis(1500)).unwrap();
        assert_eq!(response.status(), 429);
        assert_eq!(response.headers()["retry-after"], "2");
        assert_eq!(response.headers()[CHAOS_HEADER], "rate-limited");
    }

    #[test]
    fn corrupted_bodies_do_not_parse() {
        let body = Bytes::from_static(br#"{"orders":[1,2,3]}"#);
        let response = http::Response::builder().status(200).body(body).unwrap();
        let broken = corrupt(TransportResponse::new(response));
        assert_eq!(broken.status(), 200);
        assert!(serde_json_like_invalid(broken.body()));
        assert_eq!(broken.headers()[CHAOS_HEADER], "malformed");
    }

    /// A body with a NUL byte and a lone 0xFF is neither UTF-8 nor JSON.
    fn serde_json_like_invalid(body: &Bytes) -> bool {
        std::str::from_utf8(body).is_err() && body.contains(&0)
    }
}
