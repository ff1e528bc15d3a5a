//! The live state: the [`Snapshot`] being served, behind an `ArcSwap`.
//!
//! [`Routes::swap`] builds a snapshot from a table (validation, index,
//! balancers, metric handles) off the hot path, reusing what it can of the
//! snapshot it replaces, and swaps it in atomically.
//! A request loads the current snapshot once, when it starts, and keeps it
//! to the end (retries included): a swap never changes the rules of an
//! in-flight request, and the old snapshot is freed when its last request
//! ends. Loading is lock-free.

use crate::metrics::Metrics;
use crate::snapshot::{BuildError, Snapshot};
use arc_swap::ArcSwapOption;
use mesh_config::table::RouteTable;
use std::sync::Arc;
use tokio::sync::watch;

/// What the router serves: the table's revision and content hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Serving {
    pub revision: i64,
    pub hash: u64,
}

/// The served table, shared by the proxy, the admin listener and the sync
/// module.
pub struct Routes {
    current: ArcSwapOption<Snapshot>,
    metrics: Metrics,
    serving: watch::Sender<Option<Serving>>,
}

impl Routes {
    pub fn new(metrics: Metrics) -> Routes {
        Routes {
            current: ArcSwapOption::empty(),
            metrics,
            serving: watch::channel(None).0,
        }
    }

    /// Builds a snapshot of `table` and serves it from now on; returns the
    /// revision now served. On an error nothing changes and the reason says
    /// why (for the controller report). Never fails a request in flight.
    ///
    /// Building costs CPU in proportion to the table: call it from a
    /// blocking-friendly context for large tables.
    pub fn swap(&self, table: RouteTable) -> Result<i64, BuildError> {
        let previous = self.current.load_full();
        let snapshot = match Snapshot::build(table, previous.as_deref(), &self.metrics) {
            Ok(s) => s,
            Err(e) => {
                self.metrics.table_rejects.inc();
                return Err(e);
            }
        };
        let serving = Serving {
            revision: snapshot.revision(),
            hash: snapshot.hash(),
        };
        let snapshot = Arc::new(snapshot);
        self.current.store(Some(Arc::clone(&snapshot)));
        self.metrics.retain(snapshot.request_handles());
        // The replaced snapshot is freed here, off the hot path, unless a
        // request still holds it.
        drop(previous);
        self.metrics.table_swaps.inc();
        self.metrics.table_revision.set(serving.revision);
        self.serving.send_replace(Some(serving));
        Ok(serving.revision)
    }

    /// The revision and hash served, `None` before the first table.
    pub fn serving(&self) -> Option<Serving> {
        *self.serving.borrow()
    }

    /// Follows what is served (for `/ready` waiters and the sync module).
    pub fn watch(&self) -> watch::Receiver<Option<Serving>> {
        self.serving.subscribe()
    }

    /// The snapshot served now; a request keeps it to its end.
    #[inline]
    pub fn snapshot(&self) -> Option<Arc<Snapshot>> {
        self.current.load_full()
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }
}
