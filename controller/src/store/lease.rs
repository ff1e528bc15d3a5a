//! Lease primitives: grant, one keep-alive, revoke.
//!
//! These are single requests, each bounded by the request limit; the caller
//! decides when to refresh (see [`crate::status_writer`]) or uses
//! [`super::Registration`] for a key that keeps itself alive.

use super::{Store, StoreError};

/// What one keep-alive found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeepAlive {
    /// The lease lives; its TTL starts over.
    Alive,
    /// etcd no longer knows the lease: it expired or was revoked, and its
    /// keys are gone.
    Lost,
}

impl Store {
    /// Grants a lease of `ttl_secs` (at least 1); returns its id and the TTL
    /// etcd granted (which may be longer than asked).
    pub async fn grant_lease(&self, ttl_secs: i64) -> Result<(i64, i64), StoreError> {
        let mut lease = self.client.lease_client();
        let ttl = ttl_secs.max(1);
        let granted = self
            .request(async move { lease.grant(ttl, None).await })
            .await?;
        Ok((granted.id(), granted.ttl()))
    }

    /// Refreshes lease `id` once (opens a keep-alive stream, sends one
    /// keep-alive, reads the answer, closes it).
    pub async fn keep_alive_once(&self, id: i64) -> Result<KeepAlive, StoreError> {
        let mut lease = self.client.lease_client();
        // etcd-client sends the first keep-alive when it opens the stream
        // and reports TTL 0 (unknown lease) as LeaseKeepAliveError.
        let opened = self
            .request(async move { lease.keep_alive(id).await })
            .await;
        match opened {
            Ok(_) => Ok(KeepAlive::Alive),
            Err(e) if e.is_lease_not_found() => Ok(KeepAlive::Lost),
            Err(e) => Err(e),
        }
    }

    /// Revokes lease `id`: its keys are deleted at once. A lease etcd does not
    /// know (expired already) is not an error.
    pub async fn revoke_lease(&self, id: i64) -> Result<(), StoreError> {
        let mut lease = self.client.lease_client();
        match self.request(async move { lease.revoke(id).await }).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_lease_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }
}
