//! The key correctness property: on random small tables and random
//! requests, [`RouteIndex::lookup`] finds what a naive reference finds: a
//! linear scan over every match of the chosen host bucket, sorted by
//! [`MatchKey`], checking each condition the simple way.
//!
//! The tables are drawn from small pools of hostnames, paths, headers and
//! query parameters so that matches overlap, tie and shadow each other
//! often; services add implicit routes, sometimes claimed by a route.

use super::{table, Hit};
use crate::lookup::{normalize_host, HostBuf, IndexedRoute, RouteIndex, SimpleRequest};
use crate::model::{Hostname, PathMatch, ValueMatch};
use crate::spec::{self, HttpMethod, PathMatchType, RouteSpec, ServiceSpec, ValueMatchType};
use crate::table::{MatchKey, Part, PartBody, RoutePart, ServicePart};
use proptest::collection::{btree_map, btree_set, vec};
use proptest::prelude::*;
use std::collections::BTreeSet;

// ------------------------------------------------------------ reference

/// The naive lookup: same bucket choice, then a sorted linear scan.
pub(super) fn reference(routes: &[IndexedRoute], req: &SimpleRequest<'_>) -> Hit {
    let mut buf = HostBuf::new();
    let host = normalize_host(req.host, &mut buf).unwrap_or("\u{0}not a host");
    let listing = |pred: &dyn Fn(&Hostname) -> bool| -> Vec<&IndexedRoute> {
        routes
            .iter()
            .filter(|r| r.route.hostnames.iter().any(pred))
            .collect()
    };
    let mut bucket = listing(&|h| matches!(h, Hostname::Exact(e) if e == host));
    if bucket.is_empty() {
        let longest = routes
            .iter()
            .flat_map(|r| &r.route.hostnames)
            .filter_map(|h| match h {
                Hostname::Wildcard(s) if host.len() > s.len() && host.ends_with(s.as_str()) => {
                    Some(s.len())
                }
                _ => None,
            })
            .max();
        if let Some(len) = longest {
            bucket = listing(
                &|h| matches!(h, Hostname::Wildcard(s) if s.len() == len && host.ends_with(s.as_str())),
            );
        }
    }
    if bucket.is_empty() {
        bucket = routes
            .iter()
            .filter(|r| r.route.hostnames.is_empty())
            .collect();
    }
    let mut all = Vec::new();
    for r in bucket {
        for (i, rule) in r.route.rules.iter().enumerate() {
            for (j, m) in rule.matches.iter().enumerate() {
                let key = MatchKey::new(m, r.created_revision(), &r.name, i, j);
                all.push((key, r, m));
            }
        }
    }
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all.into_iter()
        .find(|(_, _, m)| {
            path_matches(&m.path, req.path)
                && m.method.is_none_or(|x| x.as_str() == req.method)
                && m.headers.iter().all(|h| {
                    let got = req
                        .headers
                        .iter()
                        .find(|(n, _)| n.to_ascii_lowercase() == h.name.as_str());
                    got.is_some_and(|(_, v)| value_matches(&h.value, v))
                })
                && m.query_params.iter().all(|q| {
                    let pairs: Vec<(&str, &str)> = req
                        .query
                        .map(|s| {
                            s.split('&')
                                .map(|p| p.split_once('=').unwrap_or((p, "")))
                                .collect()
                        })
                        .unwrap_or_default();
                    let first = pairs.iter().find(|(n, _)| *n == q.name);
                    first.is_some_and(|(_, v)| value_matches(&q.value, v))
                })
        })
        .map(|(k, _, _)| (k.route, k.rule, k.index))
}

/// Path matching straight from the Gateway API's words.
pub(super) fn path_matches(want: &PathMatch, path: &str) -> bool {
    match want {
        PathMatch::Exact(p) => path == p,
        PathMatch::Prefix(p) => {
            p == "/"
                || path == p
                || (path.starts_with(p.as_str()) && path[p.len()..].starts_with('/'))
        }
        PathMatch::Regex(r) => r.is_match(path),
    }
}

fn value_matches(want: &ValueMatch, got: &str) -> bool {
    match want {
        ValueMatch::Exact(v) => v == got,
        ValueMatch::Regex(p) => p.is_match(got),
    }
}

// ------------------------------------------------------------ generators

const HOSTNAMES: &[&str] = &[
    "a.example.com",
    "b.example.com",
    "example.com",
    "*.example.com",
    "*.b.example.com",
    "*.com",
    "orders",
    "orders.mesh",
    "*.mesh",
];
const PLAIN_PATHS: &[&str] = &["/", "/a", "/a/", "/a/b", "/a/b/c", "/ab", "/b", "/b/a"];
const REGEXES: &[&str] = &[
    "/a/.*",
    "/[ab]+",
    ".*",
    "/a/b/c",
    "/b(/.*)?",
    "/ab?",
    "/a|/b",
    "(?i)/A(/.*)?",
    "/a/b/c/d.*",
    "/a/b/c/d/e[0-9]",
    "/a/b/c/d/x?",
];

fn path_match() -> impl Strategy<Value = Option<spec::PathMatch>> {
    let plain = (prop::bool::ANY, prop::sample::select(PLAIN_PATHS)).prop_map(|(exact, v)| {
        spec::PathMatch {
            kind: if exact {
                PathMatchType::Exact
            } else {
                PathMatchType::PathPrefix
            },
            value: v.to_owned(),
        }
    });
    let regex = prop::sample::select(REGEXES).prop_map(|v| spec::PathMatch {
        kind: PathMatchType::RegularExpression,
        value: v.to_owned(),
    });
    prop_oneof![1 => Just(None), 5 => plain.prop_map(Some), 2 => regex.prop_map(Some)]
}

/// `(regex?, value)`: exact `1`/`2`, or the regex `[12]`.
fn value() -> impl Strategy<Value = (ValueMatchType, String)> {
    prop_oneof![
        3 => prop::sample::select(&["1", "2"][..]).prop_map(|v| (ValueMatchType::Exact, v.to_owned())),
        1 => Just((ValueMatchType::RegularExpression, "[12]".to_owned())),
    ]
}

fn route_match() -> impl Strategy<Value = spec::RouteMatch> {
    let method = prop_oneof![3 => Just(None), 1 => Just(Some(HttpMethod::Get)), 1 => Just(Some(HttpMethod::Post))];
    (
        path_match(),
        btree_map(prop::sample::select(&["x", "Y"][..]), value(), 0..=2),
        btree_map(prop::sample::select(&["q", "r"][..]), value(), 0..=2),
        method,
    )
        .prop_map(|(path, headers, query, method)| spec::RouteMatch {
            path,
            headers: headers
                .into_iter()
                .map(|(name, (kind, value))| spec::HeaderMatch {
                    kind,
                    name: name.to_owned(),
                    value,
                })
                .collect(),
            query_params: query
                .into_iter()
                .map(|(name, (kind, value))| spec::QueryParamMatch {
                    kind,
                    name: name.to_owned(),
                    value,
                })
                .collect(),
            method,
        })
}

fn route_spec(with_hosts: bool) -> impl Strategy<Value = RouteSpec> {
    let hosts = if with_hosts { 0..=2usize } else { 0..=0 };
    let rule = vec(route_match(), 0..=3).prop_map(|matches| spec::RouteRule {
        matches,
        ..spec::RouteRule::default()
    });
    (
        btree_set(prop::sample::select(HOSTNAMES), hosts),
        vec(rule, 0..=3),
    )
        .prop_map(|(hosts, rules)| RouteSpec {
            hostnames: hosts.into_iter().map(str::to_owned).collect(),
            rules,
        })
}

/// A table of up to five routes (names `a`..`e`, creation revisions that
/// often tie) and services `orders` and `users`, maybe. Without hosts,
/// every route lists no hostname (one bucket).
pub(super) fn parts(with_hosts: bool) -> impl Strategy<Value = Vec<Part>> {
    let routes = btree_map(
        prop::sample::select(&["a", "b", "c", "d", "e"][..]),
        (1i64..=3, route_spec(with_hosts)),
        0..=5,
    );
    let services = btree_set(prop::sample::select(&["orders", "users"][..]), 0..=2);
    (routes, services).prop_map(move |(routes, services)| {
        let mut parts: Vec<Part> = routes
            .into_iter()
            .map(|(name, (created_revision, spec))| {
                Part::new(PartBody::Route(RoutePart {
                    name: name.to_owned(),
                    created_revision,
                    spec,
                    unresolved_backends: BTreeSet::new(),
                }))
            })
            .collect();
        if with_hosts {
            parts.extend(services.into_iter().map(|name| {
                Part::new(PartBody::Service(ServicePart {
                    name: name.to_owned(),
                    spec: ServiceSpec::default(),
                    endpoints: Vec::new(),
                    implicit_hostnames: vec![name.to_owned(), format!("{name}.mesh")],
                }))
            }));
        }
        parts
    })
}

const HOSTS: &[&str] = &[
    "a.example.com",
    "A.Example.com:8080",
    "b.example.com",
    "x.b.example.com",
    "example.com",
    "example.com.",
    "c.com",
    "orders",
    "users.mesh",
    "x.mesh",
    "other.org",
    "",
    "A.example.com..",
    "B.Example.com.:80",
    "a.example.com:80:90",
    "X.Mesh",
];
const PATHS: &[&str] = &[
    "/",
    "/a",
    "/a/",
    "/a/b",
    "/a/b/",
    "/a/b/c",
    "/a/b/c/d",
    "/a/b/c/d/",
    "/a/b/c/d/e1",
    "/ab",
    "/abc",
    "/b",
    "/b/a",
    "/a//b",
    "",
    "*",
];

/// `(method, host, path, query, headers)`.
pub(super) type Req = (
    &'static str,
    &'static str,
    &'static str,
    Option<String>,
    Vec<(&'static str, &'static str)>,
);

pub(super) fn request() -> impl Strategy<Value = Req> {
    let pair = (
        prop::sample::select(&["q", "r", "s"][..]),
        prop::sample::select(&["1", "2", "3", ""][..]),
    );
    let query = prop::option::of(vec(pair, 0..=3).prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(n, v)| {
                if v.is_empty() {
                    n.to_owned()
                } else {
                    format!("{n}={v}")
                }
            })
            .collect::<Vec<_>>()
            .join("&")
    }));
    let header = (
        prop::sample::select(&["x", "X", "y"][..]),
        prop::sample::select(&["1", "2", "3"][..]),
    );
    (
        prop::sample::select(&["GET", "POST", "PUT"][..]),
        prop::sample::select(HOSTS),
        prop::sample::select(PATHS),
        query,
        vec(header, 0..=3),
    )
}

pub(super) fn build(parts: Vec<Part>) -> Result<RouteIndex, TestCaseError> {
    RouteIndex::build(&table(parts))
        .map_err(|e| TestCaseError::fail(format!("does not build: {e}")))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn index_agrees_with_the_reference(parts in parts(true), reqs in vec(request(), 1..=16)) {
        let index = build(parts)?;
        for (method, host, path, query, headers) in &reqs {
            let req = SimpleRequest {
                host,
                method,
                path,
                query: query.as_deref(),
                headers,
            };
            let got = index.lookup(&req).map(|m| (m.route.name.clone(), m.rule_index, m.match_index));
            prop_assert_eq!(got, reference(index.routes(), &req), "request {:?}", req);
        }
    }
}
