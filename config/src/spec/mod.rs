//! What users write: the resource documents, exactly as they appear in YAML or
//! JSON and as they are stored in etcd.
//!
//! These types only fix the *shape* of a document (field names, nesting,
//! enumerations). Values whose correctness needs a check (names, hostnames,
//! durations, weights, regexes...) are kept as written, so that every problem
//! in a document can be reported at once by [`crate::validate`](mod@crate::validate), which turns a
//! [`Document`] into the typed values of [`crate::model`].
//!
//! Every struct denies unknown fields: a typo is an error, never silently
//! ignored.

mod endpoint;
mod route;
mod service;

pub use endpoint::EndpointSpec;
pub use route::*;
pub use service::{LoadBalancer, Protocol, ServiceSpec};

use serde::{Deserialize, Serialize};

/// The kinds of resource mesh-router knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Kind {
    Service,
    Endpoint,
    Route,
}

impl Kind {
    /// All kinds, in the order they are listed and applied.
    pub const ALL: [Kind; 3] = [Kind::Service, Kind::Endpoint, Kind::Route];

    /// The name used in documents (`kind: Service`).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Service => "Service",
            Kind::Endpoint => "Endpoint",
            Kind::Route => "Route",
        }
    }

    /// The lower-case name used in messages (`route orders-canary: ...`).
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Service => "service",
            Kind::Endpoint => "endpoint",
            Kind::Route => "route",
        }
    }

    /// Parses a kind as a user types it on the command line: `service`,
    /// `services`, `svc`, `Route`, `routes`, `rt`, `endpoint`, `ep`...
    pub fn from_cli(s: &str) -> Option<Kind> {
        match s.to_ascii_lowercase().as_str() {
            "service" | "services" | "svc" => Some(Kind::Service),
            "endpoint" | "endpoints" | "ep" => Some(Kind::Endpoint),
            "route" | "routes" | "rt" | "httproute" | "httproutes" => Some(Kind::Route),
            _ => None,
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `Service` document: a named set of endpoints and how to reach them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceDoc {
    pub name: String,
    #[serde(default)]
    pub spec: ServiceSpec,
}

/// An `Endpoint` document: one instance of a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointDoc {
    pub name: String,
    pub spec: EndpointSpec,
}

/// A `Route` document: a Gateway API `HTTPRouteSpec` (without `parentRefs`)
/// under a name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteDoc {
    pub name: String,
    #[serde(default)]
    pub spec: RouteSpec,
}

/// One resource document of any kind. Serialized with its `kind` tag:
/// `{"kind":"Route","name":"orders","spec":{...}}`, the form stored in etcd.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum Document {
    Service(ServiceDoc),
    Endpoint(EndpointDoc),
    Route(RouteDoc),
}

impl Document {
    pub fn kind(&self) -> Kind {
        match self {
            Document::Service(_) => Kind::Service,
            Document::Endpoint(_) => Kind::Endpoint,
            Document::Route(_) => Kind::Route,
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Document::Service(d) => &d.name,
            Document::Endpoint(d) => &d.name,
            Document::Route(d) => &d.name,
        }
    }

    /// How messages name this resource: `route orders-canary`, or for an
    /// endpoint `endpoint orders/orders-1`.
    pub fn label(&self) -> String {
        match self {
            Document::Endpoint(d) => format!("endpoint {}/{}", d.spec.service, d.name),
            other => format!("{} {}", other.kind().noun(), other.name()),
        }
    }

    /// The JSON form stored in etcd.
    pub fn to_json(&self) -> String {
        // Serializing these plain data types to a String cannot fail: no
        // maps with non-string keys, no custom serializers that error.
        serde_json::to_string(self).unwrap_or_default()
    }
}
