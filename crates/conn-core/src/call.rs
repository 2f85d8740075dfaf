//! What components see of a call in progress.

use std::time::Duration;

use tokio::time::Instant;

use crate::{Context, Error, Request, ServerHints, TransportResponse};

/// The call a component is asked about: which connector, which request, for
/// whom, which attempt, and until when.
///
/// Components derive their keys from it (per connector, per endpoint, per
/// tenant) and must never wait past `deadline`.
#[derive(Clone, Copy, Debug)]
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
    pub deadline: Option<Instant>,
    /// The delay slept before this attempt, if it is a retry (decorrelated
    /// jitter and similar schedules build on it).
    pub previous_delay: Option<Duration>,
}

impl CallInfo<'_> {
    /// Time left until the deadline (`None` when there is no deadline).
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline.map(|d| d.saturating_duration_since(Instant::now()))
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
