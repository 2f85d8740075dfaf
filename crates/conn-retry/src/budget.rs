//! `RetryBudget`: retries as a fraction of traffic, so an outage cannot
//! multiply load.

use std::sync::Mutex;

use tokio::time::Instant;

/// A token bucket that limits retries to `ratio` of recent calls, plus a
/// floor of `min_per_second` retries each second for low-traffic clients
/// (the design of Finagle's and Envoy's retry budgets; the AWS SDK's retry
/// quota is its cousin).
///
/// Every call deposits `ratio` of a token; every retry withdraws one, from
/// the deposits first, then from the floor's reserve (which refills at
/// `min_per_second` and holds at most one second's worth). Deposits are
/// capped (default 100 tokens) so a long quiet spell cannot fund a retry
/// storm later. With upstream failing every call, `n` calls therefore cause
/// at most `n × (1 + ratio) + min_per_second × (1 + seconds elapsed)`
/// attempts.
///
/// Share one budget across connectors by passing the same `Arc` to each
/// policy.
///
/// ```
/// use conn_retry::RetryBudget;
///
/// let budget = RetryBudget::new(0.2, 0); // 20% of traffic, no floor
/// for _ in 0..10 {
///     budget.deposit();
/// }
/// assert!(budget.try_withdraw());
/// assert!(budget.try_withdraw());
/// assert!(!budget.try_withdraw()); // 10 calls fund 2 retries
/// ```
#[derive(Debug)]
pub struct RetryBudget {
    /// Millionths of a token deposited per call: integers, so that ten
    /// deposits of 0.1 make exactly one token.
    ratio_micros: u64,
    min_per_second: f64,
    max_deposit_micros: u64,
    state: Mutex<State>,
}

const MICROS: u64 = 1_000_000;

#[derive(Debug)]
struct State {
    deposit_micros: u64,
    reserve: f64,
    refilled_at: Instant,
}

impl RetryBudget {
    /// A budget of `ratio` retries per call (0.1 = 10%) plus `min_per_second`.
    /// A negative or non-finite ratio is taken as 0.
    pub fn new(ratio: f64, min_per_second: u32) -> Self {
        let ratio = if ratio.is_finite() && ratio > 0.0 {
            ratio.min(1e6)
        } else {
            0.0
        };
        let min_per_second = f64::from(min_per_second);
        RetryBudget {
            ratio_micros: (ratio * MICROS as f64).round() as u64,
            min_per_second,
            max_deposit_micros: 100 * MICROS,
            state: Mutex::new(State {
                deposit_micros: 0,
                reserve: min_per_second,
                refilled_at: Instant::now(),
            }),
        }
    }

    /// Caps the tokens that deposits can accumulate (default 100).
    pub fn with_max_deposits(mut self, max: u32) -> Self {
        self.max_deposit_micros = u64::from(max) * MICROS;
        self
    }

    /// Records one call (its first attempt).
    pub fn deposit(&self) {
        let mut state = self.lock();
        state.deposit_micros = (state.deposit_micros + self.ratio_micros).min(self.max_deposit_micros);
    }

    /// Takes one retry token; `false` when the budget is exhausted.
    pub fn try_withdraw(&self) -> bool {
        let mut state = self.refilled();
        if state.deposit_micros >= MICROS {
            state.deposit_micros -= MICROS;
            true
        } else if state.reserve >= 1.0 {
            state.reserve -= 1.0;
            true
        } else {
            false
        }
    }

    /// Retry tokens available now (deposits and reserve, rounded down).
    pub fn available(&self) -> u64 {
        let state = self.refilled();
        state.deposit_micros / MICROS + state.reserve.floor() as u64
    }

    /// The state, with the floor's reserve refilled for the time passed.
    fn refilled(&self) -> std::sync::MutexGuard<'_, State> {
        let mut state = self.lock();
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(state.refilled_at).as_secs_f64();
        state.refilled_at = now;
        state.reserve = (state.reserve + elapsed * self.min_per_second).min(self.min_per_second);
        state
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is two numbers; a panic elsewhere cannot leave it inconsistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn the_floor_refills_over_time_but_never_beyond_one_second() {
        let budget = RetryBudget::new(0.0, 2);
        assert!(budget.try_withdraw());
        assert!(budget.try_withdraw());
        assert!(!budget.try_withdraw());
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(budget.try_withdraw());
        assert!(!budget.try_withdraw());
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(budget.available(), 2);
    }

    #[test]
    fn deposits_are_capped() {
        let budget = RetryBudget::new(1.0, 0).with_max_deposits(5);
        for _ in 0..1000 {
            budget.deposit();
        }
        assert_eq!(budget.available(), 5);
    }
}
