//! conn's parsers under random input: everything that reads bytes an
//! upstream or an operator controls (server hints, base URLs and endpoints,
//! JSON and XML bodies, secrets in text, blueprints, `Link` headers) must
//! neither panic nor break its security property, whatever it is fed.
//!
//! cargo-fuzz needs a nightly toolchain and libFuzzer's instrumentation;
//! these drivers run the same targets on stable: a mutational fuzzer that
//! starts from the committed seed corpora (`fuzz/corpus/<target>/`), mutates
//! with byte edits, splices and each target's dictionary, and keeps an input
//! when it produces an outcome not seen before (outcome-guided rather than
//! coverage-guided). `cargo xtask fuzz --seconds N` runs each target for N
//! seconds; the test suite runs a short, seeded pass. Every target is a plain
//! `fn(&[u8])`, so a `fuzz_target!` wrapper for cargo-fuzz is one line.
#![deny(missing_docs)]

pub mod driver;
pub mod mutate;
pub mod targets;
