//! The registry constructors that connect to the fleet first.

use std::sync::Arc;

use conn_core::{Error, Transport};

use super::connection::{FleetConnection, check_reload, needs_connect};
use crate::blueprint::Blueprint;
use crate::components::TransportFactory;
use crate::config::ConnectorConfig;
use crate::registry::Registry;

impl Registry {
    /// Builds every connector with one shared transport, like
    /// [`from_blueprint`](Self::from_blueprint), after connecting to the
    /// blueprint's `[fleet]` Redis if it has one (without one it is
    /// `from_blueprint`).
    pub async fn from_blueprint_with_fleet(
        blueprint: &Blueprint,
        transport: Arc<dyn Transport>,
    ) -> Result<Registry, Error> {
        let connection = FleetConnection::connect(blueprint).await?;
        Registry::with_fleet(
            blueprint,
            Arc::new(move |_: &ConnectorConfig| Ok(transport.clone())),
            connection,
        )
    }

    /// Builds every connector with its own `HyperTransport`, like
    /// [`from_blueprint_hyper`](Self::from_blueprint_hyper), after
    /// connecting to the blueprint's `[fleet]` Redis if it has one.
    pub async fn from_blueprint_hyper_with_fleet(blueprint: &Blueprint) -> Result<Registry, Error> {
        let connection = FleetConnection::connect(blueprint).await?;
        Registry::with_fleet(
            blueprint,
            Arc::new(crate::components::hyper_transport),
            connection,
        )
    }

    /// Builds every connector on a fleet connection made beforehand
    /// ([`FleetConnection::connect`]): sync, so it also suits code that
    /// connects once and builds several registries. `None` is for a
    /// blueprint without `[fleet]`.
    pub fn with_fleet(
        blueprint: &Blueprint,
        factory: TransportFactory,
        connection: Option<FleetConnection>,
    ) -> Result<Registry, Error> {
        if blueprint.fleet().is_some() && connection.is_none() {
            return Err(needs_connect());
        }
        check_reload(connection.as_ref(), blueprint)?;
        Registry::build(blueprint, factory, connection)
    }
}
