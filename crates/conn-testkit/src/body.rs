//! [`ScriptedBody`]: a response body that plays a fixed list of steps.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::Sleep;

/// A body that plays a script of steps in order: data chunks, pauses and a
/// final failure, so a test can shape exactly how a response body arrives.
///
/// The [`TestServer`](crate::TestServer) builds one from each
/// [`Reply`](crate::Reply); it is public so in-process fakes can play the
/// same scripts. Pauses use [`tokio::time::sleep`], so polling a body with a
/// pause needs a tokio runtime with time enabled (and a paused test clock
/// makes the pauses instant).
///
/// ```
/// use std::time::Duration;
/// use conn_testkit::ScriptedBody;
/// use http_body_util::BodyExt;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let body = ScriptedBody::new()
///     .data("hel")
///     .sleep(Duration::from_millis(5))
///     .data("lo")
///     .declared_len(Some(5));
/// let bytes = body.collect().await.unwrap().to_bytes();
/// assert_eq!(&bytes[..], b"hello");
/// # }
/// ```
#[must_use = "a body does nothing unless polled"]
pub struct ScriptedBody {
    steps: VecDeque<Step>,
    sleeping: Option<Pin<Box<Sleep>>>,
    /// Bytes still to come according to [`Self::declared_len`], reported as
    /// the exact size hint.
    declared_remaining: Option<u64>,
    /// How an abort step plays out; the test server adapts it to the
    /// connection so the client receives what was sent before the abort.
    on_abort: OnAbort,
    /// An abort signal has been raised: the body waits for its connection
    /// to be torn down and never yields again.
    parked: bool,
}

/// What a [`Step::Fail`] does.
#[derive(Clone, Debug)]
enum OnAbort {
    /// Yield the error: the only choice outside the test server.
    Fail,
    /// HTTP/1 (see [`ScriptedBody::abort_via`]): raise the flag and park.
    RaiseFlag(Arc<AtomicBool>),
    /// HTTP/2 with a declared length: end the stream short of it, which the
    /// client's HTTP/2 layer must reject as a content-length mismatch.
    EndStream,
    /// HTTP/2 without a declared length: only a stream reset tells the
    /// client, so fail after a grace period for the data to go out.
    FailAfter(Duration),
}

/// One step of a [`ScriptedBody`].
#[derive(Clone, Debug)]
enum Step {
    Data(Bytes),
    /// `remaining` bytes taken from `chunk` over and over: a long body that
    /// never exists in memory as a whole.
    Repeat {
        chunk: Bytes,
        remaining: u64,
    },
    Sleep(Duration),
    Fail(io::ErrorKind, &'static str),
}

impl ScriptedBody {
    /// An empty body of unknown length; add steps with the builder methods.
    pub fn new() -> ScriptedBody {
        ScriptedBody {
            steps: VecDeque::new(),
            sleeping: None,
            declared_remaining: None,
            on_abort: OnAbort::Fail,
            parked: false,
        }
    }

    /// A body of exactly `bytes`, with its length declared.
    pub fn full(bytes: impl Into<Bytes>) -> ScriptedBody {
        let bytes = bytes.into();
        let len = len_u64(bytes.len());
        ScriptedBody::new().data(bytes).declared_len(Some(len))
    }

    /// Appends one data chunk (an empty chunk is skipped).
    pub fn data(mut self, bytes: impl Into<Bytes>) -> ScriptedBody {
        self.steps.push_back(Step::Data(bytes.into()));
        self
    }

    /// Appends `total_len` bytes made of `chunk` repeated (the last repetition
    /// cut short as needed), sent one `chunk` at a time.
    ///
    /// Only `chunk` is ever held in memory, so this is how to serve a body of
    /// gigabytes. An empty `chunk` contributes nothing.
    pub fn repeat(mut self, chunk: impl Into<Bytes>, total_len: u64) -> ScriptedBody {
        self.steps.push_back(Step::Repeat {
            chunk: chunk.into(),
            remaining: total_len,
        });
        self
    }

    /// Appends a pause of `duration` before the next step (or before the end
    /// of the body, when it is the last step).
    pub fn sleep(mut self, duration: Duration) -> ScriptedBody {
        self.steps.push_back(Step::Sleep(duration));
        self
    }

    /// Appends a failure: when reached, the body yields an
    /// [`io::ErrorKind::ConnectionAborted`] error. Steps after it are never
    /// played.
    ///
    /// Served by the [`TestServer`](crate::TestServer), the client gets
    /// everything sent before the abort, then on HTTP/1 the connection is
    /// closed; on HTTP/2 the stream ends short of its declared length, or,
    /// without one, is reset shortly after.
    pub fn abort(mut self) -> ScriptedBody {
        self.steps.push_back(Step::Fail(
            io::ErrorKind::ConnectionAborted,
            "conn-testkit: scripted body abort",
        ));
        self
    }

    /// Sets the length the body reports as its exact size hint, `None` for
    /// unknown.
    ///
    /// A server derives the `Content-Length` from it, so it should match the
    /// data steps; declaring more than the steps send is how a truncated body
    /// is scripted (together with [`abort`](Self::abort)).
    pub fn declared_len(mut self, len: Option<u64>) -> ScriptedBody {
        self.declared_remaining = len;
        self
    }

    /// Makes an abort raise `signal` and leave the body pending for good,
    /// instead of yielding an error: for HTTP/1.
    ///
    /// On an error from the body hyper's HTTP/1 server drops the connection
    /// at once, discarding the response head and data it has not flushed
    /// yet, so the client would see no response at all instead of a short
    /// one. The server's socket wrapper watches `signal` and fails the
    /// connection only once everything before the abort has been flushed.
    pub(crate) fn abort_via(mut self, signal: Arc<AtomicBool>) -> ScriptedBody {
        self.on_abort = OnAbort::RaiseFlag(signal);
        self
    }

    /// Adapts an abort to HTTP/2, where a stream reset makes h2 discard the
    /// stream's frames not yet written, the response head included.
    ///
    /// With a declared length, ending the stream early is as certain a body
    /// error for the client and loses nothing. Without one only a reset
    /// signals the abort; it is delayed by a grace period so the data
    /// already queued can reach the socket first (best effort: h2 offers no
    /// way to wait for that exactly).
    pub(crate) fn abort_for_http2(mut self) -> ScriptedBody {
        self.on_abort = match self.declared_remaining {
            Some(_) => OnAbort::EndStream,
            None => OnAbort::FailAfter(HTTP2_RESET_GRACE),
        };
        self
    }

    fn emit(&mut self, bytes: Bytes) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        if let Some(remaining) = &mut self.declared_remaining {
            *remaining = remaining.saturating_sub(len_u64(bytes.len()));
        }
        Poll::Ready(Some(Ok(Frame::data(bytes))))
    }
}

impl Default for ScriptedBody {
    fn default() -> Self {
        ScriptedBody::new()
    }
}

impl fmt::Debug for ScriptedBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScriptedBody")
            .field("steps", &self.steps)
            .field("sleeping", &self.sleeping.is_some())
            .field("declared_remaining", &self.declared_remaining)
            .field("on_abort", &self.on_abort)
            .field("parked", &self.parked)
            .finish_non_exhaustive()
    }
}

impl Body for ScriptedBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        // Every field is Unpin (the Sleep is boxed), so the body is too.
        let this = self.get_mut();
        if this.parked {
            return Poll::Pending;
        }
        loop {
            if let Some(sleep) = &mut this.sleeping {
                if sleep.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                this.sleeping = None;
            }
            match this.steps.pop_front() {
                None => return Poll::Ready(None),
                Some(Step::Data(bytes)) => {
                    if !bytes.is_empty() {
                        return this.emit(bytes);
                    }
                }
                Some(Step::Repeat { chunk, remaining }) => {
                    if remaining == 0 || chunk.is_empty() {
                        continue;
                    }
                    let n = usize::try_from(remaining).map_or(chunk.len(), |r| r.min(chunk.len()));
                    let rest = remaining - len_u64(n);
                    if rest > 0 {
                        this.steps.push_front(Step::Repeat {
                            chunk: chunk.clone(),
                            remaining: rest,
                        });
                    }
                    return this.emit(chunk.slice(..n));
                }
                Some(Step::Sleep(duration)) => {
                    this.sleeping = Some(Box::pin(tokio::time::sleep(duration)));
                }
                Some(Step::Fail(kind, message)) => {
                    // Nothing may follow a failure: a body must not yield
                    // frames after an error.
                    this.steps.clear();
                    match std::mem::replace(&mut this.on_abort, OnAbort::Fail) {
                        OnAbort::Fail => {
                            return Poll::Ready(Some(Err(io::Error::new(kind, message))));
                        }
                        OnAbort::RaiseFlag(signal) => {
                            // No waker is kept: the connection is torn down
                            // once flushed, and the body dropped with it.
                            signal.store(true, Ordering::SeqCst);
                            this.parked = true;
                            return Poll::Pending;
                        }
                        OnAbort::EndStream => return Poll::Ready(None),
                        OnAbort::FailAfter(grace) => {
                            this.steps.push_back(Step::Fail(kind, message));
                            this.sleeping = Some(Box::pin(tokio::time::sleep(grace)));
                        }
                    }
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.steps.is_empty() && self.sleeping.is_none() && !self.parked
    }

    fn size_hint(&self) -> SizeHint {
        match self.declared_remaining {
            Some(len) => SizeHint::with_exact(len),
            None => SizeHint::default(),
        }
    }
}

/// How long an HTTP/2 abort without a declared length waits before the
/// stream reset (see [`ScriptedBody::abort_for_http2`]).
const HTTP2_RESET_GRACE: Duration = Duration::from_millis(50);

/// Lengths in memory always fit in a u64 on the platforms tokio supports; the
/// saturation only keeps this free of a panicking path.
pub(crate) fn len_u64(len: usize) -> u64 {
    u64::try_from(len).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn repeat_streams_in_chunks_without_growing() {
        let mut body = ScriptedBody::new()
            .repeat(Bytes::from_static(b"abcd"), 10)
            .declared_len(Some(10));
        let mut chunks = Vec::new();
        while let Some(frame) = body.frame().await {
            let data = frame.unwrap().into_data().unwrap();
            chunks.push(data);
        }
        let lens: Vec<usize> = chunks.iter().map(Bytes::len).collect();
        assert_eq!(lens, [4, 4, 2]);
        assert_eq!(body.size_hint().exact(), Some(0));
        assert!(body.is_end_stream());
    }

    #[tokio::test]
    async fn abort_yields_error_after_data_and_then_ends() {
        let mut body = ScriptedBody::new().data("ab").abort().data("never");
        assert_eq!(body.frame().await.unwrap().unwrap().into_data().unwrap(), "ab");
        let err = body.frame().await.unwrap().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionAborted);
        assert!(body.frame().await.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn sleep_delays_the_next_frame() {
        let start = tokio::time::Instant::now();
        let body = ScriptedBody::new()
            .data("a")
            .sleep(Duration::from_secs(3))
            .data("b");
        let bytes = body.collect().await.unwrap().to_bytes();
        assert_eq!(&bytes[..], b"ab");
        assert!(start.elapsed() >= Duration::from_secs(3));
    }

    #[tokio::test]
    async fn abort_via_raises_the_flag_and_parks() {
        let flag = Arc::new(AtomicBool::new(false));
        let mut body = ScriptedBody::new().data("ab").abort().abort_via(flag.clone());
        assert!(body.frame().await.unwrap().is_ok());
        let next = tokio::time::timeout(Duration::from_millis(20), body.frame()).await;
        assert!(next.is_err(), "parked, not failed");
        assert!(flag.load(Ordering::SeqCst));
        assert!(!body.is_end_stream());
    }

    #[tokio::test]
    async fn http2_abort_ends_short_with_a_length_and_fails_later_without() {
        let mut declared = ScriptedBody::new()
            .data("ab")
            .abort()
            .declared_len(Some(10))
            .abort_for_http2();
        assert!(declared.frame().await.unwrap().is_ok());
        assert!(declared.frame().await.is_none());

        let mut unknown = ScriptedBody::new().data("ab").abort().abort_for_http2();
        assert!(unknown.frame().await.unwrap().is_ok());
        assert!(unknown.frame().await.unwrap().is_err());
    }

    #[test]
    fn empty_body_is_end_of_stream() {
        assert!(ScriptedBody::new().is_end_stream());
        assert_eq!(ScriptedBody::full("xyz").size_hint().exact(), Some(3));
    }
}
