//! Services, endpoints, sets of documents, and reporting.

use super::*;
use crate::model::{HeaderName, Name, DEFAULT_CONNECT_TIMEOUT};
use crate::spec::{LoadBalancer, Protocol};
use crate::validate::validate_all;
use std::net::IpAddr;
use std::time::Duration;

fn service(spec: &str) -> String {
    format!("kind: Service\nname: orders\nspec: {spec}\n")
}

fn endpoint(fields: &str) -> String {
    format!("kind: Endpoint\nname: orders-1\nspec: {{service: orders, address: 10.0.0.1, port: 9001{fields}}}\n")
}

#[test]
fn service_defaults() {
    let Resource::Service(s) = accept("kind: Service\nname: orders\n") else {
        panic!("not a service")
    };
    assert_eq!(s.name.as_str(), "orders");
    assert_eq!(s.protocol, Protocol::Http);
    assert_eq!(s.load_balancer, LoadBalancer::RoundRobin);
    assert_eq!(s.connect_timeout, DEFAULT_CONNECT_TIMEOUT);
    assert_eq!(s.hash_header, None);
}

#[test]
fn service_fields() {
    let Resource::Service(s) = accept(&service(
        "{protocol: grpc, loadBalancer: ring_hash, connectTimeout: 250ms, hashHeader: X-User}",
    )) else {
        panic!("not a service")
    };
    assert_eq!(s.connect_timeout, Duration::from_millis(250));
    assert_eq!(s.hash_header, HeaderName::parse("x-user").ok());

    refuse(
        "kind: Service\nname: Orders\n",
        "name",
        "lower-case letters",
    );
    refuse("kind: Service\nname: ''\n", "name", "must not be empty");
    refuse(
        &service("{connectTimeout: 1.5s}"),
        "spec.connectTimeout",
        "not a duration",
    );
    refuse(
        &service("{connectTimeout: 0s}"),
        "spec.connectTimeout",
        "greater than 0s",
    );
    refuse(
        &service("{loadBalancer: ring_hash, hashHeader: 'x user'}"),
        "spec.hashHeader",
        "found ' '",
    );
    refuse(
        &service("{hashHeader: x-user}"),
        "spec.hashHeader",
        "only valid with loadBalancer ring_hash (not round_robin)",
    );
}

#[test]
fn endpoint_defaults_and_fields() {
    let Resource::Endpoint(e) = accept(&endpoint("")) else {
        panic!("not an endpoint")
    };
    assert_eq!(e.name.as_str(), "orders-1");
    assert_eq!(e.service, Name::parse("orders").expect("name"));
    assert_eq!(e.address, IpAddr::from([10, 0, 0, 1]));
    assert_eq!((e.port, e.weight, e.zone), (9001, 1, None));

    let Resource::Endpoint(e) = accept(&endpoint(
        ", weight: 0, zone: us-east-1a, labels: {version: v1, app.kubernetes.io/name: orders, empty: ''}",
    )) else {
        panic!("not an endpoint")
    };
    assert_eq!((e.weight, e.zone.as_deref()), (0, Some("us-east-1a")));
    assert_eq!(e.labels.len(), 3);
    accept(
        "kind: Endpoint\nname: e\nspec: {service: s, address: 'fd00::1', port: 1, weight: 10000}\n",
    );
}

#[test]
fn endpoint_names() {
    refuse(
        "kind: Endpoint\nname: Orders-1\nspec: {service: orders, address: 10.0.0.1, port: 1}\n",
        "name",
        "lower-case letters",
    );
    refuse(
        "kind: Endpoint\nname: e\nspec: {service: orders_v2, address: 10.0.0.1, port: 1}\n",
        "spec.service",
        "found '_'",
    );
}

#[test]
fn endpoint_addresses() {
    let at = |address: &str, fragment: &str| {
        let yaml = format!(
            "kind: Endpoint\nname: e\nspec: {{service: s, address: '{address}', port: 1}}\n"
        );
        refuse(&yaml, "spec.address", fragment);
    };
    at("orders.internal", "IPv4 or IPv6 address");
    at("10.0.0.1:9001", "without a port");
    at("[::1]", "without brackets");
    at("0.0.0.0", "unspecified");
    at("::", "unspecified");
    at("224.0.0.1", "multicast");
    at("ff02::1", "multicast");
    at("255.255.255.255", "broadcast");
    at("", "IPv4 or IPv6 address");
}

#[test]
fn endpoint_numbers() {
    refuse(
        &endpoint(", weight: 10001"),
        "spec.weight",
        "must be between 0 and 10000",
    );
    refuse(
        &endpoint(", weight: -1"),
        "spec.weight",
        "must be between 0 and 10000",
    );
    refuse(
        "kind: Endpoint\nname: e\nspec: {service: s, address: 10.0.0.1, port: 0}\n",
        "spec.port",
        "must be between 1 and 65535",
    );
    refuse(
        "kind: Endpoint\nname: e\nspec: {service: s, address: 10.0.0.1, port: 65536}\n",
        "spec.port",
        "must be between 1 and 65535 (got 65536)",
    );
}

#[test]
fn endpoint_zone_and_labels() {
    refuse(&endpoint(", zone: 'us east'"), "spec.zone", "found ' '");
    refuse(&endpoint(", zone: ''"), "spec.zone", "must not be empty");
    refuse(
        &endpoint(&format!(", zone: {}", "a".repeat(64))),
        "spec.zone",
        "at most 63",
    );
    refuse(
        &endpoint(", labels: {'Bad Key': v}"),
        "spec.labels[\"Bad Key\"]",
        "key name must contain only",
    );
    refuse(
        &endpoint(", labels: {'EXAMPLE.com/a': v}"),
        "spec.labels[\"EXAMPLE.com/a\"]",
        "key prefix (before '/') must be lower-case",
    );
    refuse(
        &endpoint(", labels: {version: 'v 1'}"),
        "spec.labels[\"version\"]",
        "value must contain only",
    );
    let many = items(65, |i| format!("k{i}: v"));
    refuse(
        &endpoint(&format!(", labels: {{{many}}}")),
        "spec.labels",
        "at most 64 entries (has 65)",
    );
}

#[test]
fn every_problem_is_reported() {
    let yaml = r#"
kind: Route
name: Bad_Name
spec:
  hostnames: [ok.example.com, 10.0.0.1, ok.example.com]
  rules:
    - matches: [{path: {type: Exact, value: no-slash}}]
      backendRefs:
        - {name: a, weight: -1}
        - {name: a, port: 0, namespace: prod}
      timeouts: {request: 1s, backendRequest: 2s}
    - retry: {codes: [200], attempts: 11}
"#;
    let p = problems(yaml);
    let paths: Vec<&str> = p.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "name",
            "spec.hostnames[1]",
            "spec.hostnames[2]",
            "spec.rules[0].matches[0].path.value",
            "spec.rules[0].backendRefs[0].weight",
            "spec.rules[0].backendRefs[1].namespace",
            "spec.rules[0].backendRefs[1].port",
            "spec.rules[0].timeouts.backendRequest",
            "spec.rules[1].retry.codes[0]",
            "spec.rules[1].retry.attempts",
        ],
        "{}",
        Problems(p.clone())
    );
    assert!(p.iter().all(|p| p.resource == "route Bad_Name"));
    assert_eq!(
        p[4].to_string(),
        "route Bad_Name: spec.rules[0].backendRefs[0].weight: must be between 0 and 1000000 (got -1)"
    );
}

#[test]
fn sets_of_documents() {
    let docs: Vec<Document> = [
        "kind: Service\nname: a\n",
        "kind: Route\nname: a\n",
        "kind: Endpoint\nname: e1\nspec: {service: a, address: 10.0.0.1, port: 1}\n",
        "kind: Endpoint\nname: e1\nspec: {service: b, address: 10.0.0.2, port: 1}\n",
    ]
    .iter()
    .map(|y| doc(y))
    .collect();
    let resources = validate_all(&docs).unwrap_or_else(|p| panic!("{}", Problems(p)));
    assert_eq!(resources.len(), 4);
    assert_eq!(resources[1].name().as_str(), "a");

    let mut dup = docs.clone();
    dup.push(doc(
        "kind: Route\nname: a\nspec: {hostnames: [x.example.com]}\n",
    ));
    dup.push(doc(
        "kind: Endpoint\nname: e1\nspec: {service: b, address: 10.0.0.3, port: 2}\n",
    ));
    dup.push(doc("kind: Service\nname: Bad\n"));
    let p = validate_all(&dup).expect_err("duplicates");
    let text = Problems(p).to_string();
    assert_eq!(
        text,
        "route a: name: duplicate of document 2 (same kind and name)\n\
         endpoint b/e1: name: duplicate of document 4 (same service and name)\n\
         service Bad: name: must contain only lower-case letters, digits and '-' (found 'B')"
    );
}
