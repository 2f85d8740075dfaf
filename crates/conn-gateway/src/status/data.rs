//! The status page's numbers: readings of the metrics recorder every 10 s,
//! kept for 5 minutes, and the view one request gets from them.
//!
//! Why the recorder and not the calls themselves: it already counts every
//! call of the process (proxied, workflows, any other code), per connector,
//! with the same names and labels the alert rules and the dashboard read, so
//! the page, Grafana and the alerts agree; and it needs no hook in the call
//! path. A reading is the rendered Prometheus text parsed back (a few
//! hundred lines), so 10 s buckets cost next to nothing. Breaker and
//! throttle state come live from the registry, not from metrics.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use conn_blueprint::Registry;
use metrics_exporter_prometheus::PrometheusHandle;
use serde::Serialize;
use tokio::time::Instant;

use super::exposition::{self, Sample};

/// One bucket of the charts.
pub(crate) const BUCKET: Duration = Duration::from_secs(10);
/// How far back the numbers and charts look.
pub(crate) const WINDOW: Duration = Duration::from_secs(300);

/// One connector's counters and gauges at one instant.
#[derive(Clone, Debug, Default)]
struct Counters {
    calls: f64,
    errors: f64,
    /// Calls per outcome other than success.
    failures: BTreeMap<String, f64>,
    retries: f64,
    rejections: f64,
    degraded: f64,
    budget_refused: f64,
    in_flight: f64,
    p50: Option<f64>,
    p99: Option<f64>,
    wait_p95: Option<f64>,
}

/// Every connector's counters at one instant, and the process-wide ones.
#[derive(Clone, Debug)]
pub(crate) struct Reading {
    at: Instant,
    connectors: BTreeMap<String, Counters>,
    tokens_ok: f64,
    tokens_failed: f64,
    shed: f64,
}

impl Reading {
    /// Reads the recorder's text.
    fn parse(text: &str, at: Instant) -> Reading {
        let mut reading = Reading {
            at,
            connectors: BTreeMap::new(),
            tokens_ok: 0.0,
            tokens_failed: 0.0,
            shed: 0.0,
        };
        // p50 of successful calls where there are any: failures that fail
        // fast would otherwise make a slow API look quick.
        let mut p50_any: BTreeMap<String, f64> = BTreeMap::new();
        for sample in exposition::parse(text) {
            match sample.name.as_str() {
                "conn_token_refreshes_total" => match sample.label("result") {
                    Some("ok") => reading.tokens_ok += sample.value,
                    Some(_) => reading.tokens_failed += sample.value,
                    None => {}
                },
                "conn_gateway_shed_total" => reading.shed += sample.value,
                _ => {}
            }
            let Some(connector) = sample.label("connector") else {
                continue;
            };
            let counters = reading.connectors.entry(connector.to_owned()).or_default();
            add(counters, &sample, &mut p50_any);
        }
        for (connector, p50) in p50_any {
            if let Some(counters) = reading.connectors.get_mut(&connector)
                && counters.p50.is_none()
            {
                counters.p50 = Some(p50);
            }
        }
        reading
    }
}

fn add(counters: &mut Counters, sample: &Sample, p50_any: &mut BTreeMap<String, f64>) {
    let value = sample.value;
    match sample.name.as_str() {
        "conn_requests_total" => {
            counters.calls += value;
            match sample.label("outcome") {
                Some("success") | None => {}
                Some(outcome) => {
                    counters.errors += value;
                    *counters.failures.entry(outcome.to_owned()).or_default() += value;
                }
            }
        }
        "conn_retries_total" => counters.retries += value,
        "conn_throttle_rejections_total" => counters.rejections += value,
        "conn_degraded_total" => counters.degraded += value,
        "conn_retry_budget_exhausted_total" => counters.budget_refused += value,
        "conn_in_flight" => counters.in_flight += value,
        "conn_request_duration_seconds" => {
            let success = sample.label("outcome") == Some("success");
            match sample.label("quantile") {
                Some("0.5") if success => counters.p50 = Some(value),
                Some("0.5") => {
                    let connector = sample.label("connector").unwrap_or_default().to_owned();
                    let slot = p50_any.entry(connector).or_insert(value);
                    *slot = slot.max(value);
                }
                Some("0.99") => counters.p99 = Some(counters.p99.unwrap_or(0.0).max(value)),
                _ => {}
            }
        }
        "conn_throttle_wait_seconds" if sample.label("quantile") == Some("0.95") => {
            counters.wait_p95 = Some(counters.wait_p95.unwrap_or(0.0).max(value));
        }
        _ => {}
    }
}

/// The readings of the last [`WINDOW`], one per [`BUCKET`].
pub(crate) struct Board {
    handle: Option<PrometheusHandle>,
    readings: Mutex<VecDeque<Reading>>,
}

impl Board {
    /// A board reading `handle`, with a first reading now (the baseline of
    /// the first bucket), sampling every [`BUCKET`] while the board lives
    /// when a tokio runtime is at hand.
    pub(crate) fn start(handle: Option<PrometheusHandle>) -> Arc<Board> {
        let board = Arc::new(Board {
            handle,
            readings: Mutex::new(VecDeque::new()),
        });
        board.sample();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let weak = Arc::downgrade(&board);
            runtime.spawn(async move {
                let mut tick = tokio::time::interval(BUCKET);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    let Some(board) = weak.upgrade() else { break };
                    board.sample();
                }
            });
        }
        board
    }

    /// Whether there is a recorder to read.
    pub(crate) fn has_metrics(&self) -> bool {
        self.handle.is_some()
    }

    fn read(&self) -> Reading {
        let text = self.handle.as_ref().map(|h| h.render()).unwrap_or_default();
        Reading::parse(&text, Instant::now())
    }

    fn sample(&self) {
        let reading = self.read();
        let mut readings = self.readings.lock().unwrap_or_else(|e| e.into_inner());
        readings.push_back(reading);
        let keep = (WINDOW.as_secs() / BUCKET.as_secs()) as usize + 1;
        while readings.len() > keep {
            readings.pop_front();
        }
    }

    /// The stored readings and one taken now, oldest first.
    pub(crate) fn history(&self) -> Vec<Reading> {
        let mut history: Vec<Reading> = self
            .readings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect();
        history.push(self.read());
        history
    }
}

/// Everything the page shows, as `GET /v1/status` answers it.
#[derive(Debug, Serialize)]
pub(crate) struct Status {
    /// Milliseconds since the Unix epoch.
    pub(crate) generated_at_ms: u64,
    pub(crate) window_s: u64,
    pub(crate) bucket_s: u64,
    /// The viewer holds the admin key (the page then offers breaker actions).
    pub(crate) admin: bool,
    /// Whether the gateway has a metrics recorder (without one only breaker
    /// and throttle state are known).
    pub(crate) metrics: bool,
    pub(crate) tokens: Tokens,
    pub(crate) gateway_shed: u64,
    /// Worst first.
    pub(crate) connectors: Vec<Card>,
}

/// Token requests of the whole process over the window (the metric has no
/// connector label). Never a token.
#[derive(Debug, Serialize)]
pub(crate) struct Tokens {
    pub(crate) refreshes_ok: u64,
    pub(crate) refreshes_failed: u64,
    /// Seconds until the earliest token expires: not exposed by conn-auth's
    /// cache yet, so always absent (docs/operations.md, Gaps).
    pub(crate) expires_in_s: Option<u64>,
}

/// One connector.
#[derive(Debug, Serialize)]
pub(crate) struct Card {
    pub(crate) name: String,
    /// `ok`, `warn` or `sick`.
    pub(crate) health: &'static str,
    /// Why, most serious first (empty when healthy).
    pub(crate) why: Vec<String>,
    pub(crate) calls: u64,
    pub(crate) errors: u64,
    pub(crate) success_rate: Option<f64>,
    pub(crate) failures: BTreeMap<String, u64>,
    pub(crate) p50_ms: Option<f64>,
    pub(crate) p99_ms: Option<f64>,
    pub(crate) retries_per_min: f64,
    pub(crate) retry_budget_refused: u64,
    pub(crate) in_flight: u64,
    pub(crate) degraded: u64,
    pub(crate) throttle: Throttle,
    pub(crate) breaker: Vec<Circuit>,
    /// The connector's tokens, per tenant: the expiry countdown and renewal
    /// state, never a token.
    pub(crate) tokens: Vec<TokenState>,
    /// One point per bucket, oldest first; the last one is the bucket in progress.
    pub(crate) series: Vec<Point>,
}

/// The throttle's waits and refusals, and its live state.
#[derive(Debug, Serialize)]
pub(crate) struct Throttle {
    pub(crate) configured: bool,
    pub(crate) wait_p95_ms: Option<f64>,
    pub(crate) rejections: u64,
    pub(crate) keys: usize,
    /// A pause the server asked for (RateLimit reset, Retry-After), now.
    pub(crate) paused_for_ms: Option<u64>,
}

/// One breaker key, live.
#[derive(Debug, Serialize)]
pub(crate) struct Circuit {
    pub(crate) key: String,
    pub(crate) state: &'static str,
    pub(crate) since_s: u64,
    pub(crate) next_probe_in_ms: Option<u64>,
    pub(crate) consecutive_failures: u32,
    pub(crate) reason: Option<String>,
}

/// One token the connector's auth holds.
#[derive(Debug, Serialize)]
pub(crate) struct TokenState {
    /// The tenant, shown to the admin only (`None` also for calls without a tenant).
    pub(crate) tenant: Option<String>,
    /// Seconds left before expiry (zero once expired; `None` when none is held).
    pub(crate) expires_in_s: Option<u64>,
    /// A renewal is in flight.
    pub(crate) refreshing: bool,
    /// The last renewal failed.
    pub(crate) failing: bool,
}

/// One chart bucket.
#[derive(Debug, Serialize)]
pub(crate) struct Point {
    /// Seconds from the bucket's end to now.
    pub(crate) ago_s: u64,
    pub(crate) calls: u64,
    pub(crate) errors: u64,
    pub(crate) p99_ms: Option<f64>,
}

/// The view of `names` (the connectors the viewer may see) from `history`.
pub(crate) fn status(
    registry: &Registry,
    names: &[String],
    history: &[Reading],
    board: &Board,
    admin: bool,
) -> Status {
    let empty = Reading::parse("", Instant::now());
    let now = history.last().unwrap_or(&empty);
    let first = history
        .iter()
        .find(|r| now.at.saturating_duration_since(r.at) <= WINDOW)
        .unwrap_or(now);
    let mut connectors: Vec<Card> = names
        .iter()
        .map(|name| {
            let mut card = card(registry, name, history, first, now);
            if !admin {
                card.tokens.iter_mut().for_each(|t| t.tenant = None);
            }
            card
        })
        .collect();
    connectors.sort_by_key(|c| (rank(c.health), c.name.clone()));
    Status {
        generated_at_ms: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or_default(),
        window_s: WINDOW.as_secs(),
        bucket_s: BUCKET.as_secs(),
        admin,
        metrics: board.has_metrics(),
        tokens: Tokens {
            refreshes_ok: delta(first.tokens_ok, now.tokens_ok),
            refreshes_failed: delta(first.tokens_failed, now.tokens_failed),
            expires_in_s: None,
        },
        gateway_shed: delta(first.shed, now.shed),
        connectors,
    }
}

fn rank(health: &str) -> u8 {
    match health {
        "sick" => 0,
        "warn" => 1,
        _ => 2,
    }
}

fn delta(before: f64, after: f64) -> u64 {
    (after - before).max(0.0).round() as u64
}

fn card(registry: &Registry, name: &str, history: &[Reading], first: &Reading, now: &Reading) -> Card {
    let zero = Counters::default();
    let a = first.connectors.get(name).unwrap_or(&zero);
    let b = now.connectors.get(name).unwrap_or(&zero);
    let calls = delta(a.calls, b.calls);
    let errors = delta(a.errors, b.errors);
    let failures: BTreeMap<String, u64> = b
        .failures
        .iter()
        .map(|(outcome, n)| {
            (
                outcome.clone(),
                delta(a.failures.get(outcome).copied().unwrap_or(0.0), *n),
            )
        })
        .filter(|(_, n)| *n > 0)
        .collect();
    // Under a minute of history counts as one minute: a rate extrapolated
    // from a few seconds would read as a storm.
    let minutes = (now.at.saturating_duration_since(first.at).as_secs_f64() / 60.0).max(1.0);
    let live = calls > 0;
    let breaker = circuits(registry, name);
    let throttle = registry.throttle(name);
    let mut card = Card {
        name: name.to_owned(),
        health: "ok",
        why: Vec::new(),
        calls,
        errors,
        success_rate: live.then(|| (calls - errors.min(calls)) as f64 / calls as f64),
        failures,
        p50_ms: b.p50.filter(|_| live).map(|s| s * 1000.0),
        p99_ms: b.p99.filter(|_| live).map(|s| s * 1000.0),
        retries_per_min: (b.retries - a.retries).max(0.0) / minutes,
        retry_budget_refused: delta(a.budget_refused, b.budget_refused),
        in_flight: b.in_flight.max(0.0).round() as u64,
        degraded: delta(a.degraded, b.degraded),
        throttle: Throttle {
            configured: throttle.is_some(),
            wait_p95_ms: b
                .wait_p95
                .filter(|_| throttle.is_some() && live)
                .map(|s| s * 1000.0),
            rejections: delta(a.rejections, b.rejections),
            keys: throttle.as_ref().map(|t| t.key_count()).unwrap_or(0),
            paused_for_ms: throttle
                .as_ref()
                .and_then(|t| t.paused_for(""))
                .map(|d| d.as_millis() as u64),
        },
        breaker,
        tokens: tokens(registry, name),
        series: series(name, history, now),
    };
    judge(&mut card);
    card
}

fn circuits(registry: &Registry, name: &str) -> Vec<Circuit> {
    let now = Instant::now();
    registry
        .breaker(name)
        .map(|b| b.snapshots())
        .unwrap_or_default()
        .into_iter()
        .map(|s| Circuit {
            key: s.key.to_string(),
            state: s.state.label(),
            since_s: now.saturating_duration_since(s.since).as_secs(),
            next_probe_in_ms: s.next_probe_in.map(|d| d.as_millis() as u64),
            consecutive_failures: s.consecutive_failures,
            reason: s.reason.map(|r| r.to_string()),
        })
        .collect()
}

fn tokens(registry: &Registry, name: &str) -> Vec<TokenState> {
    registry
        .credential_status(name)
        .unwrap_or_default()
        .into_iter()
        .map(|s| TokenState {
            tenant: s.tenant,
            expires_in_s: s.expires_in.map(|d| d.as_secs()),
            refreshing: s.refreshing,
            failing: s.degraded,
        })
        .collect()
}

fn series(name: &str, history: &[Reading], now: &Reading) -> Vec<Point> {
    let zero = Counters::default();
    history
        .windows(2)
        .map(|pair| {
            let a = pair[0].connectors.get(name).unwrap_or(&zero);
            let b = pair[1].connectors.get(name).unwrap_or(&zero);
            let calls = delta(a.calls, b.calls);
            Point {
                ago_s: now.at.saturating_duration_since(pair[1].at).as_secs(),
                calls,
                errors: delta(a.errors, b.errors),
                p99_ms: b.p99.filter(|_| calls > 0).map(|s| s * 1000.0),
            }
        })
        .collect()
}

/// Health and the reasons for it, most serious first.
fn judge(card: &mut Card) {
    let mut sick = Vec::new();
    let mut warn = Vec::new();
    for circuit in &card.breaker {
        match circuit.state {
            "open" | "forced_open" => sick.push(format!(
                "circuit {} {}{}{}",
                circuit.key,
                if circuit.state == "open" {
                    "open"
                } else {
                    "forced open"
                },
                circuit
                    .reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default(),
                circuit
                    .next_probe_in_ms
                    .filter(|_| circuit.state == "open")
                    .map(|ms| format!("; next probe in {}", human(ms)))
                    .unwrap_or_default()
            )),
            "half_open" => warn.push(format!("circuit {} half-open: probing", circuit.key)),
            "disabled" => warn.push(format!("circuit {} disabled by an operator", circuit.key)),
            _ => {}
        }
    }
    let worst = card
        .failures
        .iter()
        .max_by_key(|(_, n)| **n)
        .map(|(outcome, n)| format!(" (mostly {outcome}: {n})"))
        .unwrap_or_default();
    if let Some(rate) = card.success_rate {
        let failing = 1.0 - rate;
        let text = format!("{} of calls failing{worst}", percent(failing));
        if failing > 0.1 && card.calls >= 3 {
            sick.push(text);
        } else if failing > 0.01 {
            warn.push(text);
        }
    }
    if let Some(n) = card.failures.get("auth_provider") {
        sick.push(format!("no credentials: {n} calls failed to get a token"));
    }
    for token in &card.tokens {
        let tenant = token
            .tenant
            .as_deref()
            .map(|t| format!(" ({t})"))
            .unwrap_or_default();
        match token.expires_in_s {
            Some(0) => sick.push(format!("token{tenant} expired")),
            Some(left) if token.failing => warn.push(format!(
                "token{tenant} renewal failing; expires in {}",
                human(left * 1000)
            )),
            None if token.failing => sick.push(format!("no token{tenant}: renewal failing")),
            _ => {}
        }
    }
    if card.degraded > 0 {
        warn.push(format!(
            "degraded: {} calls sent with fallback credentials",
            card.degraded
        ));
    }
    if card.throttle.rejections > 0 {
        warn.push(format!("throttle refused {} attempts", card.throttle.rejections));
    }
    if let Some(wait) = card.throttle.wait_p95_ms.filter(|w| *w >= 1000.0) {
        warn.push(format!("throttle wait p95 {}", human(wait as u64)));
    }
    if card.retry_budget_refused > 0 {
        warn.push(format!(
            "retry budget refused {} retries",
            card.retry_budget_refused
        ));
    }
    card.health = if !sick.is_empty() {
        "sick"
    } else if !warn.is_empty() {
        "warn"
    } else {
        "ok"
    };
    sick.extend(warn);
    card.why = sick;
}

/// `97.5%`.
pub(crate) fn percent(share: f64) -> String {
    let value = (share * 1000.0).round() / 10.0;
    if value.fract() == 0.0 {
        format!("{value:.0}%")
    } else {
        format!("{value:.1}%")
    }
}

/// `4.2 s`, `48 s`, `12 min`, `2 h 5 min`.
pub(crate) fn human(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..10 => format!("{:.1} s", ms as f64 / 1000.0),
        10..120 => format!("{s} s"),
        120..7200 => format!("{} min", s / 60),
        _ => format!("{} h {} min", s / 3600, s % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"
conn_requests_total{connector="orders",status_class="2xx",outcome="success"} 8
conn_requests_total{connector="orders",status_class="5xx",outcome="server_status"} 2
conn_request_duration_seconds{connector="orders",outcome="success",quantile="0.5"} 0.02
conn_request_duration_seconds{connector="orders",outcome="success",quantile="0.99"} 0.1
conn_request_duration_seconds{connector="orders",outcome="server_status",quantile="0.99"} 0.3
conn_retries_total{connector="orders",reason="status_503"} 4
conn_in_flight{connector="orders"} 1
conn_token_refreshes_total{result="ok"} 2
conn_token_refreshes_total{result="failed"} 1
conn_gateway_shed_total 5
"#;

    #[test]
    fn a_reading_sums_per_connector_and_keeps_the_slowest_p99() {
        let reading = Reading::parse(TEXT, Instant::now());
        let orders = &reading.connectors["orders"];
        assert_eq!((orders.calls, orders.errors, orders.retries), (10.0, 2.0, 4.0));
        assert_eq!(orders.failures["server_status"], 2.0);
        assert_eq!((orders.p50, orders.p99), (Some(0.02), Some(0.3)));
        assert_eq!(
            (reading.tokens_ok, reading.tokens_failed, reading.shed),
            (2.0, 1.0, 5.0)
        );
    }

    #[test]
    fn health_names_the_reason() {
        let before = Reading::parse("", Instant::now());
        let after = Reading::parse(TEXT, Instant::now());
        let blueprint = conn_blueprint::Blueprint::from_str_with_env(
            "[connectors.orders]\nbase_url = \"http://127.0.0.1:9\"\nallow_http = true\n",
            &std::collections::HashMap::new(),
        )
        .unwrap();
        let registry = Registry::from_blueprint_hyper(&blueprint).unwrap();
        let history = [before.clone(), after.clone()];
        let c = card(&registry, "orders", &history, &before, &after);
        assert_eq!(c.health, "sick");
        assert_eq!(c.why[0], "20% of calls failing (mostly server_status: 2)");
        assert_eq!(c.success_rate, Some(0.8));
        assert_eq!(c.series.len(), 1);
        assert_eq!((c.series[0].calls, c.series[0].errors), (10, 2));
        let quiet = card(&registry, "idle", &history, &before, &after);
        assert_eq!((quiet.health, quiet.success_rate), ("ok", None));
    }
}
