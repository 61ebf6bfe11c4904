//! Loading the component into wasmtime: one process-wide engine (pooling
//! allocator, epoch interruption), a precompiled-component cache, versions that
//! can be hot-swapped, and fresh instances with WASI, our HTTP policy and
//! per-instance limits.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context as _, anyhow};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, ResourceLimiter, Store,
    UpdateDeadline,
};
use wasmtime_wasi::{FsPerms, HostWallClock, WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::policy::OutgoingPolicy;

/// Generated host bindings of the `storage-driver` world.
pub mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "storage-driver",
        exports: { default: async },
        additional_derives: [PartialEq],
        with: {
            "wasi:http": wasmtime_wasi_http::p2::bindings::http,
            "wasi:io": wasmtime_wasi::p2::bindings::io,
            "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
        },
    });
}

pub use bindings::{StorageDriver, StorageDriverPre};

/// The component built by `build.rs` from this workspace.
pub const BUILT_COMPONENT: &str = env!("S3_DRIVER_COMPONENT");

/// The same source built with the version label `b` (hot-swap tests).
pub const BUILT_COMPONENT_B: &str = env!("S3_DRIVER_COMPONENT_B");

/// The WIT export every loadable component must have.
pub const DRIVER_EXPORT: &str = "registry:storage/driver@0.1.0";

/// How often the engine's epoch advances: a guest running its own code
/// yields to the executor this often, and a call's deadline is checked.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Per-instance limits of a driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most linear memory one instance may grow to. The writer holds about
    /// two chunks, so keep it above `3 x chunksize`.
    pub memory_bytes: usize,
    /// Longest one call may take, guest CPU and host I/O together. A call
    /// past it fails with a timeout and its instance is discarded.
    pub call_timeout: Duration,
    /// Most instances one driver runs at once (calls wait for a free one).
    pub max_instances: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_bytes: 512 << 20,
            call_timeout: Duration::from_secs(300),
            max_instances: 128,
        }
    }
}

/// The process-wide engine: compiled code, the instance pool and the epoch
/// ticker are shared by every runtime and version.
pub fn shared_engine() -> anyhow::Result<Engine> {
    static ENGINE: OnceLock<Result<Engine, String>> = OnceLock::new();
    ENGINE
        .get_or_init(|| build_engine().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(|e| anyhow!("creating the wasmtime engine: {e}"))
}

fn build_engine() -> anyhow::Result<Engine> {
    let mut pool = PoolingAllocationConfig::new();
    // A component instance is a few core instances, memories and tables.
    pool.total_component_instances(1000)
        .total_core_instances(5000)
        .total_memories(2000)
        .total_tables(5000)
        .total_stacks(1000);
    let mut config = Config::new();
    config
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool))
        .epoch_interruption(true);
    let engine = Engine::new(&config).map_err(anyhow::Error::from)?;
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("wasm-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })?;
    Ok(engine)
}

/// Serialized components on disk, keyed by the component's digest and the
/// engine's compatibility hash, so a restart skips Cranelift. The directory
/// must be trusted: its files are loaded as native code. Every new build adds
/// a file of ~3 MB; only the [`CACHE_ENTRIES`] most recently used are kept.
#[derive(Debug, Clone)]
pub struct ComponentCache {
    dir: PathBuf,
}

impl ComponentCache {
    /// A cache in `dir` (created when first written).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    fn path(&self, engine: &Engine, digest: &str) -> PathBuf {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        self.dir.join(format!("{digest}-{:016x}.cwasm", h.finish()))
    }

    /// The cached compilation of `bytes`, compiling and storing it on a miss.
    /// Returns whether it was a hit.
    fn load(
        &self,
        engine: &Engine,
        bytes: &[u8],
        digest: &str,
    ) -> anyhow::Result<(Component, bool)> {
        let path = self.path(engine, digest);
        if path.exists() {
            // SAFETY: the file was written by `Component::serialize` of this
            // engine configuration into a directory the embedder trusts;
            // wasmtime checks the header and the compatibility hash.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(c) => {
                    // The modification time orders entries for pruning.
                    let _ = std::fs::File::options()
                        .append(true)
                        .open(&path)
                        .and_then(|f| f.set_modified(SystemTime::now()));
                    return Ok((c, true));
                }
                Err(e) => tracing::warn!(error = %e, "ignoring a stale precompiled component"),
            }
        }
        let component = compile(engine, bytes)?;
        let serialized = component.serialize().map_err(anyhow::Error::from)?;
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating the component cache {}", self.dir.display()))?;
        // Written aside and renamed, so a concurrent reader never sees half.
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, serialized).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
        if let Err(e) = prune(&self.dir, CACHE_ENTRIES) {
            tracing::warn!(error = %e, "pruning the component cache");
        }
        Ok((component, false))
    }
}

/// How many precompiled components a [`ComponentCache`] keeps: room for a
/// few versions to swap between, for each engine configuration in use.
pub const CACHE_ENTRIES: usize = 8;

/// Removes all but the `keep` most recently used `.cwasm` files of `dir`;
/// returns how many went. Another process may still be using a removed file:
/// a mapped file outlives its name, and a missing one is compiled again.
fn prune(dir: &Path, keep: usize) -> std::io::Result<usize> {
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "cwasm") {
            entries.push((entry.metadata()?.modified()?, path));
        }
    }
    entries.sort_by_key(|e| std::cmp::Reverse(e.0));
    let mut removed = 0;
    for (_, path) in entries.into_iter().skip(keep) {
        match std::fs::remove_file(&path) {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(removed)
}

fn compile(engine: &Engine, bytes: &[u8]) -> anyhow::Result<Component> {
    Component::new(engine, bytes)
        .map_err(anyhow::Error::from)
        .context("compiling the component")
}

/// One loaded build of the component. Instances keep their version alive, so
/// an old version is freed when its last instance is.
pub struct Version {
    pre: StorageDriverPre<HostState>,
    version: String,
    digest: String,
    generation: u64,
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
    version: Version,
    cache_hit: bool,
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

struct RuntimeInner {
    engine: Engine,
    linker: Linker<HostState>,
    current: RwLock<Arc<Version>>,
    generations: AtomicU64,
    cache: Option<ComponentCache>,
}

/// A component ready to instantiate, whose version can be replaced while
/// drivers opened on it keep serving. Cheap to clone; clones share versions.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<RuntimeInner>,
}

impl Runtime {
    /// Loads the component built with this crate.
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
        let (version, _) = load(&engine, &linker, cache.as_ref(), bytes, 0)?;
        Ok(Self {
            inner: Arc::new(RuntimeInner {
                engine,
                linker,
                current: RwLock::new(Arc::new(version)),
                generations: AtomicU64::new(0),
                cache,
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
    /// `@0.1.x` is refused and the old version keeps serving. Traffic is
    /// never paused: until the final switch, new calls use the old version.
    pub fn swap(&self, bytes: &[u8]) -> anyhow::Result<SwapReport> {
        let started = Instant::now();
        let prepared = self.prepare(bytes)?;
        let mut report = self.activate(prepared);
        report.elapsed = started.elapsed();
        Ok(report)
    }

    /// The first half of [`Runtime::swap`]: load and check a component
    /// without serving it yet.
    pub fn prepare(&self, bytes: &[u8]) -> anyhow::Result<Prepared> {
        let generation = self.inner.generations.fetch_add(1, Ordering::Relaxed) + 1;
        let (version, cache_hit) = load(
            &self.inner.engine,
            &self.inner.linker,
            self.inner.cache.as_ref(),
            bytes,
            generation,
        )?;
        Ok(Prepared { version, cache_hit })
    }

    /// The second half of [`Runtime::swap`]: new calls go to `prepared` from
    /// now on. `elapsed` is the switch alone.
    pub fn activate(&self, prepared: Prepared) -> SwapReport {
        let started = Instant::now();
        let Prepared { version, cache_hit } = prepared;
        let (name, generation) = (version.version.clone(), version.generation);
        let old = std::mem::replace(&mut *self.inner.current.write().unwrap(), Arc::new(version));
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
    /// `policy`, whose WASI world is what `grants` allows and whose memory
    /// is capped by `limits`.
    pub(crate) async fn instantiate(
        &self,
        policy: OutgoingPolicy,
        grants: &Grants,
        limits: &Limits,
    ) -> anyhow::Result<Instance> {
        let version = self.current();
        let mut store = new_store(&self.inner.engine, policy, grants, limits, Executor::Tokio)?;
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

fn digest(bytes: &[u8]) -> String {
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(bytes))
}

/// Compiles (or deserializes), links and checks one component: it must
/// export the driver interface and answer `version()`.
fn load(
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
            OutgoingPolicy::new(crate::policy::Allowlist::new()),
            &Grants::default(),
            &Limits::default(),
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

/// What drives a store's calls, and so how its guest gives way at an epoch
/// tick. Either way it traps once its call is past the deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Executor {
    /// Wasm code that calls no host function never returns to the executor,
    /// so a guest hashing a large body (or stuck in a loop) would hold a
    /// tokio worker and starve every other instance's HTTP I/O: it yields at
    /// every tick. tokio's own yield lets the worker poll its I/O and timer
    /// driver before the guest runs again (a plain self-wake would not, for
    /// up to 61 turns).
    Tokio,
    /// A plain `block_on` (the trial instance of a load). tokio's yield would
    /// defer its wake-up to the worker thread's next park, which never comes
    /// while this executor blocks the thread: the guest only checks its
    /// deadline.
    Plain,
}

fn new_store(
    engine: &Engine,
    policy: OutgoingPolicy,
    grants: &Grants,
    limits: &Limits,
    executor: Executor,
) -> anyhow::Result<Store<HostState>> {
    let mut wasi = WasiCtx::builder();
    match &grants.guest_stderr {
        Some(pipe) => {
            wasi.stderr(pipe.clone());
        }
        None => {
            wasi.inherit_stderr();
        }
    }
    for (k, v) in &grants.env {
        wasi.env(k, v);
    }
    for dir in &grants.read_only_dirs {
        let guest = dir.to_string_lossy().into_owned();
        wasi.preopened_dir(dir, guest, FsPerms::ReadOnly)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("granting read-only access to {}", dir.display()))?;
    }
    if let Some(at) = grants.fixed_time {
        wasi.wall_clock(FixedClock(at.duration_since(SystemTime::UNIX_EPOCH)?));
    }
    let state = HostState {
        wasi: wasi.build(),
        http: WasiHttpCtx::new(),
        table: ResourceTable::new(),
        policy,
        memory: MemoryCap {
            limit: limits.memory_bytes,
            refused: None,
        },
        deadline: Instant::now() + limits.call_timeout,
    };
    let mut store = Store::new(engine, state);
    store.limiter(|s| &mut s.memory);
    store.epoch_deadline_callback(move |store| {
        Ok(if Instant::now() >= store.data().deadline {
            UpdateDeadline::Interrupt
        } else {
            match executor {
                Executor::Tokio => {
                    UpdateDeadline::YieldCustom(1, Box::pin(tokio::task::yield_now()))
                }
                Executor::Plain => UpdateDeadline::Continue(1),
            }
        })
    });
    arm_deadline(&mut store, limits.call_timeout);
    Ok(store)
}

/// Starts a call's deadline: the guest traps with `Trap::Interrupt` at the
/// first epoch tick after `timeout` from now.
pub(crate) fn arm_deadline(store: &mut Store<HostState>, timeout: Duration) {
    store.data_mut().deadline = Instant::now() + timeout;
    store.set_epoch_deadline(1);
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

/// One instance of one version, with its store.
pub(crate) struct Instance {
    pub(crate) store: Store<HostState>,
    pub(crate) bindings: StorageDriver,
    pub(crate) version: Arc<Version>,
}

/// What the guest may see of the host besides HTTP.
#[derive(Debug, Clone, Default)]
pub struct Grants {
    /// Environment variables (the AWS credential variables, typically).
    pub env: Vec<(String, String)>,
    /// Directories readable by the guest at the same path (a CloudFront key's).
    pub read_only_dirs: Vec<PathBuf>,
    /// Pins the guest's wall clock (tests of time-dependent signatures).
    pub fixed_time: Option<SystemTime>,
    /// Collects the guest's stderr instead of passing it to the host's
    /// (tests that inspect what the guest prints).
    pub guest_stderr: Option<wasmtime_wasi::p2::pipe::MemoryOutputPipe>,
}

/// Per-store state: WASI, wasi-http, the driver's outgoing policy and the
/// memory cap.
pub struct HostState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    policy: OutgoingPolicy,
    memory: MemoryCap,
    /// When the current call must end (see `arm_deadline`).
    deadline: Instant,
}

impl HostState {
    /// The growth the memory cap refused, if any (`(desired, limit)` bytes).
    pub(crate) fn memory_refused(&self) -> Option<(usize, usize)> {
        self.memory.refused
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.policy,
        }
    }
}

/// Refuses linear-memory growth past a cap and remembers that it did, so the
/// trap that follows (the guest's allocator aborts) is reported as what it is.
struct MemoryCap {
    limit: usize,
    refused: Option<(usize, usize)>,
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limit {
            self.refused = Some((desired, self.limit));
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// A wall clock that always says the same time.
struct FixedClock(Duration);

impl HostWallClock for FixedClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prune_keeps_the_most_recently_used_entries_and_nothing_else_is_touched() {
        let dir = tempfile::tempdir().unwrap();
        let base = SystemTime::now() - Duration::from_secs(3600);
        for i in 0..5u64 {
            let path = dir.path().join(format!("c{i}.cwasm"));
            let f = std::fs::File::create(&path).unwrap();
            // c0 is the newest, c4 the oldest.
            f.set_modified(base - Duration::from_secs(60 * i)).unwrap();
        }
        std::fs::write(dir.path().join("notes.txt"), b"kept").unwrap();

        assert_eq!(prune(dir.path(), 2).unwrap(), 3);
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, ["c0.cwasm", "c1.cwasm", "notes.txt"]);
        assert_eq!(prune(dir.path(), 2).unwrap(), 0);
    }
}
