//! `Pipeline`: what a connector is made of, shared by all its calls.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use http::HeaderMap;
use http::header::HeaderName;

use crate::telemetry::metrics::ConnectorMetrics;
use crate::{
    AuthStrategy, BaseUrl, Breaker, HintParser, Normalizer, RetryPolicy, Telemetry, Throttle, Transport,
};

/// A connector's settings and components. The phases of an attempt are its
/// methods (`phases.rs`), and `run.rs` loops over them.
pub(crate) struct Pipeline {
    pub(crate) name: Arc<str>,
    pub(crate) base: BaseUrl,
    pub(crate) default_headers: HeaderMap,
    pub(crate) attempt_timeout: Option<Duration>,
    pub(crate) total_timeout: Option<Duration>,
    pub(crate) correlation_header: Option<HeaderName>,
    pub(crate) hints: HintParser,
    pub(crate) telemetry: Telemetry,
    /// Metric handles, registered on the first instrumented call.
    pub(crate) metrics: OnceLock<ConnectorMetrics>,
    pub(crate) transport: Arc<dyn Transport>,
    pub(crate) auth: Arc<dyn AuthStrategy>,
    pub(crate) retry: Arc<dyn RetryPolicy>,
    pub(crate) throttle: Arc<dyn Throttle>,
    pub(crate) breaker: Arc<dyn Breaker>,
    pub(crate) normalizer: Arc<dyn Normalizer>,
    /// When a slow read is raced by a second attempt (off by default).
    pub(crate) hedging: Option<super::hedging::Hedging>,
}

impl Pipeline {
    /// The metric handles, registered on first use.
    pub(crate) fn metrics(&self) -> &ConnectorMetrics {
        self.metrics.get_or_init(|| ConnectorMetrics::new(&self.name))
    }
}
