//! controller → etcd: resource statuses, and router statuses on a lease.
//!
//! [`StatusWriter::spawn`] starts a background task; [`StatusWriter::resources`]
//! and [`StatusWriter::routers`] hand it the latest desired state (latest
//! wins: a burst of calls costs one round of writes). The task diffs the
//! desired state with what it knows etcd holds and writes only the
//! difference, in transactions of at most [`MAX_TXN_OPS`] operations:
//!
//! | keys | lifetime |
//! | --- | --- |
//! | `<prefix>/status/resources/<kind>/<name>` | no lease; deleted when the resource is gone |
//! | `<prefix>/status/routers/<id>` | on this controller's lease: vanish at [`StatusWriter::stop`], or a TTL after a crash |
//!
//! On start and after every failure (etcd gone, a write refused) the task
//! reads the status keys back before writing again. Values that are already
//! there are not written, so active-active controllers that compute the same
//! statuses do not overwrite each other back and forth. A router key is only
//! deleted while it is still on this controller's lease (a router that moved
//! to another controller keeps its key).
//!
//! The lease is granted at start and refreshed every third of its TTL; if
//! etcd lost it (it expired during an outage) a new one is granted and every
//! router key written again. Failures are retried with jittered backoff;
//! the latest desired state is what gets written once etcd is back.

mod diff;
mod task;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mesh_config::keys::{Keys, ResourceId};
use tokio::sync::watch;
use tokio::task::{AbortHandle, JoinHandle};

use crate::status::{ResourceStatus, RouterStatus};
use crate::store::{StoreError, StoreSettings};

pub use crate::store::MAX_TXN_OPS;

/// Why a round of status writes failed (logged, then retried).
#[derive(Debug, thiserror::Error)]
pub enum StatusWriterError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Counters and state of a [`StatusWriter`], for tests and diagnostics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// The lease router statuses live on (0 before the first grant).
    pub lease_id: i64,
    /// Leases granted (1 after start; more if etcd lost one).
    pub lease_grants: u64,
    /// Keys put and deleted so far.
    pub puts: u64,
    pub deletes: u64,
    /// Sequence number of the latest desired state handed in...
    pub requested: u64,
    /// ... and of the latest one written in full.
    pub flushed: u64,
    /// Whether the last round of writes succeeded.
    pub healthy: bool,
}

/// Handle to the status-writing task. Cheap to clone; the task stops when
/// [`StatusWriter::stop`] is called or the `shutdown` future resolves
/// (revoking the lease), and is aborted without revoking when the last
/// handle is dropped.
#[derive(Clone)]
pub struct StatusWriter {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for StatusWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatusWriter")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// One desired state: its sequence number and the map (`None` until the
/// first call, so nothing is deleted before the caller said what it wants).
#[derive(Debug)]
struct Desired<T> {
    generation: u64,
    map: Option<Arc<T>>,
}

impl<T> Default for Desired<T> {
    fn default() -> Self {
        Desired {
            generation: 0,
            map: None,
        }
    }
}

type Resources = BTreeMap<ResourceId, ResourceStatus>;
type Routers = BTreeMap<String, RouterStatus>;

struct Inner {
    resources: watch::Sender<Desired<Resources>>,
    routers: watch::Sender<Desired<Routers>>,
    /// Orders generations with their sends (held only across a `send`).
    generation: Mutex<u64>,
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
    abort: AbortHandle,
    shared: Arc<Shared>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.abort.abort();
    }
}

/// State the task shares with the handles.
#[derive(Debug, Default)]
struct Shared {
    lease_id: AtomicI64,
    lease_grants: AtomicU64,
    puts: AtomicU64,
    deletes: AtomicU64,
    flushed: AtomicU64,
    healthy: AtomicBool,
}

impl StatusWriter {
    /// Starts the task (inside a tokio runtime). `controller_id` names this
    /// controller in logs; `lease_ttl` is the TTL asked for the router
    /// statuses' lease (whole seconds, at least 1; etcd may grant more).
    pub fn spawn(
        store: StoreSettings,
        keys: Keys,
        controller_id: String,
        lease_ttl: Duration,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> StatusWriter {
        let (resources, resources_rx) = watch::channel(Desired::default());
        let (routers, routers_rx) = watch::channel(Desired::default());
        let (stop, stop_rx) = watch::channel(false);
        let shared = Arc::new(Shared::default());
        let task = task::Task::new(
            store,
            keys,
            controller_id,
            lease_ttl,
            resources_rx,
            routers_rx,
            shared.clone(),
        );
        let handle = tokio::spawn(task.run(shutdown, stop_rx));
        StatusWriter {
            inner: Arc::new(Inner {
                resources,
                routers,
                generation: Mutex::new(0),
                stop,
                abort: handle.abort_handle(),
                task: Mutex::new(Some(handle)),
                shared,
            }),
        }
    }

    /// The statuses of every resource now (latest wins). Status keys of
    /// resources not in `statuses` are deleted.
    pub fn resources(&self, statuses: BTreeMap<ResourceId, ResourceStatus>) {
        let mut generation = self.lock_generation();
        *generation += 1;
        let g = *generation;
        self.inner.resources.send_replace(Desired {
            generation: g,
            map: Some(Arc::new(statuses)),
        });
    }

    /// Every router this controller serves now (latest wins), by router id.
    /// Keys of routers not in `fleet` are deleted.
    pub fn routers(&self, fleet: BTreeMap<String, RouterStatus>) {
        let mut generation = self.lock_generation();
        *generation += 1;
        let g = *generation;
        self.inner.routers.send_replace(Desired {
            generation: g,
            map: Some(Arc::new(fleet)),
        });
    }

    fn lock_generation(&self) -> std::sync::MutexGuard<'_, u64> {
        // A poisoned counter is still a counter.
        self.inner
            .generation
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counters and state; see [`WriterStats`].
    pub fn stats(&self) -> WriterStats {
        let s = &self.inner.shared;
        WriterStats {
            lease_id: s.lease_id.load(Ordering::SeqCst),
            lease_grants: s.lease_grants.load(Ordering::SeqCst),
            puts: s.puts.load(Ordering::SeqCst),
            deletes: s.deletes.load(Ordering::SeqCst),
            requested: *self.lock_generation(),
            flushed: s.flushed.load(Ordering::SeqCst),
            healthy: s.healthy.load(Ordering::SeqCst),
        }
    }

    /// Stops the task and revokes the lease: router keys vanish at once.
    /// (Once, whichever clone calls it; later calls return at once.)
    pub async fn stop(self) {
        self.inner.stop.send_replace(true);
        let task = self
            .inner
            .task
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }

    /// Kills the task without revoking the lease, as a crash would: router
    /// keys stay until the lease's TTL runs out.
    pub fn abort(&self) {
        self.inner.abort.abort();
    }
}
