//! Reading an `http_body::Body` under a size limit: response bodies a tower
//! service hands to conn, and request bodies a tower caller hands to a
//! connector, are both untrusted in size.

use bytes::{Buf, Bytes, BytesMut};
use conn_core::{BodyStream, BoxError, Error, ErrorKind};
use http_body::Body;
use http_body_util::BodyExt;

/// The body's declared length (`Content-Length`, or an exact size hint)
/// when it is already over `limit`.
pub(crate) fn declared_over(headers: &http::HeaderMap, body: &impl Body, limit: u64) -> Result<(), Error> {
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .or_else(|| body.size_hint().exact());
    match declared.filter(|&len| len > limit) {
        Some(len) => Err(too_large(format!(
            "the body declares {len} bytes, over the limit of {limit}"
        ))),
        None => Ok(()),
    }
}

/// Reads the whole body, failing as soon as it passes `limit` bytes.
pub(crate) async fn collect<B>(body: B, limit: u64, broke: fn(BoxError) -> Error) -> Result<Bytes, Error>
where
    B: Body + Send,
    B::Error: Into<BoxError>,
{
    let mut body = std::pin::pin!(body);
    let mut buffer = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|err| broke(err.into()))?;
        let Ok(mut data) = frame.into_data() else { continue };
        if (buffer.len() as u64).saturating_add(data.remaining() as u64) > limit {
            return Err(too_large(format!("the body exceeds the limit of {limit} bytes")));
        }
        while data.has_remaining() {
            let chunk = data.chunk();
            buffer.extend_from_slice(chunk);
            let n = chunk.len();
            data.advance(n);
        }
    }
    Ok(buffer.freeze())
}

/// The body as a [`BodyStream`] under the same limit, nothing buffered.
pub(crate) fn stream<B>(body: B, limit: u64, broke: fn(BoxError) -> Error) -> BodyStream
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let state = (Box::pin(body), 0u64, false);
    BodyStream::new(futures_util::stream::unfold(
        state,
        move |(mut body, total, done)| async move {
            if done {
                return None;
            }
            loop {
                let frame = match body.frame().await? {
                    Ok(frame) => frame,
                    Err(err) => return Some((Err(broke(err.into())), (body, total, true))),
                };
                let Ok(mut data) = frame.into_data() else { continue };
                let bytes = data.copy_to_bytes(data.remaining());
                if bytes.is_empty() {
                    continue;
                }
                let total = total.saturating_add(bytes.len() as u64);
                if total > limit {
                    let err = too_large(format!("the response body exceeds the limit of {limit} bytes"));
                    return Some((Err(err), (body, total, true)));
                }
                return Some((Ok(bytes), (body, total, false)));
            }
        },
    ))
}

fn too_large(message: String) -> Error {
    Error::new(ErrorKind::BodyTooLarge, message)
}
