//! Response compression: `Accept-Encoding` offered on each request, and the
//! body decoded while it streams.
//!
//! Why here and bounded: a compressed body is smaller on the wire but the
//! program holds the decoded bytes, so the body limit must count *decoded*
//! bytes, or a 10 MB gzip that expands to 10 GB would pass a 16 MiB limit.
//! The decoder sits behind the wire guard (`GuardedBody`: size of what
//! arrives, throughput floor) and in front of a second count of what it
//! produces; it writes into a fixed-size buffer, so memory stays bounded by
//! that buffer and the codec's window whatever the ratio.
//!
//! The codecs are async-compression's (the crate reqwest and tower-http
//! use): gzip and deflate through flate2's pure-Rust miniz_oxide, brotli
//! through the pure-Rust `brotli` crate, zstd through libzstd compiled from
//! source by cc (cargo feature `zstd`, on by default). ruzstd, the
//! pure-Rust zstd decoder, reads from a blocking `std::io::Read` only, so
//! decoding a body while it arrives would need a blocking thread per
//! response; async-compression drives every codec from the async stream.

use std::io;
use std::pin::Pin;

use async_compression::tokio::bufread::{BrotliDecoder, GzipDecoder, ZlibDecoder};
use bytes::Bytes;
use conn_core::{Error, ErrorKind};
use futures_util::{Stream, StreamExt};
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, StatusCode};
use tokio::io::AsyncRead;
use tokio_util::io::{ReaderStream, StreamReader};

use crate::body::{GuardedBody, too_large};

/// Decoded bytes handed over at a time: the buffer the codec writes into.
const DECODED_CHUNK: usize = 32 * 1024;

/// Which response encodings the transport offers in `Accept-Encoding` and
/// decodes: by default every one compiled in (gzip, deflate, br, and zstd
/// with the `zstd` feature).
///
/// A request that carries its own `Accept-Encoding` header keeps it, and
/// its response is handed over as the server sent it (the caller asked for
/// that encoding); `Accept-Encoding: identity` turns compression off for
/// one request.
///
/// ```
/// use conn_transport_hyper::{Compression, HyperTransport};
///
/// // gzip only: a server whose brotli is slow to produce.
/// let transport = HyperTransport::builder()
///     .compression(Compression::none().gzip(true))
///     .build()
///     .unwrap();
/// # let _ = transport;
/// // Off for one request:
/// let request = conn_core::Request::get("/export.csv").header("accept-encoding", "identity");
/// # let _ = request;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Compression {
    gzip: bool,
    deflate: bool,
    brotli: bool,
    zstd: bool,
}

impl Default for Compression {
    fn default() -> Self {
        Compression::all()
    }
}

impl Compression {
    /// Every encoding compiled in (the default).
    pub fn all() -> Self {
        Compression {
            gzip: true,
            deflate: true,
            brotli: true,
            zstd: cfg!(feature = "zstd"),
        }
    }

    /// None: no `Accept-Encoding` is sent and nothing is decoded.
    pub fn none() -> Self {
        Compression {
            gzip: false,
            deflate: false,
            brotli: false,
            zstd: false,
        }
    }

    /// Offers and decodes gzip.
    pub fn gzip(mut self, on: bool) -> Self {
        self.gzip = on;
        self
    }

    /// Offers and decodes deflate (zlib-wrapped, as HTTP defines it).
    pub fn deflate(mut self, on: bool) -> Self {
        self.deflate = on;
        self
    }

    /// Offers and decodes brotli (`br`).
    pub fn brotli(mut self, on: bool) -> Self {
        self.brotli = on;
        self
    }

    /// Offers and decodes zstd (cargo feature `zstd`).
    #[cfg(feature = "zstd")]
    pub fn zstd(mut self, on: bool) -> Self {
        self.zstd = on;
        self
    }

    fn accepts(self, encoding: Encoding) -> bool {
        match encoding {
            Encoding::Gzip => self.gzip,
            Encoding::Deflate => self.deflate,
            Encoding::Brotli => self.brotli,
            Encoding::Zstd => self.zstd,
        }
    }

    /// The `Accept-Encoding` value naming every accepted encoding (`None`:
    /// none is). Built once per transport: per request it is a clone.
    pub(crate) fn accept_encoding(self) -> Option<HeaderValue> {
        let offered: Vec<&str> = Encoding::ALL
            .iter()
            .filter(|e| self.accepts(**e))
            .map(|e| e.token())
            .collect();
        if offered.is_empty() {
            return None;
        }
        HeaderValue::from_str(&offered.join(", ")).ok()
    }

    /// The encoding to decode a response with: one this transport offered,
    /// on a response that has a body.
    pub(crate) fn decoding(
        self,
        offered: bool,
        method: &Method,
        status: StatusCode,
        headers: &HeaderMap,
    ) -> Option<Encoding> {
        if !offered
            || method == Method::HEAD
            || status == StatusCode::NO_CONTENT
            || status == StatusCode::NOT_MODIFIED
        {
            return None;
        }
        // Most responses name no encoding: one header lookup settles them.
        let value = headers.get(header::CONTENT_ENCODING)?.to_str().ok()?.trim();
        if headers.get(header::CONTENT_LENGTH).is_some_and(|v| v == "0") {
            return None;
        }
        Encoding::ALL
            .into_iter()
            .find(|e| {
                value.eq_ignore_ascii_case(e.token())
                    || (*e == Encoding::Gzip && value.eq_ignore_ascii_case("x-gzip"))
            })
            .filter(|e| self.accepts(*e))
    }
}

/// Adds `accept_encoding` unless the request has its own `Accept-Encoding`;
/// true when it was added (only then is the response decoded).
pub(crate) fn offer(accept_encoding: Option<&HeaderValue>, headers: &mut HeaderMap) -> bool {
    match accept_encoding {
        Some(value) if !headers.contains_key(header::ACCEPT_ENCODING) => {
            headers.insert(header::ACCEPT_ENCODING, value.clone());
            true
        }
        _ => false,
    }
}

/// A content coding the transport decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Encoding {
    Gzip,
    Deflate,
    Brotli,
    Zstd,
}

impl Encoding {
    const ALL: [Encoding; 4] = [
        Encoding::Gzip,
        Encoding::Deflate,
        Encoding::Brotli,
        Encoding::Zstd,
    ];

    fn token(self) -> &'static str {
        match self {
            Encoding::Gzip => "gzip",
            Encoding::Deflate => "deflate",
            Encoding::Brotli => "br",
            Encoding::Zstd => "zstd",
        }
    }
}

/// A response body as the program sees it: as it arrived, or decoded.
pub(crate) enum ResponseBody {
    Plain(GuardedBody),
    Decoded(Decoded),
}

impl ResponseBody {
    /// Hands `body` over as it arrived or, when `encoding` is set, decoded;
    /// a decoded response loses `Content-Encoding` and `Content-Length`,
    /// which described the wire bytes.
    pub(crate) fn new(body: GuardedBody, encoding: Option<Encoding>, headers: &mut HeaderMap) -> Self {
        match encoding {
            None => ResponseBody::Plain(body),
            Some(encoding) => {
                headers.remove(header::CONTENT_ENCODING);
                headers.remove(header::CONTENT_LENGTH);
                ResponseBody::Decoded(Decoded::new(body, encoding))
            }
        }
    }

    /// The next chunk; `None` at the end, and after an error.
    pub(crate) async fn next(&mut self) -> Option<Result<Bytes, Error>> {
        match self {
            ResponseBody::Plain(body) => body.next().await,
            ResponseBody::Decoded(body) => body.next().await,
        }
    }
}

type Chunks = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// The decoder between the wire guard and the decoded-size count.
pub(crate) struct Decoded {
    chunks: Chunks,
    encoding: Encoding,
    limit: u64,
    total: u64,
    done: bool,
}

impl Decoded {
    fn new(body: GuardedBody, encoding: Encoding) -> Self {
        let limit = body.limit();
        // Wire errors (too large, stalled, connection lost) travel through
        // the codec inside an io::Error and come out as they went in.
        let wire = futures_util::stream::unfold(body, |mut body| async move {
            let chunk = body.next().await?;
            Some((chunk.map_err(io::Error::other), body))
        });
        let reader = StreamReader::new(wire);
        let decoder: Pin<Box<dyn AsyncRead + Send>> = match encoding {
            Encoding::Gzip => Box::pin(GzipDecoder::new(reader)),
            Encoding::Deflate => Box::pin(ZlibDecoder::new(reader)),
            Encoding::Brotli => Box::pin(BrotliDecoder::new(reader)),
            #[cfg(feature = "zstd")]
            Encoding::Zstd => Box::pin(async_compression::tokio::bufread::ZstdDecoder::new(reader)),
            // Never offered without the feature, so never chosen.
            #[cfg(not(feature = "zstd"))]
            Encoding::Zstd => Box::pin(GzipDecoder::new(reader)),
        };
        Decoded {
            chunks: Box::pin(ReaderStream::with_capacity(decoder, DECODED_CHUNK)),
            encoding,
            limit,
            total: 0,
            done: false,
        }
    }

    async fn next(&mut self) -> Option<Result<Bytes, Error>> {
        if self.done {
            return None;
        }
        let result = match self.chunks.next().await {
            None => None,
            Some(Ok(chunk)) => {
                self.total = self.total.saturating_add(chunk.len() as u64);
                if self.total > self.limit {
                    Some(Err(too_large(format!(
                        "the decoded ({}) response body exceeds the limit of {} bytes",
                        self.encoding.token(),
                        self.limit
                    ))))
                } else {
                    Some(Ok(chunk))
                }
            }
            Some(Err(err)) => Some(Err(self.decode_error(err))),
        };
        if !matches!(result, Some(Ok(_))) {
            // Dropping the codec drops the wire body: the connection is closed, not drained.
            self.done = true;
            self.chunks = Box::pin(futures_util::stream::empty());
        }
        result
    }

    fn decode_error(&self, err: io::Error) -> Error {
        let token = self.encoding.token();
        let truncated = err.kind() == io::ErrorKind::UnexpectedEof;
        let inner = match err.into_inner().map(|inner| inner.downcast::<Error>()) {
            Some(Ok(wire)) => return *wire,
            Some(Err(inner)) => Some(inner),
            None => None,
        };
        let err = if truncated {
            Error::new(
                ErrorKind::ConnectionLost,
                format!("the {token} response body ended before its end (truncated)"),
            )
        } else {
            Error::new(ErrorKind::Decode, format!("the {token} response body is corrupt"))
        };
        match inner {
            Some(inner) => err.with_source(inner),
            None => err,
        }
    }
}
