//! The native wasmtime host of the S3 storage-driver component: loads the
//! component, gives it `wasi:http` through a pooled client that reaches only
//! allowed hosts, and carries the embedded S3 server, the `s3-driver` CLI and
//! the test suites.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use host_test::{Driver, EmbeddedS3, OutgoingPolicy, Allowlist, Runtime};
//! let server = EmbeddedS3::start_temp().await?;
//! let params = server.params();
//! let policy = OutgoingPolicy::new(Allowlist::for_params(&params));
//! let driver = Driver::open(&Runtime::builtin()?, &params, policy, &[]).await?;
//! driver.put_content("/hello", b"world").await?;
//! assert_eq!(driver.get_content("/hello").await?, b"world");
//! # Ok(()) }
//! ```

pub mod config_file;
pub mod conformance;
pub mod driver;
pub mod metrics;
pub mod policy;
pub mod raw;
pub mod runtime;
pub mod s3_server;

pub use driver::{
    AsyncReader, AsyncWriter, CallError, CallResult, Driver, Reader, WalkControl, Walker, Writer,
};
pub use metrics::Snapshot;
pub use policy::{Allowlist, Fault, FaultRule, OutgoingPolicy, Stats, TlsOptions};
pub use runtime::bindings::registry::storage::types::{
    ConfigValue, Error as DriverError, FileInfo, Middleware, Parameter, RedirectRequest,
};
pub use runtime::{ComponentCache, Grants, Limits, Runtime, SwapReport, Version, Watcher};
pub use s3_server::EmbeddedS3;
