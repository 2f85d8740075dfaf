//! The fuzzing loop: pick a corpus input, mutate it, run the target, keep
//! the input if its outcome is new, collect panics and property violations.

use std::collections::BTreeSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::mutate::{Rng, mutate};
use crate::targets::Target;

/// How long a target runs.
#[derive(Clone, Copy, Debug)]
pub enum Budget {
    /// For this long.
    Time(Duration),
    /// For this many executions (reproducible with a fixed seed).
    Execs(u64),
}

/// One input that broke a target.
#[derive(Clone, Debug)]
pub struct Failure {
    /// The input, as fed to the target.
    pub input: Vec<u8>,
    /// The panic message or the violated property.
    pub message: String,
}

/// What a run of one target did.
#[derive(Clone, Debug)]
pub struct Stats {
    /// The target's name.
    pub target: &'static str,
    /// Executions, seeds included.
    pub execs: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// Seed inputs the corpus started with.
    pub seeds: usize,
    /// Corpus size at the end (seeds plus inputs kept for a new outcome).
    pub corpus: usize,
    /// Distinct outcomes seen: the drivers' stand-in for coverage.
    pub outcomes: usize,
    /// Distinct failures (by message), at most [`MAX_FAILURES`].
    pub failures: Vec<Failure>,
}

/// Failures kept per target: enough to see the pattern.
pub const MAX_FAILURES: usize = 10;
/// Corpus entries kept per target.
const MAX_CORPUS: usize = 4_000;

/// Reads a seed corpus directory (every file one input); empty if absent.
pub fn load_seeds(dir: &Path) -> Vec<Vec<u8>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    paths.into_iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

/// Runs `target` from `seeds` within `budget`, mutations drawn from `seed`.
pub fn run(target: &Target, seeds: Vec<Vec<u8>>, budget: Budget, seed: u64) -> Stats {
    let started = Instant::now();
    let mut rng = Rng::new(seed);
    let mut corpus = if seeds.is_empty() { vec![Vec::new()] } else { seeds };
    let seed_count = corpus.len();
    let mut outcomes = BTreeSet::new();
    let mut failures: Vec<Failure> = Vec::new();
    let mut execs = 0u64;
    let check = |input: &[u8], failures: &mut Vec<Failure>, outcomes: &mut BTreeSet<String>| -> bool {
        match catch_unwind(AssertUnwindSafe(|| (target.run)(input))) {
            Ok(Ok(outcome)) => outcomes.insert(outcome),
            Ok(Err(violation)) => record(failures, input, violation),
            Err(panic) => record(failures, input, format!("panic: {}", panic_message(&*panic))),
        }
    };
    for input in corpus.clone() {
        check(&input, &mut failures, &mut outcomes);
        execs += 1;
    }
    let done = |execs: u64| match budget {
        Budget::Time(limit) => started.elapsed() >= limit,
        Budget::Execs(limit) => execs >= limit,
    };
    while !done(execs) {
        // Check the clock only every 64 executions: reading it costs more than a small target.
        for _ in 0..64 {
            let mut input = corpus[rng.below(corpus.len())].clone();
            mutate(&mut input, &mut rng, &corpus, target.dictionary);
            let new = check(&input, &mut failures, &mut outcomes);
            execs += 1;
            if new && corpus.len() < MAX_CORPUS {
                corpus.push(input);
            }
            if matches!(budget, Budget::Execs(limit) if execs >= limit) {
                break;
            }
        }
    }
    Stats {
        target: target.name,
        execs,
        elapsed: started.elapsed(),
        seeds: seed_count,
        corpus: corpus.len(),
        outcomes: outcomes.len(),
        failures,
    }
}

/// Keeps a failure unless one with the same first line is already kept.
fn record(failures: &mut Vec<Failure>, input: &[u8], message: String) -> bool {
    let head = message.lines().next().unwrap_or_default().to_owned();
    let known = failures
        .iter()
        .any(|f| f.message.lines().next() == Some(head.as_str()));
    if !known && failures.len() < MAX_FAILURES {
        failures.push(Failure {
            input: input.to_vec(),
            message,
        });
    }
    false
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(non-text panic)".to_owned())
}

/// Silences the default panic output while fuzzing (each panic is caught
/// and reported once); returns a guard that restores it.
pub fn quiet_panics() -> impl Drop {
    struct Restore;
    impl Drop for Restore {
        fn drop(&mut self) {
            // take_hook panics on a panicking thread (a failed assertion
            // unwinding past the guard): leave the quiet hook then.
            if !std::thread::panicking() {
                let _ = std::panic::take_hook();
            }
        }
    }
    std::panic::set_hook(Box::new(|_| {}));
    Restore
}
