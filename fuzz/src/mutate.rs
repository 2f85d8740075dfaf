//! Byte-level mutations, the ones libFuzzer's default mutator applies most,
//! drawn from a seeded generator so a run can be replayed.

/// A small, fast, seedable generator (splitmix64).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator starting at `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        conn_core::component::random::splitmix64(self.0)
    }

    /// A value in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

/// Bytes that often sit on parser boundaries.
const INTERESTING: [u8; 16] = [
    0, 0xff, 0x7f, 0x80, b'"', b'\\', b'<', b'>', b'/', b'%', b';', b',', b'=', b'\n', b'.', b' ',
];

/// The longest input a mutation produces.
pub const MAX_LEN: usize = 4096;

/// Applies one to four mutations to `input`; `corpus` supplies splices and
/// `dictionary` the target's tokens.
pub fn mutate(input: &mut Vec<u8>, rng: &mut Rng, corpus: &[Vec<u8>], dictionary: &[&str]) {
    let rounds = 1 + rng.below(4);
    for _ in 0..rounds {
        let len = input.len();
        match rng.below(9) {
            0 if len > 0 => {
                let at = rng.below(len);
                input[at] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let at = rng.below(len);
                input[at] = INTERESTING[rng.below(INTERESTING.len())];
            }
            2 => {
                let at = rng.below(len + 1);
                input.insert(at, rng.next_u64() as u8);
            }
            3 if len > 0 => {
                let at = rng.below(len);
                let end = (at + 1 + rng.below(16)).min(len);
                input.drain(at..end);
            }
            4 if len > 0 => {
                let at = rng.below(len);
                let end = (at + 1 + rng.below(32)).min(len);
                let copy = input[at..end].to_vec();
                let to = rng.below(len + 1);
                input.splice(to..to, copy);
            }
            5 | 6 if !dictionary.is_empty() => {
                let token = dictionary[rng.below(dictionary.len())].as_bytes();
                let at = rng.below(len + 1);
                input.splice(at..at, token.iter().copied());
            }
            7 if !corpus.is_empty() => {
                let other = &corpus[rng.below(corpus.len())];
                let cut = rng.below(len + 1);
                let from = rng.below(other.len() + 1);
                input.truncate(cut);
                input.extend_from_slice(&other[from..]);
            }
            8 if len > 1 => input.truncate(rng.below(len)),
            _ => input.push(rng.next_u64() as u8),
        }
    }
    input.truncate(MAX_LEN);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_replays_the_same_mutations() {
        let run = |seed| {
            let mut rng = Rng::new(seed);
            let mut input = b"Retry-After: 120".to_vec();
            for _ in 0..100 {
                mutate(&mut input, &mut rng, &[b"abc".to_vec()], &["gmt"]);
            }
            input
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
        assert!(run(3).len() <= MAX_LEN);
    }
}
