//! How the `transmit` phase puts an attempt on the wire: the one thing that
//! differs between a buffered call (`call`) and a streamed one
//! (`call_stream`). Every other phase, and the attempt loop, is shared.

use std::future::Future;

use bytes::Bytes;
use futures_util::FutureExt;

use super::streaming::StreamingResponse;
use crate::{
    BodyStream, Error, ErrorKind, Response, Transport, TransportRequest, TransportResponse, TransportStream,
};

/// An exchange with the transport. Its buffered head (status, headers, a
/// body for error statuses) is what the components see; `Body` is what the
/// call hands back beside it.
pub(crate) trait Exchange {
    /// What a successful call returns beside the head: nothing for a
    /// buffered call (whose body is in the head), the body stream otherwise.
    type Body: Send + 'static;

    /// What the call answers.
    type Output;

    /// The call's answer from its response (with the report) and body.
    fn output(response: Response, body: Option<Self::Body>) -> Self::Output;

    /// Sends `wire` and answers with the head and, on success, the body.
    fn send(
        transport: &dyn Transport,
        wire: TransportRequest,
    ) -> impl Future<Output = Result<(TransportResponse, Option<Self::Body>), Error>> + Send + 'static;
}

/// `Connector::call`: the whole body is read within the attempt.
pub(crate) struct Buffered;

impl Exchange for Buffered {
    type Body = ();
    type Output = Response;

    fn output(response: Response, _: Option<()>) -> Response {
        response
    }

    fn send(
        transport: &dyn Transport,
        wire: TransportRequest,
    ) -> impl Future<Output = Result<(TransportResponse, Option<()>), Error>> + Send + 'static {
        transport
            .send(wire)
            .map(|sent| sent.map(|response| (response, None)))
    }
}

/// `Connector::call_stream`: the attempt ends with the response head.
pub(crate) struct Streamed;

impl Exchange for Streamed {
    type Body = BodyStream;
    type Output = StreamingResponse;

    fn output(head: Response, body: Option<BodyStream>) -> StreamingResponse {
        StreamingResponse {
            head,
            body: body.unwrap_or_else(BodyStream::empty),
        }
    }

    fn send(
        transport: &dyn Transport,
        wire: TransportRequest,
    ) -> impl Future<Output = Result<(TransportResponse, Option<BodyStream>), Error>> + Send + 'static {
        let sending = transport.send_streaming(wire);
        async move {
            let TransportStream { response, first_byte } = sending.await?;
            let (parts, body) = response.into_parts();
            let (bytes, body) = if ErrorKind::from_status(parts.status).is_some() {
                // An error status is read whole (bounded by the transport's
                // limit), so it becomes the same classified error, body kept,
                // as for a buffered call, and retry policies see the same.
                (body.collect(u64::MAX).await?, None)
            } else {
                (Bytes::new(), Some(body))
            };
            Ok((
                TransportResponse {
                    response: http::Response::from_parts(parts, bytes),
                    first_byte,
                },
                body,
            ))
        }
    }
}
