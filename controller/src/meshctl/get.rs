//! `meshctl get` and `meshctl delete`: read resources back from etcd as a
//! readable table, JSON or YAML (which `apply` takes back as it is), and
//! delete one by name.

use super::{Context, MeshctlError, Output};
use crate::store::Store;
use mesh_config::keys::{KeyRef, ResourceId};
use mesh_config::parse::parse_stored;
use mesh_config::spec::Document;
use mesh_config::Kind;

/// One stored resource: its key, and its document or why it did not parse.
struct Stored {
    id: ResourceId,
    key: String,
    lease: i64,
    doc: Result<Document, String>,
}

/// Reads every resource of `kind`, in key order.
async fn list(ctx: &Context, store: &Store, kind: Kind) -> Result<Vec<Stored>, MeshctlError> {
    let (_rev, kvs) = store.list_prefix(&ctx.keys.kind_prefix(kind)).await?;
    Ok(kvs
        .into_iter()
        .filter_map(|kv| match ctx.keys.parse(&kv.key) {
            Some(KeyRef::Resource(id)) => Some(Stored {
                doc: parse_stored(&kv.value, &kv.key).map_err(|p| p.to_string()),
                id,
                key: kv.key,
                lease: kv.lease,
            }),
            _ => None,
        })
        .collect())
}

/// Picks the resources `name` names: for endpoints `SERVICE/NAME`, or a bare
/// NAME (which may be ambiguous across services).
fn select(all: Vec<Stored>, name: &str) -> Vec<Stored> {
    all.into_iter()
        .filter(|s| match &s.id {
            ResourceId::Endpoint { service, name: n } => {
                name == n || name.split_once('/') == Some((service.as_str(), n.as_str()))
            }
            other => other.name() == name,
        })
        .collect()
}

/// Finds exactly one resource of `kind` called `name`.
async fn find_one(
    ctx: &Context,
    store: &Store,
    kind: Kind,
    name: &str,
) -> Result<Stored, MeshctlError> {
    let mut found = select(list(ctx, store, kind).await?, name);
    match found.len() {
        0 => Err(MeshctlError::NotFound(format!(
            "{} {name} not found",
            kind.noun()
        ))),
        1 => Ok(found.remove(0)),
        _ => Err(MeshctlError::Invalid(format!(
            "{} {name} is ambiguous: {}; name it as SERVICE/NAME",
            kind.noun(),
            found
                .iter()
                .map(|s| s.id.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// `meshctl get KIND [NAME] [-o FORMAT]`.
pub async fn get(
    ctx: &Context,
    kind: Kind,
    name: Option<&str>,
    output: Output,
) -> Result<(), MeshctlError> {
    let store = ctx.store().await?;
    let items = match name {
        Some(n) => vec![find_one(ctx, &store, kind, n).await?],
        None => list(ctx, &store, kind).await?,
    };
    match output {
        Output::Table => print!("{}", table(kind, &items)),
        Output::Json | Output::Yaml => {
            let mut docs = Vec::new();
            for item in &items {
                match &item.doc {
                    Ok(doc) => docs.push(doc),
                    Err(reason) => eprintln!("meshctl: skipping {}: {reason}", item.key),
                }
            }
            let text =
                if output == Output::Json {
                    match (name, docs.as_slice()) {
                        (Some(_), [one]) => serde_json::to_string_pretty(one),
                        _ => serde_json::to_string_pretty(&docs),
                    }
                    .map_err(|e| MeshctlError::Invalid(format!("cannot write JSON: {e}")))?
                } else {
                    let mut parts = Vec::new();
                    for doc in docs {
                        parts.push(serde_yaml_ng::to_string(doc).map_err(|e| {
                            MeshctlError::Invalid(format!("cannot write YAML: {e}"))
                        })?);
                    }
                    parts.join("---\n")
                };
            println!("{}", text.trim_end());
        }
    }
    Ok(())
}

/// `meshctl delete KIND NAME`.
pub async fn delete(ctx: &Context, kind: Kind, name: &str) -> Result<(), MeshctlError> {
    let store = ctx.store().await?;
    let item = find_one(ctx, &store, kind, name).await?;
    if store.delete(&item.key).await? {
        println!("{} deleted", item.id);
        Ok(())
    } else {
        Err(MeshctlError::NotFound(format!("{} not found", item.id)))
    }
}

/// Renders a table with a header and aligned columns.
fn table(kind: Kind, items: &[Stored]) -> String {
    let header: &[&str] = match kind {
        Kind::Service => &["NAME", "PROTOCOL", "LOAD-BALANCER", "CONNECT-TIMEOUT"],
        Kind::Endpoint => &[
            "SERVICE", "NAME", "ADDRESS", "WEIGHT", "ZONE", "LABELS", "LEASE",
        ],
        Kind::Route => &["NAME", "HOSTNAMES", "RULES", "BACKENDS"],
    };
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|h| (*h).to_owned()).collect()];
    for item in items {
        rows.push(row(item));
    }
    render_table(&rows)
}

/// Renders rows (the first is the header) with aligned columns.
pub(super) fn render_table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(c, cell)| format!("{cell:<w$}", w = widths.get(c).copied().unwrap_or(0)))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// One table row; an invalid stored value shows its problem in place.
fn row(item: &Stored) -> Vec<String> {
    let doc = match &item.doc {
        Ok(doc) => doc,
        Err(reason) => {
            let mut r = match &item.id {
                ResourceId::Endpoint { service, name } => vec![service.clone(), name.clone()],
                other => vec![other.name().to_owned()],
            };
            r.push(format!("INVALID: {reason}"));
            return r;
        }
    };
    let or_dash = |s: Option<&str>| s.unwrap_or("-").to_owned();
    match doc {
        Document::Service(s) => vec![
            s.name.clone(),
            s.spec.protocol.as_str().to_owned(),
            s.spec.load_balancer.as_str().to_owned(),
            or_dash(s.spec.connect_timeout.as_deref()),
        ],
        Document::Endpoint(e) => vec![
            e.spec.service.clone(),
            e.name.clone(),
            format!("{}:{}", bracket_v6(&e.spec.address), e.spec.port),
            e.spec.weight.unwrap_or(1).to_string(),
            or_dash(e.spec.zone.as_deref()),
            if e.spec.labels.is_empty() {
                "-".to_owned()
            } else {
                e.spec
                    .labels
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(",")
            },
            if item.lease == 0 {
                "-".to_owned()
            } else {
                format!("{:x}", item.lease)
            },
        ],
        Document::Route(r) => {
            let mut backends: Vec<String> = Vec::new();
            for rule in &r.spec.rules {
                for b in &rule.backend_refs {
                    if !backends.contains(&b.name) {
                        backends.push(b.name.clone());
                    }
                }
            }
            vec![
                r.name.clone(),
                if r.spec.hostnames.is_empty() {
                    "*".to_owned()
                } else {
                    r.spec.hostnames.join(",")
                },
                r.spec.rules.len().max(1).to_string(),
                if backends.is_empty() {
                    "-".to_owned()
                } else {
                    backends.join(",")
                },
            ]
        }
    }
}

fn bracket_v6(address: &str) -> String {
    if address.contains(':') {
        format!("[{address}]")
    } else {
        address.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesh_config::parse::parse_documents;

    fn stored(yaml: &str) -> Stored {
        let doc = parse_documents(yaml).remove(0).expect("valid document");
        Stored {
            id: ResourceId::of(&doc),
            key: String::new(),
            lease: 0,
            doc: Ok(doc),
        }
    }

    #[test]
    fn route_table_is_aligned_and_readable() {
        let items = [
            stored("kind: Route\nname: demo\nspec:\n  hostnames: [demo.example.com]\n  rules:\n    - backendRefs: [{name: v1, weight: 90}, {name: v2, weight: 10}]\n"),
            stored("kind: Route\nname: catch-all-route\n"),
        ];
        let t = table(Kind::Route, &items);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(
            lines[0],
            "NAME             HOSTNAMES         RULES  BACKENDS"
        );
        assert_eq!(lines[1], "demo             demo.example.com  1      v1,v2");
        assert_eq!(lines[2], "catch-all-route  *                 1      -");
    }

    #[test]
    fn invalid_values_show_in_place() {
        let item = Stored {
            id: ResourceId::Endpoint {
                service: "s".into(),
                name: "e".into(),
            },
            key: "/mesh/endpoints/s/e".into(),
            lease: 7,
            doc: Err("not valid JSON".into()),
        };
        let t = table(Kind::Endpoint, &[item]);
        assert!(
            t.lines()
                .nth(1)
                .is_some_and(|l| l.contains("INVALID: not valid JSON")),
            "{t}"
        );
    }

    #[test]
    fn select_endpoints_by_bare_or_qualified_name() {
        let a =
            stored("kind: Endpoint\nname: e1\nspec: {service: a, address: 127.0.0.1, port: 1}\n");
        let b =
            stored("kind: Endpoint\nname: e1\nspec: {service: b, address: 127.0.0.1, port: 1}\n");
        let c =
            stored("kind: Endpoint\nname: e1\nspec: {service: b, address: 127.0.0.1, port: 1}\n");
        assert_eq!(select(vec![a, b], "e1").len(), 2);
        assert_eq!(select(vec![c], "b/e1").len(), 1);
    }
}
