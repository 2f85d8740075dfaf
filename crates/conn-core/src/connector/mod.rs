//! `Connector`: one integration, and the pipeline every call runs through.
//!
//! The modules form one chain: `builder` assembles a [`Pipeline`]
//! (`pipeline`); `run` is the attempt loop over the phases of `phases`;
//! `state` is what one call carries between attempts; `hedging` holds the
//! hedging settings the pipeline keeps, `hedge` the race that `transmit`
//! becomes with them. Telemetry is chosen
//! here, once per call, and wraps the loop from outside.

pub(crate) mod builder;
mod exchange;
mod hedge;
pub(crate) mod hedging;
mod phases;
mod pipeline;
mod run;
mod state;
mod streaming;

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use futures_util::FutureExt;
use serde::de::DeserializeOwned;
use tracing::Instrument;

use self::exchange::{Buffered, Exchange, Streamed};
use self::phases::Finished;
use self::pipeline::Pipeline;
use self::state::CallState;
pub use self::streaming::StreamingResponse;
use crate::telemetry::call::{Instrumented, Silent};
use crate::{BaseUrl, Context, Document, Error, Request, Response};

/// One integration with one API: a base URL plus the components every call
/// runs through, in this fixed order for each attempt (the phase names are
/// the pipeline's own, see `docs/architecture.md`):
///
/// 1. **admit**: `breaker.admit` (an open circuit fails fast), then
///    `throttle.acquire` (waits for capacity, never past the deadline);
/// 2. **prepare**: `auth.authorize` adds credentials to a fresh copy of the
///    request, which becomes the wire request;
/// 3. **transmit**: `transport.send` under one timer, the nearer of the
///    per-attempt timeout and the deadline;
/// 4. **settle**: server hints parsed once from the response, then
///    `throttle.observe` and `breaker.record`, and the attempt's record;
/// 5. **reauthorize**: on a 401, once per call, `auth.refresh` and a replay
///    that is not a retry;
/// 6. **decide**: otherwise `retry.decide`, whose delay is slept only if it
///    ends before the deadline.
///
/// The final status decides the result: 1xx-3xx are `Ok`, 4xx/5xx become a
/// classified [`Error`] that keeps the response. `Connector` is cheap to clone
/// (an `Arc` inside) and is shared freely across tasks.
///
/// ```no_run
/// use std::sync::Arc;
/// use std::time::Duration;
/// use conn_core::{Connector, Context, Request};
/// # fn transport() -> Arc<dyn conn_core::Transport> { unimplemented!() }
///
/// # async fn demo() -> Result<(), conn_core::Error> {
/// let connector = Connector::builder("billing")
///     .base_url("https://api.billing.example/v1")
///     .transport(transport())
///     .attempt_timeout(Duration::from_secs(5))
///     .build()?;
///
/// let response = connector.call(Request::get("/invoices"), Context::new().tenant("acme")).await?;
/// println!("{}", response.report());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Connector {
    pipeline: Arc<Pipeline>,
}

impl Connector {
    /// The connector's name.
    pub fn name(&self) -> &str {
        &self.pipeline.name
    }

    /// The base URL every endpoint is joined onto.
    pub fn base_url(&self) -> &BaseUrl {
        &self.pipeline.base
    }

    /// Runs `request` through the pipeline and returns the final response.
    ///
    /// Errors carry the attempt count, the correlation id and the
    /// [`CallReport`](crate::CallReport); a final 4xx/5xx status is an error
    /// of the matching kind.
    ///
    /// (Written as a function returning the call's future rather than an
    /// `async fn`, which would wrap it in one more future holding a second
    /// copy of the request.)
    pub fn call(
        &self,
        request: Request,
        context: Context,
    ) -> impl Future<Output = Result<Response, Error>> + Send + '_ {
        self.exchange::<Buffered>(request, context)
    }

    /// Runs `request` through the pipeline up to the response head, and
    /// hands the body over as a [`BodyStream`](crate::BodyStream) while it arrives.
    ///
    /// The head goes through the same phases as [`call`](Self::call):
    /// breaker, throttle, auth, retries (only before the first body byte),
    /// 401 refresh, and the final status decides the result (an error
    /// status is read whole, bounded, and fails the call as usual). The
    /// attempt timeout covers the head only; the body is bounded by the
    /// transport's size limit (or the request's
    /// [`body_limit`](Request::body_limit)) and its throughput guard, and
    /// memory stays bounded by the chunk size when the transport streams
    /// (the hyper transport does; the default of
    /// [`Transport::send_streaming`](crate::Transport::send_streaming)
    /// buffers). An error after the head ends the stream and says how many
    /// bytes had arrived; it is not retried.
    ///
    /// ```no_run
    /// use conn_core::{Connector, Context, Request};
    ///
    /// # async fn demo(connector: Connector) -> Result<(), conn_core::Error> {
    /// let response = connector.call_stream(Request::get("/export"), Context::new()).await?;
    /// println!("{}", response.report());
    /// let mut body = response.into_body();
    /// while let Some(chunk) = body.next_chunk().await {
    ///     let chunk = chunk?; // write it somewhere
    /// #   let _ = chunk;
    /// }
    /// # Ok(()) }
    /// ```
    pub fn call_stream(
        &self,
        request: Request,
        context: Context,
    ) -> impl Future<Output = Result<StreamingResponse, Error>> + Send + '_ {
        self.exchange::<Streamed>(request, context)
    }

    /// One call with the exchange `X`, telemetry chosen once.
    async fn exchange<X: Exchange>(
        &self,
        request: Request,
        mut context: Context,
    ) -> Result<X::Output, Error> {
        let correlation_id = context.ensure_correlation_id();
        let mut state = CallState::new(&self.pipeline, &request, &context, correlation_id);
        let result = if self.pipeline.telemetry.enabled {
            self.run_with_telemetry::<X>(&mut state).await
        } else {
            let result = self.pipeline.run::<X>(&mut state, &Silent).await;
            state.end();
            result
        };
        match result {
            Ok((response, body)) => Ok(X::output(state.into_response(response), body)),
            Err(err) => Err(state.into_error(err)),
        }
    }

    /// The pipeline inside the call's span, counted in flight, its end
    /// recorded in the metrics.
    async fn run_with_telemetry<X: Exchange>(
        &self,
        state: &mut CallState<'_>,
    ) -> Result<Finished<X::Body>, Error> {
        let pipeline = &*self.pipeline;
        let telemetry = Instrumented::start(
            pipeline.telemetry,
            pipeline.metrics(),
            &pipeline.name,
            pipeline.base.host(),
            &state.report,
            state.context.tenant_id(),
        );
        let span = telemetry.span().clone();
        // Entering a disabled span at every poll buys nothing (see `run.rs`).
        let result = if span.is_disabled() {
            pipeline.run::<X>(state, &telemetry).await
        } else {
            pipeline.run::<X>(state, &telemetry).instrument(span).await
        };
        state.end();
        let outcome = result.as_ref().map(|(response, _)| response);
        telemetry.finish(&state.report, state.context.tenant_id(), outcome);
        result
    }

    /// Runs the call, then normalizes the body into a [`Document`].
    ///
    /// (Like [`call`](Self::call), the call's future with a step after it,
    /// not a future around it: no second copy of the request.)
    pub fn call_document(
        &self,
        request: Request,
        context: Context,
    ) -> impl Future<Output = Result<(Document, Response), Error>> + Send + '_ {
        self.call(request, context).map(move |result| {
            let response = result?;
            match self.normalize(&response) {
                Ok(document) => Ok((document, response)),
                Err(err) => Err(err.with_report(response.report().clone())),
            }
        })
    }

    /// Normalizes a response with the connector's normalizer, as
    /// [`call_document`](Self::call_document) does: for code that calls
    /// first and decides afterwards whether the body is worth parsing (a
    /// poller skipping a 304).
    pub fn normalize(&self, response: &Response) -> Result<Document, Error> {
        self.pipeline.normalizer.normalize(response)
    }

    /// Runs the call and decodes the normalized body into `T`.
    pub fn call_as<T: DeserializeOwned>(
        &self,
        request: Request,
        context: Context,
    ) -> impl Future<Output = Result<T, Error>> + Send + '_ {
        self.call_document(request, context).map(|result| {
            let (document, response) = result?;
            document
                .decode()
                .map_err(|err| err.with_report(response.report().clone()))
        })
    }
}

impl fmt::Debug for Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pipeline = &*self.pipeline;
        f.debug_struct("Connector")
            .field("name", &pipeline.name)
            .field("base", &pipeline.base)
            .field("attempt_timeout", &pipeline.attempt_timeout)
            .field("total_timeout", &pipeline.total_timeout)
            .finish_non_exhaustive()
    }
}
