//! An opened driver as a Rust value: async methods that mirror the WIT
//! contract. Each call runs on an instance taken from the driver's pool (or a
//! new one); readers, writers and walkers keep theirs until dropped. An
//! instance that traps, times out or hits its memory cap is discarded; the
//! others keep serving.

// `CallError` carries the WIT error by value so callers can match on it
// directly; its size is irrelevant next to a call into wasm.
#![allow(clippy::result_large_err)]

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use futures::Stream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::Instrument as _;
use wasmtime::component::ResourceAny;

use crate::config_file::DistributionConfig;
use crate::metrics::{Metrics, Snapshot};
use crate::policy::{Allowlist, OutgoingPolicy, Stats};
use crate::runtime::bindings::registry::storage::types;
use crate::runtime::{Grants, Instance, Limits, Runtime, Version, arm_deadline};
use crate::{ConfigValue, FileInfo, Middleware, RedirectRequest};

/// A driver call's failure.
#[derive(Debug, Clone)]
pub enum CallError {
    /// The driver's own error (the WIT `error` variant).
    Driver(types::Error),
    /// The call ran past [`Limits::call_timeout`]; its instance was discarded.
    Timeout(Duration),
    /// The instance tried to grow its memory past [`Limits::memory_bytes`];
    /// it was discarded.
    MemoryLimit {
        /// The cap, in bytes.
        limit: usize,
    },
    /// The component trapped or the host failed; the message has no host
    /// paths or backtraces. The instance was discarded.
    Host(String),
}

impl CallError {
    fn host(e: impl fmt::Display) -> Self {
        // Only the first line of the top-level message: the chain and the
        // rest may hold paths and backtraces.
        let text = e.to_string();
        CallError::Host(text.lines().next().unwrap_or_default().to_owned())
    }

    /// A short kind for metrics: the WIT error case, or `timeout`,
    /// `memory-limit`, `host`.
    pub fn kind(&self) -> &'static str {
        use types::Error as E;
        match self {
            CallError::Timeout(_) => "timeout",
            CallError::MemoryLimit { .. } => "memory-limit",
            CallError::Host(_) => "host",
            CallError::Driver(e) => match e {
                E::PathNotFound(_) => "path-not-found",
                E::InvalidPath(_) => "invalid-path",
                E::InvalidOffset(_) => "invalid-offset",
                E::UnsupportedMethod(_) => "unsupported-method",
                E::InvalidConfig(_) => "invalid-config",
                E::AccessDenied(_) => "access-denied",
                E::Throttled(_) => "throttled",
                E::Backend(_) => "backend",
                E::Network(_) => "network",
                E::MalformedResponse(_) => "malformed-response",
                E::InvalidState(_) => "invalid-state",
            },
        }
    }
}

fn backend(f: &mut fmt::Formatter<'_>, kind: &str, b: &types::BackendError) -> fmt::Result {
    write!(f, "{}: ", b.driver)?;
    if !kind.is_empty() {
        write!(f, "{kind}: ")?;
    }
    write!(f, "{}: ", b.operation)?;
    if b.code.is_empty() {
        write!(f, "HTTP {}", b.status)?;
    } else {
        write!(f, "{} (HTTP {})", b.code, b.status)?;
    }
    if !b.message.is_empty() {
        write!(f, ": {}", b.message)?;
    }
    if !b.request_id.is_empty() {
        write!(f, " [request id {}]", b.request_id)?;
    }
    Ok(())
}

/// The reference driver's messages, prefixed with the driver name.
impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use types::Error as E;
        match self {
            CallError::Host(m) => write!(f, "host: {m}"),
            CallError::Timeout(d) => write!(f, "host: the call ran past its {d:?} deadline"),
            CallError::MemoryLimit { limit } => write!(
                f,
                "host: the component needed more than its {} MiB memory cap",
                limit >> 20
            ),
            CallError::Driver(e) => match e {
                E::PathNotFound(p) => write!(f, "{}: Path not found: {}", p.driver, p.path),
                E::InvalidPath(p) => write!(f, "{}: invalid path: {}", p.driver, p.path),
                E::InvalidOffset(o) => write!(
                    f,
                    "{}: invalid offset: {} for path: {}",
                    o.driver, o.offset, o.path
                ),
                E::UnsupportedMethod(d) => write!(f, "{d}: unsupported method"),
                E::InvalidConfig(m) => write!(f, "invalid configuration: {m}"),
                E::AccessDenied(b) => backend(f, "access denied", b),
                E::Throttled(b) => backend(f, "throttled", b),
                E::Backend(b) => backend(f, "", b),
                E::Network(m) => write!(f, "network: {m}"),
                E::MalformedResponse(m) => write!(f, "malformed response: {m}"),
                E::InvalidState(m) => write!(f, "{m}"),
            },
        }
    }
}

impl std::error::Error for CallError {}

/// The result of a driver call.
pub type CallResult<T> = Result<T, CallError>;

/// An instance with the guest's opened `driver` resource.
struct Slot {
    inst: Instance,
    handle: ResourceAny,
    /// Guest resources whose Rust handles were dropped; released on the
    /// instance's next use (dropping one runs guest code, which is async).
    to_drop: Vec<ResourceAny>,
}

/// Everything the clones of one driver share.
struct Shared {
    runtime: Runtime,
    params: Vec<types::Parameter>,
    middleware: Vec<Middleware>,
    policy: OutgoingPolicy,
    grants: Grants,
    limits: Limits,
    idle: Mutex<Vec<Slot>>,
    permits: Arc<Semaphore>,
    warnings: Vec<String>,
    metrics: Metrics,
}

/// An instance checked out of the pool. Dropping it returns the instance,
/// unless it was poisoned or its version has been swapped out.
struct Lease {
    slot: Option<Slot>,
    shared: Arc<Shared>,
    _permit: OwnedSemaphorePermit,
}

impl Lease {
    fn slot(&mut self) -> &mut Slot {
        self.slot
            .as_mut()
            .expect("a lease keeps its instance until it fails")
    }

    fn handle(&mut self) -> ResourceAny {
        self.slot().handle
    }

    fn version(&self) -> Option<&Arc<Version>> {
        self.slot.as_ref().map(|s| &s.inst.version)
    }

    /// Maps the outcome of a call into the instance; any host-level failure
    /// discards the instance.
    fn settle<T>(
        &mut self,
        outcome: Result<wasmtime::Result<T>, tokio::time::error::Elapsed>,
    ) -> CallResult<T> {
        let err = match outcome {
            Ok(Ok(v)) => return Ok(v),
            Ok(Err(e)) => {
                let refused = self
                    .slot
                    .as_ref()
                    .and_then(|s| s.inst.store.data().memory_refused());
                if let Some((_, limit)) = refused {
                    CallError::MemoryLimit { limit }
                } else {
                    match e.downcast_ref::<wasmtime::Trap>() {
                        Some(wasmtime::Trap::Interrupt) => {
                            CallError::Timeout(self.shared.limits.call_timeout)
                        }
                        // The trap alone: the error's context is a wasm backtrace.
                        Some(trap) => CallError::Host(format!("the component trapped: {trap}")),
                        None => CallError::host(e),
                    }
                }
            }
            Err(_) => CallError::Timeout(self.shared.limits.call_timeout),
        };
        self.poison(&err);
        Err(err)
    }

    fn poison(&mut self, why: &CallError) {
        if let Some(slot) = self.slot.take() {
            tracing::warn!(
                version = %slot.inst.version.version(),
                error = %why,
                "discarding a storage-driver instance"
            );
            self.shared.metrics.instance_discarded();
        }
    }

    /// Hands a guest resource back; it is dropped on the instance's next use.
    fn release(&mut self, handle: ResourceAny) {
        if let Some(slot) = self.slot.as_mut() {
            slot.to_drop.push(handle);
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take()
            && Arc::ptr_eq(&slot.inst.version, &self.shared.runtime.current())
        {
            self.shared.idle.lock().unwrap().push(slot);
        }
    }
}

/// Calls one export of `registry:storage/driver` on a lease's instance under
/// the call deadline: `call!(lease, file_reader, call_read(handle, max))`.
macro_rules! call {
    ($lease:expr, $iface:ident, $method:ident($($arg:expr),* $(,)?)) => {{
        let lease: &mut Lease = $lease;
        let timeout = lease.shared.limits.call_timeout;
        let slot = lease.slot();
        arm_deadline(&mut slot.inst.store, timeout);
        let inst = &mut slot.inst;
        let outcome = tokio::time::timeout(
            timeout,
            inst.bindings
                .registry_storage_driver()
                .$iface()
                .$method(&mut inst.store, $($arg),*),
        )
        .await;
        lease.settle(outcome)
    }};
}

/// Calls an export on the instance a reader, writer or walker is pinned to,
/// observed as `op`: `pinned!(self, "file-reader.read", file_reader, call_read(max))`.
macro_rules! pinned {
    ($self:ident, $op:literal, $iface:ident, $method:ident($($arg:expr),* $(,)?)) => {{
        let shared = $self.lease.shared.clone();
        let handle = $self.handle;
        let lease = &mut $self.lease;
        observed(&shared.metrics, $op, &$self.path, async move {
            driver_err(call!(lease, $iface, $method(handle $(, $arg)*))?)
        })
        .await
    }};
}

fn driver_err<T>(r: Result<T, types::Error>) -> CallResult<T> {
    r.map_err(CallError::Driver)
}

/// Times a call, records its outcome and wraps it in a tracing span.
async fn observed<T>(
    metrics: &Metrics,
    op: &'static str,
    path: &str,
    fut: impl Future<Output = CallResult<T>>,
) -> CallResult<T> {
    let started = Instant::now();
    metrics.begin();
    let span = tracing::debug_span!("storage", op, path);
    let r = fut.instrument(span).await;
    let outcome = match &r {
        Ok(_) => "ok",
        Err(e) => e.kind(),
    };
    metrics.end(op, outcome, started.elapsed());
    if let Err(e) = &r {
        tracing::debug!(op, path, error = %e, "storage call failed");
    }
    r
}

/// An opened storage driver: cheap to clone, usable from many tasks at once.
#[derive(Clone)]
pub struct Driver {
    shared: Arc<Shared>,
}

impl fmt::Debug for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Parameters hold secrets: never print them.
        f.debug_struct("Driver")
            .field("version", &self.shared.runtime.current().version())
            .field("limits", &self.shared.limits)
            .finish_non_exhaustive()
    }
}

impl Driver {
    /// Opens a driver with `params`. Its HTTP goes through `policy`; its
    /// environment (for the AWS credential variables) holds `env` only.
    pub async fn open(
        runtime: &Runtime,
        params: &[(String, ConfigValue)],
        policy: OutgoingPolicy,
        env: &[(String, String)],
    ) -> CallResult<Driver> {
        let grants = Grants {
            env: env.to_vec(),
            ..Grants::default()
        };
        Self::open_with(runtime, params, &[], policy, &grants).await
    }

    /// Opens a driver with `middleware: storage:` entries and explicit grants.
    pub async fn open_with(
        runtime: &Runtime,
        params: &[(String, ConfigValue)],
        middleware: &[Middleware],
        policy: OutgoingPolicy,
        grants: &Grants,
    ) -> CallResult<Driver> {
        Self::open_with_limits(
            runtime,
            params,
            middleware,
            policy,
            grants,
            Limits::default(),
        )
        .await
    }

    /// Opens a driver from a Distribution `config.yml`: its `storage: s3:`
    /// block and `middleware: storage:` entries, reaching only the hosts that
    /// configuration needs (the endpoint; the STS or metadata endpoint when
    /// `env` has no keys; the IP-ranges host when CloudFront filters).
    pub async fn open_config(
        runtime: &Runtime,
        config: &DistributionConfig,
        env: &[(String, String)],
        limits: Limits,
    ) -> CallResult<Driver> {
        let allow = Allowlist::for_config(&config.storage, &config.middleware)
            .with_credential_endpoints(&config.storage, env);
        let policy = OutgoingPolicy::new(allow).with_tls_from_params(&config.storage);
        let grants = Grants {
            env: env.to_vec(),
            ..Grants::default()
        };
        Self::open_with_limits(
            runtime,
            &config.storage,
            &config.middleware,
            policy,
            &grants,
            limits,
        )
        .await
    }

    /// Opens a driver with explicit per-instance limits. A CloudFront
    /// `privatekey` given as a path, and a web-identity token file, get their
    /// directory granted read-only so the guest can read them.
    pub async fn open_with_limits(
        runtime: &Runtime,
        params: &[(String, ConfigValue)],
        middleware: &[Middleware],
        policy: OutgoingPolicy,
        grants: &Grants,
        limits: Limits,
    ) -> CallResult<Driver> {
        let mut grants = grants.clone();
        for m in middleware {
            for option in &m.options {
                if option.key.eq_ignore_ascii_case("privatekey")
                    && let ConfigValue::Text(path) = &option.value
                    && !path.contains("-----BEGIN")
                    && let Some(dir) = std::path::Path::new(path).parent()
                    && dir.is_absolute()
                {
                    grants.read_only_dirs.push(dir.to_path_buf());
                }
            }
        }
        if let Some((_, file)) = grants
            .env
            .iter()
            .find(|(k, _)| k == "AWS_WEB_IDENTITY_TOKEN_FILE")
            && let Some(dir) = std::path::Path::new(file).parent()
            && dir.is_absolute()
        {
            grants.read_only_dirs.push(dir.to_path_buf());
        }
        let params = params
            .iter()
            .map(|(k, v)| types::Parameter {
                key: k.clone(),
                value: v.clone(),
            })
            .collect();
        let mut shared = Shared {
            runtime: runtime.clone(),
            params,
            middleware: middleware.to_vec(),
            policy,
            grants,
            limits,
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(limits.max_instances.max(1))),
            warnings: Vec::new(),
            metrics: Metrics::default(),
        };
        // The first instance validates the configuration and is kept.
        let mut first = new_slot(&shared).await?;
        let outcome = tokio::time::timeout(
            limits.call_timeout,
            first
                .inst
                .bindings
                .registry_storage_driver()
                .driver()
                .call_warnings(&mut first.inst.store, first.handle),
        )
        .await;
        shared.warnings = match outcome {
            Ok(Ok(w)) => w,
            Ok(Err(e)) => return Err(CallError::host(e)),
            Err(_) => return Err(CallError::Timeout(limits.call_timeout)),
        };
        shared.idle.get_mut().unwrap().push(first);
        Ok(Driver {
            shared: Arc::new(shared),
        })
    }

    /// Takes an instance of the current version from the pool, or makes one.
    async fn lease(&self) -> CallResult<Lease> {
        let permit = self
            .shared
            .permits
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let current = self.shared.runtime.current();
        let (reused, stale) = {
            let mut idle = self.shared.idle.lock().unwrap();
            // Allocates only after a swap, when there are stale instances.
            let stale: Vec<Slot> = idle
                .extract_if(.., |s| !Arc::ptr_eq(&s.inst.version, &current))
                .collect();
            (idle.pop(), stale)
        };
        // Instances of a swapped-out version are freed outside the lock.
        drop(stale);
        let mut slot = match reused {
            Some(s) => s,
            None => new_slot(&self.shared).await?,
        };
        // The drops run guest code: under a fresh deadline, not the one left
        // from the instance's last call (long past if it sat idle).
        arm_deadline(&mut slot.inst.store, self.shared.limits.call_timeout);
        let mut clean = true;
        for h in std::mem::take(&mut slot.to_drop) {
            clean &= h.resource_drop_async(&mut slot.inst.store).await.is_ok();
        }
        if !clean {
            self.shared.metrics.instance_discarded();
            slot = new_slot(&self.shared).await?;
        }
        Ok(Lease {
            slot: Some(slot),
            shared: self.shared.clone(),
            _permit: permit,
        })
    }

    /// Warnings the driver reported when it opened (unknown parameters...).
    pub fn warnings(&self) -> &[String] {
        &self.shared.warnings
    }

    /// HTTP counters of this driver's policy.
    pub fn http_stats(&self) -> Stats {
        self.shared.policy.stats()
    }

    /// The outgoing policy (to inject faults in tests and drills).
    pub fn policy(&self) -> &OutgoingPolicy {
        &self.shared.policy
    }

    /// The runtime this driver's instances come from.
    pub fn runtime(&self) -> &Runtime {
        &self.shared.runtime
    }

    /// Calls, latencies, bytes, instances and HTTP responses so far.
    pub fn metrics(&self) -> Snapshot {
        let mut s = self.shared.metrics.snapshot();
        s.http = self.shared.policy.stats();
        s.http_by_status = self.shared.policy.responses_by_status();
        s
    }

    /// Instances waiting in the pool.
    pub fn idle_instances(&self) -> usize {
        self.shared.idle.lock().unwrap().len()
    }

    /// The driver's name (`s3aws`).
    pub async fn name(&self) -> CallResult<String> {
        observed(&self.shared.metrics, "name", "", async {
            let mut lease = self.lease().await?;
            let h = lease.handle();
            call!(&mut lease, driver, call_name(h))
        })
        .await
    }

    /// The version of the component that serves this call.
    pub async fn component_version(&self) -> CallResult<String> {
        observed(&self.shared.metrics, "version", "", async {
            let mut lease = self.lease().await?;
            let timeout = lease.shared.limits.call_timeout;
            let inst = &mut lease.slot().inst;
            let outcome = tokio::time::timeout(
                timeout,
                inst.bindings
                    .registry_storage_driver()
                    .call_version(&mut inst.store),
            )
            .await;
            lease.settle(outcome)
        })
        .await
    }

    /// The whole content of a file.
    pub async fn get_content(&self, path: &str) -> CallResult<Vec<u8>> {
        observed(&self.shared.metrics, "get-content", path, async {
            let mut lease = self.lease().await?;
            let h = lease.handle();
            let data = driver_err(call!(&mut lease, driver, call_get_content(h, path))?)?;
            self.shared.metrics.read(data.len());
            Ok(data)
        })
        .await
    }

    /// Stores `content` at `path`.
    pub async fn put_content(&self, path: &str, content: &[u8]) -> CallResult<()> {
        observed(&self.shared.metrics, "put-content", path, async {
            let mut lease = self.lease().await?;
            let h = lease.handle();
            driver_err(call!(
                &mut lease,
                driver,
                call_put_content(h, path, content)
            )?)?;
            self.shared.metrics.written(content.len());
            Ok(())
        })
        .await
    }

    /// A reader from `offset`; it keeps one instance until dropped.
    pub async fn reader(&self, path: &str, offset: i64) -> CallResult<Reader> {
        observed(&self.shared.metrics, "reader", path, async {
            let mut lease = self.lease().await?;
            let h = lease.handle();
            let handle = driver_err(call!(&mut lease, driver, call_reader(h, path, offset))?)?;
            Ok(Reader {
                lease,
                handle,
                path: path.to_owned(),
            })
        })
        .await
    }

    /// A writer; with `append` it resumes the path's open upload. It keeps
    /// one instance until dropped.
    pub async fn writer(&self, path: &str, append: bool) -> CallResult<Writer> {
        observed(&self.shared.metrics, "writer", path, async {
            let mut lease = self.lease().await?;
            let h = lease.handle();
            let handle = driver_err(call!(&mut lease, driver, call_writer(h, path, append))?)?;
            Ok(Writer {
                lease,
                handle,
                path: path.to_owned(),
            })
        })
        .await
    }

    /// Size, time and kind of `path`.
    pub async fn stat(&self, path: &str) -> CallResult<FileInfo> {
        observed(&self.shared.metrics, "stat", path, async {
            let mut lease = self.lease().await?;
            let h = lease.handle();
            driver_err(call!(&mut lease, driver, call_stat(h, path))?)
        })
        .await
    }

    /// Direct children of a directory.
    pub async fn list(&self, path: &str) -> CallResult<Vec<String>> {
        observed(&self.shared.metrics, "list", path, async {
            let mut lease = self.lease().await?;
            let h = lease.handle();
            driver_err(call!(&mut lease, driver, call_list(h, path))?)
        })
        .await
    }

    /// Moves `source` to `destination`.
    pub async fn move_(&self, source: &str, destination: &str) -> CallResult<()> {
        observed(&self.shared.metrics, "move", source, async {
            let mut lease = self.lease().await?;
            let h = lease.handle();
            driver_err(call!(
                &mut lease,
                driver,
                call_move(h, source, destination)
            )?)
        })
        .await
    }

    /// Deletes `path` recursively.
    pub async fn delete(&self, path: &str) -> CallResult<()> {
        observed(&self.shared.metrics, "delete", path, async {
            let mut lease = self.lease().await?;
            let h = lease.handle();
            driver_err(call!(&mut lease, driver, call_delete(h, path))?)
        })
        .await
    }

    /// A redirect URL for a client's request, if any.
    pub async fn redirect_url(
        &self,
        request: &RedirectRequest,
        path: &str,
    ) -> CallResult<Option<String>> {
        observed(&self.shared.metrics, "redirect-url", path, async {
            let mut lease = self.lease().await?;
            let h = lease.handle();
            driver_err(call!(
                &mut lease,
                driver,
                call_redirect_url(h, request, path)
            )?)
        })
        .await
    }

    /// A walk of everything below `from`, after `start_after_hint` if given.
    /// It keeps one instance until dropped.
    pub async fn walk(&self, from: &str, start_after_hint: Option<&str>) -> CallResult<Walker> {
        observed(&self.shared.metrics, "walk", from, async {
            let mut lease = self.lease().await?;
            let h = lease.handle();
            let handle = driver_err(call!(
                &mut lease,
                driver,
                call_walk(h, from, start_after_hint)
            )?)?;
            Ok(Walker {
                lease,
                handle,
                path: from.to_owned(),
            })
        })
        .await
    }

    /// Walks below `from`, calling `visit` for every file and directory in
    /// order; it decides to go on, skip a directory's subtree or stop (the
    /// reference's `ErrSkipDir` and `ErrFilledBuffer`).
    pub async fn walk_with(
        &self,
        from: &str,
        start_after_hint: Option<&str>,
        mut visit: impl FnMut(&FileInfo) -> WalkControl,
    ) -> CallResult<()> {
        let mut w = self.walk(from, start_after_hint).await?;
        let mut skipped: Option<String> = None;
        loop {
            let page = w.next(1000).await?;
            if page.is_empty() {
                return Ok(());
            }
            for info in &page {
                // Entries of this page below a directory skipped earlier in it.
                if let Some(dir) = &skipped
                    && info
                        .path
                        .strip_prefix(dir.as_str())
                        .is_some_and(|rest| rest.starts_with('/'))
                {
                    continue;
                }
                match visit(info) {
                    WalkControl::Continue => {}
                    WalkControl::SkipDir => {
                        if info.is_dir {
                            w.skip_dir(&info.path).await?;
                            skipped = Some(info.path.clone());
                        }
                    }
                    WalkControl::Stop => return Ok(()),
                }
            }
        }
    }

    /// Every entry of a walk (no skipping), for tests and the CLI.
    pub async fn walk_all(
        &self,
        from: &str,
        start_after_hint: Option<&str>,
    ) -> CallResult<Vec<FileInfo>> {
        let mut out = Vec::new();
        self.walk_with(from, start_after_hint, |info| {
            out.push(info.clone());
            WalkControl::Continue
        })
        .await?;
        Ok(out)
    }
}

/// A new instance of the current version with the driver opened in it.
async fn new_slot(shared: &Shared) -> CallResult<Slot> {
    let mut inst = shared
        .runtime
        .instantiate(shared.policy.clone(), &shared.grants, &shared.limits)
        .await
        .map_err(CallError::host)?;
    shared.metrics.instance_created();
    let outcome = tokio::time::timeout(
        shared.limits.call_timeout,
        inst.bindings.registry_storage_driver().driver().call_open(
            &mut inst.store,
            &shared.params,
            &shared.middleware,
        ),
    )
    .await;
    let handle = match outcome {
        Ok(Ok(r)) => driver_err(r)?,
        Ok(Err(e)) => return Err(CallError::host(e)),
        Err(_) => return Err(CallError::Timeout(shared.limits.call_timeout)),
    };
    Ok(Slot {
        inst,
        handle,
        to_drop: Vec::new(),
    })
}

/// What [`Driver::walk_with`] does after an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalkControl {
    /// Go on.
    Continue,
    /// Do not enter this directory (no effect on a file).
    SkipDir,
    /// End the walk without an error.
    Stop,
}

/// A writer whose data becomes visible on [`Writer::commit`].
pub struct Writer {
    lease: Lease,
    handle: ResourceAny,
    path: String,
}

impl fmt::Debug for Writer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Writer").field("path", &self.path).finish()
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.lease.release(self.handle);
    }
}

impl Writer {
    /// The version of the component this writer runs on.
    pub fn component_version(&self) -> Option<String> {
        self.lease.version().map(|v| v.version().to_owned())
    }

    /// Appends `data`.
    pub async fn write(&mut self, data: &[u8]) -> CallResult<u64> {
        let n = pinned!(self, "file-writer.write", file_writer, call_write(data))?;
        self.lease.shared.metrics.written(data.len());
        Ok(n)
    }

    /// Bytes uploaded so far (the buffered tail counts after close/commit).
    pub async fn size(&mut self) -> CallResult<u64> {
        let h = self.handle;
        call!(&mut self.lease, file_writer, call_size(h))
    }

    /// Flushes and leaves the upload open for a later append.
    pub async fn close(&mut self) -> CallResult<()> {
        pinned!(self, "file-writer.close", file_writer, call_close())
    }

    /// Aborts the upload.
    pub async fn cancel(&mut self) -> CallResult<()> {
        pinned!(self, "file-writer.cancel", file_writer, call_cancel())
    }

    /// Makes the content visible.
    pub async fn commit(&mut self) -> CallResult<()> {
        pinned!(self, "file-writer.commit", file_writer, call_commit())
    }

    /// This writer as a `tokio::io::AsyncWrite` that sends 1 MiB at a time.
    /// `shutdown` closes (the upload stays resumable); call
    /// [`AsyncWriter::commit`] to make the content visible instead.
    pub fn into_async_write(self) -> AsyncWriter {
        AsyncWriter {
            idle: Some(self),
            busy: None,
            buffer: Vec::new(),
            closed: false,
        }
    }
}

type WriteFuture = Pin<Box<dyn Future<Output = (Writer, CallResult<()>)> + Send>>;

/// [`Writer`] as a `tokio::io::AsyncWrite`.
pub struct AsyncWriter {
    idle: Option<Writer>,
    busy: Option<WriteFuture>,
    buffer: Vec<u8>,
    closed: bool,
}

const ASYNC_WRITE_BATCH: usize = 1 << 20;

impl AsyncWriter {
    /// Finishes the write in flight (if any) and returns the error it had.
    fn poll_busy(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(fut) = self.busy.as_mut() {
            let (writer, result) = ready!(fut.as_mut().poll(cx));
            self.busy = None;
            self.idle = Some(writer);
            result.map_err(io::Error::other)?;
        }
        Poll::Ready(Ok(()))
    }

    fn start(&mut self, close: bool) -> io::Result<()> {
        let mut writer = self
            .idle
            .take()
            .ok_or_else(|| io::Error::other("the writer failed earlier"))?;
        let data = std::mem::take(&mut self.buffer);
        self.busy = Some(Box::pin(async move {
            let mut r = if data.is_empty() {
                Ok(())
            } else {
                writer.write(&data).await.map(drop)
            };
            if close && r.is_ok() {
                r = writer.close().await;
            }
            (writer, r)
        }));
        Ok(())
    }

    /// Sends what is buffered, then commits; the content becomes visible.
    pub async fn commit(mut self) -> CallResult<()> {
        let mut writer = self.drain_to_writer().await?;
        writer.commit().await
    }

    /// Sends what is buffered and gives back the [`Writer`].
    pub async fn into_writer(mut self) -> CallResult<Writer> {
        self.drain_to_writer().await
    }

    async fn drain_to_writer(&mut self) -> CallResult<Writer> {
        if let Some(fut) = self.busy.take() {
            let (writer, r) = fut.await;
            self.idle = Some(writer);
            r?;
        }
        let mut writer = self
            .idle
            .take()
            .ok_or_else(|| CallError::Host("the writer failed earlier".into()))?;
        let data = std::mem::take(&mut self.buffer);
        if !data.is_empty() {
            writer.write(&data).await?;
        }
        Ok(writer)
    }
}

impl AsyncWrite for AsyncWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.closed {
            return Poll::Ready(Err(io::Error::other("the writer is closed")));
        }
        if this.buffer.len() >= ASYNC_WRITE_BATCH {
            ready!(this.poll_busy(cx))?;
            this.start(false)?;
        }
        this.buffer.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_busy(cx))?;
        if !this.buffer.is_empty() {
            this.start(false)?;
            ready!(this.poll_busy(cx))?;
        }
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_busy(cx))?;
        if !this.closed {
            this.closed = true;
            this.start(true)?;
        }
        this.poll_busy(cx)
    }
}

/// A walk in progress.
pub struct Walker {
    lease: Lease,
    handle: ResourceAny,
    path: String,
}

impl fmt::Debug for Walker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Walker").field("path", &self.path).finish()
    }
}

impl Drop for Walker {
    fn drop(&mut self) {
        self.lease.release(self.handle);
    }
}

impl Walker {
    /// Up to `max` next entries; empty at the end.
    pub async fn next(&mut self, max: u32) -> CallResult<Vec<FileInfo>> {
        pinned!(self, "walker.next", walker, call_next(max))
    }

    /// Skips what is below `dir` and not returned yet.
    pub async fn skip_dir(&mut self, dir: &str) -> CallResult<()> {
        let h = self.handle;
        call!(&mut self.lease, walker, call_skip_dir(h, dir))
    }

    /// The rest of the walk as a stream of entries, fetched a page at a time.
    pub fn into_stream(self) -> impl Stream<Item = CallResult<FileInfo>> + Send {
        futures::stream::unfold(
            (Some(self), std::collections::VecDeque::new()),
            |(mut walker, mut page)| async move {
                loop {
                    if let Some(info) = page.pop_front() {
                        return Some((Ok(info), (walker, page)));
                    }
                    let w = walker.as_mut()?;
                    match w.next(1000).await {
                        Ok(next) if next.is_empty() => return None,
                        Ok(next) => page.extend(next),
                        Err(e) => return Some((Err(e), (None, page))),
                    }
                }
            },
        )
    }
}

/// A streamed file.
pub struct Reader {
    lease: Lease,
    handle: ResourceAny,
    path: String,
}

impl fmt::Debug for Reader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reader").field("path", &self.path).finish()
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.lease.release(self.handle);
    }
}

impl Reader {
    /// The version of the component this reader runs on.
    pub fn component_version(&self) -> Option<String> {
        self.lease.version().map(|v| v.version().to_owned())
    }

    /// Up to `max` next bytes; empty at the end.
    pub async fn read(&mut self, max: u32) -> CallResult<Vec<u8>> {
        let data = pinned!(self, "file-reader.read", file_reader, call_read(max))?;
        self.lease.shared.metrics.read(data.len());
        Ok(data)
    }

    /// Reads to the end.
    pub async fn read_to_end(&mut self) -> CallResult<Vec<u8>> {
        let mut out = Vec::new();
        loop {
            let chunk = self.read(1 << 20).await?;
            if chunk.is_empty() {
                return Ok(out);
            }
            out.extend_from_slice(&chunk);
        }
    }

    /// This reader as a `tokio::io::AsyncRead`.
    pub fn into_async_read(self) -> AsyncReader {
        AsyncReader {
            idle: Some(self),
            busy: None,
            chunk: Vec::new(),
            pos: 0,
            eof: false,
        }
    }
}

type ReadFuture = Pin<Box<dyn Future<Output = (Reader, CallResult<Vec<u8>>)> + Send>>;

/// [`Reader`] as a `tokio::io::AsyncRead`.
pub struct AsyncReader {
    idle: Option<Reader>,
    busy: Option<ReadFuture>,
    chunk: Vec<u8>,
    pos: usize,
    eof: bool,
}

impl AsyncRead for AsyncReader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.pos < this.chunk.len() {
                let n = out.remaining().min(this.chunk.len() - this.pos);
                out.put_slice(&this.chunk[this.pos..this.pos + n]);
                this.pos += n;
                return Poll::Ready(Ok(()));
            }
            if this.eof || out.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            if this.busy.is_none() {
                let mut reader = this
                    .idle
                    .take()
                    .ok_or_else(|| io::Error::other("the reader failed earlier"))?;
                let max = out.remaining().clamp(64 << 10, 4 << 20) as u32;
                this.busy = Some(Box::pin(async move {
                    let r = reader.read(max).await;
                    (reader, r)
                }));
            }
            let (reader, r) = ready!(this.busy.as_mut().expect("set above").as_mut().poll(cx));
            this.busy = None;
            match r {
                Ok(chunk) => {
                    this.idle = Some(reader);
                    this.eof = chunk.is_empty();
                    this.chunk = chunk;
                    this.pos = 0;
                }
                Err(e) => return Poll::Ready(Err(io::Error::other(e))),
            }
        }
    }
}
