//! `CallState`: what one call carries from attempt to attempt.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use super::pipeline::Pipeline;
use crate::{AttemptRecord, CallInfo, CallOutcome, CallReport, Context, Deadline, Error, Request, Response};

/// The request, its context, its deadline, and the counters the phases
/// update: the attempt number a retry policy sees, whether the one 401
/// refresh was used, and the report.
pub(crate) struct CallState<'a> {
    connector: &'a str,
    pub(crate) request: &'a Request,
    pub(crate) context: &'a Context,
    pub(crate) deadline: Deadline,
    /// The attempt number as a retry policy counts it: auth replays reuse it.
    attempt: u32,
    previous_delay: Option<Duration>,
    /// Whether the call's one credential refresh after a 401 was used.
    refreshed: bool,
    /// Whether the next attempt replays the last one after that refresh.
    replay: bool,
    pub(crate) report: CallReport,
}

impl<'a> CallState<'a> {
    /// A call starting now; its deadline is the earlier of the context's and
    /// the connector's total timeout.
    pub(crate) fn new(
        pipeline: &'a Pipeline,
        request: &'a Request,
        context: &'a Context,
        correlation_id: Arc<str>,
    ) -> Self {
        let started = Instant::now();
        let total = pipeline.total_timeout.and_then(|t| started.checked_add(t));
        CallState {
            connector: &pipeline.name,
            request,
            context,
            deadline: Deadline::from(context.deadline_at()).earliest(total),
            attempt: 1,
            previous_delay: None,
            refreshed: false,
            replay: false,
            report: CallReport {
                connector: pipeline.name.clone(),
                method: request.method().clone(),
                endpoint: request.path().to_owned(),
                correlation_id,
                started,
                total: Duration::ZERO,
                throttle_wait: Duration::ZERO,
                attempts: smallvec::SmallVec::new(),
                outcome: CallOutcome::Success,
                degraded: None,
            },
        }
    }

    /// What the components are told about the next attempt.
    pub(crate) fn info(&self) -> CallInfo<'a> {
        CallInfo::started_at(self.connector, self.request, self.context, self.report.started)
            .attempt(self.attempt)
            .deadline(self.deadline)
            .previous_delay(self.previous_delay)
    }

    /// The 1-based number of the next send, replays included.
    pub(crate) fn next_send(&self) -> u32 {
        u32::try_from(self.report.attempts.len()).map_or(u32::MAX, |n| n.saturating_add(1))
    }

    /// Whether the next attempt replays the last one after a refresh.
    pub(crate) fn is_replay(&self) -> bool {
        self.replay
    }

    /// Uses the call's one credential refresh; false when it was used already.
    pub(crate) fn take_refresh(&mut self) -> bool {
        !std::mem::replace(&mut self.refreshed, true)
    }

    /// Notes whether the attempt goes out with degraded credentials; returns
    /// the reason when the call was not degraded before (reported once).
    pub(crate) fn note_degraded(&mut self, reason: Option<&'static str>) -> Option<&'static str> {
        let newly = reason.filter(|_| self.report.degraded.is_none());
        self.report.degraded = reason;
        newly
    }

    /// Adds an attempt's record and its throttle wait to the report.
    pub(crate) fn record(&mut self, record: AttemptRecord) {
        self.report.throttle_wait += record.throttle_wait;
        self.report.attempts.push(record);
    }

    /// Marks the last recorded attempt as a hedge.
    pub(crate) fn mark_last_hedge(&mut self) {
        if let Some(last) = self.report.attempts.last_mut() {
            last.hedge = true;
        }
    }

    /// The next attempt replays the last one (not a retry).
    pub(crate) fn replaying(&mut self) {
        self.replay = true;
    }

    /// The next attempt is a retry after `delay`.
    pub(crate) fn retrying(&mut self, delay: Duration) {
        if let Some(last) = self.report.attempts.last_mut() {
            last.delay_after = Some(delay);
        }
        self.attempt = self.attempt.saturating_add(1);
        self.previous_delay = Some(delay);
        self.replay = false;
    }

    /// Stamps the call's total time.
    pub(crate) fn end(&mut self) {
        self.report.total = self.report.started.elapsed();
    }

    /// The call's response, with the report attached.
    pub(crate) fn into_response(self, response: http::Response<Bytes>) -> Response {
        Response::new(response, self.report)
    }

    /// The call's error, with the report attached.
    pub(crate) fn into_error(mut self, err: Error) -> Error {
        self.report.outcome = CallOutcome::Failed(err.kind());
        err.with_report(self.report)
    }
}
