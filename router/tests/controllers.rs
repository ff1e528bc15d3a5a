//! The router following real controllers (real etcd, controllers
//! in-process): tables arrive and are served, reports reach the fleet view,
//! failover between controllers, and the state dir when none answers.

mod common;

use anyhow::{ensure, Context as _, Result};
use common::{Backend, Http, Router};
use etcd_client::Client;
use mesh_controller::app as controller;
use mesh_router::settings::Settings;
use mesh_testkit::{eventually, Etcd};
use std::time::Duration;
use tokio::sync::oneshot;

/// A controller in this process; stops on drop.
struct Controller {
    handle: Option<controller::Handle>,
    stop: Option<oneshot::Sender<()>>,
}

impl Controller {
    async fn start(etcd: &Etcd) -> Result<Controller> {
        let (stop, stopped) = oneshot::channel::<()>();
        let mut settings = controller::Settings::new(
            vec![etcd.endpoint()],
            "/mesh".to_owned(),
            "127.0.0.1:0".parse()?,
        );
        settings.heartbeat = Duration::from_millis(500);
        settings.status_lease_ttl = Duration::from_secs(3);
        let handle = controller::run(settings, async move {
            let _ = stopped.await;
        })
        .await?;
        Ok(Controller {
            handle: Some(handle),
            stop: Some(stop),
        })
    }

    fn url(&self) -> String {
        self.handle.as_ref().map(|h| h.url()).unwrap_or_default()
    }

    async fn stop(mut self) -> Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(h) = self.handle.take() {
            h.wait().await?;
        }
        Ok(())
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn put(client: &mut Client, key: &str, value: String) -> Result<i64> {
    let resp = client.put(key, value, None).await?;
    Ok(resp.header().context("header")?.revision())
}

/// Writes a service with one endpoint (the backend) and a route sending
/// `host` to it.
async fn publish_backend(
    client: &mut Client,
    service: &str,
    host: &str,
    backend: &Backend,
) -> Result<i64> {
    put(
        client,
        &format!("/mesh/services/{service}"),
        format!(r#"{{"kind":"Service","name":"{service}"}}"#),
    )
    .await?;
    put(
        client,
        &format!("/mesh/endpoints/{service}/{service}-1"),
        format!(
            r#"{{"kind":"Endpoint","name":"{service}-1","spec":{{"service":"{service}","address":"127.0.0.1","port":{}}}}}"#,
            backend.addr.port()
        ),
    )
    .await?;
    put(
        client,
        &format!("/mesh/routes/{service}"),
        format!(r#"{{"kind":"Route","name":"{service}","spec":{{"hostnames":["{host}"],"rules":[{{"backendRefs":[{{"name":"{service}"}}]}}]}}}}"#),
    )
    .await
}

fn settings(controllers: Vec<String>, state_dir: Option<&std::path::Path>) -> Settings {
    Settings {
        controllers,
        state_dir: state_dir.map(|p| p.to_path_buf()),
        id: Some("router-1".to_owned()),
        ..Settings::local()
    }
}

async fn routed(http: &Http, router: &Router, host: &str, want: &str) -> Result<()> {
    let a = http.get(&router.url("/"), host).await?;
    ensure!(a.status == 200 && a.body == want, "{} {}", a.status, a.body);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follows_a_controller_and_reports_back() -> Result<()> {
    let etcd = Etcd::start().await?;
    let mut client = etcd.client().await?;
    let blue = Backend::start("blue").await;
    let green = Backend::start("green").await;
    publish_backend(&mut client, "blue", "shop.example.com", &blue).await?;
    let c = Controller::start(&etcd).await?;
    let router = Router::start_with(settings(vec![c.url()], None), None).await;
    let http = Http::new();
    eventually("the route to be served", Duration::from_secs(10), || {
        routed(&http, &router, "shop.example.com", "blue")
    })
    .await?;

    // An update in etcd reaches the router.
    let n = publish_backend(&mut client, "green", "shop.example.com", &green).await?;
    put(
        &mut client,
        "/mesh/routes/blue",
        r#"{"kind":"Route","name":"blue","spec":{"hostnames":["other.example.com"],"rules":[{"backendRefs":[{"name":"blue"}]}]}}"#.to_owned(),
    )
    .await?;
    eventually("the update to be served", Duration::from_secs(10), || {
        routed(&http, &router, "shop.example.com", "green")
    })
    .await?;
    assert!(router
        .handle()
        .routes()
        .serving()
        .is_some_and(|s| s.revision > n));

    // The controller's fleet view shows the router current.
    eventually("the router's report", Duration::from_secs(10), || async {
        let (code, fleet) =
            mesh_controller::client::get(&format!("{}/v1/fleet", c.url()), Duration::from_secs(5))
                .await?;
        let v: serde_json::Value = serde_json::from_str(&fleet)?;
        let r = v["routers"]
            .as_array()
            .and_then(|a| a.iter().find(|r| r["router"] == "router-1"))
            .cloned();
        ensure!(code == 200, "{code}");
        let r = r.context("router not in the fleet yet")?;
        ensure!(r["tableHash"] == r["publishedHash"], "not current yet: {r}");
        Ok(())
    })
    .await?;
    router.stop().await?;
    c.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fails_over_to_another_controller_and_restarts_from_its_state_dir() -> Result<()> {
    let etcd = Etcd::start().await?;
    let mut client = etcd.client().await?;
    let blue = Backend::start("blue").await;
    let green = Backend::start("green").await;
    publish_backend(&mut client, "blue", "shop.example.com", &blue).await?;
    let a = Controller::start(&etcd).await?;
    let b = Controller::start(&etcd).await?;
    let state = tempfile::tempdir()?;
    let mut s = settings(vec![a.url(), b.url()], Some(state.path()));
    s.id = Some("router-2".to_owned());
    let router = Router::start_with(s.clone(), None).await;
    let http = Http::new();
    eventually("the first table", Duration::from_secs(10), || {
        routed(&http, &router, "shop.example.com", "blue")
    })
    .await?;

    // Stop one controller; whichever the router followed, it keeps serving
    // and an update still arrives (through the other one).
    a.stop().await?;
    publish_backend(&mut client, "green", "green.example.com", &green).await?;
    eventually(
        "the update through the other controller",
        Duration::from_secs(20),
        || routed(&http, &router, "green.example.com", "green"),
    )
    .await?;
    routed(&http, &router, "shop.example.com", "blue").await?;
    eventually(
        "the table saved on disk",
        Duration::from_secs(10),
        || async {
            let saved =
                mesh_router::sync::load_state(state.path())?.context("no state file yet")?;
            ensure!(
                saved.parts.len() >= 4,
                "old state: {} parts",
                saved.parts.len()
            );
            Ok(())
        },
    )
    .await?;
    router.stop().await?;

    // Every controller gone: a new router serves the saved table, ready,
    // flagged stale.
    b.stop().await?;
    let router = Router::start_with(s, None).await;
    routed(&http, &router, "green.example.com", "green").await?;
    routed(&http, &router, "shop.example.com", "blue").await?;
    let ready = http.get(&router.admin_url("/ready"), "").await?;
    assert_eq!(ready.status, 200, "{}", ready.body);
    let metrics = http.get(&router.admin_url("/metrics"), "").await?;
    assert!(
        metrics.body.contains("mesh_router_table_stale 1"),
        "{}",
        metrics.body
    );
    router.stop().await
}
