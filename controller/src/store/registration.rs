//! A key kept alive on an etcd lease, e.g. an instance's endpoint.
//!
//! [`Registration::start`] grants a lease, puts the key on it and spawns a
//! task that sends keep-alives every third of the granted TTL. If the stream
//! breaks (etcd restarted, network trouble) the task reopens it; if the lease
//! is gone (it expired while etcd was unreachable, or someone revoked it) the
//! task grants a new lease and puts the key again. [`Registration::revoke`]
//! removes the key at once; dropping a `Registration` (or a crash) stops the
//! keep-alives, and etcd deletes the key when the TTL runs out.
//!
//! etcd may grant a longer TTL than asked for: its minimum is
//! `ceil(1.5 × election timeout)`, 2 s with default flags.
//! [`Registration::ttl`] reports what was granted.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use etcd_client::PutOptions;
use tokio::task::JoinHandle;

use super::{no_answer, Store, StoreError};

/// Shortest keep-alive interval, whatever the TTL.
const MIN_INTERVAL: Duration = Duration::from_millis(100);
/// Longest wait before retrying after a failure.
const MAX_RETRY: Duration = Duration::from_millis(500);
/// gRPC status code etcd uses for an unknown lease on revoke.
const GRPC_NOT_FOUND: i32 = 5;

/// A key that exists while its owner lives. See the module docs.
#[derive(Debug)]
pub struct Registration {
    store: Store,
    shared: Arc<Shared>,
    ttl: Duration,
    task: JoinHandle<()>,
}

#[derive(Debug)]
struct Shared {
    key: String,
    value: String,
    ttl_secs: i64,
    lease_id: AtomicI64,
    regrants: AtomicU64,
}

impl Registration {
    /// Grants a lease of `ttl` (whole seconds, rounded up, at least 1; etcd
    /// may raise it), puts `key` = `value` on it and starts the keep-alive
    /// task. Must be called inside a tokio runtime.
    pub async fn start(
        store: &Store,
        key: impl Into<String>,
        value: impl Into<String>,
        ttl: Duration,
    ) -> Result<Registration, StoreError> {
        let (key, value) = (key.into(), value.into());
        let ttl_secs = ttl_seconds(ttl);
        let (lease_id, granted) = grant_and_put(store, &key, &value, ttl_secs).await?;
        let shared = Arc::new(Shared {
            key,
            value,
            ttl_secs,
            lease_id: AtomicI64::new(lease_id),
            regrants: AtomicU64::new(0),
        });
        let granted = Duration::from_secs(u64::try_from(granted).unwrap_or(1).max(1));
        let interval = (granted / 3).max(MIN_INTERVAL);
        let task = tokio::spawn(keep_alive_loop(store.clone(), shared.clone(), interval));
        Ok(Registration {
            store: store.clone(),
            shared,
            ttl: granted,
            task,
        })
    }

    /// The registered key.
    pub fn key(&self) -> &str {
        &self.shared.key
    }

    /// The current lease id (changes when the lease had to be granted again).
    pub fn lease_id(&self) -> i64 {
        self.shared.lease_id.load(Ordering::SeqCst)
    }

    /// The TTL etcd granted.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// How many times the lease was lost and granted again.
    pub fn regrants(&self) -> u64 {
        self.shared.regrants.load(Ordering::SeqCst)
    }

    /// Whether the keep-alive task still runs.
    pub fn is_alive(&self) -> bool {
        !self.task.is_finished()
    }

    /// Stops the keep-alives and revokes the lease, so the key disappears now.
    pub async fn revoke(mut self) -> Result<(), StoreError> {
        self.task.abort();
        // Wait until the task is gone so it cannot grant a new lease after this.
        let _ = (&mut self.task).await;
        let id = self.lease_id();
        let mut lease = self.store.client().lease_client();
        match self
            .store
            .request(async move { lease.revoke(id).await })
            .await
        {
            Ok(_) => Ok(()),
            Err(StoreError::Etcd(etcd_client::Error::GRpcStatus(status)))
                if i32::from(status.code()) == GRPC_NOT_FOUND =>
            {
                // The lease expired already; so did the key.
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Stops the keep-alives without revoking: the key stays until its TTL
    /// runs out, as after a crash. Same as dropping the registration.
    pub fn abandon(self) {
        drop(self);
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Whole seconds for etcd, rounded up, at least 1.
fn ttl_seconds(ttl: Duration) -> i64 {
    let secs = ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0);
    i64::try_from(secs.max(1)).unwrap_or(i64::MAX)
}

/// Grants a lease and puts the key on it; returns the lease id and granted TTL.
async fn grant_and_put(
    store: &Store,
    key: &str,
    value: &str,
    ttl_secs: i64,
) -> Result<(i64, i64), StoreError> {
    let mut lease = store.client().lease_client();
    let granted = store
        .request(async move { lease.grant(ttl_secs, None).await })
        .await?;
    let (id, ttl) = (granted.id(), granted.ttl());
    let mut kv = store.client().kv_client();
    let (k, v) = (key.to_owned(), value.to_owned());
    let put = store
        .request(async move { kv.put(k, v, Some(PutOptions::new().with_lease(id))).await })
        .await;
    if let Err(e) = put {
        let mut lease = store.client().lease_client();
        // Best effort: an unused lease expires by itself anyway.
        let _ = store.request(async move { lease.revoke(id).await }).await;
        return Err(e);
    }
    Ok((id, ttl))
}

/// Why a keep-alive stream ended.
enum StreamEnd {
    /// etcd no longer knows the lease.
    LeaseLost,
    /// The stream failed; the lease may still be alive.
    Broken(StoreError),
}

async fn keep_alive_loop(store: Store, shared: Arc<Shared>, interval: Duration) {
    let retry = interval.min(MAX_RETRY);
    loop {
        let id = shared.lease_id.load(Ordering::SeqCst);
        match keep_alive_stream(&store, id, interval).await {
            StreamEnd::Broken(e) => {
                tracing::warn!(key = %shared.key, lease = id, error = %e, "lease keep-alive failed; retrying");
                tokio::time::sleep(retry).await;
            }
            StreamEnd::LeaseLost => {
                tracing::warn!(key = %shared.key, lease = id, "lease lost; granting a new one");
                loop {
                    match grant_and_put(&store, &shared.key, &shared.value, shared.ttl_secs).await {
                        Ok((new_id, _)) => {
                            shared.lease_id.store(new_id, Ordering::SeqCst);
                            shared.regrants.fetch_add(1, Ordering::SeqCst);
                            tracing::info!(key = %shared.key, lease = new_id, "registered again");
                            break;
                        }
                        Err(e) => {
                            tracing::warn!(key = %shared.key, error = %e, "cannot register again; retrying");
                            tokio::time::sleep(retry).await;
                        }
                    }
                }
            }
        }
    }
}

/// Opens a keep-alive stream for lease `id` and refreshes it every `interval`
/// until something goes wrong.
async fn keep_alive_stream(store: &Store, id: i64, interval: Duration) -> StreamEnd {
    let limit = store.request_limit();
    let mut lease = store.client().lease_client();
    // etcd-client opens the stream with one keep-alive and reports an
    // unknown lease (TTL 0 in the answer) as LeaseKeepAliveError.
    let (mut keeper, mut stream) = match tokio::time::timeout(limit, lease.keep_alive(id)).await {
        Ok(Ok(pair)) => pair,
        Ok(Err(etcd_client::Error::LeaseKeepAliveError(_))) => return StreamEnd::LeaseLost,
        Ok(Err(e)) => return StreamEnd::Broken(store.error(e)),
        Err(_) => return StreamEnd::Broken(no_answer(store.endpoints(), limit)),
    };
    loop {
        tokio::time::sleep(interval).await;
        if let Err(e) = keeper.keep_alive().await {
            return StreamEnd::Broken(store.error(e));
        }
        match tokio::time::timeout(limit, stream.message()).await {
            Ok(Ok(Some(resp))) if resp.ttl() > 0 => {}
            Ok(Ok(Some(_))) => return StreamEnd::LeaseLost,
            Ok(Ok(None)) => {
                return StreamEnd::Broken(StoreError::Unreachable {
                    endpoints: store.endpoints().to_owned(),
                    reason: "keep-alive stream closed by etcd".to_owned(),
                })
            }
            Ok(Err(e)) => return StreamEnd::Broken(store.error(e)),
            Err(_) => return StreamEnd::Broken(no_answer(store.endpoints(), limit)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_rounds_up_to_whole_seconds() {
        assert_eq!(ttl_seconds(Duration::from_millis(1)), 1);
        assert_eq!(ttl_seconds(Duration::ZERO), 1);
        assert_eq!(ttl_seconds(Duration::from_millis(1500)), 2);
        assert_eq!(ttl_seconds(Duration::from_secs(10)), 10);
    }
}
