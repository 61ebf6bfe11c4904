//! Docker Distribution's S3 storage driver as a `wasm32-wasip2` component.
//!
//! This file is the edge: the `wit-bindgen` glue between the WIT types of
//! `wit/storage.wit` and the sans-IO core, and the core's [`Platform`] made
//! of WASI clocks, environment, files and stderr. `http` is the other edge
//! file, the only `wasi:http` user. The layers below, bottom first (a module
//! imports only modules of its own layer or lower ones):
//!
//! 1. base: `error` (with `classify`), `time`, `url`, `duration`, `file_info`,
//!    `digest`
//! 2. seams: `transport` (HTTP), `platform` (clock, env, files, log), `retry`
//! 3. protocol: `sign`, `config`, `path`, `s3`, `cloudfront`, `reader`
//! 4. `credentials`, then `client` (one bucket: sign, send, retry, read)
//! 5. `multipart`, `walk`, then `writer`
//! 6. `driver` (the storage-driver semantics), `requirements` (what a
//!    configuration needs from its host)

// Layer 1: base.
pub mod classify;
pub mod digest;
pub mod duration;
pub mod error;
pub mod file_info;
pub mod time;
pub mod url;
// Layer 2: seams.
pub mod platform;
pub mod retry;
pub mod transport;
// Layer 3: protocol pieces.
pub mod cloudfront;
pub mod config;
pub mod path;
pub mod reader;
pub mod s3;
pub mod sign;
// Layer 4.
pub mod client;
pub mod credentials;
// Layer 5.
pub mod multipart;
pub mod walk;
pub mod writer;
// Layer 6.
pub mod driver;
pub mod requirements;
// Edge.
pub mod http;
#[cfg(test)]
mod import_cycles;
#[cfg(test)]
mod layers;

use std::cell::RefCell;
use std::rc::Rc;

use crate::config::Value;
use crate::driver::S3Driver;
use crate::error::{BackendError, Error, NAME};
use crate::file_info::FileInfo;
use crate::http::{WasiBody, WasiHttp};
use crate::platform::{Claim, LogLevel, Platform};
use crate::reader::FileReader as CoreReader;
use crate::time::UtcDateTime;
use crate::walk::Walker;
use crate::writer::Writer;

mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "storage-driver",
        with: {
            "wasi:http/types@0.2.12": wasip2::http::types,
            "wasi:http/outgoing-handler@0.2.12": wasip2::http::outgoing_handler,
            "wasi:io/poll@0.2.12": wasip2::io::poll,
            "wasi:io/error@0.2.12": wasip2::io::error,
            "wasi:io/streams@0.2.12": wasip2::io::streams,
            "wasi:clocks/monotonic-clock@0.2.12": wasip2::clocks::monotonic_clock,
        },
    });
}

use bindings::exports::registry::storage::driver as wit_driver;
use bindings::exports::registry::storage::maintenance as wit_maintenance;
use bindings::exports::registry::storage::requirements as wit_requirements;
use bindings::registry::storage::types as wit;

struct Component;

impl wit_driver::Guest for Component {
    type Driver = DriverResource;
    type FileReader = ReaderResource;
    type FileWriter = WriterResource;
    type Walker = WalkerResource;

    fn version() -> String {
        driver::build_version()
    }
}

impl wit_maintenance::Guest for Component {
    fn list_uploads(
        d: wit_driver::DriverBorrow<'_>,
        path: String,
    ) -> Result<Vec<wit_maintenance::Upload>, wit::Error> {
        let d: &DriverResource = d.get();
        let uploads = d.0.uploads(&path).map_err(to_wit)?;
        Ok(uploads
            .into_iter()
            .map(|u| wit_maintenance::Upload {
                path: u.path,
                upload_id: u.upload_id,
                initiated: u.initiated.map(to_wit_time),
                parts: u.parts,
                bytes: u.bytes,
            })
            .collect())
    }

    fn abort_upload(
        d: wit_driver::DriverBorrow<'_>,
        path: String,
        upload_id: String,
    ) -> Result<(), wit::Error> {
        let d: &DriverResource = d.get();
        d.0.abort_upload(&path, &upload_id).map_err(to_wit)
    }
}

impl wit_requirements::Guest for Component {
    fn resolve(
        params: Vec<wit::Parameter>,
        middleware: Vec<wit::Middleware>,
        known: wit_requirements::Known,
    ) -> Result<wit_requirements::Needs, wit::Error> {
        let known = requirements::Known {
            variables: known.variables,
            files: known.files,
        };
        let n = requirements::needs(
            &from_wit_params(params),
            &from_wit_middleware(middleware),
            &known,
        )
        .map_err(to_wit)?;
        Ok(wit_requirements::Needs {
            origins: n
                .origins
                .into_iter()
                .map(|o| wit_requirements::Origin {
                    scheme: o.scheme.into(),
                    host: o.host,
                    port: o.port,
                    reason: o.reason.into(),
                })
                .collect(),
            variables: n
                .variables
                .into_iter()
                .map(|(name, reason)| wit_requirements::Variable {
                    name: name.into(),
                    reason: reason.into(),
                })
                .collect(),
            files: n
                .files
                .into_iter()
                .map(|f| wit_requirements::File {
                    path: f.path,
                    consulted: f.consulted,
                    reason: f.reason.into(),
                })
                .collect(),
            insecure_tls: n.insecure_tls,
        })
    }
}

fn from_wit_params(ps: Vec<wit::Parameter>) -> Vec<(String, Value)> {
    ps.into_iter()
        .map(|p| (p.key, from_wit_value(p.value)))
        .collect()
}

fn from_wit_middleware(ms: Vec<wit::Middleware>) -> Vec<(String, Vec<(String, Value)>)> {
    ms.into_iter()
        .map(|m| (m.name, from_wit_params(m.options)))
        .collect()
}

fn to_wit_time(t: UtcDateTime) -> wit::Timestamp {
    wit::Timestamp {
        seconds: t.seconds,
        nanoseconds: t.nanos,
    }
}

fn to_wit_backend(b: BackendError) -> wit::BackendError {
    wit::BackendError {
        driver: NAME.into(),
        operation: b.operation,
        code: b.code,
        message: b.message,
        status: b.status,
        request_id: b.request_id,
    }
}

fn to_wit(e: Error) -> wit::Error {
    let pe = |path: String| wit::PathError {
        driver: NAME.into(),
        path,
    };
    match e {
        Error::PathNotFound { path } => wit::Error::PathNotFound(pe(path)),
        Error::InvalidPath { path } => wit::Error::InvalidPath(pe(path)),
        Error::InvalidOffset { path, offset } => wit::Error::InvalidOffset(wit::OffsetError {
            driver: NAME.into(),
            path,
            offset,
        }),
        Error::UnsupportedMethod => wit::Error::UnsupportedMethod(NAME.into()),
        Error::InvalidConfig(m) => wit::Error::InvalidConfig(m),
        Error::AccessDenied(b) => wit::Error::AccessDenied(to_wit_backend(b)),
        Error::Throttled(b) => wit::Error::Throttled(to_wit_backend(b)),
        Error::Backend(b) => wit::Error::Backend(to_wit_backend(b)),
        Error::Network(n) => wit::Error::Network(n.message),
        Error::MalformedResponse(m) => wit::Error::MalformedResponse(m),
        Error::InvalidState(m) => wit::Error::InvalidState(m),
    }
}

fn from_wit_value(v: wit::ConfigValue) -> Value {
    match v {
        wit::ConfigValue::Text(s) => Value::Text(s),
        wit::ConfigValue::Boolean(b) => Value::Bool(b),
        wit::ConfigValue::Integer(i) => Value::Int(i),
        wit::ConfigValue::Float(x) => Value::Float(x),
        wit::ConfigValue::TextList(l) => Value::List(l),
    }
}

fn to_wit_info(i: FileInfo) -> wit::FileInfo {
    wit::FileInfo {
        path: i.path,
        size: i.size,
        mod_time: i.mod_time.map(to_wit_time),
        is_dir: i.is_dir,
    }
}

/// The core's platform in a component: WASI's wall and monotonic clocks,
/// the environment and preopened directories the host granted, the host's
/// `log` import and its `shared` values.
struct WasiPlatform;

impl Platform for WasiPlatform {
    fn now(&self) -> UtcDateTime {
        UtcDateTime::from_system_time(std::time::SystemTime::now())
    }

    fn sleep(&self, d: std::time::Duration) {
        let nanos = d.as_nanos().min(u64::MAX as u128) as u64;
        wasip2::clocks::monotonic_clock::subscribe_duration(nanos).block();
    }

    fn random_seed(&self) -> u64 {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        now ^ wasip2::clocks::monotonic_clock::now().rotate_left(17)
    }

    fn env(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }

    fn read_file(&self, path: &str) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }

    fn log(&self, level: LogLevel, message: &str) {
        use bindings::registry::storage::host;
        let level = match level {
            LogLevel::Warn => host::LogLevel::Warn,
            LogLevel::Debug => host::LogLevel::Debug,
        };
        host::log(level, message);
    }

    fn claim_shared(&self, key: &str, usable_until: i64) -> Claim {
        use bindings::registry::storage::shared::{self, ClaimResult};
        match shared::claim(key, usable_until) {
            ClaimResult::Ready(v) => Claim::Ready(v.data, v.expires),
            ClaimResult::Fetch => Claim::Fetch,
        }
    }

    fn publish_shared(&self, key: &str, data: &[u8], expires: i64) {
        use bindings::registry::storage::shared;
        shared::publish(
            key,
            &shared::SharedValue {
                data: data.to_vec(),
                expires,
            },
        );
    }

    fn release_shared(&self, key: &str) {
        bindings::registry::storage::shared::release(key);
    }

    fn body_hasher(&self) -> crate::digest::BodyHasher {
        sha256_by_host
    }
}

/// Bodies at least this long are hashed by the host: below it the call's
/// copy and crossing cost more than hashing in the guest saves.
const HOST_HASH_MIN: usize = 4096;

/// What one `update` hands the host: well under the 128 MiB wasmtime lets
/// one call copy, and small enough that the host's copy stays cheap.
const HOST_HASH_PIECE: usize = 8 << 20;

/// SHA-256 by the host's `digest` import for large bodies, by the guest
/// for small ones (and if a host answers with anything but 32 bytes).
fn sha256_by_host(data: &[u8]) -> [u8; 32] {
    if data.len() < HOST_HASH_MIN {
        return crate::digest::sha256_in_guest(data);
    }
    let hash = bindings::registry::storage::digest::Sha256::new();
    for piece in data.chunks(HOST_HASH_PIECE) {
        hash.update(piece);
    }
    hash.finish()
        .try_into()
        .unwrap_or_else(|_| crate::digest::sha256_in_guest(data))
}

/// The exported `driver` resource; readers, writers and walkers share it.
struct DriverResource(S3Driver<WasiHttp>);

impl wit_driver::GuestDriver for DriverResource {
    fn open(
        params: Vec<wit::Parameter>,
        middleware: Vec<wit::Middleware>,
    ) -> Result<wit_driver::Driver, wit::Error> {
        let d = S3Driver::open_with_middleware(
            &from_wit_params(params),
            &from_wit_middleware(middleware),
            WasiHttp::default(),
            Rc::new(WasiPlatform),
        )
        .map_err(to_wit)?;
        Ok(wit_driver::Driver::new(DriverResource(d)))
    }

    fn name(&self) -> String {
        NAME.into()
    }

    fn warnings(&self) -> Vec<String> {
        self.0.warnings().to_vec()
    }

    fn get_content(&self, path: String) -> Result<Vec<u8>, wit::Error> {
        self.0.get_content(&path).map_err(to_wit)
    }

    fn put_content(&self, path: String, content: Vec<u8>) -> Result<(), wit::Error> {
        self.0.put_content(&path, &content).map_err(to_wit)
    }

    fn reader(&self, path: String, offset: i64) -> Result<wit_driver::FileReader, wit::Error> {
        let r = self.0.reader(&path, offset).map_err(to_wit)?;
        Ok(wit_driver::FileReader::new(ReaderResource(RefCell::new(r))))
    }

    fn writer(&self, path: String, append: bool) -> Result<wit_driver::FileWriter, wit::Error> {
        let w = self.0.writer(&path, append).map_err(to_wit)?;
        Ok(wit_driver::FileWriter::new(WriterResource(RefCell::new(w))))
    }

    fn stat(&self, path: String) -> Result<wit::FileInfo, wit::Error> {
        self.0.stat(&path).map(to_wit_info).map_err(to_wit)
    }

    fn list(&self, path: String) -> Result<Vec<String>, wit::Error> {
        self.0.list(&path).map_err(to_wit)
    }

    fn move_(&self, source: String, destination: String) -> Result<(), wit::Error> {
        self.0.move_(&source, &destination).map_err(to_wit)
    }

    fn delete(&self, path: String) -> Result<(), wit::Error> {
        self.0.delete(&path).map_err(to_wit)
    }

    fn redirect_url(
        &self,
        request: wit::RedirectRequest,
        path: String,
    ) -> Result<Option<String>, wit::Error> {
        let request = driver::RedirectRequest {
            method: request.method,
            remote_addr: request.remote_addr,
            forwarded_for: request.forwarded_for,
            real_ip: request.real_ip,
        };
        self.0.redirect_url(&request, &path).map_err(to_wit)
    }

    fn walk(
        &self,
        from: String,
        start_after_hint: Option<String>,
    ) -> Result<wit_driver::Walker, wit::Error> {
        let w = self
            .0
            .walk(&from, start_after_hint.as_deref())
            .map_err(to_wit)?;
        Ok(wit_driver::Walker::new(WalkerResource(RefCell::new(w))))
    }
}

/// The exported `file-reader` resource.
struct ReaderResource(RefCell<CoreReader<WasiBody>>);

impl wit_driver::GuestFileReader for ReaderResource {
    fn read(&self, max_len: u32) -> Result<Vec<u8>, wit::Error> {
        self.0.borrow_mut().read(max_len as usize).map_err(to_wit)
    }
}

/// The exported `file-writer` resource.
struct WriterResource(RefCell<Writer<WasiHttp>>);

impl wit_driver::GuestFileWriter for WriterResource {
    fn write(&self, data: Vec<u8>) -> Result<u64, wit::Error> {
        self.0.borrow_mut().write(&data).map_err(to_wit)
    }
    fn size(&self) -> u64 {
        self.0.borrow().size()
    }
    fn close(&self) -> Result<(), wit::Error> {
        self.0.borrow_mut().close().map_err(to_wit)
    }
    fn cancel(&self) -> Result<(), wit::Error> {
        self.0.borrow_mut().cancel().map_err(to_wit)
    }
    fn commit(&self) -> Result<(), wit::Error> {
        self.0.borrow_mut().commit().map_err(to_wit)
    }
}

/// The exported `walker` resource.
struct WalkerResource(RefCell<Walker<WasiHttp>>);

impl wit_driver::GuestWalker for WalkerResource {
    fn next(&self, max_entries: u32) -> Result<Vec<wit::FileInfo>, wit::Error> {
        let entries = self
            .0
            .borrow_mut()
            .next(max_entries as usize)
            .map_err(to_wit)?;
        Ok(entries.into_iter().map(to_wit_info).collect())
    }
    fn skip_dir(&self, path: String) {
        self.0.borrow_mut().skip_dir(&path);
    }
}

// Exported symbols carry WIT names (`registry:storage/driver@0.1.0#...`) that
// only a wasm linker accepts; native builds exist for the core's unit tests.
#[cfg(target_arch = "wasm32")]
bindings::export!(Component with_types_in bindings);
