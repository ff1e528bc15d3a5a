//! Jittered exponential backoff between a minimum and a maximum delay.

use std::time::Duration;

/// Delays for retrying: each [`Backoff::next_delay`] doubles the base (up to
/// the maximum) and returns a random delay in `[base/2, base]`, never below
/// the minimum; [`Backoff::reset`] starts over after a success.
#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    base: Duration,
}

impl Backoff {
    /// Delays between `min` and `max` (a `max` below `min` is raised to it).
    pub fn new(min: Duration, max: Duration) -> Backoff {
        let max = max.max(min);
        Backoff {
            min,
            max,
            base: min,
        }
    }

    /// The delay before the next attempt.
    pub fn next_delay(&mut self) -> Duration {
        let base = self.base;
        self.base = base.saturating_mul(2).min(self.max);
        let half = base / 2;
        (half + half.mul_f64(fastrand::f64()))
            .max(self.min)
            .min(self.max)
    }

    /// Starts over at the minimum (after a success).
    pub fn reset(&mut self) {
        self.base = self.min;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_within_bounds_and_resets() {
        let (min, max) = (Duration::from_millis(100), Duration::from_secs(2));
        let mut b = Backoff::new(min, max);
        let delays: Vec<Duration> = (0..12).map(|_| b.next_delay()).collect();
        assert!(delays.iter().all(|d| *d >= min && *d <= max), "{delays:?}");
        // After enough doublings the base is the maximum: delays in [max/2, max].
        assert!(delays[8..].iter().all(|d| *d >= max / 2), "{delays:?}");
        b.reset();
        let d = b.next_delay();
        assert_eq!(d, min, "the first delay after a reset is the minimum");
        assert!(b.next_delay() <= min * 2);
    }

    #[test]
    fn jitter_spreads_delays() {
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..20 {
            let mut b = Backoff::new(Duration::from_millis(10), Duration::from_secs(10));
            for _ in 0..6 {
                b.next_delay();
            }
            seen.insert(b.next_delay());
        }
        assert!(seen.len() > 1, "{seen:?}");
    }

    #[test]
    fn max_below_min_is_raised() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_millis(1));
        assert_eq!(b.next_delay(), Duration::from_secs(1));
    }
}
