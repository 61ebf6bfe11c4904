//! Per-key locks for the embedded server. S3 replaces an object atomically,
//! but s3s-fs copies into the destination file in place (`fs::copy`), so a
//! HEAD or GET racing a CopyObject (the registry's move of a blob that
//! several pushes publish at once) could read a half-written file. Writes of
//! a key wait for its readers and each other; keys share a fixed set of
//! stripes, taken in order, so no two requests can wait on each other.

use std::hash::{BuildHasher as _, Hasher as _};

use tokio::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

const STRIPES: usize = 64;

/// The locks of every key of a server.
pub(crate) struct KeyLocks {
    stripes: Vec<RwLock<()>>,
    hasher: std::collections::hash_map::RandomState,
}

impl KeyLocks {
    pub(crate) fn new() -> Self {
        Self {
            stripes: (0..STRIPES).map(|_| RwLock::new(())).collect(),
            hasher: std::collections::hash_map::RandomState::new(),
        }
    }

    fn stripe(&self, bucket: &str, key: &str) -> usize {
        let mut h = self.hasher.build_hasher();
        h.write(bucket.as_bytes());
        h.write_u8(0);
        h.write(key.as_bytes());
        (h.finish() % STRIPES as u64) as usize
    }

    /// Held while a key is read.
    pub(crate) async fn read(&self, bucket: &str, key: &str) -> RwLockReadGuard<'_, ()> {
        self.stripes[self.stripe(bucket, key)].read().await
    }

    /// Held while a key is written.
    pub(crate) async fn write(&self, bucket: &str, key: &str) -> RwLockWriteGuard<'_, ()> {
        self.stripes[self.stripe(bucket, key)].write().await
    }

    /// Held while several keys are written (stripes taken in order).
    pub(crate) async fn write_all<'a>(
        &self,
        bucket: &str,
        keys: impl Iterator<Item = &'a str>,
    ) -> Vec<RwLockWriteGuard<'_, ()>> {
        let mut stripes: Vec<usize> = keys.map(|k| self.stripe(bucket, k)).collect();
        stripes.sort_unstable();
        stripes.dedup();
        let mut guards = Vec::with_capacity(stripes.len());
        for s in stripes {
            guards.push(self.stripes[s].write().await);
        }
        guards
    }
}
