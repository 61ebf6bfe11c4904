//! The precompiled-component cache: serialized components on disk, so a
//! restart skips Cranelift.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::Context as _;
use wasmtime::Engine;
use wasmtime::component::Component;

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
    pub(crate) fn load(
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
pub(crate) fn prune(dir: &Path, keep: usize) -> std::io::Result<usize> {
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

pub(crate) fn compile(engine: &Engine, bytes: &[u8]) -> anyhow::Result<Component> {
    Component::new(engine, bytes)
        .map_err(anyhow::Error::from)
        .context("compiling the component")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
