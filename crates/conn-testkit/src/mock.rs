//! Transports that never touch the network, for unit tests of the pipeline
//! and of components (timing logic included, on a paused tokio clock).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use conn_core::{BoxFuture, Error, ErrorKind, Transport, TransportRequest, TransportResponse};
use tokio::time::Instant;

mockall::mock! {
    /// A mockall mock of [`Transport`], for expectations on exactly what is sent.
    ///
    /// ```
    /// use conn_testkit::MockTransport;
    /// use conn_core::{Credentials, Transport, TransportRequest, TransportResponse};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let mut transport = MockTransport::new();
    /// transport
    ///     .expect_send()
    ///     .withf(|request| request.request.uri().path() == "/ping")
    ///     .times(1)
    ///     .returning(|_request| {
    ///         let response = http::Response::builder().status(200).body(bytes::Bytes::new()).unwrap();
    ///         Box::pin(async move { Ok(TransportResponse::new(response)) })
    ///     });
    ///
    /// let request = http::Request::get("https://api.example.com/ping").body(bytes::Bytes::new()).unwrap();
    /// let sent = TransportRequest { request, credentials: Credentials::default() };
    /// assert_eq!(transport.send(sent).await.unwrap().status(), 200);
    /// # }
    /// ```
    pub Transport {}

    impl Transport for Transport {
        fn send(&self, request: TransportRequest) -> BoxFuture<'static, Result<TransportResponse, Error>>;
    }
}

/// One scripted outcome of a [`ScriptedTransport`].
#[derive(Clone, Debug)]
pub struct MockReply {
    delay: Duration,
    outcome: MockOutcome,
}

#[derive(Clone, Debug)]
enum MockOutcome {
    Respond {
        status: u16,
        headers: Vec<(String, String)>,
        body: Bytes,
    },
    Fail(ErrorKind),
}

impl MockReply {
    /// A response with `status` and an empty body.
    pub fn status(status: u16) -> Self {
        MockReply {
            delay: Duration::ZERO,
            outcome: MockOutcome::Respond {
                status,
                headers: Vec::new(),
                body: Bytes::new(),
            },
        }
    }

    /// A JSON response.
    pub fn json(status: u16, body: impl Into<Bytes>) -> Self {
        MockReply::status(status)
            .header("content-type", "application/json")
            .body(body)
    }

    /// A transport failure of `kind` (connect refused, connection lost...).
    pub fn error(kind: ErrorKind) -> Self {
        MockReply {
            delay: Duration::ZERO,
            outcome: MockOutcome::Fail(kind),
        }
    }

    /// Adds a response header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        if let MockOutcome::Respond { headers, .. } = &mut self.outcome {
            headers.push((name.to_owned(), value.to_owned()));
        }
        self
    }

    /// Sets the response body.
    pub fn body(mut self, new_body: impl Into<Bytes>) -> Self {
        if let MockOutcome::Respond { body, .. } = &mut self.outcome {
            *body = new_body.into();
        }
        self
    }

    /// Waits `delay` (tokio time) before answering.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    fn into_result(self) -> Result<TransportResponse, Error> {
        match self.outcome {
            MockOutcome::Fail(kind) => Err(Error::new(kind, "scripted transport failure")),
            MockOutcome::Respond {
                status,
                headers,
                body,
            } => {
                let mut builder = http::Response::builder().status(status);
                for (name, value) in headers {
                    builder = builder.header(name, value);
                }
                let response = builder
                    .body(body)
                    .map_err(|e| Error::config("invalid scripted response").with_source(e))?;
                Ok(TransportResponse::new(response).with_first_byte(Instant::now()))
            }
        }
    }
}

/// A request a [`ScriptedTransport`] received, with when it arrived.
#[derive(Clone, Debug)]
pub struct SentRequest {
    /// The request as the pipeline prepared it.
    pub request: http::Request<Bytes>,
    /// When it was handed to the transport (tokio time).
    pub at: Instant,
}

/// A transport that plays a script of replies in order (the last one
/// repeats) and records every request. Delays use tokio time, so tests run
/// on a paused clock and see exact timings.
///
/// ```
/// use std::sync::Arc;
/// use conn_core::{Connector, Context, Request};
/// use conn_testkit::{MockReply, ScriptedTransport};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let transport = Arc::new(ScriptedTransport::new([MockReply::status(200)]));
/// let connector = Connector::builder("demo")
///     .base_url("https://api.example.com")
///     .transport(transport.clone())
///     .build()
///     .unwrap();
/// connector.call(Request::get("/ping"), Context::new()).await.unwrap();
/// assert_eq!(transport.requests()[0].request.uri(), "https://api.example.com/ping");
/// # }
/// ```
#[derive(Debug, Default)]
pub struct ScriptedTransport {
    state: Arc<Mutex<ScriptState>>,
}

#[derive(Debug, Default)]
struct ScriptState {
    script: VecDeque<MockReply>,
    last: Option<MockReply>,
    sent: Vec<SentRequest>,
}

impl ScriptedTransport {
    /// A transport that answers with `replies` in order.
    pub fn new(replies: impl IntoIterator<Item = MockReply>) -> Self {
        let transport = ScriptedTransport::default();
        transport.push(replies);
        transport
    }

    /// Appends replies to the script.
    pub fn push(&self, replies: impl IntoIterator<Item = MockReply>) {
        self.lock().script.extend(replies);
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<SentRequest> {
        self.lock().sent.clone()
    }

    /// How many requests were received.
    pub fn count(&self) -> usize {
        self.lock().sent.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ScriptState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Transport for ScriptedTransport {
    fn send(&self, request: TransportRequest) -> BoxFuture<'static, Result<TransportResponse, Error>> {
        let reply = {
            let mut state = self.lock();
            state.sent.push(SentRequest {
                request: request.request,
                at: Instant::now(),
            });
            let next = state.script.pop_front().or_else(|| state.last.clone());
            if let Some(reply) = &next {
                state.last = Some(reply.clone());
            }
            next
        };
        Box::pin(async move {
            let Some(reply) = reply else {
                return Err(Error::config("the scripted transport has no reply left"));
            };
            if !reply.delay.is_zero() {
                tokio::time::sleep(reply.delay).await;
            }
            reply.into_result()
        })
    }
}
