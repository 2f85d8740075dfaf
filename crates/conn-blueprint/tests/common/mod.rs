//! What the blueprint tests share: an environment from pairs, the
//! validation errors a blueprint must fail with, and the line of one.
#![allow(dead_code)] // each test file uses a different subset

use std::collections::HashMap;

use conn_blueprint::{Blueprint, ValidationErrors};

/// An environment of `pairs`, as `from_str_with_env` reads it.
pub fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The problems of a blueprint that must not validate.
pub fn errors(text: &str, pairs: &[(&str, &str)]) -> ValidationErrors {
    match Blueprint::from_str_with_env(text, &env(pairs)) {
        Ok(_) => panic!("expected validation errors"),
        Err(e) => e,
    }
}

/// The line of the problem at `path` (failing when there is none).
pub fn line(errors: &ValidationErrors, path: &str) -> Option<usize> {
    errors
        .at(path)
        .unwrap_or_else(|| panic!("no problem at {path}: {errors}"))
        .line
}
