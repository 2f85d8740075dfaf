//! What components see of a call in progress.

use std::time::Duration;

use tokio::time::Instant;

use crate::{Context, Deadline, Error, Request, ServerHints, TransportResponse};

/// The call a component is asked about: which connector, which request, for
/// whom, which attempt, and until when.
///
/// Components derive their keys from it (per connector, per endpoint, per
/// tenant) and must never wait past `deadline`. The pipeline builds it;
/// tests of a component build one with [`CallInfo::new`]:
///
/// ```
/// use std::time::Duration;
/// use conn_core::{CallInfo, Context, Deadline, Request};
///
/// let request = Request::get("/items?page=2");
/// let context = Context::new().tenant("acme");
/// let call = CallInfo::new("billing", &request, &context)
///     .attempt(2)
///     .deadline(Deadline::NONE)
///     .previous_delay(Some(Duration::from_millis(100)));
/// assert_eq!((call.connector, call.attempt), ("billing", 2));
/// assert_eq!(call.request.path(), "/items");
/// ```
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct CallInfo<'a> {
    /// The connector's name.
    pub connector: &'a str,
    /// The request as the caller built it (no credentials).
    pub request: &'a Request,
    /// The caller's context.
    pub context: &'a Context,
    /// 1-based attempt number as a retry policy counts it (auth replays
    /// after a 401 reuse the number of the attempt they replay).
    pub attempt: u32,
    /// When the call began.
    pub started: Instant,
    /// The effective deadline: the earlier of the context's deadline and the
    /// connector's total timeout.
    pub deadline: Deadline,
    /// The delay slept before this attempt, if it is a retry (decorrelated
    /// jitter and similar schedules build on it).
    pub previous_delay: Option<Duration>,
}

impl<'a> CallInfo<'a> {
    /// The first attempt of a call to `connector`, starting now, without a
    /// deadline.
    pub fn new(connector: &'a str, request: &'a Request, context: &'a Context) -> Self {
        Self::started_at(connector, request, context, Instant::now())
    }

    /// [`new`](Self::new) for a call that began at `started`, without a
    /// clock read (the pipeline knows when its call began).
    pub(crate) fn started_at(
        connector: &'a str,
        request: &'a Request,
        context: &'a Context,
        started: Instant,
    ) -> Self {
        CallInfo {
            connector,
            request,
            context,
            attempt: 1,
            started,
            deadline: Deadline::NONE,
            previous_delay: None,
        }
    }

    /// Sets the attempt number.
    pub fn attempt(mut self, attempt: u32) -> Self {
        self.attempt = attempt;
        self
    }

    /// Sets when the call began.
    pub fn started(mut self, started: Instant) -> Self {
        self.started = started;
        self
    }

    /// Sets the deadline.
    pub fn deadline(mut self, deadline: impl Into<Deadline>) -> Self {
        self.deadline = deadline.into();
        self
    }

    /// Sets the delay slept before this attempt.
    pub fn previous_delay(mut self, delay: Option<Duration>) -> Self {
        self.previous_delay = delay;
        self
    }

    /// Time left until the deadline (`None` when there is no deadline).
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline.remaining()
    }
}

/// How one attempt ended, as breakers and retry policies see it.
#[derive(Clone, Copy, Debug)]
pub struct AttemptOutcome<'a> {
    /// The response (any status), or the error of the attempt.
    pub result: Result<&'a TransportResponse, &'a Error>,
    /// Time from handing the request to the transport until the attempt ended.
    pub latency: Duration,
    /// What the response's headers said about waiting and quota (parsed once
    /// by the connector's [`HintParser`](crate::HintParser); empty without a response).
    pub hints: ServerHints,
}

impl AttemptOutcome<'_> {
    /// The response status, when there was a response.
    pub fn status(&self) -> Option<http::StatusCode> {
        self.result.ok().map(TransportResponse::status)
    }
}
