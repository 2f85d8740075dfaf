//! Randomness for jitter and ids.
//!
//! Jitter and ids only need to differ between processes and calls, not to be
//! unpredictable, so they come from a per-process random key and a counter
//! (no system call, no lock). Nonces and generated keys must be unpredictable:
//! conn-core's `store::Cipher` and `StoreKey` draw them from the OS.

use conn_core::component::random::next_u64;

/// A uniform value in `[0, 1)`, for jitter.
pub(crate) use conn_core::component::random::unit;

/// 16 hex digits that identify a token in logs. They are derived from
/// nothing secret, so logging them reveals nothing about the token.
pub(crate) fn id_hex() -> String {
    format!("{:016x}", next_u64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_differ() {
        let a = id_hex();
        let b = id_hex();
        assert_eq!(a.len(), 16);
        assert_ne!(a, b);
    }
}
