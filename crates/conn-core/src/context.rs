//! `Context`: who a call is for and how long it may take.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

/// Per-call context: tenant, correlation id, deadline and free-form tags.
///
/// The tenant keys throttles, breakers and token caches, so one tenant's
/// state never serves another's request. The correlation id is sent upstream
/// (as `X-Request-Id` unless the connector says otherwise) and appears in
/// every report and error; one is generated when the context has none.
///
/// ```
/// use std::time::Duration;
/// use conn_core::Context;
///
/// let context = Context::new()
///     .tenant("acme")
///     .correlation_id("req-1234")
///     .timeout(Duration::from_secs(5))
///     .tag("job", "nightly-sync");
///
/// assert_eq!(context.tenant_id(), Some("acme"));
/// assert_eq!(context.tags().get("job").map(String::as_str), Some("nightly-sync"));
/// assert!(context.deadline_at().is_some());
/// ```
#[derive(Clone, Debug, Default)]
pub struct Context {
    tenant: Option<Arc<str>>,
    correlation_id: Option<Arc<str>>,
    deadline: Option<Instant>,
    tags: BTreeMap<String, String>,
}

impl Context {
    /// An empty context: no tenant, no deadline, a generated correlation id.
    pub fn new() -> Self {
        Context::default()
    }

    /// Sets the tenant the call is made for.
    pub fn tenant(mut self, tenant: impl Into<Arc<str>>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// Sets the correlation id (e.g. propagated from an inbound request).
    pub fn correlation_id(mut self, id: impl Into<Arc<str>>) -> Self {
        self.correlation_id = Some(id.into());
        self
    }

    /// Sets an absolute deadline for the whole call, attempts and waits included.
    pub fn deadline(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Sets the deadline to `timeout` from now (a timeout too large to
    /// represent means no deadline).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.deadline = Instant::now().checked_add(timeout);
        self
    }

    /// Adds a free-form tag (for logs and user-defined keys).
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.insert(key.into(), value.into());
        self
    }

    /// The tenant, if any.
    pub fn tenant_id(&self) -> Option<&str> {
        self.tenant.as_deref()
    }

    /// The correlation id, if one was set or generated.
    pub fn correlation(&self) -> Option<&Arc<str>> {
        self.correlation_id.as_ref()
    }

    /// The deadline, if any.
    pub fn deadline_at(&self) -> Option<Instant> {
        self.deadline
    }

    /// The tags.
    pub fn tags(&self) -> &BTreeMap<String, String> {
        &self.tags
    }

    /// The correlation id, generating a random one first when absent.
    pub fn ensure_correlation_id(&mut self) -> Arc<str> {
        self.correlation_id.get_or_insert_with(new_correlation_id).clone()
    }
}

/// A new correlation id: 32 hex digits, a random per-process half and a
/// counter half, so ids are unique across processes without a system call
/// per id. Correlation ids identify, they do not authenticate: being
/// predictable is fine.
fn new_correlation_id() -> Arc<str> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let (process, count) = (
        crate::component::random::process_key(),
        crate::component::random::next_sequence(),
    );
    // Hand-rolled hex into a stack buffer: this runs on every call, and
    // `format!` costs ten times more; the `Arc` is the one allocation.
    let mut id = [0u8; 32];
    for (digits, half) in id.chunks_exact_mut(16).zip([process, count]) {
        for (position, digit) in digits.iter_mut().enumerate() {
            *digit = HEX[((half >> ((15 - position) * 4)) & 0xf) as usize];
        }
    }
    Arc::from(std::str::from_utf8(&id).unwrap_or_default())
}
