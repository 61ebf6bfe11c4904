//! An opened driver as a Rust value: async methods that mirror the WIT
//! contract. Each call runs on an instance leased from the driver's pool
//! ([`pool`]); readers, writers and walkers keep theirs until dropped
//! ([`handles`], [`async_io`]). Failures are [`CallError`]s.

// `CallError` carries the WIT error by value so callers can match on it
// directly; its size is irrelevant next to a call into wasm.
#![allow(clippy::result_large_err)]

pub mod async_io;
pub mod error;
pub mod handles;
pub mod options;
pub(crate) mod pool;
pub mod requirements;
pub mod uploads;

use std::fmt;
use std::sync::Arc;

pub use async_io::{AsyncReader, AsyncWriter};
pub use error::{CallError, CallResult};
pub use handles::{Reader, WalkControl, Walker, Writer};
pub use options::OpenOptions;
pub use requirements::{Origin, Requirements};
pub use uploads::{PurgeAction, Purged};

use crate::metrics::Snapshot;
use crate::outgoing::{OutgoingPolicy, Stats};
use crate::runtime::Runtime;
use crate::{FileInfo, RedirectRequest};
use pool::{Lease, Shared, Use, call, driver_err, observed};

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
    /// Opens a driver as `options` say. Each version of the component says
    /// what the configuration needs (the WIT `requirements` export) before
    /// it serves, and gets exactly that: the origins it names, the offered
    /// variables it names, read-only access to the directories of the files
    /// it names. A version that names an origin the cap refuses is refused
    /// (`invalid-config`), at open and at a swap.
    pub async fn open(runtime: &Runtime, mut options: OpenOptions) -> CallResult<Driver> {
        let policy = options.take_policy();
        let limits = options.limits;
        let shared = Arc::new(
            Shared::open(
                runtime,
                &options.params,
                &options.middleware,
                policy,
                &options.grants,
                limits,
            )
            .await?,
        );
        pool::spawn_trimmer(Arc::downgrade(&shared), limits.idle_timeout);
        let gate: std::sync::Weak<dyn crate::runtime::Gate> = Arc::downgrade(&shared) as _;
        runtime.add_gate(gate);
        Ok(Driver { shared })
    }

    async fn lease(&self) -> CallResult<Lease> {
        self.shared.lease(Use::Call).await
    }

    /// An instance for a reader, writer or walker (see `Limits::max_handles`).
    async fn lease_handle(&self) -> CallResult<Lease> {
        self.shared.lease(Use::Handle).await
    }

    /// Warnings the driver reported when it opened (unknown parameters...).
    pub fn warnings(&self) -> &[String] {
        &self.shared.warnings
    }

    /// HTTP counters of this driver's policy.
    pub fn http_stats(&self) -> Stats {
        self.shared.policy.stats()
    }

    /// What the version serving new calls needs for this driver's
    /// configuration, as it said through `requirements`.
    pub async fn requirements(&self) -> CallResult<Requirements> {
        let version = self.shared.runtime.current();
        Ok(self.shared.granted_to(&version).await?.requirements.clone())
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
        s.log_lines = self.shared.log.counts();
        s.shared_values = self.shared.shared_values.stats();
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
            lease.in_call = true;
            let inst = &mut lease.slot().inst;
            let outcome = tokio::time::timeout(
                timeout,
                inst.bindings
                    .registry_storage_driver()
                    .call_version(&mut inst.store),
            )
            .await;
            lease.in_call = false;
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
            let mut lease = self.lease_handle().await?;
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
            let mut lease = self.lease_handle().await?;
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
            let mut lease = self.lease_handle().await?;
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
        self.try_walk_with(from, start_after_hint, |info| Ok(visit(info)))
            .await
    }

    /// [`Driver::walk_with`] with a visitor that may fail: its first error
    /// ends the walk and is returned as it is (the reference's walk
    /// function returning an error). Driver errors become `E` by `From`.
    pub async fn try_walk_with<E: From<CallError>>(
        &self,
        from: &str,
        start_after_hint: Option<&str>,
        mut visit: impl FnMut(&FileInfo) -> Result<WalkControl, E>,
    ) -> Result<(), E> {
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
                match visit(info)? {
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
