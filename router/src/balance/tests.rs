//! Tests of the balancers: weights, smoothness, drained and unhealthy
//! endpoints, retries, ring consistency, least request under load, and
//! properties over arbitrary endpoint lists.

use super::round_robin::{schedule, SCHEDULE_MAX};
use super::*;
use proptest::prelude::*;

const KINDS: [LoadBalancer; 3] = [
    LoadBalancer::RoundRobin,
    LoadBalancer::LeastRequest,
    LoadBalancer::RingHash,
];

fn endpoint(i: usize, weight: u32, health: Health) -> EndpointEntry {
    EndpointEntry {
        name: format!("e{i}"),
        address: format!("10.0.{}.{}", i / 250, i % 250 + 1),
        port: 8080,
        weight,
        zone: None,
        labels: Default::default(),
        health,
    }
}

fn weighted(weights: &[u32]) -> Vec<EndpointEntry> {
    weights
        .iter()
        .enumerate()
        .map(|(i, w)| endpoint(i, *w, Health::Unknown))
        .collect()
}

/// A well-spread key for request number `i`.
fn key(i: usize) -> u64 {
    hash_key(&(i as u64).to_le_bytes())
}

/// How many of `picks` picks (guards dropped at once) go to each endpoint.
fn counts(b: &Balancer, n: usize, picks: usize) -> Vec<usize> {
    let mut out = vec![0; n];
    for i in 0..picks {
        let p = b.pick(key(i), &[]).map(|p| p.index);
        out[p.expect("a pick")] += 1;
    }
    out
}

#[test]
fn weights_are_honoured_by_every_kind() {
    for kind in KINDS {
        let b = Balancer::new(kind, &weighted(&[1, 3]));
        let c = counts(&b, 2, 40_000);
        let share = c[0] as f64 / 40_000.0;
        assert!((share - 0.25).abs() < 0.03, "{kind:?}: {c:?}");
    }
    // Round robin is exact over whole periods.
    let b = Balancer::new(LoadBalancer::RoundRobin, &weighted(&[2, 3, 5]));
    assert_eq!(counts(&b, 3, 10_000), [2_000, 3_000, 5_000]);
}

#[test]
fn round_robin_is_smooth() {
    assert_eq!(&*schedule(&[2, 3]), [1, 0, 1, 0, 1]);
    assert_eq!(&*schedule(&[1, 1, 1]), [0, 1, 2]);
    assert_eq!(&*schedule(&[3, 3]), [0, 1], "reduced by the gcd");
    assert_eq!(&*schedule(&[100, 300]), [1, 0, 1, 1]);
    // Picks follow the schedule, from a random start.
    let b = Balancer::new(LoadBalancer::RoundRobin, &weighted(&[2, 3]));
    let Algo::RoundRobin(rr) = &b.algo else {
        panic!("not round robin")
    };
    assert_eq!(rr.turns(), [1, 0, 1, 0, 1]);
    let picks: Vec<u32> = (0..10)
        .map(|_| b.pick(0, &[]).expect("a pick").index as u32)
        .collect();
    let start = (0..5)
        .find(|s| (0..10).all(|i| picks[i] == rr.turns()[(s + i) % 5]))
        .map(|_| ());
    assert_eq!(start, Some(()), "{picks:?}");
    // In every window of the (cyclic) schedule, each endpoint's share is
    // within 2 turns of its weight's share.
    for weights in [&[5u32, 2, 1][..], &[7, 1], &[1, 2, 3, 4], &[10, 9, 1]] {
        let s = schedule(weights);
        let total: u32 = weights.iter().sum();
        for len in 1..=s.len() {
            for start in 0..s.len() {
                for (slot, w) in weights.iter().enumerate() {
                    let got = (0..len)
                        .filter(|i| s[(start + i) % s.len()] as usize == slot)
                        .count() as f64;
                    let ideal = len as f64 * f64::from(*w) / f64::from(total);
                    assert!(
                        (got - ideal).abs() <= 2.0,
                        "{weights:?} {s:?} window {start}+{len}"
                    );
                }
            }
        }
    }
}

#[test]
fn round_robin_schedule_is_bounded() {
    let s = schedule(&[10_000, 9_999, 1]);
    assert!(s.len() as u64 <= SCHEDULE_MAX + 3, "{}", s.len());
    let ones = s.iter().filter(|x| **x == 2).count();
    assert!(ones >= 1, "every endpoint keeps a turn");
    let s = schedule(&[u32::MAX, u32::MAX - 1, 1]);
    assert!(s.len() as u64 <= SCHEDULE_MAX + 3);
    let b = Balancer::new(LoadBalancer::RoundRobin, &weighted(&[u32::MAX, 1]));
    assert!(b.pick(0, &[]).is_some());
}

#[test]
fn round_robin_across_threads_is_exact() {
    let b = Arc::new(Balancer::new(LoadBalancer::RoundRobin, &weighted(&[1, 3])));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let b = Arc::clone(&b);
            std::thread::spawn(move || {
                let mut c = [0usize; 2];
                for _ in 0..10_000 {
                    c[b.pick(0, &[]).expect("a pick").index] += 1;
                }
                c
            })
        })
        .collect();
    let mut total = [0usize; 2];
    for h in handles {
        let c = h.join().expect("thread");
        total[0] += c[0];
        total[1] += c[1];
    }
    assert_eq!(total, [10_000, 30_000]);
}

#[test]
fn drained_endpoints_are_never_picked() {
    for kind in KINDS {
        let b = Balancer::new(kind, &weighted(&[0, 2, 0, 1]));
        assert_eq!(b.pickable(), 2);
        let c = counts(&b, 4, 4_000);
        assert_eq!((c[0], c[2]), (0, 0), "{kind:?}: {c:?}");
        assert!(c[1] > 0 && c[3] > 0, "{kind:?}: {c:?}");
        // Even for a retry that excluded every pickable one.
        for _ in 0..100 {
            let p = b.pick(7, &[1, 3]).expect("a pick").index;
            assert!(p == 1 || p == 3, "{kind:?}: {p}");
        }
        for none in [&[][..], &[0, 0, 0][..]] {
            let b = Balancer::new(kind, &weighted(none));
            assert!(b.pick(1, &[]).is_none(), "{kind:?}");
            assert!(b.pick(1, &[0]).is_none(), "{kind:?}");
            assert_eq!(b.pickable(), 0);
        }
    }
}

#[test]
fn unhealthy_endpoints_are_skipped_until_all_are() {
    use Health::*;
    for kind in KINDS {
        let list = vec![
            endpoint(0, 1, Unhealthy),
            endpoint(1, 1, Healthy),
            endpoint(2, 1, Unknown),
            endpoint(3, 5, Unhealthy),
        ];
        let b = Balancer::new(kind, &list);
        assert!(!b.panic_mode());
        let c = counts(&b, 4, 4_000);
        assert_eq!((c[0], c[3]), (0, 0), "{kind:?}: {c:?}");
        // Retries stay off unhealthy ones too.
        assert!(b
            .pick(3, &[1, 2])
            .is_some_and(|p| p.index == 1 || p.index == 2));

        // Panic mode: every endpoint of non-zero weight is unhealthy (a
        // healthy drained one does not count).
        let list = vec![
            endpoint(0, 1, Unhealthy),
            endpoint(1, 0, Healthy),
            endpoint(2, 3, Unhealthy),
        ];
        let b = Balancer::new(kind, &list);
        assert!(b.panic_mode(), "{kind:?}");
        let c = counts(&b, 3, 4_000);
        assert_eq!(c[1], 0, "{kind:?}: {c:?}");
        assert!(c[0] > 0 && c[2] > c[0], "{kind:?}: {c:?}");
    }
}

#[test]
fn retries_avoid_tried_endpoints() {
    for kind in KINDS {
        let b = Balancer::new(kind, &weighted(&[1, 1, 1]));
        for i in 0..3_000 {
            let p = b.pick(key(i), &[0]).expect("a pick").index;
            assert_ne!(p, 0, "{kind:?}");
            let p = b.pick(key(i), &[2, 0]).expect("a pick").index;
            assert_eq!(p, 1, "{kind:?}");
            // All tried: one of them again rather than nothing.
            assert!(b.pick(key(i), &[0, 1, 2]).is_some(), "{kind:?}");
        }
        // Both others get retries.
        let c = (0..3_000).fold([0; 3], |mut c, i| {
            c[b.pick(key(i), &[0]).expect("a pick").index] += 1;
            c
        });
        assert!(c[1] > 900 && c[2] > 900, "{kind:?}: {c:?}");
        // Out-of-range indexes in exclude are ignored.
        assert!(b.pick(1, &[99, usize::MAX]).is_some());
    }
    // A heavy excluded endpoint fills long runs of the schedule: the light
    // one is still found.
    let b = Balancer::new(LoadBalancer::RoundRobin, &weighted(&[10_000, 1]));
    for _ in 0..1_000 {
        assert_eq!(b.pick(0, &[0]).expect("a pick").index, 1);
    }
}

#[test]
fn ring_hash_is_sticky_and_deterministic() {
    let list = weighted(&[1, 1, 1, 1]);
    let a = Balancer::new(LoadBalancer::RingHash, &list);
    let b = Balancer::new(LoadBalancer::RingHash, &list);
    for i in 0..1_000 {
        let first = a.pick(key(i), &[]).expect("a pick").index;
        assert_eq!(a.pick(key(i), &[]).expect("a pick").index, first);
        assert_eq!(b.pick(key(i), &[]).expect("a pick").index, first);
        // A retry goes to a fixed other endpoint too.
        let retry = a.pick(key(i), &[first]).expect("a pick").index;
        assert_ne!(retry, first);
        assert_eq!(b.pick(key(i), &[first]).expect("a pick").index, retry);
    }
    // Ring size: 256 points per endpoint of the lightest weight.
    let Algo::RingHash(ring) = &a.algo else {
        panic!("not a ring")
    };
    assert_eq!(ring.len(), 4 * 256);
    let big = Balancer::new(LoadBalancer::RingHash, &weighted(&[10_000, 1, 5_000]));
    let Algo::RingHash(ring) = &big.algo else {
        panic!("not a ring")
    };
    assert!(ring.len() as u64 <= ring::RING_MAX + 3, "{}", ring.len());
}

/// The endpoint address owning each of `keys` keys.
fn owners(list: &[EndpointEntry], keys: usize) -> Vec<String> {
    let b = Balancer::new(LoadBalancer::RingHash, list);
    (0..keys)
        .map(|i| {
            list[b.pick(key(i), &[]).expect("a pick").index]
                .address
                .clone()
        })
        .collect()
}

#[test]
fn ring_hash_moves_only_the_keys_it_must() {
    const KEYS: usize = 20_000;
    for weights in [&[1u32; 10][..], &[1, 2, 3, 1, 2, 3, 1, 2, 3, 4]] {
        let list = weighted(weights);
        let before = owners(&list, KEYS);

        // Removing endpoint 3 moves its keys and only those.
        let mut fewer = list.clone();
        let gone = fewer.remove(3).address;
        let after = owners(&fewer, KEYS);
        for (b, a) in before.iter().zip(&after) {
            if *b != gone {
                assert_eq!(a, b, "{weights:?}");
            } else {
                assert_ne!(a, &gone);
            }
        }

        // Adding an endpoint takes about its share of keys, from everyone,
        // and moves nothing else.
        let mut more = list.clone();
        more.push(endpoint(10, 1, Health::Unknown));
        let new = more[10].address.clone();
        let after = owners(&more, KEYS);
        let moved = before.iter().zip(&after).filter(|(b, a)| b != a).count();
        for (b, a) in before.iter().zip(&after) {
            assert!(a == b || *a == new, "{weights:?}");
        }
        let total: u32 = weights.iter().sum::<u32>() + 1;
        let share = moved as f64 / KEYS as f64;
        let ideal = 1.0 / f64::from(total);
        assert!(
            (share - ideal).abs() < ideal * 0.35,
            "{weights:?}: {share} vs {ideal}"
        );
    }
}

#[test]
fn ring_hash_spreads_keys_by_weight() {
    let weights = [1u32, 2, 3, 4];
    let b = Balancer::new(LoadBalancer::RingHash, &weighted(&weights));
    let c = counts(&b, 4, 50_000);
    for (i, w) in weights.iter().enumerate() {
        let share = c[i] as f64 / 50_000.0;
        let ideal = f64::from(*w) / 10.0;
        assert!((share - ideal).abs() < 0.03, "{c:?}");
    }
}

#[test]
fn least_request_prefers_idle_endpoints() {
    let b = Balancer::new(LoadBalancer::LeastRequest, &weighted(&[1, 1, 1, 1]));
    // Load 3, 2, 1, 0 on endpoints 0..4: hold guards until it is so.
    let want = [3u64, 2, 1, 0];
    let mut held = Vec::new();
    for _ in 0..10_000 {
        if (0..4).all(|i| b.outstanding(i) == want[i]) {
            break;
        }
        let p = b.pick(0, &[]).expect("a pick");
        if b.outstanding(p.index) <= want[p.index] {
            held.push(p);
        }
    }
    assert_eq!((0..4).map(|i| b.outstanding(i)).collect::<Vec<_>>(), want);
    let c = counts(&b, 4, 12_000);
    assert_eq!(c[0], 0, "the most loaded never wins: {c:?}");
    // Endpoint 3 is in half of the pairs and wins them all.
    assert!(c[3] > 5_400, "{c:?}");
    assert!(c[3] > c[2] && c[2] > c[1], "{c:?}");
    drop(held);
    assert_eq!((0..4).map(|i| b.outstanding(i)).sum::<u64>(), 0);

    // Load per unit of weight: one in flight on each, weights 1:3, the
    // heavier one always wins.
    let b = Balancer::new(LoadBalancer::LeastRequest, &weighted(&[1, 3]));
    let mut held = Vec::new();
    while b.outstanding(0) == 0 || b.outstanding(1) == 0 {
        let p = b.pick(0, &[]).expect("a pick");
        if b.outstanding(p.index) == 1 {
            held.push(p);
        }
    }
    assert_eq!((b.outstanding(0), b.outstanding(1)), (1, 1));
    for _ in 0..100 {
        assert_eq!(b.pick(0, &[]).expect("a pick").index, 1);
    }
}

#[test]
fn in_flight_guards_outlive_the_balancer() {
    let b = Balancer::new(LoadBalancer::LeastRequest, &weighted(&[1]));
    let p = b.pick(0, &[]).expect("a pick");
    assert_eq!(b.outstanding(0), 1);
    drop(b);
    drop(p);
    // Other kinds count nothing.
    let b = Balancer::new(LoadBalancer::RoundRobin, &weighted(&[1]));
    let _p = b.pick(0, &[]);
    assert_eq!(b.outstanding(0), 0);
}

#[test]
fn hashes_are_fixed() {
    // Published FNV-1a 64 vectors, then pinned outputs of the finalizer:
    // changing them remaps every ring-hash key of every deployment.
    assert_eq!(fnv1a(FNV_OFFSET, b"a"), 0xaf63_dc4c_8601_ec8c);
    assert_eq!(fnv1a(FNV_OFFSET, b"foobar"), 0x8594_4171_f739_67e8);
    assert_eq!(hash_key(b""), mix64(0xcbf2_9ce4_8422_2325));
    assert_eq!(hash_key(b"user-42"), PINNED_USER_42);
    assert_eq!(
        hash_ip("10.1.2.3".parse().expect("ip")),
        hash_key(&[10, 1, 2, 3])
    );
    assert_eq!(
        hash_ip("::ffff:10.1.2.3".parse().expect("ip")),
        hash_ip("10.1.2.3".parse().expect("ip"))
    );
    assert_ne!(hash_ip("::1".parse().expect("ip")), hash_key(b""));
}

/// `hash_key(b"user-42")`, computed independently (Python) from the definition.
const PINNED_USER_42: u64 = 0xa395_32c7_ab05_1e8d;

#[test]
fn balancers_are_shareable() {
    fn shareable<T: Send + Sync>() {}
    shareable::<Balancer>();
    fn sendable<T: Send>() {}
    sendable::<Pick>();
}

fn any_endpoints() -> impl Strategy<Value = Vec<EndpointEntry>> {
    let weight = prop_oneof![Just(0u32), 1u32..5, Just(10_000), any::<u32>()];
    let health = prop_oneof![
        Just(Health::Unknown),
        Just(Health::Healthy),
        Just(Health::Unhealthy)
    ];
    prop::collection::vec((weight, health), 0..8).prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (w, h))| endpoint(i, w, h))
            .collect()
    })
}

proptest! {
    #[test]
    fn picks_follow_the_rules(
        list in any_endpoints(),
        kind in prop::sample::select(KINDS.to_vec()),
        exclude in prop::collection::vec(0usize..10, 0..4),
        hash in any::<u64>(),
    ) {
        let b = Balancer::new(kind, &list);
        let weighted: Vec<usize> = (0..list.len()).filter(|i| list[*i].weight > 0).collect();
        let healthy: Vec<usize> = weighted.iter().copied()
            .filter(|i| list[*i].health != Health::Unhealthy).collect();
        let usable = if healthy.is_empty() { &weighted } else { &healthy };
        let fresh = usable.iter().any(|i| !exclude.contains(i));
        let mut held = Vec::new();
        for _ in 0..20 {
            match b.pick(hash, &exclude) {
                None => prop_assert!(weighted.is_empty()),
                Some(p) => {
                    prop_assert!(usable.contains(&p.index), "{} not in {:?}", p.index, usable);
                    if fresh {
                        prop_assert!(!exclude.contains(&p.index));
                    }
                    held.push(p);
                }
            }
        }
        prop_assert_eq!(b.pickable(), usable.len());
        prop_assert_eq!(b.panic_mode(), healthy.is_empty() && !weighted.is_empty());
    }
}
