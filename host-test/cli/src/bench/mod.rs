//! `s3-driver bench`: figures printed as tables, never asserted.

pub mod host;
pub mod memory;
pub mod native;
pub mod registry;
pub mod workloads;

use s3_driver_host::{CallError, ConfigValue};
use s3_driver_kit::core_params;
use s3_storage_driver::config::{Config, Key};

pub use s3_driver_kit::table::Table;

use crate::Cli;
use crate::target::{Configured, Failure, open_configured, target_params};

/// What `bench` measures.
pub struct Choice {
    /// Samples per figure.
    pub rounds: usize,
    /// Runs of the workloads; each row is the median.
    pub trials: usize,
    /// Only `memory`, `host`, `workloads` or `registry`.
    pub only: Option<String>,
    /// Size of the memory check's object, in MiB.
    pub memory_mib: usize,
    /// Add the 1 GiB PutGet and Stream sizes.
    pub full_size: bool,
    /// Only the workloads whose name contains this.
    pub rows: Option<String>,
    /// Only these clients.
    pub clients: Vec<String>,
}

/// Runs the chosen tables against the configured store (the embedded one
/// by default) and prints them.
pub async fn command(cli: &Cli, c: &Choice) -> Result<(), Failure> {
    let failed = |e: anyhow::Error| Failure::Driver(CallError::Host(format!("{e:#}")));
    // The registry table runs only when asked for: it moves over 2 GiB.
    let wanted = |what: &str| match c.only.as_deref() {
        None => what != "registry",
        Some(o) => o == what,
    };
    if let Some(o) = c.only.as_deref()
        && !["memory", "host", "workloads", "registry"].contains(&o)
    {
        return Err(Failure::Usage(format!(
            "--only takes memory, host, workloads or registry, not {o}"
        )));
    }
    // First, while the process holds nothing else: its peak RSS is the figure.
    if wanted("memory") {
        let (configured, _server) = target_params(cli).await?;
        let driver = open_configured(cli, &configured).await?;
        let chunk = Config::from_params(&core_params(&configured.params))
            .map_err(|e| Failure::Usage(e.to_string()))?
            .chunk_size as usize;
        let path = "/bench-memory/blob";
        let table = memory::run(&driver, path, c.memory_mib << 20, chunk)
            .await
            .map_err(failed)?;
        println!("{table}");
    }
    if wanted("host") {
        let (Configured { params, .. }, _server) = target_params(cli).await?;
        let table = host::run(&params, c.rounds).await.map_err(failed)?;
        println!("{table}");
    }
    if wanted("workloads") {
        let (configured, _server) = target_params(cli).await?;
        let driver = open_configured(cli, &configured).await?;
        let mut options = workloads::Options {
            rounds: c.rounds,
            trials: c.trials,
            only: c.rows.clone(),
            clients: c.clients.clone(),
            ..Default::default()
        };
        if c.full_size {
            options.sizes.push(1 << 30);
        }
        // The same store with multipartcopythresholdsize above the Move
        // object's size: what the knob buys on this server.
        let knob = Key::MultipartCopyThresholdSize.name();
        let mut one_copy = configured.clone();
        one_copy.params.retain(|(k, _)| k != knob);
        one_copy
            .params
            .push((knob.into(), ConfigValue::Integer(options.big as i64 + 1)));
        let one_copy = open_configured(cli, &one_copy).await?;
        let report = workloads::run(&driver, Some(&one_copy), &configured.params, &options)
            .await
            .map_err(failed)?;
        println!("{report}");
    }
    if wanted("registry") {
        let (configured, _server) = target_params(cli).await?;
        let driver = open_configured(cli, &configured).await?;
        let plan = registry::Plan::default();
        let table = registry::run(driver, &configured.params, &plan)
            .await
            .map_err(failed)?;
        println!("{table}");
    }
    Ok(())
}

/// A field of `/proc/self/status` in MiB (Linux only).
fn status_mib(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// Peak resident memory since the last reset, in MiB.
fn peak_rss_mib() -> Option<f64> {
    status_mib("VmHWM:")
}

/// Resident memory now, in MiB.
fn rss_mib() -> Option<f64> {
    status_mib("VmRSS:")
}

/// Starts a new peak-RSS window (Linux: `5` to `clear_refs`).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}
