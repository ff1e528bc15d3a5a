//! A router restarted while every controller is down serves the last table
//! it had, from its state dir, and says so (`mesh_router_table_stale 1`);
//! once a controller is back it follows it again.

use anyhow::{ensure, Context as _, Result};
use mesh_tests::{resources, BackendSpec, Cluster};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn router_restarted_without_controllers_serves_its_state_dir() -> Result<()> {
    let mut cluster = Cluster::builder()
        .controllers(2)
        .routers(1)
        .backends([BackendSpec::new("books", "books-1", "v1")])
        .start()
        .await?;
    let rev = cluster
        .put_json(
            &cluster.key("routes/books"),
            &resources::route("books", "books.example.com", "/", "books"),
        )
        .await?;
    cluster.wait_for_revision(rev).await?;
    // The router saves what it serves shortly after swapping it in (a crash
    // before that restarts with the table before): wait until it is on disk.
    let state = cluster.routers()[0].state_dir().join("table.json");
    mesh_tests::assert_eventually(
        "the state dir to hold the route",
        std::time::Duration::from_secs(10),
        || async {
            let text = std::fs::read_to_string(&state)?;
            let saved: serde_json::Value = serde_json::from_str(&text)?;
            let saved = saved["revision"].as_i64().context("no revision")?;
            ensure!(saved >= rev, "saved revision {saved}, want {rev}");
            Ok::<_, anyhow::Error>(())
        },
    )
    .await?;

    // Every controller dies, then the router crashes and restarts.
    cluster.controller(0).kill()?;
    cluster.controller(1).kill()?;
    cluster.router(0).kill()?;
    cluster.router(0).restart().await?;

    let router = &cluster.routers()[0];
    let served = router
        .revision()
        .await?
        .context("no table after the restart")?;
    ensure!(served >= rev, "serves revision {served}, had {rev} before");
    let a = router.get("books.example.com", "/shelf").await?;
    ensure!(
        a.status == 200 && a.json()?["service"] == "books",
        "{} {}",
        a.status,
        a.body
    );
    let stale = router.metric("mesh_router_table_stale").await?;
    ensure!(
        stale == Some(1.0),
        "mesh_router_table_stale is {stale:?}, want 1"
    );

    // A controller comes back: the router follows it and is no longer stale.
    cluster.controller(1).restart().await?;
    let rev = cluster
        .put_json(
            &cluster.key("routes/more"),
            &resources::route("more", "more.example.com", "/", "books"),
        )
        .await?;
    cluster.wait_for_revision(rev).await?;
    cluster
        .wait_served("more.example.com", "/", |a| {
            ensure!(a.status == 200);
            Ok(())
        })
        .await?;
    let stale = cluster.routers()[0]
        .metric("mesh_router_table_stale")
        .await?;
    ensure!(
        stale == Some(0.0),
        "mesh_router_table_stale is {stale:?} after a controller came back"
    );
    Ok(())
}
