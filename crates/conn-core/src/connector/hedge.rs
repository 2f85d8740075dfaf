//! Hedged requests: the `transmit` phase as a race between a slow attempt
//! and a second one sent after the `Hedging` delay (`hedging.rs`).
//!
//! The race is used only when `Hedging` is set and the request is a
//! read; everything around it (admit, prepare, settle, reauthorize, decide) stays as it
//! is, and the loop still carries out what `decide` answers.

use std::future::Future;
use std::pin::{Pin, pin};
use std::task::Poll;
use std::time::Duration;

use http::Method;
use tokio::time::Instant;

use super::exchange::Exchange;
use super::phases::{Admission, Settled, Transmitted};
use super::pipeline::Pipeline;
use super::state::CallState;
use crate::telemetry::call::AttemptTelemetry;
use crate::{AttemptRecord, AttemptResult, BodyLimit, CallInfo, Error, ErrorKind, TransportRequest};

/// Which of the two attempts finished first.
enum Leg<A, B> {
    First(A),
    Second(B),
}

/// Polls both futures and answers with the first to finish; the other is
/// left where it was, for the caller to await or drop.
async fn first_of<A: Future, B: Future>(mut a: Pin<&mut A>, mut b: Pin<&mut B>) -> Leg<A::Output, B::Output> {
    std::future::poll_fn(|cx| {
        if let Poll::Ready(out) = a.as_mut().poll(cx) {
            return Poll::Ready(Leg::First(out));
        }
        if let Poll::Ready(out) = b.as_mut().poll(cx) {
            return Poll::Ready(Leg::Second(out));
        }
        Poll::Pending
    })
    .await
}

impl Pipeline {
    /// The hedging policy's answer for this attempt: after how long a
    /// second attempt may race it (`None`: not hedged).
    pub(crate) fn hedge_after(&self, call: &CallInfo<'_>) -> Option<Duration> {
        let hedging = self.hedging.as_ref()?;
        let read = matches!(
            *call.request.method(),
            Method::GET | Method::HEAD | Method::OPTIONS
        );
        (read && call.request.is_idempotent()).then(|| hedging.delay())
    }

    /// Lets the hedging policy learn an attempt's latency.
    pub(crate) fn observe_latency<B>(&self, settled: &Settled<B>) {
        if let Some(hedging) = &self.hedging {
            hedging.observe(settled.latency());
        }
    }

    /// `transmit` as a race: the attempt alone for `after`, then, if the
    /// retry policy grants a hedge, a second attempt (admitted by the
    /// breaker and the throttle) against it. Every attempt that finished is
    /// settled (the breaker and the report see it); an attempt that lost
    /// the race is cancelled and recorded as such.
    pub(crate) async fn transmit_hedged<X: Exchange>(
        &self,
        state: &mut CallState<'_>,
        call: &CallInfo<'_>,
        admission: Admission,
        wire: TransportRequest,
        after: Duration,
        telemetry: &impl AttemptTelemetry,
    ) -> Result<Settled<X::Body>, Error> {
        let copy = copy_wire(&wire);
        let first_sent = Instant::now();
        let mut first = pin!(self.transmit::<X>(call, wire)?);
        let transmitted = match tokio::time::timeout(after, first.as_mut()).await {
            Ok(transmitted) => return Ok(self.settle(state, call, admission, transmitted, telemetry)),
            Err(_) if !self.retry.allow_hedge(call) => {
                telemetry.hedged("refused");
                return Ok(self.settle(state, call, admission, first.await, telemetry));
            }
            Err(_) => {
                let hedge_started = Instant::now();
                let mut second = pin!(async {
                    let admission = self.admit(call, telemetry).await?;
                    let transmitted = self.transmit::<X>(call, copy)?.await;
                    Ok::<_, Error>((admission, transmitted))
                });
                match first_of(first.as_mut(), second.as_mut()).await {
                    Leg::First(transmitted) => {
                        if transmitted.is_good_answer() {
                            let settled = self.settle(state, call, admission, transmitted, telemetry);
                            record_cancelled(state, cancelled(hedge_started, true));
                            telemetry.hedged("lost");
                            return Ok(settled);
                        }
                        // The first failed: it counts, and the hedge may still answer.
                        let settled = self.settle(state, call, admission, transmitted, telemetry);
                        match second.await {
                            Ok((admission, transmitted)) => {
                                let settled = self.settle(state, call, admission, transmitted, telemetry);
                                state.mark_last_hedge();
                                telemetry.hedged(if settled.is_good_answer() { "won" } else { "failed" });
                                return Ok(settled);
                            }
                            // Not admitted (open circuit, throttle, deadline): the first's outcome stands.
                            Err(_) => {
                                telemetry.hedged("refused");
                                return Ok(settled);
                            }
                        }
                    }
                    Leg::Second(Ok((hedge_admission, transmitted))) => {
                        if transmitted.is_good_answer() {
                            // The first is cancelled: its future and permits are dropped here.
                            record_cancelled(state, cancelled_first(&admission, first_sent));
                            drop(admission);
                            let settled = self.settle(state, call, hedge_admission, transmitted, telemetry);
                            state.mark_last_hedge();
                            telemetry.hedged("won");
                            return Ok(settled);
                        }
                        self.settle(state, call, hedge_admission, transmitted, telemetry);
                        state.mark_last_hedge();
                        telemetry.hedged("failed");
                        first.await
                    }
                    Leg::Second(Err(_)) => {
                        telemetry.hedged("refused");
                        first.await
                    }
                }
            }
        };
        Ok(self.settle(state, call, admission, transmitted, telemetry))
    }
}

impl<B> Transmitted<B> {
    /// An answer worth keeping: a response that is not 408, 429 or 5xx.
    fn is_good_answer(&self) -> bool {
        is_good(self.result.as_ref().ok().map(|r| r.status()))
    }
}

impl<B> Settled<B> {
    fn is_good_answer(&self) -> bool {
        is_good(self.status())
    }
}

fn is_good(status: Option<http::StatusCode>) -> bool {
    status.is_some_and(|s| !s.is_server_error() && s != http::StatusCode::TOO_MANY_REQUESTS && s != 408)
}

/// Adds a cancelled attempt to the report, numbered as the next send.
fn record_cancelled(state: &mut CallState<'_>, mut record: AttemptRecord) {
    record.number = state.next_send();
    state.record(record);
}

/// The record of the first attempt, cancelled because its hedge answered.
fn cancelled_first(admission: &Admission, sent: Instant) -> AttemptRecord {
    let mut record = cancelled(admission.started(), false);
    record.sent = sent;
    record.throttle_wait = admission.throttle_wait();
    record
}

/// The record of an attempt cancelled because the other one answered.
fn cancelled(started: Instant, hedge: bool) -> AttemptRecord {
    AttemptRecord {
        number: 0, // numbered by `CallState::record`
        started,
        sent: started,
        first_byte: None,
        done: Instant::now(),
        throttle_wait: Duration::ZERO,
        result: AttemptResult::Failed(ErrorKind::Cancelled),
        auth_replay: false,
        delay_after: None,
        hedge,
    }
}

/// The same wire request again, for the hedge (the first one's credentials:
/// both attempts are one attempt of the call).
fn copy_wire(wire: &TransportRequest) -> TransportRequest {
    let original = &wire.request;
    let mut request = http::Request::new(original.body().clone());
    *request.method_mut() = original.method().clone();
    *request.uri_mut() = original.uri().clone();
    *request.version_mut() = original.version();
    *request.headers_mut() = original.headers().clone();
    if let Some(limit) = original.extensions().get::<BodyLimit>() {
        request.extensions_mut().insert(*limit);
    }
    TransportRequest {
        request,
        credentials: wire.credentials.clone(),
    }
}
