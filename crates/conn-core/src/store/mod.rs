//! Stores for the state a fleet of replicas must share: rate quotas, tokens,
//! and operator signals for breakers.
//!
//! Each component reaches its shared state through one small, object-safe
//! trait from here, with an in-process implementation as the default, so a
//! single process behaves as before and a fleet plugs in a shared backend
//! (`conn-redis`) without any component depending on it:
//!
//! | trait | used by | answers | in-process default |
//! |---|---|---|---|
//! | [`RateStore`] | the throttle | "admit now, or wait *d*" for a key and its quotas (GCRA) | [`LocalRateStore`] |
//! | [`TokenStore`] | refresh-token grants | the tenant's refresh token, kept across rotations | (`conn-auth`'s `MemoryStore`) |
//! | [`SharedTokens`] | the token cache | the fleet's current access token, and who fetches the next one | [`LocalSharedTokens`] |
//! | [`BreakerSignal`] | the breaker | what an operator forced, and circuits opened elsewhere | [`LocalSignal`] |
//!
//! Secrets at rest are sealed with `Cipher` (XChaCha20-Poly1305) under a
//! `StoreKey` (both behind the `cipher` feature), the same cipher for a token file and for a shared store.

#[cfg(feature = "cipher")]
mod cipher;
mod rate;
mod signal;
mod token;

#[cfg(feature = "cipher")]
pub use cipher::{Cipher, StoreKey};
pub use rate::{Admission, LocalRateStore, RateQuota, RateRequest, RateStore, StoreMode};
pub use signal::{BreakerSignal, LocalSignal, OperatorState};
pub use token::{Lease, LocalSharedTokens, SharedToken, SharedTokens, StoredToken, TokenId, TokenStore};
