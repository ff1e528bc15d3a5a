//! Batched writes: puts (optionally on a lease) and deletes in one
//! transaction, and a delete that only removes a key still on a given lease.

use etcd_client::{Compare, CompareOp, PutOptions, Txn, TxnOp};

use super::{revision, Store, StoreError, MAX_TXN_OPS};

/// One write of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOp {
    /// Put `key` = `value`, on `lease` unless it is 0.
    Put {
        key: String,
        value: Vec<u8>,
        lease: i64,
    },
    /// Delete `key` (no error if it does not exist).
    Delete { key: String },
}

impl WriteOp {
    /// The key written.
    pub fn key(&self) -> &str {
        match self {
            WriteOp::Put { key, .. } | WriteOp::Delete { key } => key,
        }
    }

    fn to_txn_op(&self) -> TxnOp {
        match self {
            WriteOp::Put { key, value, lease } => {
                let options = (*lease != 0).then(|| PutOptions::new().with_lease(*lease));
                TxnOp::put(key.as_str(), value.clone(), options)
            }
            WriteOp::Delete { key } => TxnOp::delete(key.as_str(), None),
        }
    }
}

impl Store {
    /// Applies all `ops` in one transaction, at one revision, which is
    /// returned. More than [`MAX_TXN_OPS`] are refused with
    /// [`StoreError::TooManyOps`]; a key may appear only once (etcd refuses
    /// duplicate keys in a transaction).
    pub async fn write_atomic(&self, ops: &[WriteOp]) -> Result<i64, StoreError> {
        if ops.len() > MAX_TXN_OPS {
            return Err(StoreError::TooManyOps {
                count: ops.len(),
                max: MAX_TXN_OPS,
            });
        }
        let txn_ops: Vec<TxnOp> = ops.iter().map(WriteOp::to_txn_op).collect();
        let mut kv = self.client.kv_client();
        let resp = self
            .request(async move { kv.txn(Txn::new().and_then(txn_ops)).await })
            .await?;
        revision(resp.header(), "txn")
    }

    /// Deletes `key` only if it exists on `lease`; returns whether it was
    /// deleted. Someone else's key (another lease, or none) stays.
    pub async fn delete_if_lease(&self, key: &str, lease: i64) -> Result<bool, StoreError> {
        let txn = Txn::new()
            .when([Compare::lease(key, CompareOp::Equal, lease)])
            .and_then([TxnOp::delete(key, None)]);
        let mut kv = self.client.kv_client();
        let resp = self.request(async move { kv.txn(txn).await }).await?;
        Ok(resp.succeeded())
    }
}
