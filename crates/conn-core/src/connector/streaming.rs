//! `StreamingResponse`: what a streamed call answers.

use crate::{BodyStream, Response};

/// The answer of [`Connector::call_stream`](crate::Connector::call_stream): the response head with its
/// [`CallReport`](crate::CallReport), and the body still arriving.
#[derive(Debug)]
pub struct StreamingResponse {
    pub(super) head: Response,
    pub(super) body: BodyStream,
}

impl StreamingResponse {
    /// The status.
    pub fn status(&self) -> http::StatusCode {
        self.head.status()
    }

    /// The response headers.
    pub fn headers(&self) -> &http::HeaderMap {
        self.head.headers()
    }

    /// What the call did up to the response head.
    pub fn report(&self) -> &crate::CallReport {
        self.head.report()
    }

    /// The body, chunk by chunk.
    pub fn body_mut(&mut self) -> &mut BodyStream {
        &mut self.body
    }

    /// The body, chunk by chunk.
    pub fn into_body(self) -> BodyStream {
        self.body
    }

    /// The head (a [`Response`] with an empty body) and the body.
    pub fn into_parts(self) -> (Response, BodyStream) {
        (self.head, self.body)
    }
}
