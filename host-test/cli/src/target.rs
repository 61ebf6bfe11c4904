//! Where the CLI's driver comes from: `--config`'s `storage: s3:` block, or
//! the embedded S3 server when no endpoint and no credentials are
//! configured; the component from the precompiled cache; the egress and TLS
//! the configuration implies. Also what a failure means for the exit status.

// `Failure` carries the driver's error by value, as `CallError` does; its
// size is irrelevant next to what the CLI does.
#![allow(clippy::result_large_err)]

use std::path::PathBuf;

use s3_driver_host::config_file;
use s3_driver_host::runtime::ComponentCache;
use s3_driver_host::{
    Allowlist, BUILT_COMPONENT, CallError, ConfigValue, Driver, DriverError, Grants, Middleware,
    OpenOptions, OutgoingPolicy, PoolOptions, Runtime, TlsOptions,
};
use s3_driver_kit::EmbeddedS3;
use s3_driver_kit::core_params;
use s3_storage_driver::cloudfront::CloudFrontOptions;
use s3_storage_driver::config::keys::Scope;
use s3_storage_driver::config::{Config, Key, Params, Value};
use s3_storage_driver::driver::check_middleware_name;
use s3_storage_driver::error::Error as CoreError;

use crate::Cli;

/// Why the command failed, and so its exit status.
pub enum Failure {
    Usage(String),
    Driver(CallError),
}

impl From<CallError> for Failure {
    fn from(e: CallError) -> Self {
        match e {
            CallError::Driver(DriverError::InvalidConfig(_)) => Failure::Usage(e.to_string()),
            e => Failure::Driver(e),
        }
    }
}

/// A modification time as RFC 3339 (`2026-11-28T23:30:46Z`), `-` when absent.
pub fn rfc3339(t: Option<s3_driver_host::bindings::registry::storage::types::Timestamp>) -> String {
    t.map_or_else(
        || "-".to_owned(),
        |t| {
            s3_storage_driver::time::UtcDateTime {
                seconds: t.seconds,
                nanos: t.nanoseconds,
            }
            .iso8601()
        },
    )
}

/// A non-empty text parameter, read by the component's rules (last key wins).
pub fn text(params: &[(String, ConfigValue)], key: Key) -> Option<String> {
    Params::new(&core_params(params))
        .optional(key.name())
        .ok()
        .flatten()
}

/// True for the keys that name a server and its credentials: the embedded
/// server replaces exactly these.
fn is_connection_key(name: &str) -> bool {
    Key::from_name(name).is_some_and(|k| k.spec().scope == Scope::Connection)
}

/// Refuses a bad configuration before anything starts (the embedded server,
/// a driver, a file grant), by the component's own rules run natively: the
/// CLI ships the component it was built with. When the embedded server will
/// stand in, placeholders stand in for its connection keys.
fn check(
    params: &[(String, ConfigValue)],
    middleware: &[Middleware],
    embedded: bool,
) -> Result<(), Failure> {
    let refused = |e: CoreError| match e {
        CoreError::InvalidConfig(m) => Failure::Usage(format!("invalid configuration: {m}")),
        other => Failure::Usage(other.to_string()),
    };
    let mut core = core_params(params);
    if embedded {
        core.retain(|(k, _)| !is_connection_key(k));
        for (k, v) in [("region", "us-east-1"), ("bucket", "placeholder")] {
            core.push((k.to_owned(), Value::Text(v.to_owned())));
        }
    }
    Config::from_params(&core).map_err(refused)?;
    for m in middleware {
        check_middleware_name(&m.name).map_err(refused)?;
        let options: Vec<(String, ConfigValue)> = m
            .options
            .iter()
            .map(|p| (p.key.clone(), p.value.clone()))
            .collect();
        CloudFrontOptions::from_options(
            &core_params(&options),
            |path| std::fs::read_to_string(path),
            &mut Vec::new(),
        )
        .map_err(refused)?;
    }
    Ok(())
}

/// The AWS credential variables the driver may read, when the host has them.
fn credential_env() -> Vec<(String, String)> {
    s3_storage_driver::credentials::VARIABLES
        .iter()
        .filter_map(|k| std::env::var(k).ok().map(|v| ((*k).to_owned(), v)))
        .collect()
}

/// A configuration's parts: storage parameters, middleware, credential env.
#[derive(Clone)]
pub struct Configured {
    pub params: Vec<(String, ConfigValue)>,
    pub middleware: Vec<Middleware>,
    pub env: Vec<(String, String)>,
}

/// The driver's configuration from `--config`, or the embedded server's.
pub async fn target_params(cli: &Cli) -> Result<(Configured, Option<EmbeddedS3>), Failure> {
    let config = match &cli.config {
        Some(path) => config_file::from_file(path).map_err(|e| Failure::Usage(format!("{e:#}")))?,
        None => config_file::DistributionConfig::default(),
    };
    let (mut params, middleware) = (config.storage, config.middleware);
    let env = credential_env();
    let has_endpoint = text(&params, Key::RegionEndpoint).is_some();
    let has_credentials = text(&params, Key::AccessKey).is_some()
        || env.iter().any(|(k, _)| {
            s3_storage_driver::credentials::CONFIGURING_VARIABLES.contains(&k.as_str())
        });
    let embedded = !has_endpoint && !has_credentials;
    check(&params, &middleware, embedded)?;
    let mut server = None;
    if embedded {
        let s = EmbeddedS3::start_private(cli.embedded_dir.as_deref())
            .await
            .map_err(|e| Failure::Usage(format!("starting the embedded S3 server: {e:#}")))?;
        eprintln!(
            "s3-driver: no endpoint or credentials configured; using the embedded S3 server at {} (data in {})",
            s.endpoint(),
            s.root().display()
        );
        params.retain(|(k, _)| !is_connection_key(k));
        params.extend(s.params());
        server = Some(s);
    }
    Ok((
        Configured {
            params,
            middleware,
            env,
        },
        server,
    ))
}

pub async fn open(cli: &Cli) -> Result<(Driver, Option<EmbeddedS3>), Failure> {
    let (t, server) = target_params(cli).await?;
    let driver = open_configured(cli, &t).await?;
    Ok((driver, server))
}

/// The built-in component, compiled once per build and machine: the
/// precompiled copy lives in `$S3_DRIVER_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/s3-driver`, else `~/.cache/s3-driver`. Later runs start
/// without Cranelift (faster, and its memory never joins the process's).
pub fn runtime() -> Result<Runtime, String> {
    let dir = std::env::var_os("S3_DRIVER_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("s3-driver")))
        .or_else(|| std::env::var_os("HOME").map(|d| PathBuf::from(d).join(".cache/s3-driver")));
    let loaded = match dir {
        Some(dir) => Runtime::from_file_cached(
            std::path::Path::new(BUILT_COMPONENT),
            ComponentCache::new(dir),
        ),
        None => Runtime::builtin(),
    };
    loaded.map_err(|e| format!("{e:#}"))
}

/// A driver on a resolved configuration, reaching only what it names.
pub async fn open_configured(cli: &Cli, t: &Configured) -> Result<Driver, Failure> {
    let runtime = runtime().map_err(Failure::Usage)?;
    open_on(cli, t, &runtime).await
}

/// [`open_configured`] on a given runtime (one that `serve --watch` swaps).
pub async fn open_on(cli: &Cli, t: &Configured, runtime: &Runtime) -> Result<Driver, Failure> {
    let allow = Allowlist::any();
    let tls = TlsOptions {
        skip_verify: false,
        extra_roots_pem: match &cli.ca_file {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .map_err(|e| Failure::Usage(format!("reading {}: {e}", path.display())))?,
            ),
            None => None,
        },
    };
    let pool = PoolOptions {
        quick_ack: !cli.no_quick_ack,
        ..PoolOptions::default()
    };
    let policy = OutgoingPolicy::with_options(allow, tls, pool)
        .map_err(|e| Failure::Usage(format!("TLS settings: {e:#}")))?;
    let grants = Grants {
        env: t.env.clone(),
        ..Grants::default()
    };
    let driver = Driver::open(
        runtime,
        OpenOptions::new(&t.params)
            .middleware(&t.middleware)
            .policy(policy)
            .grants(grants.clone()),
    )
    .await?;
    for w in driver.warnings() {
        eprintln!("s3-driver: warning: {w}");
    }
    Ok(driver)
}
