//! The `mesh-router` binary's shutdown: SIGTERM drains (requests in flight
//! finish), SIGINT stops at once. The router serves a table from its state
//! dir, with no controller reachable.

mod common;

use anyhow::{ensure, Context as _, Result};
use common::{Backend, Http, TableBuilder};
use mesh_testkit::{eventually, free_port, ChildGuard, Signal};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Starts the binary on free ports serving a table that sends `slow.test`
/// to `backend`; returns the process and the listen and admin URLs.
async fn start(backend: &Backend, state: &std::path::Path) -> Result<(ChildGuard, String, String)> {
    let table = TableBuilder::new()
        .service("slow", &[backend])
        .route(
            "slow",
            serde_json::json!({"hostnames": ["slow.test"], "rules": [{"backendRefs": [{"name": "slow"}]}]}),
        )
        .build(7);
    mesh_router::sync::save_state(state, &table)?;
    let (listen, admin) = (free_port(), free_port());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mesh-router"));
    cmd.args([
        "--listen",
        &format!("127.0.0.1:{listen}"),
        "--admin",
        &format!("127.0.0.1:{admin}"),
        "--controllers",
        &format!("http://127.0.0.1:{}", free_port()),
        "--state-dir",
    ])
    .arg(state)
    .args(["--grace-period", "3s", "--id", "shutdown-test"])
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    let child = ChildGuard::spawn("mesh-router", &mut cmd)?;
    let admin_url = format!("http://127.0.0.1:{admin}/ready");
    let http = Http::new();
    eventually(
        "the router to be ready",
        Duration::from_secs(20),
        || async {
            let a = http.get(&admin_url, "").await?;
            ensure!(a.status == 200, "{} {}", a.status, a.body);
            Ok(())
        },
    )
    .await?;
    Ok((child, format!("http://127.0.0.1:{listen}/"), admin_url))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_requests_in_flight_finish() -> Result<()> {
    let backend = Backend::start("slow").await;
    let state = tempfile::tempdir()?;
    let (mut router, url, _) = start(&backend, state.path()).await?;
    backend.set_delay(Duration::from_millis(1500));
    let http = Http::new();
    let in_flight = tokio::spawn({
        let (http, url) = (http.clone(), url.clone());
        async move { http.get(&url, "slow.test").await }
    });
    eventually(
        "the request to reach the backend",
        Duration::from_secs(10),
        || async { backend.hits() >= 1 },
    )
    .await?;
    router.signal(Signal::Term)?;
    // Draining: new connections are refused while the request finishes.
    let addr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    eventually("the listener to close", Duration::from_secs(3), || {
        let addr = addr.clone();
        async move { tokio::net::TcpStream::connect(addr).await.is_err() }
    })
    .await?;
    let answer = in_flight.await?.context("the request in flight failed")?;
    assert_eq!((answer.status, answer.body.as_str()), (200, "slow"));
    let status = router
        .wait_timeout_async(Duration::from_secs(15))
        .await?
        .context("the router did not exit after draining")?;
    assert!(status.success(), "{status}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_stops_at_once() -> Result<()> {
    let backend = Backend::start("slow").await;
    let state = tempfile::tempdir()?;
    let (mut router, url, _) = start(&backend, state.path()).await?;
    backend.set_delay(Duration::from_secs(8));
    let http = Http::new();
    let in_flight = tokio::spawn(async move { http.get(&url, "slow.test").await });
    eventually(
        "the request to reach the backend",
        Duration::from_secs(10),
        || async { backend.hits() >= 1 },
    )
    .await?;
    let sent = Instant::now();
    router.signal(Signal::Int)?;
    router
        .wait_timeout_async(Duration::from_secs(5))
        .await?
        .context("the router did not stop within 5 s of SIGINT")?;
    assert!(
        sent.elapsed() < Duration::from_secs(5),
        "{:?}",
        sent.elapsed()
    );
    // The slow request did not get its answer.
    let answer = in_flight.await?;
    assert!(answer.map(|a| a.status != 200).unwrap_or(true));
    Ok(())
}
