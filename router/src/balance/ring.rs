//! Ring hash: consistent hashing on a ring of virtual nodes.
//!
//! Each slot gets virtual nodes in proportion to its weight: the lightest
//! slot gets [`VNODES_PER_MIN_WEIGHT`], the others as many times more as
//! they weigh more, scaled down so the ring holds about [`RING_MAX`] points
//! at most (every slot keeps one). Virtual node `k` of an endpoint sits at
//! a hash of its `address`, `port` and `k`, so its points do not depend on
//! the other endpoints: removing one endpoint moves only the keys it owned,
//! and adding one moves only the keys it takes (while the lightest weight
//! and the ring bound do not change the scale).
//!
//! A key goes to the first point at or after its position (wrapping); a
//! retry walks on to the next point of an endpoint not yet tried.

use super::{fnv1a, mix64, Slots, FNV_OFFSET};
use mesh_config::table::EndpointEntry;

/// Virtual nodes of the lightest endpoint, when the ring bound allows.
pub(crate) const VNODES_PER_MIN_WEIGHT: u64 = 256;
/// About the most points a ring holds (more only with more endpoints than
/// this, each keeping one point).
pub(crate) const RING_MAX: u64 = 65_536;

#[derive(Debug)]
pub(crate) struct Ring {
    /// Point positions, ascending.
    positions: Box<[u32]>,
    /// The slot owning each point.
    owners: Box<[u32]>,
}

/// Virtual nodes per slot.
pub(crate) fn vnodes(weights: &[u32]) -> Vec<u64> {
    let min = weights
        .iter()
        .map(|w| u64::from(*w))
        .min()
        .unwrap_or(1)
        .max(1);
    let total: u64 = weights.iter().map(|w| u64::from(*w)).sum();
    // Points per unit of weight: VNODES_PER_MIN_WEIGHT / min, unless that
    // overflows the ring: RING_MAX / total. Integer maths: deterministic.
    let fits = u128::from(total) * u128::from(VNODES_PER_MIN_WEIGHT)
        <= u128::from(RING_MAX) * u128::from(min);
    weights
        .iter()
        .map(|w| {
            let w = u64::from(*w);
            let n = if fits {
                w * VNODES_PER_MIN_WEIGHT / min
            } else {
                u64::try_from(u128::from(w) * u128::from(RING_MAX) / u128::from(total.max(1)))
                    .unwrap_or(RING_MAX)
            };
            n.max(1)
        })
        .collect()
}

/// The position of virtual node `k` of an endpoint.
fn point(identity: u64, k: u64) -> u32 {
    (mix64(fnv1a(identity, &k.to_le_bytes())) >> 32) as u32
}

/// The position of a key on the ring.
pub(crate) fn position(hash: u64) -> u32 {
    (hash >> 32) as u32
}

impl Ring {
    pub(crate) fn new(slots: &Slots, endpoints: &[EndpointEntry]) -> Ring {
        let counts = vnodes(&slots.weight);
        let mut points: Vec<(u32, u32)> = Vec::with_capacity(counts.iter().sum::<u64>() as usize);
        for (slot, count) in counts.iter().enumerate() {
            let (Some(e), Ok(slot)) = (endpoints.get(slots.endpoint(slot)), u32::try_from(slot))
            else {
                continue;
            };
            let identity = fnv1a(
                fnv1a(FNV_OFFSET, e.address.as_bytes()),
                &e.port.to_le_bytes(),
            );
            points.extend((0..*count).map(|k| (point(identity, k), slot)));
        }
        points.sort_unstable();
        let (positions, owners): (Vec<u32>, Vec<u32>) = points.into_iter().unzip();
        Ring {
            positions: positions.into(),
            owners: owners.into(),
        }
    }

    /// How many points the ring holds, for tests.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.positions.len()
    }

    /// The endpoint index for key `hash`, avoiding `exclude` when possible.
    pub(crate) fn pick(&self, slots: &Slots, hash: u64, exclude: &[usize]) -> Option<usize> {
        let len = self.positions.len();
        if len == 0 {
            return None;
        }
        let pos = position(hash);
        let at = self.positions.partition_point(|p| *p < pos) % len;
        let owner = |i: usize| self.owners[(at + i) % len] as usize;
        let first = owner(0);
        if exclude.is_empty() || !slots.excluded(first, exclude) || slots.all_excluded(exclude) {
            return Some(slots.endpoint(first));
        }
        let slot = (1..len)
            .map(owner)
            .find(|s| !slots.excluded(*s, exclude))
            .unwrap_or(first);
        Some(slots.endpoint(slot))
    }
}
