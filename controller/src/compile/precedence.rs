//! The order in which a router tries the matches of every route, per
//! hostname: Gateway API precedence as [`MatchKey`] defines it.

use mesh_config::model::Route;
use mesh_config::spec::{Document, RouteDoc};
use mesh_config::table::{MatchKey, RouteTable};
use mesh_config::{validate, Resource};

/// The hostname under which routes without hostnames are listed.
pub const ANY_HOST: &str = "*";

/// Every match of every route in `table`, as `(hostname, key)` sorted by
/// hostname, then by precedence: for each hostname a route lists (as
/// written: `orders.example.com`, `*.example.com`), or [`ANY_HOST`] for a
/// route that lists none, its matches in the order a router tries them.
///
/// Only literal hostnames are grouped: a request for `a.example.com` is
/// routed by the `a.example.com` group when there is one, else by the
/// longest matching wildcard group, else by [`ANY_HOST`] (Gateway API
/// hostname precedence); that choice is the router's. Route parts that do
/// not validate (never the case in a table this module compiled) are left
/// out.
pub fn precedence(table: &RouteTable) -> Vec<(String, MatchKey)> {
    let mut out = Vec::new();
    for part in table.routes() {
        let doc = Document::Route(RouteDoc {
            name: part.name.clone(),
            spec: part.spec.clone(),
        });
        let Ok(Resource::Route(route)) = validate(&doc) else {
            continue;
        };
        let hosts: Vec<String> = if route.hostnames.is_empty() {
            vec![ANY_HOST.to_owned()]
        } else {
            route.hostnames.iter().map(ToString::to_string).collect()
        };
        let keys = keys(&route, part.created_revision);
        for host in hosts {
            out.extend(keys.iter().map(|k| (host.clone(), k.clone())));
        }
    }
    out.sort();
    out
}

/// The key of every match of `route`.
fn keys(route: &Route, created_revision: i64) -> Vec<MatchKey> {
    let name = route.name.as_str();
    route
        .rules
        .iter()
        .enumerate()
        .flat_map(|(i, rule)| {
            rule.matches
                .iter()
                .enumerate()
                .map(move |(j, m)| MatchKey::new(m, created_revision, name, i, j))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::tests::{keys, Etcd};
    use super::*;
    use crate::compile::compile;
    use mesh_config::table::PathRank;
    use serde_json::{json, Value};

    /// A route on host `h` with one rule holding `m`, created at `rev`.
    fn precedence_route(etcd: &mut Etcd, name: &str, hosts: &[&str], m: Value, rev: i64) {
        let r = json!({"kind": "Route", "name": name, "spec": {"hostnames": hosts,
            "rules": [{"matches": [m]}]}});
        etcd.put_at(
            &format!("/mesh/routes/{name}"),
            r.to_string().as_bytes(),
            rev,
        );
    }

    #[test]
    fn precedence_follows_gateway_api_across_routes() {
        let h = ["h.example.com"];
        let prefix = |v: &str| json!({"path": {"type": "PathPrefix", "value": v}});
        let mut etcd = Etcd::default();
        precedence_route(&mut etcd, "old", &h, prefix("/a"), 3);
        precedence_route(&mut etcd, "b-same", &h, prefix("/a"), 5);
        precedence_route(&mut etcd, "a-same", &h, prefix("/a"), 5);
        precedence_route(
            &mut etcd,
            "query",
            &h,
            json!({"path": {"type": "PathPrefix", "value": "/a"}, "queryParams": [{"name": "q", "value": "1"}]}),
            7,
        );
        precedence_route(
            &mut etcd,
            "one-header",
            &h,
            json!({"path": {"type": "PathPrefix", "value": "/a"}, "headers": [{"name": "x", "value": "1"}]}),
            8,
        );
        precedence_route(
            &mut etcd,
            "two-headers",
            &h,
            json!({"path": {"type": "PathPrefix", "value": "/a"},
                   "headers": [{"name": "x", "value": "1"}, {"name": "y", "value": "2"}]}),
            9,
        );
        precedence_route(
            &mut etcd,
            "method",
            &h,
            json!({"path": {"type": "PathPrefix", "value": "/a"}, "method": "GET"}),
            10,
        );
        precedence_route(&mut etcd, "long", &h, prefix("/abc"), 11);
        precedence_route(
            &mut etcd,
            "exact",
            &h,
            json!({"path": {"type": "Exact", "value": "/a"}}),
            12,
        );
        precedence_route(
            &mut etcd,
            "regex",
            &h,
            json!({"path": {"type": "RegularExpression", "value": "/a.*"}, "method": "GET"}),
            13,
        );
        precedence_route(
            &mut etcd,
            "elsewhere",
            &["other.example.com", "*.example.com"],
            prefix("/"),
            14,
        );
        precedence_route(&mut etcd, "anyhost", &[], prefix("/"), 15);
        let c = compile(&keys(), &etcd.mirror);
        let order = precedence(&c.table);
        let on = |host: &str| -> Vec<String> {
            order
                .iter()
                .filter(|(h, _)| h == host)
                .map(|(_, k)| k.route.clone())
                .collect()
        };
        assert_eq!(
            on("h.example.com"),
            [
                "exact",
                "long",
                "method",
                "two-headers",
                "one-header",
                "query",
                "old",
                "a-same",
                "b-same",
                "regex"
            ]
        );
        assert_eq!(on("*"), ["anyhost"]);
        assert_eq!(on("*.example.com"), ["elsewhere"]);
        assert_eq!(on("other.example.com"), ["elsewhere"]);
        let hosts: Vec<&str> = order.iter().map(|(h, _)| h.as_str()).collect();
        assert!(
            hosts.windows(2).all(|w| w[0] <= w[1]),
            "grouped by hostname"
        );
        let exact = &order
            .iter()
            .find(|(_, k)| k.route == "exact")
            .expect("listed")
            .1;
        assert_eq!(
            (exact.path_rank, exact.created_revision),
            (PathRank::Exact, 12)
        );
    }
}
