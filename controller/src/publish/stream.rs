//! One router's subscription stream: a task that writes newline-delimited
//! [`ToRouter`] messages into a bounded channel, and the response body that
//! drains it.
//!
//! A snapshot of 100k routes is tens of MB on one line. It is serialized
//! once per published table, on a blocking thread, borrowing the table, into
//! 64 KiB chunks that every subscriber needing it then shares: one copy, and
//! a fleet of routers reconnecting at once costs one serialization, not one
//! each. A delta is encoded once per (base, latest) pair and shared the same
//! way. Each stream buffers at most [`CHANNEL_CHUNKS`] chunks.

use super::{lock, CachedDelta, Published, Shared, StreamGuard};
use axum::body::Body;
use bytes::Bytes;
use mesh_config::table::{Part, PartId, RouteTable};
use mesh_config::wire::ToRouter;
use serde::ser::{SerializeStruct, Serializer};
use serde::Serialize;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::io;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

/// Size of the chunks a large message is cut into.
const CHUNK_BYTES: usize = 64 * 1024;
/// Chunks buffered between a stream's writer and the connection.
const CHANNEL_CHUNKS: usize = 16;
/// Deltas with more upserts than this are serialized on a blocking thread.
const INLINE_UPSERTS: usize = 256;

/// The subscriber went away (or the stream was closed).
#[derive(Debug)]
struct Gone;

/// Starts the task feeding `guard`'s stream and returns the response body.
/// The body ends when `stop` turns true (replacement, shutdown, task end).
pub(super) fn open(
    shared: Arc<Shared>,
    guard: StreamGuard,
    stop: watch::Receiver<bool>,
    server_shutdown: Option<watch::Receiver<bool>>,
) -> Body {
    let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
    let counter = shared.metrics.pushed_bytes.clone();
    tokio::spawn(run(shared, guard, tx, stop.clone(), server_shutdown));
    let chunks = futures_util::stream::unfold((rx, stop), move |(mut rx, mut stop)| {
        let counter = counter.clone();
        async move {
            let chunk = tokio::select! {
                biased;
                _ = stop.wait_for(|s| *s) => None,
                chunk = rx.recv() => chunk,
            }?;
            counter.inc_by(chunk.len() as u64);
            Some((Ok::<Bytes, Infallible>(chunk), (rx, stop)))
        }
    });
    Body::from_stream(chunks)
}

async fn run(
    shared: Arc<Shared>,
    guard: StreamGuard,
    tx: mpsc::Sender<Bytes>,
    mut stop: watch::Receiver<bool>,
    server_shutdown: Option<watch::Receiver<bool>>,
) {
    let shutdown = async move {
        match server_shutdown {
            // A dropped sender means the server is gone: stop too.
            Some(mut rx) => drop(rx.wait_for(|s| *s).await),
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = feed(&shared, &tx) => {}
        _ = stop.wait_for(|s| *s) => {}
        _ = shutdown => {}
        _ = tx.closed() => {}
    }
    drop(guard);
}

/// Sends the snapshot, the deltas and the heartbeats until the subscriber
/// goes away.
async fn feed(shared: &Shared, tx: &mpsc::Sender<Bytes>) -> Result<(), Gone> {
    let mut table_rx = shared.table.subscribe();
    let mut sent: Option<Arc<Published>> = None;
    loop {
        let latest = table_rx.borrow_and_update().clone();
        if let Some(latest) = latest {
            match &sent {
                None => {
                    for chunk in snapshot_chunks(&latest).await?.iter() {
                        tx.send(chunk.clone()).await.map_err(|_| Gone)?;
                    }
                    sent = Some(latest);
                }
                // Same content (A → B → A while this subscriber was busy):
                // nothing to send.
                Some(base) if base.hash == latest.hash => {}
                Some(base) => {
                    send_delta(base, &latest, tx).await?;
                    sent = Some(latest);
                }
            }
        }
        tokio::select! {
            changed = table_rx.changed() => {
                if changed.is_err() {
                    return Ok(());
                }
            }
            _ = tokio::time::sleep(shared.heartbeat) => {
                let (revision, table_hash) = sent
                    .as_ref()
                    .map_or((0, 0), |p| (p.table.revision, p.hash));
                let msg = ToRouter::Heartbeat { revision, table_hash };
                tx.send(encode_line(&msg)?).await.map_err(|_| Gone)?;
            }
        }
    }
}

/// One message as a JSON line.
fn encode_line<T: Serialize>(msg: &T) -> Result<Bytes, Gone> {
    let mut line = serde_json::to_vec(msg).map_err(|e| {
        tracing::error!(error = %e, "could not serialize a message to a router");
        Gone
    })?;
    line.push(b'\n');
    Ok(Bytes::from(line))
}

/// Sends the delta from `base` to `latest`, encoded once per (base, latest)
/// and shared by every subscriber that needs the same one.
async fn send_delta(
    base: &Published,
    latest: &Published,
    tx: &mpsc::Sender<Bytes>,
) -> Result<(), Gone> {
    let base_revision = base.table.revision;
    let cached = lock(&latest.delta_cache)
        .as_ref()
        .filter(|c| c.base_revision == base_revision && c.base_hash == base.hash)
        .map(|c| c.line.clone());
    let line = match cached {
        Some(line) => line,
        None => {
            let msg = ToRouter::Delta {
                revision: latest.table.revision,
                base_revision,
                base_hash: base.hash,
                table_hash: latest.hash,
                changes: latest.table.diff(&base.table),
            };
            let large = matches!(&msg, ToRouter::Delta { changes, .. } if changes.upserts.len() > INLINE_UPSERTS);
            let line = if large {
                tokio::task::spawn_blocking(move || encode_line(&msg))
                    .await
                    .map_err(|_| Gone)??
            } else {
                encode_line(&msg)?
            };
            *lock(&latest.delta_cache) = Some(CachedDelta {
                base_revision,
                base_hash: base.hash,
                line: line.clone(),
            });
            line
        }
    };
    tx.send(line).await.map_err(|_| Gone)
}

/// The snapshot of `published` as chunks of one line, encoded by the first
/// subscriber that needs it.
async fn snapshot_chunks(published: &Published) -> Result<Arc<[Bytes]>, Gone> {
    published
        .snapshot
        .get_or_try_init(|| async {
            let msg = SnapshotRef {
                table: Arc::clone(&published.table),
                hash: published.hash,
            };
            let encode = move || {
                let mut chunks = Vec::new();
                write_chunked(&msg, |chunk| {
                    chunks.push(chunk);
                    Ok(())
                })?;
                Ok::<_, io::Error>(chunks)
            };
            match tokio::task::spawn_blocking(encode).await {
                Ok(Ok(chunks)) => Ok(Arc::from(chunks)),
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "could not serialize a snapshot");
                    Err(Gone)
                }
                Err(_) => Err(Gone),
            }
        })
        .await
        .cloned()
}

/// Writes `value` and a newline as 64 KiB chunks into `sink`.
fn write_chunked<T, F>(value: &T, sink: F) -> io::Result<()>
where
    T: Serialize,
    F: FnMut(Bytes) -> io::Result<()>,
{
    let mut out = ChunkWriter {
        buf: Vec::with_capacity(CHUNK_BYTES),
        sink,
    };
    serde_json::to_writer(&mut out, value)?;
    out.buf.push(b'\n');
    out.send_chunk()
}

/// An `io::Write` that hands full chunks to a sink.
struct ChunkWriter<F> {
    buf: Vec<u8>,
    sink: F,
}

impl<F: FnMut(Bytes) -> io::Result<()>> ChunkWriter<F> {
    fn send_chunk(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK_BYTES));
        (self.sink)(Bytes::from(chunk))
    }
}

impl<F: FnMut(Bytes) -> io::Result<()>> io::Write for ChunkWriter<F> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK_BYTES {
            self.send_chunk()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send_chunk()
    }
}

/// A JSON response body for a large value, serialized in chunks on a
/// blocking thread while the client reads (which stops it when gone).
pub(crate) fn json_body<T: Serialize + Send + 'static>(value: T) -> Body {
    let (tx, mut rx) = mpsc::channel::<Bytes>(CHANNEL_CHUNKS);
    tokio::task::spawn_blocking(move || {
        let send = |chunk| {
            tx.blocking_send(chunk)
                .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "reader gone"))
        };
        if let Err(e) = write_chunked(&value, send) {
            tracing::debug!(error = %e, "JSON body not completely written");
        }
    });
    let chunks = futures_util::stream::poll_fn(move |cx| {
        rx.poll_recv(cx).map(|c| c.map(Ok::<Bytes, Infallible>))
    });
    Body::from_stream(chunks)
}

/// The parts of a table, serialized as a list in id order without copying.
struct PartsRef<'a>(&'a BTreeMap<PartId, Part>);

impl Serialize for PartsRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.values())
    }
}

/// A [`ToRouter::Snapshot`] of a shared table, serialized exactly like the
/// owned message but without copying the parts.
pub(crate) struct SnapshotRef {
    pub(crate) table: Arc<RouteTable>,
    pub(crate) hash: u64,
}

impl Serialize for SnapshotRef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_struct("ToRouter", 4)?;
        m.serialize_field("type", "snapshot")?;
        m.serialize_field("revision", &self.table.revision)?;
        m.serialize_field("tableHash", &self.hash)?;
        m.serialize_field("parts", &PartsRef(&self.table.parts))?;
        m.end()
    }
}

/// A shared [`RouteTable`] serialized exactly like the table itself (whose
/// own `Serialize` goes through a copy).
pub(crate) struct TableRef(pub(crate) Arc<RouteTable>);

impl Serialize for TableRef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_struct("RouteTable", 2)?;
        m.serialize_field("revision", &self.0.revision)?;
        m.serialize_field("parts", &PartsRef(&self.0.parts))?;
        m.end()
    }
}
