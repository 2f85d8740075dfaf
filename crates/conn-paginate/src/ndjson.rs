//! `Ndjson`: a streamed NDJSON / JSON Lines body as a stream of documents.

use std::fmt;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::BytesMut;
use conn_core::{BodyStream, Error, ErrorKind};
use futures_core::Stream;
use serde::de::DeserializeOwned;

/// The default longest line: a line is held whole while it is decoded.
pub const DEFAULT_MAX_LINE: usize = 1024 * 1024;

/// An NDJSON (JSON Lines) body decoded line by line into `T` (by default
/// [`serde_json::Value`]) while it streams: memory is bounded by the chunk
/// size plus the longest line, never by the body.
///
/// Blank lines are skipped, a trailing `\r` is ignored, and a last line
/// without a newline counts. A line that is not valid JSON, or longer than
/// [`max_line`](Self::max_line), ends the stream with an error naming its
/// line number (never its content).
///
/// ```
/// use bytes::Bytes;
/// use conn_core::BodyStream;
/// use conn_paginate::Ndjson;
/// use futures_util::StreamExt;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let body = BodyStream::from_bytes(Bytes::from_static(b"{\"id\":1}\n\n{\"id\":2}"));
/// let ids: Vec<u64> = Ndjson::<serde_json::Value>::new(body)
///     .map(|line| line.unwrap()["id"].as_u64().unwrap())
///     .collect()
///     .await;
/// assert_eq!(ids, [1, 2]);
/// # }
/// ```
pub struct Ndjson<T = serde_json::Value> {
    body: BodyStream,
    buffer: BytesMut,
    /// How far `buffer` has been searched for a newline.
    scanned: usize,
    line: u64,
    max_line: usize,
    ended: bool,
    _type: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> Ndjson<T> {
    /// Decodes `body`.
    pub fn new(body: BodyStream) -> Self {
        Ndjson {
            body,
            buffer: BytesMut::new(),
            scanned: 0,
            line: 0,
            max_line: DEFAULT_MAX_LINE,
            ended: false,
            _type: PhantomData,
        }
    }

    /// The longest line accepted, in bytes (default 1 MiB).
    pub fn max_line(mut self, bytes: usize) -> Self {
        self.max_line = bytes;
        self
    }

    /// How many body bytes have arrived so far.
    pub fn received(&self) -> u64 {
        self.body.received()
    }

    /// Decodes the next complete line in the buffer, if there is one.
    fn next_line(&mut self, at_end: bool) -> Option<Result<T, Error>> {
        loop {
            let newline = self.buffer[self.scanned..].iter().position(|&b| b == b'\n');
            let line = match newline {
                Some(at) => {
                    let line = self.buffer.split_to(self.scanned + at + 1);
                    self.scanned = 0;
                    line
                }
                None if at_end && !self.buffer.is_empty() => {
                    self.scanned = 0;
                    self.buffer.split()
                }
                None => {
                    self.scanned = self.buffer.len();
                    return None;
                }
            };
            self.line += 1;
            let text = trim(&line);
            if text.is_empty() {
                continue;
            }
            if text.len() > self.max_line {
                return Some(Err(self.too_long()));
            }
            return Some(serde_json::from_slice(text).map_err(|e| {
                Error::new(
                    ErrorKind::Decode,
                    format!(
                        "NDJSON line {} is not valid JSON (column {})",
                        self.line,
                        e.column()
                    ),
                )
            }));
        }
    }

    fn too_long(&self) -> Error {
        Error::new(
            ErrorKind::BodyTooLarge,
            format!(
                "NDJSON line {} is longer than {} bytes",
                self.line + 1,
                self.max_line
            ),
        )
    }
}

fn trim(line: &[u8]) -> &[u8] {
    let end = line
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    let start = line[..end]
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(end);
    &line[start..end]
}

impl<T: DeserializeOwned> Stream for Ndjson<T> {
    type Item = Result<T, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if this.ended {
                return Poll::Ready(None);
            }
            if let Some(item) = this.next_line(false) {
                if item.is_err() {
                    this.ended = true;
                }
                return Poll::Ready(Some(item));
            }
            if this.buffer.len() > this.max_line {
                this.ended = true;
                return Poll::Ready(Some(Err(this.too_long())));
            }
            match Pin::new(&mut this.body).poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(chunk))) => this.buffer.extend_from_slice(&chunk),
                Poll::Ready(Some(Err(err))) => {
                    this.ended = true;
                    return Poll::Ready(Some(Err(err)));
                }
                Poll::Ready(None) => {
                    this.ended = true;
                    return Poll::Ready(this.next_line(true));
                }
            }
        }
    }
}

impl<T> fmt::Debug for Ndjson<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ndjson")
            .field("received", &self.body.received())
            .field("lines", &self.line)
            .field("buffered", &self.buffer.len())
            .finish()
    }
}
