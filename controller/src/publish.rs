//! The published route table and the routers that follow it.
//!
//! A [`Publisher`] holds the table the controller serves. Routers subscribe
//! with `GET /v1/subscribe?router=<id>` (see [`mesh_config::wire`]) and get
//! a snapshot, then a delta for every newer published table whose content
//! differs from what they have (a slow router skips intermediate tables: it
//! gets one delta from what it has to the latest), and a heartbeat after a
//! configured silence. Routers `POST /v1/report` what they serve; the
//! publisher keeps that as the fleet view ([`Publisher::fleet`]) and in the
//! metrics (`routers_connected`, `router_lag_revisions{router}`,
//! `pushed_bytes_total`, `table_revision`).
//!
//! A router is in the fleet view from the moment its stream opens (with
//! revision 0 and hash 0 until it reports) until its stream closes. A second
//! stream with the same router id replaces (closes) the first.
//!
//! Lock order, where several are taken: streams → fleet → table. No lock is
//! held across an await.

mod http;
mod stream;

pub(crate) use http::{routes, ServerShutdown};
pub(crate) use stream::{json_body, TableRef};

use crate::metrics::Metrics;
use crate::status::RouterStatus;
use axum::body::Body;
use bytes::Bytes;
use mesh_config::table::RouteTable;
use mesh_config::wire::{check_router_id, Outcome, Report};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::watch;

/// Why a report was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    #[error("invalid router id: {0}")]
    InvalidRouterId(String),
    #[error("router {0:?} has no open subscription on this controller")]
    NotSubscribed(String),
}

/// The table the controller publishes, and the router streams following it.
/// Cheap to clone: every clone shares the same state.
#[derive(Clone)]
pub struct Publisher {
    shared: Arc<Shared>,
}

/// A published table with its content hash, its snapshot message once a
/// subscriber needed it, and the last delta encoded to it (most subscribers
/// follow every table, so they all need the same one).
struct Published {
    table: Arc<RouteTable>,
    hash: u64,
    snapshot: tokio::sync::OnceCell<Arc<[Bytes]>>,
    delta_cache: Mutex<Option<CachedDelta>>,
}

/// One encoded delta line (with its newline) and the table it starts from.
#[derive(Clone)]
struct CachedDelta {
    base_revision: i64,
    base_hash: u64,
    line: Bytes,
}

struct Shared {
    controller_id: String,
    metrics: Metrics,
    heartbeat: Duration,
    table: watch::Sender<Option<Arc<Published>>>,
    fleet: watch::Sender<BTreeMap<String, RouterStatus>>,
    streams: Mutex<HashMap<String, StreamEntry>>,
    next_generation: AtomicU64,
}

/// The open stream of one router id.
struct StreamEntry {
    generation: u64,
    stop: watch::Sender<bool>,
}

/// Held by a stream's task; dropping it closes the stream and, unless a
/// newer stream replaced it, removes the router from the fleet view.
struct StreamGuard {
    shared: Arc<Shared>,
    router: String,
    generation: u64,
    stop: watch::Sender<bool>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Publisher {
    /// A publisher with no table yet. `controller_id` goes into each
    /// [`RouterStatus::controller`]; `heartbeat` is the silence after which
    /// a stream sends a heartbeat.
    pub fn new(controller_id: String, metrics: Metrics, heartbeat: Duration) -> Publisher {
        let (table, _) = watch::channel(None);
        let (fleet, _) = watch::channel(BTreeMap::new());
        Publisher {
            shared: Arc::new(Shared {
                controller_id,
                metrics,
                heartbeat,
                table,
                fleet,
                streams: Mutex::new(HashMap::new()),
                next_generation: AtomicU64::new(1),
            }),
        }
    }

    /// Offers a newly compiled table. If its content hash equals the
    /// published one, nothing happens (false: the published table keeps its
    /// revision); else it becomes the published table and every subscriber
    /// gets a delta (true).
    pub fn publish(&self, table: Arc<RouteTable>) -> bool {
        let hash = table.hash();
        let revision = table.revision;
        let published = Arc::new(Published {
            table,
            hash,
            snapshot: tokio::sync::OnceCell::new(),
            delta_cache: Mutex::new(None),
        });
        let shared = &self.shared;
        let mut changed = false;
        shared.fleet.send_if_modified(|fleet| {
            changed = shared.table.send_if_modified(|current| {
                if current.as_ref().is_some_and(|p| p.hash == hash) {
                    return false;
                }
                *current = Some(published);
                true
            });
            if !changed {
                return false;
            }
            for status in fleet.values_mut() {
                status.published_revision = revision;
                status.published_hash = hash;
                shared.set_lag(status);
            }
            !fleet.is_empty()
        });
        if changed {
            shared.metrics.table_revision.set(revision);
        }
        changed
    }

    /// The published table, if any.
    pub fn current(&self) -> Option<Arc<RouteTable>> {
        self.shared
            .table
            .borrow()
            .as_ref()
            .map(|p| Arc::clone(&p.table))
    }

    /// The fleet view: every subscribed router and what it last reported.
    pub fn fleet(&self) -> watch::Receiver<BTreeMap<String, RouterStatus>> {
        self.shared.fleet.subscribe()
    }

    /// The controller id given to [`Publisher::new`].
    pub fn controller_id(&self) -> &str {
        &self.shared.controller_id
    }

    /// Records a router's report in the fleet view. The router must have an
    /// open stream here: a report racing its stream's close must not bring
    /// back a router that left.
    pub fn report(&self, report: Report) -> Result<(), PublishError> {
        check_router_id(&report.router).map_err(PublishError::InvalidRouterId)?;
        let shared = &self.shared;
        let streams = lock(&shared.streams);
        if !streams.contains_key(&report.router) {
            return Err(PublishError::NotSubscribed(report.router));
        }
        shared.fleet.send_if_modified(|fleet| {
            let mut status = shared.new_status(&report.router);
            status.revision = report.revision;
            status.table_hash = report.table_hash;
            status.rejected = match report.outcome {
                Outcome::Applied => None,
                Outcome::Rejected { reason } => Some(reason),
            };
            shared.set_lag(&status);
            if fleet.get(&report.router) == Some(&status) {
                return false;
            }
            fleet.insert(report.router.clone(), status);
            true
        });
        drop(streams);
        Ok(())
    }

    /// Opens a stream for `router` (already checked) and returns its body;
    /// the stream ends when `server_shutdown` turns true.
    fn subscribe(&self, router: String, server_shutdown: Option<watch::Receiver<bool>>) -> Body {
        let (guard, stop) = self.register(router);
        stream::open(Arc::clone(&self.shared), guard, stop, server_shutdown)
    }

    /// Registers a stream, replacing (closing) an older one of the same
    /// router, and puts the router in the fleet view if it is not there.
    fn register(&self, router: String) -> (StreamGuard, watch::Receiver<bool>) {
        let shared = &self.shared;
        let generation = shared.next_generation.fetch_add(1, Ordering::Relaxed);
        let (stop, stop_rx) = watch::channel(false);
        let mut streams = lock(&shared.streams);
        let entry = StreamEntry {
            generation,
            stop: stop.clone(),
        };
        if let Some(old) = streams.insert(router.clone(), entry) {
            tracing::info!(router, "a new stream replaces the router's open one");
            old.stop.send_replace(true);
        }
        shared.metrics.routers_connected.inc();
        shared.fleet.send_if_modified(|fleet| {
            if fleet.contains_key(&router) {
                return false;
            }
            let status = shared.new_status(&router);
            shared.set_lag(&status);
            fleet.insert(router.clone(), status);
            true
        });
        drop(streams);
        let guard = StreamGuard {
            shared: Arc::clone(shared),
            router,
            generation,
            stop,
        };
        (guard, stop_rx)
    }
}

impl Shared {
    /// A status for a router that has reported nothing yet, against the
    /// published table. Called with the fleet lock held (takes the table's).
    fn new_status(&self, router: &str) -> RouterStatus {
        let (published_revision, published_hash) = self
            .table
            .borrow()
            .as_ref()
            .map_or((0, 0), |p| (p.table.revision, p.hash));
        RouterStatus {
            router: router.to_owned(),
            controller: self.controller_id.clone(),
            revision: 0,
            table_hash: 0,
            published_revision,
            published_hash,
            rejected: None,
        }
    }

    fn set_lag(&self, status: &RouterStatus) {
        self.metrics
            .router_lag
            .with_label_values(&[status.router.as_str()])
            .set(status.lag());
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.stop.send_replace(true);
        let shared = &self.shared;
        shared.metrics.routers_connected.dec();
        let mut streams = lock(&shared.streams);
        if streams
            .get(&self.router)
            .is_some_and(|e| e.generation == self.generation)
        {
            streams.remove(&self.router);
            shared
                .fleet
                .send_if_modified(|fleet| fleet.remove(&self.router).is_some());
            // The series may already be gone; nothing to do then.
            let _ = shared
                .metrics
                .router_lag
                .remove_label_values(&[self.router.as_str()]);
            tracing::info!(router = %self.router, "router stream closed");
        }
    }
}

#[cfg(test)]
mod tests;
