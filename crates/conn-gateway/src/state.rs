//! What every handler shares: the registry, the current callers and
//! settings (swapped whole on reload), readiness, the metrics handle and
//! where a reload reads the blueprint from.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use conn_blueprint::{Blueprint, Registry, ValidationError};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::sync::Mutex;

use crate::callers::Callers;
use crate::config::GatewayConfig;

/// A freshly loaded blueprint and the gateway settings it declares.
pub struct Loaded {
    /// The connectors.
    pub blueprint: Blueprint,
    /// The gateway's own settings.
    pub gateway: GatewayConfig,
}

/// Reads the blueprint again for a reload (`POST /v1/admin/reload`,
/// SIGHUP): every problem with its key path and line, or the new settings.
pub type Reloader = Arc<dyn Fn() -> Result<Loaded, Vec<ValidationError>> + Send + Sync>;

/// The settings in force and the callers hashed from them; replaced together.
pub(crate) struct Current {
    pub(crate) config: GatewayConfig,
    pub(crate) callers: Callers,
    /// `explain()` of the blueprint in force, for `GET /v1/connectors`.
    pub(crate) explain: String,
}

pub(crate) struct Shared {
    pub(crate) registry: Arc<Registry>,
    current: RwLock<Arc<Current>>,
    pub(crate) reloader: Option<Reloader>,
    /// One reload at a time: two racing reloads could otherwise swap in the
    /// older blueprint last.
    pub(crate) reload_lock: Mutex<()>,
    pub(crate) metrics: Option<PrometheusHandle>,
    ready: AtomicBool,
    draining: AtomicBool,
}

impl Shared {
    pub(crate) fn new(
        registry: Arc<Registry>,
        config: GatewayConfig,
        explain: String,
        reloader: Option<Reloader>,
        metrics: Option<PrometheusHandle>,
    ) -> Shared {
        Shared {
            registry,
            current: RwLock::new(Arc::new(Current::new(config, explain))),
            reloader,
            reload_lock: Mutex::new(()),
            metrics,
            ready: AtomicBool::new(false),
            draining: AtomicBool::new(false),
        }
    }

    pub(crate) fn current(&self) -> Arc<Current> {
        self.current.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn replace(&self, config: GatewayConfig, explain: String) {
        let next = Arc::new(Current::new(config, explain));
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = next;
    }

    pub(crate) fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }

    pub(crate) fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst) && !self.draining.load(Ordering::SeqCst)
    }

    pub(crate) fn set_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }
}

impl Current {
    fn new(mut config: GatewayConfig, explain: String) -> Current {
        let callers = Callers::new(&config.callers, config.admin_key.as_ref());
        // Only the digests are kept: the keys themselves leave memory here.
        config.callers.clear();
        config.admin_key = None;
        Current {
            config,
            callers,
            explain,
        }
    }
}

/// A [`Reloader`] that reads the blueprint file at `path` (with the process
/// environment) each time.
pub fn file_reloader(path: impl Into<std::path::PathBuf>) -> Reloader {
    let path = path.into();
    Arc::new(move || {
        let blueprint = Blueprint::from_file(&path).map_err(|e| e.errors().to_vec())?;
        let gateway = GatewayConfig::from_blueprint(&blueprint);
        Ok(Loaded { blueprint, gateway })
    })
}
