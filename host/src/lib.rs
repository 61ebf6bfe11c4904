//! Embedding the S3 storage-driver component in a wasmtime-based registry:
//! load it (with a precompiled cache) and hot-swap it ([`runtime`]), give it
//! `wasi:http` through a pooled client that reaches only allowed hosts
//! ([`outgoing`]), call it as an async [`Driver`] with pooled instances and
//! limits ([`driver`]), observe it ([`metrics`]), and read a Distribution
//! `config.yml` ([`config_file`]). The embedding example of the README, run
//! as a test (the embedded S3 server comes from `s3-driver-kit`):
//!
//! ```
//! # fn main() -> anyhow::Result<()> {
//! # tokio::runtime::Runtime::new()?.block_on(async {
//! use std::path::Path;
//! use s3_driver_host::{Allowlist, ComponentCache, Driver, OpenOptions, OutgoingPolicy, Runtime};
//! use s3_driver_kit::EmbeddedS3;
//! use tokio::io::AsyncReadExt;
//!
//! // Compiled once, then loaded from the cache on later starts (keyed by the
//! // component's digest and the engine's compatibility hash).
//! let runtime = Runtime::from_file_cached(
//!     Path::new(s3_driver_host::BUILT_COMPONENT),
//!     ComponentCache::new(std::env::temp_dir().join("s3-driver-cache")),
//! )?;
//! let server = EmbeddedS3::start_temp().await?; // or your `storage: s3:` parameters
//! let params = server.params();
//! // Egress: the component names what these parameters need (here the
//! // endpoint); this cap refuses anything but loopback.
//! let policy = OutgoingPolicy::new(Allowlist::new().allow_host("127.0.0.1"));
//! let driver = Driver::open(&runtime, OpenOptions::new(&params).policy(policy)).await?;
//!
//! // Send + Sync + Clone: hand clones to request handlers.
//! driver.put_content("/docker/registry/v2/hello", b"world").await?;
//! let mut body = String::new();
//! driver.reader("/docker/registry/v2/hello", 0).await?
//!     .into_async_read()
//!     .read_to_string(&mut body).await?;
//! assert_eq!(body, "world");
//!
//! // A new build: new calls use it at once; running ones finish on the old one.
//! let report = runtime.swap(&std::fs::read(s3_driver_host::BUILT_COMPONENT)?)?;
//! assert_eq!(driver.component_version().await?, report.version);
//!
//! // Metrics for your /metrics endpoint.
//! let text = driver.metrics().to_prometheus(&[("driver", "blobs")]);
//! assert!(text.contains("s3_driver_calls_total"));
//! # Ok::<(), anyhow::Error>(())
//! # })
//! # }
//! ```

pub mod bindings;
pub mod config_file;
mod digest;
pub mod driver;
pub mod guest_log;
pub mod metrics;
pub mod outgoing;
pub mod runtime;
pub mod shared_values;

// The file-level import-circle check, shared with the component's tests.
#[cfg(test)]
#[path = "../../src/import_cycles.rs"]
mod import_cycles;

pub use bindings::{
    ConfigValue, DriverError, FileInfo, Middleware, Parameter, RedirectRequest, Upload,
};
pub use driver::{
    AsyncReader, AsyncWriter, CallError, CallResult, Driver, OpenOptions, Origin, PurgeAction,
    Purged, Reader, Requirements, WalkControl, Walker, Writer,
};
pub use guest_log::{GuestLog, LogCounts};
pub use metrics::Snapshot;
#[cfg(feature = "test-hooks")]
pub use outgoing::faults::{Fault, FaultRule};
pub use outgoing::{Allowlist, OutgoingPolicy, PoolOptions, Stats, TlsOptions};
#[cfg(feature = "bundled-component")]
pub use runtime::BUILT_COMPONENT;
pub use runtime::{
    ComponentCache, Grants, Limits, Prepared, Runtime, SwapReport, Version, Watcher,
};
pub use shared_values::{ShareStats, SharedValues};

#[cfg(test)]
mod tests {
    /// The README's embedding example is this crate's doc test, word for word.
    #[test]
    fn the_readme_example_is_the_doc_test() {
        let readme = include_str!("../../README.md");
        let block = readme
            .split("## Embedding")
            .nth(1)
            .and_then(|s| s.split("```rust\n").nth(1))
            .and_then(|s| s.split("```").next())
            .expect("the README has an embedding example");
        let doc: String = include_str!("lib.rs")
            .lines()
            .filter_map(|l| l.strip_prefix("//!"))
            .map(|l| l.strip_prefix(' ').unwrap_or(l))
            .skip_while(|l| *l != "```")
            .skip(1)
            .take_while(|l| *l != "```")
            .filter(|l| !l.starts_with("# ") && *l != "#")
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(doc, block);
    }
}
