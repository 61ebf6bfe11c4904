//! The instances of one driver: a pool of instances of the current version,
//! each with the driver opened in it, leased one call (or one reader,
//! writer or walker) at a time. An instance that traps, times out or hits
//! its memory cap is discarded; the others keep serving.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::Instrument as _;
use wasmtime::component::ResourceAny;

use super::error::{CallError, CallResult};
use super::requirements::Requirements;
use crate::bindings::registry::storage::types;
use crate::guest_log::GuestLog;
use crate::metrics::Metrics;
use crate::outgoing::{Allowlist, OutgoingPolicy};
use crate::runtime::Instance;
use crate::runtime::store::arm_deadline;
use crate::runtime::{Gate, Grants, Limits, Runtime, Version};
use crate::shared_values::SharedValues;
use crate::{ConfigValue, Middleware};

/// An instance with the guest's opened `driver` resource.
pub(crate) struct Slot {
    pub(crate) inst: Instance,
    pub(crate) handle: ResourceAny,
    /// Guest resources whose Rust handles were dropped; released on the
    /// instance's next use (dropping one runs guest code, which is async).
    to_drop: Vec<ResourceAny>,
    /// When it last went back to the pool.
    idle_since: Instant,
}

/// Everything the clones of one driver share.
pub(crate) struct Shared {
    pub(crate) runtime: Runtime,
    params: Vec<types::Parameter>,
    middleware: Vec<Middleware>,
    /// The embedder's policy: the cap on egress, and the connection pool.
    pub(crate) policy: OutgoingPolicy,
    /// What the embedder offers: variables and directories.
    offered: Grants,
    /// What each version was granted, by generation, asked before the
    /// version's first instance of this driver.
    granted: Mutex<HashMap<u64, Arc<Granted>>>,
    pub(crate) limits: Limits,
    pub(crate) idle: Mutex<Vec<Slot>>,
    /// One per instance that may run (`max_instances`).
    permits: Arc<Semaphore>,
    /// One per instance a reader, writer or walker may hold (`max_handles`).
    handle_permits: Arc<Semaphore>,
    pub(crate) warnings: Vec<String>,
    pub(crate) metrics: Metrics,
    /// The log every instance of this driver writes to.
    pub(crate) log: GuestLog,
    /// What its instances fetch once for all of them.
    pub(crate) shared_values: SharedValues,
}

/// What an instance is leased for, and so which permits it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Use {
    /// One call, returned as soon as it ends.
    Call,
    /// A reader, writer or walker, kept between calls for as long as its
    /// caller likes: bounded by `max_handles` apart from the short calls.
    Handle,
}

/// An instance checked out of the pool. Dropping it returns the instance,
/// unless it was poisoned, its version has been swapped out, or a call into
/// it was abandoned half way (its future dropped: the instance cannot be
/// entered again).
pub(crate) struct Lease {
    slot: Option<Slot>,
    pub(crate) shared: Arc<Shared>,
    /// A call into the instance has started and not come back.
    pub(crate) in_call: bool,
    _permit: OwnedSemaphorePermit,
    _handle_permit: Option<OwnedSemaphorePermit>,
}

impl Lease {
    pub(crate) fn slot(&mut self) -> &mut Slot {
        self.slot
            .as_mut()
            .expect("a lease keeps its instance until it fails")
    }

    pub(crate) fn handle(&mut self) -> ResourceAny {
        self.slot().handle
    }

    pub(crate) fn version(&self) -> Option<&Arc<Version>> {
        self.slot.as_ref().map(|s| &s.inst.version)
    }

    /// Maps the outcome of a call into the instance; any host-level failure
    /// discards the instance.
    pub(crate) fn settle<T>(
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
                        // A host call refused the guest (too much data for
                        // one call, a stale handle): its reason, without the
                        // wasm backtrace around it.
                        None if e.downcast_ref::<wasmtime::WasmBacktrace>().is_some() => {
                            CallError::host(format!("a host call failed: {}", e.root_cause()))
                        }
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
    pub(crate) fn release(&mut self, handle: ResourceAny) {
        if let Some(slot) = self.slot.as_mut() {
            slot.to_drop.push(handle);
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let Some(mut slot) = self.slot.take() else {
            return;
        };
        if self.in_call {
            // The caller went away in the middle of a call (a client that
            // hung up, a timeout around the call): the instance is stuck
            // inside it, and entering it again would trap.
            tracing::debug!("discarding a storage-driver instance left in a call");
            self.shared.metrics.instance_discarded();
        } else if Arc::ptr_eq(&slot.inst.version, &self.shared.runtime.current()) {
            slot.idle_since = Instant::now();
            self.shared.idle.lock().unwrap().push(slot);
        }
    }
}

/// Calls one export on a lease's instance under the call deadline:
/// `call!(lease, file_reader, call_read(handle, max))` for the `driver`
/// interface's resources, `call!(lease, maintenance, call_list_uploads(h, p))`
/// for the `maintenance` interface.
macro_rules! call {
    ($lease:expr, maintenance, $method:ident($($arg:expr),* $(,)?)) => {
        $crate::driver::pool::call!(@on $lease, [registry_storage_maintenance], $method($($arg),*))
    };
    ($lease:expr, $iface:ident, $method:ident($($arg:expr),* $(,)?)) => {
        $crate::driver::pool::call!(@on $lease, [registry_storage_driver, $iface], $method($($arg),*))
    };
    (@on $lease:expr, [$($accessor:ident),+], $method:ident($($arg:expr),* $(,)?)) => {{
        let lease: &mut $crate::driver::pool::Lease = $lease;
        let timeout = lease.shared.limits.call_timeout;
        lease.in_call = true;
        let slot = lease.slot();
        $crate::runtime::store::arm_deadline(&mut slot.inst.store, timeout);
        let inst = &mut slot.inst;
        let outcome = tokio::time::timeout(
            timeout,
            inst.bindings
                $(.$accessor())+
                .$method(&mut inst.store, $($arg),*),
        )
        .await;
        lease.in_call = false;
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
        $crate::driver::pool::observed(&shared.metrics, $op, &$self.path, async move {
            $crate::driver::pool::driver_err($crate::driver::pool::call!(
                lease,
                $iface,
                $method(handle $(, $arg)*)
            )?)
        })
        .await
    }};
}

pub(crate) use call;
pub(crate) use pinned;

/// The component's own error as a call error.
pub(crate) fn driver_err<T>(r: Result<T, types::Error>) -> CallResult<T> {
    r.map_err(CallError::Driver)
}

/// Times a call, records its outcome and wraps it in a tracing span.
pub(crate) async fn observed<T>(
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

/// What one version may do for this driver.
pub(crate) struct Granted {
    pub(crate) requirements: Requirements,
    policy: OutgoingPolicy,
    grants: Grants,
}

impl Gate for Shared {
    fn admit(&self, runtime: &Runtime, version: &Arc<Version>) -> Result<(), String> {
        let asked = futures::executor::block_on(async {
            let mut asking = runtime
                .instantiate_bare(
                    version.clone(),
                    self.policy.granting(Allowlist::new()),
                    &self.limits,
                )
                .await
                .map_err(CallError::host)?;
            Requirements::resolve(&mut asking, &self.params, &self.middleware, &self.offered).await
        });
        asked
            .and_then(|r| self.grant(version, r))
            .map(drop)
            .map_err(|e| e.to_string())
    }
}

/// A new instance of the current version with the driver opened in it,
/// under what that version was granted.
async fn new_slot(shared: &Shared) -> CallResult<Slot> {
    let version = shared.runtime.current();
    let granted = shared.granted_to(&version).await?;
    let mut inst = shared
        .runtime
        .instantiate_version(
            version,
            granted.policy.clone(),
            &granted.grants,
            &shared.limits,
            shared.log.clone(),
            shared.shared_values.clone(),
        )
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
        idle_since: Instant::now(),
    })
}

impl Shared {
    /// Opens the driver in a first instance, which validates the
    /// configuration and stays in the pool.
    pub(crate) async fn open(
        runtime: &Runtime,
        params: &[(String, ConfigValue)],
        middleware: &[Middleware],
        policy: OutgoingPolicy,
        grants: &Grants,
        limits: Limits,
    ) -> CallResult<Shared> {
        let mut shared = Shared {
            runtime: runtime.clone(),
            params: params
                .iter()
                .map(|(k, v)| types::Parameter {
                    key: k.clone(),
                    value: v.clone(),
                })
                .collect(),
            middleware: middleware.to_vec(),
            policy,
            offered: grants.clone(),
            granted: Mutex::new(HashMap::new()),
            limits,
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(limits.max_instances.max(1))),
            handle_permits: Arc::new(Semaphore::new(
                limits.max_handles.clamp(1, limits.max_instances.max(1)),
            )),
            warnings: Vec::new(),
            metrics: Metrics::default(),
            log: GuestLog::default(),
            shared_values: SharedValues::default(),
        };
        // The pool skips certificate checks only when the first version says
        // the configuration does (`skipverify`); it is built before any
        // request. A later version cannot widen that: its requests verify.
        let version = shared.runtime.current();
        if shared.granted_to(&version).await?.requirements.insecure_tls
            && !shared.policy.skips_tls_verification()
        {
            shared.policy = shared.policy.insecure();
            shared.granted.get_mut().unwrap().clear();
        }
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
        let iface = first.inst.bindings.registry_storage_driver().driver();
        let named = iface.call_name(&mut first.inst.store, first.handle);
        match tokio::time::timeout(limits.call_timeout, named).await {
            Ok(Ok(name)) => shared.log.name_driver(name),
            Ok(Err(e)) => return Err(CallError::host(e)),
            Err(_) => return Err(CallError::Timeout(limits.call_timeout)),
        }
        shared.idle.get_mut().unwrap().push(first);
        Ok(shared)
    }

    /// What `version` is granted for this driver: asked of it once, through
    /// an instance with no grants, and checked against the embedder's cap.
    pub(crate) async fn granted_to(&self, version: &Arc<Version>) -> CallResult<Arc<Granted>> {
        if let Some(g) = self.granted.lock().unwrap().get(&version.generation()) {
            return Ok(g.clone());
        }
        let mut asking = self
            .runtime
            .instantiate_version(
                version.clone(),
                self.policy.granting(Allowlist::new()),
                &Grants::default(),
                &self.limits,
                self.log.clone(),
                SharedValues::default(),
            )
            .await
            .map_err(CallError::host)?;
        let requirements = tokio::time::timeout(
            self.limits.call_timeout,
            Requirements::resolve(&mut asking, &self.params, &self.middleware, &self.offered),
        )
        .await
        .map_err(|_| CallError::Timeout(self.limits.call_timeout))??;
        self.grant(version, requirements)
    }

    /// Records what `version` is granted once its requirements pass the
    /// cap; forgets versions older than the current one (their instances
    /// already hold their grants).
    fn grant(&self, version: &Version, requirements: Requirements) -> CallResult<Arc<Granted>> {
        requirements.check(&self.policy)?;
        let granted = Arc::new(Granted {
            policy: self.policy.granting(requirements.allowlist()),
            grants: requirements.grants(&self.offered),
            requirements,
        });
        let current = self.runtime.current().generation();
        let mut map = self.granted.lock().unwrap();
        map.retain(|g, _| *g >= current);
        map.insert(version.generation(), granted.clone());
        Ok(granted)
    }

    /// Takes an instance of the current version from the pool, or makes one;
    /// waits at most `queue_timeout` for the permits `what` needs.
    pub(crate) async fn lease(self: &Arc<Self>, what: Use) -> CallResult<Lease> {
        let deadline = tokio::time::Instant::now() + self.limits.queue_timeout;
        let handle_permit = match what {
            Use::Call => None,
            Use::Handle => Some(self.permit(&self.handle_permits, deadline).await?),
        };
        let permit = self.permit(&self.permits, deadline).await?;
        let current = self.runtime.current();
        let (reused, stale) = {
            let mut idle = self.idle.lock().unwrap();
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
            None => new_slot(self).await?,
        };
        // The drops run guest code: under a fresh deadline, not the one left
        // from the instance's last call (long past if it sat idle).
        arm_deadline(&mut slot.inst.store, self.limits.call_timeout);
        let mut clean = true;
        for h in std::mem::take(&mut slot.to_drop) {
            clean &= h.resource_drop_async(&mut slot.inst.store).await.is_ok();
        }
        if !clean {
            self.metrics.instance_discarded();
            slot = new_slot(self).await?;
        }
        Ok(Lease {
            slot: Some(slot),
            shared: self.clone(),
            in_call: false,
            _permit: permit,
            _handle_permit: handle_permit,
        })
    }

    /// One permit of `from`, or `Overloaded` at `deadline`.
    async fn permit(
        &self,
        from: &Arc<Semaphore>,
        deadline: tokio::time::Instant,
    ) -> CallResult<OwnedSemaphorePermit> {
        match tokio::time::timeout_at(deadline, from.clone().acquire_owned()).await {
            Ok(p) => Ok(p.expect("the semaphore is never closed")),
            Err(_) => {
                self.metrics.overloaded();
                Err(CallError::Overloaded(self.limits.queue_timeout))
            }
        }
    }

    /// Frees the instances idle for longer than `idle_timeout` but the most
    /// recently used one; returns how many went.
    pub(crate) fn trim_idle(&self) -> usize {
        let cutoff = Instant::now().checked_sub(self.limits.idle_timeout);
        let gone: Vec<Slot> = {
            let mut idle = self.idle.lock().unwrap();
            let Some(cutoff) = cutoff else {
                return 0;
            };
            let newest = idle
                .iter()
                .enumerate()
                .max_by_key(|(_, s)| s.idle_since)
                .map(|(i, _)| i);
            let mut i = 0;
            idle.extract_if(.., |s| {
                let old = Some(i) != newest && s.idle_since < cutoff;
                i += 1;
                old
            })
            .collect()
        };
        let n = gone.len();
        if n > 0 {
            self.metrics.instances_trimmed(n);
        }
        // Freed outside the lock: each returns its memory to the engine.
        drop(gone);
        if n > 0 {
            give_back_free_heap();
        }
        n
    }
}

/// Returns the allocator's free heap pages to the system. After a burst the
/// host's request buffers are free but glibc keeps their pages resident (a
/// minute after 100 concurrent 20 MiB pushes: 320 MiB against 128 idle).
fn give_back_free_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases pages malloc holds free.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Trims `shared`'s idle instances every half `idle_timeout` until the
/// driver is dropped.
pub(crate) fn spawn_trimmer(shared: Weak<Shared>, idle_timeout: Duration) {
    let every = (idle_timeout / 2).max(Duration::from_millis(50));
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let Some(shared) = shared.upgrade() else {
                return;
            };
            shared.trim_idle();
        }
    });
}
