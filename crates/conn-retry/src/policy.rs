//! `Retry`: the policy, and its builder.

use std::sync::Arc;
use std::time::Duration;

use conn_core::{AttemptOutcome, CallInfo, RetryDecision, RetryPolicy};
use tokio::time::Instant;

use crate::classify::{Classifier, RetryReason, default_reason, nothing_sent};
use crate::random::{random_seed, unit};
use crate::{Backoff, Jitter, RetryBudget};

/// Distinct random streams per use, so hint jitter and backoff jitter do not correlate.
const BACKOFF_STREAM: u64 = 1;
const HINT_STREAM: u64 = 2;

/// conn's retry policy: classification, backoff with jitter, server hints,
/// a retry budget and time limits. Build it with [`Retry::builder`]; share it
/// (in an `Arc`) across every call of a connector.
///
/// Per attempt, in order: the budget is credited on each call's first
/// attempt; an outcome not worth retrying, a request that is not idempotent
/// (unless nothing was sent), or the last allowed attempt stops; the backoff
/// delay is computed; a server hint (`Retry-After`, RateLimit reset, vendor
/// reset) replaces it when larger — with jitter, capped by `max_hint_wait` —
/// and a hint that ends past the deadline gives up at once; a delay past
/// `max_elapsed` gives up; finally a retry token is taken from the budget, or
/// the call gives up with "retry budget exhausted". Giving up returns the
/// real last error, with the reason in its message.
#[derive(Clone)]
pub struct Retry {
    max_attempts: u32,
    max_elapsed: Option<Duration>,
    backoff: Backoff,
    jitter: Jitter,
    retry_500: bool,
    classifier: Option<Classifier>,
    use_hints: bool,
    hint_jitter: f64,
    max_hint_wait: Duration,
    budget: Option<Arc<RetryBudget>>,
    seed: u64,
}

impl Retry {
    /// Starts from the defaults: 3 attempts; exponential backoff from 100 ms,
    /// factor 2, capped at 20 s, with full jitter; 500 retried; server hints
    /// honoured up to 60 s with up to 10% added jitter; no budget; no
    /// elapsed-time limit besides the call's deadline.
    pub fn builder() -> RetryBuilder {
        RetryBuilder {
            policy: Retry {
                max_attempts: 3,
                max_elapsed: None,
                backoff: Backoff::exponential(Duration::from_millis(100), 2.0, Duration::from_secs(20)),
                jitter: Jitter::Full,
                retry_500: true,
                classifier: None,
                use_hints: true,
                hint_jitter: 0.1,
                max_hint_wait: Duration::from_secs(60),
                budget: None,
                seed: random_seed(),
            },
        }
    }

    fn reason(&self, call: &CallInfo<'_>, outcome: &AttemptOutcome<'_>) -> Option<RetryReason> {
        if let Some(classifier) = &self.classifier {
            match classifier(call.request, outcome) {
                Some(true) => return Some(default_reason(outcome, true).unwrap_or(RetryReason::Classifier)),
                Some(false) => return None,
                None => {}
            }
        }
        default_reason(outcome, self.retry_500)
    }

    fn random(&self, call: &CallInfo<'_>, stream: u64) -> f64 {
        let id = call.context.correlation().map_or("", |id| &**id);
        unit(self.seed, id, call.attempt, stream)
    }
}

impl Default for Retry {
    fn default() -> Self {
        Retry::builder().build()
    }
}

impl std::fmt::Debug for Retry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Retry")
            .field("max_attempts", &self.max_attempts)
            .field("max_elapsed", &self.max_elapsed)
            .field("backoff", &self.backoff)
            .field("jitter", &self.jitter)
            .field("retry_500", &self.retry_500)
            .field("classifier", &self.classifier.is_some())
            .field("use_hints", &self.use_hints)
            .field("max_hint_wait", &self.max_hint_wait)
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

impl RetryPolicy for Retry {
    fn decide(&self, call: &CallInfo<'_>, outcome: &AttemptOutcome<'_>) -> RetryDecision {
        if call.attempt == 1
            && let Some(budget) = &self.budget
        {
            budget.deposit();
        }
        let Some(reason) = self.reason(call, outcome) else {
            return RetryDecision::Stop;
        };
        if !call.request.is_idempotent() && !nothing_sent(outcome) {
            tracing::debug!(attempt = call.attempt, %reason, "not retried: the request is not idempotent");
            return RetryDecision::Stop;
        }
        if call.attempt >= self.max_attempts {
            return RetryDecision::Stop;
        }

        let mut delay = self.backoff.delay(
            call.attempt,
            call.previous_delay,
            self.jitter,
            self.random(call, BACKOFF_STREAM),
        );
        if let Some(hint) = outcome.hints.wait().filter(|_| self.use_hints) {
            let hinted = hint + hint.mul_f64(self.hint_jitter * self.random(call, HINT_STREAM));
            if call.remaining().is_some_and(|remaining| hinted >= remaining) {
                return RetryDecision::GiveUp {
                    reason: format!(
                        "the server asked to wait {:.1} s, past the call's deadline",
                        hint.as_secs_f64()
                    )
                    .into(),
                };
            }
            delay = delay.max(hinted.min(self.max_hint_wait));
        }
        if let Some(max_elapsed) = self.max_elapsed {
            let elapsed = Instant::now().saturating_duration_since(call.started);
            if elapsed.saturating_add(delay) > max_elapsed {
                return RetryDecision::GiveUp {
                    reason: format!(
                        "another attempt would pass the retry limit of {} ms",
                        max_elapsed.as_millis()
                    )
                    .into(),
                };
            }
        }
        if let Some(budget) = &self.budget
            && !budget.try_withdraw()
        {
            tracing::debug!(attempt = call.attempt, %reason, "not retried: retry budget exhausted");
            conn_core::component::hooks::retry_budget_exhausted(call.connector);
            return RetryDecision::GiveUp {
                reason: "retry budget exhausted".into(),
            };
        }
        // The pipeline emits the `retry scheduled` event and metric; only refusals are logged here.
        RetryDecision::Retry { delay }
    }

    /// A hedge is load like a retry: with a budget it takes a token (and
    /// is refused when none is left), so an outage cannot double the load;
    /// without one it is granted.
    fn allow_hedge(&self, call: &CallInfo<'_>) -> bool {
        match &self.budget {
            Some(budget) if !budget.try_withdraw() => {
                // Counted as a refused hedge (`conn_hedges_total`), not as an exhausted
                // retry: the call itself goes on, so the budget alert stays about retries.
                tracing::debug!(attempt = call.attempt, "not hedged: retry budget exhausted");
                false
            }
            _ => true,
        }
    }
}

/// Configures a [`Retry`] policy.
#[derive(Clone, Debug)]
pub struct RetryBuilder {
    policy: Retry,
}

impl RetryBuilder {
    /// Attempts in all, the first included (default 3; at least 1).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.policy.max_attempts = attempts.max(1);
        self
    }

    /// No retry is scheduled that would start more than `limit` after the
    /// call began (the call's deadline applies as well).
    pub fn max_elapsed(mut self, limit: Duration) -> Self {
        self.policy.max_elapsed = Some(limit);
        self
    }

    /// The backoff schedule (default: exponential 100 ms × 2, cap 20 s).
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.policy.backoff = backoff;
        self
    }

    /// The jitter mode (default: full).
    pub fn jitter(mut self, jitter: Jitter) -> Self {
        self.policy.jitter = jitter;
        self
    }

    /// Whether 500 Internal Server Error is retried (default: yes).
    pub fn retry_500(mut self, retry: bool) -> Self {
        self.policy.retry_500 = retry;
        self
    }

    /// A predicate consulted before the default classification.
    pub fn classifier(mut self, classifier: Classifier) -> Self {
        self.policy.classifier = Some(classifier);
        self
    }

    /// Whether server hints (Retry-After, RateLimit, vendor reset headers)
    /// are honoured (default: yes).
    pub fn honour_server_hints(mut self, honour: bool) -> Self {
        self.policy.use_hints = honour;
        self
    }

    /// Up to this fraction of a hinted wait is added at random, so clients
    /// told the same instant do not return together (default 0.1).
    pub fn hint_jitter(mut self, fraction: f64) -> Self {
        self.policy.hint_jitter = if fraction.is_finite() {
            fraction.clamp(0.0, 1.0)
        } else {
            0.0
        };
        self
    }

    /// The longest wait a server hint can impose (default 60 s).
    pub fn max_hint_wait(mut self, max: Duration) -> Self {
        self.policy.max_hint_wait = max;
        self
    }

    /// Limits retries with a budget, shared by whoever holds the `Arc`.
    pub fn budget(mut self, budget: Arc<RetryBudget>) -> Self {
        self.policy.budget = Some(budget);
        self
    }

    /// Fixes the jitter seed, for reproducible delays in tests.
    pub fn seed(mut self, seed: u64) -> Self {
        self.policy.seed = seed;
        self
    }

    /// Builds the policy.
    pub fn build(self) -> Retry {
        self.policy
    }
}
