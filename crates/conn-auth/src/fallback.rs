//! `Fallback`: degraded credentials when the primary ones cannot be had.

use std::fmt;
use std::sync::Arc;

use conn_core::{AuthStrategy, BoxFuture, Context, Error, Request};

/// Uses `primary`, and when it cannot produce credentials (an
/// [`AuthProvider`](conn_core::ErrorKind::AuthProvider) error: token
/// endpoint down, refresh token revoked, store unreadable) uses `degraded`
/// instead — a read-only static key, or [`NoAuth`](conn_core::NoAuth) for
/// anonymous access — and marks the attempt degraded, so the caller sees
/// it in [`CallReport::degraded`](conn_core::CallReport::degraded).
///
/// On a 401 the primary's refresh runs; if it fails the attempt is replayed
/// once with the degraded credentials (a second 401 ends the call). Other
/// errors (configuration, deadline) are not masked.
///
/// ```
/// use std::sync::Arc;
/// use conn_auth::{ApiKey, Fallback, StaticBearer};
///
/// let primary = Arc::new(StaticBearer::new("full-access"));  // a TokenAuth, usually
/// let read_only = Arc::new(ApiKey::header("x-api-key", "read-only-key"));
/// let auth = Fallback::new(primary, read_only).reason("read-only key: token endpoint unavailable");
/// // Connector::builder("vendor").auth(Arc::new(auth))...
/// # let _ = auth;
/// ```
pub struct Fallback {
    primary: Arc<dyn AuthStrategy>,
    degraded: Arc<dyn AuthStrategy>,
    reason: &'static str,
}

impl Fallback {
    /// `primary`, falling back on `degraded`.
    pub fn new(primary: Arc<dyn AuthStrategy>, degraded: Arc<dyn AuthStrategy>) -> Self {
        Fallback {
            primary,
            degraded,
            reason: "fallback credentials: the primary credentials could not be obtained",
        }
    }

    /// The reason the call report gives for running degraded.
    pub fn reason(mut self, reason: &'static str) -> Self {
        self.reason = reason;
        self
    }
}

impl AuthStrategy for Fallback {
    fn authorize<'a>(
        &'a self,
        request: &'a mut Request,
        context: &'a Context,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            // Kept so a primary that failed half-way leaves nothing behind.
            let pristine = request.clone();
            match self.primary.authorize(request, context).await {
                Err(err) if err.is_auth_provider() => {
                    *request = pristine;
                    self.degraded.authorize(request, context).await?;
                    request.mark_degraded(self.reason);
                    tracing::warn!(
                        target: "conn_auth::fallback",
                        tenant = context.tenant_id().unwrap_or("-"),
                        error = %err,
                        reason = self.reason,
                        "primary credentials unavailable; using the fallback"
                    );
                    Ok(())
                }
                other => other,
            }
        })
    }

    fn refresh<'a>(&'a self, context: &'a Context) -> BoxFuture<'a, Result<bool, Error>> {
        Box::pin(async move {
            match self.primary.refresh(context).await {
                // The replay's authorize fails over to the degraded
                // credentials (the primary's failure is remembered briefly,
                // so it fails fast).
                Err(err) if err.is_auth_provider() => {
                    tracing::warn!(
                        target: "conn_auth::fallback",
                        tenant = context.tenant_id().unwrap_or("-"),
                        error = %err,
                        "credential refresh failed; replaying with the fallback"
                    );
                    Ok(true)
                }
                other => other,
            }
        })
    }

    fn bind_telemetry(&self, connector: &str, telemetry: conn_core::Telemetry) {
        self.primary.bind_telemetry(connector, telemetry);
        self.degraded.bind_telemetry(connector, telemetry);
    }
}

impl fmt::Debug for Fallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fallback")
            .field("reason", &self.reason)
            .finish_non_exhaustive()
    }
}
