//! `mesh_controller::status_writer` against a real etcd: statuses written,
//! changed and removed; router keys on the lease; stop, crash, etcd restart;
//! two writers with the same statuses.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use mesh_config::keys::{Keys, ResourceId};
use mesh_controller::status::{ResourceStatus, RouterStatus, State};
use mesh_controller::status_writer::StatusWriter;
use mesh_controller::store::{Store, StoreSettings};
use mesh_testkit::{eventually, Etcd};
use tokio::sync::oneshot;

const WAIT: Duration = Duration::from_secs(15);

fn settings(etcd: &Etcd) -> StoreSettings {
    let mut s = StoreSettings::new(vec![etcd.endpoint()]);
    s.connect_timeout = Duration::from_secs(1);
    s.request_timeout = Duration::from_secs(1);
    s
}

async fn store_for(etcd: &Etcd) -> Store {
    Store::connect(settings(etcd)).await.expect("connect")
}

/// A writer with a 2 s lease, stopped by `stop` or `StatusWriter::stop`.
fn writer(etcd: &Etcd, id: &str) -> (StatusWriter, oneshot::Sender<()>) {
    let (tx, rx) = oneshot::channel::<()>();
    let w = StatusWriter::spawn(
        settings(etcd),
        Keys::default(),
        id.to_owned(),
        Duration::from_secs(2),
        async move {
            let _ = rx.await;
        },
    );
    (w, tx)
}

fn status(state: State, revision: i64, reasons: &[&str]) -> ResourceStatus {
    ResourceStatus {
        state,
        revision,
        reasons: reasons.iter().map(|r| (*r).to_owned()).collect(),
    }
}

fn router(id: &str, revision: i64) -> RouterStatus {
    RouterStatus {
        router: id.to_owned(),
        controller: "127.0.0.1:7300".to_owned(),
        revision,
        table_hash: 7,
        published_revision: revision,
        published_hash: 7,
        rejected: None,
    }
}

fn route(name: &str) -> ResourceId {
    ResourceId::Route(name.to_owned())
}

/// Every status key in etcd: key → (value as JSON, lease).
async fn status_keys(store: &Store) -> BTreeMap<String, (serde_json::Value, i64)> {
    let (_, kvs) = store.list_prefix("/mesh/status/").await.expect("list");
    kvs.into_iter()
        .map(|kv| {
            let json = serde_json::from_slice(&kv.value).expect("status JSON");
            (kv.key, (json, kv.lease))
        })
        .collect()
}

/// Waits until the writer wrote everything it was handed.
async fn flushed(w: &StatusWriter) {
    eventually("the writer to flush", WAIT, || async {
        let s = w.stats();
        s.flushed >= s.requested && s.healthy
    })
    .await
    .expect("flushed");
}

#[tokio::test]
async fn resource_statuses_are_written_changed_and_removed() {
    let etcd = Etcd::start().await.expect("etcd");
    let store = store_for(&etcd).await;
    let (w, _stop) = writer(&etcd, "c1");
    let ep = ResourceId::Endpoint {
        service: "orders".into(),
        name: "o1".into(),
    };
    w.resources(BTreeMap::from([
        (route("a"), status(State::Accepted, 3, &[])),
        (route("b"), status(State::Rejected, 4, &["rules[0]: bad"])),
        (ep.clone(), status(State::Accepted, 5, &[])),
    ]));
    flushed(&w).await;
    let keys = status_keys(&store).await;
    assert_eq!(
        keys.keys().collect::<Vec<_>>(),
        [
            "/mesh/status/resources/endpoints/orders/o1",
            "/mesh/status/resources/routes/a",
            "/mesh/status/resources/routes/b",
        ]
    );
    let b = &keys["/mesh/status/resources/routes/b"];
    assert_eq!(
        b.0,
        serde_json::json!({"state": "rejected", "revision": 4, "reasons": ["rules[0]: bad"]})
    );
    assert_eq!(b.1, 0, "resource statuses live on no lease");

    // Change one, drop one, keep one untouched.
    let a_before = store
        .get("/mesh/status/resources/routes/a")
        .await
        .expect("get")
        .expect("a");
    let puts_before = w.stats().puts;
    w.resources(BTreeMap::from([
        (route("a"), status(State::Accepted, 3, &[])),
        (route("b"), status(State::Accepted, 9, &[])),
    ]));
    flushed(&w).await;
    let keys = status_keys(&store).await;
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert_eq!(
        keys["/mesh/status/resources/routes/b"].0["state"],
        "accepted"
    );
    let a_after = store
        .get("/mesh/status/resources/routes/a")
        .await
        .expect("get")
        .expect("a");
    assert_eq!(
        a_after.mod_revision, a_before.mod_revision,
        "unchanged: not rewritten"
    );
    assert_eq!(w.stats().puts, puts_before + 1);

    w.resources(BTreeMap::new());
    flushed(&w).await;
    assert!(status_keys(&store).await.is_empty());
    w.stop().await;
}

#[tokio::test]
async fn many_statuses_go_in_batches() {
    let etcd = Etcd::start().await.expect("etcd");
    let store = store_for(&etcd).await;
    let (w, _stop) = writer(&etcd, "c1");
    let many: BTreeMap<_, _> = (0..1000)
        .map(|i| (route(&format!("r{i:04}")), status(State::Accepted, i, &[])))
        .collect();
    let started = Instant::now();
    w.resources(many);
    flushed(&w).await;
    eprintln!("1000 statuses written in {:?}", started.elapsed());
    assert_eq!(status_keys(&store).await.len(), 1000);
    w.resources(BTreeMap::new());
    flushed(&w).await;
    assert!(status_keys(&store).await.is_empty());
    w.stop().await;
}

#[tokio::test]
async fn router_keys_live_on_the_lease_and_vanish_on_stop() {
    let etcd = Etcd::start().await.expect("etcd");
    let store = store_for(&etcd).await;
    let (w, _stop) = writer(&etcd, "c1");
    w.routers(BTreeMap::from([
        ("r1".to_owned(), router("r1", 5)),
        ("r2".to_owned(), router("r2", 5)),
    ]));
    flushed(&w).await;
    let lease = w.stats().lease_id;
    assert_ne!(lease, 0);
    let keys = status_keys(&store).await;
    assert_eq!(keys.len(), 2);
    assert!(keys.values().all(|(_, l)| *l == lease), "{keys:?}");
    assert_eq!(keys["/mesh/status/routers/r1"].0["revision"], 5);

    // r2 left, r1 moved on.
    w.routers(BTreeMap::from([("r1".to_owned(), router("r1", 6))]));
    flushed(&w).await;
    let keys = status_keys(&store).await;
    assert_eq!(keys.keys().collect::<Vec<_>>(), ["/mesh/status/routers/r1"]);
    assert_eq!(keys["/mesh/status/routers/r1"].0["revision"], 6);

    // Keep-alives hold the keys past the TTL (2 s).
    let ttl = Duration::from_secs(2);
    tokio::time::sleep(ttl * 2).await;
    assert_eq!(status_keys(&store).await.len(), 1, "kept alive");
    assert_eq!(w.stats().lease_grants, 1);

    w.stop().await;
    assert!(status_keys(&store).await.is_empty(), "gone at once on stop");
}

#[tokio::test]
async fn router_keys_vanish_after_the_ttl_when_the_writer_crashes() {
    let etcd = Etcd::start().await.expect("etcd");
    let store = store_for(&etcd).await;
    let (w, _stop) = writer(&etcd, "c1");
    w.resources(BTreeMap::from([(
        route("a"),
        status(State::Accepted, 1, &[]),
    )]));
    w.routers(BTreeMap::from([("r1".to_owned(), router("r1", 5))]));
    flushed(&w).await;
    w.abort();
    let crashed = Instant::now();
    assert!(
        store
            .get("/mesh/status/routers/r1")
            .await
            .expect("get")
            .is_some(),
        "still there right after the crash"
    );
    eventually("the router key to expire", WAIT, || async {
        store.get("/mesh/status/routers/r1").await.ok() == Some(None)
    })
    .await
    .expect("expired");
    eprintln!(
        "router key gone {:?} after the crash (TTL 2 s)",
        crashed.elapsed()
    );
    // Resource statuses are not on the lease.
    assert!(store
        .get("/mesh/status/resources/routes/a")
        .await
        .expect("get")
        .is_some());
}

#[tokio::test]
async fn the_shutdown_future_stops_the_writer_and_revokes_the_lease() {
    let etcd = Etcd::start().await.expect("etcd");
    let store = store_for(&etcd).await;
    let (w, stop) = writer(&etcd, "c1");
    w.routers(BTreeMap::from([("r1".to_owned(), router("r1", 5))]));
    flushed(&w).await;
    stop.send(()).expect("the writer listens");
    eventually("the router key to go", WAIT, || async {
        store.get("/mesh/status/routers/r1").await.ok() == Some(None)
    })
    .await
    .expect("revoked");
    // stop() after the task ended on its own returns at once.
    tokio::time::timeout(WAIT, w.stop())
        .await
        .expect("stop returns");
}

#[tokio::test]
async fn writes_resume_after_etcd_is_killed_and_restarted() {
    let mut etcd = Etcd::start().await.expect("etcd");
    let store = store_for(&etcd).await;
    let (w, _stop) = writer(&etcd, "c1");
    w.resources(BTreeMap::from([(
        route("a"),
        status(State::Accepted, 1, &[]),
    )]));
    w.routers(BTreeMap::from([("r1".to_owned(), router("r1", 1))]));
    flushed(&w).await;

    etcd.kill().expect("kill etcd");
    // Desired state changes while etcd is down; only the latest counts.
    w.resources(BTreeMap::from([(
        route("b"),
        status(State::Accepted, 2, &[]),
    )]));
    w.routers(BTreeMap::from([("r2".to_owned(), router("r2", 2))]));
    eventually("the writer to notice", WAIT, || async {
        !w.stats().healthy
    })
    .await
    .expect("unhealthy while etcd is down");
    w.resources(BTreeMap::from([(
        route("c"),
        status(State::Accepted, 3, &[]),
    )]));

    etcd.restart().await.expect("restart etcd");
    let restarted = Instant::now();
    flushed(&w).await;
    eprintln!(
        "status writes resumed {:?} after the restart",
        restarted.elapsed()
    );
    let keys = status_keys(&store).await;
    assert_eq!(
        keys.keys().collect::<Vec<_>>(),
        ["/mesh/status/resources/routes/c", "/mesh/status/routers/r2"]
    );
    let lease = w.stats().lease_id;
    assert_eq!(keys["/mesh/status/routers/r2"].1, lease);
    w.stop().await;
    assert_eq!(
        status_keys(&store).await.len(),
        1,
        "only the resource status stays"
    );
}

#[tokio::test]
async fn two_writers_with_the_same_statuses_do_not_rewrite_each_other() {
    let etcd = Etcd::start().await.expect("etcd");
    let store = store_for(&etcd).await;
    let statuses = BTreeMap::from([
        (route("a"), status(State::Accepted, 3, &[])),
        (route("b"), status(State::Rejected, 4, &["no"])),
    ]);
    let (w1, _s1) = writer(&etcd, "c1");
    w1.resources(statuses.clone());
    flushed(&w1).await;
    let before = store.current_revision().await.expect("revision");

    let (w2, _s2) = writer(&etcd, "c2");
    w2.resources(statuses.clone());
    flushed(&w2).await;
    // Both hand in the same state again, as after every compile.
    w1.resources(statuses.clone());
    w2.resources(statuses);
    flushed(&w1).await;
    flushed(&w2).await;
    assert_eq!(w2.stats().puts, 0, "w2 found everything written already");
    assert_eq!(w1.stats().puts, 2);
    let (_, kvs) = store
        .list_prefix("/mesh/status/resources/")
        .await
        .expect("list");
    assert!(kvs.iter().all(|kv| kv.mod_revision <= before), "{kvs:?}");

    // A router that moved from c1 to c2 keeps c2's key when c1 lets go.
    w1.routers(BTreeMap::from([("r".to_owned(), router("r", 1))]));
    flushed(&w1).await;
    w2.routers(BTreeMap::from([("r".to_owned(), router("r", 2))]));
    flushed(&w2).await;
    w1.routers(BTreeMap::new());
    flushed(&w1).await;
    let kv = store
        .get("/mesh/status/routers/r")
        .await
        .expect("get")
        .expect("kept");
    assert_eq!(kv.lease, w2.stats().lease_id);
    w1.stop().await;
    w2.stop().await;
}
