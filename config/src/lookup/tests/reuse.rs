//! Rebuilding from a previous index ([`RouteIndex::build_from`]): the
//! validated routes of unchanged parts are reused (shared, not validated
//! again), and the result is always the index a fresh build gives.

use super::reference::{parts, request};
use super::{find, route, service, table};
use crate::lookup::{RouteIndex, SimpleRequest};
use crate::table::{Part, PartId, RouteTable};
use proptest::collection::vec;
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::sync::Arc;

fn build_from(t: &RouteTable, previous: Option<&RouteIndex>) -> RouteIndex {
    match RouteIndex::build_from(t, previous) {
        Ok(i) => i,
        Err(e) => panic!("index does not build: {e}"),
    }
}

#[test]
fn an_unchanged_route_is_reused_and_a_changed_one_validated() {
    let old = table(vec![
        route("a", 1, "{hostnames: [a.example.com]}"),
        route("b", 2, "{hostnames: [b.example.com]}"),
        service("orders", &["orders", "orders.mesh"]),
    ]);
    let old_index = build_from(&old, None);
    let mut new = old.clone();
    let b = route("b", 2, "{hostnames: [b.example.com, orders]}");
    new.parts.insert(b.id(), b);
    let index = build_from(&new, Some(&old_index));
    let (o, n) = (old_index.routes(), index.routes());
    assert_eq!(n.len(), 3);
    assert!(Arc::ptr_eq(&o[0].route, &n[0].route), "route a is reused");
    assert!(!Arc::ptr_eq(&o[1].route, &n[1].route), "route b is new");
    // Route b now claims `orders`: the service route loses it.
    assert_eq!(n[2].name, "service:orders");
    assert_eq!(n[2].route.hostnames.len(), 1);
    assert_eq!(n, build_from(&new, None).routes());
    assert_eq!(
        find(&index, &SimpleRequest::new("GET", "orders", "/")).map(|h| h.0),
        Some("b".into())
    );

    // Nothing changed: everything is reused, service route included.
    let again = build_from(&new, Some(&index));
    for (x, y) in index.routes().iter().zip(again.routes()) {
        assert!(Arc::ptr_eq(&x.route, &y.route), "{} is reused", x.name);
    }
}

#[test]
fn an_equal_part_in_a_new_body_is_reused_and_a_stale_hash_is_not_trusted() {
    let old = table(vec![route("a", 1, "{hostnames: [a.example.com]}")]);
    let old_index = build_from(&old, None);
    // Same content, another allocation (as after parsing a full table).
    let copy = route("a", 1, "{hostnames: [a.example.com]}");
    let index = build_from(&table(vec![copy]), Some(&old_index));
    assert!(Arc::ptr_eq(
        &old_index.routes()[0].route,
        &index.routes()[0].route
    ));
    // Other content under the old hash (a table built by hand): validated.
    let mut forged = route("a", 1, "{hostnames: [x.example.com]}");
    forged.hash = old_index.routes()[0].part.hash;
    let t = RouteTable {
        revision: 2,
        parts: [(PartId::Route("a".into()), forged)].into(),
    };
    let index = build_from(&t, Some(&old_index));
    assert!(find(&index, &SimpleRequest::new("GET", "x.example.com", "/")).is_some());
    assert!(find(&index, &SimpleRequest::new("GET", "a.example.com", "/")).is_none());
}

/// The new table: for each part id of `old` or `other`, by the next choice,
/// the old part, the old part in a new allocation, the other table's part,
/// or none.
fn mix(old: &[Part], other: &[Part], choices: &[u8]) -> Vec<Part> {
    let mut ids: BTreeMap<PartId, (Option<&Part>, Option<&Part>)> = BTreeMap::new();
    for p in old {
        ids.entry(p.id()).or_default().0 = Some(p);
    }
    for p in other {
        ids.entry(p.id()).or_default().1 = Some(p);
    }
    let mut out = Vec::new();
    for (k, (_, (o, n))) in ids.into_iter().enumerate() {
        let choice = choices.get(k).copied().unwrap_or(0) % 4;
        let part = match choice {
            0 => o.cloned(),
            1 => o.map(|p| Part::new((*p.body).clone())),
            2 => n.cloned(),
            _ => None,
        };
        out.extend(part);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn a_rebuild_from_a_previous_index_equals_a_fresh_build(
        old in parts(true),
        other in parts(true),
        choices in vec(any::<u8>(), 8),
        reqs in vec(request(), 1..=16),
    ) {
        let old_index = RouteIndex::build(&table(old.clone())).ok();
        let new = table(mix(&old, &other, &choices));
        let fresh = RouteIndex::build(&new);
        let reused = RouteIndex::build_from(&new, old_index.as_ref());
        let (fresh, reused) = match (fresh, reused) {
            (Ok(f), Ok(r)) => (f, r),
            (Err(f), Err(r)) => {
                prop_assert_eq!(f, r);
                return Ok(());
            }
            (f, r) => return Err(TestCaseError::fail(format!("fresh {f:?}, reused {r:?}"))),
        };
        prop_assert_eq!(fresh.routes(), reused.routes());
        for (method, host, path, query, headers) in &reqs {
            let req = SimpleRequest { host, method, path, query: query.as_deref(), headers };
            prop_assert_eq!(find(&fresh, &req), find(&reused, &req), "request {:?}", req);
        }
    }
}
