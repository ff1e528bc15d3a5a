//! An invalid resource written straight into etcd: its status says why
//! (also in `meshctl status`), and everything else keeps being served and
//! updated.

use anyhow::{ensure, Context as _, Result};
use mesh_tests::{resources, BackendSpec, Cluster};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_resource_is_rejected_with_a_reason_and_the_rest_serves() -> Result<()> {
    let mut cluster = Cluster::builder()
        .controllers(1)
        .routers(2)
        .backends([BackendSpec::new("pay", "pay-1", "v1")])
        .start()
        .await?;
    let good = cluster.key("routes/good");
    let rev = cluster
        .put_json(
            &good,
            &resources::route("good", "pay.example.com", "/", "pay"),
        )
        .await?;
    cluster.wait_for_revision(rev).await?;

    // One semantically invalid Route and one that is not even JSON.
    let bad = json!({
        "kind": "Route",
        "name": "bad",
        "spec": {"hostnames": ["bad.example.com"], "rules": [{"backendRefs": [{"name": "pay", "weight": 2000000}]}]}
    });
    cluster.put_json(&cluster.key("routes/bad"), &bad).await?;
    // Rejected resources leave the table as it was, so no new table is
    // published for them: wait for their statuses instead.
    cluster
        .put_raw(&cluster.key("routes/garbage"), "{not json")
        .await?;

    let status = mesh_testkit::eventually(
        "the status of route bad",
        std::time::Duration::from_secs(10),
        || async {
            cluster
                .resource_status("routes", "bad")
                .await?
                .context("no status yet")
        },
    )
    .await?;
    ensure!(status["state"] == "rejected", "status {status}");
    let reasons = status["reasons"].to_string();
    ensure!(
        reasons.contains("weight") && reasons.contains("must be between 0 and 1000000"),
        "the reasons do not say why: {reasons}"
    );
    let garbage = mesh_testkit::eventually(
        "the status of route garbage",
        std::time::Duration::from_secs(10),
        || async {
            cluster
                .resource_status("routes", "garbage")
                .await?
                .context("no status yet")
        },
    )
    .await?;
    ensure!(garbage["state"] == "rejected", "status {garbage}");

    // meshctl status lists both with their reasons.
    let out = cluster.meshctl()?.arg("status").output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    ensure!(
        text.contains("bad") && text.contains("1000000"),
        "meshctl status:\n{text}"
    );
    ensure!(text.contains("garbage"), "meshctl status:\n{text}");

    // Everything else keeps serving: the good route, and the rejected one's
    // hostname is not routed.
    for r in cluster.routers() {
        let a = r.get("pay.example.com", "/checkout").await?;
        ensure!(
            a.status == 200,
            "{}: good route answered {}",
            r.name(),
            a.status
        );
        let b = r.get("bad.example.com", "/").await?;
        ensure!(
            b.status == 404,
            "{}: rejected route answered {}",
            r.name(),
            b.status
        );
    }
    // ...and keeps being updated.
    let rev = cluster
        .put_json(
            &cluster.key("routes/later"),
            &resources::route("later", "later.example.com", "/", "pay"),
        )
        .await?;
    cluster.wait_for_revision(rev).await?;
    cluster
        .wait_served("later.example.com", "/", |a| {
            ensure!(a.status == 200);
            Ok(())
        })
        .await?;

    // Fixing the resource brings it in.
    let fixed = json!({
        "kind": "Route",
        "name": "bad",
        "spec": {"hostnames": ["bad.example.com"], "rules": [{"backendRefs": [{"name": "pay", "weight": 10}]}]}
    });
    cluster.put_json(&cluster.key("routes/bad"), &fixed).await?;
    cluster
        .wait_served("bad.example.com", "/", |a| {
            ensure!(a.status == 200);
            Ok(())
        })
        .await?;
    Ok(())
}
