//! What the host itself costs: compiling, loading from the precompiled cache,
//! hot-swapping, instantiating, and one warm call.

use std::path::Path;
use std::time::{Duration, Instant};

use s3_driver_host::{
    Allowlist, BUILT_COMPONENT, ComponentCache, ConfigValue, Driver, Grants, Limits, OpenOptions,
    OutgoingPolicy, Runtime,
};

use super::Table;

fn summary(mut v: Vec<Duration>) -> String {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let at = |q: f64| v[((v.len() - 1) as f64 * q) as usize];
    format!(
        "median {:.3} ms (min {:.3}, max {:.3}, n={})",
        ms(at(0.5)),
        ms(at(0.0)),
        ms(at(1.0)),
        v.len()
    )
}

/// `component` with a custom section appended: a different file (digest,
/// cache entry, compilation) with the same code, so swaps alternate between
/// two components without a second build.
fn with_custom_section(component: &[u8], name: &str, payload: &[u8]) -> Vec<u8> {
    fn leb128(mut n: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    let mut body = Vec::new();
    leb128(name.len(), &mut body);
    body.extend_from_slice(name.as_bytes());
    body.extend_from_slice(payload);
    let mut out = component.to_vec();
    out.push(0); // custom section id
    leb128(body.len(), &mut out);
    out.extend_from_slice(&body);
    out
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let started = Instant::now();
    let v = f();
    (v, started.elapsed())
}

/// Measures the host figures against a driver opened on `params`.
pub async fn run(params: &[(String, ConfigValue)], rounds: usize) -> anyhow::Result<Table> {
    let mut t = Table::new(&["host", "figure"]);
    let a = std::fs::read(BUILT_COMPONENT)?;
    let b = with_custom_section(&a, "s3-driver-bench", b"b");
    t.row(&["component size", &format!("{} bytes", a.len())]);

    let (runtime, compile) = timed(|| Runtime::from_bytes(&a));
    let runtime = runtime?;
    t.row(&[
        "compile with Cranelift (+ link, trial instance)",
        &format!("{:.1} ms", compile.as_secs_f64() * 1e3),
    ]);

    let dir = tempfile::tempdir()?;
    let path = Path::new(BUILT_COMPONENT);
    Runtime::from_file_cached(path, ComponentCache::new(dir.path()))?;
    let (cached, load) = timed(|| Runtime::from_file_cached(path, ComponentCache::new(dir.path())));
    let cached = cached?;
    t.row(&[
        "load from the precompiled cache (+ link, trial instance)",
        &format!("{:.1} ms", load.as_secs_f64() * 1e3),
    ]);
    // Precompile b once, then swap back and forth from the cache.
    cached.swap(&b)?;
    let mut swaps = Vec::new();
    let mut prepares = Vec::new();
    let mut switches = Vec::new();
    for i in 0..rounds.max(2) {
        let next = if i % 2 == 0 { &a } else { &b };
        let r = cached.swap(next)?;
        anyhow::ensure!(r.cache_hit, "swap {i} missed the cache");
        swaps.push(r.elapsed);
        let started = Instant::now();
        let prepared = cached.prepare(next)?;
        prepares.push(started.elapsed());
        switches.push(cached.activate(prepared).elapsed);
    }
    t.row(&[
        "hot swap from the precompiled cache (load, check, switch)",
        &summary(swaps),
    ]);
    t.row(&[
        "  of which load and check (calls keep flowing)",
        &summary(prepares),
    ]);
    t.row(&["  of which the switch new calls see", &summary(switches)]);

    let policy = OutgoingPolicy::new(Allowlist::any());
    let grants = Grants::default();
    let limits = Limits::default();
    let mut inst = Vec::new();
    for _ in 0..rounds {
        let started = Instant::now();
        let i = runtime
            .instantiate(
                policy.clone(),
                &grants,
                &limits,
                Default::default(),
                Default::default(),
            )
            .await?;
        inst.push(started.elapsed());
        drop(i);
    }
    t.row(&["instantiate (pooling allocator)", &summary(inst)]);

    let mut opens = Vec::new();
    let mut driver = None;
    for _ in 0..rounds {
        let started = Instant::now();
        let d = Driver::open(&runtime, OpenOptions::new(params).policy(policy.clone())).await?;
        opens.push(started.elapsed());
        driver = Some(d);
    }
    t.row(&["instantiate + open a driver", &summary(opens)]);

    let driver = driver.expect("rounds > 0");
    let mut calls = Vec::new();
    for _ in 0..rounds * 10 {
        let started = Instant::now();
        driver.name().await?;
        calls.push(started.elapsed());
    }
    t.row(&["warm call into a pooled instance (name)", &summary(calls)]);
    Ok(t)
}
