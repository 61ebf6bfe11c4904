//! The component's log lines (the WIT `host.log` import): routed to
//! `tracing` under the target `s3_driver::guest` with the driver's name, and
//! counted per level for the driver's metrics.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use crate::bindings::registry::storage::host::LogLevel;

/// Where one driver's instances put their log lines; clones share counts.
#[derive(Debug, Clone, Default)]
pub struct GuestLog {
    counts: Arc<[AtomicU64; 2]>,
    /// The driver's name (its `name()`), once it has opened.
    driver: Arc<OnceLock<String>>,
}

/// Lines a driver's instances logged, by level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogCounts {
    /// `warn` lines.
    pub warn: u64,
    /// `debug` lines (one per request attempt with `loglevel: debug`).
    pub debug: u64,
}

impl GuestLog {
    /// Routes one line and counts it.
    pub fn line(&self, level: LogLevel, message: &str) {
        let driver = self.driver.get().map_or("", String::as_str);
        match level {
            LogLevel::Warn => {
                tracing::warn!(target: "s3_driver::guest", driver, "{message}");
                self.counts[0].fetch_add(1, Ordering::Relaxed);
            }
            LogLevel::Debug => {
                tracing::debug!(target: "s3_driver::guest", driver, "{message}");
                self.counts[1].fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Names the driver in every line from now on (the first name given
    /// stays).
    pub(crate) fn name_driver(&self, name: String) {
        let _ = self.driver.set(name);
    }

    /// The lines so far.
    pub fn counts(&self) -> LogCounts {
        LogCounts {
            warn: self.counts[0].load(Ordering::Relaxed),
            debug: self.counts[1].load(Ordering::Relaxed),
        }
    }
}
