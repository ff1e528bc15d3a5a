//! An Endpoint registered with `meshctl register` appears on every router,
//! and disappears when the registration dies (its lease expires) or stops
//! (its key is deleted at once).

use anyhow::{ensure, Result};
use mesh_tests::{resources, BackendSpec, Cluster};
use std::time::Duration;

/// Starts `meshctl register` for backend `index` of the cluster as endpoint
/// `name` of Service `api`, with lease `ttl`.
fn register(
    cluster: &Cluster,
    index: usize,
    name: &str,
    ttl: &str,
) -> Result<mesh_tests::cluster::Process> {
    let port = cluster.backend(index).port().to_string();
    let mut cmd = cluster.meshctl()?;
    cmd.args([
        "register",
        "--service",
        "api",
        "--address",
        "127.0.0.1",
        "--port",
        &port,
    ])
    .args(["--name", name, "--ttl", ttl]);
    cluster.spawn(&format!("register-{name}"), cmd)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registered_endpoint_appears_and_goes_with_its_lease() -> Result<()> {
    let mut cluster = Cluster::builder()
        .controllers(1)
        .routers(2)
        .backends([
            BackendSpec::new("api", "api-1", "v1"),
            BackendSpec::new("api", "api-2", "v2"),
        ])
        .register_backends(false)
        .start()
        .await?;
    cluster
        .put_json(&cluster.key("services/api"), &resources::service("api"))
        .await?;
    let rev = cluster
        .put_json(
            &cluster.key("routes/api"),
            &resources::route("api", "api.example.com", "/", "api"),
        )
        .await?;
    cluster.wait_for_revision(rev).await?;
    // The Service has no endpoints yet: 503.
    cluster
        .wait_served("api.example.com", "/", |a| {
            ensure!(a.status == 503, "expected 503 without endpoints");
            Ok(())
        })
        .await?;

    // Register api-1 with a short lease; the process keeps it alive.
    let mut registration = register(&cluster, 0, "api-1", "2s")?;
    cluster
        .wait_served("api.example.com", "/", |a| {
            ensure!(a.status == 200 && a.header("x-demo-instance") == Some("api-1"));
            Ok(())
        })
        .await?;
    ensure!(
        cluster
            .get_json(&cluster.key("endpoints/api/api-1"))
            .await?
            .is_some(),
        "the endpoint key is missing while registered"
    );

    // The registration crashes (SIGKILL: no chance to delete its key). The
    // endpoint stays until the lease expires, then disappears everywhere.
    registration.kill()?;
    let killed = std::time::Instant::now();
    cluster
        .wait_served("api.example.com", "/", |a| {
            ensure!(a.status == 503, "the endpoint is still routed to");
            Ok(())
        })
        .await?;
    let gone_after = killed.elapsed();
    ensure!(
        cluster
            .get_json(&cluster.key("endpoints/api/api-1"))
            .await?
            .is_none(),
        "the endpoint key survived its lease"
    );
    println!(
        "endpoint gone from every router {gone_after:?} after its registration was killed (ttl 2s)"
    );

    // A registration stopped with SIGTERM removes its endpoint at once (no
    // lease wait): api-2 with a long ttl.
    let mut registration = register(&cluster, 1, "api-2", "60s")?;
    cluster
        .wait_served("api.example.com", "/", |a| {
            ensure!(a.status == 200 && a.header("x-demo-instance") == Some("api-2"));
            Ok(())
        })
        .await?;
    let status = registration
        .stop_with(mesh_testkit::Signal::Term, Duration::from_secs(10))
        .await?;
    ensure!(
        status.success(),
        "meshctl register exited with {status} on SIGTERM"
    );
    ensure!(
        cluster
            .get_json(&cluster.key("endpoints/api/api-2"))
            .await?
            .is_none(),
        "SIGTERM left the endpoint key behind (its 60s lease would keep it)"
    );
    cluster
        .wait_served("api.example.com", "/", |a| {
            ensure!(a.status == 503, "api-2 is still routed to");
            Ok(())
        })
        .await?;
    Ok(())
}
