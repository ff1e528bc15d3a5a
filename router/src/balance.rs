//! Load balancing per Service: weighted round robin, least request (power
//! of two random choices) and ring hash (consistent hashing).
//!
//! A [`Balancer`] is built once per route table per service, from the
//! service's [`LoadBalancer`] kind and its endpoints, and then shared by every
//! worker thread: [`Balancer::pick`] takes `&self`, holds no lock and does not
//! allocate (atomics and thread-local random numbers only).
//!
//! # Which endpoints are picked
//! - An endpoint of weight 0 is drained: never picked.
//! - An endpoint whose [`Health`] is `Unhealthy` is skipped, unless every
//!   endpoint of non-zero weight is unhealthy: then all of them are used
//!   ("panic mode", as in Envoy), since a guess beats a certain 503.
//! - Weights are honoured by every kind: round robin by a smooth schedule,
//!   least request by weighted candidates and load per unit of weight, ring
//!   hash by virtual nodes in proportion to weight.
//! - `exclude` lists the endpoints a request has already tried: a retry goes
//!   to another endpoint when there is one, else to an excluded one.
//!
//! Health and weights are fixed for the life of a balancer: a change comes
//! with a new table, hence a new balancer.

mod least_request;
mod ring;
mod round_robin;
#[cfg(test)]
mod tests;

use least_request::LeastRequest;
use mesh_config::spec::LoadBalancer;
use mesh_config::table::{EndpointEntry, Health};
use ring::Ring;
use round_robin::RoundRobin;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Picks endpoints of one service. `Send + Sync`; lock-free.
#[derive(Debug)]
pub struct Balancer {
    kind: LoadBalancer,
    /// The pickable endpoints ("slots"), with their index in the endpoint
    /// list the balancer was built from, and their weight (never 0).
    slots: Slots,
    /// Every pickable endpoint is unhealthy, so all are used.
    panic_mode: bool,
    algo: Algo,
}

#[derive(Debug)]
enum Algo {
    Empty,
    RoundRobin(RoundRobin),
    LeastRequest(LeastRequest),
    RingHash(Ring),
}

/// The pickable endpoints, in endpoint order.
#[derive(Debug, Default)]
pub(crate) struct Slots {
    /// Endpoint index of each slot.
    pub(crate) index: Box<[u32]>,
    /// Weight of each slot, at least 1.
    pub(crate) weight: Box<[u32]>,
}

impl Slots {
    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    /// The endpoint index of `slot`.
    pub(crate) fn endpoint(&self, slot: usize) -> usize {
        self.index.get(slot).map_or(usize::MAX, |i| *i as usize)
    }

    /// Whether the endpoint of `slot` is in `exclude`.
    pub(crate) fn excluded(&self, slot: usize, exclude: &[usize]) -> bool {
        !exclude.is_empty() && exclude.contains(&self.endpoint(slot))
    }

    /// Whether every slot is excluded.
    pub(crate) fn all_excluded(&self, exclude: &[usize]) -> bool {
        !exclude.is_empty() && (0..self.len()).all(|s| self.excluded(s, exclude))
    }

    /// A slot drawn at random in proportion to weight among those neither in
    /// `exclude` nor equal to `also`; `None` when there is none. Linear in the
    /// number of slots: for retries, not for first attempts.
    pub(crate) fn weighted_random_except(
        &self,
        exclude: &[usize],
        also: Option<usize>,
    ) -> Option<usize> {
        let allowed = |s: usize| Some(s) != also && !self.excluded(s, exclude);
        let total: u64 = (0..self.len())
            .filter(|s| allowed(*s))
            .map(|s| u64::from(self.weight[s]))
            .sum();
        if total == 0 {
            return None;
        }
        let mut r = fastrand::u64(..total);
        for s in (0..self.len()).filter(|s| allowed(*s)) {
            let w = u64::from(self.weight[s]);
            if r < w {
                return Some(s);
            }
            r -= w;
        }
        None
    }
}

/// One pick: the endpoint's index in the list the balancer was built from.
/// For least request it also counts the request as in flight on that
/// endpoint until it is dropped: keep it for the life of the upstream
/// request (or of the attempt).
#[derive(Debug)]
pub struct Pick {
    pub index: usize,
    _in_flight: Option<InFlight>,
}

impl Pick {
    fn plain(index: usize) -> Pick {
        Pick {
            index,
            _in_flight: None,
        }
    }
}

/// Counts one request in flight on a slot; uncounts it on drop.
#[derive(Debug)]
struct InFlight {
    counters: Arc<[AtomicU64]>,
    slot: usize,
}

impl InFlight {
    fn start(counters: &Arc<[AtomicU64]>, slot: usize) -> InFlight {
        if let Some(c) = counters.get(slot) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        InFlight {
            counters: Arc::clone(counters),
            slot,
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(c) = self.counters.get(self.slot) {
            c.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl Balancer {
    /// Builds the balancer of a service with these endpoints (in table
    /// order; [`Pick::index`] indexes this slice).
    pub fn new(kind: LoadBalancer, endpoints: &[EndpointEntry]) -> Balancer {
        let (slots, panic_mode) = pickable(endpoints);
        let algo = if slots.len() == 0 {
            Algo::Empty
        } else {
            match kind {
                LoadBalancer::RoundRobin => Algo::RoundRobin(RoundRobin::new(&slots)),
                LoadBalancer::LeastRequest => Algo::LeastRequest(LeastRequest::new(&slots)),
                LoadBalancer::RingHash => Algo::RingHash(Ring::new(&slots, endpoints)),
            }
        };
        Balancer {
            kind,
            slots,
            panic_mode,
            algo,
        }
    }

    /// Picks an endpoint. `hash` is the ring hash key (see [`hash_key`] and
    /// [`hash_ip`]), ignored by the other kinds. `exclude` lists endpoint
    /// indexes this request already tried: they are avoided while another
    /// endpoint is pickable. `None` when no endpoint is pickable at all.
    pub fn pick(&self, hash: u64, exclude: &[usize]) -> Option<Pick> {
        let slots = &self.slots;
        match &self.algo {
            Algo::Empty => None,
            Algo::RoundRobin(rr) => rr.pick(slots, exclude).map(Pick::plain),
            Algo::RingHash(ring) => ring.pick(slots, hash, exclude).map(Pick::plain),
            Algo::LeastRequest(lr) => lr.pick(slots, exclude).map(|slot| Pick {
                index: slots.endpoint(slot),
                _in_flight: Some(InFlight::start(lr.counters(), slot)),
            }),
        }
    }

    /// The kind it was built for.
    pub fn kind(&self) -> LoadBalancer {
        self.kind
    }

    /// How many endpoints can be picked (0: every request gets a 503).
    pub fn pickable(&self) -> usize {
        self.slots.len()
    }

    /// True when every endpoint of non-zero weight is unhealthy, so they are
    /// used anyway.
    pub fn panic_mode(&self) -> bool {
        self.panic_mode
    }

    /// Requests in flight on endpoint `index` (least request only; 0
    /// otherwise).
    pub fn outstanding(&self, index: usize) -> u64 {
        let Algo::LeastRequest(lr) = &self.algo else {
            return 0;
        };
        (0..self.slots.len())
            .find(|s| self.slots.endpoint(*s) == index)
            .and_then(|s| lr.counters().get(s))
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }
}

/// The pickable endpoints and whether that needed panic mode.
fn pickable(endpoints: &[EndpointEntry]) -> (Slots, bool) {
    let weighted = || {
        endpoints
            .iter()
            .enumerate()
            .filter(|(i, e)| e.weight > 0 && u32::try_from(*i).is_ok())
    };
    let healthy = weighted().any(|(_, e)| e.health != Health::Unhealthy);
    let (index, weight): (Vec<u32>, Vec<u32>) = weighted()
        .filter(|(_, e)| !healthy || e.health != Health::Unhealthy)
        .filter_map(|(i, e)| u32::try_from(i).ok().map(|i| (i, e.weight)))
        .unzip();
    let panic_mode = !healthy && !index.is_empty();
    let slots = Slots {
        index: index.into(),
        weight: weight.into(),
    };
    (slots, panic_mode)
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a over `bytes`, continuing from `state`.
pub(crate) fn fnv1a(mut state: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        state ^= u64::from(*b);
        state = state.wrapping_mul(FNV_PRIME);
    }
    state
}

/// The 64-bit finalizer of MurmurHash3: spreads every input bit over the
/// whole output, which FNV alone does poorly for short inputs.
pub(crate) fn mix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    h
}

/// The ring hash key of some bytes (a header value): FNV-1a 64 then a
/// MurmurHash3 finalizer. Fixed by this code, so every router process maps
/// the same key to the same endpoint, whatever its Rust version or machine.
pub fn hash_key(bytes: &[u8]) -> u64 {
    mix64(fnv1a(FNV_OFFSET, bytes))
}

/// The ring hash key of a client address (the fallback when the configured
/// header is absent). An IPv4-mapped IPv6 address hashes as its IPv4 form.
pub fn hash_ip(ip: IpAddr) -> u64 {
    match ip.to_canonical() {
        IpAddr::V4(v4) => hash_key(&v4.octets()),
        IpAddr::V6(v6) => hash_key(&v6.octets()),
    }
}
