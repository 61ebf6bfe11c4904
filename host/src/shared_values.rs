//! The WIT `shared` import: values one instance of a driver fetches for all
//! of them (temporary credentials, the CloudFront IP ranges). One table per
//! opened driver; one fetch at a time per key, the other instances waiting
//! for its outcome. Values are opaque here and may be secret: nothing in
//! this file logs or prints them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use crate::bindings::registry::storage::shared::{ClaimResult, SharedValue};

/// Longest an instance waits for another's fetch before fetching itself
/// (the fetcher's own call timeout normally ends it sooner: a discarded
/// instance releases what it held).
const WAIT_LIMIT: Duration = Duration::from_secs(60);

/// The shared values of one driver; clones share the table.
#[derive(Clone, Default)]
pub struct SharedValues {
    table: Arc<Mutex<HashMap<String, Entry>>>,
    counts: Arc<ShareCounts>,
}

/// How the instances' claims were answered.
#[derive(Default)]
struct ShareCounts {
    ready: AtomicU64,
    fetch: AtomicU64,
    waited: AtomicU64,
}

/// Claims answered so far, by outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ShareStats {
    /// Claims answered with a stored value.
    pub ready: u64,
    /// Claims answered with the duty to fetch.
    pub fetch: u64,
    /// Claims that waited for another instance's fetch.
    pub waited: u64,
}

impl std::fmt::Debug for SharedValues {
    // Keys only: the values may be credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let table = self.table.lock().unwrap();
        f.debug_struct("SharedValues")
            .field("keys", &table.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// One key's state.
struct Entry {
    value: Option<SharedValue>,
    /// The instance fetching it now, if any.
    fetcher: Option<u64>,
    /// Fetches given up so far: a waiter that sees this change fetches on
    /// its own rather than queueing behind a failing source.
    releases: u64,
    /// Bumped at every publish and release; waiters watch it.
    changed: watch::Sender<u64>,
}

impl Default for Entry {
    fn default() -> Self {
        Self {
            value: None,
            fetcher: None,
            releases: 0,
            changed: watch::channel(0).0,
        }
    }
}

impl SharedValues {
    /// How the claims were answered so far.
    pub fn stats(&self) -> ShareStats {
        ShareStats {
            ready: self.counts.ready.load(Ordering::Relaxed),
            fetch: self.counts.fetch.load(Ordering::Relaxed),
            waited: self.counts.waited.load(Ordering::Relaxed),
        }
    }

    /// The value of `key` if it expires after `usable_until`; else the duty
    /// to fetch it, after waiting for an instance already fetching it.
    async fn claim(&self, instance: u64, key: &str, usable_until: i64) -> ClaimResult {
        let deadline = tokio::time::Instant::now() + WAIT_LIMIT;
        let mut releases_seen = None;
        loop {
            let mut changed = {
                let mut table = self.table.lock().unwrap();
                let e = table.entry(key.to_owned()).or_default();
                if let Some(v) = &e.value
                    && v.expires > usable_until
                {
                    self.counts.ready.fetch_add(1, Ordering::Relaxed);
                    return ClaimResult::Ready(v.clone());
                }
                let releases = *releases_seen.get_or_insert(e.releases);
                if e.fetcher.is_none_or(|f| f == instance) {
                    e.fetcher = Some(instance);
                    self.counts.fetch.fetch_add(1, Ordering::Relaxed);
                    return ClaimResult::Fetch;
                }
                if e.releases != releases {
                    self.counts.fetch.fetch_add(1, Ordering::Relaxed);
                    return ClaimResult::Fetch;
                }
                e.changed.subscribe()
            };
            self.counts.waited.fetch_add(1, Ordering::Relaxed);
            if tokio::time::timeout_at(deadline, changed.changed())
                .await
                .is_err()
            {
                self.counts.fetch.fetch_add(1, Ordering::Relaxed);
                return ClaimResult::Fetch;
            }
        }
    }

    fn publish(&self, instance: u64, key: &str, value: SharedValue) {
        let mut table = self.table.lock().unwrap();
        let e = table.entry(key.to_owned()).or_default();
        e.value = Some(value);
        if e.fetcher == Some(instance) {
            e.fetcher = None;
        }
        e.changed.send_modify(|n| *n += 1);
    }

    fn release(&self, instance: u64, key: &str) {
        let mut table = self.table.lock().unwrap();
        if let Some(e) = table.get_mut(key)
            && e.fetcher == Some(instance)
        {
            e.fetcher = None;
            e.releases += 1;
            e.changed.send_modify(|n| *n += 1);
        }
    }
}

/// One instance's side of its driver's table: who it is and the fetches it
/// has claimed. Dropped with the instance's store, it releases them, so an
/// instance discarded mid-fetch never leaves others waiting.
pub(crate) struct InstanceShare {
    values: SharedValues,
    instance: u64,
    claimed: Vec<String>,
}

impl InstanceShare {
    pub(crate) fn new(values: SharedValues) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Self {
            values,
            instance: NEXT.fetch_add(1, Ordering::Relaxed),
            claimed: Vec::new(),
        }
    }

    fn settle(&mut self, key: &str) {
        self.claimed.retain(|k| k != key);
    }

    /// The instance's `claim`: a fetch it is given is its duty until it
    /// publishes or releases (or is dropped).
    pub(crate) async fn claim(&mut self, key: String, usable_until: i64) -> ClaimResult {
        let answer = self.values.claim(self.instance, &key, usable_until).await;
        if answer == ClaimResult::Fetch && !self.claimed.contains(&key) {
            self.claimed.push(key);
        }
        answer
    }

    /// The instance's `publish`.
    pub(crate) fn publish(&mut self, key: &str, value: SharedValue) {
        self.values.publish(self.instance, key, value);
        self.settle(key);
    }

    /// The instance's `release`.
    pub(crate) fn release(&mut self, key: &str) {
        self.values.release(self.instance, key);
        self.settle(key);
    }
}

impl Drop for InstanceShare {
    fn drop(&mut self) {
        for key in std::mem::take(&mut self.claimed) {
            self.values.release(self.instance, &key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(data: &str, expires: i64) -> SharedValue {
        SharedValue {
            data: data.as_bytes().to_vec(),
            expires,
        }
    }

    #[tokio::test]
    async fn one_fetches_the_others_wait_for_its_value() {
        let values = SharedValues::default();
        assert_eq!(values.claim(1, "k", 100).await, ClaimResult::Fetch);
        let waiter = {
            let values = values.clone();
            tokio::spawn(async move { values.claim(2, "k", 100).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished(), "waits while instance 1 fetches");
        values.publish(1, "k", value("v", 200));
        assert_eq!(waiter.await.unwrap(), ClaimResult::Ready(value("v", 200)));
        // Usable past 199, not past 200.
        assert_eq!(
            values.claim(3, "k", 199).await,
            ClaimResult::Ready(value("v", 200))
        );
        assert_eq!(values.claim(3, "k", 200).await, ClaimResult::Fetch);
    }

    #[tokio::test]
    async fn a_release_lets_every_waiter_fetch_on_its_own() {
        let values = SharedValues::default();
        assert_eq!(values.claim(1, "k", 0).await, ClaimResult::Fetch);
        let waiters: Vec<_> = (2..5)
            .map(|i| {
                let values = values.clone();
                tokio::spawn(async move { values.claim(i, "k", 0).await })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(50)).await;
        values.release(1, "k");
        for w in waiters {
            assert_eq!(w.await.unwrap(), ClaimResult::Fetch);
        }
    }

    #[tokio::test]
    async fn a_discarded_instance_releases_its_fetches() {
        let values = SharedValues::default();
        let mut share = InstanceShare::new(values.clone());
        assert_eq!(
            values.claim(share.instance, "k", 0).await,
            ClaimResult::Fetch
        );
        share.claimed.push("k".into());
        let waiter = {
            let values = values.clone();
            tokio::spawn(async move { values.claim(0, "k", 0).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(share);
        assert_eq!(waiter.await.unwrap(), ClaimResult::Fetch);
    }
}
