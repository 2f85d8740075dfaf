//! `cargo xtask fuzz [--seconds N] [--target NAME] [--seed N]`: each fuzz
//! target (crate `fuzz/`) for N seconds from its committed seed corpus, on
//! the stable toolchain; prints executions, corpus growth, outcomes and
//! failures per target. Optimised: executions per second are the point.

use std::process::ExitCode;

use crate::cargo;

pub fn run(flags: &[String]) -> ExitCode {
    let mut args = vec!["run", "--release", "--quiet", "-p", "conn-fuzz", "--"];
    args.extend(flags.iter().map(String::as_str));
    match cargo::run(&args, &mut cargo::TestTotals::default()) {
        Ok(true) => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    }
}
