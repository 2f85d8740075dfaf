//! The facade's feature slices: a user who turns on one component must not
//! compile the others' heavy dependencies.
//!
//! Why a check and not a test: what is compiled is decided by cargo's
//! feature resolution, which no test inside the crate can see.

use std::process::Command;

/// Each slice: the features turned on, and crates that must not be in its tree.
const SLICES: &[(&str, &[&str])] = &[
    (
        "retry",
        &[
            "toml",
            "roxmltree",
            "chacha20poly1305",
            "conn-auth",
            "conn-normalize",
        ],
    ),
    (
        "throttle",
        &["toml", "roxmltree", "chacha20poly1305", "hyper-rustls"],
    ),
    (
        "tower",
        &[
            "toml",
            "roxmltree",
            "hyper-rustls",
            "conn-retry",
            "tower-http",
            "axum",
        ],
    ),
    (
        "chaos",
        &[
            "toml",
            "roxmltree",
            "chacha20poly1305",
            "hyper-rustls",
            "conn-retry",
        ],
    ),
];

/// Builds each slice of the `conn` crate and checks its dependency tree.
pub fn check() -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    for (features, forbidden) in SLICES {
        let slice = ["-p", "conn", "--no-default-features", "--features", features];
        let built = Command::new(&cargo)
            .arg("check")
            .args(slice)
            .status()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
        if !built.success() {
            return Err(format!(
                "`conn` with only the `{features}` feature does not build"
            ));
        }
        let tree = Command::new(&cargo)
            .args(["tree", "-e", "normal", "--prefix", "none"])
            .args(slice)
            .output()
            .map_err(|e| format!("cannot run cargo tree: {e}"))?;
        let tree = String::from_utf8_lossy(&tree.stdout);
        let present: Vec<&str> = forbidden
            .iter()
            .copied()
            .filter(|name| {
                tree.lines()
                    .any(|line| line.split_whitespace().next() == Some(*name))
            })
            .collect();
        if !present.is_empty() {
            return Err(format!(
                "`conn` with only the `{features}` feature compiles {}; see `cargo tree -p conn --no-default-features --features {features} -i <crate>`",
                present.join(", ")
            ));
        }
        println!("    {features}: builds, without {}", forbidden.join(", "));
    }
    Ok(())
}
