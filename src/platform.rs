//! What the sans-IO core needs from its surroundings besides HTTP: the time,
//! waiting, a seed for jitter, the environment and files the host granted,
//! and somewhere to put log lines. The component's edge (`lib.rs`)
//! implements it with WASI; tests and fuzzers pin it with [`FixedPlatform`].

use std::time::Duration;

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
}

/// A platform with a pinned clock, no environment, no files and no waiting;
/// log lines are kept for inspection.
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
}
