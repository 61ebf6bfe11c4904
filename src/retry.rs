//! When a failed request is tried again, and how long to wait first: the AWS
//! SDKs' standard mode (a few attempts, exponential backoff with full jitter,
//! only for failures that a later attempt can fix).

use std::time::Duration;

use crate::error::Error;

/// The default first backoff ceiling.
pub const DEFAULT_BASE_DELAY: Duration = Duration::from_millis(100);

/// The longest single backoff.
pub const MAX_DELAY: Duration = Duration::from_secs(20);

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first one included (`maxattempts`, default 3).
    pub max_attempts: u32,
    /// Ceiling of the first backoff; it doubles per attempt (`retrybasedelay`).
    pub base_delay: Duration,
    /// No backoff is longer than this.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_delay: DEFAULT_BASE_DELAY,
            max_delay: MAX_DELAY,
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt `attempt` (1-based): uniformly random
    /// in `[0, min(max_delay, base_delay * 2^(attempt-1))]` ("full jitter").
    pub fn delay(&self, attempt: u32, random: u64) -> Duration {
        let factor = 1u32 << attempt.saturating_sub(1).min(20);
        let ceiling = self
            .base_delay
            .saturating_mul(factor)
            .min(self.max_delay)
            .as_micros() as u64;
        Duration::from_micros(random % (ceiling + 1))
    }
}

/// HTTP statuses worth another attempt.
pub fn retryable_status(status: u16) -> bool {
    matches!(status, 429 | 500 | 502 | 503 | 504)
}

/// S3 error codes worth another attempt, whatever their status.
pub fn retryable_code(code: &str) -> bool {
    matches!(
        code,
        "SlowDown" | "RequestTimeout" | "InternalError" | "ServiceUnavailable" | "Throttling"
    )
}

/// Network failures that another attempt cannot fix: the host refused the
/// destination, or the server's certificate or TLS setup is wrong.
pub const PERMANENT_NETWORK_FAILURES: &[&str] = &[
    crate::transport::DENIED,
    crate::transport::TLS_CERTIFICATE,
    crate::transport::TLS_PROTOCOL,
];

/// True when a later attempt may succeed where this one failed.
pub fn retryable(e: &Error) -> bool {
    match e {
        Error::Network(m) => !PERMANENT_NETWORK_FAILURES
            .iter()
            .any(|p| m.ends_with(p) || m == p),
        Error::Throttled(_) => true,
        Error::Backend(b) => retryable_status(b.status) || retryable_code(&b.code),
        _ => false,
    }
}

/// A small non-cryptographic generator for jitter (xorshift64*): spreading
/// retries needs unpredictability between clients, not secrecy.
#[derive(Debug, Clone, Copy)]
pub struct Jitter(u64);

impl Jitter {
    /// Seeded from the wall clock's nanoseconds and `salt`.
    pub fn new(salt: u64) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Self((nanos ^ salt.rotate_left(32)) | 1)
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::BackendError;

    fn backend(status: u16, code: &str) -> Error {
        Error::Backend(BackendError {
            status,
            code: code.into(),
            ..Default::default()
        })
    }

    #[test]
    fn only_transient_failures_are_retried() {
        assert!(retryable(&Error::Network("connection refused".into())));
        assert!(retryable(&Error::Network(
            "reading the response body: connection closed".into()
        )));
        assert!(!retryable(&Error::Network(crate::transport::DENIED.into())));
        assert!(!retryable(&Error::Network(format!(
            "sending the request body: {}",
            crate::transport::TLS_CERTIFICATE
        ))));
        for s in [429, 500, 502, 503, 504] {
            assert!(retryable(&backend(s, "")), "{s}");
        }
        assert!(retryable(&backend(400, "RequestTimeout")));
        assert!(retryable(&Error::Throttled(BackendError::default())));
        for s in [400, 401, 403, 404, 409, 412, 416] {
            assert!(!retryable(&backend(s, "AccessDenied")), "{s}");
        }
        assert!(!retryable(&Error::MalformedResponse("x".into())));
        assert!(!retryable(&Error::PathNotFound { path: "/a".into() }));
    }

    #[test]
    fn backoff_is_full_jitter_under_a_doubling_ceiling() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay(1, 0), Duration::ZERO);
        assert_eq!(p.delay(1, 100_000), Duration::from_millis(100));
        assert_eq!(p.delay(1, 100_001), Duration::ZERO);
        assert_eq!(p.delay(2, 200_000), Duration::from_millis(200));
        assert_eq!(p.delay(3, 400_000), Duration::from_millis(400));
        // The ceiling stops at max_delay, even for absurd attempt numbers.
        assert_eq!(p.delay(40, 20_000_000), MAX_DELAY);
        assert!(p.delay(40, u64::MAX) <= MAX_DELAY);
        let mut j = Jitter::new(7);
        let spread: std::collections::BTreeSet<u64> = (0..100)
            .map(|_| p.delay(2, j.next_u64()).as_millis() as u64)
            .collect();
        assert!(spread.len() > 50, "jitter spreads: {spread:?}");
    }
}
