//! The token cache's metrics: refreshes and the expiry gauge carry the
//! connector a connector build binds, the gauge is the soonest expiry among
//! tenants unless tenants are labelled, and a connector with telemetry off
//! emits none. On tokio's paused clock (one thread, so the test's local
//! recorder sees the fetch tasks too).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use conn_auth::{Token, TokenAuth, provider_fn};
use conn_core::{AuthStrategy, Context, Error, ErrorKind, Telemetry};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};

fn auth() -> TokenAuth {
    TokenAuth::builder(Arc::new(provider_fn(|request| async move {
        match request.tenant() {
            Some("broken") => Err(Error::new(ErrorKind::AuthProvider, "token endpoint said 500")),
            Some("short") => Ok(Token::new("t-short").expires_in(Duration::from_secs(300))),
            _ => Ok(Token::new("t-long").expires_in(Duration::from_secs(3600))),
        }
    })))
    .build()
}

type Series = Vec<(String, Vec<String>, f64)>;

/// Every series as (name, labels as sorted `k=v`, value). A snapshot resets
/// what it reads: take one per checkpoint.
fn take(snapshotter: &Snapshotter) -> Series {
    let mut out: Series = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let mut labels: Vec<String> = key
                .key()
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            labels.sort();
            let value = match value {
                DebugValue::Counter(v) => v as f64,
                DebugValue::Gauge(v) => v.into_inner(),
                DebugValue::Histogram(_) => f64::NAN,
            };
            (key.key().name().to_owned(), labels, value)
        })
        .collect();
    out.sort_by(|a, b| a.1.cmp(&b.1));
    out
}

/// (labels, value) of the series of `name` in a snapshot.
fn series(snapshot: &Series, name: &str) -> Vec<(Vec<String>, f64)> {
    snapshot
        .iter()
        .filter(|(n, ..)| n == name)
        .map(|(_, labels, value)| (labels.clone(), *value))
        .collect()
}

fn in_from_now(seconds: f64) -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        + seconds
}

fn assert_near(value: f64, expected: f64) {
    assert!((value - expected).abs() < 5.0, "{value} is not about {expected}");
}

#[tokio::test(start_paused = true)]
async fn the_gauge_is_the_soonest_expiry_of_the_connector_and_refreshes_name_it() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _guard = metrics::set_default_local_recorder(&recorder);

    let auth = auth();
    auth.bind_telemetry("crm", Telemetry::default());
    auth.token(&Context::new().tenant("acme")).await.unwrap();
    let gauge = series(&take(&snapshotter), "conn_token_expiry_timestamp_seconds");
    assert_eq!(gauge.len(), 1, "{gauge:?}");
    assert_eq!(gauge[0].0, ["connector=crm"]);
    assert_near(gauge[0].1, in_from_now(3600.0));

    // A tenant whose token runs out sooner sets it; one that fails does not.
    auth.token(&Context::new().tenant("short")).await.unwrap();
    assert!(auth.token(&Context::new().tenant("broken")).await.is_err());
    // Since the last snapshot: short's fetch and broken's.
    let snapshot = take(&snapshotter);
    assert_eq!(
        series(&snapshot, "conn_token_refreshes_total"),
        [
            (vec!["connector=crm".to_owned(), "result=failed".to_owned()], 1.0),
            (vec!["connector=crm".to_owned(), "result=ok".to_owned()], 1.0),
        ]
    );
    let gauge = series(&snapshot, "conn_token_expiry_timestamp_seconds");
    assert_eq!(gauge.len(), 1, "{gauge:?}");
    assert_near(gauge[0].1, in_from_now(300.0));

    // That tenant's token gone, the soonest is the other's again.
    auth.forget_tenant(Some("short"));
    let gauge = series(&take(&snapshotter), "conn_token_expiry_timestamp_seconds");
    assert_near(gauge[0].1, in_from_now(3600.0));
}

#[tokio::test(start_paused = true)]
async fn tenants_are_labelled_only_when_enabled_and_telemetry_off_emits_nothing() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _guard = metrics::set_default_local_recorder(&recorder);

    let labelled = auth();
    labelled.bind_telemetry(
        "crm",
        Telemetry {
            tenant_label: true,
            ..Telemetry::default()
        },
    );
    labelled.token(&Context::new().tenant("acme")).await.unwrap();
    labelled.token(&Context::new().tenant("short")).await.unwrap();

    let silent = auth();
    silent.bind_telemetry(
        "quiet",
        Telemetry {
            enabled: false,
            ..Telemetry::default()
        },
    );
    silent.token(&Context::new().tenant("acme")).await.unwrap();

    // Outside a connector: no connector label.
    auth().token(&Context::new()).await.unwrap();

    let snapshot = take(&snapshotter);
    let gauge = series(&snapshot, "conn_token_expiry_timestamp_seconds");
    let labels: Vec<_> = gauge.iter().map(|(l, _)| l.join(",")).collect();
    assert_eq!(
        labels,
        ["", "connector=crm,tenant=acme", "connector=crm,tenant=short"],
        "{gauge:?}"
    );
    assert_near(gauge[1].1, in_from_now(3600.0));
    assert_near(gauge[2].1, in_from_now(300.0));
    let refreshes = series(&snapshot, "conn_token_refreshes_total");
    assert!(
        refreshes
            .iter()
            .all(|(l, _)| !l.contains(&"connector=quiet".to_owned())),
        "{refreshes:?}"
    );
}
