//! The storage-driver semantics of the reference S3 driver over an
//! [`S3Client`]: path checks, key mapping under `rootdirectory`, what each
//! call sends and how its replies read. Split by operation family: whole
//! objects, listings and deletes ([`objects`]), moves ([`moves`]), redirects
//! and the CloudFront middleware ([`redirect`]). No I/O of its own.

pub mod middleware;
pub mod moves;
pub mod objects;
pub mod redirect;
pub mod uploads;

use std::rc::Rc;

use crate::client::S3Client;
use crate::config::{Config, Value};
use crate::error::{Error, Result};
use crate::path::{self, KeyMapper};
use crate::platform::Platform;
use crate::reader::FileReader;
use crate::transport::Transport;
use crate::walk::Walker;
use crate::writer::Writer;

pub use redirect::RedirectRequest;

/// This build's version: the crate version, `+label` when the build set
/// `S3_DRIVER_BUILD_LABEL` (two builds of one source tell themselves apart).
pub fn build_version() -> String {
    match option_env!("S3_DRIVER_BUILD_LABEL") {
        Some(label) if !label.is_empty() => format!("{}+{label}", env!("CARGO_PKG_VERSION")),
        _ => env!("CARGO_PKG_VERSION").to_owned(),
    }
}

/// How long presigned redirect URLs stay valid (fixed in the reference).
pub const PRESIGN_EXPIRY_SECS: u64 = 20 * 60;

/// The storage middlewares this driver offers, by their `config.yml` name.
pub const MIDDLEWARES: &[&str] = &["cloudfront", "redirect", "rewrite"];

/// Refuses a middleware name the driver does not offer, as the reference does.
pub fn check_middleware_name(name: &str) -> Result<()> {
    if MIDDLEWARES.contains(&name) {
        Ok(())
    } else {
        Err(Error::InvalidConfig(format!(
            "no storage middleware registered with name: {name}"
        )))
    }
}

/// The S3 storage driver.
pub struct S3Driver<T: Transport> {
    client: Rc<S3Client<T>>,
    keys: KeyMapper,
    /// `middleware: storage:` entries, in `config.yml` order.
    middleware: Vec<redirect::Layer>,
    warnings: Vec<String>,
}

impl<T: Transport> S3Driver<T> {
    /// Opens a driver from `storage: s3:` parameters. Sends nothing.
    pub fn open(
        params: &[(String, Value)],
        transport: T,
        platform: Rc<dyn Platform>,
    ) -> Result<Self> {
        Self::open_with_middleware(params, &[], transport, platform)
    }

    /// Opens a driver with `middleware: storage:` entries (`cloudfront`,
    /// `redirect`, `rewrite`), applied as the reference applies them: each
    /// wraps those listed before it.
    /// Every parameter and option is validated before anything is read or
    /// sent; with a CloudFront IP filter the ranges are then fetched once (a
    /// failure is a warning).
    pub fn open_with_middleware(
        params: &[(String, Value)],
        middleware: &[(String, Vec<(String, Value)>)],
        transport: T,
        platform: Rc<dyn Platform>,
    ) -> Result<Self> {
        let config = Config::from_params(params)?;
        let mut warnings = config.warnings.clone();
        let mut layers = Vec::new();
        for (index, (name, options)) in middleware.iter().enumerate() {
            check_middleware_name(name)?;
            layers.push(redirect::Layer::from_entry(
                index,
                name,
                options,
                &*platform,
                &mut warnings,
            )?);
        }
        let driver = Self {
            keys: KeyMapper::new(&config.root_directory),
            client: Rc::new(S3Client::new(config, transport, platform)?),
            middleware: layers,
            warnings,
        };
        Ok(driver.with_first_ip_ranges())
    }

    /// Warnings found while opening (unknown keys, failed IP-range fetch...).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The parsed configuration.
    pub fn config(&self) -> &Config {
        self.client.config()
    }

    /// The S3 client (for hosts that need raw requests, like test harnesses).
    pub fn client(&self) -> &S3Client<T> {
        &self.client
    }

    /// Maps paths to keys.
    pub fn keys(&self) -> &KeyMapper {
        &self.keys
    }

    /// A reader from `offset`; the negative-offset check comes first, as in
    /// the reference.
    pub fn reader(&self, path: &str, offset: i64) -> Result<FileReader<T::Body>> {
        self.open_reader(path, offset)
    }

    /// A resumable writer; with `append` it continues the path's open upload.
    pub fn writer(&self, path: &str, append: bool) -> Result<Writer<T>> {
        path::check(path)?;
        Writer::open(self.client.clone(), path, self.keys.key(path), append)
    }

    /// A paginated walk below `from`, after `start_after_hint` if given.
    pub fn walk(&self, from: &str, start_after_hint: Option<&str>) -> Result<Walker<T>> {
        Walker::new(
            self.client.clone(),
            self.keys.clone(),
            from,
            start_after_hint,
        )
    }
}
