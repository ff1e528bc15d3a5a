//! Following the controllers: subscribe to one of `--controllers`, apply
//! each table it pushes (checked before it is served), report what was done,
//! fail over to another controller when one goes away, and keep the last
//! good table on disk (`--state-dir`) to serve at the next start when no
//! controller answers.
//!
//! The router never goes back: a table is swapped in only when its content
//! differs from the one served and its revision is newer (a controller that
//! lags behind another after a failover is waited for, not followed back in
//! time). A table the router refuses is reported with the reason, and the
//! old one keeps serving.

use crate::routes::Routes;
use mesh_config::table::RouteTable;
use mesh_config::wire::{Outcome, Report, ToRouter};
use mesh_controller::client::{report, Subscription, TableFollower};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;

/// Where tables are served from: the router's live route state.
pub trait TableSink: Send + Sync + 'static {
    /// The revision and content hash served now, if any.
    fn serving(&self) -> Option<(i64, u64)>;
    /// Checks `table` and swaps it in, or says why not (the old one stays).
    fn swap(&self, table: RouteTable) -> Result<(), String>;
    /// Whether the table served came from disk, not from a controller.
    fn set_stale(&self, stale: bool);
}

impl TableSink for Routes {
    fn serving(&self) -> Option<(i64, u64)> {
        Routes::serving(self).map(|s| (s.revision, s.hash))
    }

    fn swap(&self, table: RouteTable) -> Result<(), String> {
        Routes::swap(self, table)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn set_stale(&self, stale: bool) {
        self.metrics().table_stale.set(i64::from(stale));
    }
}

/// How to follow the controllers.
#[derive(Debug, Clone)]
pub struct SyncSettings {
    /// Controller URLs (`http://host:port`), tried in turn.
    pub controllers: Vec<String>,
    /// This router's id in reports.
    pub router_id: String,
    /// Where the last good table is saved; none: not saved.
    pub state_dir: Option<PathBuf>,
    /// A controller silent for this long is taken for dead (it heartbeats
    /// every few seconds).
    pub silence_timeout: Duration,
    pub connect_timeout: Duration,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
}

impl SyncSettings {
    pub fn new(controllers: Vec<String>, router_id: String) -> SyncSettings {
        SyncSettings {
            controllers,
            router_id,
            state_dir: None,
            silence_timeout: Duration::from_secs(15),
            connect_timeout: Duration::from_secs(2),
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(5),
        }
    }
}

/// What can go wrong with the state directory.
#[derive(Debug, Error)]
pub enum StateError {
    #[error("state dir {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("state file {path} is not a valid table: {reason}")]
    Invalid { path: String, reason: String },
}

/// The file the last good table is kept in.
pub fn state_file(dir: &Path) -> PathBuf {
    dir.join("table.json")
}

/// Loads the table saved in `dir`, if there is one.
pub fn load_state(dir: &Path) -> Result<Option<RouteTable>, StateError> {
    let path = state_file(dir);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(StateError::Io {
                path: path.display().to_string(),
                source,
            })
        }
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| StateError::Invalid {
            path: path.display().to_string(),
            reason: e.to_string(),
        })
}

/// Saves `table` in `dir` atomically (write a temporary file, then rename).
pub fn save_state(dir: &Path, table: &RouteTable) -> Result<(), StateError> {
    let io = |source| StateError::Io {
        path: dir.display().to_string(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let tmp = dir.join("table.json.tmp");
    let bytes = serde_json::to_vec(table).map_err(|e| StateError::Invalid {
        path: tmp.display().to_string(),
        reason: e.to_string(),
    })?;
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, state_file(dir)).map_err(io)
}

/// Serves the table saved in the state dir, if any (marked stale until a
/// controller answers). Returns whether one was loaded.
pub fn serve_saved(settings: &SyncSettings, sink: &dyn TableSink) -> bool {
    let Some(dir) = &settings.state_dir else {
        return false;
    };
    match load_state(dir) {
        Ok(Some(table)) => {
            let revision = table.revision;
            match sink.swap(table) {
                Ok(()) => {
                    sink.set_stale(true);
                    tracing::info!(
                        revision,
                        "serving the table saved in the state dir until a controller answers"
                    );
                    true
                }
                Err(reason) => {
                    tracing::warn!(revision, %reason, "the saved table was refused");
                    false
                }
            }
        }
        Ok(None) => false,
        Err(e) => {
            tracing::warn!("{e}");
            false
        }
    }
}

/// The shortest time between two saves of the state dir: a burst of
/// updates is saved as its latest table, not table by table (a 100,000-route
/// table is tens of megabytes of JSON).
pub const SAVE_INTERVAL: Duration = Duration::from_millis(200);

/// Saves tables to the state dir off the request path: the latest one sent
/// wins, one save at a time, at most one per [`SAVE_INTERVAL`]. A table
/// swapped in is on disk within about `SAVE_INTERVAL` plus the time one save
/// takes; a router that crashes before that restarts with the table before.
#[derive(Clone)]
struct Saver(tokio::sync::watch::Sender<Option<RouteTable>>);

impl Saver {
    fn spawn(dir: PathBuf) -> Saver {
        let (tx, mut rx) = tokio::sync::watch::channel::<Option<RouteTable>>(None);
        tokio::spawn(async move {
            while rx.changed().await.is_ok() {
                let Some(table) = rx.borrow_and_update().clone() else {
                    continue;
                };
                let dir = dir.clone();
                let saved = tokio::task::spawn_blocking(move || save_state(&dir, &table)).await;
                match saved {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => tracing::warn!("cannot save the table: {e}"),
                    Err(e) => tracing::warn!("saving the table failed: {e}"),
                }
                tokio::time::sleep(SAVE_INTERVAL).await;
            }
        });
        Saver(tx)
    }

    fn save(&self, table: RouteTable) {
        self.0.send_replace(Some(table));
    }
}

/// Follows the controllers until `shutdown` resolves.
pub async fn follow(
    settings: SyncSettings,
    sink: Arc<dyn TableSink>,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let saver = settings.state_dir.clone().map(Saver::spawn);
    if settings.controllers.is_empty() {
        tracing::error!("no controller to follow");
        shutdown.await;
        return;
    }
    let mut next = fastrand::usize(..settings.controllers.len());
    let mut delay = settings.backoff_min;
    loop {
        let controller = &settings.controllers[next % settings.controllers.len()];
        next += 1;
        let outcome = tokio::select! {
            _ = &mut shutdown => return,
            outcome = follow_one(&settings, controller, &sink, saver.as_ref()) => outcome,
        };
        match outcome {
            Ok(()) => {
                tracing::info!(%controller, "controller closed the stream");
                delay = settings.backoff_min;
            }
            Err(e) if e.served => {
                tracing::warn!(%controller, "lost the controller: {}", e.reason);
                delay = settings.backoff_min;
            }
            Err(e) => tracing::warn!(%controller, "cannot follow: {}", e.reason),
        }
        // Jittered backoff before the next controller: half to all of it.
        let wait = delay.mul_f64(0.5 + fastrand::f64() / 2.0);
        delay = (delay * 2).min(settings.backoff_max);
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// Why following one controller ended; `served` when it had sent a table.
struct Ended {
    reason: String,
    served: bool,
}

/// Builds and swaps in a table off the async threads (it costs CPU in
/// proportion to the table).
async fn swap_blocking(sink: &Arc<dyn TableSink>, table: RouteTable) -> Result<(), String> {
    let sink = sink.clone();
    tokio::task::spawn_blocking(move || sink.swap(table))
        .await
        .unwrap_or_else(|e| Err(format!("building the table failed: {e}")))
}

/// Follows one controller until its stream ends or fails.
async fn follow_one(
    settings: &SyncSettings,
    controller: &str,
    sink: &Arc<dyn TableSink>,
    saver: Option<&Saver>,
) -> Result<(), Ended> {
    let mut sub = Subscription::connect(controller, &settings.router_id, settings.connect_timeout)
        .await
        .map_err(|e| Ended {
            reason: e.to_string(),
            served: false,
        })?;
    let mut follower = TableFollower::new();
    let mut served = false;
    let end = |reason: String, served: bool| Ended { reason, served };
    loop {
        let msg = match tokio::time::timeout(settings.silence_timeout, sub.next()).await {
            Err(_) => {
                return Err(end(
                    format!("silent for {:?}", settings.silence_timeout),
                    served,
                ))
            }
            Ok(Err(e)) => return Err(end(e.to_string(), served)),
            Ok(Ok(None)) => return Ok(()),
            Ok(Ok(Some(msg))) => msg,
        };
        let offered = msg.revision();
        let is_table = !matches!(msg, ToRouter::Heartbeat { .. });
        let table = match follower.apply(msg) {
            Ok(Some(table)) if is_table => table.clone(),
            Ok(_) => continue,
            Err(e) => return Err(end(format!("protocol: {e}"), served)),
        };
        served = true;
        sink.set_stale(false);
        let hash = table.hash();
        let outcome = match sink.serving() {
            Some((_, h)) if h == hash => Outcome::Applied,
            Some((rev, _)) if rev > table.revision => {
                tracing::info!(
                    offered,
                    serving = rev,
                    "controller is behind; keeping the newer table"
                );
                Outcome::Applied
            }
            _ => match swap_blocking(sink, table.clone()).await {
                Ok(()) => {
                    tracing::debug!(revision = table.revision, "swapped in a new table");
                    if let Some(saver) = saver {
                        saver.save(table.clone());
                    }
                    Outcome::Applied
                }
                Err(reason) => {
                    tracing::warn!(offered, %reason, "refused a table");
                    Outcome::Rejected { reason }
                }
            },
        };
        let (revision, table_hash) = sink.serving().unwrap_or((0, 0));
        let msg = Report {
            router: settings.router_id.clone(),
            revision,
            table_hash,
            offered_revision: offered,
            outcome,
        };
        let url = controller.to_owned();
        let timeout = settings.connect_timeout;
        tokio::spawn(async move {
            if let Err(e) = report(&url, &msg, timeout).await {
                tracing::debug!("report to {url} failed: {e}");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trip_and_errors() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert!(load_state(dir.path()).expect("empty dir").is_none());
        let table = RouteTable {
            revision: 42,
            ..RouteTable::default()
        };
        save_state(dir.path(), &table).expect("saves");
        assert_eq!(load_state(dir.path()).expect("loads"), Some(table));
        std::fs::write(state_file(dir.path()), b"{broken").expect("writes");
        assert!(matches!(
            load_state(dir.path()),
            Err(StateError::Invalid { .. })
        ));
    }
}
