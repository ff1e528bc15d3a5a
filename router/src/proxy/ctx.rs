//! The per-request state the proxy phases share: the snapshot the request
//! started with (kept to its end), where the lookup led, attempts and the
//! endpoints tried, and what the router answered itself.

use super::MeshError;
use crate::balance::Pick;
use crate::metrics::{Metrics, RequestHandles};
use crate::snapshot::{ServiceState, Snapshot};
use mesh_config::model::{Backend, Rule};
use prometheus::IntGauge;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Most endpoints remembered as tried (more attempts than this reuse them).
const TRIED: usize = 16;

/// Per-request state.
pub struct Ctx {
    pub(super) started: Instant,
    /// The snapshot the request started with.
    pub(super) snapshot: Option<Arc<Snapshot>>,
    /// Position of the matched route in the snapshot.
    pub(super) route: Option<usize>,
    pub(super) rule: usize,
    pub(super) matched: usize,
    /// Position of the chosen backend in the rule's weighted backends.
    pub(super) backend: Option<usize>,
    /// When the rule's request timeout runs out.
    pub(super) deadline: Option<Instant>,
    /// Upstream attempts started.
    pub(super) attempts: u32,
    tried: [usize; TRIED],
    tried_len: usize,
    /// The current attempt's endpoint (least request counts it in flight).
    pick: Option<Pick>,
    /// The current error is a retry the router asked for (a retry code).
    pub(super) status_retry: bool,
    /// The error the router answered (or will answer) itself.
    pub(super) answer: Option<MeshError>,
    /// The status of a redirect the router answered.
    pub(super) redirected: Option<u16>,
    in_flight: IntGauge,
    connection: Option<Arc<Connection>>,
}

/// Counts one open downstream connection while alive; it travels from
/// request to request of a keep-alive connection.
struct Connection(IntGauge);

impl Drop for Connection {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl Drop for Ctx {
    fn drop(&mut self) {
        self.in_flight.dec();
    }
}

impl Ctx {
    pub(super) fn new(metrics: &Metrics) -> Ctx {
        metrics.in_flight.inc();
        Ctx {
            started: Instant::now(),
            snapshot: None,
            route: None,
            rule: 0,
            matched: 0,
            backend: None,
            deadline: None,
            attempts: 0,
            tried: [0; TRIED],
            tried_len: 0,
            pick: None,
            status_retry: false,
            answer: None,
            redirected: None,
            in_flight: metrics.in_flight.clone(),
            connection: None,
        }
    }

    /// Counts the connection on its first request.
    pub(super) fn count_connection(&mut self, metrics: &Metrics) {
        if self.connection.is_none() {
            metrics.downstream_connections.inc();
            self.connection = Some(Arc::new(Connection(metrics.downstream_connections.clone())));
        }
    }

    /// What travels to the next request of a keep-alive connection.
    pub(super) fn connection_guard(&self) -> Option<Box<dyn std::any::Any + Send + Sync>> {
        self.connection
            .clone()
            .map(|c| Box::new(c) as Box<dyn std::any::Any + Send + Sync>)
    }

    /// Takes over the connection's guard from the previous request.
    pub(super) fn reuse_connection(&mut self, prev: Box<dyn std::any::Any + Send + Sync>) {
        if let Ok(c) = prev.downcast::<Arc<Connection>>() {
            self.connection = Some(*c);
        }
    }

    pub(super) fn rule_spec<'s>(&self, s: &'s Snapshot) -> Option<&'s Rule> {
        s.rule(self.route?, self.rule)
    }

    /// The chosen backendRef as the rule states it (for its filters).
    pub(super) fn backend_spec<'s>(&self, s: &'s Snapshot) -> Option<&'s Backend> {
        let state = s
            .rule_state(self.route?, self.rule)?
            .backends
            .get(self.backend?)?;
        self.rule_spec(s)?.backends.get(state.position)
    }

    pub(super) fn service<'s>(&self, s: &'s Snapshot) -> Option<&'s ServiceState> {
        let state = s
            .rule_state(self.route?, self.rule)?
            .backends
            .get(self.backend?)?;
        s.service(state.service?)
    }

    /// The metric handles of this request: its backend's, else its route's.
    pub(super) fn handles<'s>(&self, s: &'s Snapshot) -> Option<&'s RequestHandles> {
        let route = s.route_state(self.route?)?;
        match self.backend {
            Some(b) => route
                .rules
                .get(self.rule)?
                .backends
                .get(b)
                .map(|b| &b.handles),
            None => Some(&route.handles),
        }
    }

    /// Time left before the request deadline; `None`: no deadline.
    pub(super) fn remaining(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// The endpoints tried so far.
    pub(super) fn tried(&self) -> &[usize] {
        self.tried.get(..self.tried_len).unwrap_or(&[])
    }

    /// The endpoint of the current (last) attempt.
    pub(super) fn upstream(&self, s: &Snapshot) -> Option<std::net::SocketAddr> {
        let index = self.pick.as_ref()?.index;
        let mut addr = *self.service(s)?.peers.get(index)?._address.as_inet()?;
        if let Some(port) = self.backend_spec(s).and_then(|b| b.port) {
            addr.set_port(port);
        }
        Some(addr)
    }

    /// Starts an attempt on `pick`'s endpoint.
    pub(super) fn record_attempt(&mut self, pick: Pick) {
        if let Some(slot) = self.tried.get_mut(self.tried_len) {
            *slot = pick.index;
            self.tried_len += 1;
        }
        self.pick = Some(pick);
        self.attempts += 1;
    }
}
