//! Failures and recovery: dead backends, retries, table swaps under load,
//! and the admin endpoints.

mod common;

use common::{Backend, Http, Router, TableBuilder};
use mesh_router::settings::Settings;
use mesh_testkit::eventually::eventually;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_backend_gives_502_then_recovers() -> anyhow::Result<()> {
    let mut up = Backend::start("up").await;
    let table = TableBuilder::new().service("up", &[&up]).build(1);
    let router = Router::start(table).await;
    let http = Http::new();
    assert_eq!(http.get(&router.url("/"), "up").await?.status, 200);
    up.stop().await;
    let a = http.get(&router.url("/"), "up").await?;
    assert_eq!(
        (a.status, a.mesh_error()),
        (502, Some("upstream-connect-failed"))
    );
    assert_eq!(a.body, "upstream-connect-failed\n");
    up.restart().await;
    eventually(
        "the backend to serve again",
        Duration::from_secs(5),
        || async {
            http.get(&router.url("/"), "up")
                .await
                .map(|a| a.status == 200)
                .unwrap_or(false)
        },
    )
    .await?;
    router.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_failure_goes_to_another_endpoint() -> anyhow::Result<()> {
    let mut dead = Backend::start("dead").await;
    let alive = Backend::start("alive").await;
    let table = TableBuilder::new()
        .service("svc", &[&dead, &alive])
        .build(1);
    dead.stop().await;
    let router = Router::start(table).await;
    let http = Http::new();
    for _ in 0..20 {
        let a = http.get(&router.url("/"), "svc").await?;
        assert_eq!((a.status, a.body.as_str()), (200, "alive"));
    }
    router.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_turns_a_503_into_a_200() -> anyhow::Result<()> {
    let up = Backend::start("up").await;
    let table = TableBuilder::new()
        .service("up", &[&up])
        .route(
            "r",
            json!({"hostnames": ["retry.example"], "rules": [
                {"matches": [{"path": {"value": "/retry"}}], "backendRefs": [{"name": "up"}],
                 "retry": {"codes": [503], "attempts": 2, "backoff": "10ms"}},
                {"backendRefs": [{"name": "up"}]}
            ]}),
        )
        .build(1);
    let router = Router::start(table).await;
    let http = Http::new();
    up.answer_next(&[503]);
    let a = http.get(&router.url("/retry"), "retry.example").await?;
    assert_eq!((a.status, a.body.as_str()), (200, "up"));
    assert_eq!(up.hits(), 2);
    // Attempts run out: the last answer is passed on.
    up.answer_next(&[503, 503, 503]);
    let a = http.get(&router.url("/retry"), "retry.example").await?;
    assert_eq!(a.status, 503);
    assert_eq!(up.hits(), 5);
    // No policy: no retry.
    up.answer_next(&[503]);
    let a = http.get(&router.url("/plain"), "retry.example").await?;
    assert_eq!(a.status, 503);
    assert_eq!(up.hits(), 6);
    let metrics = http.get(&router.admin_url("/metrics"), "").await?.body;
    assert!(
        metrics.contains(r#"mesh_router_retries_total{route="r",service="up"} 3"#),
        "{metrics}"
    );
    router.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_endpoints() -> anyhow::Result<()> {
    let up = Backend::start("up").await;
    let router = Router::start_with(Settings::local(), None).await;
    let http = Http::new();
    let a = http.get(&router.admin_url("/live"), "").await?;
    assert_eq!(a.status, 200);
    let a = http.get(&router.admin_url("/ready"), "").await?;
    assert_eq!(a.status, 503);
    let a = http.get(&router.url("/"), "up").await?;
    assert_eq!((a.status, a.mesh_error()), (503, Some("no-table")));
    let table = TableBuilder::new().service("up", &[&up]).build(42);
    let revision = router.handle().routes().swap(table.clone())?;
    assert_eq!(revision, 42);
    let serving = router.handle().routes().serving().expect("serving");
    assert_eq!((serving.revision, serving.hash), (42, table.hash()));
    let a = http.get(&router.admin_url("/ready"), "").await?;
    assert_eq!(
        (a.status, a.body.as_str()),
        (200, "ready: serving revision 42\n")
    );
    let a = http.get(&router.admin_url("/table"), "").await?;
    let served: mesh_config::table::RouteTable = serde_json::from_str(&a.body)?;
    assert_eq!(served, table);
    assert_eq!(http.get(&router.url("/"), "up").await?.status, 200);
    // A request is counted when its logging phase ends, just after the
    // answer is sent: wait for it rather than race it.
    let metrics_url = router.admin_url("/metrics");
    eventually(
        "the request in the metrics",
        Duration::from_secs(5),
        || async {
            let metrics = http.get(&metrics_url, "").await?.body;
            for want in [
                r#"mesh_router_requests_total{class="2xx",route="service:up",service="up"} 1"#,
                "mesh_router_table_revision 42",
                "mesh_router_table_swaps_total 1",
                "mesh_router_request_duration_seconds_bucket",
                "mesh_router_downstream_connections_open",
            ] {
                anyhow::ensure!(metrics.contains(want), "{want} missing in\n{metrics}");
            }
            Ok(())
        },
    )
    .await?;
    router.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swaps_under_load_fail_no_request() -> anyhow::Result<()> {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let table = |rev: i64| {
        let (wa, wb) = if rev % 2 == 0 { (1, 3) } else { (3, 1) };
        TableBuilder::new()
            .service("a", &[&a])
            .service("b", &[&b])
            .route(
                "r",
                json!({"hostnames": ["load.example"], "rules": [{
                    "filters": [{"type": "ResponseHeaderModifier", "responseHeaderModifier": {
                        "set": [{"name": "x-table", "value": rev.to_string()}]}}],
                    "backendRefs": [{"name": "a", "weight": wa}, {"name": "b", "weight": wb}]
                }]}),
            )
            .build(rev)
    };
    let router = Router::start(table(1)).await;
    let url = router.url("/load");
    let done = Arc::new(AtomicUsize::new(0));
    let clients = 4;
    let per_client = 5000;
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (url, done) = (url.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let http = Http::new();
            let mut tables = std::collections::BTreeSet::new();
            for _ in 0..per_client {
                let answer = http.get(&url, "load.example").await?;
                anyhow::ensure!(answer.status == 200, "{answer:?}");
                if let Some(t) = answer.header("x-table") {
                    tables.insert(t.parse::<i64>()?);
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<_, anyhow::Error>(tables)
        }));
    }
    let routes = router.handle().routes().clone();
    let total = clients * per_client;
    let swaps = 200;
    for i in 0..swaps {
        // Pace the swaps by progress, spread over the run.
        let target = total * i / (swaps + 10);
        while done.load(Ordering::Relaxed) < target {
            tokio::task::yield_now().await;
        }
        let t = table(i as i64 + 2);
        tokio::task::spawn_blocking({
            let routes = routes.clone();
            move || routes.swap(t)
        })
        .await??;
    }
    let mut seen = std::collections::BTreeSet::new();
    for t in tasks {
        seen.extend(t.await??);
    }
    assert_eq!(done.load(Ordering::Relaxed), total);
    assert!(seen.len() > 50, "only {} tables seen", seen.len());
    let metrics = Http::new()
        .get(&router.admin_url("/metrics"), "")
        .await?
        .body;
    assert!(metrics.contains(&format!("mesh_router_table_swaps_total {}", swaps + 1)));
    router.stop().await
}
