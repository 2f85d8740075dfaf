//! Replicas as separate OS processes sharing one Redis, counted where the
//! requests land (the test kit's server): one quota for the fleet, one token
//! request for the fleet.
//!
//! The replicas are this test binary run again with `CONN_REDIS_REPLICA`
//! set: `replica_process` does nothing in a normal run and plays one replica
//! when spawned so. All start at one wall-clock instant the parent chooses.

use std::process::{Command, Output};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use conn_auth::{ClientCredentials, OAuth2Client, TokenAuth};
use conn_core::store::StoreKey;
use conn_core::{Connector, Context, Request};
use conn_redis::{FailurePolicy, Fleet, FleetConfig, RedisRateStore, RedisTokenStore};
use conn_testkit::{RedisServer, Reply, TestServer};
use conn_throttle::{Limit, Mode, Throttler};
use conn_transport_hyper::HyperTransport;
use http::Method;

const ROLE: &str = "CONN_REDIS_REPLICA";

/// The multi-process tests run one at a time: on a small machine, twelve
/// replica processes at once would measure the CPU, not the quota.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Sleeps until the wall-clock instant `at_ms` (ms since the epoch).
async fn until(at_ms: u64) {
    let now = epoch_ms();
    if at_ms > now {
        tokio::time::sleep(Duration::from_millis(at_ms - now)).await;
    }
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_default()
}

#[test]
fn replica_process() {
    let Ok(role) = std::env::var(ROLE) else {
        return; // a normal test run: nothing to do
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        match role.as_str() {
            "quota" => quota_replica().await,
            "token" => token_replica().await,
            other => panic!("unknown replica role {other}"),
        }
    });
}

async fn quota_replica() {
    let fleet = Fleet::connect(FleetConfig::new(env("REDIS_URL")).key_prefix("replicas"))
        .await
        .unwrap();
    let store = Arc::new(RedisRateStore::new(fleet, FailurePolicy::fail_open(4)));
    let throttle = Throttler::builder()
        .limit(Limit::per_second(100))
        .rate_store(store, "vendor")
        .mode(Mode::Wait {
            max_wait: Duration::from_secs(60),
        })
        .build();
    let connector = Connector::builder("vendor")
        .base_url(env("API_URL"))
        .allow_http(true)
        .transport(Arc::new(HyperTransport::builder().build().unwrap()))
        .throttle(Arc::new(throttle))
        .no_timeouts()
        .build()
        .unwrap();
    let start: u64 = env("START_MS").parse().unwrap();
    let end = start + env("RUN_MS").parse::<u64>().unwrap();
    until(start).await;
    let callers: Vec<_> = (0..64)
        .map(|_| {
            let connector = connector.clone();
            tokio::spawn(async move {
                let mut sent = 0u32;
                while epoch_ms() < end {
                    if connector
                        .call(Request::get("/v1/items"), Context::new())
                        .await
                        .is_ok()
                    {
                        sent += 1;
                    }
                }
                sent
            })
        })
        .collect();
    let mut sent = 0;
    for caller in callers {
        sent += caller.await.unwrap();
    }
    // Calls that reserved a slot before the end still went out after it.
    println!("SENT {sent}");
}

async fn token_replica() {
    let fleet = Fleet::connect(FleetConfig::new(env("REDIS_URL")).key_prefix("replicas"))
        .await
        .unwrap();
    let key = StoreKey::parse(&env("STORE_KEY")).unwrap();
    let tokens = Arc::new(RedisTokenStore::new(fleet, "vendor", &key));
    let transport = Arc::new(HyperTransport::builder().build().unwrap());
    let client = OAuth2Client::builder(format!("{}/oauth/token", env("API_URL")))
        .allow_http(true)
        .client_id("fleet")
        .client_secret("fleet-secret")
        .transport(transport.clone())
        .build()
        .unwrap();
    let auth = TokenAuth::builder(Arc::new(ClientCredentials::new(client)))
        .shared(tokens)
        .build();
    let connector = Connector::builder("vendor")
        .base_url(env("API_URL"))
        .allow_http(true)
        .transport(transport)
        .auth(Arc::new(auth))
        .build()
        .unwrap();
    until(env("START_MS").parse().unwrap()).await;
    connector
        .call(Request::get("/v1/items"), Context::new().tenant("acme"))
        .await
        .unwrap();
    println!("CALLED");
}

/// Runs `count` replicas of `role` with `vars`, all starting at one instant.
fn run_replicas(count: usize, role: &str, vars: &[(&str, String)]) -> Vec<std::thread::JoinHandle<Output>> {
    let exe = std::env::current_exe().unwrap();
    (0..count)
        .map(|_| {
            let mut command = Command::new(&exe);
            command
                .args(["--exact", "replica_process", "--nocapture", "--test-threads", "1"])
                .env(ROLE, role);
            for (name, value) in vars {
                command.env(name, value);
            }
            std::thread::spawn(move || command.output().unwrap())
        })
        .collect()
}

fn finished(replicas: Vec<std::thread::JoinHandle<Output>>) -> Vec<String> {
    replicas
        .into_iter()
        .map(|r| {
            let output = r.join().unwrap();
            let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
            assert!(
                output.status.success(),
                "a replica failed: {stdout}\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
            stdout
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_processes_of_64_callers_send_one_quota_of_100_per_second() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let redis = RedisServer::start().unwrap();
    let server = TestServer::start().await.unwrap();
    server.route(Method::GET, "/v1/items", [Reply::status(200)]);
    let run = Duration::from_secs(4);
    let start = epoch_ms() + 2_000; // time for four processes to start and connect
    let replicas = run_replicas(
        4,
        "quota",
        &[
            ("REDIS_URL", redis.url()),
            ("API_URL", server.url()),
            ("START_MS", start.to_string()),
            ("RUN_MS", run.as_millis().to_string()),
        ],
    );
    let outputs = tokio::task::spawn_blocking(move || finished(replicas))
        .await
        .unwrap();
    let per_replica: Vec<u32> = outputs
        .iter()
        .filter_map(|o| {
            let after = &o[o.find("SENT ")? + 5..];
            after.split_whitespace().next()?.parse().ok()
        })
        .collect();
    assert_eq!(per_replica.len(), 4, "{outputs:?}");
    let requests = server.requests_to("/v1/items");
    let first = requests.iter().map(|r| r.received_at).min().unwrap();
    // Whole seconds from the first request; the last, partial one is left out.
    let mut per_second = vec![0u32; run.as_secs() as usize];
    for request in &requests {
        let second = (request.received_at - first).as_secs() as usize;
        if let Some(count) = per_second.get_mut(second) {
            *count += 1;
        }
    }
    println!("the upstream saw per second: {per_second:?}; per replica: {per_replica:?}");
    for (second, count) in per_second.iter().enumerate().take(run.as_secs() as usize - 1) {
        assert!(
            (95..=105).contains(count),
            "second {second}: {count} requests (100 ± 5% expected): {per_second:?}"
        );
    }
    assert!(
        per_replica.iter().all(|&n| n > 50),
        "every replica got a share: {per_replica:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_processes_starting_cold_make_one_token_request() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let redis = RedisServer::start().unwrap();
    let server = TestServer::start().await.unwrap();
    server.route(
        Method::POST,
        "/oauth/token",
        [Reply::json(
            200,
            r#"{"access_token":"fleet-token","token_type":"Bearer","expires_in":3600}"#,
        )
        .delay(Duration::from_millis(300))],
    );
    server.route(Method::GET, "/v1/items", [Reply::status(200)]);
    let key = StoreKey::generate().unwrap();
    let start = epoch_ms() + 2_000;
    let replicas = run_replicas(
        8,
        "token",
        &[
            ("REDIS_URL", redis.url()),
            ("API_URL", server.url()),
            ("START_MS", start.to_string()),
            (
                "STORE_KEY",
                secrecy::ExposeSecret::expose_secret(&key.to_base64()).to_owned(),
            ),
        ],
    );
    let outputs = tokio::task::spawn_blocking(move || finished(replicas))
        .await
        .unwrap();
    assert!(outputs.iter().all(|o| o.contains("CALLED")), "{outputs:?}");
    assert_eq!(
        server.hits("/oauth/token"),
        1,
        "one token request for eight replicas"
    );
    let calls = server.requests_to("/v1/items");
    assert_eq!(calls.len(), 8);
    assert!(
        calls
            .iter()
            .all(|c| c.header("authorization") == Some("Bearer fleet-token"))
    );
}
