//! Reading and watching a key range at a chosen revision, and compaction.
//!
//! [`Store::list_range`] reads a range in pages, all at one revision, so the
//! result is one consistent snapshot however large. [`Store::watch_range`]
//! opens a watch on a range from a revision; the caller reads the stream.

use etcd_client::{CompactionOptions, GetOptions, WatchOptions, WatchStream};

use super::{revision, KeyValue, Store, StoreError, MAX_RESPONSE_BYTES};

/// Keys fetched per request by [`Store::list_range`].
const LIST_PAGE: i64 = 512;

impl Store {
    /// Every key in `[start, end)` at `at_revision` (0: the current revision),
    /// sorted by key, and the revision they were read at. Pages are all read
    /// at that revision. A compacted `at_revision` fails with an error for
    /// which [`StoreError::is_compacted`] holds.
    pub async fn list_range(
        &self,
        start: Vec<u8>,
        end: Vec<u8>,
        at_revision: i64,
    ) -> Result<(i64, Vec<KeyValue>), StoreError> {
        let mut start = start;
        let mut at_revision = at_revision;
        let mut items = Vec::new();
        loop {
            let mut options = GetOptions::new()
                .with_range(end.clone())
                .with_limit(LIST_PAGE);
            if at_revision > 0 {
                options = options.with_revision(at_revision);
            }
            let mut kv = self
                .client
                .kv_client()
                .max_decoding_message_size(MAX_RESPONSE_BYTES);
            let key = start.clone();
            let resp = self
                .request(async move { kv.get(key, Some(options)).await })
                .await?;
            if at_revision == 0 {
                at_revision = revision(resp.header(), "range")?;
            }
            items.extend(resp.kvs().iter().map(KeyValue::from_etcd));
            match resp.kvs().last() {
                Some(last) if resp.more() => {
                    start = last.key().to_vec();
                    start.push(0);
                }
                _ => return Ok((at_revision, items)),
            }
        }
    }

    /// Opens a watch on `[start, end)` from `start_revision` (inclusive),
    /// asking etcd for progress notifications. Waiting for the stream is
    /// bounded by the request limit; reading it is the caller's business
    /// (a compacted `start_revision` shows as a canceled response with a
    /// compact revision, not as an error here).
    pub async fn watch_range(
        &self,
        start: Vec<u8>,
        end: Vec<u8>,
        start_revision: i64,
    ) -> Result<WatchStream, StoreError> {
        let mut watch = self
            .client
            .watch_client()
            .max_decoding_message_size(MAX_RESPONSE_BYTES);
        let options = WatchOptions::new()
            .with_range(end)
            .with_start_revision(start_revision)
            .with_progress_notify();
        self.request(async move { watch.watch(start, Some(options)).await })
            .await
    }

    /// Compacts etcd's history up to `revision`; with `physical`, returns
    /// only once the compaction is applied to the backend.
    pub async fn compact(&self, revision: i64, physical: bool) -> Result<(), StoreError> {
        let mut kv = self.client.kv_client();
        let mut options = CompactionOptions::new();
        if physical {
            options = options.with_physical();
        }
        self.request(async move { kv.compact(revision, Some(options)).await })
            .await
            .map(drop)
    }

    /// etcd's current revision (a `status()` request).
    pub async fn current_revision(&self) -> Result<i64, StoreError> {
        let mut client = self.client.clone();
        let resp = self.request(async move { client.status().await }).await?;
        revision(resp.header(), "status")
    }
}
