//! `BodyStream`: a response body that arrives chunk by chunk, for
//! [`Connector::call_stream`](crate::Connector::call_stream).

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures_core::Stream;

use crate::{Error, ErrorKind};

/// A per-request body size limit, carried in the wire request's
/// extensions for transports that honour it (the hyper transport does).
///
/// Set it with [`Request::body_limit`](crate::Request::body_limit); a
/// transport without support keeps its own limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BodyLimit(pub u64);

type Chunks = Pin<Box<dyn Stream<Item = Result<Bytes, Error>> + Send>>;

/// A response body as a [`Stream`] of `Bytes` chunks.
///
/// Memory stays bounded by the chunk size: nothing is buffered here. The
/// stream counts what arrived, and an error in the middle of the body says
/// how many bytes came before it (in its message, and in
/// [`received`](Self::received)). After an error the stream ends.
///
/// ```
/// use bytes::Bytes;
/// use conn_core::BodyStream;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let mut body = BodyStream::from_bytes(Bytes::from_static(b"hello"));
/// assert_eq!(body.next_chunk().await.unwrap().unwrap(), "hello");
/// assert!(body.next_chunk().await.is_none());
/// assert_eq!(body.received(), 5);
/// # }
/// ```
pub struct BodyStream {
    chunks: Option<Chunks>,
    received: u64,
}

impl BodyStream {
    /// Wraps a stream of chunks (what a [`Transport`](crate::Transport)
    /// hands over from
    /// [`send_streaming`](crate::Transport::send_streaming)).
    pub fn new(chunks: impl Stream<Item = Result<Bytes, Error>> + Send + 'static) -> Self {
        BodyStream {
            chunks: Some(Box::pin(chunks)),
            received: 0,
        }
    }

    /// A body that is one chunk (empty bytes make an empty body).
    pub fn from_bytes(bytes: Bytes) -> Self {
        if bytes.is_empty() {
            return BodyStream::empty();
        }
        BodyStream::new(Once(Some(bytes)))
    }

    /// A body without any bytes.
    pub fn empty() -> Self {
        BodyStream {
            chunks: None,
            received: 0,
        }
    }

    /// How many body bytes have arrived so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// The next chunk, `None` at the end (or after an error).
    pub async fn next_chunk(&mut self) -> Option<Result<Bytes, Error>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    /// Reads the rest of the body into memory, failing past `limit` bytes
    /// (counting what was already received).
    pub async fn collect(mut self, limit: u64) -> Result<Bytes, Error> {
        let mut buffer = BytesMut::new();
        while let Some(chunk) = self.next_chunk().await {
            let chunk = chunk?;
            if self.received > limit {
                return Err(Error::new(
                    ErrorKind::BodyTooLarge,
                    format!("the response body exceeds the limit of {limit} bytes"),
                ));
            }
            buffer.extend_from_slice(&chunk);
        }
        Ok(buffer.freeze())
    }
}

impl Stream for BodyStream {
    type Item = Result<Bytes, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let Some(chunks) = &mut this.chunks else {
            return Poll::Ready(None);
        };
        match chunks.as_mut().poll_next(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(chunk))) => {
                this.received = this.received.saturating_add(chunk.len() as u64);
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(err))) => {
                // An error ends the body: dropping the source closes the
                // connection instead of reading on.
                this.chunks = None;
                let note = format!("after {} body bytes", this.received);
                Poll::Ready(Some(Err(err.with_note(&note))))
            }
            Poll::Ready(None) => {
                this.chunks = None;
                Poll::Ready(None)
            }
        }
    }
}

impl fmt::Debug for BodyStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BodyStream")
            .field("received", &self.received)
            .field("ended", &self.chunks.is_none())
            .finish()
    }
}

/// A stream of one chunk.
struct Once(Option<Bytes>);

impl Stream for Once {
    type Item = Result<Bytes, Error>;

    fn poll_next(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Poll::Ready(self.get_mut().0.take().map(Ok))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Script(Vec<Result<Bytes, Error>>);

    impl Stream for Script {
        type Item = Result<Bytes, Error>;
        fn poll_next(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            let this = self.get_mut();
            Poll::Ready(if this.0.is_empty() {
                None
            } else {
                Some(this.0.remove(0))
            })
        }
    }

    #[tokio::test]
    async fn an_error_says_how_many_bytes_came_and_ends_the_body() {
        let mut body = BodyStream::new(Script(vec![
            Ok(Bytes::from_static(b"abc")),
            Err(Error::new(ErrorKind::ConnectionLost, "reset")),
            Ok(Bytes::from_static(b"never")),
        ]));
        assert_eq!(body.next_chunk().await.unwrap().unwrap(), "abc");
        let err = body.next_chunk().await.unwrap().unwrap_err();
        assert!(err.is_connection_lost());
        assert!(err.to_string().contains("after 3 body bytes"), "{err}");
        assert!(body.next_chunk().await.is_none());
        assert_eq!(body.received(), 3);
    }

    #[tokio::test]
    async fn collect_stops_past_the_limit() {
        let body = BodyStream::new(Script(vec![
            Ok(Bytes::from_static(b"abc")),
            Ok(Bytes::from_static(b"def")),
        ]));
        assert!(body.collect(4).await.unwrap_err().is_body_too_large());
        let body = BodyStream::from_bytes(Bytes::from_static(b"abcdef"));
        assert_eq!(body.collect(6).await.unwrap(), "abcdef");
        assert_eq!(BodyStream::empty().collect(0).await.unwrap(), "");
    }
}
