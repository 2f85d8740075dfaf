//! The runtime's own timer lag: on a machine shared with compilers, a tokio
//! timer can fire tens of milliseconds late whatever conn does. A probe
//! task sleeps 1 ms in a loop and records how late each wake-up was, so a
//! call that ends late can be held against what the runtime itself did at
//! that moment: only lateness beyond the runtime's lag is conn's.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const TICK: Duration = Duration::from_millis(1);

/// Wake-up lags of the probe, by time since the run started.
pub struct LagProbe {
    started: Instant,
    samples: Mutex<Vec<(Duration, Duration)>>,
}

impl LagProbe {
    pub fn new(started: Instant) -> LagProbe {
        LagProbe {
            started,
            samples: Mutex::new(Vec::new()),
        }
    }

    /// Sleeps and measures until `stop` is set.
    pub async fn run(&self, stop: &AtomicBool) {
        while !stop.load(Ordering::Relaxed) {
            let before = Instant::now();
            tokio::time::sleep(TICK).await;
            let lag = before.elapsed().saturating_sub(TICK);
            let at = before.duration_since(self.started);
            self.samples
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((at, lag));
        }
    }

    /// The worst wake-up lag among sleeps that started in `[at - window, at]`.
    pub fn worst_before(&self, at: Duration, window: Duration) -> Duration {
        let from = at.saturating_sub(window);
        self.samples
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|(when, _)| *when >= from && *when <= at)
            .map(|(_, lag)| *lag)
            .max()
            .unwrap_or_default()
    }

    /// The worst wake-up lag of the whole run.
    pub fn worst(&self) -> Duration {
        self.samples
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(_, lag)| *lag)
            .max()
            .unwrap_or_default()
    }
}
