//! The attempt loop: each attempt runs the phases in order, and the loop
//! only carries out what `decide` answered.

use tracing::Instrument;

use super::exchange::Exchange;
use super::phases::{Finished, Next};
use super::pipeline::Pipeline;
use super::state::CallState;
use crate::Error;
use crate::telemetry::call::{AttemptTelemetry, CallTelemetry};

impl Pipeline {
    /// Runs every attempt of one call and returns its final response
    /// (for a streamed call, its head and the body still arriving). The
    /// caller stamps the call's end (`CallState::end`).
    pub(crate) async fn run<X: Exchange>(
        &self,
        state: &mut CallState<'_>,
        telemetry: &impl CallTelemetry,
    ) -> Result<Finished<X::Body>, Error> {
        state.request.check()?;
        let path = self.base.join(state.request.endpoint())?;
        loop {
            let attempt = telemetry.attempt(state.next_send());
            let span = attempt.span();
            // A disabled span (telemetry off, or DEBUG filtered out, as in
            // most deployments) would only be entered and left at every poll.
            let next = if span.is_disabled() {
                self.try_attempt::<X>(state, &path, &attempt).await?
            } else {
                self.try_attempt::<X>(state, &path, &attempt)
                    .instrument(span)
                    .await?
            };
            match next {
                Next::Replay => state.replaying(),
                Next::RetryAfter(delay) => {
                    state.retrying(delay);
                    tokio::time::sleep(delay).await;
                }
                Next::Finish(result) => return result,
            }
        }
    }

    /// One attempt, phase by phase, in the documented order; when the
    /// hedging policy answers with a delay, `transmit` races a hedge after
    /// it and settles every attempt that finished (`hedge.rs`).
    async fn try_attempt<X: Exchange>(
        &self,
        state: &mut CallState<'_>,
        path: &str,
        telemetry: &impl AttemptTelemetry,
    ) -> Result<Next<X::Body>, Error> {
        let call = state.info();
        let admission = self.admit(&call, telemetry).await?;
        let wire = self.prepare(state, &call, path, telemetry).await?;
        let settled = match self.hedge_after(&call) {
            None => {
                let transmitted = self.transmit::<X>(&call, wire)?.await;
                self.settle(state, &call, admission, transmitted, telemetry)
            }
            // Boxed: the race holds two attempts, and every call's future
            // would otherwise be sized for it, hedged or not.
            Some(after) => {
                Box::pin(self.transmit_hedged::<X>(state, &call, admission, wire, after, telemetry)).await?
            }
        };
        self.observe_latency(&settled);
        if self
            .reauthorize(state, &call, settled.status(), telemetry)
            .await?
        {
            return Ok(Next::Replay);
        }
        Ok(self.decide(&call, settled, telemetry))
    }
}
