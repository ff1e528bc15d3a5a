//! The `Endpoint` spec: one reachable instance of a service.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `spec` of an `Endpoint` document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EndpointSpec {
    /// The Service this endpoint belongs to.
    pub service: String,
    /// IPv4 or IPv6 address (no hostnames: routers never resolve names).
    pub address: String,
    /// TCP port, 1..=65535. Kept wide so that a bad value is reported by
    /// validation with its path rather than as a parse error.
    pub port: i64,
    /// Relative load-balancing weight, 0..=10000 (0 drains the endpoint);
    /// default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i64>,
    /// Failure domain, for zone-aware routing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// Free-form labels (Kubernetes label syntax), e.g. `version: v2`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}
