//! `conn-bench gateway --upstream URL`: the real conn-gateway router in its
//! own process, set up as `conn serve` sets it up (a Prometheus recorder,
//! INFO logs on stderr, a multi-thread runtime), over a blueprint with one
//! connector in front of the bench's upstream.
//!
//! Why not run the `conn` binary itself: the bench builds one binary, and
//! this role is `conn serve` minus reading a file, signal handling and
//! reload, none of which is on a call's path. It stops when its stdin
//! closes, so a callgrind run ends with a normal exit and writes its counts.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::sync::Arc;

use conn::blueprint::{Blueprint, Registry};
use conn_gateway::{Gateway, GatewayConfig};
use metrics_exporter_prometheus::PrometheusBuilder;

/// The key the load generator presents to the gateway (sent to nginx too,
/// so both proxies get the same request).
pub const CALLER_KEY: &str = "bench-caller-key-0c5d";
/// The one connector, called directly and through the gateway.
pub const CONNECTOR: &str = "bench";

/// The blueprint both the gateway and the direct client build from: a
/// bearer token, the default retry policy (3 attempts) and a breaker; one
/// caller allowed this connector and the tenant the clients use.
pub fn blueprint(upstream: &str) -> Result<Blueprint, Box<dyn std::error::Error>> {
    let text = format!(
        r#"
[defaults]
allow_http = true

[connectors.{CONNECTOR}]
base_url = "{upstream}"
auth = {{ type = "bearer", token = {{ env = "BENCH_UPSTREAM_TOKEN" }} }}
breaker = {{ consecutive_failures = 5, cooldown = "1s" }}

[gateway]
max_in_flight = 4096

[gateway.callers.load]
key = {{ env = "BENCH_CALLER_KEY" }}
connectors = ["{CONNECTOR}"]
tenants = ["tenant-0"]
"#
    );
    let env = HashMap::from([
        ("BENCH_UPSTREAM_TOKEN".to_owned(), "bench-token".to_owned()),
        ("BENCH_CALLER_KEY".to_owned(), CALLER_KEY.to_owned()),
    ]);
    Blueprint::from_str_with_env(&text, &env).map_err(|e| e.to_string().into())
}

/// Serves until stdin closes; prints `port N` once it listens.
pub fn serve(args: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    let upstream = args
        .iter()
        .position(|a| a == "--upstream")
        .and_then(|i| args.get(i + 1))
        .ok_or("--upstream URL is required")?;
    let blueprint = blueprint(upstream)?;
    // The logs of `conn serve`, as it sets them up.
    conn_gateway::logs::init(false);
    let metrics = PrometheusBuilder::new().install_recorder().ok();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let registry = Arc::new(Registry::from_blueprint_hyper(&blueprint)?);
        let config = GatewayConfig::from_blueprint(&blueprint);
        let mut builder = Gateway::builder(registry, config).explain(blueprint.explain());
        if let Some(handle) = metrics {
            builder = builder.metrics(handle);
        }
        let gateway = builder.build();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let mut stdout = std::io::stdout();
        writeln!(stdout, "port {}", listener.local_addr()?.port())?;
        stdout.flush()?;
        let stdin_closed = async {
            let _ = tokio::task::spawn_blocking(|| {
                let mut sink = [0u8; 64];
                while matches!(std::io::stdin().read(&mut sink), Ok(n) if n > 0) {}
            })
            .await;
        };
        gateway.serve(listener, stdin_closed).await?;
        Ok(())
    })
}
