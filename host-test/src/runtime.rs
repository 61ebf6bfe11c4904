//! Loading the component into wasmtime and giving it WASI with our HTTP policy.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
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

/// Per-store state: WASI, wasi-http and the driver's outgoing policy.
pub struct HostState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    policy: OutgoingPolicy,
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

/// A compiled component, ready to instantiate cheaply.
#[derive(Clone)]
pub struct Runtime {
    engine: Engine,
    pre: StorageDriverPre<HostState>,
}

impl Runtime {
    /// Compiles the component built with this crate.
    pub fn builtin() -> anyhow::Result<Self> {
        Self::from_file(Path::new(BUILT_COMPONENT))
    }

    /// Compiles a component file.
    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("reading the component {}", path.display()))?;
        Self::from_bytes(&bytes)
    }

    /// Compiles a component from its bytes and links WASI and wasi-http.
    pub fn from_bytes(bytes: &[u8]) -> anyhow::Result<Self> {
        let engine = Engine::new(&Config::new())?;
        let component = Component::new(&engine, bytes)
            .map_err(anyhow::Error::from)
            .context("compiling the component")?;
        let mut linker = Linker::<HostState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        let pre = StorageDriverPre::new(linker.instantiate_pre(&component)?)
            .map_err(anyhow::Error::from)
            .context("the component does not export registry:storage/driver@0.1.0")?;
        Ok(Self { engine, pre })
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// A fresh store and instance whose HTTP goes through `policy` and whose
    /// WASI world is what `grants` allows: environment variables, read-only
    /// directories, and optionally a pinned wall clock.
    pub async fn instantiate(
        &self,
        policy: OutgoingPolicy,
        grants: &Grants,
    ) -> anyhow::Result<(Store<HostState>, StorageDriver)> {
        let mut wasi = WasiCtx::builder();
        wasi.inherit_stderr();
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
        };
        let mut store = Store::new(&self.engine, state);
        let instance = self.pre.instantiate_async(&mut store).await?;
        Ok((store, instance))
    }
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
