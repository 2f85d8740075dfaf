//! The `AuthStrategy` trait: credentials on every attempt.

use std::sync::Arc;

use crate::{BoxFuture, Context, CredentialStatus, Error, Request, Telemetry, Transport};

/// Adds credentials to each attempt, and renews them when the API refuses them.
///
/// `authorize` runs before every attempt, on a fresh copy of the caller's
/// request, so a refreshed token is used by the next attempt. Strategies add
/// credentials through [`Request::set_credential_header`] and
/// [`Request::add_credential_query`], which marks them for redaction and for
/// stripping on cross-origin redirects.
///
/// ```
/// use conn_core::{AuthStrategy, BoxFuture, Context, Error, Request};
/// use http::header::{AUTHORIZATION, HeaderValue};
///
/// struct StaticBearer(&'static str);
///
/// impl AuthStrategy for StaticBearer {
///     fn authorize<'a>(&'a self, request: &'a mut Request, _: &'a Context) -> BoxFuture<'a, Result<(), Error>> {
///         Box::pin(async move {
///             let value = HeaderValue::from_str(&format!("Bearer {}", self.0))
///                 .map_err(|_| Error::config("token is not a valid header value"))?;
///             request.set_credential_header(AUTHORIZATION, value);
///             Ok(())
///         })
///     }
/// }
/// ```
pub trait AuthStrategy: Send + Sync {
    /// Adds credentials to `request` for the tenant in `context`.
    fn authorize<'a>(
        &'a self,
        request: &'a mut Request,
        context: &'a Context,
    ) -> BoxFuture<'a, Result<(), Error>>;

    /// Adds credentials at once when that needs no waiting (a fixed
    /// header): `None` sends the pipeline to [`authorize`](Self::authorize),
    /// which may fetch or refresh a token. An implementation must leave
    /// `request` untouched when it answers `None`.
    ///
    /// Why: most strategies hold a fixed credential, and adding it without
    /// a boxed future saves an allocation and a state machine per attempt.
    /// The default answers `None`, which is always correct.
    fn try_authorize(&self, request: &mut Request, context: &Context) -> Option<Result<(), Error>> {
        let _ = (request, context);
        None
    }

    /// Whether this strategy never changes a request (it sends no
    /// credentials), so the pipeline may build the wire request straight
    /// from the caller's request instead of authorizing a copy of it.
    ///
    /// Why: the copy (an allocation for the endpoint, a few hundred bytes
    /// moved) is only there for a strategy to write into. The default
    /// answers `false`, which is always correct; [`NoAuth`] answers `true`.
    fn leaves_requests_unchanged(&self) -> bool {
        false
    }

    /// Called once per call when the API answered 401 to credentials from
    /// this strategy. Returns `Ok(true)` when new credentials were obtained
    /// and the attempt should be replayed, `Ok(false)` when nothing can be
    /// renewed (the 401 becomes the call's error).
    fn refresh<'a>(&'a self, context: &'a Context) -> BoxFuture<'a, Result<bool, Error>> {
        let _ = context;
        Box::pin(async { Ok(false) })
    }

    /// What an operator may see of the credentials this strategy holds,
    /// one entry per tenant: expiry and renewal state, never a secret.
    /// Strategies that hold nothing that expires (static keys) keep the
    /// default, an empty list.
    fn credential_status(&self) -> Vec<CredentialStatus> {
        Vec::new()
    }

    /// The transport this strategy's connector should send through.
    ///
    /// Why: a strategy only sees requests, never responses, yet some
    /// credentials are fixed by what the server answers (AWS refuses a
    /// skewed signature with 403 and its own clock, which a signer must
    /// learn and re-sign with). Such a strategy wraps the transport here;
    /// every other keeps the default, the transport unchanged. Whoever
    /// assembles a connector from parts (conn-blueprint's registry) calls it.
    fn wrap_transport(&self, transport: Arc<dyn Transport>) -> Arc<dyn Transport> {
        transport
    }

    /// Called by [`ConnectorBuilder::build`](crate::ConnectorBuilder::build)
    /// with the connector's name and instrumentation settings, so a strategy
    /// that emits metrics of its own (a token cache's expiry and refreshes)
    /// labels them with the connector, as the pipeline's metrics are.
    /// Strategies that wrap others pass it on; the rest keep the default,
    /// which ignores it.
    fn bind_telemetry(&self, connector: &str, telemetry: Telemetry) {
        let _ = (connector, telemetry);
    }
}

/// The default strategy: sends no credentials.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoAuth;

impl AuthStrategy for NoAuth {
    fn authorize<'a>(&'a self, _: &'a mut Request, _: &'a Context) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async { Ok(()) })
    }

    fn try_authorize(&self, _: &mut Request, _: &Context) -> Option<Result<(), Error>> {
        Some(Ok(()))
    }

    fn leaves_requests_unchanged(&self) -> bool {
        true
    }
}
