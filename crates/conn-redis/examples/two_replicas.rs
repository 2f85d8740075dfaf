//! Two replicas of one service, one vendor quota of 20 requests per second,
//! counted in Redis: each replica alone would send 20/s; together they still
//! send 20/s. Prints what the upstream (the test kit's server) saw.
//!
//! Run: `cargo run -p conn-redis --example two_replicas` (starts its own
//! redis-server; set REDIS_URL to use yours).

use std::sync::Arc;
use std::time::Duration;

use conn_core::{Connector, Context, Request};
use conn_redis::{FailurePolicy, Fleet, FleetConfig, RedisRateStore};
use conn_testkit::{RedisServer, Reply, TestServer};
use conn_throttle::{Limit, Mode, Throttler};
use conn_transport_hyper::HyperTransport;
use http::Method;

/// One replica: its own Redis connection, throttle and connector.
async fn replica(redis_url: &str, api_url: &str) -> Result<Connector, conn_core::Error> {
    let fleet = Fleet::connect(FleetConfig::new(redis_url.to_owned()).key_prefix("example")).await?;
    let quota = Arc::new(RedisRateStore::new(fleet, FailurePolicy::fail_open(2)));
    let throttle = Throttler::builder()
        .limit(Limit::per_second(20))
        .rate_store(quota, "vendor")
        .mode(Mode::Wait {
            max_wait: Duration::from_secs(10),
        })
        .build();
    Connector::builder("vendor")
        .base_url(api_url)
        .allow_http(true)
        .transport(Arc::new(HyperTransport::builder().build()?))
        .throttle(Arc::new(throttle))
        .build()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let own_redis;
    let redis_url = match std::env::var("REDIS_URL") {
        Ok(url) => url,
        Err(_) => {
            own_redis = RedisServer::start()?;
            own_redis.url()
        }
    };
    let upstream = TestServer::start().await?;
    upstream.route(Method::GET, "/v1/items", [Reply::status(200)]);

    let replicas = [
        replica(&redis_url, &upstream.url()).await?,
        replica(&redis_url, &upstream.url()).await?,
    ];
    let run = Duration::from_secs(3);
    let end = tokio::time::Instant::now() + run;
    let mut callers = Vec::new();
    for (index, connector) in replicas.iter().enumerate() {
        for _ in 0..8 {
            let connector = connector.clone();
            callers.push(tokio::spawn(async move {
                let mut sent = 0u32;
                while tokio::time::Instant::now() < end {
                    if connector
                        .call(Request::get("/v1/items"), Context::new())
                        .await
                        .is_ok()
                    {
                        sent += 1;
                    }
                }
                (index, sent)
            }));
        }
    }
    let mut per_replica = [0u32; 2];
    for caller in callers {
        let (index, sent) = caller.await?;
        per_replica[index] += sent;
    }
    let requests = upstream.requests_to("/v1/items");
    let first = requests.iter().map(|r| r.received_at).min();
    let mut per_second = vec![0u32; run.as_secs() as usize + 2];
    for request in &requests {
        if let Some(first) = first {
            let second = (request.received_at - first).as_secs() as usize;
            if let Some(count) = per_second.get_mut(second) {
                *count += 1;
            }
        }
    }
    println!("quota: 20 requests per second, shared by 2 replicas through Redis");
    println!(
        "replica 1 sent {}, replica 2 sent {}",
        per_replica[0], per_replica[1]
    );
    println!("the upstream saw per second: {per_second:?} (the last seconds are partial)");
    Ok(())
}
