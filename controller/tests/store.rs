//! Integration tests of `mesh_controller::store` against a real etcd.

use std::time::{Duration, Instant};

use mesh_controller::store::{Registration, Store, StoreError, StoreSettings, MAX_TXN_OPS};
use mesh_testkit::{eventually, free_port, Etcd};

async fn store_for(etcd: &Etcd) -> Store {
    Store::connect(StoreSettings::new(vec![etcd.endpoint()]))
        .await
        .expect("connect to the test etcd")
}

fn items(prefix: &str, n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| (format!("{prefix}{i:05}"), format!("{{\"n\":{i}}}")))
        .collect()
}

#[tokio::test]
async fn atomic_put_writes_all_keys_at_one_revision() {
    let etcd = Etcd::start().await.expect("etcd");
    let store = store_for(&etcd).await;
    let revision = store
        .put_all_atomic(&items("/mesh/services/s", 5))
        .await
        .expect("atomic put");
    let (read_at, kvs) = store.list_prefix("/mesh/services/").await.expect("list");
    assert_eq!(kvs.len(), 5);
    assert_eq!(read_at, revision);
    assert!(kvs.iter().all(|kv| kv.mod_revision == revision), "{kvs:?}");
    assert_eq!(kvs[0].value_str().expect("utf-8"), "{\"n\":0}");
}

#[tokio::test]
async fn more_than_max_txn_ops_is_refused_and_writes_nothing() {
    let etcd = Etcd::start().await.expect("etcd");
    let store = store_for(&etcd).await;
    let err = store
        .put_all_atomic(&items("/big/", MAX_TXN_OPS + 1))
        .await
        .expect_err("129 ops must be refused");
    assert!(
        matches!(
            err,
            StoreError::TooManyOps {
                count: 129,
                max: 128
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("128"), "{err}");
    assert!(store.list_prefix("/big/").await.expect("list").1.is_empty());
    // Exactly the limit is fine.
    store
        .put_all_atomic(&items("/big/", MAX_TXN_OPS))
        .await
        .expect("128 ops are allowed");
    assert_eq!(store.list_prefix("/big/").await.expect("list").1.len(), 128);
}

#[tokio::test]
async fn get_list_and_delete() {
    let etcd = Etcd::start().await.expect("etcd");
    let store = store_for(&etcd).await;
    assert_eq!(store.get("/mesh/routes/r").await.expect("get"), None);
    store.put("/mesh/routes/r", "one").await.expect("put");
    store.put("/mesh/routes/a", "two").await.expect("put");
    store.put("/mesh/routesX", "outside").await.expect("put");
    let kv = store
        .get("/mesh/routes/r")
        .await
        .expect("get")
        .expect("present");
    assert_eq!(kv.value, b"one");
    assert_eq!(kv.lease, 0);

    let (_, kvs) = store.list_prefix("/mesh/routes/").await.expect("list");
    let keys: Vec<_> = kvs.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(keys, ["/mesh/routes/a", "/mesh/routes/r"]);

    assert!(store.delete("/mesh/routes/r").await.expect("delete"));
    assert!(!store.delete("/mesh/routes/r").await.expect("delete again"));
    assert_eq!(
        store
            .delete_prefix("/mesh/routes/")
            .await
            .expect("delete prefix"),
        1
    );
    assert!(store
        .list_prefix("/mesh/routes/")
        .await
        .expect("list")
        .1
        .is_empty());
    assert!(store.get("/mesh/routesX").await.expect("get").is_some());
}

#[tokio::test]
async fn list_prefix_reads_many_keys_in_pages_at_one_revision() {
    let etcd = Etcd::start().await.expect("etcd");
    let store = store_for(&etcd).await;
    let all = items("/mesh/endpoints/e/", 1200);
    for chunk in all.chunks(MAX_TXN_OPS) {
        store.put_all_atomic(chunk).await.expect("put chunk");
    }
    let (revision, kvs) = store.list_prefix("/mesh/endpoints/").await.expect("list");
    assert_eq!(kvs.len(), 1200);
    assert!(
        kvs.windows(2).all(|w| w[0].key < w[1].key),
        "sorted, no duplicates"
    );
    assert!(kvs.iter().all(|kv| kv.mod_revision <= revision));
    // The empty prefix lists everything.
    assert_eq!(store.list_prefix("").await.expect("list all").1.len(), 1200);
}

#[tokio::test]
async fn registration_lives_while_running_and_goes_at_once_on_revoke() {
    let etcd = Etcd::start().await.expect("etcd");
    let store = store_for(&etcd).await;
    let reg = Registration::start(&store, "/mesh/endpoints/s/e1", "{}", Duration::from_secs(1))
        .await
        .expect("register");
    eprintln!("asked for a 1s TTL, etcd granted {:?}", reg.ttl());
    assert!(reg.ttl() >= Duration::from_secs(1));
    let kv = store
        .get(reg.key())
        .await
        .expect("get")
        .expect("registered");
    assert_eq!(kv.lease, reg.lease_id());

    // Outlive the TTL several times: the keep-alives hold the key. (This
    // sleep does not synchronise anything; it is the duration under test.)
    tokio::time::sleep(reg.ttl() * 3).await;
    assert!(
        store.get(reg.key()).await.expect("get").is_some(),
        "key expired despite keep-alives"
    );
    assert_eq!(reg.regrants(), 0);
    assert!(reg.is_alive());

    let key = reg.key().to_owned();
    reg.revoke().await.expect("revoke");
    assert_eq!(
        store.get(&key).await.expect("get"),
        None,
        "revoke removes the key at once"
    );
}

#[tokio::test]
async fn abandoned_registration_expires_within_its_ttl() {
    let etcd = Etcd::start().await.expect("etcd");
    let store = store_for(&etcd).await;
    let reg = Registration::start(&store, "/mesh/endpoints/s/e2", "{}", Duration::from_secs(2))
        .await
        .expect("register");
    let (key, ttl) = (reg.key().to_owned(), reg.ttl());
    let abandoned = Instant::now();
    reg.abandon(); // as if the process crashed
    eventually(
        "the abandoned key to expire",
        ttl + Duration::from_secs(3),
        || async {
            store
                .get(&key)
                .await
                .map(|kv| kv.is_none())
                .unwrap_or(false)
        },
    )
    .await
    .expect("key expires");
    let took = abandoned.elapsed();
    eprintln!("abandoned key with TTL {ttl:?} gone after {took:?}");
    // etcd checks for expired leases every 500 ms.
    assert!(took <= ttl + Duration::from_millis(1500), "took {took:?}");
}

#[tokio::test]
async fn lost_lease_is_granted_again_and_the_key_put_back() {
    let etcd = Etcd::start().await.expect("etcd");
    let store = store_for(&etcd).await;
    let reg = Registration::start(&store, "/mesh/endpoints/s/e3", "v3", Duration::from_secs(2))
        .await
        .expect("register");
    let first = reg.lease_id();
    let mut client = etcd.client().await.expect("client");
    client
        .lease_revoke(first)
        .await
        .expect("revoke behind its back");
    assert_eq!(store.get(reg.key()).await.expect("get"), None);

    let kv = eventually(
        "the key to be registered again",
        Duration::from_secs(10),
        || async { store.get(reg.key()).await.ok().flatten() },
    )
    .await
    .expect("registered again");
    assert_eq!(kv.value, b"v3");
    assert_ne!(kv.lease, first);
    assert_eq!(kv.lease, reg.lease_id());
    assert_eq!(reg.regrants(), 1);
    reg.revoke().await.expect("revoke");
}

#[tokio::test]
async fn registration_survives_an_etcd_restart() {
    let mut etcd = Etcd::start().await.expect("etcd");
    let store = store_for(&etcd).await;
    let reg = Registration::start(&store, "/mesh/endpoints/s/e4", "v4", Duration::from_secs(2))
        .await
        .expect("register");
    etcd.kill().expect("kill etcd");
    let err = store.get(reg.key()).await.expect_err("etcd is down");
    assert!(err.is_unreachable(), "{err:?}");
    etcd.restart().await.expect("restart etcd");
    eventually(
        "the key after the restart",
        Duration::from_secs(10),
        || async { store.get(reg.key()).await.ok().flatten() },
    )
    .await
    .expect("key back");
    // Keep-alives resumed: the key outlives its TTL after the restart.
    tokio::time::sleep(reg.ttl() * 2).await;
    let kv = store
        .get(reg.key())
        .await
        .expect("get")
        .expect("still registered");
    assert_eq!(kv.lease, reg.lease_id());
    reg.revoke().await.expect("revoke");
}

#[tokio::test]
async fn unreachable_etcd_fails_fast_naming_the_endpoint() {
    let endpoint = format!("http://127.0.0.1:{}", free_port());
    let started = Instant::now();
    let err = Store::connect(StoreSettings::new(vec![endpoint.clone()]))
        .await
        .expect_err("nothing listens there");
    let took = started.elapsed();
    eprintln!("unreachable etcd reported after {took:?}: {err}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert!(err.is_unreachable(), "{err:?}");
    assert!(err.to_string().contains(&endpoint), "{err}");
}

#[tokio::test]
async fn invalid_endpoints_are_not_unreachable() {
    let err = Store::connect(StoreSettings::new(vec![]))
        .await
        .expect_err("no endpoints");
    assert!(
        matches!(err, StoreError::InvalidEndpoints { .. }),
        "{err:?}"
    );
    let err = Store::connect(StoreSettings::new(vec!["http://[bad".into()]))
        .await
        .expect_err("bad URL");
    assert!(
        matches!(err, StoreError::InvalidEndpoints { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    // Accepts TCP connections (kernel backlog) but never speaks HTTP/2.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = format!("http://{}", silent.local_addr().expect("addr"));
    let settings = StoreSettings {
        endpoints: vec![endpoint.clone()],
        connect_timeout: Duration::from_millis(300),
        request_timeout: Duration::from_millis(300),
    };
    let started = Instant::now();
    let err = Store::connect(settings).await.expect_err("no answer");
    let took = started.elapsed();
    eprintln!("silent server reported after {took:?}: {err}");
    assert!(err.is_unreachable(), "{err:?}");
    assert!(err.to_string().contains(&endpoint), "{err}");
    assert!(took < Duration::from_secs(2), "took {took:?}");
}

#[tokio::test]
async fn requests_to_a_killed_etcd_fail_as_unreachable() {
    let mut etcd = Etcd::start().await.expect("etcd");
    let store = store_for(&etcd).await;
    etcd.kill().expect("kill");
    let started = Instant::now();
    let err = store.put("/k", "v").await.expect_err("etcd is down");
    assert!(err.is_unreachable(), "{err:?}");
    assert!(err.to_string().contains(&etcd.endpoint()), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
}
