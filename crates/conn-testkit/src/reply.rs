//! [`Reply`]: one scripted response of the test server, faults included.

use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderName, HeaderValue, LOCATION};
use http::{HeaderMap, Response, StatusCode};

use crate::body::{ScriptedBody, len_u64};

/// The chunk a [`Reply::huge_body`] repeats: static, so even a 1 GiB body
/// costs no allocation at all.
static HUGE_CHUNK: [u8; 64 * 1024] = [b'a'; 64 * 1024];

/// One scripted response of a [`TestServer`](crate::TestServer) route: a
/// status, headers and body, plus the faults to inject while sending it
/// (delay, stalled or truncated body, connection reset).
///
/// Build one with a constructor ([`status`](Self::status),
/// [`json`](Self::json), [`text`](Self::text), [`redirect`](Self::redirect),
/// [`huge_body`](Self::huge_body), [`reset`](Self::reset)) and refine it with
/// the builder methods.
///
/// Invalid input never panics: a status code outside 100..=999 or a header
/// name or value that is not valid HTTP makes the server answer that request
/// with `500 Internal Server Error`, a `x-testkit-error` header and a
/// plain-text body naming the problem, so the mistake shows up in the test.
///
/// ```
/// use std::time::Duration;
/// use conn_testkit::Reply;
///
/// let slow_unavailable = Reply::json(503, r#"{"error":"busy"}"#)
///     .header("retry-after", "1")
///     .delay(Duration::from_millis(20));
/// let ok = Reply::json(200, r#"{"id":1}"#);
/// # let _ = (slow_unavailable, ok);
/// ```
#[derive(Clone, Debug)]
#[must_use = "a reply does nothing until given to `TestServer::route`"]
pub struct Reply {
    reset: bool,
    status: StatusCode,
    headers: HeaderMap,
    /// Headers set by a constructor (content type, location) that a later
    /// [`Reply::header`] of the same name replaces rather than adds to.
    defaults: Vec<HeaderName>,
    body: Source,
    delay: Option<Duration>,
    stall: Option<(usize, Duration)>,
    truncate: Option<usize>,
    chunked: bool,
    problems: Vec<String>,
}

/// Where the body bytes come from.
#[derive(Clone, Debug)]
enum Source {
    Bytes(Bytes),
    /// `len` bytes of `b'a'`, generated while sending.
    Huge(u64),
}

impl Source {
    fn len(&self) -> u64 {
        match self {
            Source::Bytes(bytes) => len_u64(bytes.len()),
            Source::Huge(len) => *len,
        }
    }

    /// Steps sending the bytes `start..end` of this source.
    fn slice(&self, body: ScriptedBody, start: u64, end: u64) -> ScriptedBody {
        if start >= end {
            return body;
        }
        match self {
            Source::Bytes(bytes) => {
                // start < end <= bytes.len(), so both fit in usize.
                let start = usize::try_from(start).unwrap_or(usize::MAX);
                let end = usize::try_from(end).unwrap_or(usize::MAX);
                match bytes.get(start..end) {
                    Some(_) => body.data(bytes.slice(start..end)),
                    None => body,
                }
            }
            Source::Huge(_) => body.repeat(Bytes::from_static(&HUGE_CHUNK), end - start),
        }
    }
}

impl Reply {
    /// A response with status `code` and an empty body.
    pub fn status(code: u16) -> Reply {
        let mut problems = Vec::new();
        let status = StatusCode::from_u16(code).unwrap_or_else(|_| {
            problems.push(format!("invalid status code {code}"));
            StatusCode::INTERNAL_SERVER_ERROR
        });
        Reply {
            reset: false,
            status,
            headers: HeaderMap::new(),
            defaults: Vec::new(),
            body: Source::Bytes(Bytes::new()),
            delay: None,
            stall: None,
            truncate: None,
            chunked: false,
            problems,
        }
    }

    /// A response with status `code`, `Content-Type: application/json` and
    /// `body` (sent as given, not validated as JSON, so malformed JSON can be
    /// scripted too).
    pub fn json(code: u16, body: impl Into<Bytes>) -> Reply {
        Reply::text(code, "application/json", body)
    }

    /// A response with status `code`, the given `Content-Type` and `body`.
    pub fn text(code: u16, content_type: &str, body: impl Into<Bytes>) -> Reply {
        Reply::status(code)
            .default_header(CONTENT_TYPE, content_type)
            .body(body)
    }

    /// A redirect: status `code` (301, 302, 303, 307, 308, ...) with a
    /// `Location: location` header and an empty body.
    pub fn redirect(code: u16, location: &str) -> Reply {
        Reply::status(code).default_header(LOCATION, location)
    }

    /// No response at all: the server aborts the exchange once the request
    /// has been read (after [`delay`](Self::delay), if set).
    ///
    /// On HTTP/1 the TCP connection is closed with a RST (zero linger), so
    /// the client sees "connection reset"; on HTTP/2 only this request's
    /// stream is reset and the connection stays up for other streams.
    pub fn reset() -> Reply {
        Reply {
            reset: true,
            ..Reply::status(500)
        }
    }

    /// A response with status `code` and a body of `total_len` bytes of
    /// `b'a'`, with `Content-Length` set, generated while it is sent from a
    /// single static 64 KiB chunk: a 1 GiB body allocates nothing, so tests
    /// of response size limits stay cheap.
    pub fn huge_body(code: u16, total_len: u64) -> Reply {
        Reply {
            body: Source::Huge(total_len),
            ..Reply::status(code)
        }
    }

    /// Adds the header `name: value`.
    ///
    /// Calling it again with the same name adds another value (as for
    /// `Set-Cookie`), except that it replaces the `Content-Type` or
    /// `Location` a constructor set. Setting `Content-Length` here sends that
    /// value as is, whatever the body, to script a lying server.
    pub fn header(mut self, name: &str, value: &str) -> Reply {
        let (name, value) = match (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            (Ok(name), Ok(value)) => (name, value),
            (Err(_), _) => {
                self.problems.push(format!("invalid header name {name:?}"));
                return self;
            }
            (_, Err(_)) => {
                self.problems
                    .push(format!("invalid value for header {name:?}: {value:?}"));
                return self;
            }
        };
        if let Some(i) = self.defaults.iter().position(|d| *d == name) {
            self.defaults.swap_remove(i);
            self.headers.remove(&name);
        }
        self.headers.append(name, value);
        self
    }

    /// Replaces the body with `body`.
    pub fn body(mut self, body: impl Into<Bytes>) -> Reply {
        self.body = Source::Bytes(body.into());
        self
    }

    /// Waits `d` after the request has been read before sending the response
    /// head (or before resetting, for [`Reply::reset`]): a slow server, for
    /// timeout tests.
    pub fn delay(mut self, d: std::time::Duration) -> Reply {
        self.delay = Some(d);
        self
    }

    /// Sends the first `after_bytes` bytes of the body, waits `d`, then sends
    /// the rest: a server that stalls mid-body, for read-timeout tests.
    ///
    /// With `after_bytes` at or past the end of the body, the whole body is
    /// sent and the end of the stream comes `d` later.
    pub fn stall_body(mut self, after_bytes: usize, d: std::time::Duration) -> Reply {
        self.stall = Some((after_bytes, d));
        self
    }

    /// Declares the full `Content-Length` but sends only the first
    /// `after_bytes` bytes of the body, then aborts: the client must see a
    /// body error, not a short body.
    ///
    /// On HTTP/1 the connection is closed once those bytes went out. On
    /// HTTP/2 the stream ends short of the declared length, which the
    /// client's HTTP/2 layer rejects; with [`chunked`](Self::chunked) there
    /// is no length to fall short of, so the stream is reset about 50 ms
    /// after the bytes were queued instead (resetting at once would make
    /// the server discard what it had not written yet).
    ///
    /// With `after_bytes` at or past the end of the body nothing is cut.
    pub fn truncate_body(mut self, after_bytes: usize) -> Reply {
        self.truncate = Some(after_bytes);
        self
    }

    /// Sends the body without `Content-Length`: chunked transfer encoding on
    /// HTTP/1.1, plain DATA frames on HTTP/2.
    pub fn chunked(mut self) -> Reply {
        self.chunked = true;
        self
    }

    /// Whether this reply is a [`Reply::reset`] rather than a response.
    pub fn is_reset(&self) -> bool {
        self.reset
    }

    /// How long the server waits before the response head (see
    /// [`Reply::delay`]), zero when no delay is set.
    pub fn head_delay(&self) -> Duration {
        self.delay.unwrap_or_default()
    }

    /// The response this reply sends: status, headers (`Content-Length`
    /// included unless [`chunked`](Self::chunked)) and a [`ScriptedBody`]
    /// playing the body with its stall and truncation.
    ///
    /// It covers neither [`delay`](Self::delay) nor [`reset`](Self::reset),
    /// which the server plays before any response exists; for a reset reply
    /// this is a plain empty `500`. For an invalid reply (see the type docs)
    /// it is the `500` naming the problem.
    ///
    /// ```
    /// use conn_testkit::Reply;
    ///
    /// let response = Reply::json(201, "{}").header("x-id", "7").to_response();
    /// assert_eq!(response.status(), 201);
    /// assert_eq!(response.headers()["content-type"], "application/json");
    /// assert_eq!(response.headers()["content-length"], "2");
    /// ```
    pub fn to_response(&self) -> Response<ScriptedBody> {
        if !self.problems.is_empty() {
            return invalid_reply(&self.problems);
        }
        let total = self.body.len();
        let sent = match self.truncate {
            Some(after) => total.min(len_u64(after)),
            None => total,
        };
        let mut body = ScriptedBody::new();
        match self.stall {
            Some((after, pause)) => {
                let split = sent.min(len_u64(after));
                body = self.body.slice(body, 0, split);
                if len_u64(after) <= sent {
                    body = body.sleep(pause);
                }
                body = self.body.slice(body, split, sent);
            }
            None => body = self.body.slice(body, 0, sent),
        }
        if sent < total {
            body = body.abort();
        }

        let mut headers = self.headers.clone();
        // The body's exact length and the Content-Length header must agree
        // (hyper asserts it in debug builds), so the body declares a length
        // only when the header is ours.
        let declare =
            !self.chunked && !headers.contains_key(CONTENT_LENGTH) && may_have_content_length(self.status);
        if declare {
            headers.insert(CONTENT_LENGTH, HeaderValue::from(total));
            body = body.declared_len(Some(total));
        }

        let mut response = Response::new(body);
        *response.status_mut() = self.status;
        *response.headers_mut() = headers;
        response
    }

    fn default_header(mut self, name: HeaderName, value: &str) -> Reply {
        match HeaderValue::try_from(value) {
            Ok(value) => {
                self.headers.insert(name.clone(), value);
                self.defaults.push(name);
            }
            Err(_) => self
                .problems
                .push(format!("invalid value for header {name}: {value:?}")),
        }
        self
    }
}

/// RFC 9110 forbids Content-Length on 1xx and 204, and on 304 it would
/// describe the unsent representation.
fn may_have_content_length(status: StatusCode) -> bool {
    !(status.is_informational() || status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED)
}

fn invalid_reply(problems: &[String]) -> Response<ScriptedBody> {
    let message = format!("conn-testkit: invalid reply: {}", problems.join("; "));
    let mut response = Response::new(ScriptedBody::full(message.clone()));
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    headers.insert(CONTENT_LENGTH, HeaderValue::from(message.len()));
    // The problem text quotes user input, which may itself be what made a
    // header invalid; the header is only best effort.
    if let Ok(value) = HeaderValue::try_from(problems.join("; ")) {
        headers.insert("x-testkit-error", value);
    }
    response
}

/// The answer to a request no route matches.
pub(crate) fn no_route() -> Reply {
    Reply::json(404, r#"{"error":"no route"}"#)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body::Body;
    use http_body_util::BodyExt;

    async fn body_of(reply: &Reply) -> Result<Bytes, std::io::Error> {
        Ok(reply.to_response().into_body().collect().await?.to_bytes())
    }

    #[tokio::test]
    async fn json_sets_type_length_and_body() {
        let reply = Reply::json(200, r#"{"a":1}"#);
        let response = reply.to_response();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
        assert_eq!(response.headers()[CONTENT_LENGTH], "7");
        assert_eq!(response.body().size_hint().exact(), Some(7));
        assert_eq!(&body_of(&reply).await.unwrap()[..], br#"{"a":1}"#);
    }

    #[test]
    fn header_replaces_constructor_default_but_appends_otherwise() {
        let response = Reply::json(200, "{}")
            .header("content-type", "application/problem+json")
            .header("set-cookie", "a=1")
            .header("set-cookie", "b=2")
            .to_response();
        let types: Vec<_> = response.headers().get_all(CONTENT_TYPE).iter().collect();
        assert_eq!(types, ["application/problem+json"]);
        assert_eq!(response.headers().get_all("set-cookie").iter().count(), 2);
    }

    #[test]
    fn invalid_input_becomes_a_500_explaining_it() {
        for reply in [
            Reply::status(42),
            Reply::status(200).header("bad name", "x"),
            Reply::status(200).header("x-ok", "line\nbreak"),
            Reply::redirect(302, "/\u{0}"),
        ] {
            let response = reply.to_response();
            assert_eq!(response.status(), 500, "{reply:?}");
            assert!(response.headers().contains_key("x-testkit-error"));
        }
    }

    #[test]
    fn chunked_and_204_have_no_content_length() {
        let chunked = Reply::text(200, "text/plain", "abc").chunked().to_response();
        assert!(!chunked.headers().contains_key(CONTENT_LENGTH));
        assert_eq!(chunked.body().size_hint().exact(), None);
        let no_content = Reply::status(204).to_response();
        assert!(!no_content.headers().contains_key(CONTENT_LENGTH));
    }

    #[tokio::test]
    async fn truncated_body_declares_full_length_then_fails() {
        let reply = Reply::text(200, "text/plain", "0123456789").truncate_body(4);
        let response = reply.to_response();
        assert_eq!(response.headers()[CONTENT_LENGTH], "10");
        let mut body = response.into_body();
        let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(&first[..], b"0123");
        assert!(body.frame().await.unwrap().is_err());
        // Truncating at or past the end cuts nothing.
        let whole = Reply::text(200, "text/plain", "abc").truncate_body(3);
        assert_eq!(&body_of(&whole).await.unwrap()[..], b"abc");
    }

    #[tokio::test(start_paused = true)]
    async fn stall_splits_the_body_around_a_pause() {
        let reply = Reply::text(200, "text/plain", "abcdef").stall_body(2, Duration::from_secs(5));
        let mut body = reply.to_response().into_body();
        let start = tokio::time::Instant::now();
        assert_eq!(
            &body.frame().await.unwrap().unwrap().into_data().unwrap()[..],
            b"ab"
        );
        assert_eq!(start.elapsed(), Duration::ZERO);
        assert_eq!(
            &body.frame().await.unwrap().unwrap().into_data().unwrap()[..],
            b"cdef"
        );
        assert!(start.elapsed() >= Duration::from_secs(5));
    }

    #[tokio::test]
    async fn huge_body_streams_lazily_in_64k_chunks() {
        let response = Reply::huge_body(200, 1 << 30).to_response();
        assert_eq!(response.headers()[CONTENT_LENGTH], "1073741824");
        let mut body = response.into_body();
        let chunk = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(chunk.len(), 64 * 1024);
        assert!(chunk.iter().all(|&b| b == b'a'));
        assert_eq!(body.size_hint().exact(), Some((1 << 30) - 64 * 1024));
    }

    #[tokio::test]
    async fn huge_body_can_be_stalled_and_truncated() {
        let reply = Reply::huge_body(200, 100_000)
            .stall_body(70_000, Duration::from_millis(1))
            .truncate_body(90_000);
        let mut body = reply.to_response().into_body();
        let mut got = 0;
        let err = loop {
            match body.frame().await {
                Some(Ok(frame)) => got += frame.into_data().map_or(0, |d| d.len()),
                Some(Err(e)) => break e,
                None => panic!("body ended without the scripted error"),
            }
        };
        assert_eq!(got, 90_000);
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionAborted);
    }

    #[test]
    fn reset_is_marked() {
        assert!(Reply::reset().is_reset());
        assert!(!Reply::status(200).is_reset());
        assert_eq!(
            Reply::reset().delay(Duration::from_millis(3)).head_delay(),
            Duration::from_millis(3)
        );
    }
}
