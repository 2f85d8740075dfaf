//! `cargo xtask fuzz [--seconds N] [--target NAME]`: runs each target for
//! N seconds (10 by default) from its committed seed corpus (`--seed N`
//! replays a run's mutations) and prints
//! executions, corpus growth, distinct outcomes and failures per target.
//! Failing inputs are written to `target/fuzz/<target>-<n>.bin`; the exit
//! status is non-zero if any target failed.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use conn_fuzz::driver::{self, Budget};
use conn_fuzz::targets::TARGETS;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut seconds = 10u64;
    let mut only: Option<String> = None;
    let mut fixed_seed: Option<u64> = None;
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        match (flag.as_str(), args.next()) {
            ("--seconds", Some(n)) if n.parse::<u64>().is_ok() => seconds = n.parse().unwrap_or(10),
            ("--target", Some(name)) => only = Some(name.clone()),
            ("--seed", Some(n)) if n.parse::<u64>().is_ok() => fixed_seed = n.parse().ok(),
            _ => {
                eprintln!("usage: conn-fuzz [--seconds N] [--target NAME] [--seed N]");
                return ExitCode::from(2);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = root.join("../target/fuzz");
    let _quiet = driver::quiet_panics();
    println!(
        "{:<13} {:>10} {:>9} {:>13} {:>9} {:>9}",
        "target", "execs", "execs/s", "corpus", "outcomes", "failures"
    );
    let mut failed = false;
    for target in TARGETS
        .iter()
        .filter(|t| only.as_deref().is_none_or(|name| name == t.name))
    {
        let seeds = driver::load_seeds(&root.join("corpus").join(target.name));
        let seed = fixed_seed.unwrap_or_else(conn_core::component::random::next_u64);
        let stats = driver::run(target, seeds, Budget::Time(Duration::from_secs(seconds)), seed);
        println!(
            "{:<13} {:>10} {:>9.0} {:>13} {:>9} {:>9}",
            stats.target,
            stats.execs,
            stats.execs as f64 / stats.elapsed.as_secs_f64().max(1e-9),
            format!("{} -> {}", stats.seeds, stats.corpus),
            stats.outcomes,
            stats.failures.len()
        );
        for (n, failure) in stats.failures.iter().enumerate() {
            failed = true;
            let path: PathBuf = out.join(format!("{}-{n}.bin", stats.target));
            let saved = std::fs::create_dir_all(&out).and_then(|()| std::fs::write(&path, &failure.input));
            let place = match saved {
                Ok(()) => path.display().to_string(),
                Err(err) => format!("(not saved: {err})"),
            };
            println!("    FAIL {} -- input {place} (seed {seed})", failure.message);
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
