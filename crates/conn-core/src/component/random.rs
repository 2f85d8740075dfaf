//! Cheap, lock-free randomness for jitter and identifiers.
//!
//! Jitter, correlation ids and token ids only need to differ between calls
//! and between processes, not to be unpredictable: they come from one random
//! key per process (drawn from the OS once, through std's `RandomState`) and a
//! counter, mixed with splitmix64. No system call, no lock, no dependency.
//! Anything secret (keys, nonces) must use the OS's secure source instead.

use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// The per-process random key.
pub fn process_key() -> u64 {
    static KEY: OnceLock<u64> = OnceLock::new();
    *KEY.get_or_init(|| RandomState::new().build_hasher().finish())
}

/// A sequence number unique within this process.
pub fn next_sequence() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

/// A value that differs for every call in this process and between processes.
///
/// ```
/// use conn_core::component::random;
/// assert_ne!(random::next_u64(), random::next_u64());
/// ```
pub fn next_u64() -> u64 {
    splitmix64(process_key() ^ splitmix64(next_sequence()))
}

/// A uniform value in `[0, 1)`, different on every call.
pub fn unit() -> f64 {
    unit_from(next_u64())
}

/// Maps 64 random bits to a uniform value in `[0, 1)` (the top 53 bits make
/// an exactly representable `f64`).
pub fn unit_from(bits: u64) -> f64 {
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// The splitmix64 mixer: a fast, well-distributed bijection on `u64`, used to
/// derive reproducible random values from a seed and inputs.
pub fn splitmix64(mut x: u64) -> u64 {
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
}
