//! Wires a router together: the served [`Routes`], the pingora proxy on its
//! own thread, and the admin listener.
//!
//! ```text
//!  sync (controllers, state dir) ──swap(table)──▶ Routes ◀──load── proxy (pingora threads)
//!                                                   ▲
//!                                     /ready, /table, /metrics (admin listener)
//! ```
//!
//! pingora's `Server::run` blocks its thread and builds its own runtimes, so
//! it runs on a dedicated std thread with a [`ShutdownSignalWatch`] fed by
//! the `shutdown` future. pingora reports neither the address it bound nor
//! a port in use (it retries for 30 s, then panics): [`run`] checks that the
//! listen address is free (and resolves port 0) first, then waits until the
//! proxy accepts connections before it returns.
//!
//! The plain listener takes HTTP/1.1 and HTTP/2 with prior knowledge (h2c,
//! told apart by the connection preface); the TLS listener (see
//! [`crate::tls`]) takes either by ALPN.

use crate::access_log::AccessLog;
use crate::admin;
use crate::h1::FastApp;
use crate::metrics::{Metrics, MetricsError};
use crate::proxy::MeshProxy;
use crate::routes::Routes;
use crate::settings::Settings;
use crate::sync::{self, SyncSettings, TableSink};
use async_trait::async_trait;
use mesh_config::table::RouteTable;
use pingora::listeners::{L4BufferSettings, ListenerConfig};
use pingora::server::configuration::ServerConf;
use pingora::server::{RunArgs, Server, ShutdownSignal, ShutdownSignalWatch};
use pingora::services::listening::Service;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use thiserror::Error;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

/// Read buffer of a TLS connection: one TLS record.
const TLS_READ_BUFFER: usize = 16 * 1024;
/// Write buffer of a connection (pingora's default: one MSS).
const L4_WRITE_BUFFER: usize = 1460;

/// How long [`run`] waits for the proxy to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// Most upstream attempts pingora makes for one request; the rule's retry
/// policy (at most 10 retries) decides within this bound.
const MAX_ATTEMPTS: usize = 16;

/// Why the router could not start or stopped badly.
#[derive(Debug, Error)]
pub enum AppError {
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Metrics(#[from] MetricsError),
    #[error("the proxy did not accept connections on {addr} within {after:?}")]
    NotStarted { addr: SocketAddr, after: Duration },
    #[error("the proxy thread failed: {0}")]
    Proxy(String),
    #[error("admin listener: {0}")]
    Admin(std::io::Error),
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    #[error(transparent)]
    AccessLog(#[from] crate::access_log::AccessLogError),
}

/// A running router.
pub struct Handle {
    listen: SocketAddr,
    tls: Option<SocketAddr>,
    admin: SocketAddr,
    id: String,
    routes: Arc<Routes>,
    task: JoinHandle<Result<(), AppError>>,
}

impl Handle {
    /// The address of the HTTP listener.
    pub fn listen_addr(&self) -> SocketAddr {
        self.listen
    }

    /// The address of the TLS listener, when there is one.
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.tls
    }

    /// The address of the admin listener.
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin
    }

    /// This router's id (`--id`, or `<hostname>:<listen port>`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The served table: swap tables in here.
    pub fn routes(&self) -> &Arc<Routes> {
        &self.routes
    }

    /// Waits until the router has stopped (after its shutdown signal).
    pub async fn wait(self) -> Result<(), AppError> {
        self.task
            .await
            .map_err(|e| AppError::Proxy(e.to_string()))?
    }
}

/// Starts a router serving `initial` (if any; a table that does not build
/// is logged and skipped) until `shutdown` resolves. Call it inside a tokio
/// runtime; the proxy gets its own threads.
pub async fn run(
    settings: Settings,
    initial: Option<RouteTable>,
    shutdown: impl Future<Output = impl Into<StopMode>> + Send + 'static,
) -> Result<Handle, AppError> {
    let metrics = Metrics::new()?;
    let routes = Arc::new(Routes::new(metrics));
    if let Some(table) = initial {
        let revision = table.revision;
        if let Err(e) = routes.swap(table) {
            tracing::warn!(revision, "initial table not served: {e}");
        }
    }

    let admin_listener = tokio::net::TcpListener::bind(settings.admin)
        .await
        .map_err(|source| AppError::Listen {
            addr: settings.admin,
            source,
        })?;
    let admin_addr = admin_listener
        .local_addr()
        .map_err(|source| AppError::Listen {
            addr: settings.admin,
            source,
        })?;
    let listen = reserve(settings.listen)?;
    let tls = match &settings.tls_listen {
        Some(t) => Some((reserve(t.addr)?, crate::tls::listener(t)?)),
        None => None,
    };
    let tls_addr = tls.as_ref().map(|(addr, _)| *addr);
    let id = settings
        .id
        .clone()
        .unwrap_or_else(|| mesh_controller::host::instance_id("router", listen.port()));

    let (stop_tx, stop_rx) = watch::channel(None::<StopMode>);
    let (done_tx, done_rx) = oneshot::channel();
    let access_log = match &settings.access_log {
        Some(target) => Some(Arc::new(AccessLog::start(
            target,
            routes.metrics().access_log_dropped.clone(),
        )?)),
        None => None,
    };
    let proxy = MeshProxy::new(routes.clone(), &settings, access_log.clone());
    let routes_for_proxy = routes.clone();
    let default_backoff = settings.default_retry_backoff;
    let conf = server_conf(&settings);
    let thread = std::thread::Builder::new()
        .name("mesh-router-proxy".to_owned())
        .spawn(move || {
            let mut server = Server::new_with_opt_and_conf(None, conf);
            // pingora's proxy serves TLS, HTTP/2 and whatever the fast path
            // (crate::h1) leaves to it; the fast path gets every connection
            // first.
            let mut proxy = pingora::proxy::http_proxy(&server.configuration, proxy);
            // HTTP/2 with prior knowledge on the plain listener too.
            let mut options = pingora::apps::HttpServerOptions::default();
            options.h2c = true;
            proxy.server_options = Some(options);
            let app = FastApp::new(routes_for_proxy, proxy, default_backoff, access_log);
            let mut service = Service::new("mesh-router proxy".to_owned(), app);
            // pingora gives every connection a 64 KiB read buffer by
            // default: ~100 KB per idle keep-alive connection. Requests are
            // read into the fast path's or pingora's own buffers anyway, so
            // the plain listener reads unbuffered; TLS reads one record
            // (16 KiB) at a time.
            service.add_listener(
                ListenerConfig::tcp(listen.to_string())
                    .l4_buffer(L4BufferSettings::new(0, L4_WRITE_BUFFER)),
            );
            if let Some((addr, tls)) = tls {
                service.add_listener(
                    ListenerConfig::tcp(addr.to_string())
                        .tls(tls)
                        .l4_buffer(L4BufferSettings::new(TLS_READ_BUFFER, L4_WRITE_BUFFER)),
                );
            }
            server.add_service(service);
            server.run(RunArgs {
                shutdown_signal: Box::new(Stop { rx: stop_rx }),
            });
            let _ = done_tx.send(());
        })
        .map_err(|e| AppError::Proxy(e.to_string()))?;

    for addr in std::iter::once(listen).chain(tls_addr) {
        if let Err(e) = wait_accepting(addr, &thread).await {
            let _ = stop_tx.send(Some(StopMode::Fast));
            return Err(e);
        }
    }

    let (admin_stop_tx, admin_stop_rx) = watch::channel(false);
    let admin_task = tokio::spawn(admin::serve(admin_listener, routes.clone(), async move {
        let mut rx = admin_stop_rx;
        let _ = rx.wait_for(|s| *s).await;
    }));
    tracing::info!(%listen, tls = ?tls_addr, admin = %admin_addr, %id, "router listening");

    // Follow the controllers; until one answers, serve the table saved in
    // the state dir, if any.
    let mut sync_settings = SyncSettings::new(settings.controllers.clone(), id.clone());
    sync_settings.state_dir = settings.state_dir.clone();
    if routes.serving().is_none() {
        sync::serve_saved(&sync_settings, routes.as_ref());
    }
    let (sync_stop_tx, sync_stop_rx) = watch::channel(false);
    let sync_task = (!settings.controllers.is_empty()).then(|| {
        let sink: Arc<dyn TableSink> = routes.clone();
        tokio::spawn(sync::follow(sync_settings, sink, async move {
            let mut rx = sync_stop_rx;
            let _ = rx.wait_for(|s| *s).await;
        }))
    });

    let task = tokio::spawn(async move {
        let mode: StopMode = shutdown.await.into();
        tracing::info!("router stopping");
        let _ = sync_stop_tx.send(true);
        if let Some(task) = sync_task {
            let _ = task.await;
        }
        let _ = stop_tx.send(Some(mode));
        let _ = admin_stop_tx.send(true);
        // The proxy thread ends after its grace period and drain timeout.
        let proxy_done = done_rx.await;
        let admin_done = admin_task.await;
        if proxy_done.is_err() {
            return Err(AppError::Proxy("the proxy thread panicked".to_owned()));
        }
        match admin_done {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(AppError::Admin(e)),
            Err(e) => Err(AppError::Proxy(e.to_string())),
        }
    });
    Ok(Handle {
        listen,
        tls: tls_addr,
        admin: admin_addr,
        id,
        routes,
        task,
    })
}

/// pingora's configuration from the settings.
fn server_conf(settings: &Settings) -> ServerConf {
    ServerConf {
        threads: settings.threads.max(1),
        work_stealing: settings.work_stealing,
        grace_period_seconds: Some(settings.grace_period.as_secs()),
        graceful_shutdown_timeout_seconds: Some(settings.graceful_shutdown_timeout.as_secs()),
        max_retries: MAX_ATTEMPTS,
        ..ServerConf::default()
    }
}

/// Checks that `addr` is free and resolves port 0 to a free port. The port
/// is released again for pingora to bind (a race with another process is
/// possible but short).
fn reserve(addr: SocketAddr) -> Result<SocketAddr, AppError> {
    let err = |source| AppError::Listen { addr, source };
    let listener = std::net::TcpListener::bind(addr).map_err(err)?;
    listener.local_addr().map_err(err)
}

/// Waits until something accepts connections on `addr`, or the proxy thread
/// ends, or [`START_TIMEOUT`].
async fn wait_accepting(
    addr: SocketAddr,
    thread: &std::thread::JoinHandle<()>,
) -> Result<(), AppError> {
    let started = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return Ok(());
        }
        if thread.is_finished() {
            return Err(AppError::Proxy(
                "the proxy thread ended at start".to_owned(),
            ));
        }
        if started.elapsed() > START_TIMEOUT {
            return Err(AppError::NotStarted {
                addr,
                after: START_TIMEOUT,
            });
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// How the router stops when its `shutdown` future resolves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopMode {
    /// Drain (SIGTERM): keep accepting for the grace period, then stop
    /// accepting and let in-flight requests finish within the graceful
    /// shutdown timeout.
    Graceful,
    /// Stop at once (SIGINT).
    Fast,
}

/// A shutdown future that resolves to `()` drains.
impl From<()> for StopMode {
    fn from(_: ()) -> StopMode {
        StopMode::Graceful
    }
}

/// pingora's shutdown signal, fed by [`run`]'s `shutdown` future.
struct Stop {
    rx: watch::Receiver<Option<StopMode>>,
}

#[async_trait]
impl ShutdownSignalWatch for Stop {
    async fn recv(&self) -> ShutdownSignal {
        let mut rx = self.rx.clone();
        let mode = match rx.wait_for(Option::is_some).await {
            Ok(mode) => *mode,
            Err(_) => Some(StopMode::Fast),
        };
        if mode == Some(StopMode::Fast) {
            ShutdownSignal::FastShutdown
        } else {
            ShutdownSignal::GracefulTerminate
        }
    }
}
