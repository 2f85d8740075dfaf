//! A short, seeded fuzzing pass over every target, in the normal test
//! suite: the seeds and a few thousand mutations each, the same ones on
//! every run, so a regression in any parser's property fails CI at once.

use std::path::Path;

use conn_fuzz::driver::{self, Budget};
use conn_fuzz::targets::TARGETS;

#[test]
fn every_target_survives_a_seeded_pass() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let _quiet = driver::quiet_panics();
    let mut report = String::new();
    for target in TARGETS {
        let seeds = driver::load_seeds(&root.join(target.name));
        assert!(!seeds.is_empty(), "no seed corpus for {}", target.name);
        let stats = driver::run(target, seeds, Budget::Execs(3_000), 0x5eed);
        assert!(
            stats.outcomes > 1,
            "{} produced a single outcome: the target sees nothing",
            target.name
        );
        for failure in &stats.failures {
            report.push_str(&format!(
                "{}: {} (input {:?})\n",
                target.name,
                failure.message,
                String::from_utf8_lossy(&failure.input)
            ));
        }
    }
    assert!(report.is_empty(), "{report}");
}
