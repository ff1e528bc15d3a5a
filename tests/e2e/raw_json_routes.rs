//! A Route written as raw JSON straight into etcd (no meshctl) is served by
//! every router; updating and deleting it takes effect on every router.

use anyhow::{ensure, Result};
use mesh_tests::{BackendSpec, Cluster};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_json_route_is_served_updated_and_deleted_on_every_router() -> Result<()> {
    let mut cluster = Cluster::builder()
        .controllers(1)
        .routers(2)
        .backends([
            BackendSpec::new("shop", "shop-1", "v1"),
            BackendSpec::new("cart", "cart-1", "v1"),
        ])
        .start()
        .await?;
    let key = cluster.key("routes/storefront");

    // Before the route exists the host is unknown to every router.
    for r in cluster.routers() {
        let a = r.get("store.example.com", "/items").await?;
        ensure!(
            a.status == 404,
            "{}: {} before the route exists",
            r.name(),
            a.status
        );
    }

    // Raw JSON, as any tool (or etcdctl) would write it.
    let raw = r#"{"kind":"Route","name":"storefront","spec":{"hostnames":["store.example.com"],"rules":[{"matches":[{"path":{"type":"PathPrefix","value":"/items"}}],"backendRefs":[{"name":"shop"}]}]}}"#;
    let rev = cluster.put_raw(&key, raw).await?;
    cluster.wait_for_revision(rev).await?;
    for r in cluster.routers() {
        let a = r.get("store.example.com", "/items/42").await?;
        ensure!(a.status == 200, "{}: {} {}", r.name(), a.status, a.body);
        ensure!(a.json()?["service"] == "shop", "{}: {}", r.name(), a.body);
        let other = r.get("store.example.com", "/other").await?;
        ensure!(
            other.status == 404,
            "{}: /other answered {}",
            r.name(),
            other.status
        );
    }

    // Update: the same path now goes to another service.
    let raw = raw.replace(r#""name":"shop""#, r#""name":"cart""#);
    let rev = cluster.put_raw(&key, &raw).await?;
    cluster.wait_for_revision(rev).await?;
    for r in cluster.routers() {
        let a = r.get("store.example.com", "/items/42").await?;
        ensure!(
            a.status == 200 && a.json()?["service"] == "cart",
            "{}: {} {}",
            r.name(),
            a.status,
            a.body
        );
    }

    // Delete: the host is unknown again everywhere.
    let rev = cluster.delete(&key).await?;
    cluster.wait_for_revision(rev).await?;
    for r in cluster.routers() {
        let a = r.get("store.example.com", "/items/42").await?;
        ensure!(
            a.status == 404,
            "{}: {} after the delete",
            r.name(),
            a.status
        );
    }
    Ok(())
}
