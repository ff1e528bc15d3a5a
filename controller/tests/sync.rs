//! `mesh_controller::sync` against a real etcd: the first `Reset`, the
//! changes after it, a burst, compaction, etcd killed and restarted, etcd
//! frozen, etcd absent at start.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use mesh_config::keys::{KeyRef, Keys};
use mesh_controller::metrics::Metrics;
use mesh_controller::mirror::{Change, Mirror, SyncEvent};
use mesh_controller::store::{Store, StoreSettings, WriteOp};
use mesh_controller::sync::{run_sync, SyncSettings};
use mesh_testkit::{eventually, scaled, Etcd};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

/// How long one expected event may take.
const EVENT_TIMEOUT: Duration = Duration::from_secs(15);

/// A running sync and what it reported so far.
struct Running {
    events: mpsc::Receiver<SyncEvent>,
    connected: watch::Receiver<bool>,
    metrics: Metrics,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
    mirror: Mirror,
    resets: usize,
}

fn store_settings(endpoint: &str) -> StoreSettings {
    let mut s = StoreSettings::new(vec![endpoint.to_owned()]);
    s.connect_timeout = Duration::from_secs(1);
    s.request_timeout = Duration::from_secs(1);
    s
}

/// Starts a sync whose event channel holds `capacity` events.
fn start(endpoint: &str, capacity: usize) -> Running {
    let settings = SyncSettings {
        store: store_settings(endpoint),
        keys: Keys::default(),
        backoff_min: Duration::from_millis(50),
        backoff_max: Duration::from_millis(500),
    };
    let (tx, events) = mpsc::channel(capacity);
    let (connected_tx, connected) = watch::channel(false);
    let metrics = Metrics::new().expect("metrics");
    let (stop, stop_rx) = oneshot::channel::<()>();
    let task = tokio::spawn(run_sync(
        settings,
        tx,
        connected_tx,
        metrics.clone(),
        async move {
            let _ = stop_rx.await;
        },
    ));
    Running {
        events,
        connected,
        metrics,
        stop: Some(stop),
        task,
        mirror: Mirror::default(),
        resets: 0,
    }
}

impl Running {
    /// The next event, applied to the mirror.
    async fn next(&mut self) -> SyncEvent {
        let event = tokio::time::timeout(scaled(EVENT_TIMEOUT), self.events.recv())
            .await
            .expect("an event in time")
            .expect("the sync is running");
        if matches!(event, SyncEvent::Reset { .. }) {
            self.resets += 1;
        }
        assert!(
            self.mirror.apply(event.clone()),
            "event older than the mirror at {}: {event:?}",
            self.mirror.revision
        );
        event
    }

    /// Receives events until the mirror is at `revision` or later.
    async fn until_revision(&mut self, revision: i64) -> Vec<SyncEvent> {
        let mut seen = Vec::new();
        while self.mirror.revision < revision {
            seen.push(self.next().await);
        }
        seen
    }

    async fn wait_connected(&mut self, up: bool) {
        tokio::time::timeout(scaled(EVENT_TIMEOUT), self.connected.wait_for(|c| *c == up))
            .await
            .unwrap_or_else(|_| panic!("connected never became {up}"))
            .expect("the sync is running");
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(scaled(EVENT_TIMEOUT), &mut self.task)
            .await
            .expect("the sync stops on shutdown")
            .expect("join");
        assert!(!*self.connected.borrow(), "not connected after shutdown");
    }
}

async fn store_for(etcd: &Etcd) -> Store {
    Store::connect(store_settings(&etcd.endpoint()))
        .await
        .expect("connect to the test etcd")
}

type State = BTreeMap<String, (Vec<u8>, i64, i64, i64)>;

/// Asserts that the mirror holds exactly etcd's mirrored keys (values,
/// create and mod revisions, leases).
async fn assert_same_as_etcd(running: &Running, store: &Store) {
    let keys = Keys::default();
    let (_, kvs) = store.list_prefix("/mesh/").await.expect("list");
    let expected: State = kvs
        .into_iter()
        .filter(|kv| {
            let parsed = keys.parse(&kv.key);
            matches!(parsed, Some(KeyRef::Resource(_) | KeyRef::Health { .. }))
        })
        .map(|kv| {
            (
                kv.key,
                (kv.value, kv.create_revision, kv.mod_revision, kv.lease),
            )
        })
        .collect();
    let actual: State = (running.mirror.kvs.iter())
        .map(|(k, v)| {
            let value = (v.value.to_vec(), v.create_revision, v.mod_revision, v.lease);
            (k.clone(), value)
        })
        .collect();
    assert_eq!(actual.len(), expected.len(), "number of keys");
    assert!(actual == expected, "the mirror differs from etcd");
}

#[tokio::test]
async fn reset_holds_resources_and_health_but_not_status() {
    let etcd = Etcd::start().await.expect("etcd");
    let store = store_for(&etcd).await;
    for key in [
        "/mesh/services/orders",
        "/mesh/routes/r",
        "/mesh/endpoints/orders/o1",
        "/mesh/health/orders/o1",
        "/mesh/status/resources/services/orders",
        "/mesh/status/routers/r1",
        "/mesh/unknown",
        "/other/services/x",
    ] {
        store.put(key, "{}").await.expect("put");
    }
    let (lease, _) = store.grant_lease(30).await.expect("lease");
    let ops = [WriteOp::Put {
        key: "/mesh/endpoints/orders/o2".into(),
        value: b"{\"x\":1}".to_vec(),
        lease,
    }];
    let last = store.write_atomic(&ops).await.expect("put on lease");

    let mut running = start(&etcd.endpoint(), 16);
    match running.next().await {
        SyncEvent::Reset { revision, kvs } => {
            assert_eq!(revision, last);
            assert_eq!(
                kvs.keys().collect::<Vec<_>>(),
                [
                    "/mesh/endpoints/orders/o1",
                    "/mesh/endpoints/orders/o2",
                    "/mesh/health/orders/o1",
                    "/mesh/routes/r",
                    "/mesh/services/orders",
                ]
            );
            let o2 = &kvs["/mesh/endpoints/orders/o2"];
            assert_eq!(
                (o2.lease, o2.create_revision, o2.mod_revision),
                (lease, last, last)
            );
            assert_eq!(&o2.value[..], b"{\"x\":1}");
        }
        other => panic!("expected a Reset first, got {other:?}"),
    }
    running.wait_connected(true).await;
    assert_eq!(running.metrics.etcd_connected.get(), 1);
    assert_eq!(running.metrics.etcd_resyncs.get(), 1);
    assert_same_as_etcd(&running, &store).await;
    running.stop().await;
}

#[tokio::test]
async fn changes_arrive_in_order_with_their_revisions_and_status_writes_are_silent() {
    let etcd = Etcd::start().await.expect("etcd");
    let store = store_for(&etcd).await;
    store.put("/mesh/services/a", "1").await.expect("put");
    let mut running = start(&etcd.endpoint(), 16);
    assert!(matches!(running.next().await, SyncEvent::Reset { .. }));

    let r1 = store.put("/mesh/services/b", "2").await.expect("put");
    store
        .put("/mesh/status/resources/services/b", "s")
        .await
        .expect("status");
    store
        .put("/mesh/status/routers/x", "s")
        .await
        .expect("status");
    let r2 = store.put("/mesh/health/b/e", "up").await.expect("put");
    assert!(store.delete("/mesh/services/a").await.expect("delete"));
    // Nothing else writes: the delete's revision is the current one.
    let r3 = store.current_revision().await.expect("revision");
    let r4 = store
        .write_atomic(&[
            WriteOp::Put {
                key: "/mesh/routes/x".into(),
                value: b"x".to_vec(),
                lease: 0,
            },
            WriteOp::Put {
                key: "/mesh/status/routers/y".into(),
                value: b"y".to_vec(),
                lease: 0,
            },
            WriteOp::Delete {
                key: "/mesh/services/b".into(),
            },
        ])
        .await
        .expect("txn");

    let put = |key: &str, rev: i64| (key.to_owned(), Some(rev));
    let expected = vec![
        (r1, vec![put("/mesh/services/b", r1)]),
        (r2, vec![put("/mesh/health/b/e", r2)]),
        (r3, vec![("/mesh/services/a".to_owned(), None)]),
        (
            r4,
            vec![
                put("/mesh/routes/x", r4),
                ("/mesh/services/b".to_owned(), None),
            ],
        ),
    ];
    let mut got = Vec::new();
    for _ in 0..expected.len() {
        match running.next().await {
            SyncEvent::Changes { revision, changes } => {
                let changes = changes
                    .into_iter()
                    .map(|c| match c {
                        Change::Put { key, value } => (key, Some(value.mod_revision)),
                        Change::Delete { key } => (key, None),
                    })
                    .collect::<Vec<_>>();
                got.push((revision, changes));
            }
            other => panic!("expected changes, got {other:?}"),
        }
    }
    assert_eq!(got, expected);
    // Only status writes since: no event.
    store
        .put("/mesh/status/routers/z", "s")
        .await
        .expect("status");
    let marker = store.put("/mesh/routes/marker", "m").await.expect("put");
    match running.next().await {
        SyncEvent::Changes { revision, changes } => {
            assert_eq!(revision, marker);
            assert_eq!(changes.len(), 1);
        }
        other => panic!("expected the marker, got {other:?}"),
    }
    assert_eq!(running.metrics.etcd_resyncs.get(), 1);
    assert_same_as_etcd(&running, &store).await;
    running.stop().await;
}

/// A JSON-ish value of about `size` bytes.
fn value(i: usize, size: usize) -> String {
    format!("{{\"n\":{i},\"pad\":\"{}\"}}", "x".repeat(size))
}

#[tokio::test]
async fn a_burst_of_1000_puts_is_all_seen_by_a_slow_consumer() {
    let etcd = Etcd::start().await.expect("etcd");
    let store = store_for(&etcd).await;
    // Capacity 1 and nobody reading during the burst: the sync stalls, the
    // watch stream backs up, and etcd sends the backlog in batches later.
    let mut running = start(&etcd.endpoint(), 1);
    assert!(matches!(running.next().await, SyncEvent::Reset { .. }));
    let started = Instant::now();
    let mut writers = tokio::task::JoinSet::new();
    for w in 0..8 {
        let store = store.clone();
        writers.spawn(async move {
            for i in 0..125 {
                let key = format!("/mesh/endpoints/svc/e{w}-{i:03}");
                store.put(&key, &value(i, 5_000)).await.expect("put");
                if i % 25 == 0 {
                    let status = format!("/mesh/status/resources/endpoints/svc/e{w}-{i:03}");
                    store.put(&status, "{}").await.expect("status put");
                }
            }
        });
    }
    while let Some(done) = writers.join_next().await {
        done.expect("writer");
    }
    for w in 0..8 {
        for i in (0..125).step_by(10) {
            let key = format!("/mesh/endpoints/svc/e{w}-{i:03}");
            assert!(store.delete(&key).await.expect("delete"), "{key}");
        }
    }
    let last = store.put("/mesh/routes/marker", "m").await.expect("marker");
    let wrote = started.elapsed();
    let events = running.until_revision(last).await;
    let caught_up = started.elapsed();
    eprintln!(
        "burst: 1000 puts + 104 deletes written in {wrote:?}; sync caught up after {caught_up:?} in {} events",
        events.len()
    );
    assert_eq!(running.resets, 1, "no resync needed");
    assert_eq!(running.mirror.revision, last);
    assert_eq!(running.mirror.kvs.len(), 1000 - 8 * 13 + 1);
    assert_same_as_etcd(&running, &store).await;
    running.stop().await;
}

#[tokio::test]
async fn compacting_history_does_not_disturb_a_live_watch() {
    let etcd = Etcd::start().await.expect("etcd");
    let store = store_for(&etcd).await;
    let mut running = start(&etcd.endpoint(), 64);
    assert!(matches!(running.next().await, SyncEvent::Reset { .. }));
    let mut rev = 0;
    for i in 0..20 {
        rev = store
            .put(&format!("/mesh/services/s{i}"), &value(i, 10))
            .await
            .expect("put");
    }
    running.until_revision(rev).await;
    store.compact(rev, true).await.expect("compact");
    for i in 0..20 {
        rev = store
            .put(&format!("/mesh/services/s{i}"), &value(i + 100, 10))
            .await
            .expect("put");
    }
    running.until_revision(rev).await;
    assert_eq!(running.resets, 1);
    assert_same_as_etcd(&running, &store).await;
    running.stop().await;
}

/// etcd's count of watchers that fell behind (its `/metrics`).
async fn slow_watchers(etcd: &Etcd) -> anyhow::Result<u64> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut conn = tokio::net::TcpStream::connect(("127.0.0.1", etcd.client_port())).await?;
    conn.write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .await?;
    let mut body = String::new();
    conn.read_to_string(&mut body).await?;
    let line = body
        .lines()
        .find(|l| l.starts_with("etcd_debugging_mvcc_slow_watcher_total "))
        .ok_or_else(|| anyhow::anyhow!("no slow watcher gauge in etcd's metrics"))?;
    let n: f64 = line.rsplit(' ').next().unwrap_or("").parse()?;
    Ok(n as u64)
}

#[tokio::test]
async fn a_watch_that_falls_behind_a_compaction_reads_everything_again() {
    let etcd = Etcd::start().await.expect("etcd");
    let store = store_for(&etcd).await;
    let mut running = start(&etcd.endpoint(), 1);
    assert!(matches!(running.next().await, SyncEvent::Reset { .. }));
    // Stop reading and write until etcd counts our watcher as slow: it then
    // keeps the watcher's pending events aside and reads the rest from its
    // history later, which a compaction removes.
    let mut i = 0;
    eventually(
        "etcd to see a slow watcher",
        Duration::from_secs(60),
        || {
            let (store, etcd) = (&store, &etcd);
            let from = i;
            i += 50;
            async move {
                for n in from..from + 50 {
                    store
                        .put(&format!("/mesh/endpoints/big/e{n:05}"), &value(n, 10_000))
                        .await?;
                }
                anyhow::ensure!(slow_watchers(etcd).await? >= 1, "no slow watcher yet");
                Ok(())
            }
        },
    )
    .await
    .expect("a slow watcher");
    let mut last = 0;
    for n in 0..20 {
        last = store
            .put(&format!("/mesh/routes/late{n}"), "{}")
            .await
            .expect("put");
    }
    store.compact(last, true).await.expect("compact");
    let last = store.put("/mesh/routes/marker", "m").await.expect("put");
    running.until_revision(last).await;
    eprintln!("compaction: {} puts before etcd saw a slow watcher", i);
    assert!(running.resets >= 2, "a second Reset after the compaction");
    assert!(running.metrics.etcd_resyncs.get() >= 2);
    assert_eq!(running.metrics.etcd_connected.get(), 1);
    assert_same_as_etcd(&running, &store).await;
    running.stop().await;
}

#[tokio::test]
async fn survives_etcd_killed_and_restarted() {
    let mut etcd = Etcd::start().await.expect("etcd");
    let store = store_for(&etcd).await;
    let mut running = start(&etcd.endpoint(), 64);
    assert!(matches!(running.next().await, SyncEvent::Reset { .. }));
    running.wait_connected(true).await;
    let a = store.put("/mesh/services/a", "1").await.expect("put");
    running.until_revision(a).await;

    etcd.kill().expect("kill etcd");
    let killed = Instant::now();
    running.wait_connected(false).await;
    let noticed = killed.elapsed();
    assert_eq!(running.metrics.etcd_connected.get(), 0);

    etcd.restart().await.expect("restart etcd");
    let restarted = Instant::now();
    // Written right away, likely before the sync is back: the Reset has it.
    let b = eventually(
        "a put after the restart",
        Duration::from_secs(10),
        || async { store.put("/mesh/services/b", "2").await.ok() },
    )
    .await
    .expect("etcd answers after the restart");
    running.wait_connected(true).await;
    let reconnected = restarted.elapsed();
    let c = store.put("/mesh/services/c", "3").await.expect("put");
    running.until_revision(c.max(b)).await;
    eprintln!("etcd killed: noticed after {noticed:?}; reconnected {reconnected:?} after the restart returned");
    assert!(running.resets >= 2);
    assert!(running.metrics.etcd_resyncs.get() >= 2);
    assert_eq!(running.metrics.etcd_connected.get(), 1);
    assert_eq!(
        running.mirror.kvs.keys().collect::<Vec<_>>(),
        ["/mesh/services/a", "/mesh/services/b", "/mesh/services/c"]
    );
    assert_same_as_etcd(&running, &store).await;
    running.stop().await;
}

#[tokio::test]
async fn waits_for_an_etcd_that_is_not_there_yet() {
    let mut etcd = Etcd::start().await.expect("etcd");
    etcd.kill().expect("kill etcd");
    let mut running = start(&etcd.endpoint(), 16);
    // Absence can only be checked by waiting a little: several retries.
    let nothing = tokio::time::timeout(Duration::from_millis(700), running.events.recv()).await;
    assert!(nothing.is_err(), "no event without etcd: {nothing:?}");
    assert!(!*running.connected.borrow());
    assert_eq!(running.metrics.etcd_connected.get(), 0);

    etcd.restart().await.expect("start etcd");
    let store = store_for(&etcd).await;
    let rev = store.put("/mesh/services/s", "1").await.expect("put");
    running.wait_connected(true).await;
    running.until_revision(rev).await;
    assert_same_as_etcd(&running, &store).await;
    running.stop().await;
}

fn signal(etcd: &Etcd, sig: &str) {
    let pid = etcd.pid().expect("etcd runs").to_string();
    let status = std::process::Command::new("kill")
        .args(["-s", sig, &pid])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -s {sig} {pid}");
}

#[tokio::test]
async fn a_frozen_etcd_is_noticed_and_left_once_it_thaws() {
    let etcd = Etcd::start().await.expect("etcd");
    let store = store_for(&etcd).await;
    let mut running = start(&etcd.endpoint(), 16);
    assert!(matches!(running.next().await, SyncEvent::Reset { .. }));
    running.wait_connected(true).await;

    // SIGSTOP: the connection stays open, but nothing answers.
    signal(&etcd, "STOP");
    let frozen = Instant::now();
    running.wait_connected(false).await;
    let noticed = frozen.elapsed();
    signal(&etcd, "CONT");
    let thawed = Instant::now();
    running.wait_connected(true).await;
    let back = thawed.elapsed();
    let rev = store.put("/mesh/services/s", "1").await.expect("put");
    running.until_revision(rev).await;
    eprintln!("etcd frozen: noticed after {noticed:?}; back {back:?} after it thawed");
    // Liveness is the request timeout (1 s here) twice, plus slack.
    assert!(noticed < scaled(Duration::from_secs(6)), "{noticed:?}");
    assert_same_as_etcd(&running, &store).await;
    running.stop().await;
}
