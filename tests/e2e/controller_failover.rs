//! Killing the controller: routers keep serving what they have; the second
//! controller takes over the push; a restarted controller resumes it.

use anyhow::{ensure, Result};
use mesh_tests::{resources, BackendSpec, Cluster};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routers_survive_a_controller_kill_and_follow_the_survivor() -> Result<()> {
    let mut cluster = Cluster::builder()
        .controllers(2)
        .routers(2)
        .backends([BackendSpec::new("web", "web-1", "v1")])
        .start()
        .await?;
    let served = |path: &'static str| {
        move |a: &mesh_tests::Answer| {
            ensure!(a.status == 200, "{path} not served");
            Ok(())
        }
    };
    let rev = cluster
        .put_json(
            &cluster.key("routes/one"),
            &resources::route("one", "web.example.com", "/one", "web"),
        )
        .await?;
    cluster.wait_for_revision(rev).await?;
    cluster
        .wait_served("web.example.com", "/one", served("/one"))
        .await?;

    // Routers prefer the first controller; kill it without warning.
    cluster.controller(0).kill()?;
    // Routers keep serving the table they have, at once and throughout.
    for _ in 0..20 {
        for r in cluster.routers() {
            let a = r.get("web.example.com", "/one").await?;
            ensure!(
                a.status == 200,
                "{} stopped serving after the kill: {}",
                r.name(),
                a.status
            );
        }
    }
    // A change now reaches every router through the second controller.
    let rev = cluster
        .put_json(
            &cluster.key("routes/two"),
            &resources::route("two", "web.example.com", "/two", "web"),
        )
        .await?;
    cluster.wait_for_revision(rev).await?;
    cluster
        .wait_served("web.example.com", "/two", served("/two"))
        .await?;

    // The first controller comes back; then the second dies. Changes keep
    // coming, now from the restarted one.
    cluster.controller(0).restart().await?;
    cluster.controller(1).kill()?;
    let rev = cluster
        .put_json(
            &cluster.key("routes/three"),
            &resources::route("three", "web.example.com", "/three", "web"),
        )
        .await?;
    cluster.wait_for_revision(rev).await?;
    cluster
        .wait_served("web.example.com", "/three", served("/three"))
        .await?;
    for path in ["/one", "/two"] {
        cluster
            .wait_served("web.example.com", path, served("/still"))
            .await?;
    }
    Ok(())
}
