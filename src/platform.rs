//! What the sans-IO core needs from its surroundings besides HTTP: the time,
//! waiting, a seed for jitter, the environment and files the host granted,
//! somewhere to put log lines, and the values every instance of the driver
//! shares (one fetch of temporary credentials or IP ranges serves them all). The component's edge (`lib.rs`)
//! implements it with WASI; tests and fuzzers pin it with [`FixedPlatform`].

use std::time::Duration;

use crate::digest::{BodyHasher, sha256_in_guest};
use crate::time::UtcDateTime;

/// How much a log line matters; the driver's `loglevel` decides which are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// Something the operator should know about (a failed IP-range refresh).
    Warn,
    /// One line per request (`loglevel: debug`).
    Debug,
}

/// The core's window on the world outside HTTP.
pub trait Platform {
    /// The current wall-clock time.
    fn now(&self) -> UtcDateTime;
    /// Waits `d` (a retry's backoff).
    fn sleep(&self, d: Duration);
    /// A number that differs between instances and runs (seeds the jitter).
    fn random_seed(&self) -> u64;
    /// An environment variable the host granted.
    fn env(&self, name: &str) -> Option<String>;
    /// A file the host granted read access to.
    fn read_file(&self, path: &str) -> std::io::Result<String>;
    /// A log line, already free of secrets.
    fn log(&self, level: LogLevel, message: &str);
    /// The value every instance of the driver shares under `key`, if it
    /// expires after `usable_until`; else the duty to fetch it (see
    /// [`FetchDuty`]). Waits while another instance is fetching it.
    fn claim_shared(&self, key: &str, usable_until: i64) -> Claim;
    /// Stores a fetched value under `key` for every instance.
    fn publish_shared(&self, key: &str, data: &[u8], expires: i64);
    /// Gives up the duty to fetch `key` (the fetch failed).
    fn release_shared(&self, key: &str);
    /// How request bodies are hashed for signing: the guest's own SHA-256
    /// unless the platform has a faster one.
    fn body_hasher(&self) -> BodyHasher {
        sha256_in_guest
    }
}

/// What [`Platform::claim_shared`] hands an instance.
#[derive(Clone, PartialEq, Eq)]
pub enum Claim {
    /// A value usable past the time asked for, and when it expires.
    Ready(Vec<u8>, i64),
    /// No usable value: fetch it, through a [`FetchDuty`].
    Fetch,
}

impl std::fmt::Debug for Claim {
    // The data may be credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Claim::Ready(data, expires) => write!(f, "Ready({} bytes, {expires})", data.len()),
            Claim::Fetch => f.write_str("Fetch"),
        }
    }
}

/// The duty to fetch a shared value, taken when a claim says
/// [`Claim::Fetch`]. [`FetchDuty::publish`] hands the value to every
/// instance; dropped unpublished (the fetch failed, `?` returned early) it
/// releases the duty, so no instance waits on a fetch that ended.
pub struct FetchDuty<'a> {
    platform: &'a dyn Platform,
    key: &'a str,
    done: bool,
}

impl<'a> FetchDuty<'a> {
    /// The duty for `key`, after a claim answered [`Claim::Fetch`].
    pub fn new(platform: &'a dyn Platform, key: &'a str) -> Self {
        Self {
            platform,
            key,
            done: false,
        }
    }

    /// Stores the fetched value for every instance.
    pub fn publish(mut self, data: &[u8], expires: i64) {
        self.platform.publish_shared(self.key, data, expires);
        self.done = true;
    }
}

impl Drop for FetchDuty<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.platform.release_shared(self.key);
        }
    }
}

/// A platform with a pinned clock, no environment, no files and no waiting;
/// log lines are kept for inspection, and shared values are this
/// platform's alone (one instance).
#[derive(Debug, Default)]
pub struct FixedPlatform {
    /// What `now` answers.
    pub now: UtcDateTime,
    /// Environment variables.
    pub env: Vec<(String, String)>,
    /// Files by path.
    pub files: Vec<(String, String)>,
    /// Log lines so far.
    pub lines: std::cell::RefCell<Vec<(LogLevel, String)>>,
    /// Shared values: key, data, expiry.
    pub shared: std::cell::RefCell<Vec<(String, Vec<u8>, i64)>>,
}

impl Platform for FixedPlatform {
    fn now(&self) -> UtcDateTime {
        self.now
    }
    fn sleep(&self, _d: Duration) {}
    fn random_seed(&self) -> u64 {
        0x5eed
    }
    fn env(&self, name: &str) -> Option<String> {
        self.env
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }
    fn read_file(&self, path: &str) -> std::io::Result<String> {
        self.files
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, c)| c.clone())
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
    }
    fn log(&self, level: LogLevel, message: &str) {
        self.lines.borrow_mut().push((level, message.to_owned()));
    }
    fn claim_shared(&self, key: &str, usable_until: i64) -> Claim {
        match self.shared.borrow().iter().find(|(k, _, _)| k == key) {
            Some((_, data, expires)) if *expires > usable_until => {
                Claim::Ready(data.clone(), *expires)
            }
            _ => Claim::Fetch,
        }
    }
    fn publish_shared(&self, key: &str, data: &[u8], expires: i64) {
        let mut shared = self.shared.borrow_mut();
        shared.retain(|(k, _, _)| k != key);
        shared.push((key.to_owned(), data.to_vec(), expires));
    }
    fn release_shared(&self, _key: &str) {}
}
