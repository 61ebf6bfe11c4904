//! Loading the component into wasmtime: one process-wide engine
//! ([`engine`]), a precompiled-component cache ([`cache`]), versions that can
//! be hot-swapped ([`version`], [`Runtime::swap`], [`Runtime::watch`]), and
//! fresh instances with WASI, the driver's HTTP policy and limits ([`store`]).

pub mod cache;
pub mod engine;
mod imports;
pub mod instance;
pub mod store;
pub mod version;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use wasmtime::Engine;
use wasmtime::component::{HasSelf, Linker};

pub use cache::{CACHE_ENTRIES, ComponentCache};
pub use engine::{EPOCH_TICK, shared_engine};
pub use store::{Grants, HostState, Limits};
pub use version::{DRIVER_EXPORT, Prepared, SwapReport, Version};

use crate::guest_log::GuestLog;
use crate::outgoing::OutgoingPolicy;
use crate::shared_values::SharedValues;
pub use instance::Instance;
use store::{Executor, new_store};
use version::{digest, load};

/// The component built by `build.rs` from this workspace (feature
/// `bundled-component`, on by default).
#[cfg(feature = "bundled-component")]
pub const BUILT_COMPONENT: &str = env!("S3_DRIVER_COMPONENT");

struct RuntimeInner {
    engine: Engine,
    linker: Linker<HostState>,
    current: RwLock<Arc<Version>>,
    generations: AtomicU64,
    cache: Option<ComponentCache>,
    /// The open drivers, each asked to admit a version before it serves.
    gates: Mutex<Vec<Weak<dyn Gate>>>,
}

/// What must admit a version before it serves: an open driver, which asks
/// the version what the driver's configuration needs and checks that
/// against its embedder's cap. A refusal refuses the swap.
pub(crate) trait Gate: Send + Sync {
    /// Admits `version` (remembering what it is granted) or says why not.
    fn admit(&self, runtime: &Runtime, version: &Arc<Version>) -> Result<(), String>;
}

/// A component ready to instantiate, whose version can be replaced while
/// drivers opened on it keep serving. Cheap to clone; clones share versions.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<RuntimeInner>,
}

impl Runtime {
    /// Loads the component built with this crate.
    #[cfg(feature = "bundled-component")]
    pub fn builtin() -> anyhow::Result<Self> {
        Self::from_file(Path::new(BUILT_COMPONENT))
    }

    /// Loads a component file.
    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        Self::from_bytes(&read(path)?)
    }

    /// Loads a component file through a precompiled cache.
    pub fn from_file_cached(path: &Path, cache: ComponentCache) -> anyhow::Result<Self> {
        Self::build(&read(path)?, Some(cache))
    }

    /// Loads a component from its bytes.
    pub fn from_bytes(bytes: &[u8]) -> anyhow::Result<Self> {
        Self::build(bytes, None)
    }

    fn build(bytes: &[u8], cache: Option<ComponentCache>) -> anyhow::Result<Self> {
        let engine = shared_engine()?;
        let mut linker = Linker::<HostState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(anyhow::Error::from)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)
            .map_err(anyhow::Error::from)?;
        crate::bindings::registry::storage::host::add_to_linker::<_, HasSelf<HostState>>(
            &mut linker,
            |s| s,
        )
        .map_err(anyhow::Error::from)?;
        crate::bindings::registry::storage::shared::add_to_linker::<_, HasSelf<HostState>>(
            &mut linker,
            |s| s,
        )
        .map_err(anyhow::Error::from)?;
        crate::bindings::registry::storage::digest::add_to_linker::<_, HasSelf<HostState>>(
            &mut linker,
            |s| s,
        )
        .map_err(anyhow::Error::from)?;
        let (version, _) = load(&engine, &linker, cache.as_ref(), bytes, 0)?;
        Ok(Self {
            inner: Arc::new(RuntimeInner {
                engine,
                linker,
                current: RwLock::new(Arc::new(version)),
                generations: AtomicU64::new(0),
                cache,
                gates: Mutex::new(Vec::new()),
            }),
        })
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// The version new calls go to.
    pub fn current(&self) -> Arc<Version> {
        self.inner.current.read().unwrap().clone()
    }

    /// Replaces the component for every new call. Calls, readers, writers and
    /// walkers already running finish on the old version. The new component
    /// is compiled (or taken from the cache), linked and instantiated once
    /// first: a component that does not implement `registry:storage/driver`
    /// `@0.6.x` is refused and the old version keeps serving. Traffic is
    /// never paused: until the final switch, new calls use the old version.
    pub fn swap(&self, bytes: &[u8]) -> anyhow::Result<SwapReport> {
        let started = Instant::now();
        let prepared = self.prepare(bytes)?;
        let mut report = self.activate(prepared);
        report.elapsed = started.elapsed();
        Ok(report)
    }

    /// The first half of [`Runtime::swap`]: load and check a component
    /// without serving it yet. Every open driver asks it what its
    /// configuration needs; one whose cap refuses that refuses the swap.
    pub fn prepare(&self, bytes: &[u8]) -> anyhow::Result<Prepared> {
        let generation = self.inner.generations.fetch_add(1, Ordering::Relaxed) + 1;
        let (version, cache_hit) = load(
            &self.inner.engine,
            &self.inner.linker,
            self.inner.cache.as_ref(),
            bytes,
            generation,
        )?;
        let version = Arc::new(version);
        let gates: Vec<Arc<dyn Gate>> = {
            let mut gates = self.inner.gates.lock().unwrap();
            gates.retain(|g| g.strong_count() > 0);
            gates.iter().filter_map(Weak::upgrade).collect()
        };
        for gate in gates {
            gate.admit(self, &version).map_err(|why| {
                anyhow::anyhow!(
                    "version {} refused by an open driver: {why}",
                    version.version
                )
            })?;
        }
        Ok(Prepared { version, cache_hit })
    }

    /// Asks `gate` to admit every version brought in by a swap from now on.
    pub(crate) fn add_gate(&self, gate: Weak<dyn Gate>) {
        let mut gates = self.inner.gates.lock().unwrap();
        gates.retain(|g| g.strong_count() > 0);
        gates.push(gate);
    }

    /// The second half of [`Runtime::swap`]: new calls go to `prepared` from
    /// now on. `elapsed` is the switch alone.
    pub fn activate(&self, prepared: Prepared) -> SwapReport {
        let started = Instant::now();
        let Prepared { version, cache_hit } = prepared;
        let (name, generation) = (version.version.clone(), version.generation);
        let old = std::mem::replace(&mut *self.inner.current.write().unwrap(), version);
        let report = SwapReport {
            version: name,
            generation,
            cache_hit,
            elapsed: started.elapsed(),
        };
        // Freeing an unused old version unmaps its code: not part of the switch.
        drop(old);
        tracing::info!(
            version = %report.version,
            generation,
            cache_hit,
            "storage driver component swapped"
        );
        report
    }

    /// [`Runtime::swap`] with a component file.
    pub fn swap_file(&self, path: &Path) -> anyhow::Result<SwapReport> {
        self.swap(&read(path)?)
    }

    /// Watches `path` and swaps whenever its content differs from the
    /// running version (checked every `interval`; deploy by writing a new
    /// file and renaming it over the old one). A file that fails to load is
    /// logged and the running version kept. Stops when the returned handle is dropped. Needs a tokio runtime.
    pub fn watch(&self, path: impl Into<PathBuf>, interval: Duration) -> Watcher {
        let path = path.into();
        let runtime = self.clone();
        let (tx, rx) = tokio::sync::watch::channel(Vec::<Result<SwapReport, String>>::new());
        let task = tokio::spawn(async move {
            // The last content tried; a file equal to the running version
            // needs nothing, one that failed is not retried until it changes.
            let mut seen: Option<String> = None;
            loop {
                let Ok(bytes) = tokio::fs::read(&path).await else {
                    tokio::time::sleep(interval).await;
                    continue;
                };
                let hash = digest(&bytes);
                if seen.as_deref() == Some(hash.as_str()) || hash == runtime.current().digest {
                    seen = Some(hash);
                    tokio::time::sleep(interval).await;
                    continue;
                }
                seen = Some(hash);
                let r = runtime.clone();
                let outcome = tokio::task::spawn_blocking(move || r.swap(&bytes))
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|r| r.map_err(|e| format!("{e:#}")));
                if let Err(e) = &outcome {
                    tracing::warn!(path = %path.display(), error = %e, "component not swapped; the running version keeps serving");
                }
                tx.send_modify(|v| v.push(outcome));
                tokio::time::sleep(interval).await;
            }
        });
        Watcher { task, outcomes: rx }
    }

    /// A fresh instance of the current version whose HTTP goes through
    /// `policy`, whose WASI world is what `grants` allows, whose memory is
    /// capped by `limits`, whose log lines go to `log` and which shares
    /// fetched values through `shared` with the instances given the same
    /// table (to measure instantiation, or to warm the pooling allocator;
    /// drivers instantiate their own).
    pub async fn instantiate(
        &self,
        policy: OutgoingPolicy,
        grants: &Grants,
        limits: &Limits,
        log: GuestLog,
        shared: SharedValues,
    ) -> anyhow::Result<Instance> {
        self.instantiate_version(self.current(), policy, grants, limits, log, shared)
            .await
    }

    /// [`Runtime::instantiate`] of a given version.
    pub(crate) async fn instantiate_version(
        &self,
        version: Arc<Version>,
        policy: OutgoingPolicy,
        grants: &Grants,
        limits: &Limits,
        log: GuestLog,
        shared: SharedValues,
    ) -> anyhow::Result<Instance> {
        let store = new_store(
            &self.inner.engine,
            policy,
            grants,
            limits,
            log,
            shared,
            Executor::Tokio,
        )?;
        Self::instance_in(version, store).await
    }

    /// An instance of `version` with no grants and no egress, for calls that
    /// do no I/O, driven by a plain executor from sync code (a swap asking
    /// a new version what a driver needs).
    pub(crate) async fn instantiate_bare(
        &self,
        version: Arc<Version>,
        policy: OutgoingPolicy,
        limits: &Limits,
    ) -> anyhow::Result<Instance> {
        let store = new_store(
            &self.inner.engine,
            policy,
            &Grants::default(),
            limits,
            GuestLog::default(),
            SharedValues::default(),
            Executor::Plain,
        )?;
        Self::instance_in(version, store).await
    }

    async fn instance_in(
        version: Arc<Version>,
        mut store: wasmtime::Store<HostState>,
    ) -> anyhow::Result<Instance> {
        let bindings = version
            .pre
            .instantiate_async(&mut store)
            .await
            .map_err(anyhow::Error::from)?;
        Ok(Instance {
            store,
            bindings,
            version,
        })
    }
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading the component {}", path.display()))
}

/// A running file watch; dropping it stops the watch.
pub struct Watcher {
    task: tokio::task::JoinHandle<()>,
    outcomes: tokio::sync::watch::Receiver<Vec<Result<SwapReport, String>>>,
}

impl Watcher {
    /// Every swap attempt so far, oldest first (errors as text).
    pub fn outcomes(&self) -> Vec<Result<SwapReport, String>> {
        self.outcomes.borrow().clone()
    }

    /// Waits until there are at least `n` swap attempts.
    pub async fn wait_for(&mut self, n: usize) -> Vec<Result<SwapReport, String>> {
        let _ = self.outcomes.wait_for(|v| v.len() >= n).await;
        self.outcomes()
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}
