//! The status writer's background task: connect, keep the lease, read back
//! what is written, write the difference; retry with backoff on failure.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use mesh_config::keys::{Keys, ResourceId};
use tokio::sync::watch;
use tokio::time::Instant;

use super::diff::{diff_resources, diff_routers, read_resources, read_routers};
use super::{Desired, Resources, Routers, Shared, StatusWriterError};
use crate::store::{KeepAlive, Store, StoreSettings, WriteOp, MAX_TXN_OPS};
use crate::sync::Backoff;

/// Retry delays after a failed round of writes.
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// Failed rounds in a row after which the etcd client is replaced.
const FRESH_CLIENT_AFTER: u32 = 3;
/// Most bytes of keys and values in one transaction (etcd refuses requests
/// over 1.5 MiB by default).
const MAX_TXN_BYTES: usize = 1024 * 1024;
/// Shortest lease refresh interval, whatever the TTL.
const MIN_KEEPALIVE: Duration = Duration::from_millis(300);

#[derive(Debug, Clone, Copy)]
struct Lease {
    id: i64,
    refresh_every: Duration,
}

pub(super) struct Task {
    settings: StoreSettings,
    keys: Keys,
    id: String,
    ttl_secs: i64,
    store: Option<Store>,
    lease: Option<Lease>,
    next_keepalive: Instant,
    /// Whether `written_*` were read back from etcd since the last failure.
    reconciled: bool,
    written_resources: BTreeMap<ResourceId, Vec<u8>>,
    /// The desired resources last written in full (`written_resources`
    /// holds exactly them).
    flushed_resources: Option<Arc<Resources>>,
    written_routers: BTreeMap<String, Vec<u8>>,
    resources: watch::Receiver<Desired<Resources>>,
    routers: watch::Receiver<Desired<Routers>>,
    shared: Arc<Shared>,
    backoff: Backoff,
}

impl Task {
    pub(super) fn new(
        settings: StoreSettings,
        keys: Keys,
        id: String,
        lease_ttl: Duration,
        resources: watch::Receiver<Desired<Resources>>,
        routers: watch::Receiver<Desired<Routers>>,
        shared: Arc<Shared>,
    ) -> Task {
        let secs = lease_ttl.as_secs() + u64::from(lease_ttl.subsec_nanos() > 0);
        Task {
            settings,
            keys,
            id,
            ttl_secs: i64::try_from(secs.max(1)).unwrap_or(i64::MAX),
            store: None,
            lease: None,
            next_keepalive: Instant::now(),
            reconciled: false,
            written_resources: BTreeMap::new(),
            flushed_resources: None,
            written_routers: BTreeMap::new(),
            resources,
            routers,
            shared,
            backoff: Backoff::new(BACKOFF_MIN, BACKOFF_MAX),
        }
    }

    pub(super) async fn run(
        mut self,
        shutdown: impl Future<Output = ()>,
        mut stop: watch::Receiver<bool>,
    ) {
        tokio::pin!(shutdown);
        let mut failing = false;
        let mut failures = 0u32;
        loop {
            let outcome = tokio::select! {
                () = &mut shutdown => break,
                _ = stop.wait_for(|s| *s) => break,
                outcome = self.round() => outcome,
            };
            let retry_in = match outcome {
                Ok(()) => {
                    failures = 0;
                    if failing {
                        tracing::info!(controller = %self.id, "status writes resumed");
                    }
                    failing = false;
                    self.backoff.reset();
                    None
                }
                Err(e) => {
                    failures += 1;
                    if failures >= FRESH_CLIENT_AFTER {
                        // The client reconnects by itself; after a few
                        // failures in a row, start from a fresh one anyway.
                        self.store = None;
                        failures = 0;
                    }
                    if failing {
                        tracing::debug!(controller = %self.id, error = %e, "status writes still failing");
                    } else {
                        tracing::warn!(controller = %self.id, error = %e, "status writes failed; retrying");
                    }
                    failing = true;
                    self.reconciled = false;
                    Some(self.backoff.next_delay())
                }
            };
            self.shared.healthy.store(!failing, Ordering::SeqCst);
            let idle = retry_in.is_none();
            let retry_at = Instant::now() + retry_in.unwrap_or_default();
            tokio::select! {
                () = &mut shutdown => break,
                _ = stop.wait_for(|s| *s) => break,
                changed = self.resources.changed(), if idle => if changed.is_err() { break },
                changed = self.routers.changed(), if idle => if changed.is_err() { break },
                () = tokio::time::sleep_until(self.next_keepalive), if idle && self.lease.is_some() => {}
                () = tokio::time::sleep_until(retry_at), if !idle => {}
            }
        }
        self.finish().await;
    }

    /// Revokes the lease (bounded by the request timeout).
    async fn finish(self) {
        let (Some(store), Some(lease)) = (self.store, self.lease) else {
            return;
        };
        let limit = self.settings.request_timeout;
        match tokio::time::timeout(limit, store.revoke_lease(lease.id)).await {
            Ok(Ok(())) => {
                tracing::info!(controller = %self.id, lease = lease.id, "status lease revoked")
            }
            Ok(Err(e)) => {
                tracing::warn!(controller = %self.id, error = %e, "cannot revoke the status lease; it expires by itself")
            }
            Err(_) => {
                tracing::warn!(controller = %self.id, "no answer revoking the status lease; it expires by itself")
            }
        }
    }

    /// One round: connect, keep the lease, read back if needed, write the
    /// difference to the latest desired state.
    async fn round(&mut self) -> Result<(), StatusWriterError> {
        let store = match &self.store {
            Some(store) => store.clone(),
            None => {
                let store = Store::connect(self.settings.clone()).await?;
                self.store = Some(store.clone());
                store
            }
        };
        let lease = self.lease(&store).await?;
        if !self.reconciled {
            self.reconcile(&store, lease).await?;
        }
        let (r_gen, r_map) = {
            let d = self.resources.borrow_and_update();
            (d.generation, d.map.clone())
        };
        let (f_gen, f_map) = {
            let d = self.routers.borrow_and_update();
            (d.generation, d.map.clone())
        };
        // Routers first: a few small keys, not held up by a large diff.
        if let Some(desired) = f_map {
            self.write_routers(&store, &desired).await?;
        }
        if let Some(desired) = r_map {
            self.write_resources(&store, desired).await?;
        }
        self.shared
            .flushed
            .fetch_max(r_gen.max(f_gen), Ordering::SeqCst);
        Ok(())
    }

    /// The lease, refreshed if due; granted anew if there is none or etcd
    /// lost it (then every router key is to be written again).
    async fn lease(&mut self, store: &Store) -> Result<i64, StatusWriterError> {
        if let Some(lease) = self.lease {
            if Instant::now() < self.next_keepalive {
                return Ok(lease.id);
            }
            match store.keep_alive_once(lease.id).await? {
                KeepAlive::Alive => {
                    self.next_keepalive = Instant::now() + lease.refresh_every;
                    return Ok(lease.id);
                }
                KeepAlive::Lost => {
                    tracing::warn!(controller = %self.id, lease = lease.id, "status lease lost; granting a new one");
                    self.lease = None;
                    self.written_routers.clear();
                }
            }
        }
        let (id, granted) = store.grant_lease(self.ttl_secs).await?;
        let granted = Duration::from_secs(u64::try_from(granted).unwrap_or(1).max(1));
        let lease = Lease {
            id,
            refresh_every: (granted / 3).max(MIN_KEEPALIVE),
        };
        self.lease = Some(lease);
        self.next_keepalive = Instant::now() + lease.refresh_every;
        self.written_routers.clear();
        self.shared.lease_id.store(id, Ordering::SeqCst);
        self.shared.lease_grants.fetch_add(1, Ordering::SeqCst);
        tracing::info!(controller = %self.id, lease = id, ttl = ?granted, "status lease granted");
        Ok(id)
    }

    /// Reads back the status keys: what is there is what need not be written.
    async fn reconcile(&mut self, store: &Store, lease: i64) -> Result<(), StatusWriterError> {
        let (_, kvs) = store
            .list_prefix(&self.keys.resource_status_prefix())
            .await?;
        self.written_resources = read_resources(&self.keys, kvs);
        self.flushed_resources = None;
        let (_, kvs) = store.list_prefix(&self.keys.router_status_prefix()).await?;
        self.written_routers = read_routers(&self.keys, kvs, lease);
        self.reconciled = true;
        tracing::debug!(
            controller = %self.id,
            resources = self.written_resources.len(),
            routers = self.written_routers.len(),
            "status keys read back"
        );
        Ok(())
    }

    async fn write_resources(
        &mut self,
        store: &Store,
        desired: Arc<Resources>,
    ) -> Result<(), StatusWriterError> {
        if self
            .flushed_resources
            .as_ref()
            .is_some_and(|f| Arc::ptr_eq(f, &desired))
        {
            return Ok(());
        }
        let ops = diff_resources(
            &self.keys,
            &desired,
            self.flushed_resources.as_deref(),
            &self.written_resources,
        );
        // Until the batches are all through, `written` is not `desired`.
        self.flushed_resources = None;
        for batch in batches(&ops) {
            self.keep_lease_alive(store).await?;
            let writes: Vec<WriteOp> = batch.iter().map(|(_, op)| op.clone()).collect();
            store.write_atomic(&writes).await?;
            for (id, op) in batch {
                match op {
                    WriteOp::Put { value, .. } => {
                        self.written_resources.insert(id.clone(), value.clone());
                        self.shared.puts.fetch_add(1, Ordering::SeqCst);
                    }
                    WriteOp::Delete { .. } => {
                        self.written_resources.remove(id);
                        self.shared.deletes.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }
        }
        self.flushed_resources = Some(desired);
        Ok(())
    }

    async fn write_routers(
        &mut self,
        store: &Store,
        desired: &Routers,
    ) -> Result<(), StatusWriterError> {
        let Some(lease) = self.lease else {
            return Ok(());
        };
        let (puts, gone) = diff_routers(&self.keys, desired, &self.written_routers, lease.id);
        for batch in batches(&puts) {
            let writes: Vec<WriteOp> = batch.iter().map(|(_, op)| op.clone()).collect();
            store.write_atomic(&writes).await?;
            for (id, op) in batch {
                if let WriteOp::Put { value, .. } = op {
                    self.written_routers.insert(id.clone(), value.clone());
                    self.shared.puts.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
        for id in gone {
            let key = self.keys.router_status(&id);
            if store.delete_if_lease(&key, lease.id).await? {
                self.shared.deletes.fetch_add(1, Ordering::SeqCst);
            }
            self.written_routers.remove(&id);
        }
        Ok(())
    }

    /// Refreshes the lease between batches of a long write.
    async fn keep_lease_alive(&mut self, store: &Store) -> Result<(), StatusWriterError> {
        if self.lease.is_some() && Instant::now() >= self.next_keepalive {
            let before = self.lease.map(|l| l.id);
            let now = self.lease(store).await?;
            if before != Some(now) {
                // Router keys went with the old lease; the routers part of
                // this round writes them again.
                self.written_routers.clear();
            }
        }
        Ok(())
    }
}

/// Splits `ops` into transactions of at most [`MAX_TXN_OPS`] operations and
/// about [`MAX_TXN_BYTES`] (one operation larger than that goes alone).
fn batches<K>(ops: &[(K, WriteOp)]) -> Vec<&[(K, WriteOp)]> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, (_, op)) in ops.iter().enumerate() {
        let size = op.key().len()
            + match op {
                WriteOp::Put { value, .. } => value.len(),
                WriteOp::Delete { .. } => 0,
            };
        if i > start && (i - start == MAX_TXN_OPS || bytes + size > MAX_TXN_BYTES) {
            out.push(&ops[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += size;
    }
    if start < ops.len() {
        out.push(&ops[start..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(n: usize) -> ((), WriteOp) {
        let op = WriteOp::Put {
            key: "k".to_owned(),
            value: vec![b'x'; n],
            lease: 0,
        };
        ((), op)
    }

    #[test]
    fn batches_hold_at_most_128_ops_and_about_a_mebibyte() {
        let small: Vec<_> = (0..300).map(|_| put(10)).collect();
        let sizes: Vec<usize> = batches(&small).iter().map(|b| b.len()).collect();
        assert_eq!(sizes, [128, 128, 44]);
        let big: Vec<_> = (0..5).map(|_| put(400 * 1024)).collect();
        let sizes: Vec<usize> = batches(&big).iter().map(|b| b.len()).collect();
        assert_eq!(sizes, [2, 2, 1]);
        let huge = vec![put(2 * 1024 * 1024), put(1)];
        let sizes: Vec<usize> = batches(&huge).iter().map(|b| b.len()).collect();
        assert_eq!(sizes, [1, 1]);
        assert!(batches::<()>(&[]).is_empty());
    }
}
