//! `CredentialStatus`: what an operator may know about a held credential.
//!
//! Why a type of its own: an operator asking "when does acme's token
//! expire, and is its renewal failing?" must get an answer without the
//! token ever leaving the strategy. The status carries times and flags
//! only, so it can be shown in any answer or log.

use std::time::Duration;

/// The state of one tenant's credential in an [`AuthStrategy`](crate::AuthStrategy):
/// when it expires and whether it is being renewed, never the credential.
///
/// ```
/// use std::time::Duration;
/// use conn_core::CredentialStatus;
///
/// let status = CredentialStatus::new(Some("acme"), Some(Duration::from_secs(3540)))
///     .refreshing(true);
/// assert_eq!(status.tenant.as_deref(), Some("acme"));
/// assert!(status.refreshing && !status.degraded);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CredentialStatus {
    /// The tenant the credential is for (`None`: calls made without one).
    pub tenant: Option<String>,
    /// Time left before the credential expires: zero once it has, `None`
    /// when none is held (never fetched, or discarded after a 401).
    pub expires_in: Option<Duration>,
    /// A renewal is in flight (ahead of expiry, or for a missing token).
    pub refreshing: bool,
    /// The last renewal failed: calls use the still-valid credential, or
    /// fail while there is none.
    pub degraded: bool,
}

impl CredentialStatus {
    /// The status of `tenant`'s credential, expiring in `expires_in`.
    pub fn new(tenant: Option<&str>, expires_in: Option<Duration>) -> Self {
        CredentialStatus {
            tenant: tenant.map(str::to_owned),
            expires_in,
            refreshing: false,
            degraded: false,
        }
    }

    /// Whether a renewal is in flight.
    pub fn refreshing(mut self, refreshing: bool) -> Self {
        self.refreshing = refreshing;
        self
    }

    /// Whether the last renewal failed.
    pub fn degraded(mut self, degraded: bool) -> Self {
        self.degraded = degraded;
        self
    }
}
