//! The `Service` spec: protocol, load balancing and connection settings of a
//! named service.

use serde::{Deserialize, Serialize};

/// The protocol a service's endpoints speak.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// HTTP/1.1 to the endpoints (requests may arrive as HTTP/2).
    #[default]
    Http,
    /// HTTP/2 with prior knowledge (h2c) to the endpoints.
    Http2,
    /// gRPC: HTTP/2 to the endpoints, trailers passed through.
    Grpc,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Http => "http",
            Protocol::Http2 => "http2",
            Protocol::Grpc => "grpc",
        }
    }
}

/// How a router picks an endpoint of the service for each request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadBalancer {
    /// Weighted round robin.
    #[default]
    RoundRobin,
    /// Power of two random choices, weighted by outstanding requests.
    LeastRequest,
    /// Consistent hashing on `hashHeader` (source IP when the header is absent).
    RingHash,
}

impl LoadBalancer {
    pub fn as_str(self) -> &'static str {
        match self {
            LoadBalancer::RoundRobin => "round_robin",
            LoadBalancer::LeastRequest => "least_request",
            LoadBalancer::RingHash => "ring_hash",
        }
    }
}

/// `spec` of a `Service` document. Every field has a default, so
/// `{kind: Service, name: orders}` is a complete service.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServiceSpec {
    #[serde(default)]
    pub protocol: Protocol,
    #[serde(default)]
    pub load_balancer: LoadBalancer,
    /// Duration string (`250ms`, `1s`); default 1s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_timeout: Option<String>,
    /// Header whose value `ring_hash` hashes on (source IP when absent).
    /// Only valid with `loadBalancer: ring_hash`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash_header: Option<String>,
}
