//! The controller end to end: real etcd, the controller in-process, a
//! subscriber speaking the router protocol.

use anyhow::{bail, ensure, Context as _, Result};
use etcd_client::{Client, CompactionOptions};
use mesh_config::table::{PartId, RouteTable};
use mesh_config::wire::{Outcome, Report};
use mesh_controller::app::{self, Handle, Settings};
use mesh_controller::client::{report, Subscription, TableFollower};
use mesh_controller::status::{ResourceStatus, RouterStatus, State};
use mesh_testkit::{eventually, Etcd};
use std::time::Duration;
use tokio::sync::oneshot;

/// A controller running in this process until dropped (or stopped).
struct Controller {
    handle: Option<Handle>,
    stop: Option<oneshot::Sender<()>>,
}

impl Controller {
    async fn start(etcd: &Etcd) -> Result<Controller> {
        let (stop, stopped) = oneshot::channel::<()>();
        let mut settings = Settings::new(
            vec![etcd.endpoint()],
            "/mesh".to_owned(),
            "127.0.0.1:0".parse()?,
        );
        settings.heartbeat = Duration::from_millis(500);
        settings.status_lease_ttl = Duration::from_secs(3);
        settings.backoff_max = Duration::from_millis(500);
        let handle = app::run(settings, async move {
            let _ = stopped.await;
        })
        .await?;
        Ok(Controller {
            handle: Some(handle),
            stop: Some(stop),
        })
    }

    fn handle(&self) -> &Handle {
        self.handle.as_ref().expect("running")
    }

    fn url(&self) -> String {
        self.handle().url()
    }

    async fn stop(mut self) -> Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(handle) = self.handle.take() {
            tokio::time::timeout(Duration::from_secs(15), handle.wait())
                .await
                .context("controller did not stop within 15 s")??;
        }
        Ok(())
    }

    async fn get(&self, path: &str) -> Result<(u16, String)> {
        http_get(&format!("{}{path}", self.url())).await
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// GET `url`: status and body.
async fn http_get(url: &str) -> Result<(u16, String)> {
    Ok(mesh_controller::client::get(url, Duration::from_secs(5)).await?)
}

/// A subscriber that follows the controller's table as a router would.
struct Follower {
    sub: Subscription,
    table: TableFollower,
}

impl Follower {
    async fn connect(controller: &Controller, id: &str) -> Result<Follower> {
        Ok(Follower {
            sub: Subscription::connect(&controller.url(), id, Duration::from_secs(5)).await?,
            table: TableFollower::new(),
        })
    }

    /// Reads messages until `done(table)` holds.
    async fn until(
        &mut self,
        what: &str,
        timeout: Duration,
        mut done: impl FnMut(&RouteTable) -> bool,
    ) -> Result<RouteTable> {
        let deadline = tokio::time::Instant::now() + mesh_testkit::scaled(timeout);
        loop {
            if let Some(t) = self.table.table() {
                if done(t) {
                    return Ok(t.clone());
                }
            }
            let msg = tokio::time::timeout_at(deadline, self.sub.next())
                .await
                .with_context(|| format!("timed out waiting for {what}"))??
                .context("stream closed")?;
            self.table.apply(msg)?;
        }
    }
}

fn route_json(name: &str, host: &str, backend: &str) -> String {
    format!(
        r#"{{"kind":"Route","name":"{name}","spec":{{"hostnames":["{host}"],"rules":[{{"backendRefs":[{{"name":"{backend}"}}]}}]}}}}"#
    )
}

fn service_json(name: &str) -> String {
    format!(r#"{{"kind":"Service","name":"{name}"}}"#)
}

async fn put(client: &mut Client, key: &str, value: &str) -> Result<i64> {
    let resp = client.put(key, value, None).await?;
    Ok(resp.header().context("header")?.revision())
}

fn has_route(t: &RouteTable, name: &str) -> bool {
    t.parts.contains_key(&PartId::Route(name.to_owned()))
}

async fn resource_status(client: &mut Client, key: &str) -> Result<Option<ResourceStatus>> {
    let resp = client.get(key, None).await?;
    match resp.kvs().first() {
        None => Ok(None),
        Some(kv) => Ok(Some(serde_json::from_slice(kv.value())?)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_put_at_revision_n_reaches_the_subscriber_at_n() -> Result<()> {
    let etcd = Etcd::start().await?;
    let mut client = etcd.client().await?;
    put(
        &mut client,
        "/mesh/services/orders",
        &service_json("orders"),
    )
    .await?;
    let controller = Controller::start(&etcd).await?;
    let mut follower = Follower::connect(&controller, "r1").await?;
    let first = follower
        .until("the first table", Duration::from_secs(10), |t| {
            t.services().count() == 1
        })
        .await?;
    assert!(first.routes().next().is_none());

    let n = put(
        &mut client,
        "/mesh/routes/shop",
        &route_json("shop", "shop.example.com", "orders"),
    )
    .await?;
    let t = follower
        .until("revision N", Duration::from_secs(10), |t| t.revision >= n)
        .await?;
    assert_eq!(
        t.revision, n,
        "the table is versioned by the etcd revision of the put"
    );
    assert!(has_route(&t, "shop"));

    // Deleting is a change too.
    let resp = client.delete("/mesh/routes/shop", None).await?;
    let d = resp.header().context("header")?.revision();
    let t = follower
        .until("the delete", Duration::from_secs(10), |t| t.revision >= d)
        .await?;
    assert!(!has_route(&t, "shop"));

    // /ready, /live, /metrics say so.
    let (code, body) = controller.get("/ready").await?;
    assert_eq!(code, 200, "{body}");
    let (code, _) = controller.get("/live").await?;
    assert_eq!(code, 200);
    let (_, metrics) = controller.get("/metrics").await?;
    for name in [
        "mesh_controller_etcd_revision",
        "mesh_controller_compile_seconds_bucket",
        "mesh_controller_resources{kind=\"service\",state=\"accepted\"} 1",
        "mesh_controller_routers_connected 1",
    ] {
        assert!(metrics.contains(name), "{name} missing from:\n{metrics}");
    }
    controller.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_1000_puts_ends_at_the_final_revision_in_few_compiles() -> Result<()> {
    let etcd = Etcd::start().await?;
    let client = etcd.client().await?;
    let controller = Controller::start(&etcd).await?;
    let mut follower = Follower::connect(&controller, "r1").await?;
    follower
        .until("the empty table", Duration::from_secs(10), |_| true)
        .await?;
    let compiles_before = controller.handle().metrics().compiles.get();

    // 1,000 puts from 20 concurrent writers, as fast as etcd takes them.
    let mut writers = Vec::new();
    for w in 0..20 {
        let mut c = client.clone();
        writers.push(tokio::spawn(async move {
            let mut last = 0;
            for i in 0..50 {
                let name = format!("r-{w}-{i}");
                last = put(
                    &mut c,
                    &format!("/mesh/routes/{name}"),
                    &route_json(&name, "a.example.com", "s"),
                )
                .await?;
            }
            anyhow::Ok(last)
        }));
    }
    let mut last = 0;
    for w in writers {
        last = last.max(w.await??);
    }
    let t = follower
        .until("the final revision", Duration::from_secs(30), |t| {
            t.revision >= last
        })
        .await?;
    assert_eq!(t.routes().count(), 1000);
    assert_eq!(t.revision, last);
    let compiles = controller.handle().metrics().compiles.get() - compiles_before;
    println!("1000 puts: {compiles} compiles");
    assert!(
        compiles < 500,
        "{compiles} compiles for 1000 puts: not coalesced"
    );
    controller.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn converges_after_compaction_and_new_writes() -> Result<()> {
    let etcd = Etcd::start().await?;
    let mut client = etcd.client().await?;
    let controller = Controller::start(&etcd).await?;
    let mut follower = Follower::connect(&controller, "r1").await?;
    let mut rev = 0;
    for i in 0..20 {
        rev = put(
            &mut client,
            "/mesh/routes/churn",
            &route_json("churn", &format!("h{i}.example.com"), "s"),
        )
        .await?;
    }
    client
        .compact(rev, Some(CompactionOptions::new().with_physical()))
        .await?;
    let n = put(
        &mut client,
        "/mesh/routes/after",
        &route_json("after", "after.example.com", "s"),
    )
    .await?;
    let t = follower
        .until("the write after compaction", Duration::from_secs(15), |t| {
            t.revision >= n
        })
        .await?;
    assert!(has_route(&t, "after") && has_route(&t, "churn"));
    controller.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_and_restarting_etcd_loses_no_update() -> Result<()> {
    let mut etcd = Etcd::start().await?;
    let mut client = etcd.client().await?;
    put(
        &mut client,
        "/mesh/routes/before",
        &route_json("before", "b.example.com", "s"),
    )
    .await?;
    let controller = Controller::start(&etcd).await?;
    let mut follower = Follower::connect(&controller, "r1").await?;
    follower
        .until("the route written before", Duration::from_secs(10), |t| {
            has_route(t, "before")
        })
        .await?;

    etcd.kill()?;
    // The controller says etcd is gone, and keeps serving its table.
    eventually(
        "/ready to report etcd unreachable",
        Duration::from_secs(20),
        || async {
            let (code, body) = controller.get("/ready").await?;
            ensure!(code == 503 && body.contains("etcd"), "{code} {body}");
            Ok(())
        },
    )
    .await?;
    let (_, table) = controller.get("/v1/table").await?;
    assert!(table.contains("before"), "still serving the last table");

    etcd.restart().await?;
    let mut client = etcd.client().await?;
    let n = put(
        &mut client,
        "/mesh/routes/after",
        &route_json("after", "a.example.com", "s"),
    )
    .await?;
    let t = follower
        .until(
            "the write after the restart",
            Duration::from_secs(30),
            |t| t.revision >= n,
        )
        .await?;
    assert!(has_route(&t, "before") && has_route(&t, "after"));
    eventually("/ready again", Duration::from_secs(20), || async {
        let (code, body) = controller.get("/ready").await?;
        ensure!(code == 200, "{code} {body}");
        Ok(())
    })
    .await?;
    controller.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_route_is_rejected_and_everything_else_keeps_serving() -> Result<()> {
    let etcd = Etcd::start().await?;
    let mut client = etcd.client().await?;
    put(
        &mut client,
        "/mesh/services/orders",
        &service_json("orders"),
    )
    .await?;
    put(
        &mut client,
        "/mesh/routes/good",
        &route_json("good", "good.example.com", "orders"),
    )
    .await?;
    let controller = Controller::start(&etcd).await?;
    let mut follower = Follower::connect(&controller, "r1").await?;
    let before = follower
        .until("the good table", Duration::from_secs(10), |t| {
            has_route(t, "good")
        })
        .await?;

    let bad = r#"{"kind":"Route","name":"bad","spec":{"hostnames":["Not_A_Host"],"rules":[{"backendRefs":[{"name":"orders","weight":-1}]}]}}"#;
    let n = put(&mut client, "/mesh/routes/bad", bad).await?;
    let status = eventually("the rejection status", Duration::from_secs(10), || {
        let mut c = client.clone();
        async move {
            resource_status(&mut c, "/mesh/status/resources/routes/bad")
                .await?
                .context("no status yet")
        }
    })
    .await?;
    assert_eq!(status.state, State::Rejected);
    assert_eq!(status.revision, n);
    assert!(
        status
            .reasons
            .iter()
            .any(|r| r.contains("spec.hostnames[0]")),
        "{status:?}"
    );
    assert!(
        status
            .reasons
            .iter()
            .any(|r| r.contains("spec.rules[0].backendRefs[0].weight")),
        "{status:?}"
    );

    // The rest of the table is exactly what it was.
    let good = resource_status(&mut client, "/mesh/status/resources/routes/good").await?;
    assert_eq!(good.map(|s| s.state), Some(State::Accepted));
    let (_, table) = controller.get("/v1/table").await?;
    let now: RouteTable = serde_json::from_str(&table)?;
    assert_eq!(now.hash(), before.hash());

    // A backendRef to a missing service: accepted, and the status says why.
    put(
        &mut client,
        "/mesh/routes/dangling",
        &route_json("dangling", "d.example.com", "nowhere"),
    )
    .await?;
    let status = eventually(
        "the dangling route's status",
        Duration::from_secs(10),
        || {
            let mut c = client.clone();
            async move {
                resource_status(&mut c, "/mesh/status/resources/routes/dangling")
                    .await?
                    .context("no status yet")
            }
        },
    )
    .await?;
    assert_eq!(status.state, State::Accepted);
    assert!(
        status.reasons.iter().any(|r| r.contains("nowhere")),
        "{status:?}"
    );

    // meshctl status shows both, with their reasons.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_meshctl"))
        .args(["--etcd", &etcd.endpoint(), "status"])
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.lines().any(|l| l.starts_with("route bad")
            && l.contains("rejected")
            && l.contains("spec.hostnames[0]")),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.starts_with("route dangling")
            && l.contains("accepted")
            && l.contains("nowhere")),
        "{text}"
    );
    assert!(text.contains("3 resources accepted, 1 rejected"), "{text}");
    controller.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_controllers_compile_identical_tables_and_publish_router_status() -> Result<()> {
    let etcd = Etcd::start().await?;
    let mut client = etcd.client().await?;
    put(
        &mut client,
        "/mesh/services/orders",
        &service_json("orders"),
    )
    .await?;
    let n = put(
        &mut client,
        "/mesh/routes/shop",
        &route_json("shop", "shop.example.com", "orders"),
    )
    .await?;
    let a = Controller::start(&etcd).await?;
    let b = Controller::start(&etcd).await?;
    let mut fa = Follower::connect(&a, "ra").await?;
    let mut fb = Follower::connect(&b, "rb").await?;
    let ta = fa
        .until("table a", Duration::from_secs(10), |t| t.revision >= n)
        .await?;
    let tb = fb
        .until("table b", Duration::from_secs(10), |t| t.revision >= n)
        .await?;
    // Identical content; the revision label may differ: a controller that
    // reads etcd after the other wrote its statuses compiles the same keys
    // at a later revision (ARCHITECTURE.md, "Table version").
    assert_eq!(
        serde_json::to_value(&ta)?["parts"],
        serde_json::to_value(&tb)?["parts"]
    );
    assert_eq!(ta.hash(), tb.hash());

    // Router reports land in the fleet view and in etcd, on a lease.
    report(
        &a.url(),
        &Report {
            router: "ra".into(),
            revision: ta.revision,
            table_hash: ta.hash(),
            offered_revision: ta.revision,
            outcome: Outcome::Applied,
        },
        Duration::from_secs(5),
    )
    .await?;
    let status: RouterStatus = eventually("router status in etcd", Duration::from_secs(10), || {
        let mut c = client.clone();
        async move {
            let resp = c.get("/mesh/status/routers/ra", None).await?;
            let kv = resp.kvs().first().context("not yet")?;
            let status: RouterStatus = serde_json::from_slice(kv.value())?;
            ensure!(
                status.revision == ta.revision,
                "not the reported revision yet: {status:?}"
            );
            anyhow::Ok(status)
        }
    })
    .await?;
    assert_eq!(status.lag(), 0);
    assert_eq!(status.controller, a.handle().id());
    let (_, fleet) = a.get("/v1/fleet").await?;
    assert!(fleet.contains("\"ra\""), "{fleet}");

    // The status vanishes with the controller.
    drop(fa);
    a.stop().await?;
    let resp = client.get("/mesh/status/routers/ra", None).await?;
    if !resp.kvs().is_empty() {
        bail!("router status outlived its controller");
    }
    b.stop().await
}
