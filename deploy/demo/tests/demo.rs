//! `mesh-demo` against real sockets: the answer's JSON and headers, `/healthz`,
//! stopping on the shutdown future, and the binary's flags from the
//! environment and its SIGTERM.

use anyhow::{ensure, Context as _, Result};
use mesh_demo::{run, Settings};
use mesh_testkit::{eventually, free_port, ChildGuard, Signal};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::oneshot;

/// One parsed HTTP/1.1 answer.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends `GET target` with `headers` over a fresh connection
/// (`Connection: close`) and reads the whole answer.
async fn get(addr: SocketAddr, target: &str, headers: &[(&str, &str)]) -> Result<Answer> {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .with_context(|| format!("connect {addr}"))?;
    let mut request = format!("GET {target} HTTP/1.1\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut raw))
        .await
        .context("answer timed out")??;
    let raw = String::from_utf8(raw).context("answer is not UTF-8")?;
    let (head, body) = raw.split_once("\r\n\r\n").context("no end of head")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().context("no status line")?;
    let status = status_line
        .split(' ')
        .nth(1)
        .context("no status code")?
        .parse()?;
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Ok(Answer {
        status,
        headers,
        body: body.to_owned(),
    })
}

fn settings(port: u16) -> Settings {
    Settings {
        listen: SocketAddr::from(([127, 0, 0, 1], port)),
        service: "demo-v2".to_owned(),
        instance: "demo-3".to_owned(),
        version: "v2".to_owned(),
    }
}

#[tokio::test]
async fn answers_with_identity_and_request_details() -> Result<()> {
    let (stop, stopped) = oneshot::channel::<()>();
    let server = run(settings(0), async move {
        let _ = stopped.await;
    })
    .await?;
    let addr = server.addr();
    ensure!(addr.port() != 0, "bound to port 0");

    let answer = get(
        addr,
        "/orders/42?a=1&b=two",
        &[
            ("Host", "demo.example.com"),
            ("x-request-id", "req-1"),
            ("x-forwarded-for", "10.0.0.7"),
            ("x-canary", "true"),
            ("user-agent", "demo-test/1"),
            ("x-not-echoed", "secret"),
        ],
    )
    .await?;
    ensure!(answer.status == 200, "status {}", answer.status);
    ensure!(
        answer.header("x-demo-instance") == Some("demo-3"),
        "{answer:?}"
    );
    ensure!(answer.header("x-demo-version") == Some("v2"), "{answer:?}");
    ensure!(
        answer
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/json")),
        "{answer:?}"
    );
    let body: Value = serde_json::from_str(&answer.body).context("body is not JSON")?;
    let expected = json!({
        "service": "demo-v2",
        "instance": "demo-3",
        "version": "v2",
        "method": "GET",
        "path": "/orders/42",
        "query": "a=1&b=two",
        "host": "demo.example.com",
        "headers": {
            "x-request-id": "req-1",
            "x-forwarded-for": "10.0.0.7",
            "x-canary": "true",
            "user-agent": "demo-test/1",
        },
    });
    ensure!(body == expected, "got {body}, expected {expected}");

    // No query, no echoed headers: `query` is null, `headers` empty.
    let answer = get(addr, "/", &[("Host", "demo-v2.mesh")]).await?;
    let body: Value = serde_json::from_str(&answer.body)?;
    ensure!(body["query"].is_null(), "{body}");
    ensure!(body["headers"] == json!({}), "{body}");
    ensure!(body["host"] == "demo-v2.mesh", "{body}");

    let health = get(addr, "/healthz", &[("Host", "x")]).await?;
    ensure!(health.status == 200, "healthz: {health:?}");
    ensure!(health.body == "ok\n", "healthz: {health:?}");

    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), server.wait())
        .await
        .context("the server did not stop")??;
    // Polled: a child that another test spawns at this moment holds a copy
    // of the listening socket until its exec closes it.
    eventually(
        "the port to be free",
        Duration::from_secs(5),
        || async move { tokio::net::TcpStream::connect(addr).await.is_err() },
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn rejects_an_instance_name_that_is_no_header_value() -> Result<()> {
    let mut bad = settings(0);
    bad.instance = "demo\n1".to_owned();
    ensure!(run(bad, std::future::pending()).await.is_err());
    Ok(())
}

#[tokio::test]
async fn binary_reads_the_environment_and_stops_on_sigterm() -> Result<()> {
    let port = free_port();
    let mut demo = ChildGuard::spawn(
        "mesh-demo",
        Command::new(env!("CARGO_BIN_EXE_mesh-demo"))
            .env("MESH_DEMO_LISTEN", format!("127.0.0.1:{port}"))
            .env("MESH_DEMO_SERVICE", "demo-v1")
            .env("MESH_DEMO_INSTANCE", "demo-2")
            .env("MESH_DEMO_VERSION", "v1"),
    )?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let answer = eventually("mesh-demo answering", Duration::from_secs(10), || {
        get(addr, "/x", &[("Host", "demo-v1.mesh")])
    })
    .await?;
    ensure!(answer.status == 200, "{answer:?}");
    let body: Value = serde_json::from_str(&answer.body)?;
    ensure!(
        body["service"] == "demo-v1" && body["instance"] == "demo-2" && body["version"] == "v1",
        "{body}"
    );

    demo.signal(Signal::Term)?;
    let status = demo
        .wait_timeout(Duration::from_secs(10))?
        .context("mesh-demo still running 10s after SIGTERM")?;
    ensure!(status.success(), "mesh-demo exited with {status}");
    Ok(())
}
