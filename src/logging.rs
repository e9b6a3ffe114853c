//! Logging: `tracing` to stderr as text or JSON, with a level CONFIG SET can change live.
//!
//! Invariant: the filter is installed once, behind a reload handle; `LUAGATE_LOG` (an
//! env-filter expression) wins over `loglevel` at start, and CONFIG SET loglevel replaces it.

use std::sync::OnceLock;
use tracing_subscriber::{
    layer::SubscriberExt, reload, util::SubscriberInitExt, EnvFilter, Registry,
};

static HANDLE: OnceLock<reload::Handle<EnvFilter, Registry>> = OnceLock::new();

/// Redis's levels mapped onto tracing's.
fn directive(level: &str) -> &'static str {
    match level {
        "debug" => "debug",
        "verbose" => "info",
        "warning" => "warn",
        _ => "info",
    }
}

/// Installs the global subscriber (once; later calls do nothing).
pub fn init(level: &str, json: bool) {
    let filter =
        EnvFilter::try_from_env("LUAGATE_LOG").unwrap_or_else(|_| EnvFilter::new(directive(level)));
    let (filter, handle) = reload::Layer::new(filter);
    let registry = tracing_subscriber::registry().with(filter);
    let installed = if json {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(std::io::stderr),
            )
            .try_init()
    } else {
        registry
            .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
            .try_init()
    };
    if installed.is_ok() {
        let _ = HANDLE.set(handle);
    }
}

/// Changes the level of the running process (CONFIG SET loglevel).
pub fn set_level(level: &str) {
    if let Some(h) = HANDLE.get() {
        let _ = h.reload(EnvFilter::new(directive(level)));
    }
}
