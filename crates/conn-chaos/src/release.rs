//! The release-build guard: chaos in a production binary must be a
//! decision someone wrote down, never a leftover from a test.

use conn_core::Error;

/// Checks a chaos transport may be built: always in a debug build; in a
/// release build only with a stated reason.
pub(crate) fn check(debug_build: bool, reason: Option<&str>) -> Result<(), Error> {
    match reason {
        _ if debug_build => Ok(()),
        Some(reason) if !reason.trim().is_empty() => Ok(()),
        _ => Err(Error::config(
            "chaos injection refused in a release build: call allow_in_release(\"why\") \
             on the ChaosTransport builder to run a game day with an optimised binary",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn release_builds_need_a_reason() {
        assert!(check(true, None).is_ok());
        assert!(check(false, None).unwrap_err().is_config());
        assert!(check(false, Some("  ")).is_err());
        assert!(check(false, Some("staging game day 2026-12")).is_ok());
    }
}
