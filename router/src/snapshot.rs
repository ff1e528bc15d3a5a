//! One served table, ready for the hot path: the table, its route index,
//! per-service upstream state (endpoints, balancer, peer templates) and
//! per-route, per-rule state (weighted backends with resolved services and
//! metric handles, resolved mirrors). Built once per table by
//! [`Snapshot::build`] (reusing the validated routes of the previous
//! snapshot's unchanged parts); immutable afterwards, shared by `Arc`.
//!
//! Everything a request needs is found by index: the index's route slot,
//! the rule and backend positions, the service position. Nothing is looked
//! up by name while serving.

use crate::balance::{hash_ip, hash_key, Balancer};
use crate::metrics::{Metrics, RequestHandles};
use mesh_config::lookup::{IndexedRoute, LookupError, Matched, RequestView, RouteIndex};
use mesh_config::model::{Backend, Filter, HeaderName, Mirror, Resource, Rule};
use mesh_config::spec::{Document, LoadBalancer, Protocol, ServiceDoc};
use mesh_config::table::{EndpointEntry, RouteTable, ServicePart};
use pingora::upstreams::peer::HttpPeer;
use prometheus::IntCounter;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use thiserror::Error;

/// Why a table cannot be served. The router keeps its previous table.
#[derive(Debug, Error)]
pub enum BuildError {
    #[error(transparent)]
    Index(#[from] LookupError),
    #[error("service {service}: {reason}")]
    Service { service: String, reason: String },
    #[error("service {service}, endpoint {endpoint}: address {address:?} is not an IP address")]
    Address {
        service: String,
        endpoint: String,
        address: String,
    },
}

/// A served table and everything derived from it.
pub struct Snapshot {
    table: RouteTable,
    hash: u64,
    index: RouteIndex,
    services: Vec<ServiceState>,
    /// Parallel to `index.routes()`.
    routes: Vec<RouteState>,
    /// Handles for requests that matched no route.
    no_route: RequestHandles,
}

/// The upstream side of one service.
pub struct ServiceState {
    pub name: String,
    pub protocol: Protocol,
    pub load_balancer: LoadBalancer,
    /// The header `ring_hash` hashes on (client address when absent).
    pub hash_header: Option<HeaderName>,
    pub endpoints: Vec<EndpointEntry>,
    /// One peer per endpoint, with the connect timeout and HTTP version of
    /// the service; cloned per attempt.
    pub peers: Vec<HttpPeer>,
    pub balancer: Balancer,
    pub connect_errors: IntCounter,
}

/// The state of one indexed route.
pub struct RouteState {
    pub rules: Vec<RuleState>,
    /// Handles for requests the route answers itself (redirect, 500).
    pub handles: RequestHandles,
}

/// The state of one rule.
pub struct RuleState {
    /// Backends with a weight above zero, in order, with cumulative weights.
    pub backends: Vec<BackendState>,
    /// The sum of the weights; 0: no backend can be chosen (500).
    pub total_weight: u64,
    /// The rule's mirrors whose service exists.
    pub mirrors: Vec<MirrorTarget>,
}

/// One weighted backend of a rule.
pub struct BackendState {
    /// Position in the rule's `backends` (for its filters).
    pub position: usize,
    /// The service position; `None`: the backend names no service (500).
    pub service: Option<usize>,
    /// The running sum of weights up to and including this backend.
    pub cumulative: u64,
    pub handles: RequestHandles,
}

/// A resolved `RequestMirror` filter.
pub struct MirrorTarget {
    pub service: usize,
    pub mirror: Mirror,
}

impl Snapshot {
    /// Validates and indexes `table` and prepares every service and rule.
    /// The routes of `previous` (the snapshot served so far) whose table
    /// part is unchanged are reused, not validated again.
    pub fn build(
        table: RouteTable,
        previous: Option<&Snapshot>,
        metrics: &Metrics,
    ) -> Result<Snapshot, BuildError> {
        let index = RouteIndex::build_from(&table, previous.map(|p| &p.index))?;
        let hash = table.hash();
        let mut services = Vec::new();
        let mut positions = HashMap::new();
        for part in table.services() {
            positions.insert(part.name.clone(), services.len());
            services.push(service_state(part, metrics)?);
        }
        let routes = index
            .routes()
            .iter()
            .map(|r| route_state(r, &positions, metrics))
            .collect();
        let no_route = metrics.request_handles("", "");
        Ok(Snapshot {
            table,
            hash,
            index,
            services,
            routes,
            no_route,
        })
    }

    pub fn revision(&self) -> i64 {
        self.table.revision
    }

    /// The table's content hash.
    pub fn hash(&self) -> u64 {
        self.hash
    }

    pub fn table(&self) -> &RouteTable {
        &self.table
    }

    pub fn index(&self) -> &RouteIndex {
        &self.index
    }

    /// The route, rule and match serving `req`, with the route's position.
    pub fn lookup<R: RequestView + ?Sized>(&self, req: &R) -> Option<(usize, Matched<'_>)> {
        let m = self.index.lookup(req)?;
        Some((m.route_index, m))
    }

    pub fn indexed_route(&self, route: usize) -> Option<&IndexedRoute> {
        self.index.routes().get(route)
    }

    pub fn rule(&self, route: usize, rule: usize) -> Option<&Rule> {
        self.indexed_route(route)?.route.rules.get(rule)
    }

    pub fn route_state(&self, route: usize) -> Option<&RouteState> {
        self.routes.get(route)
    }

    pub fn rule_state(&self, route: usize, rule: usize) -> Option<&RuleState> {
        self.routes.get(route)?.rules.get(rule)
    }

    pub fn service(&self, service: usize) -> Option<&ServiceState> {
        self.services.get(service)
    }

    pub fn no_route_handles(&self) -> &RequestHandles {
        &self.no_route
    }

    /// Every metric handle of this snapshot (for [`Metrics::retain`]).
    pub fn request_handles(&self) -> impl Iterator<Item = &RequestHandles> {
        let routes = self.routes.iter().flat_map(|r| {
            std::iter::once(&r.handles).chain(
                r.rules
                    .iter()
                    .flat_map(|rule| rule.backends.iter().map(|b| &b.handles)),
            )
        });
        std::iter::once(&self.no_route).chain(routes)
    }
}

impl ServiceState {
    /// The ring hash key of a request (0 unless the service balances by
    /// ring hash): its `hash_header` value, found by `header`, else the
    /// client address.
    pub fn ring_hash<'a>(
        &self,
        header: impl FnOnce(&str) -> Option<&'a [u8]>,
        client: Option<IpAddr>,
    ) -> u64 {
        if self.load_balancer != LoadBalancer::RingHash {
            return 0;
        }
        if let Some(v) = self.hash_header.as_ref().and_then(|h| header(h.as_str())) {
            return hash_key(v);
        }
        client.map_or(0, hash_ip)
    }
}

impl RuleState {
    /// The backend for a draw in `0..total_weight`.
    pub fn choose(&self, draw: u64) -> Option<&BackendState> {
        self.backends.iter().find(|b| draw < b.cumulative)
    }
}

fn service_state(part: &ServicePart, metrics: &Metrics) -> Result<ServiceState, BuildError> {
    let doc = Document::Service(ServiceDoc {
        name: part.name.clone(),
        spec: part.spec.clone(),
    });
    let service = match mesh_config::validate(&doc) {
        Ok(Resource::Service(s)) => s,
        Ok(_) => {
            return Err(BuildError::Service {
                service: part.name.clone(),
                reason: "is not a service".to_owned(),
            })
        }
        Err(problems) => {
            let reasons: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
            return Err(BuildError::Service {
                service: part.name.clone(),
                reason: reasons.join("; "),
            });
        }
    };
    let mut peers = Vec::with_capacity(part.endpoints.len());
    for e in &part.endpoints {
        let ip: IpAddr = e.address.parse().map_err(|_| BuildError::Address {
            service: part.name.clone(),
            endpoint: e.name.clone(),
            address: e.address.clone(),
        })?;
        peers.push(peer(
            SocketAddr::new(ip, e.port),
            service.protocol,
            service.connect_timeout,
        ));
    }
    Ok(ServiceState {
        name: part.name.clone(),
        protocol: service.protocol,
        load_balancer: service.load_balancer,
        hash_header: service.hash_header,
        balancer: Balancer::new(service.load_balancer, &part.endpoints),
        endpoints: part.endpoints.clone(),
        peers,
        connect_errors: metrics.connect_errors(&part.name),
    })
}

/// The peer template of one endpoint.
fn peer(addr: SocketAddr, protocol: Protocol, connect_timeout: Duration) -> HttpPeer {
    let mut peer = HttpPeer::new(addr, false, String::new());
    peer.options.connection_timeout = Some(connect_timeout);
    peer.options.idle_timeout = Some(Duration::from_secs(60));
    match protocol {
        Protocol::Http => peer.options.set_http_version(1, 1),
        Protocol::Http2 | Protocol::Grpc => {
            peer.options.set_http_version(2, 2);
            peer.options.max_h2_streams = 100;
        }
    }
    peer
}

fn route_state(
    route: &IndexedRoute,
    services: &HashMap<String, usize>,
    metrics: &Metrics,
) -> RouteState {
    let rules = route
        .route
        .rules
        .iter()
        .map(|rule| rule_state(&route.name, rule, services, metrics))
        .collect();
    RouteState {
        rules,
        handles: metrics.request_handles(&route.name, ""),
    }
}

fn rule_state(
    route: &str,
    rule: &Rule,
    services: &HashMap<String, usize>,
    metrics: &Metrics,
) -> RuleState {
    let mut backends = Vec::new();
    let mut total: u64 = 0;
    for (position, b) in rule.backends.iter().enumerate() {
        if b.weight == 0 {
            continue;
        }
        total += u64::from(b.weight);
        backends.push(backend_state(route, position, b, total, services, metrics));
    }
    let mirrors = rule
        .filters
        .iter()
        .filter_map(|f| match f {
            Filter::Mirror(m) => Some(m),
            _ => None,
        })
        .filter_map(|m| {
            Some(MirrorTarget {
                service: *services.get(m.service.as_str())?,
                mirror: m.clone(),
            })
        })
        .collect();
    RuleState {
        backends,
        total_weight: total,
        mirrors,
    }
}

fn backend_state(
    route: &str,
    position: usize,
    b: &Backend,
    cumulative: u64,
    services: &HashMap<String, usize>,
    metrics: &Metrics,
) -> BackendState {
    BackendState {
        position,
        service: services.get(b.service.as_str()).copied(),
        cumulative,
        handles: metrics.request_handles(route, b.service.as_str()),
    }
}
