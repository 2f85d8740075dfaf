//! The connector under soak: every component on, configured the way a
//! production connector to a flaky API would be.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use conn::auth::{Token, TokenAuth, provider_fn};
use conn::breaker::{CircuitBreaker, Window};
use conn::normalize::Normalize;
use conn::retry::{Backoff, Jitter, Retry, RetryBudget};
use conn::throttle::{Limit, Mode, Throttler};
use conn::transport::HyperTransport;
use conn::{Connector, Error, Telemetry};

/// Each attempt's limit: well under the server's stall, so stalls end as attempt timeouts.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(250);

/// Tokens expire quickly so the run crosses many refreshes under load.
const TOKEN_LIFETIME: Duration = Duration::from_secs(3);

/// Builds the connector; `tokens` counts the tokens issued.
pub fn connector(port: u16, tokens: Arc<AtomicU64>) -> Result<Connector, Error> {
    let provider = provider_fn(move |_request| {
        let n = tokens.fetch_add(1, Ordering::Relaxed);
        async move { Ok(Token::new(format!("soak-token-{n}")).expires_in(TOKEN_LIFETIME)) }
    });
    let retry = Retry::builder()
        .max_attempts(3)
        .backoff(Backoff::exponential(
            Duration::from_millis(5),
            2.0,
            Duration::from_millis(50),
        ))
        .jitter(Jitter::Full)
        .max_hint_wait(Duration::from_secs(1))
        // Retries at most 10% of recent calls (plus a small floor): what
        // keeps attempts per call near 1.1 although 23% of answers fail.
        .budget(Arc::new(RetryBudget::new(0.1, 10)))
        .build();
    let throttle = Throttler::builder()
        .limit(Limit::per_second(50_000).burst(2_000))
        .max_in_flight(48)
        .key_by(conn::throttle::KeyBy::Tenant)
        .mode(Mode::Wait {
            max_wait: Duration::from_millis(500),
        })
        .build();
    // Trips only on a real outage (60% failing), not on the mix's 23%.
    let breaker = CircuitBreaker::builder()
        .consecutive_failures(25)
        .window(Window::last_calls(200).minimum_calls(50))
        .failure_rate(0.6)
        .cooldown(Duration::from_millis(200))
        .half_open_probes(3)
        .key_by(conn::breaker::KeyBy::Tenant)
        .build();
    Connector::builder("soak")
        .base_url(format!("http://127.0.0.1:{port}"))
        .allow_http(true)
        .transport(Arc::new(HyperTransport::builder().build()?))
        .auth(Arc::new(TokenAuth::new(Arc::new(provider))))
        .retry(Arc::new(retry))
        .throttle(Arc::new(throttle))
        .breaker(Arc::new(breaker))
        .normalizer(Arc::new(Normalize::new()))
        .telemetry(Telemetry::default())
        .attempt_timeout(ATTEMPT_TIMEOUT)
        .build()
}
