//! Least request by power of two random choices, weighted: two distinct
//! slots are drawn at random in proportion to weight, and the one with
//! fewer requests in flight per unit of weight wins (the first drawn on a
//! tie, so an idle service is balanced by weight alone). The most loaded
//! slot never wins while there are two or more.
//!
//! A first attempt costs two binary searches over cumulative weights; a
//! retry (non-empty `exclude`) draws linearly among the slots not excluded.

use super::Slots;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

#[derive(Debug)]
pub(crate) struct LeastRequest {
    /// Cumulative weight up to and including each slot.
    ends: Box<[u64]>,
    total: u64,
    /// Requests in flight per slot; shared with the picks' guards, which
    /// may outlive the balancer (a table swap during a request).
    counters: Arc<[AtomicU64]>,
}

impl LeastRequest {
    pub(crate) fn new(slots: &Slots) -> LeastRequest {
        let mut total = 0u64;
        let ends = slots
            .weight
            .iter()
            .map(|w| {
                total += u64::from(*w);
                total
            })
            .collect();
        let counters = (0..slots.len()).map(|_| AtomicU64::new(0)).collect();
        LeastRequest {
            ends,
            total,
            counters,
        }
    }

    pub(crate) fn counters(&self) -> &Arc<[AtomicU64]> {
        &self.counters
    }

    fn load(&self, slot: usize) -> u64 {
        self.counters
            .get(slot)
            .map_or(u64::MAX, |c| c.load(Ordering::Relaxed))
    }

    /// The slot (not endpoint index) to use.
    pub(crate) fn pick(&self, slots: &Slots, exclude: &[usize]) -> Option<usize> {
        let n = slots.len();
        if n == 0 || self.total == 0 {
            return None;
        }
        if n == 1 {
            return Some(0);
        }
        let (a, b) = if exclude.is_empty() {
            self.two_distinct(slots)
        } else {
            match slots.weighted_random_except(exclude, None) {
                // Every slot was tried: pick among them all again.
                None => self.two_distinct(slots),
                Some(a) => match slots.weighted_random_except(exclude, Some(a)) {
                    None => return Some(a),
                    Some(b) => (a, b),
                },
            }
        };
        // a wins unless b has fewer in flight per unit of weight:
        // load_b / w_b < load_a / w_a.
        let wa = u128::from(slots.weight[a]);
        let wb = u128::from(slots.weight[b]);
        let (la, lb) = (u128::from(self.load(a)), u128::from(self.load(b)));
        Some(if lb * wa < la * wb { b } else { a })
    }

    /// Two distinct slots drawn in proportion to weight (n ≥ 2).
    fn two_distinct(&self, slots: &Slots) -> (usize, usize) {
        let a = self.slot_at(fastrand::u64(..self.total));
        let wa = slots.weight.get(a).map_or(0, |w| u64::from(*w));
        let start_a = self.ends.get(a).map_or(0, |e| e - wa);
        // Draw over the other slots' weight, skipping a's interval.
        let rest = self.total - wa;
        if rest == 0 {
            return (a, a);
        }
        let mut r = fastrand::u64(..rest);
        if r >= start_a {
            r += wa;
        }
        (a, self.slot_at(r))
    }

    /// The slot whose cumulative interval holds `r` (< total).
    fn slot_at(&self, r: u64) -> usize {
        self.ends
            .partition_point(|end| *end <= r)
            .min(self.ends.len() - 1)
    }
}
