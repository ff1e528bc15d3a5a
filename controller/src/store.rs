//! The etcd access layer: keys and values as strings and bytes, no resource types.
//!
//! [`Store`] wraps an [`etcd_client::Client`] with timeouts and error mapping
//! that tells an unreachable etcd ([`StoreError::Unreachable`]) from etcd
//! refusing a request ([`StoreError::Etcd`]), so `meshctl` can exit 2 for the
//! former. [`Registration`] keeps one key alive on a lease (an instance
//! registering its endpoint). Also: ranged reads at a chosen revision and
//! watches (`range`), batched writes with leases ([`WriteOp`]), and lease
//! primitives (grant, one keep-alive, revoke) for callers that keep their
//! own lease loop.
//!
//! Every request is bounded by [`StoreSettings::request_timeout`]: an etcd
//! that does not answer yields `Unreachable`, never a hang.

mod error;
mod lease;
mod range;
mod registration;
mod write;

use std::time::Duration;

use etcd_client::{Client, ConnectOptions, DeleteOptions, Txn, TxnOp};

pub use error::StoreError;
use error::{classify, no_answer};
pub use lease::KeepAlive;
pub use registration::Registration;
pub use write::WriteOp;

/// etcd's default `--max-txn-ops`: the most operations one transaction may hold.
pub const MAX_TXN_OPS: usize = 128;

/// Largest response accepted from etcd (tonic's default is 4 MiB).
const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

/// HTTP/2 keep-alive ping interval; etcd's `--grpc-keepalive-min-time` is 5 s.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);

/// Where etcd is and how long to wait for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreSettings {
    /// Client URLs, e.g. `http://127.0.0.1:2379`.
    pub endpoints: Vec<String>,
    /// Limit for establishing a connection.
    pub connect_timeout: Duration,
    /// Limit for each request.
    pub request_timeout: Duration,
}

impl StoreSettings {
    /// Settings for `endpoints` with a 3 s connect and 5 s request timeout.
    pub fn new(endpoints: Vec<String>) -> StoreSettings {
        StoreSettings {
            endpoints,
            connect_timeout: Duration::from_secs(3),
            request_timeout: Duration::from_secs(5),
        }
    }
}

impl Default for StoreSettings {
    /// `http://127.0.0.1:2379`, the local default of every binary.
    fn default() -> Self {
        StoreSettings::new(vec!["http://127.0.0.1:2379".to_owned()])
    }
}

/// One key and its value as read from etcd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    /// The key; bytes that are not UTF-8 are replaced by U+FFFD.
    pub key: String,
    /// The value, raw.
    pub value: Vec<u8>,
    /// The lease the key is attached to, 0 for none.
    pub lease: i64,
    /// The revision the key was created at (since its last deletion).
    pub create_revision: i64,
    /// The revision of the last change to this key.
    pub mod_revision: i64,
}

impl KeyValue {
    pub(crate) fn from_etcd(kv: &etcd_client::KeyValue) -> KeyValue {
        KeyValue {
            key: String::from_utf8_lossy(kv.key()).into_owned(),
            value: kv.value().to_vec(),
            lease: kv.lease(),
            create_revision: kv.create_revision(),
            mod_revision: kv.mod_revision(),
        }
    }

    /// The value as UTF-8 text.
    pub fn value_str(&self) -> Result<&str, std::str::Utf8Error> {
        std::str::from_utf8(&self.value)
    }
}

/// A connection to etcd. Cheap to clone; clones share the connection.
#[derive(Clone)]
pub struct Store {
    client: Client,
    settings: StoreSettings,
    endpoints: String,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("endpoints", &self.endpoints)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Connects to etcd and checks that it answers one `status()` request,
    /// so an unreachable etcd fails here, within the connect and request
    /// timeouts, with an error that names the endpoints.
    pub async fn connect(settings: StoreSettings) -> Result<Store, StoreError> {
        let endpoints = settings.endpoints.join(",");
        if settings.endpoints.is_empty() {
            return Err(StoreError::InvalidEndpoints {
                endpoints,
                reason: "no endpoint given".to_owned(),
            });
        }
        let options = ConnectOptions::new()
            .with_connect_timeout(settings.connect_timeout)
            .with_timeout(settings.request_timeout)
            .with_keep_alive(KEEPALIVE_INTERVAL, settings.request_timeout);
        let limit = settings.connect_timeout + settings.request_timeout;
        let connecting = Client::connect(&settings.endpoints, Some(options));
        let client = match tokio::time::timeout(limit, connecting).await {
            Ok(Ok(client)) => client,
            Ok(Err(
                e @ (etcd_client::Error::InvalidUri(_) | etcd_client::Error::InvalidArgs(_)),
            )) => {
                return Err(StoreError::InvalidEndpoints {
                    endpoints,
                    reason: e.to_string(),
                })
            }
            Ok(Err(e)) => return Err(classify(&endpoints, e)),
            Err(_) => return Err(no_answer(&endpoints, limit)),
        };
        let store = Store {
            client,
            settings,
            endpoints,
        };
        let mut client = store.client.clone();
        store
            .bounded(limit, async move { client.status().await })
            .await?;
        Ok(store)
    }

    /// The underlying client, e.g. for watches.
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// The settings this store was connected with.
    pub fn settings(&self) -> &StoreSettings {
        &self.settings
    }

    /// The endpoints, comma-separated (as in error messages).
    pub fn endpoints(&self) -> &str {
        &self.endpoints
    }

    /// Puts one key; returns the revision of the change.
    pub async fn put(&self, key: &str, value: &str) -> Result<i64, StoreError> {
        let mut kv = self.client.kv_client();
        let (key, value) = (key.to_owned(), value.to_owned());
        let resp = self
            .request(async move { kv.put(key, value, None).await })
            .await?;
        revision(resp.header(), "put")
    }

    /// Puts all `items` in one transaction: all or nothing, one revision,
    /// which is returned. More than [`MAX_TXN_OPS`] items are refused with
    /// [`StoreError::TooManyOps`] rather than split.
    pub async fn put_all_atomic(&self, items: &[(String, String)]) -> Result<i64, StoreError> {
        if items.len() > MAX_TXN_OPS {
            return Err(StoreError::TooManyOps {
                count: items.len(),
                max: MAX_TXN_OPS,
            });
        }
        let ops: Vec<TxnOp> = items
            .iter()
            .map(|(k, v)| TxnOp::put(k.as_str(), v.as_str(), None))
            .collect();
        let mut kv = self.client.kv_client();
        let resp = self
            .request(async move { kv.txn(Txn::new().and_then(ops)).await })
            .await?;
        revision(resp.header(), "txn")
    }

    /// The key, or `None` if it does not exist.
    pub async fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError> {
        let mut kv = self.client.kv_client();
        let key = key.to_owned();
        let resp = self.request(async move { kv.get(key, None).await }).await?;
        Ok(resp.kvs().first().map(KeyValue::from_etcd))
    }

    /// All keys starting with `prefix`, sorted by key, and the revision they
    /// were read at. Large prefixes are read in pages, all at that revision,
    /// so the result is one consistent snapshot.
    pub async fn list_prefix(&self, prefix: &str) -> Result<(i64, Vec<KeyValue>), StoreError> {
        let end = prefix_range_end(prefix.as_bytes());
        let start = if prefix.is_empty() {
            vec![0]
        } else {
            prefix.as_bytes().to_vec()
        };
        self.list_range(start, end, 0).await
    }

    /// Deletes one key; returns whether it existed.
    pub async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        let mut kv = self.client.kv_client();
        let key = key.to_owned();
        let resp = self
            .request(async move { kv.delete(key, None).await })
            .await?;
        Ok(resp.deleted() > 0)
    }

    /// Deletes every key starting with `prefix` (in one request, so at one
    /// revision); returns how many were deleted.
    pub async fn delete_prefix(&self, prefix: &str) -> Result<u64, StoreError> {
        let mut kv = self.client.kv_client();
        let key = prefix.to_owned();
        let options = DeleteOptions::new().with_prefix();
        let resp = self
            .request(async move { kv.delete(key, Some(options)).await })
            .await?;
        Ok(u64::try_from(resp.deleted()).unwrap_or(0))
    }

    /// Runs one etcd request bounded by the request timeout.
    pub(crate) async fn request<T>(
        &self,
        fut: impl std::future::Future<Output = Result<T, etcd_client::Error>>,
    ) -> Result<T, StoreError> {
        self.bounded(self.request_limit(), fut).await
    }

    /// The hard limit for one request. etcd-client's own timeout does not
    /// cover waiting for a connection, so this adds the connect timeout.
    pub(crate) fn request_limit(&self) -> Duration {
        self.settings.connect_timeout + self.settings.request_timeout
    }

    async fn bounded<T>(
        &self,
        limit: Duration,
        fut: impl std::future::Future<Output = Result<T, etcd_client::Error>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(limit, fut).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(classify(&self.endpoints, e)),
            Err(_) => Err(no_answer(&self.endpoints, limit)),
        }
    }

    /// Maps an etcd-client error for this store's endpoints.
    pub(crate) fn error(&self, e: etcd_client::Error) -> StoreError {
        classify(&self.endpoints, e)
    }
}

fn revision(
    header: Option<&etcd_client::ResponseHeader>,
    what: &'static str,
) -> Result<i64, StoreError> {
    header
        .map(|h| h.revision())
        .ok_or(StoreError::MissingHeader(what))
}

/// The end of etcd's key range for `prefix`: the prefix with its last byte
/// below 0xff incremented and the rest dropped; `\0` (to the end of the key
/// space) for an empty or all-0xff prefix.
pub fn prefix_range_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_range_end_follows_etcd() {
        assert_eq!(prefix_range_end(b"/mesh/"), b"/mesh0".to_vec());
        assert_eq!(prefix_range_end(b"a\xff"), b"b".to_vec());
        assert_eq!(prefix_range_end(b"\xff\xff"), vec![0]);
        assert_eq!(prefix_range_end(b""), vec![0]);
    }
}
