//! What a driver call fails with on the host side: the component's own
//! typed error, or what the host adds (timeout, memory cap, trap). The WIT
//! error is described in one place, [`describe`], for messages and metrics.

// `CallError` carries the WIT error by value so callers can match on it
// directly; its size is irrelevant next to a call into wasm.
#![allow(clippy::result_large_err)]

use std::fmt;
use std::time::Duration;

use crate::bindings::registry::storage::types::{self, BackendError};

/// A driver call's failure.
#[derive(Debug, Clone)]
pub enum CallError {
    /// The driver's own error (the WIT `error` variant).
    Driver(types::Error),
    /// The call ran past [`crate::Limits::call_timeout`]; its instance was discarded.
    Timeout(Duration),
    /// The instance tried to grow its memory past
    /// [`crate::Limits::memory_bytes`]; it was discarded.
    MemoryLimit {
        /// The cap, in bytes.
        limit: usize,
    },
    /// The component trapped or the host failed; the message has no host
    /// paths or backtraces. The instance was discarded.
    Host(String),
    /// Every instance stayed busy for [`crate::Limits::queue_timeout`]: the
    /// driver is past capacity and the call never started. Retry later.
    Overloaded(Duration),
}

/// The result of a driver call.
pub type CallResult<T> = Result<T, CallError>;

impl CallError {
    /// A host failure; only the first line of the top-level message is kept:
    /// the chain and the rest may hold paths and backtraces.
    pub(crate) fn host(e: impl fmt::Display) -> Self {
        let text = e.to_string();
        CallError::Host(text.lines().next().unwrap_or_default().to_owned())
    }

    /// A short kind for metrics: the WIT error case, or `timeout`,
    /// `memory-limit`, `host`.
    pub fn kind(&self) -> &'static str {
        match self {
            CallError::Timeout(_) => "timeout",
            CallError::MemoryLimit { .. } => "memory-limit",
            CallError::Host(_) => "host",
            CallError::Overloaded(_) => "overloaded",
            CallError::Driver(e) => describe(e).0,
        }
    }
}

/// The WIT error case's name and the reference driver's message for it,
/// prefixed with the driver name.
pub fn describe(e: &types::Error) -> (&'static str, String) {
    use types::Error as E;
    match e {
        E::PathNotFound(p) => (
            "path-not-found",
            format!("{}: Path not found: {}", p.driver, p.path),
        ),
        E::InvalidPath(p) => (
            "invalid-path",
            format!("{}: invalid path: {}", p.driver, p.path),
        ),
        E::InvalidOffset(o) => (
            "invalid-offset",
            format!(
                "{}: invalid offset: {} for path: {}",
                o.driver, o.offset, o.path
            ),
        ),
        E::UnsupportedMethod(d) => ("unsupported-method", format!("{d}: unsupported method")),
        E::InvalidConfig(m) => ("invalid-config", format!("invalid configuration: {m}")),
        E::AccessDenied(b) => ("access-denied", backend(b, "access denied: ")),
        E::Throttled(b) => ("throttled", backend(b, "throttled: ")),
        E::Backend(b) => ("backend", backend(b, "")),
        E::Network(m) => ("network", format!("network: {m}")),
        E::MalformedResponse(m) => ("malformed-response", format!("malformed response: {m}")),
        E::InvalidState(m) => ("invalid-state", m.clone()),
    }
}

fn backend(b: &BackendError, kind: &str) -> String {
    let mut out = format!("{}: {kind}{}: ", b.driver, b.operation);
    if b.code.is_empty() {
        out.push_str(&format!("HTTP {}", b.status));
    } else {
        out.push_str(&format!("{} (HTTP {})", b.code, b.status));
    }
    if !b.message.is_empty() {
        out.push_str(&format!(": {}", b.message));
    }
    if !b.request_id.is_empty() {
        out.push_str(&format!(" [request id {}]", b.request_id));
    }
    out
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Host(m) => write!(f, "host: {m}"),
            CallError::Timeout(d) => write!(f, "host: the call ran past its {d:?} deadline"),
            CallError::Overloaded(d) => {
                write!(f, "host: overloaded: no instance was free within {d:?}")
            }
            CallError::MemoryLimit { limit } => write!(
                f,
                "host: the component needed more than its {} MiB memory cap",
                limit >> 20
            ),
            CallError::Driver(e) => f.write_str(&describe(e).1),
        }
    }
}

impl std::error::Error for CallError {}
