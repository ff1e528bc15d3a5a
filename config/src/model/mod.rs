//! Validated, typed resources: what [`crate::validate`](mod@crate::validate) makes of a
//! [`crate::spec::Document`]. Holding one of these values is proof that it
//! passed every check, so later stages (compile, routing) never re-check.
//!
//! Defaults are applied here (a rule without matches has `PathPrefix /`, a
//! backend without weight has weight 1, a service without connect timeout has
//! 1 s), so consumers never see an "absent" that means something.

mod route;
mod values;

pub use route::*;
pub use values::*;

use crate::spec::{HttpMethod, Kind, LoadBalancer, Protocol};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

/// The connect timeout of a service that does not set one.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// A validated resource of any kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    Service(Service),
    Endpoint(Endpoint),
    Route(Route),
}

impl Resource {
    pub fn kind(&self) -> Kind {
        match self {
            Resource::Service(_) => Kind::Service,
            Resource::Endpoint(_) => Kind::Endpoint,
            Resource::Route(_) => Kind::Route,
        }
    }

    pub fn name(&self) -> &Name {
        match self {
            Resource::Service(s) => &s.name,
            Resource::Endpoint(e) => &e.name,
            Resource::Route(r) => &r.name,
        }
    }
}

/// A validated Service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub name: Name,
    pub protocol: Protocol,
    pub load_balancer: LoadBalancer,
    pub connect_timeout: Duration,
    /// Only with `LoadBalancer::RingHash`.
    pub hash_header: Option<HeaderName>,
}

/// A validated Endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub name: Name,
    pub service: Name,
    pub address: IpAddr,
    pub port: u16,
    /// 0..=10,000; 0 means drained (no new requests).
    pub weight: u32,
    pub zone: Option<String>,
    pub labels: BTreeMap<String, String>,
}

/// A validated Route (Gateway API HTTPRoute semantics).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub name: Name,
    /// Empty: every host.
    pub hostnames: Vec<Hostname>,
    /// At least one rule (an empty spec gets one rule matching `PathPrefix /`
    /// with no backends, which answers 500 as the Gateway API requires).
    pub rules: Vec<Rule>,
}

/// A method condition of a match.
pub type Method = HttpMethod;
