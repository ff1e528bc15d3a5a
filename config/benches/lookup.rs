//! Route lookup benchmarks: [`RouteIndex::lookup`] on tables of 10, 1k and
//! 100k routes, for each kind of match (exact path, deep path under a
//! prefix, header condition, regex, wildcard host, miss), plus the time to
//! build the index of the 100k-route table, from scratch and from the
//! previous index after one route changed (printed before the runs).
//!
//! Routes are spread over `routes / 100` hosts (at least 1, at most 1k), so
//! a 100k table has 1k hosts of 100 routes each; every 50th route lists a
//! wildcard hostname instead, and every 100th has a regex rule. Each case
//! cycles through 1024 different requests (hosts and routes) so that the
//! index is not served from a handful of cache lines: at 100k routes most
//! lookups miss the CPU caches, as a router's would for cold routes; the
//! `exact_hot` and `regex_hot` cases repeat one request to show the cost
//! of a cached one.
//!
//! `cargo bench -p mesh-config --bench lookup` (about a minute and a half;
//! `-- build` for the build times only).

use criterion::{BenchmarkId, Criterion};
use mesh_config::lookup::{RouteIndex, SimpleRequest};
use mesh_config::spec::RouteSpec;
use mesh_config::table::{Part, PartBody, RoutePart, RouteTable};
use serde_json::json;
use std::collections::BTreeSet;
use std::hint::black_box;
use std::time::{Duration, Instant};

const SIZES: [usize; 3] = [10, 1_000, 100_000];
/// Requests per case, cycled through (a power of two).
const REQUESTS: usize = 1024;

fn hosts(routes: usize) -> usize {
    (routes / 100).clamp(1, 1_000)
}

/// The hostname of route `i`: exact for most, wildcard for every 50th.
fn hostname(i: usize, hosts: usize) -> String {
    if i % 50 == 0 {
        format!("*.wild{}.example.com", i % hosts)
    } else {
        format!("svc{}.example.com", i % hosts)
    }
}

/// Route `i`: an exact GET, a prefix with a header, a plain prefix, a
/// prefix for POST, and for every 100th route a regex.
fn spec(i: usize, hosts: usize) -> RouteSpec {
    let backend = json!([{ "name": format!("backend-{}", i % 100) }]);
    let mut rules = vec![
        json!({ "matches": [{ "path": { "type": "Exact", "value": format!("/r{i}/health") }, "method": "GET" }],
                "backendRefs": backend }),
        json!({ "matches": [{ "path": { "value": format!("/r{i}/api/v1") },
                              "headers": [{ "name": "x-tenant", "value": format!("t{}", i % 7) }] }],
                "backendRefs": backend }),
        json!({ "matches": [{ "path": { "value": format!("/r{i}/api") } }], "backendRefs": backend }),
        json!({ "matches": [{ "path": { "value": format!("/r{i}") }, "method": "POST" }],
                "backendRefs": backend }),
    ];
    if i % 100 == 0 {
        rules.push(json!({
            "matches": [{ "path": { "type": "RegularExpression", "value": format!("/r{i}/items/[0-9]+/detail") } }],
            "backendRefs": backend,
        }));
    }
    let spec = json!({ "hostnames": [hostname(i, hosts)], "rules": rules });
    serde_json::from_value(spec).expect("bench route spec parses")
}

fn table(routes: usize) -> RouteTable {
    let hosts = hosts(routes);
    let parts = (0..routes)
        .map(|i| {
            Part::new(PartBody::Route(RoutePart {
                name: format!("route-{i}"),
                created_revision: i as i64 + 1,
                spec: spec(i, hosts),
                unresolved_backends: BTreeSet::new(),
            }))
        })
        .collect();
    RouteTable::from_parts(1, parts).expect("bench table builds")
}

/// An owned request, borrowed as a [`SimpleRequest`] when looked up.
struct Req {
    method: &'static str,
    host: String,
    path: String,
    headers: Vec<(&'static str, String)>,
}

/// `REQUESTS` requests of one case, `make` of the routes `0..routes` that
/// `pick` accepts, taken in a scattered order.
fn case(
    routes: usize,
    pick: impl Fn(usize) -> bool,
    make: impl Fn(usize, usize) -> Req,
) -> Vec<Req> {
    let hosts = hosts(routes);
    let chosen: Vec<usize> = (0..routes).filter(|i| pick(*i)).collect();
    (0..REQUESTS)
        .map(|k| make(chosen[(k * 7919) % chosen.len()], hosts))
        .collect()
}

fn exact_host(i: usize, hosts: usize) -> String {
    format!("svc{}.example.com", i % hosts)
}

/// The cases: name, requests, the rule they must find (`None`: no route).
fn cases(routes: usize) -> Vec<(&'static str, Vec<Req>, Option<usize>)> {
    let plain = |i: usize| i % 50 != 0;
    let get = |host: String, path: String| Req {
        method: "GET",
        host,
        path,
        headers: Vec::new(),
    };
    vec![
        (
            "exact",
            case(routes, plain, |i, h| {
                get(exact_host(i, h), format!("/r{i}/health"))
            }),
            Some(0),
        ),
        (
            "exact_hot",
            case(
                routes,
                |i| i == 1,
                |i, h| get(exact_host(i, h), format!("/r{i}/health")),
            ),
            Some(0),
        ),
        (
            "prefix_deep",
            case(routes, plain, |i, h| {
                get(
                    exact_host(i, h),
                    format!("/r{i}/api/v2/users/12345/orders/678/items/9"),
                )
            }),
            Some(2),
        ),
        (
            "header",
            case(routes, plain, |i, h| Req {
                headers: vec![("x-tenant", format!("t{}", i % 7))],
                ..get(exact_host(i, h), format!("/r{i}/api/v1/users/1"))
            }),
            Some(1),
        ),
        (
            "regex",
            case(
                routes,
                |i| i % 100 == 0,
                |i, h| {
                    get(
                        format!("a.wild{}.example.com", i % h),
                        format!("/r{i}/items/42/detail"),
                    )
                },
            ),
            Some(4),
        ),
        (
            "regex_hot",
            case(
                routes,
                |i| i == 0,
                |i, h| {
                    get(
                        format!("a.wild{}.example.com", i % h),
                        format!("/r{i}/items/42/detail"),
                    )
                },
            ),
            Some(4),
        ),
        (
            "wildcard_host",
            case(
                routes,
                |i| i % 50 == 0,
                |i, h| {
                    get(
                        format!("x.y.WILD{}.example.com:8080", i % h),
                        format!("/r{i}/api/x"),
                    )
                },
            ),
            Some(2),
        ),
        (
            "miss",
            case(routes, plain, |i, h| {
                get(exact_host(i, h), "/nothing/here/at/all".to_owned())
            }),
            None,
        ),
    ]
}

/// The rule a request finds (`None`: no route).
fn found(index: &RouteIndex, r: &Req) -> Option<usize> {
    let headers: Vec<(&str, &str)> = r.headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let req = SimpleRequest::new(r.method, &r.host, &r.path).with_headers(&headers);
    index.lookup(&req).map(|m| m.rule_index)
}

/// The median and min of three runs of `f`.
fn time3<T>(mut f: impl FnMut() -> T) -> (Duration, Duration) {
    let mut times = Vec::new();
    for _ in 0..3 {
        let start = Instant::now();
        black_box(f());
        times.push(start.elapsed());
    }
    times.sort();
    (times[0], times[1])
}

/// Prints how long building the index of the largest table takes: from
/// scratch, and with [`RouteIndex::build_from`] after one route changed.
fn build_time() {
    let routes = SIZES[SIZES.len() - 1];
    let table = table(routes);
    let (min, median) = time3(|| RouteIndex::build(&table).expect("bench index builds"));
    println!(
        "index build, {routes} routes ({} hosts): min {min:?}, median {median:?} (validation included)",
        hosts(routes),
    );
    let old = RouteIndex::build(&table).expect("bench index builds");
    let mut changed = table.clone();
    let i = routes / 2;
    let mut part = RoutePart {
        name: format!("route-{i}"),
        created_revision: i as i64 + 1,
        spec: spec(i + 1, hosts(routes)),
        unresolved_backends: BTreeSet::new(),
    };
    part.spec.hostnames = spec(i, hosts(routes)).hostnames;
    let part = Part::new(PartBody::Route(part));
    changed.parts.insert(part.id(), part);
    let (min, median) =
        time3(|| RouteIndex::build_from(&changed, Some(&old)).expect("bench index builds"));
    println!(
        "index rebuild after one route changed, {routes} routes (build_from): min {min:?}, median {median:?}"
    );
}

fn lookups(c: &mut Criterion) {
    for routes in SIZES {
        let index = RouteIndex::build(&table(routes)).expect("bench index builds");
        let mut group = c.benchmark_group(format!("lookup/{routes}_routes"));
        for (name, reqs, want) in cases(routes) {
            // Check the case before timing it.
            for r in &reqs {
                assert_eq!(found(&index, r), want, "{name}: {} {}", r.host, r.path);
            }
            // Borrowed views built up front: only the lookup is timed.
            let headers: Vec<Vec<(&str, &str)>> = reqs
                .iter()
                .map(|r| r.headers.iter().map(|(n, v)| (*n, v.as_str())).collect())
                .collect();
            let views: Vec<SimpleRequest<'_>> = reqs
                .iter()
                .zip(&headers)
                .map(|(r, h)| SimpleRequest::new(r.method, &r.host, &r.path).with_headers(h))
                .collect();
            let mut k = 0;
            group.bench_function(BenchmarkId::from_parameter(name), |b| {
                b.iter(|| {
                    k = (k + 1) & (REQUESTS - 1);
                    black_box(index.lookup(black_box(&views[k])).map(|m| m.rule_index))
                })
            });
        }
        group.finish();
    }
}

fn main() {
    build_time();
    if std::env::args().skip(1).any(|a| a == "build") {
        return;
    }
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
        .without_plots()
        .configure_from_args();
    lookups(&mut c);
    c.final_summary();
}
