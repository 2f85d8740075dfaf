//! The `[fleet]` section and each connector's `fleet` opt-in: where the
//! fleet's Redis is, and which connectors keep their quota, tokens and
//! breaker signals there, so N replicas of one blueprint behave like one
//! client (docs/fleet.md).
//!
//! Connecting to Redis is async while building a registry is not, so the
//! connection is made once, before the registry ([`FleetConnection::connect`],
//! or [`Registry::from_blueprint_with_fleet`] doing both), and the registry
//! keeps it: a reload never reconnects, it only rebuilds the parts whose
//! settings changed. The sync constructors refuse a blueprint with `[fleet]`
//! instead of silently running every replica on its own quota.
//!
//! `section` reads the declaration, `connection` holds what was connected,
//! `registry` adds the async constructors to [`Registry`].
//!
//! [`Registry`]: crate::Registry

pub(crate) mod connection;
mod registry;
pub(crate) mod section;

pub use connection::FleetConnection;
pub use section::FleetSection;
