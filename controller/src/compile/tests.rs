//! Unit tests of the compile step, on hand-built mirrors.

use super::*;
use crate::mirror::StoredValue;
use mesh_config::table::{Health, PartBody, PartId, RoutePart, ServicePart};
use mesh_config::Kind;
use serde_json::{json, Value};
use std::sync::Arc;

/// Builds mirrors the way etcd would: every change is a new revision, a
/// key keeps its create revision until it is deleted.
#[derive(Default, Clone)]
pub(super) struct Etcd {
    pub mirror: Mirror,
}

impl Etcd {
    pub fn put(&mut self, key: &str, value: &Value) -> &mut Self {
        self.put_raw(key, value.to_string().as_bytes())
    }

    pub fn put_raw(&mut self, key: &str, bytes: &[u8]) -> &mut Self {
        let revision = self.mirror.revision + 1;
        self.put_at(key, bytes, revision)
    }

    /// Puts as part of a transaction at `revision` (several keys may share it).
    pub fn put_at(&mut self, key: &str, bytes: &[u8], revision: i64) -> &mut Self {
        self.mirror.revision = revision;
        let create_revision = self
            .mirror
            .kvs
            .get(key)
            .map_or(revision, |v| v.create_revision);
        self.mirror.kvs.insert(
            key.to_owned(),
            StoredValue {
                value: Arc::from(bytes),
                create_revision,
                mod_revision: revision,
                lease: 0,
            },
        );
        self
    }

    pub fn delete(&mut self, key: &str) -> &mut Self {
        self.mirror.revision += 1;
        self.mirror.kvs.remove(key);
        self
    }
}

pub(super) fn service(name: &str) -> Value {
    json!({"kind": "Service", "name": name, "spec": {"protocol": "http"}})
}

pub(super) fn endpoint(service: &str, name: &str, port: u16) -> Value {
    json!({"kind": "Endpoint", "name": name,
           "spec": {"service": service, "address": "10.0.0.1", "port": port}})
}

pub(super) fn route(name: &str, hosts: &[&str], backends: &[&str]) -> Value {
    let refs: Vec<Value> = backends.iter().map(|b| json!({"name": b})).collect();
    json!({"kind": "Route", "name": name, "spec": {
        "hostnames": hosts,
        "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}], "backendRefs": refs}]
    }})
}

pub(super) fn keys() -> Keys {
    Keys::default()
}

fn json_bytes(table: &RouteTable) -> Vec<u8> {
    serde_json::to_vec(table).expect("a table serializes")
}

fn service_part<'a>(c: &'a Compiled, name: &str) -> Option<&'a ServicePart> {
    match c
        .table
        .parts
        .get(&PartId::Service(name.into()))
        .map(|p| &*p.body)
    {
        Some(PartBody::Service(s)) => Some(s),
        _ => None,
    }
}

fn route_part<'a>(c: &'a Compiled, name: &str) -> Option<&'a RoutePart> {
    match c
        .table
        .parts
        .get(&PartId::Route(name.into()))
        .map(|p| &*p.body)
    {
        Some(PartBody::Route(r)) => Some(r),
        _ => None,
    }
}

fn status(c: &Compiled, id: ResourceId) -> &ResourceStatus {
    c.statuses.get(&id).expect("a status for every resource")
}

fn ep_id(service: &str, name: &str) -> ResourceId {
    ResourceId::Endpoint {
        service: service.into(),
        name: name.into(),
    }
}

#[test]
fn compiles_services_endpoints_and_routes() {
    let mut etcd = Etcd::default();
    etcd.put("/mesh/services/orders", &service("orders"))
        .put(
            "/mesh/endpoints/orders/o-2",
            &endpoint("orders", "o-2", 9002),
        )
        .put(
            "/mesh/endpoints/orders/o-1",
            &endpoint("orders", "o-1", 9001),
        )
        .put(
            "/mesh/routes/web",
            &route("web", &["shop.example.com"], &["orders"]),
        )
        .put(
            "/mesh/status/resources/routes/web",
            &json!({"state": "accepted"}),
        )
        .put("/mesh/unknown", &json!(1));
    let c = compile(&keys(), &etcd.mirror);
    assert_eq!(c.table.revision, etcd.mirror.revision);
    let orders = service_part(&c, "orders").expect("orders part");
    let names: Vec<_> = orders.endpoints.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["o-1", "o-2"], "sorted by name");
    assert_eq!(orders.endpoints[0].address, "10.0.0.1");
    assert_eq!(orders.endpoints[0].weight, 1, "validated defaults");
    assert_eq!(orders.implicit_hostnames, ["orders", "orders.mesh"]);
    let web = route_part(&c, "web").expect("web part");
    assert_eq!(web.created_revision, 4);
    assert!(web.unresolved_backends.is_empty());
    assert_eq!(
        c.statuses.len(),
        4,
        "status keys and unknown keys are not resources"
    );
    for s in c.statuses.values() {
        assert_eq!((s.state, s.reasons.len()), (State::Accepted, 0));
    }
    assert_eq!(status(&c, ResourceId::Route("web".into())).revision, 4);
    assert_eq!(c.counts.get(Kind::Endpoint, State::Accepted), 2);
    assert_eq!(c.counts.total(State::Rejected), 0);
}

#[test]
fn invalid_route_is_rejected_alone() {
    let mut etcd = Etcd::default();
    etcd.put("/mesh/services/orders", &service("orders"))
        .put(
            "/mesh/routes/good",
            &route("good", &["a.example.com"], &["orders"]),
        )
        // Claims `orders`, but is rejected: must not shadow anything.
        .put(
            "/mesh/routes/zz-last",
            &route("zz-last", &["b.example.com"], &["orders"]),
        );
    let mut without = etcd.clone();
    let bad = json!({"kind": "Route", "name": "bad", "spec": {
        "hostnames": ["orders"],
        "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "no-slash"}}],
                   "backendRefs": [{"name": "orders", "weight": -1}]}]
    }});
    etcd.put("/mesh/routes/bad", &bad);
    without.mirror.revision = etcd.mirror.revision;

    let c = compile(&keys(), &etcd.mirror);
    let s = status(&c, ResourceId::Route("bad".into()));
    assert_eq!(s.state, State::Rejected);
    assert_eq!(s.revision, 4);
    assert_eq!(s.reasons.len(), 2, "every problem: {:?}", s.reasons);
    assert!(
        s.reasons[0].starts_with("spec.rules[0].matches[0].path.value: "),
        "{s:?}"
    );
    assert!(
        s.reasons[1].starts_with("spec.rules[0].backendRefs[0].weight: "),
        "{s:?}"
    );
    assert!(route_part(&c, "bad").is_none());
    assert_eq!(c.counts.get(Kind::Route, State::Rejected), 1);
    assert_eq!(c.counts.get(Kind::Route, State::Accepted), 2);

    let reference = compile(&keys(), &without.mirror);
    assert_eq!(json_bytes(&c.table), json_bytes(&reference.table));
    assert_eq!(c.table.hash(), reference.table.hash());
}

#[test]
fn unparsable_and_misnamed_values_are_rejected() {
    let mut etcd = Etcd::default();
    etcd.put_raw("/mesh/services/broken", b"{not json")
        .put("/mesh/routes/a", &route("b", &[], &[]))
        .put("/mesh/services/s", &route("s", &[], &[]))
        .put("/mesh/endpoints/s/e", &endpoint("t", "e", 80))
        .put(
            "/mesh/services/typo",
            &json!({"kind": "Service", "name": "typo", "spec": {"protocl": "http"}}),
        );
    let c = compile(&keys(), &etcd.mirror);
    let reasons = |id| status(&c, id).reasons.clone();
    let broken = reasons(ResourceId::Service("broken".into()));
    assert!(broken[0].starts_with("not valid JSON"), "{broken:?}");
    assert_eq!(
        reasons(ResourceId::Route("a".into())),
        ["value names route `b` but is stored under /mesh/routes/a"]
    );
    assert_eq!(
        reasons(ResourceId::Service("s".into())),
        ["value names route `s` but is stored under /mesh/services/s"]
    );
    assert_eq!(
        reasons(ep_id("s", "e")),
        ["value names endpoint `t/e` but is stored under /mesh/endpoints/s/e"]
    );
    let typo = reasons(ResourceId::Service("typo".into()));
    assert!(typo[0].contains("protocl"), "{typo:?}");
    assert!(c.table.parts.is_empty());
    assert_eq!(c.counts.total(State::Rejected), 5);
}

#[test]
fn implicit_hostnames_are_shadowed_by_exact_route_hostnames_only() {
    let mut etcd = Etcd::default();
    etcd.put("/mesh/services/orders", &service("orders"))
        .put("/mesh/services/users", &service("users"))
        .put("/mesh/services/cart", &service("cart"))
        .put(
            "/mesh/routes/r1",
            &route("r1", &["orders.mesh", "x.example.com"], &["users"]),
        )
        .put("/mesh/routes/r2", &route("r2", &["users"], &["orders"]))
        .put(
            "/mesh/routes/wild",
            &route("wild", &["*.mesh"], &["orders"]),
        )
        .put("/mesh/routes/any", &route("any", &[], &["orders"]));
    let mut compiler = Compiler::new(keys());
    let c = compiler.compile(&etcd.mirror);
    let implicit = |name| {
        service_part(&c, name)
            .expect("part")
            .implicit_hostnames
            .clone()
    };
    assert_eq!(implicit("orders"), ["orders"]);
    assert_eq!(implicit("users"), ["users.mesh"]);
    assert_eq!(implicit("cart"), ["cart", "cart.mesh"]);

    // The route goes away: the implicit names come back.
    etcd.delete("/mesh/routes/r1");
    let again = compiler.compile(&etcd.mirror);
    assert_eq!(
        service_part(&again, "orders")
            .expect("part")
            .implicit_hostnames,
        ["orders", "orders.mesh"]
    );
}

#[test]
fn unresolved_backends_are_accepted_with_reasons() {
    let mut etcd = Etcd::default();
    let r = json!({"kind": "Route", "name": "r", "spec": {"rules": [
        {"backendRefs": [{"name": "orders"}, {"name": "ghost", "weight": 10}]},
        {"filters": [{"type": "RequestMirror", "requestMirror": {"backendRef": {"name": "shadow"}}}],
         "backendRefs": [{"name": "orders", "filters": [
            {"type": "RequestMirror", "requestMirror": {"backendRef": {"name": "ghost"}}}]}]}
    ]}});
    etcd.put("/mesh/services/orders", &service("orders"))
        .put("/mesh/routes/r", &r);
    let mut compiler = Compiler::new(keys());
    let c = compiler.compile(&etcd.mirror);
    let s = status(&c, ResourceId::Route("r".into()));
    assert_eq!(s.state, State::Accepted);
    assert_eq!(
        s.reasons,
        [
            "spec.rules[0].backendRefs[1]: service `ghost` not found; its share of requests answers 500",
            "spec.rules[1].filters[0].requestMirror.backendRef: service `shadow` not found; requests are not mirrored",
            "spec.rules[1].backendRefs[0].filters[0].requestMirror.backendRef: service `ghost` not found; requests are not mirrored",
        ]
    );
    let part = route_part(&c, "r").expect("accepted routes are in the table");
    assert_eq!(
        part.unresolved_backends.iter().collect::<Vec<_>>(),
        ["ghost", "shadow"]
    );

    // The services appear: the same route entry resolves them.
    etcd.put("/mesh/services/ghost", &service("ghost"))
        .put("/mesh/services/shadow", &service("shadow"));
    let c = compiler.compile(&etcd.mirror);
    assert!(route_part(&c, "r")
        .expect("part")
        .unresolved_backends
        .is_empty());
    assert!(status(&c, ResourceId::Route("r".into())).reasons.is_empty());
    assert_eq!(c, compile(&keys(), &etcd.mirror));
}

#[test]
fn endpoints_need_an_accepted_service() {
    let mut etcd = Etcd::default();
    etcd.put("/mesh/endpoints/orders/o-1", &endpoint("orders", "o-1", 1))
        .put(
            "/mesh/services/bad",
            &json!({"kind": "Service", "name": "bad", "spec": {"connectTimeout": "soon"}}),
        )
        .put("/mesh/endpoints/bad/b-1", &endpoint("bad", "b-1", 1));
    let mut compiler = Compiler::new(keys());
    let c = compiler.compile(&etcd.mirror);
    for (id, name) in [
        (ep_id("orders", "o-1"), "orders"),
        (ep_id("bad", "b-1"), "bad"),
    ] {
        let s = status(&c, id);
        assert_eq!(s.state, State::Rejected);
        assert_eq!(s.reasons, [format!("service `{name}` not found")]);
    }
    assert!(c.table.parts.is_empty());

    etcd.put("/mesh/services/orders", &service("orders"));
    let c = compiler.compile(&etcd.mirror);
    assert_eq!(status(&c, ep_id("orders", "o-1")).state, State::Accepted);
    assert_eq!(service_part(&c, "orders").expect("part").endpoints.len(), 1);
    assert_eq!(
        status(&c, ep_id("orders", "o-1")).revision,
        1,
        "the endpoint's own revision"
    );
}

#[test]
fn health_is_applied_and_bad_health_ignored() {
    let mut etcd = Etcd::default();
    etcd.put("/mesh/services/s", &service("s"))
        .put("/mesh/endpoints/s/a", &endpoint("s", "a", 1))
        .put("/mesh/endpoints/s/b", &endpoint("s", "b", 2))
        .put("/mesh/endpoints/s/c", &endpoint("s", "c", 3))
        .put(
            "/mesh/health/s/a",
            &json!({"status": "unhealthy", "reason": "refused"}),
        )
        .put(
            "/mesh/health/s/b",
            &json!({"status": "healthy", "checkedAt": "now"}),
        )
        .put("/mesh/health/s/c", &json!({"status": "sick"}))
        .put("/mesh/health/s/gone", &json!({"status": "healthy"}));
    let mut compiler = Compiler::new(keys());
    let c = compiler.compile(&etcd.mirror);
    let health: Vec<_> = service_part(&c, "s")
        .expect("part")
        .endpoints
        .iter()
        .map(|e| e.health)
        .collect();
    assert_eq!(
        health,
        [Health::Unhealthy, Health::Healthy, Health::Unknown]
    );
    assert_eq!(c.statuses.len(), 4, "health records are not resources");

    etcd.put("/mesh/health/s/a", &json!({"status": "healthy"}));
    let c = compiler.compile(&etcd.mirror);
    assert_eq!(
        service_part(&c, "s").expect("part").endpoints[0].health,
        Health::Healthy
    );
}

#[test]
fn cache_notices_changed_bytes_and_revisions() {
    let mut etcd = Etcd::default();
    etcd.put("/mesh/services/s", &service("s"))
        .put("/mesh/routes/r", &route("r", &["a.example.com"], &["s"]));
    let mut compiler = Compiler::new(keys());
    compiler.compile(&etcd.mirror);
    // Same revisions, other bytes (not something etcd does; the cache must
    // still not serve a stale result).
    let mut forged = etcd.mirror.clone();
    let stored = forged.kvs.get_mut("/mesh/routes/r").expect("key");
    stored.value = Arc::from(
        route("r", &["b.example.com"], &["s"])
            .to_string()
            .as_bytes(),
    );
    assert_eq!(compiler.compile(&forged), compile(&keys(), &forged));
    // Deleted and re-created: another create revision, so another part.
    etcd.delete("/mesh/routes/r")
        .put("/mesh/routes/r", &route("r", &["a.example.com"], &["s"]));
    let c = compiler.compile(&etcd.mirror);
    assert_eq!(route_part(&c, "r").expect("part").created_revision, 4);
    assert_eq!(c, compile(&keys(), &etcd.mirror));
}
