//! Deterministic randomness for jitter, without shared state.
//!
//! Each decision draws from `splitmix64(seed, correlation id, attempt)`: two
//! calls get different jitter, the same call and seed always get the same,
//! and no lock is taken on the hot path.

use conn_core::component::random::{next_u64, splitmix64, unit_from};

/// A seed for a policy that was given none.
pub(crate) fn random_seed() -> u64 {
    next_u64()
}

/// A uniform value in `[0, 1)` for this (seed, call, attempt, purpose).
pub(crate) fn unit(seed: u64, call: &str, attempt: u32, purpose: u64) -> f64 {
    let mut h = seed ^ purpose.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    for chunk in call.as_bytes().chunks(8) {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        h = splitmix64(h ^ u64::from_le_bytes(word));
    }
    unit_from(splitmix64(h ^ u64::from(attempt)))
}

#[cfg(test)]
mod tests {
    use super::unit;

    #[test]
    fn deterministic_in_range_and_varied() {
        let a = unit(7, "call-a", 1, 0);
        assert_eq!(a, unit(7, "call-a", 1, 0));
        assert_ne!(a, unit(7, "call-b", 1, 0));
        assert_ne!(a, unit(7, "call-a", 2, 0));
        assert_ne!(a, unit(8, "call-a", 1, 0));
        let mean: f64 = (0..10_000).map(|i| unit(1, "c", i, 0)).sum::<f64>() / 10_000.0;
        assert!((0.48..0.52).contains(&mean), "{mean}");
        assert!(
            (0..10_000)
                .map(|i| unit(3, "x", i, 1))
                .all(|u| (0.0..1.0).contains(&u))
        );
    }
}
