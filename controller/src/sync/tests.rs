//! Unit tests of the sync internals; the compaction paths run against a
//! real etcd (mesh-testkit).

use std::time::Duration;

use mesh_config::keys::Keys;
use mesh_testkit::Etcd;
use tokio::sync::mpsc;

use super::watch::{is_mirrored, MirroredRange};
use super::{follow, read_all, WatchEnd};
use crate::mirror::{Change, SyncEvent};
use crate::store::{Store, StoreSettings};

#[test]
fn the_mirrored_range_holds_resources_and_health_but_no_status() {
    for prefix in ["/mesh", "/team-a/mesh", "/a"] {
        let keys = Keys::new(prefix).expect("valid prefix");
        let range = MirroredRange::of(&keys);
        for inside in [
            format!("{prefix}/services/orders"),
            format!("{prefix}/routes/r"),
            format!("{prefix}/endpoints/orders/orders-1"),
            format!("{prefix}/health/orders/orders-1"),
        ] {
            assert!(range.contains(inside.as_bytes()), "{inside}");
            assert!(is_mirrored(&keys, &inside), "{inside}");
        }
        for outside in [
            format!("{prefix}/status/resources/routes/r"),
            format!("{prefix}/status/routers/r1"),
            format!("{prefix}/statusx"),
            format!("{prefix}/zzz"),
            format!("{prefix}/a"),
            format!("{prefix}0/services/x"),
        ] {
            assert!(!range.contains(outside.as_bytes()), "{outside}");
            assert!(!is_mirrored(&keys, &outside), "{outside}");
        }
        // In the range but not part of the layout: read, then filtered out.
        assert!(!is_mirrored(&keys, &format!("{prefix}/services/a/b")));
        assert!(!is_mirrored(&keys, &format!("{prefix}/routesx")));
    }
}

async fn store_for(etcd: &Etcd) -> Store {
    Store::connect(StoreSettings::new(vec![etcd.endpoint()]))
        .await
        .expect("connect to the test etcd")
}

#[tokio::test]
async fn read_all_skips_status_and_foreign_keys() {
    let etcd = Etcd::start().await.expect("etcd");
    let store = store_for(&etcd).await;
    let keys = Keys::default();
    for key in [
        "/mesh/services/s",
        "/mesh/health/s/e",
        "/mesh/status/resources/services/s",
        "/mesh/services/a/b",
        "/other/services/t",
    ] {
        store.put(key, "{}").await.expect("put");
    }
    let (revision, kvs) = read_all(&store, &keys).await.expect("read");
    assert_eq!(
        kvs.keys().collect::<Vec<_>>(),
        ["/mesh/health/s/e", "/mesh/services/s"]
    );
    let s = &kvs["/mesh/services/s"];
    assert_eq!(s.create_revision, 2);
    assert_eq!(s.mod_revision, 2);
    assert_eq!(revision, 6);
}

#[tokio::test]
async fn following_from_a_compacted_revision_reports_compaction() {
    let etcd = Etcd::start().await.expect("etcd");
    let store = store_for(&etcd).await;
    let keys = Keys::default();
    let mut last = 0;
    for i in 0..5 {
        last = store
            .put(&format!("/mesh/services/s{i}"), "{}")
            .await
            .expect("put");
    }
    store.compact(last, true).await.expect("compact");
    let (tx, mut rx) = mpsc::channel(16);
    let end = tokio::time::timeout(
        Duration::from_secs(10),
        follow(&store, &keys, 2, &tx, Duration::from_secs(5)),
    )
    .await
    .expect("follow ends by itself");
    match end {
        WatchEnd::Compacted { compact_revision } => assert_eq!(compact_revision, last),
        other => panic!("expected a compaction, got {other:?}"),
    }
    assert!(rx.try_recv().is_err(), "no event from a compacted watch");

    // From the compaction revision on, the watch works and sees new writes.
    let follower = tokio::spawn({
        let store = store.clone();
        async move { follow(&store, &keys, last + 1, &tx, Duration::from_secs(5)).await }
    });
    let rev = store.put("/mesh/routes/r", "{}").await.expect("put");
    let event = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("an event in time")
        .expect("an event");
    match event {
        SyncEvent::Changes { revision, changes } => {
            assert_eq!(revision, rev);
            assert!(
                matches!(&changes[..], [Change::Put { key, .. }] if key == "/mesh/routes/r"),
                "{changes:?}"
            );
        }
        other => panic!("expected changes, got {other:?}"),
    }
    drop(rx);
    store.put("/mesh/routes/r2", "{}").await.expect("put");
    let end = tokio::time::timeout(Duration::from_secs(10), follower)
        .await
        .expect("follow ends once the receiver is gone")
        .expect("join");
    assert!(matches!(end, WatchEnd::ConsumerGone), "{end:?}");
}

#[tokio::test]
async fn reading_at_a_compacted_revision_is_recognised() {
    let etcd = Etcd::start().await.expect("etcd");
    let store = store_for(&etcd).await;
    let last = store.put("/mesh/services/a", "{}").await.expect("put");
    store.put("/mesh/services/b", "{}").await.expect("put");
    store.compact(last + 1, true).await.expect("compact");
    let range = MirroredRange::of(&Keys::default());
    let err = store
        .list_range(range.start, range.end, last)
        .await
        .expect_err("a compacted revision");
    assert!(err.is_compacted(), "{err:?}");
}
