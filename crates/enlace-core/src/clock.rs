//! Time as the domain sees it: milliseconds since the Unix epoch (UTC), from an injected clock.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn millis(self) -> i64 {
        self.0
    }

    /// Whole seconds from `self` to `later`, never negative.
    pub fn seconds_until(self, later: Timestamp) -> u32 {
        let ms = later.0.saturating_sub(self.0).max(0);
        u32::try_from(ms / 1000).unwrap_or(u32::MAX)
    }
}

/// Source of the current time. Injected everywhere so tests are deterministic.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// The real wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        Timestamp(ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_until_rounds_down_and_never_goes_negative() {
        assert_eq!(Timestamp(1_000).seconds_until(Timestamp(3_999)), 2);
        assert_eq!(Timestamp(5_000).seconds_until(Timestamp(1_000)), 0);
    }
}
