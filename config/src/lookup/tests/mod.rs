//! Tests of the route lookup: one unit test per Gateway API rule (`paths`,
//! `conditions`, `hosts`), the build's checks (`build`), the proof that the
//! index visits matches in `MatchKey` order (`order`), and the key
//! correctness property: the index agrees with a naive linear scan on random
//! tables and requests (`reference`), also after a rebuild from a previous
//! index (`reuse`).

mod build;
mod conditions;
mod hosts;
mod order;
mod paths;
mod reference;
mod reuse;

use super::{RouteIndex, SimpleRequest};
use crate::spec::{RouteSpec, ServiceSpec};
use crate::table::{Part, PartBody, RoutePart, RouteTable, ServicePart};
use std::collections::BTreeSet;

/// A Route part from its spec in YAML (flow style is fine).
pub(super) fn route(name: &str, created_revision: i64, spec: &str) -> Part {
    let spec: RouteSpec = match serde_yaml_ng::from_str(spec) {
        Ok(s) => s,
        Err(e) => panic!("test route spec does not parse: {e}\n{spec}"),
    };
    Part::new(PartBody::Route(RoutePart {
        name: name.to_owned(),
        created_revision,
        spec,
        unresolved_backends: BTreeSet::new(),
    }))
}

/// A Service part with these implicit hostnames and no endpoints.
pub(super) fn service(name: &str, implicit_hostnames: &[&str]) -> Part {
    Part::new(PartBody::Service(ServicePart {
        name: name.to_owned(),
        spec: ServiceSpec::default(),
        endpoints: Vec::new(),
        implicit_hostnames: implicit_hostnames.iter().map(|h| (*h).to_owned()).collect(),
    }))
}

pub(super) fn table(parts: Vec<Part>) -> RouteTable {
    match RouteTable::from_parts(1, parts) {
        Ok(t) => t,
        Err(e) => panic!("bad test table: {e}"),
    }
}

/// The index of a table of these parts, which must build.
pub(super) fn index(parts: Vec<Part>) -> RouteIndex {
    match RouteIndex::build(&table(parts)) {
        Ok(i) => i,
        Err(e) => panic!("index does not build: {e}"),
    }
}

/// What a lookup found: route name, rule index, match index.
pub(super) type Hit = Option<(String, usize, usize)>;

pub(super) fn find(index: &RouteIndex, req: &SimpleRequest<'_>) -> Hit {
    index
        .lookup(req)
        .map(|m| (m.route.name.clone(), m.rule_index, m.match_index))
}

/// Looks up `GET host target` with no headers.
pub(super) fn get(index: &RouteIndex, host: &str, target: &str) -> Hit {
    find(index, &SimpleRequest::new("GET", host, target))
}

/// The hit `(route, rule, match)`.
pub(super) fn hit(route: &str, rule: usize, index: usize) -> Hit {
    Some((route.to_owned(), rule, index))
}
