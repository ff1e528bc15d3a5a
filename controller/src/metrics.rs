//! The controller's Prometheus metrics, registered once in their own
//! registry and rendered as text on `/metrics`.

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};
use thiserror::Error;

/// Why the metrics could not be set up or rendered.
#[derive(Debug, Error)]
pub enum MetricsError {
    #[error("metrics: {0}")]
    Prometheus(#[from] prometheus::Error),
}

/// Every metric the controller exports.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// `mesh_controller_etcd_revision`: the etcd revision last compiled.
    pub etcd_revision: IntGauge,
    /// `mesh_controller_etcd_connected`: 1 while the etcd watch is up.
    pub etcd_connected: IntGauge,
    /// `mesh_controller_etcd_resyncs_total`: full re-reads (start,
    /// reconnect, compaction).
    pub etcd_resyncs: IntCounter,
    /// `mesh_controller_compile_seconds`: time to compile one table.
    pub compile_seconds: Histogram,
    /// `mesh_controller_compiles_total`.
    pub compiles: IntCounter,
    /// `mesh_controller_table_revision`: the revision of the table published.
    pub table_revision: IntGauge,
    /// `mesh_controller_resources{kind, state}`: resources accepted or
    /// rejected in the table published.
    pub resources: IntGaugeVec,
    /// `mesh_controller_routers_connected`: routers subscribed now.
    pub routers_connected: IntGauge,
    /// `mesh_controller_router_lag_revisions{router}`: how many revisions a
    /// router's table is behind the published one (0 when its content is the
    /// same).
    pub router_lag: IntGaugeVec,
    /// `mesh_controller_pushed_bytes_total`: bytes of table messages sent.
    pub pushed_bytes: IntCounter,
}

impl Metrics {
    pub fn new() -> Result<Metrics, MetricsError> {
        let registry = Registry::new();
        let gauge = |name: &str, help: &str| -> Result<IntGauge, MetricsError> {
            let g = IntGauge::new(name, help)?;
            registry.register(Box::new(g.clone()))?;
            Ok(g)
        };
        let counter = |name: &str, help: &str| -> Result<IntCounter, MetricsError> {
            let c = IntCounter::new(name, help)?;
            registry.register(Box::new(c.clone()))?;
            Ok(c)
        };
        let gauge_vec =
            |name: &str, help: &str, labels: &[&str]| -> Result<IntGaugeVec, MetricsError> {
                let g = IntGaugeVec::new(Opts::new(name, help), labels)?;
                registry.register(Box::new(g.clone()))?;
                Ok(g)
            };
        let compile_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "mesh_controller_compile_seconds",
                "Time to compile one route table",
            )
            .buckets(vec![
                0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                1.0, 2.5,
            ]),
        )?;
        registry.register(Box::new(compile_seconds.clone()))?;
        Ok(Metrics {
            etcd_revision: gauge(
                "mesh_controller_etcd_revision",
                "The etcd revision last compiled",
            )?,
            etcd_connected: gauge(
                "mesh_controller_etcd_connected",
                "1 while the etcd watch is up, else 0",
            )?,
            etcd_resyncs: counter(
                "mesh_controller_etcd_resyncs_total",
                "Full re-reads of etcd (start, reconnect, compaction)",
            )?,
            compile_seconds,
            compiles: counter("mesh_controller_compiles_total", "Route tables compiled")?,
            table_revision: gauge(
                "mesh_controller_table_revision",
                "Revision of the route table published to routers",
            )?,
            resources: gauge_vec(
                "mesh_controller_resources",
                "Resources in the published table, by kind and state (accepted/rejected)",
                &["kind", "state"],
            )?,
            routers_connected: gauge(
                "mesh_controller_routers_connected",
                "Routers subscribed to this controller",
            )?,
            router_lag: gauge_vec(
                "mesh_controller_router_lag_revisions",
                "Revisions a router's table is behind the published one (0 if same content)",
                &["router"],
            )?,
            pushed_bytes: counter(
                "mesh_controller_pushed_bytes_total",
                "Bytes of table messages sent to routers",
            )?,
            registry,
        })
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> Result<String, MetricsError> {
        let mut buf = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut buf)?;
        Ok(String::from_utf8_lossy(&buf).into_owned())
    }
}
