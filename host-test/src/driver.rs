//! An opened driver as a Rust value: async methods that mirror the WIT
//! contract, each one a call into the component's instance.

// `CallError` carries the WIT error by value so callers can match on it
// directly; its size is irrelevant next to a call into wasm.
#![allow(clippy::result_large_err)]

use std::fmt;
use std::sync::Arc;

use tokio::sync::Mutex;
use wasmtime::Store;
use wasmtime::component::ResourceAny;

use crate::policy::{OutgoingPolicy, Stats};
use crate::runtime::bindings::registry::storage::types;
use crate::runtime::{Grants, HostState, Runtime, StorageDriver};
use crate::{ConfigValue, FileInfo, Middleware, RedirectRequest};

/// A driver call's failure: the driver's typed error, or the instance broke.
#[derive(Debug, Clone)]
pub enum CallError {
    /// The driver's own error (the WIT `error` variant).
    Driver(types::Error),
    /// The component trapped or the host failed; the message has no host paths.
    Host(String),
}

impl CallError {
    fn host(e: impl fmt::Display) -> Self {
        // Only the top-level message: the chain may hold paths and backtraces.
        CallError::Host(e.to_string())
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

fn flatten<T>(r: wasmtime::Result<Result<T, types::Error>>) -> CallResult<T> {
    match r {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(CallError::Driver(e)),
        Err(e) => Err(CallError::host(e)),
    }
}

struct Instance {
    store: Store<HostState>,
    bindings: StorageDriver,
}

/// Locks the instance and calls one export of `registry:storage/driver`:
/// `call!(self.inner, file_reader, call_read(self.handle, max))`.
macro_rules! call {
    ($inner:expr, $iface:ident, $method:ident($($arg:expr),* $(,)?)) => {{
        let mut guard = $inner.lock().await;
        let Instance { store, bindings } = &mut *guard;
        bindings
            .registry_storage_driver()
            .$iface()
            .$method(&mut *store, $($arg),*)
            .await
    }};
}

/// An opened storage driver. Calls are serialised on one instance; readers
/// share it.
#[derive(Clone)]
pub struct Driver {
    inner: Arc<Mutex<Instance>>,
    /// The guest's `driver` resource (a copyable handle into the instance).
    handle: ResourceAny,
    policy: OutgoingPolicy,
    warnings: Vec<String>,
}

impl Driver {
    /// Instantiates the component and opens a driver with `params`. Its HTTP
    /// goes through `policy`; its environment (for the AWS credential
    /// variables) holds `env` only.
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
    /// A CloudFront `privatekey` given as a path gets its directory granted
    /// read-only, so the guest can read it through `wasi:filesystem`.
    pub async fn open_with(
        runtime: &Runtime,
        params: &[(String, ConfigValue)],
        middleware: &[Middleware],
        policy: OutgoingPolicy,
        grants: &Grants,
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
        // The web-identity token file is read by the guest.
        if let Some((_, file)) = grants
            .env
            .iter()
            .find(|(k, _)| k == "AWS_WEB_IDENTITY_TOKEN_FILE")
            && let Some(dir) = std::path::Path::new(file).parent()
            && dir.is_absolute()
        {
            grants.read_only_dirs.push(dir.to_path_buf());
        }
        let (mut store, bindings) = runtime
            .instantiate(policy.clone(), &grants)
            .await
            .map_err(CallError::host)?;
        let wit_params: Vec<types::Parameter> = params
            .iter()
            .map(|(k, v)| types::Parameter {
                key: k.clone(),
                value: v.clone(),
            })
            .collect();
        let api = bindings.registry_storage_driver().driver();
        let handle = flatten(api.call_open(&mut store, &wit_params, middleware).await)?;
        let warnings = api
            .call_warnings(&mut store, handle)
            .await
            .map_err(CallError::host)?;
        Ok(Driver {
            inner: Arc::new(Mutex::new(Instance { store, bindings })),
            handle,
            policy,
            warnings,
        })
    }

    /// Warnings the driver reported when it opened (unknown parameters...).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// HTTP counters of this driver's policy.
    pub fn http_stats(&self) -> Stats {
        self.policy.stats()
    }

    /// The driver's name (`s3aws`).
    pub async fn name(&self) -> CallResult<String> {
        call!(self.inner, driver, call_name(self.handle)).map_err(CallError::host)
    }

    /// The whole content of a file.
    pub async fn get_content(&self, path: &str) -> CallResult<Vec<u8>> {
        flatten(call!(
            self.inner,
            driver,
            call_get_content(self.handle, path)
        ))
    }

    /// Stores `content` at `path`.
    pub async fn put_content(&self, path: &str, content: &[u8]) -> CallResult<()> {
        flatten(call!(
            self.inner,
            driver,
            call_put_content(self.handle, path, content)
        ))
    }

    /// A reader from `offset`.
    pub async fn reader(&self, path: &str, offset: i64) -> CallResult<Reader> {
        let r = flatten(call!(
            self.inner,
            driver,
            call_reader(self.handle, path, offset)
        ))?;
        Ok(Reader {
            inner: self.inner.clone(),
            handle: r,
        })
    }

    /// A writer; with `append` it resumes the path's open upload.
    pub async fn writer(&self, path: &str, append: bool) -> CallResult<Writer> {
        let w = flatten(call!(
            self.inner,
            driver,
            call_writer(self.handle, path, append)
        ))?;
        Ok(Writer {
            inner: self.inner.clone(),
            handle: w,
        })
    }

    /// Size, time and kind of `path`.
    pub async fn stat(&self, path: &str) -> CallResult<FileInfo> {
        flatten(call!(self.inner, driver, call_stat(self.handle, path)))
    }

    /// Direct children of a directory.
    pub async fn list(&self, path: &str) -> CallResult<Vec<String>> {
        flatten(call!(self.inner, driver, call_list(self.handle, path)))
    }

    /// Moves `source` to `destination`.
    pub async fn move_(&self, source: &str, destination: &str) -> CallResult<()> {
        flatten(call!(
            self.inner,
            driver,
            call_move(self.handle, source, destination)
        ))
    }

    /// Deletes `path` recursively.
    pub async fn delete(&self, path: &str) -> CallResult<()> {
        flatten(call!(self.inner, driver, call_delete(self.handle, path)))
    }

    /// A redirect URL for a client's request, if any.
    pub async fn redirect_url(
        &self,
        request: &RedirectRequest,
        path: &str,
    ) -> CallResult<Option<String>> {
        flatten(call!(
            self.inner,
            driver,
            call_redirect_url(self.handle, request, path)
        ))
    }

    /// A walk of everything below `from`, after `start_after_hint` if given.
    pub async fn walk(&self, from: &str, start_after_hint: Option<&str>) -> CallResult<Walker> {
        let w = flatten(call!(
            self.inner,
            driver,
            call_walk(self.handle, from, start_after_hint)
        ))?;
        Ok(Walker {
            inner: self.inner.clone(),
            handle: w,
        })
    }

    /// Every entry of a walk (no skipping), for tests and the CLI.
    pub async fn walk_all(
        &self,
        from: &str,
        start_after_hint: Option<&str>,
    ) -> CallResult<Vec<FileInfo>> {
        let mut w = self.walk(from, start_after_hint).await?;
        let mut out = Vec::new();
        loop {
            let page = w.next(1000).await?;
            if page.is_empty() {
                return Ok(out);
            }
            out.extend(page);
        }
    }
}

/// A writer whose data becomes visible on [`Writer::commit`].
pub struct Writer {
    inner: Arc<Mutex<Instance>>,
    handle: ResourceAny,
}

impl fmt::Debug for Writer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Writer(..)")
    }
}

impl Writer {
    /// Appends `data`.
    pub async fn write(&mut self, data: &[u8]) -> CallResult<u64> {
        flatten(call!(
            self.inner,
            file_writer,
            call_write(self.handle, data)
        ))
    }

    /// Bytes uploaded so far (the buffered tail counts after close/commit).
    pub async fn size(&self) -> CallResult<u64> {
        call!(self.inner, file_writer, call_size(self.handle)).map_err(CallError::host)
    }

    /// Flushes and leaves the upload open for a later append.
    pub async fn close(&mut self) -> CallResult<()> {
        flatten(call!(self.inner, file_writer, call_close(self.handle)))
    }

    /// Aborts the upload.
    pub async fn cancel(&mut self) -> CallResult<()> {
        flatten(call!(self.inner, file_writer, call_cancel(self.handle)))
    }

    /// Makes the content visible.
    pub async fn commit(&mut self) -> CallResult<()> {
        flatten(call!(self.inner, file_writer, call_commit(self.handle)))
    }
}

/// A walk in progress.
pub struct Walker {
    inner: Arc<Mutex<Instance>>,
    handle: ResourceAny,
}

impl fmt::Debug for Walker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Walker(..)")
    }
}

impl Walker {
    /// Up to `max` next entries; empty at the end.
    pub async fn next(&mut self, max: u32) -> CallResult<Vec<FileInfo>> {
        flatten(call!(self.inner, walker, call_next(self.handle, max)))
    }

    /// Skips what is below `dir` and not returned yet.
    pub async fn skip_dir(&mut self, dir: &str) -> CallResult<()> {
        call!(self.inner, walker, call_skip_dir(self.handle, dir)).map_err(CallError::host)
    }
}

/// A streamed file.
pub struct Reader {
    inner: Arc<Mutex<Instance>>,
    handle: ResourceAny,
}

impl fmt::Debug for Reader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Reader(..)")
    }
}

impl Reader {
    /// Up to `max` next bytes; empty at the end.
    pub async fn read(&mut self, max: u32) -> CallResult<Vec<u8>> {
        flatten(call!(self.inner, file_reader, call_read(self.handle, max)))
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
}
