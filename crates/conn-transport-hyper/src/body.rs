//! Reading a response body under a size limit and a minimum throughput.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
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

/// Reads the whole body, failing past `limit` bytes without reading further.
pub(crate) async fn read_limited(
    mut body: Incoming,
    declared: Option<u64>,
    limit: usize,
    floor: Option<MinThroughput>,
) -> Result<Bytes, Error> {
    if let Some(declared) = declared.filter(|&len| len > limit as u64) {
        return Err(too_large(format!(
            "the response declares {declared} bytes, over the limit of {limit}"
        )));
    }
    let mut first: Option<Bytes> = None;
    let mut rest = BytesMut::new();
    let mut total = 0usize;
    // A grace too long to represent disables the check rather than overflowing.
    let mut window = floor.and_then(|f| Some((Instant::now().checked_add(f.grace)?, 0u64)));
    loop {
        let frame = match (&mut window, floor) {
            (Some((check_at, in_window)), Some(floor)) => {
                match tokio::time::timeout_at(*check_at, body.frame()).await {
                    Ok(frame) => frame,
                    Err(_) => {
                        let needed = floor
                            .bytes_per_second
                            .saturating_mul(floor.grace.as_secs().max(1));
                        if *in_window < needed {
                            return Err(Error::new(
                                ErrorKind::Timeout(TimeoutKind::Attempt),
                                format!(
                                    "the body stalled: {} bytes in {} ms, below the minimum of {} bytes/s",
                                    in_window,
                                    floor.grace.as_millis(),
                                    floor.bytes_per_second
                                ),
                            ));
                        }
                        *in_window = 0;
                        match check_at.checked_add(floor.grace) {
                            Some(next) => *check_at = next,
                            // Unreachable in practice (the first window already
                            // fit); stop checking rather than overflow.
                            None => window = None,
                        }
                        continue;
                    }
                }
            }
            _ => body.frame().await,
        };
        let Some(frame) = frame else { break };
        let frame = frame.map_err(body_error)?;
        let Ok(data) = frame.into_data() else { continue };
        total = total.saturating_add(data.len());
        if total > limit {
            // Returning drops `body`: the connection is closed, not drained.
            return Err(too_large(format!(
                "the response body exceeds the limit of {limit} bytes"
            )));
        }
        if let Some((_, in_window)) = &mut window {
            *in_window += data.len() as u64;
        }
        // One-frame bodies (the common case) are returned without a copy.
        match &first {
            None if rest.is_empty() => first = Some(data),
            _ => {
                if let Some(first) = first.take() {
                    rest.reserve(declared.map_or(first.len() + data.len(), |d| d as usize));
                    rest.extend_from_slice(&first);
                }
                rest.extend_from_slice(&data);
            }
        }
    }
    Ok(match first {
        Some(only) => only,
        None => rest.freeze(),
    })
}

fn too_large(message: String) -> Error {
    Error::new(ErrorKind::BodyTooLarge, message)
}
