//! Randomness for jitter, token ids and nonces.
//!
//! Jitter and ids only need to differ between processes and calls, not to be
//! unpredictable, so they come from a per-process random key and a counter
//! (no system call, no lock). Nonces and generated keys must be unpredictable
//! and come from the operating system through `getrandom`.

use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use conn_core::{Error, ErrorKind};

/// A value that differs for every call in this process and between processes.
fn next_u64() -> u64 {
    static PROCESS: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let process = *PROCESS.get_or_init(|| RandomState::new().build_hasher().finish());
    splitmix64(process ^ splitmix64(COUNTER.fetch_add(1, Ordering::Relaxed)))
}

/// A uniform value in `[0, 1)`, for jitter.
pub(crate) fn unit() -> f64 {
    // The top 53 bits make an exactly representable f64 in [0, 1).
    (next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

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

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_are_in_range_and_spread() {
        let values: Vec<f64> = (0..10_000).map(|_| unit()).collect();
        assert!(values.iter().all(|u| (0.0..1.0).contains(u)));
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        assert!((0.47..0.53).contains(&mean), "{mean}");
    }

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
