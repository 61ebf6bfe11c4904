//! The process-wide engine: pooling allocator, epoch interruption, and the
//! thread that advances the epoch.

use std::sync::OnceLock;
use std::time::Duration;

use anyhow::anyhow;
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, ProfilingStrategy,
};

/// How often the engine's epoch advances: a guest running its own code
/// yields to the executor this often, and a call's deadline is checked.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

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
    // Profiling: with S3_DRIVER_PERF_MAP set, compiled wasm functions are
    // named in /tmp/perf-<pid>.map, which `perf report` reads.
    if std::env::var_os("S3_DRIVER_PERF_MAP").is_some() {
        config.profiler(ProfilingStrategy::PerfMap);
    }
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
