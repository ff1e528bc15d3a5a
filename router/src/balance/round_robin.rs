//! Weighted round robin, smooth: a schedule computed once when the balancer
//! is built interleaves endpoints in proportion to weight (weights 2:3 give
//! `B A B A B`, not `A A B B B`); a pick is one atomic increment and an
//! array read.
//!
//! The schedule orders each slot's `k`-th turn (`k < weight`) by its ideal
//! time `(2k + 1) / (2 · weight)` within one period (stride scheduling),
//! ties broken by slot, so every slot's turns are evenly spread. Weights are
//! divided by their greatest common divisor, and scaled down when the
//! period would exceed [`SCHEDULE_MAX`] (every slot keeps at least one
//! turn). Each balancer starts at a random point of its schedule, so routers
//! started together do not all send their first requests to one endpoint.

use super::Slots;
use std::cmp::Ordering as CmpOrdering;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The longest schedule (before the one turn every slot keeps).
pub(crate) const SCHEDULE_MAX: u64 = 65_536;
/// How far a retry walks the schedule for a non-excluded slot before it
/// draws one at random instead (a heavy excluded slot can fill long runs).
const EXCLUDE_STEPS: usize = 64;

#[derive(Debug)]
pub(crate) struct RoundRobin {
    /// Slots in turn order.
    schedule: Box<[u32]>,
    next: AtomicUsize,
}

impl RoundRobin {
    pub(crate) fn new(slots: &Slots) -> RoundRobin {
        let schedule = schedule(&slots.weight);
        let start = fastrand::usize(..schedule.len().max(1));
        RoundRobin {
            schedule,
            next: AtomicUsize::new(start),
        }
    }

    /// The schedule, for tests.
    #[cfg(test)]
    pub(crate) fn turns(&self) -> &[u32] {
        &self.schedule
    }

    /// The endpoint index of the next turn not in `exclude`.
    pub(crate) fn pick(&self, slots: &Slots, exclude: &[usize]) -> Option<usize> {
        let len = self.schedule.len();
        if len == 0 {
            return None;
        }
        let at = self.next.fetch_add(1, Ordering::Relaxed) % len;
        let turn = |step: usize| self.schedule[(at + step) % len] as usize;
        let first = turn(0);
        if exclude.is_empty() {
            return Some(slots.endpoint(first));
        }
        let slot = (0..len.min(EXCLUDE_STEPS))
            .map(turn)
            .find(|s| !slots.excluded(*s, exclude))
            .or_else(|| slots.weighted_random_except(exclude, None))
            .unwrap_or(first);
        Some(slots.endpoint(slot))
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Weights divided by their gcd, scaled down to about [`SCHEDULE_MAX`]
/// turns in all, each at least 1.
pub(crate) fn turns_per_slot(weights: &[u32]) -> Vec<u64> {
    let reduce = |w: Vec<u64>| {
        let g = w.iter().copied().fold(0, gcd).max(1);
        w.into_iter().map(|x| (x / g).max(1)).collect::<Vec<u64>>()
    };
    let w = reduce(weights.iter().map(|w| u64::from(*w).max(1)).collect());
    let total: u64 = w.iter().sum();
    if total <= SCHEDULE_MAX {
        return w;
    }
    reduce(
        w.into_iter()
            .map(|x| (x * SCHEDULE_MAX / total).max(1))
            .collect(),
    )
}

/// The smooth schedule of slots with these weights.
pub(crate) fn schedule(weights: &[u32]) -> Box<[u32]> {
    let turns = turns_per_slot(weights);
    // (k, slot, weight) for each turn.
    let mut all: Vec<(u64, u32, u64)> = turns
        .iter()
        .enumerate()
        .filter_map(|(slot, w)| u32::try_from(slot).ok().map(|s| (s, *w)))
        .flat_map(|(slot, w)| (0..w).map(move |k| (k, slot, w)))
        .collect();
    // Ideal time of turn k of a slot of weight w: (2k+1)/(2w); compared
    // exactly by cross-multiplying (k < w ≤ 2^17, so no overflow).
    all.sort_unstable_by(|a, b| {
        let ta = (2 * a.0 + 1) * b.2;
        let tb = (2 * b.0 + 1) * a.2;
        match ta.cmp(&tb) {
            CmpOrdering::Equal => a.1.cmp(&b.1),
            other => other,
        }
    });
    all.into_iter().map(|(_, slot, _)| slot).collect()
}
