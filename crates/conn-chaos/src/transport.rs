//! The wrapper itself: decide per attempt, from seeded randomness, whether
//! to delay it and which fault (if any) replaces it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use conn_core::component::random;
use conn_core::{BoxFuture, Error, Transport, TransportRequest, TransportResponse};

use crate::{ChaosStats, ChaosSwitch, Fault, Faults, StatsSnapshot, Target, inject, release};

/// A [`Transport`] that injects faults into the attempts it forwards to
/// another transport; see the [crate documentation](crate).
pub struct ChaosTransport {
    inner: Arc<dyn Transport>,
    plan: RwLock<Arc<Plan>>,
    switch: ChaosSwitch,
    stats: Arc<ChaosStats>,
    seed: u64,
    draws: AtomicU64,
}

/// The faults and their target, swapped together at run time.
#[derive(Debug)]
struct Plan {
    faults: Faults,
    target: Target,
}

impl std::fmt::Debug for ChaosTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChaosTransport")
            .field("enabled", &self.switch.is_enabled())
            .field("plan", &*self.current())
            .finish_non_exhaustive()
    }
}

/// Builds a [`ChaosTransport`]; off, with no faults, until told otherwise.
pub struct ChaosTransportBuilder {
    inner: Arc<dyn Transport>,
    faults: Faults,
    target: Target,
    switch: Option<ChaosSwitch>,
    enabled: bool,
    seed: Option<u64>,
    release_reason: Option<String>,
}

impl ChaosTransport {
    /// Starts a builder around the transport that does the real work.
    pub fn builder(inner: Arc<dyn Transport>) -> ChaosTransportBuilder {
        ChaosTransportBuilder {
            inner,
            faults: Faults::none(),
            target: Target::all(),
            switch: None,
            enabled: false,
            seed: None,
            release_reason: None,
        }
    }

    /// The handle that turns injection on and off.
    pub fn switch(&self) -> ChaosSwitch {
        self.switch.clone()
    }

    /// What was injected so far.
    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }

    /// Replaces the fault mix at run time (checked first; on error the old
    /// mix stays).
    pub fn set_faults(&self, faults: Faults) -> Result<(), Error> {
        faults.validate()?;
        let target = self.current().target.clone();
        self.replace(Plan { faults, target });
        Ok(())
    }

    /// Replaces the target at run time.
    pub fn set_target(&self, target: Target) {
        let faults = self.current().faults.clone();
        self.replace(Plan { faults, target });
    }

    fn current(&self) -> Arc<Plan> {
        self.plan.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn replace(&self, plan: Plan) {
        *self.plan.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(plan);
    }

    /// A uniform draw in `[0, 1)`, reproducible from the seed and the number
    /// of draws so far.
    fn draw(&self) -> f64 {
        let n = self.draws.fetch_add(1, Ordering::Relaxed);
        random::unit_from(random::splitmix64(self.seed ^ random::splitmix64(n)))
    }
}

impl ChaosTransportBuilder {
    /// The fault mix (none unless set).
    pub fn faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }

    /// Which attempts may be touched (all unless set).
    pub fn target(mut self, target: Target) -> Self {
        self.target = target;
        self
    }

    /// Injects from the start. Without this the transport starts off and
    /// waits for its [`switch`](ChaosTransport::switch).
    pub fn enabled(mut self, on: bool) -> Self {
        self.enabled = on;
        self
    }

    /// Shares an existing switch (one switch for several connectors' chaos);
    /// [`enabled`](Self::enabled) then sets that switch at build.
    pub fn switch(mut self, switch: ChaosSwitch) -> Self {
        self.switch = Some(switch);
        self
    }

    /// Draws from a fixed seed, so a sequence of attempts meets the same
    /// faults on every run; without it each process draws differently.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Allows building in a release binary, saying why (a game day on an
    /// optimised staging build). Without it, [`build`](Self::build) fails
    /// when `debug_assertions` are off.
    pub fn allow_in_release(mut self, reason: impl Into<String>) -> Self {
        self.release_reason = Some(reason.into());
        self
    }

    /// Checks the mix and the release guard, and builds the transport.
    pub fn build(self) -> Result<ChaosTransport, Error> {
        release::check(cfg!(debug_assertions), self.release_reason.as_deref())?;
        self.faults.validate()?;
        let switch = self.switch.unwrap_or_default();
        if self.enabled {
            switch.enable();
        }
        Ok(ChaosTransport {
            inner: self.inner,
            plan: RwLock::new(Arc::new(Plan {
                faults: self.faults,
                target: self.target,
            })),
            switch,
            stats: Arc::default(),
            seed: self.seed.unwrap_or_else(random::next_u64),
            draws: AtomicU64::new(0),
        })
    }
}

impl Transport for ChaosTransport {
    fn send(&self, request: TransportRequest) -> BoxFuture<'static, Result<TransportResponse, Error>> {
        self.stats.attempt();
        let plan = self.current();
        if !self.switch.is_enabled() || !plan.target.matches(&request.request) {
            return self.inner.send(request);
        }
        self.stats.targeted();
        // Three draws per targeted attempt, always, so one attempt's fault
        // does not shift the draws of the next ones.
        let (hit, position, which) = (self.draw(), self.draw(), self.draw());
        let delay = plan.faults.delay(hit, position);
        let fault = plan.faults.pick(which);
        if delay.is_some() {
            self.stats.delayed();
        }
        if let Some(fault) = fault {
            self.stats.fault(fault);
        }
        let inner = self.inner.clone();
        let faults = plan.faults.clone();
        Box::pin(async move {
            // The delay comes first, as a slow network or a queue in front of
            // the upstream would add it: nothing is sent before it ends.
            if let Some(delay) = delay {
                tokio::time::sleep(delay).await;
            }
            // Only a malformed body needs the upstream's answer; the other
            // faults stand in for an upstream that never answered.
            match fault {
                None => inner.send(request).await,
                Some(Fault::Malformed) => inner.send(request).await.map(inject::corrupt),
                Some(Fault::Reset) => Err(inject::reset()),
                Some(Fault::Timeout) => {
                    tokio::time::sleep(faults.stall).await;
                    Err(inject::timeout())
                }
                Some(status_fault @ (Fault::ServerError | Fault::RateLimited)) => {
                    inject::status_response(status_fault, faults.retry_after)
                }
            }
        })
    }
}
