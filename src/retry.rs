//! How often a failed request is tried again and how long to wait first: the
//! AWS SDKs' standard mode (a few attempts, exponential backoff with full
//! jitter). Which failures qualify is [`crate::classify`]'s decision. Imports
//! nothing of ours.

use std::time::Duration;

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

/// A small non-cryptographic generator for jitter (xorshift64*): spreading
/// retries needs unpredictability between clients, not secrecy.
#[derive(Debug, Clone, Copy)]
pub struct Jitter(u64);

impl Jitter {
    /// Seeded with `seed` (the platform's) and `salt`.
    pub fn new(seed: u64, salt: u64) -> Self {
        Self((seed ^ salt.rotate_left(32)) | 1)
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

    #[test]
    fn backoff_is_full_jitter_under_a_doubling_ceiling() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay(1, 0), Duration::ZERO);
        assert_eq!(p.delay(1, 100_000), Duration::from_millis(100));
        assert_eq!(p.delay(1, 100_001), Duration::ZERO);
        assert_eq!(p.delay(2, 200_000), Duration::from_millis(200));
        assert_eq!(p.delay(3, 400_000), Duration::from_millis(400));
        // The ceiling stops at the documented 20 s, even for absurd attempts.
        assert_eq!(p.delay(40, 20_000_000), Duration::from_secs(20));
        assert!(p.delay(40, u64::MAX) <= Duration::from_secs(20));
        let mut j = Jitter::new(0x1234_5678_9abc, 7);
        let spread: std::collections::BTreeSet<u64> = (0..100)
            .map(|_| p.delay(2, j.next_u64()).as_millis() as u64)
            .collect();
        assert!(spread.len() > 50, "jitter spreads: {spread:?}");
    }
}
