//! Reading a response body to the end, or handing it on as a stream: both
//! under the wire guard and the decoder of `decode.rs`, so the limit counts
//! decoded bytes either way.

use bytes::{Bytes, BytesMut};
use conn_core::{BodyStream, Error};

use crate::decode::ResponseBody;

/// Reads the whole body (decoded, when it is), failing past the limit
/// without reading further; `declared` only sizes the buffer.
pub(crate) async fn read_limited(mut body: ResponseBody, declared: Option<u64>) -> Result<Bytes, Error> {
    let mut first: Option<Bytes> = None;
    let mut rest = BytesMut::new();
    while let Some(data) = body.next().await {
        let data = data?;
        // One-frame bodies (the common case) are returned without a copy.
        match &first {
            None if rest.is_empty() => first = Some(data),
            _ => {
                if let Some(first) = first.take() {
                    let hint = declared.and_then(|d| usize::try_from(d).ok());
                    rest.reserve(hint.unwrap_or(first.len() + data.len()));
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

/// The body as a stream of chunks under the same guard: nothing is
/// buffered, so memory is bounded by the frame size (or the decoder's buffer).
pub(crate) fn stream_limited(body: ResponseBody) -> BodyStream {
    BodyStream::new(futures_util::stream::unfold(body, |mut body| async move {
        body.next().await.map(|chunk| (chunk, body))
    }))
}
