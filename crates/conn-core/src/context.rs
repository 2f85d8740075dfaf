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
    let (process, count) = (
        crate::component::random::process_key(),
        crate::component::random::next_sequence(),
    );
    // Hex into a stack buffer: this runs on every call, and `format!`
    // costs ten times more; the `Arc` is the one allocation.
    let mut id = [0u8; 32];
    id[..16].copy_from_slice(&hex_digits(process));
    id[16..].copy_from_slice(&hex_digits(count));
    Arc::from(std::str::from_utf8(&id).unwrap_or_default())
}

/// The 16 lower-case hex digits of `value`, most significant first, all at
/// once: each nibble is spread into a byte of a `u128`, then turned into
/// its ASCII digit with the same few operations for every byte (a digit at
/// a time cost about 150 instructions per id).
fn hex_digits(value: u64) -> [u8; 16] {
    const ONES: u128 = 0x0101_0101_0101_0101_0101_0101_0101_0101;
    let mut nibbles = u128::from(value);
    nibbles = (nibbles | (nibbles << 32)) & 0x0000_0000_FFFF_FFFF_0000_0000_FFFF_FFFF;
    nibbles = (nibbles | (nibbles << 16)) & 0x0000_FFFF_0000_FFFF_0000_FFFF_0000_FFFF;
    nibbles = (nibbles | (nibbles << 8)) & 0x00FF_00FF_00FF_00FF_00FF_00FF_00FF_00FF;
    nibbles = (nibbles | (nibbles << 4)) & 0x0F0F_0F0F_0F0F_0F0F_0F0F_0F0F_0F0F_0F0F;
    // 1 in each byte whose nibble is 10 or more (a letter), else 0.
    let letters = ((nibbles + 6 * ONES) >> 4) & ONES;
    (nibbles + u128::from(b'0') * ONES + letters * u128::from(b'a' - b'0' - 10)).to_be_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_digits_match_format() {
        let mut value = 0x0123_4567_89ab_cdef_u64;
        for edge in [0, 1, 9, 10, 15, 16, u64::MAX, u64::MAX - 1, 0xa0a0_a0a0_a0a0_a0a0] {
            assert_eq!(hex_digits(edge), format!("{edge:016x}").as_bytes(), "{edge:#x}");
        }
        for _ in 0..10_000 {
            // A xorshift walk over the whole range.
            value ^= value << 13;
            value ^= value >> 7;
            value ^= value << 17;
            assert_eq!(
                hex_digits(value),
                format!("{value:016x}").as_bytes(),
                "{value:#x}"
            );
        }
    }

    #[test]
    fn generated_ids_are_32_hex_digits_and_differ() {
        let (a, b) = (new_correlation_id(), new_correlation_id());
        assert_eq!(a.len(), 32);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
        );
        assert_ne!(a, b);
    }
}
