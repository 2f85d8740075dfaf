//! Randomness for jitter, token ids and nonces.
//!
//! Jitter and ids only need to differ between processes and calls, not to be
//! unpredictable, so they come from a per-process random key and a counter
//! (no system call, no lock). Nonces and generated keys must be unpredictable
//! and come from the operating system through `getrandom`.

use conn_core::component::random::next_u64;
use conn_core::{Error, ErrorKind};

/// A uniform value in `[0, 1)`, for jitter.
pub(crate) use conn_core::component::random::unit;

/// 16 hex digits that identify a token in logs. They are derived from
/// nothing secret, so logging them reveals nothing about the token.
pub(crate) fn id_hex() -> String {
    format!("{:016x}", next_u64())
}

/// `N` bytes from the operating system's secure random source.
pub(crate) fn secure_bytes<const N: usize>() -> Result<[u8; N], Error> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| {
        Error::new(
            ErrorKind::AuthProvider,
            format!("the operating system's random number generator failed: {e}"),
        )
    })?;
    Ok(bytes)
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

    #[test]
    fn secure_bytes_are_not_all_zero() {
        let bytes: [u8; 32] = secure_bytes().unwrap();
        assert!(bytes.iter().any(|&b| b != 0));
    }
}
