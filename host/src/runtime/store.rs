//! A store for one instance: WASI with exactly what the driver was granted,
//! wasi:http through the driver's outgoing policy, the memory cap and the
//! per-call deadline checked at every epoch tick.

use std::path::PathBuf;
#[cfg(feature = "test-hooks")]
use std::time::SystemTime;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use wasmtime::component::ResourceTable;
use wasmtime::{Engine, ResourceLimiter, Store, UpdateDeadline};
#[cfg(feature = "test-hooks")]
use wasmtime_wasi::HostWallClock;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::guest_log::GuestLog;
use crate::outgoing::OutgoingPolicy;
use crate::shared_values::{InstanceShare, SharedValues};

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
    /// Most of those that readers, writers and walkers may hold at once.
    /// Their callers may wait on a slow client between calls; the rest of
    /// `max_instances` stays for the short calls (stat, get-content...).
    pub max_handles: usize,
    /// Longest a call waits for a free instance before it fails with
    /// [`crate::CallError::Overloaded`]: past capacity, callers are told so
    /// quickly instead of queueing without end.
    pub queue_timeout: Duration,
    /// An instance unused this long is freed with its memory (one stays), so
    /// a burst's instances do not hold memory after it.
    pub idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_bytes: 512 << 20,
            call_timeout: Duration::from_secs(300),
            max_instances: 128,
            max_handles: 96,
            queue_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(30),
        }
    }
}

/// What drives a store's calls, and so how its guest gives way at an epoch
/// tick. Either way it traps once its call is past the deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Executor {
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

/// The guest's WASI: stderr, the granted variables and read-only directories.
fn wasi_ctx(grants: &Grants) -> anyhow::Result<WasiCtx> {
    let mut wasi = WasiCtx::builder();
    wasi.inherit_stderr();
    #[cfg(feature = "test-hooks")]
    if let Some(pipe) = &grants.guest_stderr {
        wasi.stderr(pipe.clone());
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
    #[cfg(feature = "test-hooks")]
    if let Some(at) = grants.fixed_time {
        wasi.wall_clock(FixedClock(at.duration_since(SystemTime::UNIX_EPOCH)?));
    }
    Ok(wasi.build())
}

pub(crate) fn new_store(
    engine: &Engine,
    policy: OutgoingPolicy,
    grants: &Grants,
    limits: &Limits,
    log: GuestLog,
    shared: SharedValues,
    executor: Executor,
) -> anyhow::Result<Store<HostState>> {
    let state = HostState {
        log,
        share: InstanceShare::new(shared),
        wasi: wasi_ctx(grants)?,
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

/// What the guest may see of the host besides HTTP.
#[derive(Debug, Clone, Default)]
pub struct Grants {
    /// Environment variables (the AWS credential variables, typically).
    pub env: Vec<(String, String)>,
    /// Directories readable by the guest at the same path (a CloudFront key's).
    pub read_only_dirs: Vec<PathBuf>,
    /// Pins the guest's wall clock (tests of time-dependent signatures).
    #[cfg(feature = "test-hooks")]
    pub fixed_time: Option<SystemTime>,
    /// Collects the guest's stderr instead of passing it to the host's
    /// (tests that inspect what the guest prints).
    #[cfg(feature = "test-hooks")]
    pub guest_stderr: Option<wasmtime_wasi::p2::pipe::MemoryOutputPipe>,
}

/// Per-store state: WASI, wasi-http, the driver's outgoing policy, its log
/// and the memory cap.
pub struct HostState {
    /// Where the guest's log lines go.
    pub(crate) log: GuestLog,
    /// The driver's shared values, as this instance sees them.
    pub(crate) share: InstanceShare,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    /// The guest's resources: WASI's, `wasi:http`'s and its hashes.
    pub(crate) table: ResourceTable,
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
#[cfg(feature = "test-hooks")]
struct FixedClock(Duration);

#[cfg(feature = "test-hooks")]
impl HostWallClock for FixedClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        self.0
    }
}
