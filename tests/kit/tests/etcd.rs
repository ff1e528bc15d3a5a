//! Tests of [`mesh_testkit::Etcd`] against the real etcd binary.

use std::time::{Duration, Instant};

use mesh_testkit::{eventually, pid_exists, Etcd};

#[tokio::test]
async fn starts_and_serves_put_get() {
    let started = Instant::now();
    let etcd = Etcd::start().await.expect("etcd should start");
    eprintln!("etcd ready in {:?}", started.elapsed());
    assert!(etcd.endpoint().starts_with("http://127.0.0.1:"));
    let mut client = etcd.client().await.expect("client");
    client.put("/k", "v", None).await.expect("put");
    let resp = client.get("/k", None).await.expect("get");
    assert_eq!(resp.kvs().len(), 1);
    assert_eq!(resp.kvs()[0].value(), b"v");
}

#[tokio::test]
async fn kill_and_restart_keep_data() {
    let mut etcd = Etcd::start().await.expect("etcd should start");
    let endpoint = etcd.endpoint();
    let mut client = etcd.client().await.expect("client");
    client.put("/kept", "yes", None).await.expect("put");
    let old_pid = etcd.pid().expect("running");

    etcd.kill().expect("kill");
    assert!(!pid_exists(old_pid), "killed etcd {old_pid} still exists");
    assert!(etcd.pid().is_none());
    assert!(
        client.get("/kept", None).await.is_err(),
        "a killed etcd must not answer"
    );

    let started = Instant::now();
    etcd.restart().await.expect("restart");
    eprintln!("etcd restarted in {:?}", started.elapsed());
    assert_eq!(etcd.endpoint(), endpoint, "restart keeps the ports");
    // The old client reconnects by itself.
    let value = eventually(
        "the old client to read /kept",
        Duration::from_secs(10),
        || {
            let mut client = client.clone();
            async move {
                let resp = client.get("/kept", None).await?;
                anyhow::Ok(resp.kvs().first().map(|kv| kv.value().to_vec()))
            }
        },
    )
    .await
    .expect("data survives a restart");
    assert_eq!(value.as_deref(), Some(&b"yes"[..]));
}

#[tokio::test]
async fn drop_leaves_no_process_and_no_data_dir() {
    let etcd = Etcd::start().await.expect("etcd should start");
    let pid = etcd.pid().expect("running");
    let data_dir = etcd.data_dir();
    assert!(pid_exists(pid));
    assert!(data_dir.exists());
    drop(etcd);
    assert!(!pid_exists(pid), "etcd {pid} survived the drop");
    assert!(
        !data_dir.exists(),
        "data dir {} survived",
        data_dir.display()
    );
}

#[tokio::test]
async fn drop_during_a_panic_kills_etcd() {
    let etcd = Etcd::start().await.expect("etcd should start");
    let pid = etcd.pid().expect("running");
    let result = tokio::spawn(async move {
        let _etcd = etcd;
        panic!("simulated test failure");
    })
    .await;
    assert!(result.is_err(), "the task panicked");
    assert!(!pid_exists(pid), "etcd {pid} survived a panicking test");
}

#[tokio::test]
async fn logs_are_captured() {
    let etcd = Etcd::start().await.expect("etcd should start");
    assert!(etcd.log_path().exists());
    // With --log-level warn etcd still warns about simple tokens at start.
    let _ = etcd.logs();
}

#[tokio::test]
async fn two_servers_get_distinct_ports() {
    let (a, b) = tokio::join!(Etcd::start(), Etcd::start());
    let (a, b) = (a.expect("first etcd"), b.expect("second etcd"));
    assert_ne!(a.endpoint(), b.endpoint());
    let mut ca = a.client().await.expect("client a");
    let mut cb = b.client().await.expect("client b");
    ca.put("/only-a", "1", None).await.expect("put");
    let resp = cb.get("/only-a", None).await.expect("get");
    assert!(resp.kvs().is_empty(), "servers must be independent");
}
