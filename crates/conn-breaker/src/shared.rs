//! What every circuit of one breaker reads: its configuration, where its
//! transitions go, and its clock.
//!
//! Kept apart from the key map so that a circuit can be handed what it needs
//! without reaching back into the registry that holds it.

use crate::clock::Clock;
use crate::config::Config;
use crate::events::Events;

/// The settings and sinks every key's circuit of one breaker uses.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) events: Events,
    pub(crate) clock: Clock,
}
