//! `conn serve`: the gateway over a blueprint file, until SIGTERM.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use conn_blueprint::Registry;
use conn_gateway::{Gateway, GatewayConfig, file_reloader};
use metrics_exporter_prometheus::PrometheusBuilder;

pub(crate) fn run(path: &Path, listen: Option<SocketAddr>, json_logs: bool) -> ExitCode {
    conn_gateway::logs::init(json_logs);
    let blueprint = match crate::load(path) {
        Ok(b) => b,
        Err(code) => return code,
    };
    let mut config = GatewayConfig::from_blueprint(&blueprint);
    if let Some(listen) = listen {
        config.listen = listen;
    }
    if config.callers.is_empty() {
        tracing::warn!("the blueprint has no [gateway.callers.<name>]: every call will be refused with 401");
    }
    let metrics = match PrometheusBuilder::new().install_recorder() {
        Ok(handle) => Some(handle),
        Err(e) => {
            tracing::warn!(error = %e, "no metrics recorder; GET /metrics will answer 404");
            None
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("conn: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let registry = match Registry::from_blueprint_hyper_with_fleet(&blueprint).await {
            Ok(r) => Arc::new(r),
            Err(e) => {
                eprintln!(
                    "conn: the connectors could not be built: {e}\nfix the blueprint and run `conn check {}`",
                    path.display()
                );
                return ExitCode::FAILURE;
            }
        };
        let addr = config.listen;
        let listener = match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!(
                    "conn: cannot listen on {addr}: {e}\npick another address with --listen 127.0.0.1:PORT"
                );
                return ExitCode::FAILURE;
            }
        };
        let local = listener.local_addr().unwrap_or(addr);
        let mut builder = Gateway::builder(registry, config)
            .explain(blueprint.explain())
            .reloader(file_reloader(path));
        if let Some(handle) = metrics {
            builder = builder.metrics(handle);
        }
        let gateway = builder.build();
        // The one line scripts and tests wait for: the real address (port 0 resolved).
        eprintln!("conn: listening on http://{local}");
        tracing::info!(address = %local, connectors = gateway.registry().names().len(), "gateway listening");
        match gateway.run(listener).await {
            Ok(()) => {
                eprintln!("conn: stopped");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("conn: the server failed: {e}");
                ExitCode::FAILURE
            }
        }
    })
}
