//! JSON documents of mesh resources, as users write them into etcd.
//!
//! These are the documents of the README's configuration reference, built
//! with `serde_json::json!`; tests write them straight into etcd (no
//! meshctl), exactly as any other tool would.

use serde_json::{json, Value};

/// `kind: Service` named `name`, default settings.
pub fn service(name: &str) -> Value {
    json!({"kind": "Service", "name": name})
}

/// `kind: Endpoint` `name` of `service` at `127.0.0.1:port`.
pub fn endpoint(service: &str, name: &str, port: u16) -> Value {
    json!({
        "kind": "Endpoint",
        "name": name,
        "spec": {"service": service, "address": "127.0.0.1", "port": port}
    })
}

/// `kind: Route` `name`: requests for `host` under `path_prefix` go to
/// `service`.
pub fn route(name: &str, host: &str, path_prefix: &str, service: &str) -> Value {
    json!({
        "kind": "Route",
        "name": name,
        "spec": {
            "hostnames": [host],
            "rules": [{
                "matches": [{"path": {"type": "PathPrefix", "value": path_prefix}}],
                "backendRefs": [{"name": service}]
            }]
        }
    })
}
