//! Builds every connector of a blueprint once and hands them out by name;
//! reloads atomically, keeping the state of parts whose config did not change.

use std::sync::{Arc, RwLock};

use conn_breaker::CircuitBreaker;
use conn_core::{AuthStrategy, Connector, CredentialStatus, Error, Transport};
use conn_retry::RetryBudget;
use conn_throttle::Throttler;

use crate::assembly::{State, assemble};
use crate::blueprint::Blueprint;
use crate::components::TransportFactory;
use crate::components::hyper_transport;
use crate::config::ConnectorConfig;
use crate::fleet::connection::FleetConnection;
use crate::pagination::Pagination;
use crate::per_tenant::RuntimeAuth;
use crate::variant::Selector;

/// Every connector of a blueprint, built once, by name.
///
/// `get` hands out a `Connector` clone: a call in flight keeps the connector
/// it started with, so [`reload`](Self::reload) never drops one.
pub struct Registry {
    state: RwLock<Arc<State>>,
    factory: TransportFactory,
    runtime_auth: Arc<RuntimeAuth>,
    /// The `[fleet]` connection, made once and kept across reloads.
    fleet: Option<FleetConnection>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("connectors", &self.names())
            .finish()
    }
}

impl Registry {
    /// Builds every connector with one shared transport (a mock, or your own).
    pub fn from_blueprint(blueprint: &Blueprint, transport: Arc<dyn Transport>) -> Result<Registry, Error> {
        Registry::with_factory(
            blueprint,
            Arc::new(move |_: &ConnectorConfig| Ok(transport.clone())),
        )
    }

    /// Builds every connector with a [`HyperTransport`](conn_transport_hyper::HyperTransport) made from its
    /// `redirects` and `tls` settings (connectors with equal settings are
    /// still given one transport each).
    pub fn from_blueprint_hyper(blueprint: &Blueprint) -> Result<Registry, Error> {
        Registry::with_factory(blueprint, Arc::new(hyper_transport))
    }

    /// Builds every connector, asking `factory` for each one's transport.
    ///
    /// A blueprint with a `[fleet]` section is refused here (and by the
    /// other sync constructors): connecting to Redis is async, see
    /// [`from_blueprint_with_fleet`](Self::from_blueprint_with_fleet).
    pub fn with_factory(blueprint: &Blueprint, factory: TransportFactory) -> Result<Registry, Error> {
        if blueprint.fleet().is_some() {
            return Err(crate::fleet::connection::needs_connect());
        }
        Registry::build(blueprint, factory, None)
    }

    pub(crate) fn build(
        blueprint: &Blueprint,
        factory: TransportFactory,
        fleet: Option<FleetConnection>,
    ) -> Result<Registry, Error> {
        let runtime_auth = Arc::new(RuntimeAuth::default());
        let state = assemble(
            blueprint,
            &State::default(),
            &factory,
            &runtime_auth,
            fleet.as_ref(),
        )?;
        Ok(Registry {
            state: RwLock::new(Arc::new(state)),
            factory,
            runtime_auth,
            fleet,
        })
    }

    /// The `[fleet]` connection the registry was built with, if any.
    pub fn fleet(&self) -> Option<&FleetConnection> {
        self.fleet.as_ref()
    }

    /// Supplies the credentials of `tenant` on `connector` at run time. They
    /// are used for calls whose `Context::tenant` is `tenant` when the
    /// blueprint has no `[connectors.<connector>.tenants.<tenant>.auth]`
    /// (the blueprint's entry wins); they apply at once to connectors
    /// already handed out and survive reloads. Replaces an earlier one.
    pub fn set_tenant_auth(
        &self,
        connector: impl Into<String>,
        tenant: impl Into<String>,
        auth: Arc<dyn AuthStrategy>,
    ) {
        let connector = connector.into();
        // Its token metrics name the connector, as a connector build's do
        // (blueprint connectors keep the default telemetry).
        auth.bind_telemetry(&connector, conn_core::Telemetry::default());
        self.runtime_auth
            .strategies
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert((connector, tenant.into()), auth);
    }

    /// Withdraws credentials given by [`set_tenant_auth`](Self::set_tenant_auth);
    /// returns whether there were any.
    pub fn remove_tenant_auth(&self, connector: &str, tenant: &str) -> bool {
        self.runtime_auth
            .strategies
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(connector.to_owned(), tenant.to_owned()))
            .is_some()
    }

    /// The field mapping of `name` (its `normalize.mapping`), if it has one:
    /// `registry.mapping("billing")?.apply(&document.value)`.
    pub fn mapping(&self, name: &str) -> Option<conn_normalize::Mapping> {
        self.current()
            .slots
            .get(name)
            .and_then(|s| s.config.normalize.mapping.clone())
    }

    /// The quota of `tenant` on `name`, if the blueprint gives that tenant a throttle.
    pub fn tenant_throttle(&self, name: &str, tenant: &str) -> Option<Arc<Throttler>> {
        self.current()
            .slots
            .get(name)
            .and_then(|s| s.tenant_throttles.get(tenant).cloned())
    }

    pub(crate) fn current(&self) -> Arc<State> {
        self.state.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The connector named `name`.
    pub fn get(&self, name: &str) -> Option<Connector> {
        self.current().slots.get(name).map(|s| s.connector.clone())
    }

    /// The effective configuration the connector named `name` was built from.
    pub fn config(&self, name: &str) -> Option<ConnectorConfig> {
        self.current().slots.get(name).map(|s| s.config.clone())
    }

    /// The names of all connectors, sorted.
    pub fn names(&self) -> Vec<String> {
        self.current().slots.keys().cloned().collect()
    }

    /// The throttle of `name`, if it has one (shared groups give the same `Arc`).
    pub fn throttle(&self, name: &str) -> Option<Arc<Throttler>> {
        self.current().slots.get(name).and_then(|s| s.throttle.clone())
    }

    /// The breaker of `name`, if it has one.
    pub fn breaker(&self, name: &str) -> Option<Arc<CircuitBreaker>> {
        self.current().slots.get(name).and_then(|s| s.breaker.clone())
    }

    /// The retry budget of `name`, if it has one (shared groups give the same `Arc`).
    pub fn retry_budget(&self, name: &str) -> Option<Arc<RetryBudget>> {
        self.current().slots.get(name).and_then(|s| s.budget.clone())
    }

    /// What `name`'s auth holds per tenant: token expiry and renewal state,
    /// never a token (`None` when there is no such connector; empty when its
    /// credentials do not expire). Read-only: nothing is fetched.
    pub fn credential_status(&self, name: &str) -> Option<Vec<CredentialStatus>> {
        self.current().slots.get(name).map(|s| s.auth.credential_status())
    }

    /// The feature-flag selector of `name`, if it has a variant (see [`Selector::counts`]).
    pub fn variant_selector(&self, name: &str) -> Option<Arc<Selector>> {
        self.current().slots.get(name).and_then(|s| s.selector.clone())
    }

    /// Swaps in the connectors of `blueprint` at once. Calls already started
    /// finish on the connector they hold; new `get`s see the new ones. A
    /// throttle, breaker, retry budget, auth strategy (token cache) or
    /// transport (connection pool) whose section did not change is kept
    /// with its state, and so is the `[fleet]` connection (a reload that
    /// changes its connection settings, or adds one, is refused). On error
    /// nothing changes.
    pub fn reload(&self, blueprint: &Blueprint) -> Result<(), Error> {
        crate::fleet::connection::check_reload(self.fleet.as_ref(), blueprint)?;
        let old = self.current();
        let new = assemble(
            blueprint,
            &old,
            &self.factory,
            &self.runtime_auth,
            self.fleet.as_ref(),
        )?;
        let mut guard = self.state.write().unwrap_or_else(|e| e.into_inner());
        *guard = Arc::new(new);
        Ok(())
    }

    /// The pagination named `name` of `connector`
    /// (`[connectors.<connector>.pagination.<name>]`), if the blueprint has it.
    pub fn pagination(&self, connector: &str, name: &str) -> Option<Pagination> {
        self.current()
            .slots
            .get(connector)
            .and_then(|slot| slot.config.pagination.get(name).cloned())
            .map(Pagination::new)
    }
}
