//! What a router needs to run: listeners, controllers, state, threads and
//! shutdown timing. Built by the binary from flags and environment, or by
//! tests directly; libraries never read the environment themselves.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Everything [`crate::app::run`] needs; [`Settings::new`] gives the
/// defaults of DESIGN.md.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The plain HTTP listener. Port 0 picks a free port (the handle tells
    /// which).
    pub listen: SocketAddr,
    /// The admin listener (`/metrics`, `/live`, `/ready`, `/table`); port 0
    /// picks a free port.
    pub admin: SocketAddr,
    /// The TLS listener (HTTP/1.1 and HTTP/2 by ALPN); off when `None`.
    pub tls_listen: Option<TlsSettings>,
    /// Controller URLs (`http://host:port`), followed by the sync module.
    pub controllers: Vec<String>,
    /// Where the last good table is kept across restarts.
    pub state_dir: Option<PathBuf>,
    /// This router's id in reports; default `<hostname>:<listen port>`.
    pub id: Option<String>,
    /// Worker threads of the proxy.
    pub threads: usize,
    /// Whether pingora's worker threads share one work-stealing runtime
    /// (tokio multi-thread). Off: each worker thread runs its own
    /// current-thread runtime and keeps the connections it was given (less
    /// scheduling work per request; with one thread nothing is lost).
    /// pingora 0.9 finds a worker's runtime through a thread-local keyed by
    /// recycled thread ids, so a second proxy started later in the same
    /// process can be handed the first one's stopped runtime: turn this off
    /// only in a process that runs one router (the binary does, with
    /// `--threads 1`).
    pub work_stealing: bool,
    /// Drain on a graceful stop (SIGTERM): the listeners close at once and
    /// requests in flight get this long to finish; pingora waits it out in
    /// full and counts whole seconds. Zero: in-flight requests are cut.
    pub grace_period: Duration,
    /// After the grace period, how long pingora's runtimes get to exit.
    pub graceful_shutdown_timeout: Duration,
    /// Backoff between retry attempts when a rule's retry policy sets none.
    pub default_retry_backoff: Duration,
    /// Most mirrored requests in flight at once; more are dropped.
    pub max_mirrors_in_flight: usize,
    /// Where the access log goes (one JSON line per request); off when
    /// `None`.
    pub access_log: Option<crate::access_log::Target>,
}

impl Settings {
    /// The defaults: listen on 127.0.0.1:8080, admin on 127.0.0.1:9901,
    /// controller at 127.0.0.1:7300, two worker threads, five seconds of
    /// grace to drain on SIGTERM.
    pub fn new() -> Settings {
        Settings {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            admin: SocketAddr::from(([127, 0, 0, 1], 9901)),
            tls_listen: None,
            controllers: vec!["http://127.0.0.1:7300".to_owned()],
            state_dir: None,
            id: None,
            threads: 2,
            work_stealing: true,
            grace_period: Duration::from_secs(5),
            graceful_shutdown_timeout: Duration::from_secs(1),
            default_retry_backoff: Duration::from_millis(25),
            max_mirrors_in_flight: 256,
            access_log: None,
        }
    }

    /// Settings for tests: every listener on 127.0.0.1 port 0, no
    /// controllers, no grace period.
    pub fn local() -> Settings {
        Settings {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            admin: SocketAddr::from(([127, 0, 0, 1], 0)),
            controllers: Vec::new(),
            grace_period: Duration::ZERO,
            graceful_shutdown_timeout: Duration::from_secs(1),
            ..Settings::new()
        }
    }
}

/// The TLS listener: its address and the PEM files of its certificate
/// chain and private key (read once at start).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// Port 0 picks a free port (the handle tells which).
    pub addr: SocketAddr,
    /// The certificate chain, leaf first (PEM).
    pub cert_path: PathBuf,
    /// The private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key_path: PathBuf,
}

impl Default for Settings {
    fn default() -> Self {
        Settings::new()
    }
}
