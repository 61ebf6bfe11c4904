//! An OCI Distribution Specification (v1.1) registry built on the embedding
//! library only: every byte it stores goes through an opened
//! [`s3_driver_host::Driver`], in Docker Distribution's storage layout, so
//! it shares a bucket with the Go registry (push to one, pull from the
//! other).
//!
//! Layers, lowest first: [`digest`] and [`names`] (grammar), [`layout`]
//! (paths), [`manifest`] (documents), [`error`] (the one status and code
//! mapping), [`store`] (content on the driver), [`http`] (the API),
//! [`config`] (the registry's `config.yml` keys).
//!
//! ```no_run
//! # async fn run(driver: s3_driver_host::Driver) -> anyhow::Result<()> {
//! use std::sync::Arc;
//! use s3_driver_registry::{Options, Registry, Store, serve};
//!
//! let registry = Arc::new(Registry::new(Store::new(driver), Options::default()));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:5000").await?;
//! serve(listener, registry, std::future::pending()).await?;
//! # Ok(())
//! # }
//! ```

pub mod config;
pub mod digest;
pub mod error;
pub mod http;
pub mod layout;
pub mod manifest;
pub mod names;
pub mod store;

pub use config::RegistryConfig;
pub use http::server::serve;
pub use http::{HttpLimits, Options, Registry};
pub use store::Store;
