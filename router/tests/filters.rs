//! Gateway API filters through the router: header modifiers, redirects,
//! URL rewrites, mirrors.

mod common;

use common::{Backend, Http, Router, TableBuilder};
use mesh_testkit::eventually::eventually;
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_modifiers() -> anyhow::Result<()> {
    let up = Backend::start("up").await;
    let table = TableBuilder::new()
        .service("up", &[&up])
        .route(
            "r",
            json!({"hostnames": ["h.example"], "rules": [{
                "filters": [
                    {"type": "RequestHeaderModifier", "requestHeaderModifier": {
                        "set": [{"name": "x-set", "value": "new"}],
                        "add": [{"name": "x-add", "value": "added"}],
                        "remove": ["x-gone"]}},
                    {"type": "ResponseHeaderModifier", "responseHeaderModifier": {
                        "set": [{"name": "x-backend", "value": "hidden"}],
                        "add": [{"name": "x-resp", "value": "yes"}]}}
                ],
                "backendRefs": [{"name": "up"}]
            }]}),
        )
        .build(1);
    let router = Router::start(table).await;
    let a = Http::new()
        .request(
            "GET",
            &router.url("/"),
            "h.example",
            &[("x-set", "old"), ("x-add", "mine"), ("x-gone", "bye")],
        )
        .await?;
    assert_eq!(a.status, 200);
    assert_eq!(a.header("x-backend"), Some("hidden"));
    assert_eq!(a.header("x-resp"), Some("yes"));
    let seen = up.last().expect("request");
    let all = |n: &str| -> Vec<String> {
        seen.headers
            .get_all(n)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    };
    assert_eq!(all("x-set"), ["new"]);
    assert_eq!(all("x-add"), ["mine", "added"]);
    assert!(all("x-gone").is_empty());
    router.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects() -> anyhow::Result<()> {
    let table = TableBuilder::new()
        .route(
            "r",
            json!({"hostnames": ["old.example"], "rules": [
                {"matches": [{"path": {"value": "/docs"}}], "filters": [{"type": "RequestRedirect",
                    "requestRedirect": {"scheme": "https", "hostname": "new.example",
                        "path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/v2/docs"},
                        "statusCode": 301}}]},
                {"filters": [{"type": "RequestRedirect", "requestRedirect": {"hostname": "new.example"}}]}
            ]}),
        )
        .build(1);
    let router = Router::start(table).await;
    let http = Http::new();
    let a = http
        .get(&router.url("/docs/intro?x=1"), "old.example")
        .await?;
    assert_eq!(a.status, 301);
    assert_eq!(
        a.header("location"),
        Some("https://new.example/v2/docs/intro?x=1")
    );
    let a = http.get(&router.url("/a"), "old.example").await?;
    assert_eq!(a.status, 302);
    let port = router.handle().listen_addr().port();
    assert_eq!(
        a.header("location").map(str::to_owned),
        Some(format!("http://new.example:{port}/a"))
    );
    router.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_rewrites() -> anyhow::Result<()> {
    let up = Backend::start("up").await;
    let table = TableBuilder::new()
        .service("up", &[&up])
        .route(
            "r",
            json!({"hostnames": ["rw.example"], "rules": [
                {"matches": [{"path": {"value": "/prefix"}}], "filters": [{"type": "URLRewrite",
                    "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/new"}}}],
                 "backendRefs": [{"name": "up"}]},
                {"matches": [{"path": {"value": "/full"}}], "filters": [{"type": "URLRewrite",
                    "urlRewrite": {"path": {"type": "ReplaceFullPath", "replaceFullPath": "/replaced"}}}],
                 "backendRefs": [{"name": "up"}]},
                {"matches": [{"path": {"value": "/host"}}], "filters": [{"type": "URLRewrite",
                    "urlRewrite": {"hostname": "internal.example"}}],
                 "backendRefs": [{"name": "up"}]}
            ]}),
        )
        .build(1);
    let router = Router::start(table).await;
    let http = Http::new();
    for (path, want_uri) in [
        ("/prefix/a/b?q=1", "/new/a/b?q=1"),
        ("/prefix", "/new"),
        ("/full/x?y=2", "/replaced?y=2"),
    ] {
        let a = http.get(&router.url(path), "rw.example").await?;
        assert_eq!(a.status, 200, "{path}");
        let seen = up.last().expect("request");
        assert_eq!(seen.uri, want_uri, "{path}");
    }
    http.get(&router.url("/host/z"), "rw.example").await?;
    let seen = up.last().expect("request");
    assert_eq!(seen.uri, "/host/z");
    assert_eq!(
        seen.headers.get("host").and_then(|v| v.to_str().ok()),
        Some("internal.example")
    );
    router.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mirror_gets_a_copy() -> anyhow::Result<()> {
    let main = Backend::start("main").await;
    let shadow = Backend::start("shadow").await;
    shadow.set_delay(Duration::from_secs(2));
    let table = TableBuilder::new()
        .service("main", &[&main])
        .service("shadow", &[&shadow])
        .route(
            "r",
            json!({"hostnames": ["m.example"], "rules": [{
                "filters": [{"type": "RequestMirror", "requestMirror": {"backendRef": {"name": "shadow"}}}],
                "backendRefs": [{"name": "main"}]
            }]}),
        )
        .build(1);
    let router = Router::start(table).await;
    let started = std::time::Instant::now();
    let a = Http::new()
        .request(
            "GET",
            &router.url("/copy?me=1"),
            "m.example",
            &[("x-tag", "t1")],
        )
        .await?;
    assert_eq!((a.status, a.body.as_str()), (200, "main"));
    // The slow mirror does not slow the request down.
    assert!(started.elapsed() < Duration::from_secs(1));
    eventually(
        "the mirror to see the copy",
        Duration::from_secs(5),
        || async { shadow.hits() == 1 },
    )
    .await?;
    let seen = shadow.last().expect("copy");
    assert_eq!(seen.uri, "/copy?me=1");
    assert_eq!(
        seen.headers.get("x-tag").and_then(|v| v.to_str().ok()),
        Some("t1")
    );
    router.stop().await
}
