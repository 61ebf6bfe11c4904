//! `s3-driver serve`: the OCI registry ([`s3_driver_registry`]) on the
//! configured store (the embedded S3 server when none is configured), with
//! the driver component hot-swapped whenever `--watch`'s file changes.

// `Failure` carries the WIT error by value, as in `target.rs`.
#![allow(clippy::result_large_err)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use s3_driver_host::runtime::Runtime;
use s3_driver_registry::{Registry, RegistryConfig, Store, config};

use crate::Cli;
use crate::target::{Failure, open_on, runtime, target_params};

/// How often `--watch` looks at the component file.
const WATCH_INTERVAL: Duration = Duration::from_millis(500);

/// What `serve` was asked.
pub struct Serve {
    /// Overrides `http: addr:`.
    pub addr: Option<String>,
    /// A component file to load, and to swap in whenever it changes.
    pub watch: Option<PathBuf>,
}

/// The registry's settings: `--config`'s, or the defaults.
fn registry_config(cli: &Cli) -> Result<RegistryConfig, Failure> {
    let Some(path) = &cli.config else {
        return Ok(RegistryConfig::default());
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::Usage(format!("reading {}: {e}", path.display())))?;
    config::from_str(&text).map_err(|e| Failure::Usage(format!("{e:#}")))
}

pub async fn serve(cli: &Cli, s: &Serve) -> Result<(), Failure> {
    let mut rc = registry_config(cli)?;
    if let Some(addr) = &s.addr {
        rc.addr = addr.clone();
    }
    let mut options = rc.options().map_err(|e| Failure::Usage(format!("{e:#}")))?;
    let (configured, server) = target_params(cli).await?;
    if server.is_some() {
        // The embedded store listens on loopback with keys of this run only:
        // a redirect would send a remote client to its own 127.0.0.1, and a
        // presigned URL would hand out access to it. Blobs are streamed.
        options.redirect = false;
    }
    let runtime = match &s.watch {
        Some(path) => Runtime::from_file(path)
            .map_err(|e| Failure::Usage(format!("loading {}: {e:#}", path.display())))?,
        None => runtime().map_err(Failure::Usage)?,
    };
    let _watcher = s.watch.as_ref().map(|p| runtime.watch(p, WATCH_INTERVAL));
    let driver = open_on(cli, &configured, &runtime).await?;
    let listener = tokio::net::TcpListener::bind(rc.listen_addr())
        .await
        .map_err(|e| Failure::Usage(format!("http.addr {}: {e}", rc.addr)))?;
    let local = listener
        .local_addr()
        .map_err(|e| Failure::Usage(e.to_string()))?;
    eprintln!(
        "s3-driver: registry on http://{local} (driver {}; deletes {}, redirects {}, auth {})",
        runtime.current().version(),
        if rc.delete_enabled { "on" } else { "off" },
        if options.redirect { "on" } else { "off" },
        if rc.htpasswd.is_some() {
            "htpasswd"
        } else {
            "none"
        },
    );
    let registry = Arc::new(Registry::new(Store::new(driver), options));
    s3_driver_registry::serve(listener, registry, shutdown())
        .await
        .map_err(|e| Failure::Usage(format!("serving: {e}")))
}

/// Ctrl-C or SIGTERM.
async fn shutdown() {
    let term = async {
        #[cfg(unix)]
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
            return;
        }
        std::future::pending::<()>().await;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
}
