//! Building blocks for authors of component crates: a throttle, breaker,
//! retry policy or auth strategy of your own. Applications do not need
//! anything here.
//!
//! - [`random`]: cheap, lock-free randomness for jitter and identifiers;
//! - [`hooks`]: the calls that keep a component's metrics under the names
//!   and labels every conn component uses.

pub mod hooks;
pub mod random;
