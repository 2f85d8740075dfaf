//! The wire guard: a response body's frames under a size limit and a minimum throughput.

use std::time::Duration;

use bytes::Bytes;
use conn_core::{Error, ErrorKind, TimeoutKind};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::time::Instant;

use crate::errors::body_error;

/// A floor under the body download rate, to catch stalled bodies that would
/// otherwise hold an attempt until its timeout. Off by default.
///
/// After `grace` from the response head, the body must arrive at
/// `bytes_per_second` or more, measured over each successive `grace` window.
///
/// ```
/// use std::time::Duration;
/// use conn_transport_hyper::MinThroughput;
///
/// let floor = MinThroughput { bytes_per_second: 1024, grace: Duration::from_secs(2) };
/// # let _ = floor;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MinThroughput {
    /// The slowest acceptable rate.
    pub bytes_per_second: u64,
    /// The window before the first check and between checks.
    pub grace: Duration,
}

/// A response body read frame by frame under the size limit and the
/// throughput floor: the one guard both the buffered and the streamed
/// reads go through, so they fail alike.
pub(crate) struct GuardedBody {
    body: Incoming,
    limit: u64,
    total: u64,
    floor: Option<MinThroughput>,
    /// When the current throughput window ends, and the bytes seen in it.
    window: Option<(Instant, u64)>,
    done: bool,
}

impl GuardedBody {
    /// Guards `body`; fails at once when `declared` (the `Content-Length`)
    /// is already over `limit`.
    pub(crate) fn new(
        body: Incoming,
        declared: Option<u64>,
        limit: u64,
        floor: Option<MinThroughput>,
    ) -> Result<Self, Error> {
        if let Some(declared) = declared.filter(|&len| len > limit) {
            return Err(too_large(format!(
                "the response declares {declared} bytes, over the limit of {limit}"
            )));
        }
        // A grace too long to represent disables the check rather than overflowing.
        let window = floor.and_then(|f| Some((Instant::now().checked_add(f.grace)?, 0u64)));
        Ok(GuardedBody {
            body,
            limit,
            total: 0,
            floor,
            window,
            done: false,
        })
    }

    /// The size limit, which a decoder applies again to what it produces.
    pub(crate) fn limit(&self) -> u64 {
        self.limit
    }

    /// The next data chunk; `None` at the end. After an error the body is
    /// dropped (the connection closed, not drained) and only `None` follows.
    pub(crate) async fn next(&mut self) -> Option<Result<Bytes, Error>> {
        if self.done {
            return None;
        }
        let result = self.next_inner().await;
        if !matches!(result, Some(Ok(_))) {
            self.done = true;
        }
        result
    }

    async fn next_inner(&mut self) -> Option<Result<Bytes, Error>> {
        loop {
            let frame = match (&mut self.window, self.floor) {
                (Some((check_at, in_window)), Some(floor)) => {
                    match tokio::time::timeout_at(*check_at, self.body.frame()).await {
                        Ok(frame) => frame,
                        Err(_) => {
                            let needed = floor
                                .bytes_per_second
                                .saturating_mul(floor.grace.as_secs().max(1));
                            if *in_window < needed {
                                return Some(Err(Error::new(
                                    ErrorKind::Timeout(TimeoutKind::Attempt),
                                    format!(
                                        "the body stalled: {} bytes in {} ms, below the minimum of {} bytes/s",
                                        in_window,
                                        floor.grace.as_millis(),
                                        floor.bytes_per_second
                                    ),
                                )));
                            }
                            *in_window = 0;
                            match check_at.checked_add(floor.grace) {
                                Some(next) => *check_at = next,
                                // Unreachable in practice (the first window already
                                // fit); stop checking rather than overflow.
                                None => self.window = None,
                            }
                            continue;
                        }
                    }
                }
                _ => self.body.frame().await,
            };
            let frame = match frame? {
                Ok(frame) => frame,
                Err(err) => return Some(Err(body_error(err))),
            };
            let Ok(data) = frame.into_data() else { continue };
            if data.is_empty() {
                continue;
            }
            self.total = self.total.saturating_add(data.len() as u64);
            if self.total > self.limit {
                return Some(Err(too_large(format!(
                    "the response body exceeds the limit of {} bytes",
                    self.limit
                ))));
            }
            if let Some((_, in_window)) = &mut self.window {
                *in_window += data.len() as u64;
            }
            return Some(Ok(data));
        }
    }
}

pub(crate) fn too_large(message: String) -> Error {
    Error::new(ErrorKind::BodyTooLarge, message)
}
