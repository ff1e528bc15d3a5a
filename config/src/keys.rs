//! The etcd key layout, under a configurable prefix (default `/mesh`):
//!
//! | key | value |
//! | --- | --- |
//! | `<prefix>/services/<name>` | Service document (JSON) |
//! | `<prefix>/routes/<name>` | Route document (JSON) |
//! | `<prefix>/endpoints/<service>/<name>` | Endpoint document (JSON), usually on a lease |
//! | `<prefix>/health/<service>/<name>` | health status of one endpoint |
//! | `<prefix>/status/resources/<kind>/<name>` | accepted/rejected status of a resource (`<service>/<name>` for endpoints) |
//! | `<prefix>/status/routers/<id>` | a router and the revision it serves |

use crate::spec::{Document, Kind};
use thiserror::Error;

/// The default key prefix.
pub const DEFAULT_PREFIX: &str = "/mesh";

/// Why a prefix was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeyError {
    #[error("prefix `{0}` must start with `/` and contain no empty, `.` or `..` segments")]
    BadPrefix(String),
}

/// Which resource a key names: kind, name and (for endpoints) service.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ResourceId {
    Service(String),
    Route(String),
    Endpoint { service: String, name: String },
}

impl ResourceId {
    pub fn of(doc: &Document) -> ResourceId {
        match doc {
            Document::Service(d) => ResourceId::Service(d.name.clone()),
            Document::Route(d) => ResourceId::Route(d.name.clone()),
            Document::Endpoint(d) => ResourceId::Endpoint {
                service: d.spec.service.clone(),
                name: d.name.clone(),
            },
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            ResourceId::Service(_) => Kind::Service,
            ResourceId::Route(_) => Kind::Route,
            ResourceId::Endpoint { .. } => Kind::Endpoint,
        }
    }

    /// The name of the resource itself (for endpoints, without the service).
    pub fn name(&self) -> &str {
        match self {
            ResourceId::Service(n) | ResourceId::Route(n) => n,
            ResourceId::Endpoint { name, .. } => name,
        }
    }

    /// The key suffix under the kind's folder: `orders`, or `orders/orders-1`.
    fn path(&self) -> String {
        match self {
            ResourceId::Service(n) | ResourceId::Route(n) => n.clone(),
            ResourceId::Endpoint { service, name } => format!("{service}/{name}"),
        }
    }
}

impl std::fmt::Display for ResourceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kind().noun(), self.path())
    }
}

/// What a key under the prefix is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRef {
    Resource(ResourceId),
    Health {
        service: String,
        name: String,
    },
    ResourceStatus(ResourceId),
    RouterStatus(String),
    /// Under the prefix but not part of the layout.
    Other,
}

/// The key layout under one prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    prefix: String,
}

impl Default for Keys {
    fn default() -> Self {
        Keys {
            prefix: DEFAULT_PREFIX.to_owned(),
        }
    }
}

fn folder(kind: Kind) -> &'static str {
    match kind {
        Kind::Service => "services",
        Kind::Route => "routes",
        Kind::Endpoint => "endpoints",
    }
}

impl Keys {
    /// A layout under `prefix` (e.g. `/mesh`, `/team-a/mesh`); a trailing `/`
    /// is dropped.
    pub fn new(prefix: &str) -> Result<Keys, KeyError> {
        let trimmed = prefix.strip_suffix('/').unwrap_or(prefix);
        let bad = || KeyError::BadPrefix(prefix.to_owned());
        let rest = trimmed.strip_prefix('/').ok_or_else(bad)?;
        if rest
            .split('/')
            .any(|seg| seg.is_empty() || seg == "." || seg == "..")
        {
            return Err(bad());
        }
        Ok(Keys {
            prefix: trimmed.to_owned(),
        })
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Everything of this mesh: `<prefix>/`.
    pub fn all(&self) -> String {
        format!("{}/", self.prefix)
    }

    /// The folder of one kind: `<prefix>/routes/`.
    pub fn kind_prefix(&self, kind: Kind) -> String {
        format!("{}/{}/", self.prefix, folder(kind))
    }

    /// The key of one resource.
    pub fn resource(&self, id: &ResourceId) -> String {
        format!("{}/{}/{}", self.prefix, folder(id.kind()), id.path())
    }

    /// The key a document is stored under.
    pub fn document(&self, doc: &Document) -> String {
        self.resource(&ResourceId::of(doc))
    }

    /// The endpoints of one service: `<prefix>/endpoints/<service>/`.
    pub fn service_endpoints(&self, service: &str) -> String {
        format!("{}/endpoints/{service}/", self.prefix)
    }

    /// Health of every endpoint: `<prefix>/health/`.
    pub fn health_prefix(&self) -> String {
        format!("{}/health/", self.prefix)
    }

    pub fn health(&self, service: &str, name: &str) -> String {
        format!("{}/health/{service}/{name}", self.prefix)
    }

    /// All status keys: `<prefix>/status/`.
    pub fn status_prefix(&self) -> String {
        format!("{}/status/", self.prefix)
    }

    /// Status of every resource: `<prefix>/status/resources/`.
    pub fn resource_status_prefix(&self) -> String {
        format!("{}/status/resources/", self.prefix)
    }

    pub fn resource_status(&self, id: &ResourceId) -> String {
        format!(
            "{}/status/resources/{}/{}",
            self.prefix,
            folder(id.kind()),
            id.path()
        )
    }

    /// Every router's status: `<prefix>/status/routers/`.
    pub fn router_status_prefix(&self) -> String {
        format!("{}/status/routers/", self.prefix)
    }

    pub fn router_status(&self, id: &str) -> String {
        format!("{}/status/routers/{id}", self.prefix)
    }

    /// Classifies a key; `None` when it is not under the prefix at all.
    pub fn parse(&self, key: &str) -> Option<KeyRef> {
        let rest = key.strip_prefix(&self.prefix)?.strip_prefix('/')?;
        let parts: Vec<&str> = rest.split('/').collect();
        let id = |kind: &str, parts: &[&str]| -> Option<ResourceId> {
            match (kind, parts) {
                ("services", [n]) if !n.is_empty() => Some(ResourceId::Service((*n).to_owned())),
                ("routes", [n]) if !n.is_empty() => Some(ResourceId::Route((*n).to_owned())),
                ("endpoints", [s, n]) if !s.is_empty() && !n.is_empty() => {
                    Some(ResourceId::Endpoint {
                        service: (*s).to_owned(),
                        name: (*n).to_owned(),
                    })
                }
                _ => None,
            }
        };
        let found = match parts.as_slice() {
            [kind, tail @ ..] if matches!(*kind, "services" | "routes" | "endpoints") => {
                id(kind, tail).map(KeyRef::Resource)
            }
            ["health", s, n] if !s.is_empty() && !n.is_empty() => Some(KeyRef::Health {
                service: (*s).to_owned(),
                name: (*n).to_owned(),
            }),
            ["status", "resources", kind, tail @ ..] => id(kind, tail).map(KeyRef::ResourceStatus),
            ["status", "routers", id] if !id.is_empty() => {
                Some(KeyRef::RouterStatus((*id).to_owned()))
            }
            _ => None,
        };
        Some(found.unwrap_or(KeyRef::Other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn layout_matches_design() {
        let k = Keys::default();
        assert_eq!(
            k.resource(&ResourceId::Service("orders".into())),
            "/mesh/services/orders"
        );
        assert_eq!(k.resource(&ResourceId::Route("r".into())), "/mesh/routes/r");
        let ep = ResourceId::Endpoint {
            service: "orders".into(),
            name: "orders-1".into(),
        };
        assert_eq!(k.resource(&ep), "/mesh/endpoints/orders/orders-1");
        assert_eq!(
            k.health("orders", "orders-1"),
            "/mesh/health/orders/orders-1"
        );
        assert_eq!(
            k.resource_status(&ep),
            "/mesh/status/resources/endpoints/orders/orders-1"
        );
        assert_eq!(k.router_status("r1"), "/mesh/status/routers/r1");
        assert_eq!(k.kind_prefix(Kind::Endpoint), "/mesh/endpoints/");
        assert_eq!(k.service_endpoints("orders"), "/mesh/endpoints/orders/");
    }

    #[test]
    fn prefix_is_configurable_and_checked() {
        let k = Keys::new("/team-a/mesh/").expect("valid prefix");
        assert_eq!(k.prefix(), "/team-a/mesh");
        assert_eq!(k.kind_prefix(Kind::Route), "/team-a/mesh/routes/");
        for bad in ["", "mesh", "/", "//mesh", "/a//b", "/a/../b", "/./a"] {
            assert_eq!(
                Keys::new(bad),
                Err(KeyError::BadPrefix(bad.to_owned())),
                "{bad}"
            );
        }
    }

    #[test]
    fn parse_classifies_keys() {
        let k = Keys::default();
        assert_eq!(k.parse("/other/services/a"), None);
        assert_eq!(k.parse("/meshy/services/a"), None);
        assert_eq!(
            k.parse("/mesh/services/a"),
            Some(KeyRef::Resource(ResourceId::Service("a".into())))
        );
        assert_eq!(
            k.parse("/mesh/health/s/e"),
            Some(KeyRef::Health {
                service: "s".into(),
                name: "e".into()
            })
        );
        assert_eq!(
            k.parse("/mesh/status/routers/x"),
            Some(KeyRef::RouterStatus("x".into()))
        );
        assert_eq!(
            k.parse("/mesh/status/resources/routes/r"),
            Some(KeyRef::ResourceStatus(ResourceId::Route("r".into())))
        );
        for other in [
            "/mesh/services/a/b",
            "/mesh/services/",
            "/mesh/endpoints/s",
            "/mesh/x",
        ] {
            assert_eq!(k.parse(other), Some(KeyRef::Other), "{other}");
        }
    }

    proptest! {
        #[test]
        fn resource_keys_parse_back(
            prefix in "(/[a-z0-9-]{1,8}){1,3}",
            s in "[a-z0-9-]{1,12}",
            n in "[a-z0-9-]{1,12}",
        ) {
            let k = Keys::new(&prefix).expect("generated prefixes are valid");
            for id in [
                ResourceId::Service(n.clone()),
                ResourceId::Route(n.clone()),
                ResourceId::Endpoint { service: s.clone(), name: n.clone() },
            ] {
                prop_assert_eq!(k.parse(&k.resource(&id)), Some(KeyRef::Resource(id.clone())));
                prop_assert_eq!(
                    k.parse(&k.resource_status(&id)),
                    Some(KeyRef::ResourceStatus(id.clone()))
                );
            }
        }
    }
}
