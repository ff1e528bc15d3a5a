//! Tests of table diff/apply/hash and of precedence keys.

use super::*;
use crate::model::{HeaderMatch, Match, PathMatch, ValueMatch};
use crate::model::{HeaderName, Pattern};
use crate::spec::{HttpMethod, RouteSpec, ServiceSpec};
use proptest::prelude::*;

fn service(name: &str, port: u16) -> Part {
    Part::new(PartBody::Service(ServicePart {
        name: name.to_owned(),
        spec: ServiceSpec::default(),
        endpoints: vec![EndpointEntry {
            name: format!("{name}-1"),
            address: "127.0.0.1".to_owned(),
            port,
            weight: 1,
            zone: None,
            labels: BTreeMap::new(),
            health: Health::Unknown,
        }],
        implicit_hostnames: vec![name.to_owned(), format!("{name}.mesh")],
    }))
}

fn route(name: &str, created: i64) -> Part {
    Part::new(PartBody::Route(RoutePart {
        name: name.to_owned(),
        created_revision: created,
        spec: RouteSpec::default(),
        unresolved_backends: BTreeSet::new(),
    }))
}

fn table(revision: i64, parts: Vec<Part>) -> RouteTable {
    RouteTable::from_parts(revision, parts).expect("valid parts")
}

#[test]
fn diff_then_apply_gives_the_new_table() {
    let old = table(1, vec![service("a", 1), service("b", 2), route("r", 1)]);
    let new = table(2, vec![service("a", 1), service("b", 3), route("s", 2)]);
    let changes = new.diff(&old);
    assert_eq!(changes.upserts.len(), 2, "b changed, s added");
    assert_eq!(changes.removes, vec![PartId::Route("r".into())]);
    let applied = old.apply(2, &changes, new.hash()).expect("applies");
    assert_eq!(applied, new);
    assert!(new.diff(&new).is_empty());
}

#[test]
fn apply_checks_hashes() {
    let old = table(1, vec![service("a", 1)]);
    let new = table(2, vec![service("a", 2)]);
    let mut changes = new.diff(&old);
    assert!(matches!(
        old.apply(2, &changes, old.hash()),
        Err(TableError::TableHash { .. })
    ));
    changes.upserts[0].hash ^= 1;
    assert!(matches!(
        old.apply(2, &changes, new.hash()),
        Err(TableError::PartHash { .. })
    ));
}

#[test]
fn hash_ignores_revision_and_sees_content() {
    let a = table(1, vec![service("a", 1)]);
    let b = table(9, vec![service("a", 1)]);
    let c = table(1, vec![service("a", 2)]);
    assert_eq!(a.hash(), b.hash());
    assert_ne!(a.hash(), c.hash());
    assert_ne!(table(1, vec![]).hash(), a.hash());
}

#[test]
fn json_round_trip() {
    let t = table(5, vec![service("a", 1), route("r", 3)]);
    let json = serde_json::to_string(&t).expect("serializes");
    let back: RouteTable = serde_json::from_str(&json).expect("parses");
    assert_eq!(back, t);
    assert_eq!(back.hash(), t.hash());
}

fn m(path: PathMatch, method: bool, headers: usize) -> Match {
    Match {
        path,
        headers: (0..headers)
            .map(|i| HeaderMatch {
                name: HeaderName::parse(&format!("x-{i}")).expect("valid header name"),
                value: ValueMatch::Exact("v".into()),
            })
            .collect(),
        query_params: vec![],
        method: method.then_some(HttpMethod::Get),
    }
}

#[test]
fn precedence_follows_gateway_api() {
    let exact = MatchKey::new(&m(PathMatch::Exact("/a".into()), false, 0), 9, "z", 0, 0);
    let long_prefix = MatchKey::new(&m(PathMatch::Prefix("/abc".into()), false, 0), 9, "z", 0, 0);
    let short_prefix = MatchKey::new(&m(PathMatch::Prefix("/a".into()), false, 0), 1, "a", 0, 0);
    let with_method = MatchKey::new(&m(PathMatch::Prefix("/a".into()), true, 0), 9, "z", 0, 0);
    let with_headers = MatchKey::new(&m(PathMatch::Prefix("/a".into()), false, 2), 9, "z", 0, 0);
    let regex = MatchKey::new(
        &m(
            PathMatch::Regex(Pattern::parse("/.*").expect("valid")),
            true,
            5,
        ),
        1,
        "a",
        0,
        0,
    );
    let older = MatchKey::new(&m(PathMatch::Prefix("/a".into()), false, 0), 0, "z", 0, 0);
    let by_name = MatchKey::new(&m(PathMatch::Prefix("/a".into()), false, 0), 1, "b", 0, 0);
    let later_rule = MatchKey::new(&m(PathMatch::Prefix("/a".into()), false, 0), 1, "a", 1, 0);
    assert!(exact < long_prefix);
    assert!(long_prefix < with_method);
    assert!(with_method < with_headers);
    assert!(with_headers < older);
    assert!(older < short_prefix);
    assert!(short_prefix < by_name);
    assert!(short_prefix < later_rule);
    assert!(later_rule < by_name);
    assert!(by_name < regex);
}

proptest! {
    #[test]
    fn diff_apply_round_trip(
        old_ports in proptest::collection::btree_map("[a-e]", 1u16..4, 0..5),
        new_ports in proptest::collection::btree_map("[a-e]", 1u16..4, 0..5),
    ) {
        let old = table(1, old_ports.iter().map(|(n, p)| service(n, *p)).collect());
        let new = table(2, new_ports.iter().map(|(n, p)| service(n, *p)).collect());
        let changes = new.diff(&old);
        prop_assert_eq!(old.apply(2, &changes, new.hash()), Ok(new.clone()));
        prop_assert_eq!(changes.is_empty(), old.hash() == new.hash());
    }
}
