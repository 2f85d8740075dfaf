//! Serving and draining: stop accepting on the shutdown signal, let calls in
//! flight finish up to a grace period, then return (the process exits 0).
//! Readiness turns false at once, so a load balancer stops sending.

use std::future::Future;
use std::io;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::Gateway;

/// Serves `gateway` on `listener` until `shutdown` completes, then drains:
/// no new connections, requests in flight finish, for at most `grace`.
pub(crate) async fn serve(
    gateway: &Gateway,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> io::Result<()> {
    let (drain_tx, drain_rx) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, gateway.router()).with_graceful_shutdown(async move {
        let _ = drain_rx.await;
    });
    let mut server = std::pin::pin!(server.into_future());
    gateway.shared.set_ready(true);
    tokio::select! {
        result = &mut server => return result,
        () = shutdown => {}
    }
    gateway.shared.set_draining();
    tracing::info!(
        grace_ms = grace.as_millis() as u64,
        "draining: no new connections, finishing calls in flight"
    );
    let _ = drain_tx.send(());
    match tokio::time::timeout(grace, server).await {
        Ok(result) => {
            tracing::info!("drained");
            result
        }
        Err(_) => {
            tracing::warn!("grace period over with calls still in flight; stopping");
            Ok(())
        }
    }
}

/// Completes on SIGTERM or SIGINT (Ctrl-C).
pub async fn terminate_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Reloads `gateway` on every SIGHUP, for as long as the task runs.
pub(crate) async fn reload_on_hangup(gateway: Gateway) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            tracing::warn!("SIGHUP cannot be watched; reload with POST /v1/admin/reload");
            return;
        };
        while hup.recv().await.is_some() {
            match gateway.reload().await {
                Ok(_) => tracing::info!("reloaded on SIGHUP"),
                Err(problem) => {
                    tracing::warn!(detail = %problem.to_json()["detail"], "SIGHUP reload refused")
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = gateway;
    }
}
