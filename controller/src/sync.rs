//! etcd → controller: the mirrored keys at one revision, then every change.
//!
//! [`run_sync`] reads every resource and health key at the current revision
//! R (in pages, all at R) and sends it as one [`SyncEvent::Reset`]; then it
//! watches from R+1 and sends a [`SyncEvent::Changes`] for each watch
//! response that touches a mirrored key. So no change is missed or seen
//! twice. Status keys (`<prefix>/status/`) are outside the watched range:
//! the controllers' own writes never come back as events. A `Changes`
//! carries the revision of the response's last event (the same as the
//! response header's revision, except in the catch-up batches etcd sends a
//! watcher that fell behind, whose headers may run ahead of their events:
//! see the `sync::watch` module).
//!
//! What can go wrong, and what happens then:
//!
//! | event | reaction |
//! | --- | --- |
//! | etcd unreachable at start | `connected` stays false; retry with jittered exponential backoff |
//! | watch stream fails or closes, or etcd stays silent (no answer to a progress request within the request timeout) | `connected` false, `etcd_connected` 0, warn; back off, then read everything again at the current revision → `Reset` |
//! | the watch needs a compacted revision | read everything again at the current revision → `Reset` (stays connected) |
//!
//! Every `Reset` counts in `etcd_resyncs` (the first one too) and sets
//! `connected` true. The consumer replaces its state with a `Reset`, so
//! changes made while the watch was down are not lost.

mod backoff;
mod watch;

#[cfg(test)]
mod tests;

use std::future::Future;
use std::time::Duration;

use mesh_config::keys::Keys;
use tokio::sync::{mpsc, watch as tokio_watch};
use tokio::time::Instant;

pub use backoff::Backoff;
pub(crate) use watch::{follow, read_all, WatchEnd};

use crate::metrics::Metrics;
use crate::mirror::SyncEvent;
use crate::store::{Store, StoreError, StoreSettings};

/// Two compactions closer than this: back off before reading again.
const COMPACTION_CALM: Duration = Duration::from_secs(1);
/// Failed sessions in a row after which the etcd client is replaced.
const FRESH_CLIENT_AFTER: u32 = 3;

/// Why a sync session ended (logged; the sync then reconnects).
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("etcd closed the watch stream")]
    WatchClosed,
    #[error("etcd canceled the watch: {0}")]
    WatchCanceled(String),
    #[error("no answer from etcd on the watch stream for {:.1}s", .0.as_secs_f64())]
    Silent(Duration),
}

/// Where etcd is, the key layout, and how to retry.
#[derive(Debug, Clone)]
pub struct SyncSettings {
    pub store: StoreSettings,
    pub keys: Keys,
    /// Shortest wait before reconnecting.
    pub backoff_min: Duration,
    /// Longest wait before reconnecting.
    pub backoff_max: Duration,
}

impl SyncSettings {
    /// `store` and `keys`, retrying between 100 ms and 5 s.
    pub fn new(store: StoreSettings, keys: Keys) -> SyncSettings {
        SyncSettings {
            store,
            keys,
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(5),
        }
    }
}

/// Runs until `shutdown` resolves (or the receiver of `events` is dropped).
/// See the module docs.
pub async fn run_sync(
    settings: SyncSettings,
    events: mpsc::Sender<SyncEvent>,
    connected: tokio_watch::Sender<bool>,
    metrics: Metrics,
    shutdown: impl Future<Output = ()>,
) {
    let mut sync = Syncer {
        backoff: Backoff::new(settings.backoff_min, settings.backoff_max),
        settings,
        events,
        connected,
        metrics,
        was_up: None,
    };
    tokio::select! {
        () = shutdown => tracing::info!("etcd sync stopped"),
        () = sync.run() => {}
    }
    sync.set_connected(false);
}

struct Syncer {
    settings: SyncSettings,
    events: mpsc::Sender<SyncEvent>,
    connected: tokio_watch::Sender<bool>,
    metrics: Metrics,
    backoff: Backoff,
    /// Whether the last session got as far as a `Reset` (None: no attempt yet).
    was_up: Option<bool>,
}

impl Syncer {
    async fn run(&mut self) {
        let mut store: Option<Store> = None;
        let mut failures = 0u32;
        let mut last_compaction: Option<Instant> = None;
        loop {
            let current = match &store {
                Some(s) => s.clone(),
                None => match Store::connect(self.settings.store.clone()).await {
                    Ok(s) => {
                        store = Some(s.clone());
                        s
                    }
                    Err(e) => {
                        self.lost(&e.into());
                        tokio::time::sleep(self.backoff.next_delay()).await;
                        continue;
                    }
                },
            };
            match self.session(&current).await {
                WatchEnd::ConsumerGone => {
                    tracing::info!("the receiver of etcd sync events is gone; sync stops");
                    return;
                }
                WatchEnd::Compacted { compact_revision } => {
                    failures = 0;
                    tracing::info!(
                        compact_revision,
                        "the etcd watch fell behind a compaction; reading everything again"
                    );
                    // Re-read at once, unless compactions come faster than
                    // the re-reads: then back off.
                    let now = Instant::now();
                    if last_compaction.is_some_and(|t| now - t < COMPACTION_CALM) {
                        tokio::time::sleep(self.backoff.next_delay()).await;
                    }
                    last_compaction = Some(now);
                }
                WatchEnd::Lost(e) => {
                    self.lost(&e);
                    failures += 1;
                    if failures >= FRESH_CLIENT_AFTER {
                        // The client reconnects by itself; after a few
                        // failures in a row, start from a fresh one anyway.
                        store = None;
                        failures = 0;
                    }
                    tokio::time::sleep(self.backoff.next_delay()).await;
                }
            }
        }
    }

    /// Reads everything, sends the `Reset`, then follows the watch.
    async fn session(&mut self, store: &Store) -> WatchEnd {
        let keys = &self.settings.keys;
        let (revision, kvs) = match read_all(store, keys).await {
            Ok(read) => read,
            Err(SyncError::Store(e)) if e.is_compacted() => {
                return WatchEnd::Compacted {
                    compact_revision: 0,
                }
            }
            Err(e) => return WatchEnd::Lost(e),
        };
        let count = kvs.len();
        if self
            .events
            .send(SyncEvent::Reset { revision, kvs })
            .await
            .is_err()
        {
            return WatchEnd::ConsumerGone;
        }
        self.metrics.etcd_resyncs.inc();
        self.backoff.reset();
        if self.was_up == Some(true) {
            tracing::info!(revision, keys = count, "etcd state read again");
        } else {
            tracing::info!(revision, keys = count, endpoints = %store.endpoints(), "etcd connected; state read");
        }
        self.was_up = Some(true);
        self.set_connected(true);
        let liveness = self.settings.store.request_timeout;
        follow(store, keys, revision + 1, &self.events, liveness).await
    }

    fn lost(&mut self, error: &SyncError) {
        match self.was_up {
            Some(true) => tracing::warn!(%error, "etcd connection lost; reconnecting"),
            None => tracing::warn!(%error, "etcd unreachable; retrying"),
            Some(false) => tracing::debug!(%error, "etcd still unreachable"),
        }
        self.was_up = Some(false);
        self.set_connected(false);
    }

    fn set_connected(&self, up: bool) {
        self.metrics.etcd_connected.set(i64::from(up));
        self.connected.send_if_modified(|now| {
            let changed = *now != up;
            *now = up;
            changed
        });
    }
}
