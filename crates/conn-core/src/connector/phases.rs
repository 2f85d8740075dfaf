//! The phases of one attempt, in the order they run:
//! `admit` (breaker, throttle) -> `prepare` (auth, wire request) ->
//! `transmit` (one timer for the attempt timeout and the deadline) ->
//! `settle` (hints, throttle and breaker feedback, the attempt's record) ->
//! `reauthorize` (a 401: refresh and replay) -> `decide` (retry policy),
//! whose [`Next`] the loop carries out.

use std::borrow::Cow;
use std::future::Future;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::FutureExt;
use http::header::HeaderValue;
use http::{HeaderMap, StatusCode};
use tokio::time::Instant;

use super::exchange::Exchange;
use super::pipeline::Pipeline;
use super::state::CallState;
use crate::telemetry::call::AttemptTelemetry;
use crate::{
    AttemptOutcome, AttemptRecord, AttemptResult, BodyLimit, CallInfo, Error, ErrorKind, Permit, Request,
    RetryDecision, ServerHints, TransportRequest, TransportResponse,
};

/// A call's successful end: the final response head (with its body when
/// buffered) and, for a streamed call, the body still arriving.
pub(crate) type Finished<B> = (http::Response<Bytes>, Option<B>);

/// What the loop does after an attempt: `reauthorize` and `decide` answer,
/// `run` only carries it out.
pub(crate) enum Next<B> {
    /// The credentials were refreshed after a 401: send again at once (not a retry).
    Replay,
    /// Sleep this long, then make the next attempt.
    RetryAfter(Duration),
    /// The call is over with this result.
    Finish(Result<Finished<B>, Error>),
}

/// An admitted attempt: the permits it holds until it ends, and its timing so far.
pub(crate) struct Admission {
    breaker: Permit,
    throttle: Permit,
    started: Instant,
    throttle_wait: Duration,
}

/// An attempt that went on the wire.
pub(crate) struct Transmitted<B> {
    pub(super) result: Result<TransportResponse, Error>,
    body: Option<B>,
    sent: Instant,
    done: Instant,
}

/// An attempt whose outcome every component has seen.
pub(crate) struct Settled<B> {
    result: Result<TransportResponse, Error>,
    body: Option<B>,
    hints: ServerHints,
    latency: Duration,
}

impl Admission {
    /// When the attempt began.
    pub(super) fn started(&self) -> Instant {
        self.started
    }

    /// How long it waited for the throttle.
    pub(super) fn throttle_wait(&self) -> Duration {
        self.throttle_wait
    }
}

impl Pipeline {
    /// The breaker first (an open circuit fails fast, without waiting for
    /// capacity), then the throttle, never past the deadline.
    pub(crate) async fn admit(
        &self,
        call: &CallInfo<'_>,
        telemetry: &impl AttemptTelemetry,
    ) -> Result<Admission, Error> {
        let started = Instant::now();
        let breaker = self
            .breaker
            .admit(call)
            .inspect_err(|err| telemetry.breaker_refused(err))?;
        let (throttle, throttle_wait) = match self.throttle.try_acquire(call) {
            // Admitted at once: no wait to measure.
            Some(now) => (now, Duration::ZERO),
            None => {
                let waited = Box::pin(
                    call.deadline
                        .within("waiting for the throttle", self.throttle.acquire(call)),
                )
                .await;
                (waited, started.elapsed())
            }
        };
        let throttle = throttle.inspect_err(|err| telemetry.throttle_refused(err))?;
        telemetry.throttled(throttle_wait);
        Ok(Admission {
            breaker,
            throttle,
            started,
            throttle_wait,
        })
    }

    /// Credentials on a fresh copy of the request (none when the strategy
    /// never changes one), then the wire request.
    pub(crate) async fn prepare(
        &self,
        state: &mut CallState<'_>,
        call: &CallInfo<'_>,
        path: &str,
        telemetry: &impl AttemptTelemetry,
    ) -> Result<TransportRequest, Error> {
        let outgoing = if self.auth.leaves_requests_unchanged() {
            Cow::Borrowed(call.request)
        } else {
            let mut copy = call.request.clone();
            match self.auth.try_authorize(&mut copy, call.context) {
                Some(done) => done?,
                // Boxed with the copy it authorizes: the wait is rare (a
                // token to fetch), and the attempt's future stays small.
                None => copy = Box::pin(self.authorize(call, copy)).await?,
            }
            Cow::Owned(copy)
        };
        if let Some(reason) = state.note_degraded(outgoing.degraded()) {
            telemetry.degraded(reason);
        }
        #[cfg_attr(not(feature = "trace-context"), allow(unused_mut))]
        let mut wire = self.wire_request(outgoing, path, &state.report.correlation_id)?;
        #[cfg(feature = "trace-context")]
        crate::telemetry::trace_context::inject(&mut wire, self.telemetry.trace_context_across_origins);
        telemetry.request_body(wire.request.body());
        Ok(wire)
    }

    /// The auth strategy's slow path, never past the deadline.
    async fn authorize(&self, call: &CallInfo<'_>, mut outgoing: Request) -> Result<Request, Error> {
        call.deadline
            .within("authorizing", self.auth.authorize(&mut outgoing, call.context))
            .await?;
        Ok(outgoing)
    }

    /// The attempt on the wire, under the nearer of its timeout and the
    /// deadline (for a streamed call: until the response head); an error
    /// when the deadline passed before it could be sent.
    ///
    /// Not an `async fn`: the limit is computed and the transport's future
    /// started here, so the future it answers is that sending future alone,
    /// without a second slot for the wire request it was made from (an
    /// attempt's future is copied whole when it is moved into the call's).
    pub(crate) fn transmit<X: Exchange>(
        &self,
        call: &CallInfo<'_>,
        wire: TransportRequest,
    ) -> Result<impl Future<Output = Transmitted<X::Body>> + Send + 'static, Error> {
        let limit = call
            .deadline
            .attempt_limit(call.request.attempt_timeout().or(self.attempt_timeout))?;
        let sent = limit.started();
        Ok(limit.run(X::send(&*self.transport, wire)).map(move |result| {
            let (result, body) = match result {
                Ok((response, body)) => (Ok(response), body),
                Err(err) => (Err(err), None),
            };
            Transmitted {
                result,
                body,
                sent,
                done: Instant::now(),
            }
        }))
    }

    /// Frees the throttle slot, parses the server's hints once, lets the
    /// throttle and the breaker learn the outcome, and records the attempt.
    pub(crate) fn settle<B>(
        &self,
        state: &mut CallState<'_>,
        call: &CallInfo<'_>,
        admission: Admission,
        transmitted: Transmitted<B>,
        telemetry: &impl AttemptTelemetry,
    ) -> Settled<B> {
        let Admission {
            breaker,
            throttle,
            started,
            throttle_wait,
        } = admission;
        let Transmitted {
            result,
            body,
            sent,
            done,
        } = transmitted;
        drop(throttle);
        let hints = match &result {
            Ok(response) => self.hints.read(response.headers(), SystemTime::now),
            Err(_) => ServerHints::default(),
        };
        let settled = Settled {
            result,
            body,
            hints,
            latency: done - sent,
        };
        self.throttle.observe(call, &settled.outcome());
        self.breaker.record(call, breaker, &settled.outcome());
        telemetry.answered(&settled.result);
        state.record(AttemptRecord {
            number: state.next_send(),
            started,
            sent,
            first_byte: settled.result.as_ref().ok().and_then(|r| r.first_byte),
            done,
            throttle_wait,
            result: match &settled.result {
                Ok(response) => AttemptResult::Status(response.status()),
                Err(err) => AttemptResult::Failed(err.kind()),
            },
            auth_replay: state.is_replay(),
            delay_after: None,
            hedge: false,
        });
        settled
    }

    /// A 401 (the attempt's `status`) is answered once per call by
    /// refreshing the credentials: `true` when they were renewed and the
    /// attempt is to be replayed (not a retry); any other answer goes on to
    /// [`decide`](Self::decide).
    pub(crate) async fn reauthorize(
        &self,
        state: &mut CallState<'_>,
        call: &CallInfo<'_>,
        status: Option<StatusCode>,
        telemetry: &impl AttemptTelemetry,
    ) -> Result<bool, Error> {
        if status != Some(StatusCode::UNAUTHORIZED) || !state.take_refresh() {
            return Ok(false);
        }
        // Boxed: rare, and the attempt's future stays small.
        let renewed = Box::pin(
            call.deadline
                .within("refreshing credentials", self.auth.refresh(call.context)),
        )
        .await?;
        if renewed {
            telemetry.replaying();
        }
        Ok(renewed)
    }

    /// The retry policy's answer, carried out only if its delay ends
    /// before the deadline; otherwise the call ends with this attempt.
    ///
    /// Not `async`: it waits for nothing, and the settled attempt it
    /// consumes (a few hundred bytes) is then passed by reference rather
    /// than copied into a future.
    pub(crate) fn decide<B>(
        &self,
        call: &CallInfo<'_>,
        settled: Settled<B>,
        telemetry: &impl AttemptTelemetry,
    ) -> Next<B> {
        let note = match self.retry.decide(call, &settled.outcome()) {
            RetryDecision::Retry { delay } if call.deadline.allows_wait(delay) => {
                telemetry.retry_scheduled(delay, &settled.outcome());
                return Next::RetryAfter(delay);
            }
            RetryDecision::Retry { .. } => {
                Some("no time left before the deadline for another attempt".into())
            }
            RetryDecision::GiveUp { reason } => Some(reason),
            RetryDecision::Stop => None,
        };
        let result = settled.finish();
        Next::Finish(match note {
            Some(note) => result.map_err(|err| err.with_note(&note)),
            None => result,
        })
    }

    /// The wire request of one attempt: the joined URI, default headers
    /// under the request's own, the correlation id.
    fn wire_request(
        &self,
        outgoing: Cow<'_, Request>,
        path: &str,
        correlation: &str,
    ) -> Result<TransportRequest, Error> {
        let uri = self.base.uri(path, &outgoing.query)?;
        let body_limit = outgoing.max_body_bytes();
        let (method, headers, body, credentials) = match outgoing {
            Cow::Owned(request) => (request.method, request.headers, request.body, request.credentials),
            Cow::Borrowed(request) => (
                request.method.clone(),
                // Most requests carry no headers: an empty map is made, not
                // cloned (a clone of an empty map still walks it).
                if request.headers.is_empty() {
                    HeaderMap::new()
                } else {
                    request.headers.clone()
                },
                request.body.clone(),
                request.credentials.clone(),
            ),
        };
        let mut headers = if self.default_headers.is_empty() {
            headers
        } else {
            let mut defaults = self.default_headers.clone();
            defaults.extend(headers);
            defaults
        };
        if let Some(name) = &self.correlation_header
            && !headers.contains_key(name)
        {
            let value = HeaderValue::from_str(correlation)
                .map_err(|_| Error::config("the correlation id is not a valid header value"))?;
            headers.insert(name.clone(), value);
        }
        let mut request = http::Request::new(body);
        if let Some(limit) = body_limit {
            request.extensions_mut().insert(BodyLimit(limit));
        }
        *request.method_mut() = method;
        *request.uri_mut() = uri;
        *request.headers_mut() = headers;
        Ok(TransportRequest { request, credentials })
    }
}

impl<B> Settled<B> {
    /// The outcome as retry policies, throttles and breakers see it.
    fn outcome(&self) -> AttemptOutcome<'_> {
        AttemptOutcome {
            result: self.result.as_ref(),
            latency: self.latency,
            hints: self.hints,
        }
    }

    pub(super) fn status(&self) -> Option<StatusCode> {
        self.result.as_ref().ok().map(TransportResponse::status)
    }

    /// How long the attempt was on the wire.
    pub(super) fn latency(&self) -> Duration {
        self.latency
    }

    /// The call's result from this, its last attempt: 1xx-3xx are the
    /// response, 4xx/5xx a classified error that keeps it.
    fn finish(self) -> Result<Finished<B>, Error> {
        let response = self.result?.response;
        let status = response.status();
        if ErrorKind::from_status(status).is_none() {
            return Ok((response, self.body));
        }
        let (parts, body) = response.into_parts();
        match Error::from_response(status, parts.headers, body) {
            Some(err) => Err(match self.hints.wait() {
                Some(after) => err.with_retry_after(after),
                None => err,
            }),
            None => unreachable!("from_status and from_response agree on what is an error"),
        }
    }
}
