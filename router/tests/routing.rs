//! Routing against real backends: every match kind, weights, filters, and
//! the errors a caller can act on.

mod common;

use common::{Backend, Http, Router, TableBuilder};
use serde_json::json;
use std::time::Duration;

/// Method, path, headers, the backend expected (empty: 404).
type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], &'a str);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_match_kind_routes() -> anyhow::Result<()> {
    common::init_logs();
    let (a, b, c, d, e, f) = (
        Backend::start("exact").await,
        Backend::start("prefix").await,
        Backend::start("regex").await,
        Backend::start("header").await,
        Backend::start("query").await,
        Backend::start("method").await,
    );
    let fallback = Backend::start("fallback").await;
    let table = TableBuilder::new()
        .service("exact", &[&a])
        .service("prefix", &[&b])
        .service("regex", &[&c])
        .service("header", &[&d])
        .service("query", &[&e])
        .service("method", &[&f])
        .service("fallback", &[&fallback])
        .route(
            "shop",
            json!({
                "hostnames": ["shop.example.com"],
                "rules": [
                    {"matches": [{"path": {"type": "Exact", "value": "/exact"}}], "backendRefs": [{"name": "exact"}]},
                    {"matches": [{"path": {"type": "PathPrefix", "value": "/api"}}], "backendRefs": [{"name": "prefix"}]},
                    {"matches": [{"path": {"type": "RegularExpression", "value": "/items/[0-9]+"}}], "backendRefs": [{"name": "regex"}]},
                    {"matches": [{"headers": [{"name": "x-canary", "value": "true"}]}], "backendRefs": [{"name": "header"}]},
                    {"matches": [{"queryParams": [{"name": "v", "value": "2"}]}], "backendRefs": [{"name": "query"}]},
                    {"matches": [{"method": "DELETE"}], "backendRefs": [{"name": "method"}]},
                    {"matches": [{"path": {"value": "/other"}}], "backendRefs": [{"name": "fallback"}]}
                ]
            }),
        )
        .build(10);
    let router = Router::start(table).await;
    let http = Http::new();
    let host = "shop.example.com";
    let cases: &[Case] = &[
        ("GET", "/exact", &[], "exact"),
        ("GET", "/exact/more", &[], ""),
        ("GET", "/api", &[], "prefix"),
        ("GET", "/api/orders", &[], "prefix"),
        ("GET", "/apis", &[], ""),
        ("GET", "/items/42", &[], "regex"),
        ("GET", "/items/x", &[], ""),
        ("GET", "/misc", &[("x-canary", "true")], "header"),
        ("GET", "/misc?v=2", &[], "query"),
        ("DELETE", "/misc", &[], "method"),
        ("GET", "/misc", &[], ""),
        ("GET", "/other", &[], "fallback"),
    ];
    for (method, path, headers, want) in cases {
        let answer = http
            .request(method, &router.url(path), host, headers)
            .await?;
        if want.is_empty() {
            assert_eq!(answer.status, 404, "{method} {path}: {answer:?}");
            continue;
        }
        assert_eq!(answer.status, 200, "{method} {path}: {answer:?}");
        assert_eq!(answer.body, *want, "{method} {path}");
    }
    // Implicit service hostnames.
    for host in ["exact", "exact.mesh", "EXACT.mesh:8080"] {
        let answer = http.get(&router.url("/anything"), host).await?;
        assert_eq!(answer.body, "exact", "{host}");
    }
    router.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weights_split_traffic() -> anyhow::Result<()> {
    let (v1, v2) = (Backend::start("v1").await, Backend::start("v2").await);
    let table = TableBuilder::new()
        .service("v1", &[&v1])
        .service("v2", &[&v2])
        .route(
            "split",
            json!({"hostnames": ["orders"], "rules": [{"backendRefs": [
                {"name": "v1", "weight": 80}, {"name": "v2", "weight": 20}
            ]}]}),
        )
        .build(1);
    let router = Router::start(table).await;
    let http = Http::new();
    let n = 2000;
    for _ in 0..n {
        let a = http.get(&router.url("/"), "orders").await?;
        assert_eq!(a.status, 200);
    }
    let share = v2.hits() as f64 / n as f64;
    // 20 % expected; binomial sd ≈ 0.9 %: 5 sd either way.
    assert!((0.155..0.245).contains(&share), "v2 share {share}");
    assert_eq!(v1.hits() + v2.hits(), n);
    router.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_carry_a_reason() -> anyhow::Result<()> {
    common::init_logs();
    let up = Backend::start("up").await;
    let table = TableBuilder::new()
        .service("up", &[&up])
        .service("empty", &[])
        .route(
            "r",
            json!({"hostnames": ["r.example"], "rules": [
                {"matches": [{"path": {"value": "/empty"}}], "backendRefs": [{"name": "empty"}]},
                {"matches": [{"path": {"value": "/none"}}]},
                {"backendRefs": [{"name": "up"}]}
            ]}),
        )
        .build(1);
    let router = Router::start(table).await;
    let http = Http::new();
    let a = http.get(&router.url("/"), "nowhere.example").await?;
    assert_eq!((a.status, a.mesh_error()), (404, Some("no-route")));
    assert_eq!(a.body, "no-route\n");
    let a = http.get(&router.url("/empty"), "r.example").await?;
    assert_eq!(
        (a.status, a.mesh_error()),
        (503, Some("no-healthy-endpoint"))
    );
    let a = http.get(&router.url("/none"), "r.example").await?;
    assert_eq!(a.status, 500);
    assert!(a.mesh_error().is_some());
    // The connection stays usable after the router's own answers.
    let a = http.get(&router.url("/ok"), "r.example").await?;
    assert_eq!((a.status, a.body.as_str()), (200, "up"));
    router.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarding_headers() -> anyhow::Result<()> {
    let up = Backend::start("up").await;
    let table = TableBuilder::new().service("up", &[&up]).build(1);
    let router = Router::start(table).await;
    let http = Http::new();
    let a = http
        .request(
            "GET",
            &router.url("/x"),
            "up",
            &[
                (
                    "traceparent",
                    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                ),
                ("x-forwarded-for", "10.1.2.3"),
                ("connection", "keep-alive, x-secret"),
                ("x-secret", "s"),
                ("keep-alive", "timeout=5"),
                ("proxy-authorization", "Basic abc"),
            ],
        )
        .await?;
    assert_eq!(a.status, 200);
    let seen = up.last().expect("a request");
    let h = |n: &str| seen.headers.get(n).and_then(|v| v.to_str().ok());
    assert_eq!(h("x-forwarded-for"), Some("10.1.2.3, 127.0.0.1"));
    assert_eq!(h("x-forwarded-proto"), Some("http"));
    assert_eq!(
        h("traceparent"),
        Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
    );
    assert!(h("x-request-id").is_some_and(|id| !id.is_empty()));
    assert_eq!(h("x-secret"), None);
    assert_eq!(h("keep-alive"), None);
    assert_eq!(h("proxy-authorization"), None);
    assert_eq!(h("host"), Some("up"));
    // A request id the caller sent is kept.
    http.request("GET", &router.url("/x"), "up", &[("x-request-id", "abc")])
        .await?;
    let seen = up.last().expect("a request");
    assert_eq!(
        seen.headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
        Some("abc")
    );
    router.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_backend_times_out_with_504() -> anyhow::Result<()> {
    let slow = Backend::start("slow").await;
    slow.set_delay(Duration::from_secs(5));
    let table = TableBuilder::new()
        .service("slow", &[&slow])
        .route(
            "r",
            json!({"hostnames": ["slow.example"], "rules": [
                {"backendRefs": [{"name": "slow"}], "timeouts": {"request": "300ms"}}
            ]}),
        )
        .build(1);
    let router = Router::start(table).await;
    let started = std::time::Instant::now();
    let a = Http::new().get(&router.url("/"), "slow.example").await?;
    assert_eq!((a.status, a.mesh_error()), (504, Some("timeout")));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    router.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_ref_port_overrides_the_endpoint_port() -> anyhow::Result<()> {
    let registered = Backend::start("registered").await;
    let other_port = Backend::start("other-port").await;
    let table = TableBuilder::new()
        .service("svc", &[&registered])
        .route(
            "by-port",
            json!({"hostnames": ["port.example.com"], "rules": [
                {"backendRefs": [{"name": "svc", "port": other_port.addr.port()}]}
            ]}),
        )
        .build(1);
    let router = Router::start(table).await;
    let http = Http::new();
    let a = http.get(&router.url("/"), "port.example.com").await?;
    assert_eq!((a.status, a.body.as_str()), (200, "other-port"));
    // The implicit service route still uses the endpoint's own port.
    let a = http.get(&router.url("/"), "svc.mesh").await?;
    assert_eq!((a.status, a.body.as_str()), (200, "registered"));
    router.stop().await
}
