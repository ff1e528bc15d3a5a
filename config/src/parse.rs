//! Text → [`Document`]s.
//!
//! A file holds one or more YAML documents separated by `---` (JSON is YAML,
//! so JSON files work too; a top-level array is a list of documents). Each
//! document is either a mesh resource (`kind: Service | Endpoint | Route`,
//! `name`, `spec`) or a Gateway API `HTTPRoute` as Kubernetes stores it
//! (`apiVersion: gateway.networking.k8s.io/v1`, `metadata.name`, `spec`),
//! which becomes a Route (`parentRefs` and `status` are ignored).
//!
//! A document whose shape is wrong (unknown field, wrong type, unknown enum
//! value) is reported as a [`Problem`] with its field path; the other
//! documents are still parsed, so one run reports every broken document.

use crate::spec::{Document, EndpointDoc, Kind, RouteDoc, RouteSpec, ServiceDoc};
use crate::validate::Problem;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{Map, Value};

/// The `apiVersion`s of Gateway API HTTPRoute documents that are accepted.
pub const GATEWAY_API_VERSIONS: [&str; 2] = [
    "gateway.networking.k8s.io/v1",
    "gateway.networking.k8s.io/v1beta1",
];

/// Kubernetes `ObjectMeta` fields accepted (and ignored but for `name`) in a
/// Gateway API document, so that `kubectl get -o yaml` output applies as is.
const OBJECT_META_FIELDS: [&str; 12] = [
    "name",
    "namespace",
    "labels",
    "annotations",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "finalizers",
    "ownerReferences",
    "generateName",
];

/// Parses every document in `text`, in order. Empty documents (a trailing
/// `---`, comments only) are skipped. A YAML syntax error ends the parse: it
/// is reported as the last item, since what follows it cannot be trusted.
pub fn parse_documents(text: &str) -> Vec<Result<Document, Problem>> {
    let mut out = Vec::new();
    let mut number = 0;
    for de in serde_yaml_ng::Deserializer::from_str(text) {
        number += 1;
        match Value::deserialize(de) {
            Ok(Value::Null) => {}
            Ok(Value::Array(items)) => {
                for item in items {
                    out.push(document_from_value(item, &format!("document {number}")));
                }
            }
            Ok(value) => out.push(document_from_value(value, &format!("document {number}"))),
            Err(e) => {
                out.push(Err(Problem {
                    resource: format!("document {number}"),
                    path: String::new(),
                    reason: format!("not valid YAML or JSON: {}", one_line(&e.to_string())),
                }));
                break;
            }
        }
    }
    out
}

/// Parses a value stored in etcd (JSON; the Gateway API form is accepted
/// too). `what` names it in problems, e.g. the key.
pub fn parse_stored(bytes: &[u8], what: &str) -> Result<Document, Problem> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(value) => document_from_value(value, what),
        Err(e) => Err(Problem {
            resource: what.to_owned(),
            path: String::new(),
            reason: format!("not valid JSON: {e}"),
        }),
    }
}

/// Turns one parsed value into a document. `fallback` names it in problems
/// until its own kind and name are known.
pub fn document_from_value(value: Value, fallback: &str) -> Result<Document, Problem> {
    let Value::Object(mut map) = value else {
        return Err(problem(
            fallback,
            "",
            "must be a mapping with kind, name and spec",
        ));
    };
    if map.contains_key("apiVersion") {
        return gateway_route(map, fallback);
    }
    let label = label_of(&map, fallback);
    let kind = match map.remove("kind") {
        Some(Value::String(k)) => k,
        Some(_) => return Err(problem(&label, "kind", "must be a string")),
        None => {
            return Err(problem(
                &label,
                "kind",
                "missing: expected Service, Endpoint or Route",
            ))
        }
    };
    let value = Value::Object(map);
    match kind.as_str() {
        "Service" => typed::<ServiceDoc>(value, &label, "").map(Document::Service),
        "Endpoint" => typed::<EndpointDoc>(value, &label, "").map(Document::Endpoint),
        "Route" => typed::<RouteDoc>(value, &label, "").map(Document::Route),
        "HTTPRoute" => Err(problem(
            &label,
            "apiVersion",
            "missing: an HTTPRoute needs apiVersion gateway.networking.k8s.io/v1 (or use kind: Route)",
        )),
        other => Err(problem(
            &label,
            "kind",
            &format!("unknown kind `{other}`: expected Service, Endpoint or Route"),
        )),
    }
}

/// A Gateway API `HTTPRoute` document → a Route.
fn gateway_route(mut map: Map<String, Value>, fallback: &str) -> Result<Document, Problem> {
    let name = map
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let label = match &name {
        Some(n) => format!("route {n}"),
        None => fallback.to_owned(),
    };
    let version = map.remove("apiVersion");
    match version.as_ref().and_then(Value::as_str) {
        Some(v) if GATEWAY_API_VERSIONS.contains(&v) => {}
        _ => {
            return Err(problem(
                &label,
                "apiVersion",
                &format!(
                    "unsupported: expected {} (mesh documents have no apiVersion)",
                    GATEWAY_API_VERSIONS.join(" or ")
                ),
            ))
        }
    }
    match map.remove("kind") {
        Some(Value::String(k)) if k == "HTTPRoute" => {}
        _ => {
            return Err(problem(
                &label,
                "kind",
                "must be HTTPRoute for a gateway.networking.k8s.io document",
            ))
        }
    }
    let mut metadata = match map.remove("metadata") {
        Some(Value::Object(m)) => m,
        _ => return Err(problem(&label, "metadata", "missing: needs metadata.name")),
    };
    if let Some(field) = metadata
        .keys()
        .find(|k| !OBJECT_META_FIELDS.contains(&k.as_str()))
    {
        return Err(problem(
            &label,
            &format!("metadata.{field}"),
            "unknown field",
        ));
    }
    let Some(Value::String(name)) = metadata.remove("name") else {
        return Err(problem(
            &label,
            "metadata.name",
            "missing: must be a string",
        ));
    };
    map.remove("status");
    let mut spec = match map.remove("spec") {
        Some(Value::Object(s)) => s,
        None => Map::new(),
        Some(_) => return Err(problem(&label, "spec", "must be a mapping")),
    };
    if let Some(field) = map.keys().next() {
        return Err(problem(&label, field, "unknown field"));
    }
    spec.remove("parentRefs");
    let spec = typed::<RouteSpec>(Value::Object(spec), &label, "spec")?;
    Ok(Document::Route(RouteDoc { name, spec }))
}

/// Deserializes `value` as `T`, reporting a failure with its field path
/// (prefixed with `base`).
fn typed<T: DeserializeOwned>(value: Value, label: &str, base: &str) -> Result<T, Problem> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let inner = e.path().to_string();
        let path = match (base, inner.as_str()) {
            (b, ".") => b.to_owned(),
            ("", i) => i.to_owned(),
            (b, i) => format!("{b}.{i}"),
        };
        problem(label, &path, &one_line(&e.into_inner().to_string()))
    })
}

/// `route orders` when the document says its kind and name, else `fallback`.
fn label_of(map: &Map<String, Value>, fallback: &str) -> String {
    let kind = map
        .get("kind")
        .and_then(Value::as_str)
        .and_then(|k| Kind::ALL.into_iter().find(|c| c.as_str() == k));
    let name = map.get("name").and_then(Value::as_str);
    match (kind, name) {
        (Some(Kind::Endpoint), Some(n)) => {
            match map
                .get("spec")
                .and_then(|s| s.get("service"))
                .and_then(Value::as_str)
            {
                Some(s) => format!("endpoint {s}/{n}"),
                None => format!("endpoint {n}"),
            }
        }
        (Some(k), Some(n)) => format!("{} {n}", k.noun()),
        _ => fallback.to_owned(),
    }
}

fn problem(resource: &str, path: &str, reason: &str) -> Problem {
    Problem {
        resource: resource.to_owned(),
        path: path.to_owned(),
        reason: reason.to_owned(),
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{PathMatchType, Protocol};

    fn one(text: &str) -> Result<Document, Problem> {
        let mut docs = parse_documents(text);
        assert_eq!(docs.len(), 1, "{docs:?}");
        docs.remove(0)
    }

    fn err(text: &str) -> Problem {
        one(text).expect_err("must not parse")
    }

    #[test]
    fn several_documents_yaml_and_json() {
        let docs = parse_documents(
            "kind: Service\nname: a\n---\n{\"kind\":\"Service\",\"name\":\"b\",\"spec\":{\"protocol\":\"grpc\"}}\n---\n# only a comment\n---\n",
        );
        assert_eq!(docs.len(), 2);
        let Ok(Document::Service(b)) = &docs[1] else {
            panic!("{docs:?}")
        };
        assert_eq!(b.name, "b");
        assert_eq!(b.spec.protocol, Protocol::Grpc);
    }

    #[test]
    fn top_level_array_is_a_list() {
        let docs = parse_documents(
            r#"[{"kind":"Service","name":"a"},{"kind":"Route","name":"r","spec":{}}]"#,
        );
        assert_eq!(docs.len(), 2);
        assert!(docs.iter().all(Result::is_ok));
    }

    #[test]
    fn unknown_field_has_its_path() {
        let p = err("kind: Route\nname: r\nspec:\n  rules:\n    - matches:\n        - path: {type: Exact, value: /a, extra: 1}\n");
        assert_eq!(p.resource, "route r");
        assert_eq!(p.path, "spec.rules[0].matches[0].path.extra");
        assert!(p.reason.contains("unknown field `extra`"), "{p}");
    }

    #[test]
    fn unknown_enum_value_has_its_path() {
        let p = err("kind: Service\nname: s\nspec: {protocol: htp}\n");
        assert_eq!(p.path, "spec.protocol");
        assert!(p.reason.contains("unknown variant `htp`"), "{p}");
    }

    #[test]
    fn wrong_type_and_missing_field() {
        let p =
            err("kind: Endpoint\nname: e\nspec: {service: s, address: 127.0.0.1, port: high}\n");
        assert_eq!(
            (p.resource.as_str(), p.path.as_str()),
            ("endpoint s/e", "spec.port")
        );
        let p = err("kind: Endpoint\nname: e\nspec: {service: s, port: 1}\n");
        assert!(p.reason.contains("missing field `address`"), "{p}");
    }

    #[test]
    fn kind_problems() {
        assert!(err("name: x\n").reason.contains("missing"));
        assert!(err("kind: Gateway\nname: x\n")
            .reason
            .contains("unknown kind `Gateway`"));
        assert!(err("kind: 3\nname: x\n")
            .reason
            .contains("must be a string"));
        assert_eq!(err("- 1\n").resource, "document 1");
        assert!(err("just a string\n").reason.contains("must be a mapping"));
        assert!(err("kind: HTTPRoute\nmetadata: {name: x}\n")
            .reason
            .contains("apiVersion"));
    }

    #[test]
    fn yaml_syntax_error_is_reported_and_stops() {
        let docs = parse_documents(
            "kind: Service\nname: a\n---\nkind: [unclosed\n---\nkind: Service\nname: c\n",
        );
        assert_eq!(docs.len(), 2, "{docs:?}");
        let p = docs[1].as_ref().expect_err("syntax error");
        assert_eq!(p.resource, "document 2");
        assert!(p.reason.starts_with("not valid YAML or JSON"), "{p}");
    }

    #[test]
    fn gateway_api_httproute_becomes_a_route() {
        let doc = one(r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: orders
  namespace: shop
  labels: {app: orders}
spec:
  parentRefs: [{name: mesh}]
  hostnames: [orders.example.com]
  rules:
    - matches: [{path: {type: Exact, value: /v1}}]
      backendRefs: [{name: orders, port: 8080, weight: 3}]
status:
  parents: []
"#)
        .expect("parses");
        let Document::Route(r) = doc else {
            panic!("{doc:?}")
        };
        assert_eq!(r.name, "orders");
        assert_eq!(r.spec.hostnames, ["orders.example.com"]);
        let m = &r.spec.rules[0].matches[0];
        assert_eq!(m.path.as_ref().map(|p| p.kind), Some(PathMatchType::Exact));
        assert_eq!(r.spec.rules[0].backend_refs[0].weight, Some(3));
    }

    #[test]
    fn gateway_api_problems() {
        let p =
            err("apiVersion: gateway.networking.k8s.io/v2\nkind: HTTPRoute\nmetadata: {name: x}\n");
        assert_eq!(p.path, "apiVersion");
        let p =
            err("apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: x}\n");
        assert_eq!(p.path, "kind");
        let p = err("apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {}\n");
        assert_eq!(p.path, "metadata.name");
        let p = err("apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: x, colour: red}\n");
        assert_eq!(p.path, "metadata.colour");
        let p = err("apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: x}\nspec: {rules: [{bogus: 1}]}\n");
        assert_eq!(
            (p.resource.as_str(), p.path.as_str()),
            ("route x", "spec.rules[0].bogus")
        );
        let p = err("apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: x}\nextra: 1\n");
        assert_eq!(p.path, "extra");
    }

    #[test]
    fn stored_json_round_trips() {
        let doc =
            one("kind: Route\nname: r\nspec: {hostnames: [a.example.com]}\n").expect("parses");
        let back = parse_stored(doc.to_json().as_bytes(), "/mesh/routes/r").expect("parses");
        assert_eq!(back, doc);
        let p = parse_stored(b"{not json", "/mesh/routes/r").expect_err("bad json");
        assert_eq!(p.resource, "/mesh/routes/r");
    }
}
