//! The driver's error type: the reference driver's typed errors plus what an S3
//! backend adds, and the driver's name that every message carries. `lib.rs`
//! turns it into the WIT `error` variant one to one; whether one is worth
//! another attempt is [`crate::classify`]'s call.

use std::fmt;

use crate::classify::{Cause, NetworkFailure, classify};

/// The driver's name, as the reference registers it and puts in every error.
pub const NAME: &str = "s3aws";

/// A failure reported by the S3 server, with what identifies it in its logs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BackendError {
    /// Operation and path, for example `put-content /a/b`.
    pub operation: String,
    /// S3 error code; empty when the reply had no body (HEAD).
    pub code: String,
    /// Server message, or the HTTP reason phrase.
    pub message: String,
    /// HTTP status.
    pub status: u16,
    /// `x-amz-request-id`, empty when absent.
    pub request_id: String,
}

/// A request that got no reply: why, and a sentence for the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkError {
    /// What kind of failure it was (decides retries).
    pub failure: NetworkFailure,
    /// What happened, without host paths or secrets.
    pub message: String,
}

/// Everything a driver call can fail with. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// Nothing stored at the path.
    PathNotFound { path: String },
    /// The path breaks Distribution's path rules.
    InvalidPath { path: String },
    /// Negative reader offset.
    InvalidOffset { path: String, offset: i64 },
    /// The operation is not offered.
    UnsupportedMethod,
    /// A configuration parameter was rejected; the message names it.
    InvalidConfig(String),
    /// Credentials or signature refused.
    AccessDenied(BackendError),
    /// Rate limited by the server.
    Throttled(BackendError),
    /// Any other server error reply.
    Backend(BackendError),
    /// No reply: connection refused, reset, denied by the host, timed out.
    Network(NetworkError),
    /// The reply was not valid S3.
    MalformedResponse(String),
    /// The call does not fit the writer's (or walker's) state.
    InvalidState(String),
}

impl Error {
    /// A failure without a reply.
    pub fn network(failure: NetworkFailure, message: impl Into<String>) -> Self {
        Error::Network(NetworkError {
            failure,
            message: message.into(),
        })
    }

    /// True when a later attempt may succeed where this one failed.
    pub fn retryable(&self) -> bool {
        match self {
            Error::Network(n) => classify(Cause::Network(n.failure)).retryable,
            Error::AccessDenied(b) | Error::Throttled(b) | Error::Backend(b) => b.class().retryable,
            _ => false,
        }
    }

    /// True for a server reply that means "no such object".
    pub fn is_not_found(&self) -> bool {
        match self {
            Error::Backend(b) => b.class().kind == crate::classify::Kind::NotFound,
            _ => false,
        }
    }
}

impl BackendError {
    fn class(&self) -> crate::classify::Class {
        classify(Cause::Reply {
            status: self.status,
            code: &self.code,
        })
    }
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.operation)?;
        if self.code.is_empty() {
            write!(f, "HTTP {}", self.status)?;
        } else {
            write!(f, "{} (HTTP {})", self.code, self.status)?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        if !self.request_id.is_empty() {
            write!(f, " [request id {}]", self.request_id)?;
        }
        Ok(())
    }
}

/// Messages follow the reference's `Error()` texts, prefixed with the driver name.
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::PathNotFound { path } => write!(f, "{NAME}: Path not found: {path}"),
            Error::InvalidPath { path } => write!(f, "{NAME}: invalid path: {path}"),
            Error::InvalidOffset { path, offset } => {
                write!(f, "{NAME}: invalid offset: {offset} for path: {path}")
            }
            Error::UnsupportedMethod => write!(f, "{NAME}: unsupported method"),
            Error::InvalidConfig(m) => write!(f, "{NAME}: invalid configuration: {m}"),
            Error::AccessDenied(b) => write!(f, "{NAME}: access denied: {b}"),
            Error::Throttled(b) => write!(f, "{NAME}: throttled: {b}"),
            Error::Backend(b) => write!(f, "{NAME}: {b}"),
            Error::Network(n) => write!(f, "{NAME}: network: {}", n.message),
            Error::MalformedResponse(m) => write!(f, "{NAME}: malformed response: {m}"),
            Error::InvalidState(m) => write!(f, "{NAME}: {m}"),
        }
    }
}

impl std::error::Error for Error {}

/// Result with the driver's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_carry_the_driver_name_like_the_reference() {
        let e = Error::PathNotFound { path: "/a".into() };
        assert_eq!(e.to_string(), "s3aws: Path not found: /a");
        let e = Error::InvalidOffset {
            path: "/a".into(),
            offset: -1,
        };
        assert_eq!(e.to_string(), "s3aws: invalid offset: -1 for path: /a");
        assert_eq!(
            Error::InvalidPath { path: "abc".into() }.to_string(),
            "s3aws: invalid path: abc"
        );
        assert_eq!(
            Error::network(NetworkFailure::Refused, "connection refused").to_string(),
            "s3aws: network: connection refused"
        );
    }

    #[test]
    fn backend_errors_show_code_status_and_request_id() {
        let b = BackendError {
            operation: "get-content /x".into(),
            code: "SlowDown".into(),
            message: "Please reduce your request rate.".into(),
            status: 503,
            request_id: "4442587FB7D0A2F9".into(),
        };
        assert_eq!(
            Error::Throttled(b).to_string(),
            "s3aws: throttled: get-content /x: SlowDown (HTTP 503): Please reduce your request rate. [request id 4442587FB7D0A2F9]"
        );
    }

    fn backend(status: u16, code: &str) -> Error {
        Error::Backend(BackendError {
            status,
            code: code.into(),
            ..Default::default()
        })
    }

    #[test]
    fn only_transient_failures_are_retryable() {
        assert!(Error::network(NetworkFailure::Refused, "x").retryable());
        assert!(Error::network(NetworkFailure::Incomplete, "x").retryable());
        assert!(!Error::network(NetworkFailure::Denied, "x").retryable());
        assert!(!Error::network(NetworkFailure::Tls, "x").retryable());
        for s in [429, 500, 502, 503, 504] {
            assert!(backend(s, "").retryable(), "{s}");
        }
        assert!(backend(400, "RequestTimeout").retryable());
        assert!(
            Error::Throttled(BackendError {
                status: 503,
                code: "SlowDown".into(),
                ..Default::default()
            })
            .retryable()
        );
        for s in [400, 401, 403, 404, 409, 412, 416] {
            assert!(!backend(s, "AccessDenied").retryable(), "{s}");
        }
        assert!(!Error::MalformedResponse("x".into()).retryable());
        assert!(!Error::PathNotFound { path: "/a".into() }.retryable());
    }

    #[test]
    fn not_found_is_the_classifiers_verdict() {
        assert!(backend(404, "NoSuchKey").is_not_found());
        assert!(backend(404, "").is_not_found());
        assert!(!backend(404, "NoSuchBucket").is_not_found());
        assert!(!backend(404, "NoSuchUpload").is_not_found());
    }
}
