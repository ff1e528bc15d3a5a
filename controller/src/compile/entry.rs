//! One mirrored key, classified, parsed and validated once: the unit of the
//! compiler's cache.
//!
//! An [`Entry`] is rebuilt only when its key's value changes (another mod or
//! create revision, or other bytes); otherwise the compile reuses it as is,
//! with the route part built from it the last time.

use mesh_config::keys::{KeyRef, Keys, ResourceId};
use mesh_config::model::Hostname;
use mesh_config::parse::parse_stored;
use mesh_config::spec::{Document, FilterType, RouteFilter, RouteSpec, ServiceSpec};
use mesh_config::table::{EndpointEntry, Health, HealthRecord, Part};
use mesh_config::{validate, Resource};
use std::sync::Arc;

use crate::mirror::StoredValue;

/// One key of the mirror and what it means for the table.
#[derive(Debug)]
pub(super) struct Entry {
    pub key: String,
    value: Arc<[u8]>,
    pub create_revision: i64,
    pub mod_revision: i64,
    /// Built since the last compile: nothing derived from it is cached.
    pub fresh: bool,
    /// For a valid route, the exact hostnames it lists that could be a
    /// service's implicit name (`orders`, `orders.mesh`); kept here, not in
    /// [`RouteData`], so that a compile finds them without a pointer chase.
    pub claims: Vec<String>,
    pub item: Item,
}

/// What a key is.
#[derive(Debug)]
pub(super) enum Item {
    /// A resource; `Err` holds every problem, one line each.
    Resource {
        id: ResourceId,
        outcome: Result<Valid, Vec<String>>,
    },
    /// A health record; a bad value reads as [`Health::Unknown`].
    Health {
        service: String,
        name: String,
        health: Health,
    },
    /// Anything else under the prefix (status keys, unknown keys).
    Ignored,
}

/// A resource that parsed, names the key it is stored under, and validated.
#[derive(Debug)]
pub(super) enum Valid {
    Service(ServiceSpec),
    /// The table's form of the endpoint, with health still unknown.
    Endpoint(EndpointEntry),
    Route(Box<RouteData>),
}

/// A valid route: its spec, what the compile needs of it, and what was
/// built from it last time.
#[derive(Debug)]
pub(super) struct RouteData {
    pub spec: RouteSpec,
    /// Every Service it names, with where.
    pub refs: Vec<ServiceRef>,
    /// Built at the last compile; valid while the entry is not fresh and the
    /// accepted services are the same.
    pub built: Option<BuiltRoute>,
}

/// A route's part and the reasons of its status.
#[derive(Debug)]
pub(super) struct BuiltRoute {
    pub part: Part,
    pub reasons: Vec<String>,
}

/// A Service named by a route: a rule's backendRef or a request mirror.
#[derive(Debug)]
pub(super) struct ServiceRef {
    /// Field path of the reference, e.g. `spec.rules[0].backendRefs[1]`.
    pub path: String,
    pub service: String,
    /// A `RequestMirror` target rather than a backend.
    pub mirror: bool,
}

impl ServiceRef {
    /// The status line for this reference when its service is missing.
    pub fn unresolved_reason(&self) -> String {
        if self.mirror {
            format!(
                "{}: service `{}` not found; requests are not mirrored",
                self.path, self.service
            )
        } else {
            format!(
                "{}: service `{}` not found; its share of requests answers 500",
                self.path, self.service
            )
        }
    }
}

impl Entry {
    /// Classifies, parses and validates one key.
    pub fn build(keys: &Keys, key: &str, stored: &StoredValue) -> Entry {
        let mut claims = Vec::new();
        let item = match keys.parse(key) {
            Some(KeyRef::Resource(id)) => Item::Resource {
                outcome: check(key, &id, &stored.value, &mut claims),
                id,
            },
            Some(KeyRef::Health { service, name }) => Item::Health {
                health: HealthRecord::from_json(&stored.value)
                    .map(|r| r.status)
                    .unwrap_or_default(),
                service,
                name,
            },
            _ => Item::Ignored,
        };
        Entry {
            key: key.to_owned(),
            value: Arc::clone(&stored.value),
            create_revision: stored.create_revision,
            mod_revision: stored.mod_revision,
            fresh: true,
            claims,
            item,
        }
    }

    /// True when `stored` is the value this entry was built from.
    pub fn is_current(&self, stored: &StoredValue) -> bool {
        self.mod_revision == stored.mod_revision
            && self.create_revision == stored.create_revision
            && (Arc::ptr_eq(&self.value, &stored.value) || self.value == stored.value)
    }
}

/// One problem as a status line: `spec.rules[0].matches[1].path.value:
/// reason` (the resource is known from the status key).
fn problem_line(p: &mesh_config::Problem) -> String {
    if p.path.is_empty() {
        p.reason.clone()
    } else {
        format!("{}: {}", p.path, p.reason)
    }
}

/// How a message names a resource: route `a`, endpoint `orders/orders-1`.
fn named(id: &ResourceId) -> String {
    match id {
        ResourceId::Endpoint { service, name } => format!("endpoint `{service}/{name}`"),
        other => format!("{} `{}`", other.kind().noun(), other.name()),
    }
}

/// True when `host` has the form of an implicit hostname: a single label
/// (a service name) or `<label>.mesh`.
fn may_be_implicit(host: &str) -> bool {
    !host.strip_suffix(".mesh").unwrap_or(host).contains('.')
}

/// Parses and validates the value of the resource key `key` (naming `id`);
/// for a valid route, its hostnames that [`may_be_implicit`] go to
/// `claims`.
fn check(
    key: &str,
    id: &ResourceId,
    bytes: &[u8],
    claims: &mut Vec<String>,
) -> Result<Valid, Vec<String>> {
    let doc = parse_stored(bytes, key).map_err(|p| vec![problem_line(&p)])?;
    let stated = ResourceId::of(&doc);
    if stated != *id {
        return Err(vec![format!(
            "value names {} but is stored under {key}",
            named(&stated)
        )]);
    }
    let resource = validate(&doc).map_err(|ps| ps.iter().map(problem_line).collect::<Vec<_>>())?;
    Ok(match (doc, resource) {
        (Document::Service(d), Resource::Service(_)) => Valid::Service(d.spec),
        (Document::Endpoint(_), Resource::Endpoint(e)) => Valid::Endpoint(EndpointEntry {
            name: e.name.as_str().to_owned(),
            address: e.address.to_string(),
            port: e.port,
            weight: e.weight,
            zone: e.zone,
            labels: e.labels,
            health: Health::Unknown,
        }),
        (Document::Route(d), Resource::Route(r)) => {
            claims.extend(r.hostnames.into_iter().filter_map(|h| match h {
                Hostname::Exact(h) if may_be_implicit(&h) => Some(h),
                _ => None,
            }));
            Valid::Route(Box::new(RouteData {
                refs: service_refs(&d.spec),
                spec: d.spec,
                built: None,
            }))
        }
        // validate() keeps the kind of the document it is given.
        _ => {
            return Err(vec![
                "validation changed the kind of the resource".to_owned()
            ])
        }
    })
}

/// Every Service a route names, in document order: each rule's request
/// mirrors and backendRefs, with the mirrors among each backendRef's own
/// filters.
fn service_refs(spec: &RouteSpec) -> Vec<ServiceRef> {
    let mut out = Vec::new();
    for (i, rule) in spec.rules.iter().enumerate() {
        let base = format!("spec.rules[{i}]");
        mirrors(&mut out, &base, &rule.filters);
        for (j, b) in rule.backend_refs.iter().enumerate() {
            let path = format!("{base}.backendRefs[{j}]");
            out.push(ServiceRef {
                path: path.clone(),
                service: b.name.clone(),
                mirror: false,
            });
            mirrors(&mut out, &path, &b.filters);
        }
    }
    out
}

fn mirrors(out: &mut Vec<ServiceRef>, base: &str, filters: &[RouteFilter]) {
    for (k, f) in filters.iter().enumerate() {
        if let (FilterType::RequestMirror, Some(m)) = (f.kind, &f.request_mirror) {
            out.push(ServiceRef {
                path: format!("{base}.filters[{k}].requestMirror.backendRef"),
                service: m.backend_ref.name.clone(),
                mirror: true,
            });
        }
    }
}
