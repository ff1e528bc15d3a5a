//! One sync session's parts: the mirrored key range, the consistent read at
//! one revision, and following the watch from the next revision.
//!
//! The mirrored folders (`endpoints/`, `health/`, `routes/`, `services/`)
//! sort together and before `status/`, so one key range covers all of them
//! and none of the status keys: the controller's own status writes never
//! reach the watch, and the read skips them too.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use etcd_client::{EventType, WatchResponse};
use mesh_config::keys::{KeyRef, Keys};
use mesh_config::Kind;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::SyncError;
use crate::mirror::{Change, StoredValue, SyncEvent};
use crate::store::{prefix_range_end, KeyValue, Store};

/// The key range `[start, end)` that holds every mirrored key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MirroredRange {
    pub(crate) start: Vec<u8>,
    pub(crate) end: Vec<u8>,
}

impl MirroredRange {
    pub(crate) fn of(keys: &Keys) -> MirroredRange {
        let folders = [
            keys.kind_prefix(Kind::Endpoint),
            keys.health_prefix(),
            keys.kind_prefix(Kind::Route),
            keys.kind_prefix(Kind::Service),
        ];
        let first = folders.iter().min().cloned().unwrap_or_default();
        let last = folders.iter().max().cloned().unwrap_or_default();
        MirroredRange {
            start: first.into_bytes(),
            end: prefix_range_end(last.as_bytes()),
        }
    }

    /// Whether `key` lies in the range.
    #[cfg(test)]
    pub(crate) fn contains(&self, key: &[u8]) -> bool {
        key >= self.start.as_slice() && key < self.end.as_slice()
    }
}

/// Whether the controller mirrors `key`: a resource or a health key.
pub(crate) fn is_mirrored(keys: &Keys, key: &str) -> bool {
    matches!(
        keys.parse(key),
        Some(KeyRef::Resource(_) | KeyRef::Health { .. })
    )
}

fn stored(value: &[u8], create_revision: i64, mod_revision: i64, lease: i64) -> StoredValue {
    StoredValue {
        value: Arc::from(value),
        create_revision,
        mod_revision,
        lease,
    }
}

/// Reads every mirrored key at the current revision R (all pages at R).
pub(crate) async fn read_all(
    store: &Store,
    keys: &Keys,
) -> Result<(i64, BTreeMap<String, StoredValue>), SyncError> {
    let range = MirroredRange::of(keys);
    let (revision, kvs) = store.list_range(range.start, range.end, 0).await?;
    let kvs = kvs
        .into_iter()
        .filter(|kv| is_mirrored(keys, &kv.key))
        .map(|kv: KeyValue| {
            let value = stored(&kv.value, kv.create_revision, kv.mod_revision, kv.lease);
            (kv.key, value)
        })
        .collect();
    Ok((revision, kvs))
}

/// How following the watch ended.
#[derive(Debug)]
pub(crate) enum WatchEnd {
    /// etcd compacted past the revision the watch needed; re-read.
    Compacted { compact_revision: i64 },
    /// The watch broke (etcd gone, stream closed, no answer); reconnect.
    Lost(SyncError),
    /// The receiver of the events is gone; stop.
    ConsumerGone,
}

/// Watches the mirrored range from revision `from` (inclusive) and sends a
/// [`SyncEvent::Changes`] for every response that changes a mirrored key,
/// until something ends it. After `liveness` without any response it asks
/// etcd for a progress notification, and gives up (`Lost`) if that gets no
/// answer within `liveness` either.
pub(crate) async fn follow(
    store: &Store,
    keys: &Keys,
    from: i64,
    events: &mpsc::Sender<SyncEvent>,
    liveness: Duration,
) -> WatchEnd {
    let range = MirroredRange::of(keys);
    let stream = match store.watch_range(range.start, range.end, from).await {
        Ok(stream) => stream,
        Err(e) if e.is_compacted() => {
            return WatchEnd::Compacted {
                compact_revision: 0,
            }
        }
        Err(e) => return WatchEnd::Lost(e.into()),
    };
    let (mut requests, mut responses) = stream.split();
    let mut last_heard = Instant::now();
    let mut probe_sent: Option<Instant> = None;
    loop {
        let deadline = probe_sent.unwrap_or(last_heard) + liveness;
        let message = tokio::select! {
            message = responses.message() => message,
            () = tokio::time::sleep_until(deadline) => {
                if probe_sent.is_some() {
                    return WatchEnd::Lost(SyncError::Silent(liveness * 2));
                }
                if let Err(e) = requests.request_progress().await {
                    return WatchEnd::Lost(store.error(e).into());
                }
                probe_sent = Some(Instant::now());
                continue;
            }
        };
        let response = match message {
            Ok(Some(response)) => response,
            Ok(None) => return WatchEnd::Lost(SyncError::WatchClosed),
            Err(e) => return WatchEnd::Lost(store.error(e).into()),
        };
        probe_sent = None;
        if response.compact_revision() > 0 {
            return WatchEnd::Compacted {
                compact_revision: response.compact_revision(),
            };
        }
        if response.canceled() {
            return WatchEnd::Lost(SyncError::WatchCanceled(
                response.cancel_reason().to_owned(),
            ));
        }
        if let Some(event) = changes_of(keys, &response) {
            if events.send(event).await.is_err() {
                return WatchEnd::ConsumerGone;
            }
        }
        last_heard = Instant::now();
    }
}

/// The mirrored changes of one watch response, or `None` if it has none.
///
/// The revision is that of the response's last event rather than the
/// header's: when etcd sends a watcher that fell behind its backlog in
/// batches, every batch carries the store's current revision in the header
/// (etcd 3.4 `syncWatchers`), which would overstate the first batches and
/// make the later ones look old.
fn changes_of(keys: &Keys, response: &WatchResponse) -> Option<SyncEvent> {
    let mut revision = 0;
    let mut changes = Vec::new();
    for event in response.events() {
        let Some(kv) = event.kv() else { continue };
        revision = revision.max(kv.mod_revision());
        let key = String::from_utf8_lossy(kv.key()).into_owned();
        if !is_mirrored(keys, &key) {
            continue;
        }
        changes.push(match event.event_type() {
            EventType::Put => Change::Put {
                key,
                value: stored(
                    kv.value(),
                    kv.create_revision(),
                    kv.mod_revision(),
                    kv.lease(),
                ),
            },
            EventType::Delete => Change::Delete { key },
        });
    }
    if changes.is_empty() {
        return None;
    }
    if revision == 0 {
        revision = response.header().map_or(0, |h| h.revision());
    }
    Some(SyncEvent::Changes { revision, changes })
}
