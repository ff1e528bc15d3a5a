//! `meshctl` end to end: the built binary against a real etcd that each test
//! starts on free 127.0.0.1 ports.

use anyhow::{ensure, Context as _, Result};
use etcd_client::{Client, GetOptions};
use mesh_config::parse::{parse_documents, parse_stored};
use mesh_config::Document;
use mesh_testkit::{eventually, free_port, ChildGuard, Etcd, Signal};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn meshctl_bin() -> &'static str {
    env!("CARGO_BIN_EXE_meshctl")
}

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(name)
}

/// Runs `meshctl --etcd ETCD ARGS...`, feeding `stdin` when given.
fn meshctl(etcd: &str, args: &[&str], stdin: Option<&str>) -> Result<Output> {
    let mut child = Command::new(meshctl_bin())
        .arg("--etcd")
        .arg(etcd)
        .args(args)
        .env_remove("MESH_ETCD")
        .env_remove("MESH_PREFIX")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("spawn meshctl")?;
    if let Some(mut pipe) = child.stdin.take() {
        pipe.write_all(stdin.unwrap_or("").as_bytes())?;
    }
    Ok(child.wait_with_output()?)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts exit code `code` and returns (stdout, stderr).
fn expect_exit(out: &Output, code: i32) -> Result<(String, String)> {
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    ensure!(
        out.status.code() == Some(code),
        "expected exit {code}, got {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    Ok((stdout, stderr))
}

async fn keys_under(client: &mut Client, prefix: &str) -> Result<Vec<String>> {
    let resp = client
        .get(
            prefix,
            Some(GetOptions::new().with_prefix().with_keys_only()),
        )
        .await?;
    Ok(resp.kvs().iter().map(|kv| text(kv.key())).collect())
}

async fn stored(client: &mut Client, key: &str) -> Result<Option<Document>> {
    let resp = client.get(key, None).await?;
    match resp.kvs().first() {
        None => Ok(None),
        Some(kv) => Ok(Some(
            parse_stored(kv.value(), key).map_err(|p| anyhow::anyhow!("{p}"))?,
        )),
    }
}

fn file_documents(path: &PathBuf) -> Result<Vec<Document>> {
    let text = std::fs::read_to_string(path)?;
    parse_documents(&text)
        .into_iter()
        .map(|r| r.map_err(|p| anyhow::anyhow!("{p}")))
        .collect()
}

#[tokio::test]
async fn apply_get_delete_round_trip() -> Result<()> {
    let etcd = Etcd::start().await?;
    let ep = etcd.endpoint();
    let mut client = etcd.client().await?;
    let quickstart = example("quickstart.yaml");
    let path = quickstart.to_str().context("utf-8 path")?;

    let (stdout, _) = expect_exit(&meshctl(&ep, &["apply", "-f", path], None)?, 0)?;
    assert!(
        stdout.contains("6 documents applied at revision"),
        "{stdout}"
    );

    // Every document is stored under its key, exactly as written.
    for doc in file_documents(&quickstart)? {
        let key = mesh_config::keys::Keys::default().document(&doc);
        assert_eq!(
            stored(&mut client, &key).await?.as_ref(),
            Some(&doc),
            "{key}"
        );
    }

    // Tables.
    let (routes, _) = expect_exit(&meshctl(&ep, &["get", "routes"], None)?, 0)?;
    let mut lines = routes.lines();
    assert!(
        lines.next().is_some_and(|h| h.starts_with("NAME")),
        "{routes}"
    );
    assert!(
        lines
            .next()
            .is_some_and(|l| l.starts_with("demo ") && l.contains("demo.example.com")),
        "{routes}"
    );
    let (eps, _) = expect_exit(&meshctl(&ep, &["get", "ep"], None)?, 0)?;
    assert_eq!(eps.lines().count(), 4, "{eps}");
    assert!(eps.contains("127.0.0.1:9003"), "{eps}");

    // JSON of one resource is the stored document.
    let (json, _) = expect_exit(
        &meshctl(&ep, &["get", "route", "demo", "-o", "json"], None)?,
        0,
    )?;
    let doc: Document = serde_json::from_str(&json)?;
    assert_eq!(Some(doc), stored(&mut client, "/mesh/routes/demo").await?);

    // YAML output applies back unchanged (same documents, same keys).
    let (yaml, _) = expect_exit(&meshctl(&ep, &["get", "endpoints", "-o", "yaml"], None)?, 0)?;
    let before = keys_under(&mut client, "/mesh/").await?;
    let (out, _) = expect_exit(&meshctl(&ep, &["apply", "-f", "-"], Some(&yaml))?, 0)?;
    assert!(out.contains("3 documents applied"), "{out}");
    assert_eq!(keys_under(&mut client, "/mesh/").await?, before);

    // An endpoint by SERVICE/NAME and by bare name.
    let (one, _) = expect_exit(
        &meshctl(&ep, &["get", "endpoint", "demo-v1/demo-2"], None)?,
        0,
    )?;
    assert!(one.contains("127.0.0.1:9002"), "{one}");

    // Delete, then it is gone; deleting again is an input error.
    let (out, _) = expect_exit(&meshctl(&ep, &["delete", "route", "demo"], None)?, 0)?;
    assert!(out.contains("route demo deleted"), "{out}");
    assert_eq!(stored(&mut client, "/mesh/routes/demo").await?, None);
    let (_, err) = expect_exit(&meshctl(&ep, &["delete", "route", "demo"], None)?, 1)?;
    assert!(err.contains("route demo not found"), "{err}");
    expect_exit(&meshctl(&ep, &["delete", "endpoint", "demo-3"], None)?, 0)?;
    assert_eq!(
        stored(&mut client, "/mesh/endpoints/demo-v2/demo-3").await?,
        None
    );

    // A bad kind is an input error.
    let (_, err) = expect_exit(&meshctl(&ep, &["get", "gateways"], None)?, 1)?;
    assert!(err.contains("unknown kind `gateways`"), "{err}");
    Ok(())
}

#[tokio::test]
async fn a_file_with_one_bad_document_writes_nothing() -> Result<()> {
    let etcd = Etcd::start().await?;
    let mut client = etcd.client().await?;
    let file = "kind: Service\nname: good\n---\n\
                kind: Route\nname: orders-canary\nspec:\n  rules:\n    - backendRefs: [{name: good}, {name: good-2, weight: 2000000}]\n---\n\
                kind: Service\nname: also-good\n";
    let (_, err) = expect_exit(
        &meshctl(&etcd.endpoint(), &["apply", "-f", "-"], Some(file))?,
        1,
    )?;
    assert!(
        err.contains(
            "route orders-canary: spec.rules[0].backendRefs[1].weight: must be between 0 and 1000000"
        ),
        "{err}"
    );
    assert!(err.contains("nothing was written"), "{err}");
    assert!(keys_under(&mut client, "/").await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn a_gateway_api_httproute_applies_as_a_route() -> Result<()> {
    let etcd = Etcd::start().await?;
    let mut client = etcd.client().await?;
    let file = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: store
  namespace: default
spec:
  parentRefs: [{name: mesh}]
  hostnames: ["store.example.com", "*.store.example.com"]
  rules:
    - matches: [{path: {type: PathPrefix, value: /cart}, method: POST}]
      filters:
        - type: RequestHeaderModifier
          requestHeaderModifier: {add: [{name: x-from, value: mesh}]}
      backendRefs: [{name: cart, port: 8080}]
"#;
    let (out, _) = expect_exit(
        &meshctl(&etcd.endpoint(), &["apply", "-f", "-"], Some(file))?,
        0,
    )?;
    assert!(out.contains("route store applied"), "{out}");
    let Some(Document::Route(route)) = stored(&mut client, "/mesh/routes/store").await? else {
        anyhow::bail!("route not stored");
    };
    assert_eq!(route.spec.hostnames.len(), 2);
    assert_eq!(route.spec.rules[0].backend_refs[0].port, Some(8080));
    // Stored in the mesh form, without the Kubernetes envelope.
    let raw = client.get("/mesh/routes/store", None).await?;
    let value: serde_json::Value =
        serde_json::from_slice(raw.kvs().first().context("stored")?.value())?;
    assert_eq!(value["kind"], "Route");
    assert!(value.get("apiVersion").is_none() && value.get("metadata").is_none());
    Ok(())
}

#[test]
fn validate_works_offline() -> Result<()> {
    let nowhere = format!("http://127.0.0.1:{}", free_port());
    let quickstart = example("quickstart.yaml");
    let path = quickstart.to_str().context("utf-8 path")?;
    let (out, _) = expect_exit(&meshctl(&nowhere, &["validate", "-f", path], None)?, 0)?;
    assert_eq!(
        out.trim(),
        format!("{path}: 6 documents valid (2 services, 3 endpoints, 1 route)")
    );
    let (_, err) = expect_exit(
        &meshctl(
            &nowhere,
            &["validate", "-f", "-"],
            Some("kind: Service\nname: Bad\n"),
        )?,
        1,
    )?;
    assert!(err.contains("-: service Bad: name:"), "{err}");
    let (_, err) = expect_exit(
        &meshctl(&nowhere, &["validate", "-f", "/no/such/file"], None)?,
        1,
    )?;
    assert!(err.contains("cannot read /no/such/file"), "{err}");
    Ok(())
}

#[test]
fn unreachable_etcd_exits_2_naming_the_address() -> Result<()> {
    let nowhere = format!("http://127.0.0.1:{}", free_port());
    let quickstart = example("quickstart.yaml");
    let path = quickstart.to_str().context("utf-8 path")?;
    for args in [
        vec!["apply", "-f", path],
        vec!["get", "routes"],
        vec!["delete", "route", "x"],
    ] {
        let started = Instant::now();
        let (_, err) = expect_exit(&meshctl(&nowhere, &args, None)?, 2)?;
        assert!(err.contains(&nowhere), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "one-line error: {err}");
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "{:?}",
            started.elapsed()
        );
    }
    Ok(())
}

fn register(etcd: &str, name: &str, ttl: &str) -> Result<ChildGuard> {
    let mut cmd = Command::new(meshctl_bin());
    cmd.args([
        "--etcd",
        etcd,
        "register",
        "--service",
        "orders",
        "--address",
        "127.0.0.1",
        "--port",
        "9001",
        "--name",
        name,
        "--label",
        "version=v1",
        "--ttl",
        ttl,
    ])
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    Ok(ChildGuard::spawn("meshctl register", &mut cmd)?)
}

#[tokio::test]
async fn register_sigterm_removes_the_endpoint_at_once() -> Result<()> {
    let etcd = Etcd::start().await?;
    let mut client = etcd.client().await?;
    let key = "/mesh/endpoints/orders/orders-a";
    let mut child = register(&etcd.endpoint(), "orders-a", "30s")?;
    let doc = eventually("the registered endpoint", Duration::from_secs(10), || {
        let mut c = client.clone();
        async move { stored(&mut c, key).await?.context("not there yet") }
    })
    .await?;
    let Document::Endpoint(ep) = doc else {
        anyhow::bail!("not an endpoint: {doc:?}")
    };
    assert_eq!(
        (
            ep.spec.port,
            ep.spec.labels.get("version").map(String::as_str)
        ),
        (9001, Some("v1"))
    );
    let lease = client
        .get(key, None)
        .await?
        .kvs()
        .first()
        .map(|kv| kv.lease());
    assert!(lease.is_some_and(|l| l != 0), "written on a lease");

    // SIGTERM: gone long before the 30 s TTL, and a clean exit.
    let started = Instant::now();
    child.signal(Signal::Term)?;
    let status = child
        .wait_timeout(Duration::from_secs(10))?
        .context("meshctl register did not exit on SIGTERM")?;
    assert!(status.success(), "{status}");
    assert_eq!(stored(&mut client, key).await?, None);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    // SIGINT does the same.
    let mut child = register(&etcd.endpoint(), "orders-b", "30s")?;
    let key_b = "/mesh/endpoints/orders/orders-b";
    eventually("the second endpoint", Duration::from_secs(10), || {
        let mut c = client.clone();
        async move { stored(&mut c, key_b).await?.context("not there yet") }
    })
    .await?;
    child.signal(Signal::Int)?;
    let status = child
        .wait_timeout(Duration::from_secs(10))?
        .context("meshctl register did not exit on SIGINT")?;
    assert!(status.success(), "{status}");
    assert_eq!(stored(&mut client, key_b).await?, None);
    Ok(())
}

#[tokio::test]
async fn register_sigkill_lets_the_lease_expire_within_its_ttl() -> Result<()> {
    let etcd = Etcd::start().await?;
    let mut client = etcd.client().await?;
    let key = "/mesh/endpoints/orders/orders-k";
    let ttl = Duration::from_secs(3);
    let mut child = register(&etcd.endpoint(), "orders-k", "3s")?;
    eventually("the registered endpoint", Duration::from_secs(10), || {
        let mut c = client.clone();
        async move { stored(&mut c, key).await?.context("not there yet") }
    })
    .await?;
    // Outlives a TTL while the process keeps the lease alive.
    tokio::time::sleep(ttl + Duration::from_secs(1)).await;
    assert!(
        stored(&mut client, key).await?.is_some(),
        "kept alive past one TTL"
    );

    child.signal(Signal::Kill)?;
    let killed = Instant::now();
    eventually("lease expiry", ttl + Duration::from_secs(3), || {
        let mut c = client.clone();
        async move {
            ensure!(stored(&mut c, key).await?.is_none(), "still there");
            Ok(())
        }
    })
    .await?;
    let gone_after = killed.elapsed();
    // etcd expires a lease at most TTL after its last keepalive (plus its
    // own expiry-check granularity of about half a second).
    assert!(
        gone_after <= ttl + Duration::from_millis(1500),
        "{gone_after:?}"
    );
    Ok(())
}
