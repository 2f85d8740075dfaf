//! The Prometheus alert rules in deploy/prometheus: valid (`promtool check
//! rules`) and behaving as their unit tests say (`promtool test rules`:
//! every alert fires when it should and stays quiet when it should not).
//!
//! Why a check and not a cargo test: promtool is the judge of what
//! Prometheus will load, and it is a program outside the workspace. Which
//! metrics the rules may use is a cargo test (tests/deploy_metrics.rs).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::tools::PROMTOOL;

/// The rules file and its unit tests, from the workspace root.
const RULES: &str = "deploy/prometheus/alerts.yml";
const RULE_TESTS: &str = "deploy/prometheus/alerts_test.yml";

/// Runs `promtool check rules` and `promtool test rules`.
pub fn check() -> Result<(), String> {
    let root = workspace_root();
    for args in [["check", "rules", RULES], ["test", "rules", RULE_TESTS]] {
        let output = Command::new(PROMTOOL.command)
            .args(args)
            .current_dir(&root)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", PROMTOOL.command))?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        if !output.status.success() {
            return Err(format!("`promtool {}` failed:\n{text}", args.join(" ")));
        }
        println!("    promtool {}: ok", args.join(" "));
    }
    Ok(())
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}
