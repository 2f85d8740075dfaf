//! Blueprints: connectors described in a TOML file instead of code.
//!
//! - [`Blueprint`] parses and validates a blueprint (all problems at once, with
//!   key paths and lines), layers schema defaults < `[defaults]` <
//!   `[connectors.<name>]` < `CONN__<CONNECTOR>__<SECTION>__<KEY>` environment
//!   overrides, resolves secret references and prints [`Blueprint::explain`].
//! - [`Registry`] builds every connector once, shares throttles and retry
//!   budgets by group, hands connectors out by name and reloads atomically.
//! - [`Workflow`] runs calls across connectors: fan-out with a concurrency
//!   limit, a shared deadline and correlation id, and `then` steps.
//! - Per connector, a feature-flag `variant` (alternative retry / throttle for
//!   a share of calls or listed tenants, see [`Selector`]; outcomes counted in
//!   [`VARIANT_CALLS_TOTAL`]), per-tenant credentials, quotas and retry
//!   (`[connectors.<name>.tenants.<tenant>.auth|throttle|retry]`, or
//!   [`Registry::set_tenant_auth`] at run time) and a field mapping
//!   (`normalize.mapping`, [`Registry::mapping`]).
//! - A `[fleet]` section (a Redis shared by replicas, [`FleetSection`]) and
//!   per-connector `fleet` opt-in: quotas, tokens and breaker signals kept
//!   in Redis ([`Registry::from_blueprint_with_fleet`]).
//! - Named paginations per connector (`pagination.<name>`,
//!   [`Registry::pagination`]) for `conn_paginate`.
//!
//! See docs/configuration.md for every key and its default.
//!
//! ```
//! use std::collections::HashMap;
//! use conn_blueprint::Blueprint;
//!
//! let text = r#"
//! [connectors.billing]
//! base_url = "https://api.billing.example/v1"
//! auth = { type = "bearer", token = { env = "BILLING_TOKEN" } }
//! "#;
//! let env = HashMap::from([("BILLING_TOKEN".to_owned(), "t0k3n".to_owned())]);
//! let blueprint = Blueprint::from_str_with_env(text, &env).unwrap();
//! assert!(blueprint.explain().contains("<env BILLING_TOKEN>"));
//! assert!(!format!("{blueprint:?}").contains("t0k3n"));
//! ```

mod assembly;
mod blueprint;
mod build;
mod chaos;
mod components;
mod config;
mod egress;
mod errors;
mod explain;
mod fleet;
mod gateway;
mod layers;
mod pagination;
mod per_tenant;
mod registry;
pub mod schema;
mod secret;
mod sections;
mod signing_auth;
mod tenants;
mod tree;
mod values;
mod variant;
mod workflow;

pub use blueprint::Blueprint;
pub use chaos::ChaosConfig;
pub use components::TransportFactory;
pub use config::{
    AdaptiveConfig, AuthConfig, BreakerConfig, BudgetConfig, ConnectorConfig, FleetUse, HedgingConfig,
    NormalizeConfig, RedirectConfig, RetryConfig, ThrottleConfig, TlsConfig, VariantConfig,
};
pub use errors::{ValidationError, ValidationErrors};
pub use fleet::{FleetConnection, FleetSection};
pub use gateway::{CallerSection, GatewaySection, WorkflowSection, WorkflowStep};
pub use layers::env_name;
pub use pagination::{Pagination, PaginationConfig, PaginationKind};
pub use registry::Registry;
pub use schema::{FLEET_KEYS, GATEWAY_KEYS, PAGINATION_KEYS};
pub use secret::{Secret, SecretSource};
pub use signing_auth::SigningAuth;
pub use values::LimitSpec;
pub use variant::{Selector, VARIANT_CALLS_TOTAL, VARIANT_DECISIONS_TOTAL};
pub use workflow::{Earlier, StepError, StepOutcome, Workflow, WorkflowReport};
