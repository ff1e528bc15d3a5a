//! backendRefs: references, weights, duplicates, limits, and their filters.

use super::*;
use crate::model::{Backend, Name};

const B0: &str = "spec.rules[0].backendRefs[0]";
const B1: &str = "spec.rules[0].backendRefs[1]";

fn backends(list: &str) -> String {
    rule(&format!("{{backendRefs: [{list}]}}"))
}

#[test]
fn references() {
    let r = first_rule(&backends(
        "{name: orders-v1, weight: 90}, {name: orders-v2, port: 8080, weight: 10, group: '', kind: Service}, {name: orders-v3}",
    ));
    let b = |s: &str, port, weight| Backend {
        service: Name::parse(s).expect("name"),
        port,
        weight,
        filters: Vec::new(),
    };
    assert_eq!(
        r.backends,
        [
            b("orders-v1", None, 90),
            b("orders-v2", Some(8080), 10),
            b("orders-v3", None, 1)
        ]
    );
    refuse(
        &backends("{name: Orders}"),
        &format!("{B0}.name"),
        "found 'O'",
    );
    refuse(
        &backends("{name: ''}"),
        &format!("{B0}.name"),
        "must not be empty",
    );
    refuse(
        &backends("{name: s, group: apps}"),
        &format!("{B0}.group"),
        "must be empty",
    );
    refuse(
        &backends("{name: s, kind: Deployment}"),
        &format!("{B0}.kind"),
        "must be Service, not \"Deployment\"",
    );
    refuse(
        &backends("{name: s, namespace: default}"),
        &format!("{B0}.namespace"),
        "must not be set: mesh services have no namespaces",
    );
    refuse(
        &backends("{name: s, port: 0}"),
        &format!("{B0}.port"),
        "between 1 and 65535 (got 0)",
    );
    refuse(
        &backends("{name: s, port: 70000}"),
        &format!("{B0}.port"),
        "between 1 and 65535",
    );
}

#[test]
fn weights() {
    let r = first_rule(&backends(
        "{name: a, weight: 0}, {name: b, weight: 1000000}",
    ));
    assert_eq!((r.backends[0].weight, r.backends[1].weight), (0, 1_000_000));
    refuse(
        &backends("{name: a}, {name: b, weight: 1000001}"),
        &format!("{B1}.weight"),
        "must be between 0 and 1000000",
    );
    refuse(
        &backends("{name: a, weight: -5}"),
        &format!("{B0}.weight"),
        "must be between 0 and 1000000 (got -5)",
    );
}

#[test]
fn duplicates_and_limits() {
    accept(&backends(
        "{name: a}, {name: a, port: 8080}, {name: a, port: 8081}",
    ));
    refuse(
        &backends("{name: a}, {name: a, weight: 5}"),
        &format!("{B1}.name"),
        "duplicate of backendRefs[0] (same name and port)",
    );
    refuse(
        &backends("{name: a, port: 80}, {name: a, port: 80}"),
        &format!("{B1}.name"),
        "duplicate of backendRefs[0]",
    );
    accept(&backends(&items(16, |i| format!("{{name: s{i}}}"))));
    refuse(
        &backends(&items(17, |i| format!("{{name: s{i}}}"))),
        "spec.rules[0].backendRefs",
        "at most 16 entries (has 17)",
    );
}

#[test]
fn backend_filters() {
    let r = first_rule(&backends(
        "{name: a, filters: [\
           {type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: x-backend, value: a}]}},\
           {type: ResponseHeaderModifier, responseHeaderModifier: {remove: [server]}},\
           {type: URLRewrite, urlRewrite: {path: {type: ReplaceFullPath, replaceFullPath: /a}}},\
           {type: RequestMirror, requestMirror: {backendRef: {name: shadow}}}]}",
    ));
    assert_eq!(r.backends[0].filters.len(), 4);
    refuse(
        &backends("{name: a, filters: [{type: RequestRedirect, requestRedirect: {scheme: https}}]}"),
        &format!("{B0}.filters[0].type"),
        "RequestRedirect is not allowed in backendRef filters: a redirect answers without a backend",
    );
    refuse(
        &backends("{name: a, filters: [{type: ExtensionRef, extensionRef: {group: g, kind: k, name: n}}]}"),
        &format!("{B0}.filters[0].type"),
        "not supported",
    );
    let twice = "{type: ResponseHeaderModifier, responseHeaderModifier: {}}";
    refuse(
        &backends(&format!("{{name: a, filters: [{twice}, {twice}]}}")),
        &format!("{B0}.filters[1].type"),
        "may appear only once",
    );
    refuse(
        &backends("{name: a, filters: [{type: RequestMirror, requestMirror: {backendRef: {name: shadow}, percent: 200}}]}"),
        &format!("{B0}.filters[0].requestMirror.percent"),
        "between 0 and 100",
    );
}
