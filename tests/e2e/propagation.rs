//! Propagation time: from the etcd put of a changed Route until every router
//! serves it, over 100 updates; p50 / p99 / max printed.
//!
//! ```text
//! cargo test --release -p mesh-tests --test propagation -- --nocapture
//! MESH_PROP_ROUTERS=10 MESH_PROP_ROUTES=10000 cargo test --release -p mesh-tests --test propagation -- --nocapture
//! ```
//!
//! Knobs (environment): `MESH_PROP_ROUTERS` (default 2), `MESH_PROP_ROUTES`
//! (other routes in the table, default 10), `MESH_PROP_UPDATES` (default
//! 100). Each update moves the measured route to a new path `/gen-<i>`; a
//! router serves it when `GET /gen-<i>` answers 200 instead of 404. Every
//! router is polled on its own about every millisecond, so the resolution is
//! about a millisecond plus one request.

use anyhow::{ensure, Context as _, Result};
use etcd_client::{Txn, TxnOp};
use mesh_tests::{resources, BackendSpec, Cluster, RouterProcess};
use std::time::{Duration, Instant};

fn knob(name: &str, default: usize) -> Result<usize> {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .with_context(|| format!("{name}={v:?} is not a number")),
        Err(_) => Ok(default),
    }
}

/// Writes `count` routes (`filler-<i>`, host `filler-<i>.example.com`) in
/// transactions of 100 puts (etcd's default limit is 128 per transaction).
async fn fill(cluster: &Cluster, count: usize) -> Result<i64> {
    let mut client = cluster.client();
    let mut revision = 0;
    let ids: Vec<usize> = (0..count).collect();
    for chunk in ids.chunks(100) {
        let ops: Vec<TxnOp> = chunk
            .iter()
            .map(|i| {
                let name = format!("filler-{i}");
                let host = format!("{name}.example.com");
                TxnOp::put(
                    cluster.key(&format!("routes/{name}")),
                    resources::route(&name, &host, "/", "echo").to_string(),
                    None,
                )
            })
            .collect();
        let resp = client.txn(Txn::new().and_then(ops)).await?;
        revision = resp.header().context("txn without header")?.revision();
    }
    Ok(revision)
}

/// Time until `router` answers 200 for `path` (polled about every ms).
async fn served_after(
    router: (String, std::net::SocketAddr),
    path: String,
    t0: Instant,
) -> Result<Duration> {
    let deadline = t0 + mesh_tests::scaled(Duration::from_secs(30));
    loop {
        let a = mesh_tests::http::get(router.1, "prop.example.com", &path).await?;
        if a.status == 200 {
            return Ok(t0.elapsed());
        }
        ensure!(
            a.status == 404,
            "{}: {path} answered {} {}",
            router.0,
            a.status,
            a.body
        );
        ensure!(
            Instant::now() < deadline,
            "{}: {path} not served after 30 s",
            router.0
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn propagation_from_etcd_put_to_every_router() -> Result<()> {
    let routers = knob("MESH_PROP_ROUTERS", 2)?;
    let routes = knob("MESH_PROP_ROUTES", 10)?;
    let updates = knob("MESH_PROP_UPDATES", 100)?.max(1);
    let mut cluster = Cluster::builder()
        .controllers(2)
        .routers(routers)
        .backends([BackendSpec::new("echo", "echo-1", "v1")])
        .start()
        .await?;
    let filled = Instant::now();
    let rev = fill(&cluster, routes).await?;
    cluster.wait_for_revision(rev).await?;
    println!(
        "table of {routes} routes written and served by {routers} routers in {:?}",
        filled.elapsed()
    );

    let key = cluster.key("routes/prop");
    let targets: Vec<(String, std::net::SocketAddr)> = cluster
        .routers()
        .iter()
        .map(|r: &RouterProcess| (r.name().to_owned(), r.addr()))
        .collect();
    let mut times = Vec::with_capacity(updates);
    for i in 0..updates {
        let path = format!("/gen-{i}");
        let route = resources::route("prop", "prop.example.com", &path, "echo");
        let t0 = Instant::now();
        cluster.put_json(&key, &route).await?;
        let waits: Vec<_> = targets
            .iter()
            .map(|t| tokio::spawn(served_after(t.clone(), path.clone(), t0)))
            .collect();
        let mut slowest = Duration::ZERO;
        for w in waits {
            slowest = slowest.max(w.await??);
        }
        times.push(slowest);
    }
    times.sort();
    let (p50, p99, max) = (
        percentile(&times, 50.0),
        percentile(&times, 99.0),
        times[times.len() - 1],
    );
    println!(
        "propagation etcd put -> every router serving: routers={routers} routes={routes} updates={updates} \
         p50={:.1}ms p99={:.1}ms max={:.1}ms min={:.1}ms",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        max.as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
    );
    ensure!(
        p99 < mesh_tests::scaled(Duration::from_secs(5)),
        "p99 propagation {p99:?} is over 5 s"
    );
    Ok(())
}
