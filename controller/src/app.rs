//! Wires the controller together: etcd sync → compile loop → publisher and
//! status writer, and the HTTP listener for routers and operators.
//!
//! ```text
//!  etcd ──watch──▶ sync ──SyncEvent──▶ compile loop ──table──▶ publisher ──stream──▶ routers
//!                   │                       │                      ▲   │
//!                   └─connected─┐           └─statuses─▶ status writer ◀─fleet─┘
//!                               ▼                              │
//!                        /ready, /metrics                      ▼ etcd <prefix>/status/
//! ```
//!
//! The compile loop coalesces without a fixed delay: it compiles as soon as
//! an event arrives, and everything that arrived while it was compiling is
//! applied at once before the next compile, so a burst of a thousand puts
//! costs a handful of compiles while a lone change is pushed at once.

use crate::admin::{self, Readiness};
use crate::compile::Compiler;
use crate::metrics::{Metrics, MetricsError};
use crate::mirror::{Mirror, SyncEvent};
use crate::publish::Publisher;
use crate::status_writer::StatusWriter;
use crate::store::StoreSettings;
use crate::sync::{run_sync, SyncSettings};
use mesh_config::keys::{KeyError, Keys};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use thiserror::Error;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// Everything the controller needs to run; [`Settings::new`] gives the
/// defaults of DESIGN.md.
#[derive(Debug, Clone)]
pub struct Settings {
    /// etcd client URLs.
    pub etcd: Vec<String>,
    /// Key prefix of the mesh.
    pub prefix: String,
    /// Where routers subscribe and operators scrape (`127.0.0.1:0` picks a
    /// free port; the handle tells which).
    pub listen: SocketAddr,
    /// This controller's id in status keys; default `<hostname>:<port>`.
    pub id: Option<String>,
    /// Silence after which subscribers get a heartbeat.
    pub heartbeat: Duration,
    /// TTL of the lease the router statuses live on.
    pub status_lease_ttl: Duration,
    /// Reconnect backoff towards etcd.
    pub backoff_min: Duration,
    pub backoff_max: Duration,
}

impl Settings {
    pub fn new(etcd: Vec<String>, prefix: String, listen: SocketAddr) -> Settings {
        Settings {
            etcd,
            prefix,
            listen,
            id: None,
            heartbeat: Duration::from_secs(5),
            status_lease_ttl: Duration::from_secs(10),
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(5),
        }
    }
}

/// Why the controller could not start.
#[derive(Debug, Error)]
pub enum AppError {
    #[error(transparent)]
    Prefix(#[from] KeyError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Metrics(#[from] MetricsError),
    #[error("controller task failed: {0}")]
    Task(String),
}

/// A running controller.
pub struct Handle {
    addr: SocketAddr,
    id: String,
    metrics: Metrics,
    task: JoinHandle<Result<(), AppError>>,
}

impl Handle {
    /// The address routers and operators connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Waits until the controller has stopped (after its shutdown signal).
    pub async fn wait(self) -> Result<(), AppError> {
        self.task.await.map_err(|e| AppError::Task(e.to_string()))?
    }
}

/// Starts a controller that runs until `shutdown` resolves.
pub async fn run(
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Handle, AppError> {
    let keys = Keys::new(&settings.prefix)?;
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .map_err(|source| AppError::Listen {
            addr: settings.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| AppError::Listen {
        addr: settings.listen,
        source,
    })?;
    let id = settings
        .id
        .clone()
        .unwrap_or_else(|| crate::host::instance_id("controller", addr.port()));
    let metrics = Metrics::new()?;

    // One shutdown signal, fanned out to every task.
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };

    let store = StoreSettings::new(settings.etcd.clone());
    let publisher = Publisher::new(id.clone(), metrics.clone(), settings.heartbeat);
    let statuses = StatusWriter::spawn(
        store.clone(),
        keys.clone(),
        id.clone(),
        settings.status_lease_ttl,
        stopped(),
    );

    let (events_tx, events_rx) = mpsc::channel::<SyncEvent>(1024);
    let (connected_tx, connected_rx) = watch::channel(false);
    let sync = tokio::spawn(run_sync(
        SyncSettings {
            store,
            keys: keys.clone(),
            backoff_min: settings.backoff_min,
            backoff_max: settings.backoff_max,
        },
        events_tx,
        connected_tx,
        metrics.clone(),
        stopped(),
    ));

    let (ready_tx, ready_rx) = watch::channel(Readiness {
        etcd_connected: false,
        table_revision: None,
    });
    let compile = tokio::spawn(compile_loop(
        events_rx,
        Compiler::new(keys),
        publisher.clone(),
        statuses.clone(),
        metrics.clone(),
        ready_tx.clone(),
    ));
    let readiness = tokio::spawn(follow_connection(connected_rx, ready_tx, stopped()));
    let fleet = tokio::spawn(forward_fleet(
        publisher.clone(),
        statuses.clone(),
        stopped(),
    ));

    let app = admin::router(publisher, metrics.clone(), ready_rx);
    let serve = admin::serve(listener, app, stopped());
    tracing::info!(%addr, %id, etcd = ?settings.etcd, prefix = %settings.prefix, "controller listening");

    let task = tokio::spawn(async move {
        let served = serve.await;
        // The listener is closed; stop the rest in order, the status lease
        // last so router statuses vanish with this controller.
        let _ = sync.await;
        compile.abort();
        readiness.abort();
        fleet.abort();
        statuses.stop().await;
        tracing::info!("controller stopped");
        served.map_err(|e| AppError::Task(format!("listener: {e}")))
    });
    Ok(Handle {
        addr,
        id,
        metrics,
        task,
    })
}

/// Applies sync events and compiles; see the module doc for coalescing.
async fn compile_loop(
    mut events: mpsc::Receiver<SyncEvent>,
    mut compiler: Compiler,
    publisher: Publisher,
    statuses: StatusWriter,
    metrics: Metrics,
    ready: watch::Sender<Readiness>,
) {
    let mut mirror = Mirror::default();
    while let Some(event) = events.recv().await {
        let mut changed = mirror.apply(event);
        while let Ok(event) = events.try_recv() {
            changed |= mirror.apply(event);
        }
        if !changed {
            continue;
        }
        let started = Instant::now();
        // Compiling a large table takes milliseconds of CPU: keep it off the
        // threads that serve routers. Compiler and mirror move to the
        // blocking thread and back, so nothing is copied.
        let job = tokio::task::spawn_blocking(move || {
            let compiled = compiler.compile(&mirror);
            (compiler, mirror, compiled)
        });
        let compiled;
        (compiler, mirror, compiled) = match job.await {
            Ok(done) => done,
            Err(e) => {
                tracing::error!("compile task failed: {e}; the controller stops compiling");
                return;
            }
        };
        metrics
            .compile_seconds
            .observe(started.elapsed().as_secs_f64());
        metrics.compiles.inc();
        metrics.etcd_revision.set(mirror.revision);
        for (kind, state, n) in compiled.counts.iter() {
            metrics
                .resources
                .with_label_values(&[kind.noun(), state.as_str()])
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        let revision = compiled.table.revision;
        if publisher.publish(Arc::new(compiled.table)) {
            tracing::debug!(revision, "published table");
        }
        statuses.resources(compiled.statuses);
        let published = publisher.current().map(|t| t.revision);
        ready.send_modify(|r| r.table_revision = published);
    }
}

/// Mirrors the sync's connection state into readiness.
async fn follow_connection(
    mut connected: watch::Receiver<bool>,
    ready: watch::Sender<Readiness>,
    stopped: impl Future<Output = ()>,
) {
    tokio::pin!(stopped);
    loop {
        let up = *connected.borrow_and_update();
        ready.send_modify(|r| r.etcd_connected = up);
        tokio::select! {
            _ = &mut stopped => return,
            changed = connected.changed() => if changed.is_err() { return },
        }
    }
}

/// Hands every change of the fleet view to the status writer.
async fn forward_fleet(
    publisher: Publisher,
    statuses: StatusWriter,
    stopped: impl Future<Output = ()>,
) {
    let mut fleet = publisher.fleet();
    tokio::pin!(stopped);
    loop {
        let view = fleet.borrow_and_update().clone();
        statuses.routers(view);
        tokio::select! {
            _ = &mut stopped => return,
            changed = fleet.changed() => if changed.is_err() { return },
        }
    }
}
