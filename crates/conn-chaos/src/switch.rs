//! The run-time switch: a game day is started and, above all, stopped
//! without a deploy.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A cheap, cloneable handle that turns injection on and off for every
/// [`ChaosTransport`](crate::ChaosTransport) sharing it (clones see the
/// same state). Off, the transport forwards every request untouched.
///
/// ```
/// use conn_chaos::ChaosSwitch;
///
/// let switch = ChaosSwitch::off();
/// let admin_handle = switch.clone();
/// admin_handle.enable();
/// assert!(switch.is_enabled());
/// admin_handle.disable();
/// assert!(!switch.is_enabled());
/// ```
#[derive(Clone, Debug, Default)]
pub struct ChaosSwitch(Arc<AtomicBool>);

impl ChaosSwitch {
    /// A switch in the off position.
    pub fn off() -> Self {
        ChaosSwitch::default()
    }

    /// Starts injecting.
    pub fn enable(&self) {
        self.set(true);
    }

    /// Stops injecting; attempts already delayed or hanging finish as injected.
    pub fn disable(&self) {
        self.set(false);
    }

    /// Turns injection on or off.
    pub fn set(&self, on: bool) {
        self.0.store(on, Ordering::Relaxed);
    }

    /// Whether injection is on.
    pub fn is_enabled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}
