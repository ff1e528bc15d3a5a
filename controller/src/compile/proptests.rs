//! Property tests: the table is a function of the mirror's contents alone,
//! whatever order the keys arrived in and whatever a [`Compiler`] compiled
//! before.

use super::tests::{endpoint, route, service};
use super::*;
use crate::mirror::StoredValue;
use proptest::prelude::*;
use serde_json::{json, Value};
use std::sync::Arc;

const SERVICES: [&str; 5] = ["a", "b", "c", "d", "e"];
/// Backends and endpoint services: `f` is never a service.
const TARGETS: [&str; 6] = ["a", "b", "c", "d", "e", "f"];
const HOSTS: [&str; 6] = ["a", "b.mesh", "*.mesh", "x.example.com", "c", "d.mesh"];

fn pick(list: &'static [&'static str]) -> impl Strategy<Value = &'static str> {
    proptest::sample::select(list)
}

/// One key and value: a valid or broken resource, a health record, or
/// noise.
fn key_value() -> impl Strategy<Value = (String, Vec<u8>)> {
    let svc = (pick(&SERVICES), any::<bool>()).prop_map(|(n, ok)| {
        let v = if ok {
            service(n)
        } else {
            json!({"kind": "Service", "name": n, "spec": {"connectTimeout": "soon"}})
        };
        (format!("/mesh/services/{n}"), v)
    });
    let ep = (pick(&TARGETS), 0..4u8, 1..4u16, any::<bool>()).prop_map(|(s, i, port, ok)| {
        let name = format!("{s}-{i}");
        let mut v = endpoint(s, &name, port);
        if !ok {
            v["spec"]["address"] = json!("not-an-ip");
        }
        (format!("/mesh/endpoints/{s}/{name}"), v)
    });
    let rt = (
        0..8u8,
        proptest::sample::subsequence(HOSTS.to_vec(), 0..3),
        proptest::sample::subsequence(TARGETS.to_vec(), 0..3),
        0..4u8,
    )
        .prop_map(|(i, hosts, backends, variant)| {
            let name = format!("r{i}");
            let mut v = route(&name, &hosts, &backends);
            match variant {
                0 => v["spec"]["rules"][0]["matches"][0]["path"]["value"] = json!("no-slash"),
                1 => v["name"] = json!("misnamed"),
                _ => {}
            }
            (format!("/mesh/routes/{name}"), v)
        });
    let health = (pick(&TARGETS), 0..4u8, 0..3u8).prop_map(|(s, i, h)| {
        let v = match h {
            0 => json!({"status": "healthy"}),
            1 => json!({"status": "unhealthy", "reason": "down"}),
            _ => json!({"status": "meh"}),
        };
        (format!("/mesh/health/{s}/{s}-{i}"), v)
    });
    let noise = (0..3u8).prop_map(|i| (format!("/mesh/status/resources/routes/r{i}"), json!(i)));
    prop_oneof![svc, ep, rt, health, noise].prop_map(|(k, v)| (k, v.to_string().into_bytes()))
}

/// A final state (keys with their fixed revisions), an arrival order, and
/// values the keys held before (compiled on the way).
#[derive(Debug, Clone)]
struct Case {
    /// key → (value, create revision, mod revision).
    fin: BTreeMap<String, (Vec<u8>, i64, i64)>,
    order: Vec<usize>,
    earlier: Vec<Option<Vec<u8>>>,
    /// Compile after this many arrivals, and at the end.
    every: usize,
}

fn case() -> impl Strategy<Value = Case> {
    proptest::collection::vec(key_value(), 1..30)
        .prop_flat_map(|kvs| {
            let mut fin = BTreeMap::new();
            for (i, (k, v)) in kvs.into_iter().enumerate() {
                // Two keys may share a revision (one etcd transaction).
                let rev = 10 + i64::try_from(i / 2).unwrap_or(0);
                fin.insert(k, (v, rev, rev + 100));
            }
            let n = fin.len();
            let order = Just((0..n).collect::<Vec<_>>()).prop_shuffle();
            let earlier = proptest::collection::vec(
                proptest::option::of(key_value().prop_map(|(_, v)| v)),
                n,
            );
            (Just(fin), order, earlier, 1..5usize)
        })
        .prop_map(|(fin, order, earlier, every)| Case {
            fin,
            order,
            earlier,
            every,
        })
}

fn stored(value: &[u8], create: i64, modified: i64) -> StoredValue {
    StoredValue {
        value: Arc::from(value),
        create_revision: create,
        mod_revision: modified,
        lease: 0,
    }
}

const FINAL_REVISION: i64 = 1_000;

fn final_mirror(case: &Case) -> Mirror {
    Mirror {
        revision: FINAL_REVISION,
        kvs: case
            .fin
            .iter()
            .map(|(k, (v, c, m))| (k.clone(), stored(v, *c, *m)))
            .collect(),
    }
}

fn bytes(c: &Compiled) -> Vec<u8> {
    serde_json::to_vec(&c.table).expect("a table serializes")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn same_contents_same_table(case in case()) {
        let keys = Keys::default();
        let reference = compile(&keys, &final_mirror(&case));
        let entries: Vec<_> = case.fin.iter().collect();

        // Keys arrive in a shuffled order, some first with another value;
        // one compiler follows along.
        let mut compiler = Compiler::new(keys.clone());
        let mut mirror = Mirror::default();
        for (step, &i) in case.order.iter().enumerate() {
            let (key, (value, create, modified)) = entries[i];
            if let Some(before) = &case.earlier[i] {
                mirror.revision += 1;
                mirror.kvs.insert(key.clone(), stored(before, mirror.revision, mirror.revision));
                compiler.compile(&mirror);
            }
            mirror.revision += 1;
            mirror.kvs.insert(key.clone(), stored(value, *create, *modified));
            if step % case.every == 0 {
                compiler.compile(&mirror);
            }
        }
        mirror.revision = FINAL_REVISION;
        prop_assert_eq!(&mirror, &final_mirror(&case));
        let incremental = compiler.compile(&mirror);
        prop_assert_eq!(bytes(&incremental), bytes(&reference));
        prop_assert_eq!(incremental.table.hash(), reference.table.hash());
        prop_assert_eq!(&incremental, &reference);
        // Compiling again changes nothing.
        prop_assert_eq!(&compiler.compile(&mirror), &reference);

        // Every resource key has a status; health and noise do not.
        let resources = case.fin.keys()
            .filter(|k| matches!(keys.parse(k), Some(mesh_config::keys::KeyRef::Resource(_))))
            .count();
        prop_assert_eq!(reference.statuses.len(), resources);
        prop_assert_eq!(
            reference.counts.total(State::Accepted) + reference.counts.total(State::Rejected),
            resources
        );
    }

    #[test]
    fn deleting_keys_matches_a_fresh_compile(case in case(), gone in proptest::collection::vec(any::<prop::sample::Index>(), 0..6)) {
        let keys = Keys::default();
        let mut mirror = final_mirror(&case);
        let mut compiler = Compiler::new(keys.clone());
        compiler.compile(&mirror);
        let all: Vec<String> = mirror.kvs.keys().cloned().collect();
        for g in gone {
            mirror.kvs.remove(g.get(&all));
        }
        mirror.revision += 1;
        let reference = compile(&keys, &mirror);
        let incremental = compiler.compile(&mirror);
        prop_assert_eq!(bytes(&incremental), bytes(&reference));
        prop_assert_eq!(&incremental, &reference);
    }
}

#[test]
fn a_rejected_resource_leaves_the_rest_unchanged() {
    // Exhaustive over one small universe: dropping any single rejected
    // resource gives the same table.
    let mut etcd = super::tests::Etcd::default();
    etcd.put("/mesh/services/a", &service("a"))
        .put("/mesh/endpoints/a/a-1", &endpoint("a", "a-1", 1))
        .put("/mesh/routes/r1", &route("r1", &["a"], &["a", "f"]))
        .put("/mesh/routes/r2", &route("r2", &["x.example.com"], &["a"]));
    let good = etcd.mirror.clone();
    let broken: [(&str, Value); 3] = [
        (
            "/mesh/routes/r0",
            json!({"kind": "Route", "name": "r0", "spec": {"hostnames": ["a.mesh"], "rules": [{"timeouts": {"request": "x"}}]}}),
        ),
        (
            "/mesh/services/b",
            json!({"kind": "Service", "name": "b", "spec": {"loadBalancer": "random"}}),
        ),
        (
            "/mesh/endpoints/a/a-2",
            json!({"kind": "Endpoint", "name": "a-2", "spec": {"service": "a", "address": "::", "port": 0}}),
        ),
    ];
    for (key, value) in broken {
        let mut with = good.clone();
        with.kvs
            .insert(key.to_owned(), stored(value.to_string().as_bytes(), 50, 50));
        let c = compile(&Keys::default(), &with);
        let reference = compile(&Keys::default(), &good);
        assert_eq!(bytes(&c), bytes(&reference), "{key}");
        assert_eq!(c.counts.total(State::Rejected), 1, "{key}");
    }
}
