//! One loaded build of the component, checked before it serves: compiled or
//! taken from the cache, linked, and proved to export the driver interface
//! and start.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use wasmtime::Engine;
use wasmtime::component::Linker;

use super::cache::{ComponentCache, compile};
use super::store::{Executor, Grants, HostState, Limits, new_store};
use crate::bindings::StorageDriverPre;
use crate::guest_log::GuestLog;
use crate::outgoing::{Allowlist, OutgoingPolicy};
use crate::shared_values::SharedValues;

/// The WIT export every loadable component must have.
pub const DRIVER_EXPORT: &str = "registry:storage/driver@0.6.0";

/// One loaded build of the component. Instances keep their version alive, so
/// an old version is freed when its last instance is.
pub struct Version {
    pub(crate) pre: StorageDriverPre<HostState>,
    pub(crate) version: String,
    pub(crate) digest: String,
    pub(crate) generation: u64,
}

impl Version {
    /// What the component says its version is (`version()` in the WIT).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Hex XXH3-128 of the component's bytes: the precompiled cache's key
    /// and what a file watch compares. Not a security boundary (whoever can
    /// write the component file chooses the code anyway); a cryptographic
    /// hash of the 900 KB component took 0.6 ms of every swap.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// 0 for the first version of a runtime, +1 on every swap.
    pub fn generation(&self) -> u64 {
        self.generation
    }
}

impl std::fmt::Debug for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Version")
            .field("version", &self.version)
            .field("digest", &self.digest)
            .field("generation", &self.generation)
            .finish()
    }
}

/// A loaded and checked component, not serving yet ([`Runtime::prepare`]).
pub struct Prepared {
    pub(crate) version: Arc<Version>,
    pub(crate) cache_hit: bool,
}

impl Prepared {
    /// What the component says its version is.
    pub fn version(&self) -> &str {
        &self.version.version
    }
}

/// What a swap did and how long it took.
#[derive(Debug, Clone)]
pub struct SwapReport {
    /// The version now serving new calls.
    pub version: String,
    /// Its generation.
    pub generation: u64,
    /// Whether the precompiled cache had it.
    pub cache_hit: bool,
    /// Load (compile or deserialize), check and swap.
    pub elapsed: Duration,
}

pub(super) fn digest(bytes: &[u8]) -> String {
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(bytes))
}

/// Compiles (or deserializes), links and checks one component: it must
/// export the driver interface and answer `version()`.
pub(super) fn load(
    engine: &Engine,
    linker: &Linker<HostState>,
    cache: Option<&ComponentCache>,
    bytes: &[u8],
    generation: u64,
) -> anyhow::Result<(Version, bool)> {
    let digest = digest(bytes);
    let (component, hit) = match cache {
        Some(c) => c.load(engine, bytes, &digest)?,
        None => (compile(engine, bytes)?, false),
    };
    let pre = linker
        .instantiate_pre(&component)
        .map_err(anyhow::Error::from)
        .context("the component imports something this host does not provide")?;
    let pre = StorageDriverPre::new(pre)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("the component does not export {DRIVER_EXPORT}"))?;
    // One throw-away instance proves it starts and tells its version. It
    // calls no host function that needs an I/O reactor, so a plain executor
    // can drive it from sync code, inside or outside a tokio runtime.
    let version = futures::executor::block_on(async {
        let mut store = new_store(
            engine,
            OutgoingPolicy::new(Allowlist::new()),
            &Grants::default(),
            &Limits::default(),
            GuestLog::default(),
            SharedValues::default(),
            Executor::Plain,
        )?;
        let bindings = pre
            .instantiate_async(&mut store)
            .await
            .map_err(anyhow::Error::from)?;
        bindings
            .registry_storage_driver()
            .call_version(&mut store)
            .await
            .map_err(anyhow::Error::from)
    })
    .context("the component failed its trial instantiation")?;
    Ok((
        Version {
            pre,
            version,
            digest,
            generation,
        },
        hit,
    ))
}
