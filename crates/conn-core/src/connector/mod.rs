//! `Connector`: one integration, and the pipeline every call runs through.
//!
//! The modules form one chain: `builder` assembles a [`Pipeline`]
//! (`pipeline`); `run` is the attempt loop over the phases of `phases`;
//! `state` is what one call carries between attempts. Telemetry is chosen
//! here, once per call, and wraps the loop from outside.

pub(crate) mod builder;
mod phases;
mod pipeline;
mod run;
mod state;

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use tracing::Instrument;

use self::pipeline::Pipeline;
use self::state::CallState;
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
/// 5. **decide**: on a 401, once per call, `auth.refresh` and a replay that is
///    not a retry; otherwise `retry.decide`, whose delay is slept only if it
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
    pub async fn call(&self, request: Request, mut context: Context) -> Result<Response, Error> {
        let correlation_id = context.ensure_correlation_id();
        let mut state = CallState::new(&self.pipeline, &request, &context, correlation_id);
        let result = if self.pipeline.telemetry.enabled {
            self.run_with_telemetry(&mut state).await
        } else {
            self.pipeline.run(&mut state, &Silent).await
        };
        state.into_response(result)
    }

    /// The pipeline inside the call's span, counted in flight, its end
    /// recorded in the metrics.
    async fn run_with_telemetry(&self, state: &mut CallState<'_>) -> Result<http::Response<Bytes>, Error> {
        let pipeline = &*self.pipeline;
        let telemetry = Instrumented::start(
            pipeline.telemetry,
            pipeline.metrics(),
            &pipeline.name,
            pipeline.base.authority().host(),
            &state.report,
            state.context.tenant_id(),
        );
        let span = telemetry.span().clone();
        let result = pipeline.run(state, &telemetry).instrument(span).await;
        telemetry.finish(&state.report, state.context.tenant_id(), result.as_ref());
        result
    }

    /// Runs the call, then normalizes the body into a [`Document`].
    pub async fn call_document(
        &self,
        request: Request,
        context: Context,
    ) -> Result<(Document, Response), Error> {
        let response = self.call(request, context).await?;
        match self.pipeline.normalizer.normalize(&response) {
            Ok(document) => Ok((document, response)),
            Err(err) => Err(err.with_report(response.report().clone())),
        }
    }

    /// Runs the call and decodes the normalized body into `T`.
    pub async fn call_as<T: DeserializeOwned>(&self, request: Request, context: Context) -> Result<T, Error> {
        let (document, response) = self.call_document(request, context).await?;
        document
            .decode()
            .map_err(|err| err.with_report(response.report().clone()))
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
