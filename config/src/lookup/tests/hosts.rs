//! Host selection: exact, wildcard (longest suffix, never the bare
//! suffix), routes without hostnames as the last bucket, implicit service
//! routes, and Host normalisation.

use super::{get, hit, index, route, service};
use crate::lookup::RouteOrigin;
use crate::lookup::SimpleRequest;

fn on(hosts: &str) -> String {
    format!("{{hostnames: [{hosts}]}}")
}

#[test]
fn wildcard_matches_one_or_more_labels() {
    let i = index(vec![route("w", 1, &on("'*.example.com'"))]);
    assert_eq!(get(&i, "a.example.com", "/"), hit("w", 0, 0));
    assert_eq!(get(&i, "a.b.example.com", "/"), hit("w", 0, 0));
    assert_eq!(get(&i, "aexample.com", "/"), None);
    assert_eq!(get(&i, "example.org", "/"), None);
}

#[test]
fn wildcard_does_not_match_the_bare_suffix() {
    let i = index(vec![route("w", 1, &on("'*.example.com'"))]);
    assert_eq!(get(&i, "example.com", "/"), None);
    assert_eq!(get(&i, ".example.com", "/"), None);
}

#[test]
fn exact_host_beats_wildcard_and_does_not_fall_through() {
    let i = index(vec![
        route("w", 1, &on("'*.example.com'")),
        route(
            "x",
            9,
            "{hostnames: [a.example.com], rules: [{matches: [{path: {type: Exact, value: /only}}]}]}",
        ),
    ]);
    assert_eq!(get(&i, "a.example.com", "/only"), hit("x", 0, 0));
    assert_eq!(get(&i, "b.example.com", "/only"), hit("w", 0, 0));
    // The exact bucket has routes: the wildcard route is not considered.
    assert_eq!(get(&i, "a.example.com", "/other"), None);
}

#[test]
fn longest_wildcard_wins() {
    let i = index(vec![
        route("short", 1, &on("'*.com'")),
        route("long", 9, &on("'*.example.com'")),
    ]);
    assert_eq!(get(&i, "a.example.com", "/"), hit("long", 0, 0));
    assert_eq!(get(&i, "a.b.example.com", "/"), hit("long", 0, 0));
    assert_eq!(get(&i, "example.com", "/"), hit("short", 0, 0));
    assert_eq!(get(&i, "a.other.com", "/"), hit("short", 0, 0));
}

#[test]
fn routes_without_hostnames_are_the_last_bucket() {
    let i = index(vec![
        route("any", 1, "{}"),
        route("x", 9, "{hostnames: [x.example.com, '*.w.example.com']}"),
    ]);
    assert_eq!(get(&i, "x.example.com", "/"), hit("x", 0, 0));
    assert_eq!(get(&i, "a.w.example.com", "/"), hit("x", 0, 0));
    assert_eq!(get(&i, "y.example.com", "/"), hit("any", 0, 0));
    assert_eq!(get(&i, "", "/"), hit("any", 0, 0));
    assert_eq!(get(&i, "10.0.0.1:80", "/"), hit("any", 0, 0));
    assert_eq!(get(&i, &"a".repeat(300), "/"), hit("any", 0, 0));
}

#[test]
fn a_route_serves_each_of_its_hostnames() {
    let i = index(vec![route("r", 1, &on("a.example.com, b.example.com"))]);
    assert_eq!(get(&i, "a.example.com", "/"), hit("r", 0, 0));
    assert_eq!(get(&i, "b.example.com", "/"), hit("r", 0, 0));
    assert_eq!(get(&i, "c.example.com", "/"), None);
}

#[test]
fn host_port_case_and_trailing_dot_are_normalised() {
    let i = index(vec![route("r", 1, &on("a.example.com, '*.w.example.com'"))]);
    for host in [
        "a.example.com:8080",
        "A.Example.COM",
        "A.EXAMPLE.COM:443",
        "a.example.com.",
        "x.W.example.com:1",
    ] {
        assert_eq!(get(&i, host, "/"), hit("r", 0, 0), "{host}");
    }
}

#[test]
fn implicit_service_routes() {
    let i = index(vec![
        service("orders", &["orders", "orders.mesh"]),
        route("any", 1, "{}"),
    ]);
    for host in ["orders", "orders.mesh", "ORDERS.mesh:8080"] {
        let req = SimpleRequest::new("DELETE", host, "/deep/path?q=1");
        let m = i.lookup(&req);
        let Some(m) = m else {
            panic!("{host}: no route");
        };
        assert_eq!(m.route.name, "service:orders");
        assert_eq!(m.route.origin, RouteOrigin::Service);
        assert_eq!(m.rule.backends.len(), 1);
        assert_eq!(m.rule.backends[0].service.as_str(), "orders");
        assert_eq!(m.rule.backends[0].weight, 1);
    }
    assert_eq!(get(&i, "users", "/"), hit("any", 0, 0));
}

#[test]
fn a_route_claiming_an_implicit_hostname_exactly_takes_it() {
    // A foreign table may list a claimed hostname as implicit: the route
    // still wins, and the other implicit hostname stays the service's.
    let i = index(vec![
        service("orders", &["orders", "orders.mesh"]),
        route(
            "r",
            1,
            "{hostnames: [orders], rules: [{matches: [{path: {type: Exact, value: /x}}]}]}",
        ),
    ]);
    assert_eq!(get(&i, "orders", "/x"), hit("r", 0, 0));
    assert_eq!(get(&i, "orders", "/y"), None);
    assert_eq!(get(&i, "orders.mesh", "/y"), hit("service:orders", 0, 0));
}

#[test]
fn an_implicit_hostname_beats_a_wildcard_route() {
    let i = index(vec![
        service("orders", &["orders.mesh"]),
        route("w", 1, &on("'*.mesh'")),
    ]);
    assert_eq!(get(&i, "orders.mesh", "/"), hit("service:orders", 0, 0));
    assert_eq!(get(&i, "users.mesh", "/"), hit("w", 0, 0));
}

#[test]
fn routes_are_listed_routes_then_services() {
    let i = index(vec![
        service("b", &["b"]),
        service("a", &[]),
        route("z", 1, "{}"),
    ]);
    let names: Vec<&str> = i.routes().iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["z", "service:b"]);
    assert_eq!(i.revision(), 1);
}
