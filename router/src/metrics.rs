//! The router's Prometheus metrics, registered once in their own registry
//! and rendered as text on `/metrics`.
//!
//! Label sets are resolved into handles ([`RequestHandles`]) when a table is
//! built, so serving a request only bumps atomics: no label lookup, no lock,
//! no allocation. A handle creates its series on first use (a table of
//! 10,000 routes does not export 10,000 × 7 series of zeros), and handles
//! are kept across tables per (route, service) pair: building a table looks
//! each pair up once instead of resolving seven label sets, and the series of
//! pairs no table uses any more are removed ([`Metrics::retain`]).

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
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
    /// `mesh_router_access_log_dropped_total`: access log lines dropped
    /// because the writer fell behind.
    pub access_log_dropped: IntCounter,
    pairs: Arc<Mutex<Pairs>>,
}

/// The handles one (route, service) pair counts into. Cheap to clone;
/// clones share the series.
#[derive(Clone, Debug)]
pub struct RequestHandles(Arc<PairHandles>);

/// The series of one pair, each created on first use.
#[derive(Debug)]
struct PairHandles {
    route: String,
    service: String,
    requests: IntCounterVec,
    duration_vec: HistogramVec,
    retries_vec: IntCounterVec,
    classes: [OnceLock<IntCounter>; 5],
    duration: OnceLock<Histogram>,
    retries: OnceLock<IntCounter>,
}

impl RequestHandles {
    /// Counts one answered request with `status` that took `seconds`. A
    /// request that got no status (the client left first) counts only its
    /// duration.
    #[inline]
    pub fn observe(&self, status: u16, seconds: f64) {
        let p = &*self.0;
        let class = usize::from(status / 100);
        if let Some(c) = class.checked_sub(1).and_then(|i| p.classes.get(i)) {
            c.get_or_init(|| {
                p.requests
                    .with_label_values(&[&p.route, &p.service, CLASSES[class - 1]])
            })
            .inc();
        }
        p.duration
            .get_or_init(|| p.duration_vec.with_label_values(&[&p.route, &p.service]))
            .observe(seconds);
    }

    /// Counts one retry.
    #[inline]
    pub fn retried(&self) {
        let p = &*self.0;
        p.retries
            .get_or_init(|| p.retries_vec.with_label_values(&[&p.route, &p.service]))
            .inc();
    }

    /// Removes the series this pair created from the registry.
    fn remove_series(&self) {
        let p = &*self.0;
        let (route, service) = (p.route.as_str(), p.service.as_str());
        for (i, c) in p.classes.iter().enumerate() {
            if c.get().is_some() {
                let _ = p
                    .requests
                    .remove_label_values(&[route, service, CLASSES[i]]);
            }
        }
        if p.duration.get().is_some() {
            let _ = p.duration_vec.remove_label_values(&[route, service]);
        }
        if p.retries.get().is_some() {
            let _ = p.retries_vec.remove_label_values(&[route, service]);
        }
    }
}

/// Handles by (route, service), kept across tables.
type Pairs = HashMap<(String, String), RequestHandles>;

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
        let access_log_dropped = IntCounter::new(
            "mesh_router_access_log_dropped_total",
            "Access log lines dropped: the writer fell behind",
        )?;
        registry.register(Box::new(access_log_dropped.clone()))?;
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
            access_log_dropped,
            pairs: Arc::default(),
        })
    }

    /// The handles of one (route, service) pair: the ones of an earlier
    /// table when there are some. Called when a table is built.
    pub fn request_handles(&self, route: &str, service: &str) -> RequestHandles {
        let mut pairs = self.pairs.lock().unwrap_or_else(PoisonError::into_inner);
        let key = (route.to_owned(), service.to_owned());
        pairs
            .entry(key)
            .or_insert_with(|| {
                RequestHandles(Arc::new(PairHandles {
                    route: route.to_owned(),
                    service: service.to_owned(),
                    requests: self.requests.clone(),
                    duration_vec: self.duration.clone(),
                    retries_vec: self.retries.clone(),
                    classes: Default::default(),
                    duration: OnceLock::new(),
                    retries: OnceLock::new(),
                }))
            })
            .clone()
    }

    /// Forgets every pair but the ones in `live` (the handles of the table
    /// now served) and removes their series: the routes and services gone
    /// from the table stop being exported. Requests still running on an
    /// older table keep counting into their handles, unexported.
    pub fn retain<'a>(&self, live: impl IntoIterator<Item = &'a RequestHandles>) {
        let live: HashSet<*const PairHandles> =
            live.into_iter().map(|h| Arc::as_ptr(&h.0)).collect();
        let mut pairs = self.pairs.lock().unwrap_or_else(PoisonError::into_inner);
        pairs.retain(|_, h| {
            let keep = live.contains(&Arc::as_ptr(&h.0));
            if !keep {
                h.remove_series();
            }
            keep
        });
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

#[cfg(test)]
mod tests {
    use super::*;

    fn series(m: &Metrics, needle: &str) -> usize {
        m.render()
            .expect("renders")
            .lines()
            .filter(|l| !l.starts_with('#') && l.contains(needle))
            .count()
    }

    #[test]
    fn series_appear_on_first_use_only() {
        let m = Metrics::new().expect("metrics");
        let h = m.request_handles("shop", "cart");
        assert_eq!(
            series(&m, "route=\"shop\""),
            0,
            "nothing exported before use"
        );
        h.observe(200, 0.001);
        let text = m.render().expect("renders");
        assert!(text.contains(
            "mesh_router_requests_total{class=\"2xx\",route=\"shop\",service=\"cart\"} 1"
        ));
        assert!(!text.contains("class=\"5xx\",route=\"shop\""), "{text}");
        // No status (the client left): duration only, no class.
        h.observe(0, 0.001);
        assert!(!m.render().expect("renders").contains("class=\"1xx\""));
    }

    #[test]
    fn handles_are_shared_across_tables_and_retain_drops_the_rest() {
        let m = Metrics::new().expect("metrics");
        let a = m.request_handles("a", "s");
        let b = m.request_handles("b", "s");
        a.observe(200, 0.001);
        b.observe(503, 0.001);
        b.retried();
        // The next table asks again: same handles, counts continue.
        let a2 = m.request_handles("a", "s");
        assert!(Arc::ptr_eq(&a.0, &a2.0));
        a2.observe(200, 0.001);
        assert!(m
            .render()
            .expect("renders")
            .contains("mesh_router_requests_total{class=\"2xx\",route=\"a\",service=\"s\"} 2"));
        // Route b is gone from the table served.
        m.retain([&a2]);
        assert_eq!(series(&m, "route=\"b\""), 0);
        assert!(series(&m, "route=\"a\"") > 0);
        let b2 = m.request_handles("b", "s");
        assert!(!Arc::ptr_eq(&b.0, &b2.0), "a retired pair starts afresh");
    }
}
