//! `cargo xtask soak [--calls N] [--concurrency N] [--seconds N] [--dev]`:
//! the whole stack against the fault server at volume (bench/src/bin/soak),
//! optimised unless `--dev`; `test-all` runs a 10,000-call version in the
//! dev profile, whose dependencies its test step has already built (an
//! optimised build of the stack takes minutes on a 2-core machine).

use std::process::ExitCode;

use crate::cargo;

/// The short soak `test-all` runs.
pub const SHORT: &[&str] = &[
    "run",
    "--quiet",
    "-p",
    "conn-bench",
    "--bin",
    "conn-soak",
    "--",
    "--calls",
    "10000",
];

pub fn run(flags: &[String]) -> ExitCode {
    let dev = flags.iter().any(|f| f == "--dev");
    let mut args = vec!["run", "--quiet", "-p", "conn-bench", "--bin", "conn-soak"];
    if !dev {
        args.insert(1, "--release");
    }
    args.push("--");
    args.extend(flags.iter().filter(|f| *f != "--dev").map(String::as_str));
    match cargo::run(&args, &mut cargo::TestTotals::default()) {
        Ok(true) => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    }
}
