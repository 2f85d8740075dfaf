//! RedisRateStore against real redis-server processes the test kit starts:
//! exact shared quotas, Redis killed, restarted, slow, misconfigured, and
//! Redis Cluster. Real sockets: generous time limits, real clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use conn_core::store::{Admission, RateQuota, RateRequest, RateStore, StoreMode};
use conn_redis::{FailurePolicy, Fleet, FleetConfig, RedisRateStore};
use conn_testkit::{RedisCluster, RedisServer};

async fn fleet(url: &str) -> Fleet {
    Fleet::connect(FleetConfig::new(url.to_owned()).key_prefix("test"))
        .await
        .unwrap()
}

/// Admits as many as it can for `window` with `callers` tasks (each sleeping
/// its reserved wait); returns how many were admitted.
async fn hammer(store: Arc<dyn RateStore>, quotas: Vec<RateQuota>, callers: usize, window: Duration) -> u32 {
    let admitted = Arc::new(AtomicU32::new(0));
    let end = Instant::now() + window;
    let tasks: Vec<_> = (0..callers)
        .map(|_| {
            let (store, quotas, admitted) = (store.clone(), quotas.clone(), admitted.clone());
            tokio::spawn(async move {
                while Instant::now() < end {
                    let request = RateRequest::new("k", &quotas).max_wait(Duration::from_secs(5));
                    match store.admit(&request).await {
                        Ok(Admission::Go { wait }) => {
                            tokio::time::sleep(wait).await;
                            if Instant::now() < end {
                                admitted.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        Ok(Admission::Refused { retry_after }) => tokio::time::sleep(retry_after).await,
                        Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    admitted.load(Ordering::Relaxed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_on_one_redis_share_the_quota_exactly() {
    let redis = RedisServer::start().unwrap();
    let quotas = vec![RateQuota::new(100, Duration::from_secs(1))];
    let a: Arc<dyn RateStore> = Arc::new(RedisRateStore::new(
        fleet(&redis.url()).await,
        FailurePolicy::fail_open(2),
    ));
    let b: Arc<dyn RateStore> = Arc::new(RedisRateStore::new(
        fleet(&redis.url()).await,
        FailurePolicy::fail_open(2),
    ));
    let window = Duration::from_secs(2);
    let (na, nb) = tokio::join!(
        hammer(a.clone(), quotas.clone(), 16, window),
        hammer(b, quotas.clone(), 16, window)
    );
    let total = na + nb;
    // 100/s for 2 s, burst 1: 200 (+1 for the first slot at t=0).
    assert!((190..=206).contains(&total), "admitted {total} ({na} + {nb})");
    assert_eq!(a.mode(), StoreMode::Fleet);
    let keys = redis.cli(&["KEYS", "test:rate:*"]).unwrap();
    assert!(keys.contains("test:rate:{k}"), "{keys}");
    let ttl: i64 = redis
        .cli(&["PTTL", "test:rate:{k}"])
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(ttl > 0 && ttl <= 6_200, "idle keys expire: {ttl}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_quotas_on_one_key_are_charged_together() {
    let redis = RedisServer::start().unwrap();
    let store = RedisRateStore::new(fleet(&redis.url()).await, FailurePolicy::FailClosed);
    let quotas = [
        RateQuota::new(1000, Duration::from_secs(1)).burst(10),
        RateQuota::new(3, Duration::from_secs(60)).burst(3),
    ];
    let request = RateRequest::new("multi", &quotas);
    for _ in 0..3 {
        assert_eq!(
            store.admit(&request).await.unwrap(),
            Admission::Go { wait: Duration::ZERO }
        );
    }
    match store.admit(&request).await.unwrap() {
        Admission::Refused { retry_after } => {
            assert!(retry_after > Duration::from_secs(15), "{retry_after:?}")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_fails_open_to_the_local_share_then_resumes() {
    let mut redis = RedisServer::start().unwrap();
    let store = RedisRateStore::new(fleet(&redis.url()).await, FailurePolicy::fail_open(4));
    let quotas = [RateQuota::new(40, Duration::from_secs(1)).burst(4)];
    let request = RateRequest::new("down", &quotas).max_wait(Duration::from_secs(1));
    assert!(matches!(
        store.admit(&request).await.unwrap(),
        Admission::Go { .. }
    ));
    redis.kill();
    // Fallback: 40 / 4 replicas = 10/s, burst 1; no call waits on Redis.
    let started = Instant::now();
    let mut waits = Vec::new();
    for _ in 0..5 {
        let asked = Instant::now();
        match store.admit(&request).await.unwrap() {
            Admission::Go { wait } => waits.push(wait),
            other => panic!("{other:?}"),
        }
        assert!(
            asked.elapsed() < Duration::from_millis(500),
            "an admission waited on Redis"
        );
    }
    assert_eq!(store.mode(), StoreMode::Fallback);
    // Asked back to back: each reserved slot 100 ms after the one before.
    let spacing = waits[4].saturating_sub(waits[1]);
    assert!(
        spacing >= Duration::from_millis(250) && spacing <= Duration::from_millis(300),
        "the local share spaces at 10/s: {waits:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    redis.restart().unwrap();
    let resumed = Instant::now();
    while store.mode() != StoreMode::Fleet || store.admit(&request).await.is_err() {
        assert!(
            resumed.elapsed() < Duration::from_secs(10),
            "fleet mode did not resume"
        );
        let _ = store.admit(&request).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let keys = redis.cli(&["EXISTS", "test:rate:{down}"]).unwrap();
    assert_eq!(keys.trim(), "1", "admissions are counted in Redis again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_fails_closed_with_a_retry_hint() {
    let mut redis = RedisServer::start().unwrap();
    let store = RedisRateStore::new(fleet(&redis.url()).await, FailurePolicy::FailClosed);
    let quotas = [RateQuota::new(10, Duration::from_secs(1))];
    let request = RateRequest::new("closed", &quotas);
    store.admit(&request).await.unwrap();
    redis.kill();
    let asked = Instant::now();
    let err = store.admit(&request).await.unwrap_err();
    assert!(err.is_rate_limited(), "{err}");
    assert!(err.retry_after().is_some());
    assert!(asked.elapsed() < Duration::from_millis(500));
    assert_eq!(store.mode(), StoreMode::Closed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_redis_never_holds_a_call_past_the_time_limit() {
    let redis = RedisServer::start().unwrap();
    let fleet = Fleet::connect(
        FleetConfig::new(redis.url())
            .key_prefix("test")
            .op_timeout(Duration::from_millis(30)),
    )
    .await
    .unwrap();
    let store = RedisRateStore::new(fleet, FailurePolicy::fail_open(1));
    let quotas = [RateQuota::new(1000, Duration::from_secs(1))];
    let request = RateRequest::new("slow", &quotas);
    store.admit(&request).await.unwrap();
    // Every client is paused for 1.5 s: Redis is up but does not answer.
    redis.cli(&["CLIENT", "PAUSE", "1500", "ALL"]).unwrap();
    let asked = Instant::now();
    let admission = store.admit(&request).await.unwrap();
    let took = asked.elapsed();
    assert!(matches!(admission, Admission::Go { .. }));
    assert!(
        took < Duration::from_millis(300),
        "waited {took:?} on a paused Redis"
    );
    assert_eq!(store.mode(), StoreMode::Fallback);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_a_config_error_at_build_time() {
    let redis = RedisServer::builder().password("right-horse").start().unwrap();
    let url = format!("redis://:wrong-battery@127.0.0.1:{}", redis.port());
    let err = Fleet::connect(FleetConfig::new(url)).await.unwrap_err();
    assert!(err.is_config(), "{err}");
    assert!(!err.to_string().contains("wrong-battery"), "{err}");
    let missing = format!("redis://127.0.0.1:{}", redis.port());
    let err = Fleet::connect(FleetConfig::new(missing)).await.unwrap_err();
    assert!(err.is_config(), "no password at all: {err}");
    assert!(Fleet::connect(FleetConfig::new(redis.url())).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_to_a_plain_server_is_a_config_error_at_build_time() {
    let redis = RedisServer::start().unwrap();
    let url = format!("rediss://127.0.0.1:{}", redis.port());
    let err = Fleet::connect(FleetConfig::new(url)).await.unwrap_err();
    assert!(err.is_config(), "{err}");
    let err = Fleet::connect(FleetConfig::new("http://127.0.0.1:1"))
        .await
        .unwrap_err();
    assert!(err.is_config(), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_cluster_keys_spread_over_the_masters_and_scripts_stay_in_one_slot() {
    let cluster = RedisCluster::start().unwrap();
    let fleet = Fleet::connect(FleetConfig::cluster(cluster.urls()).key_prefix("test"))
        .await
        .unwrap();
    let store = RedisRateStore::new(fleet, FailurePolicy::FailClosed);
    let quotas = [
        RateQuota::new(10, Duration::from_secs(1)),
        RateQuota::new(100, Duration::from_secs(60)),
    ];
    for tenant in 0..60 {
        let key = format!("tenant-{tenant}\u{1f}/v1/orders");
        let request = RateRequest::new(&key, &quotas);
        assert_eq!(
            store.admit(&request).await.unwrap(),
            Admission::Go { wait: Duration::ZERO }
        );
    }
    let per_master: Vec<usize> = cluster
        .nodes()
        .iter()
        .map(|node| node.cli(&["DBSIZE"]).unwrap().trim().parse().unwrap())
        .collect();
    assert_eq!(per_master.iter().sum::<usize>(), 60, "{per_master:?}");
    assert!(
        per_master.iter().all(|&n| n > 0),
        "keys on every master: {per_master:?}"
    );
}
