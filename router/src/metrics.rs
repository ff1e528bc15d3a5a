//! The router's Prometheus metrics, registered once in their own registry
//! and rendered as text on `/metrics`.
//!
//! Label sets are resolved into handles ([`RequestHandles`]) when a table is
//! built, so serving a request only bumps atomics: no label lookup, no lock,
//! no allocation.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};
use thiserror::Error;

/// Why the metrics could not be set up or rendered.
#[derive(Debug, Error)]
pub enum MetricsError {
    #[error("metrics: {0}")]
    Prometheus(#[from] prometheus::Error),
    #[error("metrics text is not UTF-8")]
    Utf8,
}

/// Latency buckets in seconds: 0.5 ms to 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The status classes counted: `1xx` to `5xx`.
const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// Every metric the router exports. Cheap to clone (handles are `Arc`s).
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// `mesh_router_requests_total{route, service, class}`: answered
    /// requests; `route` is empty when no route matched, `service` when the
    /// router answered itself (redirect, error before a backend was chosen).
    requests: IntCounterVec,
    /// `mesh_router_request_duration_seconds{route, service}`: from the
    /// request head to the end of the answer.
    duration: HistogramVec,
    /// `mesh_router_retries_total{route, service}`: attempts after the first.
    retries: IntCounterVec,
    /// `mesh_router_upstream_connect_errors_total{service}`.
    connect_errors: IntCounterVec,
    /// `mesh_router_downstream_requests_in_flight`: requests being served.
    pub in_flight: IntGauge,
    /// `mesh_router_downstream_connections_open`: HTTP/1 connections open
    /// (counted from their first request until they close; an HTTP/2
    /// stream counts as one while it is served).
    pub downstream_connections: IntGauge,
    /// `mesh_router_table_revision`: revision of the table served (0: none).
    pub table_revision: IntGauge,
    /// `mesh_router_table_stale`: 1 while the table served was loaded from
    /// the state dir and no controller has answered yet.
    pub table_stale: IntGauge,
    /// `mesh_router_table_swaps_total`: tables swapped in.
    pub table_swaps: IntCounter,
    /// `mesh_router_table_rejects_total`: tables refused (kept the old one).
    pub table_rejects: IntCounter,
    /// `mesh_router_mirrors_total` and `mesh_router_mirrors_dropped_total`:
    /// mirrored copies sent, and skipped because too many were in flight.
    pub mirrors: IntCounter,
    pub mirrors_dropped: IntCounter,
}

/// The handles one (route, service) pair counts into.
#[derive(Clone, Debug)]
pub struct RequestHandles {
    classes: [IntCounter; 5],
    duration: Histogram,
    retries: IntCounter,
}

impl RequestHandles {
    /// Counts one answered request with `status` that took `seconds`.
    pub fn observe(&self, status: u16, seconds: f64) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        if let Some(c) = self.classes.get(class) {
            c.inc();
        }
        self.duration.observe(seconds);
    }

    /// Counts one retry.
    pub fn retried(&self) {
        self.retries.inc();
    }
}

impl Metrics {
    pub fn new() -> Result<Metrics, MetricsError> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("mesh_router_requests_total", "Requests answered"),
            &["route", "service", "class"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "mesh_router_request_duration_seconds",
                "Time from request head to the end of the answer",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["route", "service"],
        )?;
        let retries = IntCounterVec::new(
            Opts::new(
                "mesh_router_retries_total",
                "Upstream attempts after the first",
            ),
            &["route", "service"],
        )?;
        let connect_errors = IntCounterVec::new(
            Opts::new(
                "mesh_router_upstream_connect_errors_total",
                "Failed connections to endpoints",
            ),
            &["service"],
        )?;
        let in_flight = IntGauge::new(
            "mesh_router_downstream_requests_in_flight",
            "Requests being served",
        )?;
        let downstream_connections = IntGauge::new(
            "mesh_router_downstream_connections_open",
            "Downstream connections open",
        )?;
        let table_revision = IntGauge::new(
            "mesh_router_table_revision",
            "Revision of the route table served (0: none)",
        )?;
        let table_stale = IntGauge::new(
            "mesh_router_table_stale",
            "1 while serving the table saved on disk, before any controller answered",
        )?;
        let table_swaps = IntCounter::new("mesh_router_table_swaps_total", "Tables swapped in")?;
        let table_rejects = IntCounter::new(
            "mesh_router_table_rejects_total",
            "Tables refused; the previous one kept serving",
        )?;
        let mirrors = IntCounter::new("mesh_router_mirrors_total", "Mirrored requests sent")?;
        let mirrors_dropped = IntCounter::new(
            "mesh_router_mirrors_dropped_total",
            "Mirrored requests skipped: too many in flight",
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        registry.register(Box::new(retries.clone()))?;
        registry.register(Box::new(connect_errors.clone()))?;
        registry.register(Box::new(in_flight.clone()))?;
        registry.register(Box::new(downstream_connections.clone()))?;
        registry.register(Box::new(table_revision.clone()))?;
        registry.register(Box::new(table_stale.clone()))?;
        registry.register(Box::new(table_swaps.clone()))?;
        registry.register(Box::new(table_rejects.clone()))?;
        registry.register(Box::new(mirrors.clone()))?;
        registry.register(Box::new(mirrors_dropped.clone()))?;
        Ok(Metrics {
            registry,
            requests,
            duration,
            retries,
            connect_errors,
            in_flight,
            downstream_connections,
            table_revision,
            table_stale,
            table_swaps,
            table_rejects,
            mirrors,
            mirrors_dropped,
        })
    }

    /// The handles of one (route, service) pair; resolved when a table is
    /// built.
    pub fn request_handles(&self, route: &str, service: &str) -> RequestHandles {
        let classes = CLASSES.map(|c| self.requests.with_label_values(&[route, service, c]));
        RequestHandles {
            classes,
            duration: self.duration.with_label_values(&[route, service]),
            retries: self.retries.with_label_values(&[route, service]),
        }
    }

    /// The connect error counter of a service.
    pub fn connect_errors(&self, service: &str) -> IntCounter {
        self.connect_errors.with_label_values(&[service])
    }

    /// Every metric in the Prometheus text format.
    pub fn render(&self) -> Result<String, MetricsError> {
        let mut buf = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut buf)?;
        String::from_utf8(buf).map_err(|_| MetricsError::Utf8)
    }
}
