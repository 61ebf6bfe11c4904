//! The native wasmtime host of the S3 storage-driver component: loads the
//! component, gives it `wasi:http` through a pooled client that reaches only
//! allowed hosts, and carries the embedded S3 server, the `s3-driver` CLI and
//! the test suites. The embedding example of the README, run as a test:
//!
//! ```
//! # fn main() -> anyhow::Result<()> {
//! # tokio::runtime::Runtime::new()?.block_on(async {
//! use std::path::Path;
//! use host_test::{Allowlist, ComponentCache, Driver, EmbeddedS3, Limits, OutgoingPolicy, Runtime};
//! use tokio::io::AsyncReadExt;
//!
//! // Compiled once, then loaded from the cache on later starts (keyed by the
//! // component's SHA-256 and the engine's compatibility hash).
//! let runtime = Runtime::from_file_cached(
//!     Path::new(host_test::runtime::BUILT_COMPONENT),
//!     ComponentCache::new(std::env::temp_dir().join("s3-driver-cache")),
//! )?;
//! let server = EmbeddedS3::start_temp().await?; // or your `storage: s3:` parameters
//! let params = server.params();
//! // Egress: exactly the endpoint these parameters name.
//! let policy = OutgoingPolicy::new(Allowlist::for_params(&params));
//! let driver = Driver::open_with_limits(
//!     &runtime, &params, &[], policy, &Default::default(), Limits::default(),
//! ).await?;
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
//! let report = runtime.swap(&std::fs::read(host_test::runtime::BUILT_COMPONENT_B)?)?;
//! assert_eq!(driver.component_version().await?, report.version);
//!
//! // Metrics for your /metrics endpoint.
//! let text = driver.metrics().to_prometheus(&[("driver", "blobs")]);
//! assert!(text.contains("s3_driver_calls_total"));
//! # Ok::<(), anyhow::Error>(())
//! # })
//! # }
//! ```

pub mod bench;
pub mod config_file;
pub mod conformance;
pub mod driver;
pub mod faults;
pub mod metrics;
pub mod policy;
pub mod raw;
pub mod runtime;
pub mod s3_server;

pub use driver::{
    AsyncReader, AsyncWriter, CallError, CallResult, Driver, Reader, WalkControl, Walker, Writer,
};
pub use faults::{Fault, FaultRule};
pub use metrics::Snapshot;
pub use policy::{Allowlist, OutgoingPolicy, Stats, TlsOptions};
pub use runtime::bindings::registry::storage::types::{
    ConfigValue, Error as DriverError, FileInfo, Middleware, Parameter, RedirectRequest,
};
pub use runtime::{
    ComponentCache, Grants, Limits, Prepared, Runtime, SwapReport, Version, Watcher,
};
pub use s3_server::EmbeddedS3;
