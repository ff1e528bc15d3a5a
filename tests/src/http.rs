//! A small HTTP/1.1 client for tests: one request on a fresh connection, so
//! no pooled connection to a killed process can make a test flaky.

use anyhow::{bail, Context as _};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::header::{HeaderMap, HeaderName, HeaderValue, HOST};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::time::Duration;

/// How long one request may take (connect to last body byte).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// A response, read in full.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// Body as text (invalid UTF-8 replaced).
    pub body: String,
}

impl Answer {
    /// A header's value as text, if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body parsed as JSON (the demo backends answer JSON).
    pub fn json(&self) -> anyhow::Result<serde_json::Value> {
        serde_json::from_str(&self.body)
            .with_context(|| format!("the body is not JSON: {:?}", self.body))
    }
}

/// `GET http://addr/path` with `Host: host`.
pub async fn get(addr: SocketAddr, host: &str, path: &str) -> anyhow::Result<Answer> {
    request(Method::GET, addr, host, path, &[]).await
}

/// One request with extra headers and an empty body.
pub async fn request(
    method: Method,
    addr: SocketAddr,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> anyhow::Result<Answer> {
    tokio::time::timeout(REQUEST_TIMEOUT, send(method, addr, host, path, headers))
        .await
        .with_context(|| format!("no answer from {addr} within {REQUEST_TIMEOUT:?}"))?
        .with_context(|| format!("GET http://{addr}{path} (Host: {host})"))
}

async fn send(
    method: Method,
    addr: SocketAddr,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> anyhow::Result<Answer> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream)).await?;
    let conn = tokio::spawn(conn);
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .body(Full::new(Bytes::new()))?;
    req.headers_mut().insert(HOST, HeaderValue::from_str(host)?);
    for (name, value) in headers {
        req.headers_mut().append(
            HeaderName::from_bytes(name.as_bytes())?,
            HeaderValue::from_str(value)?,
        );
    }
    let resp = sender.send_request(req).await?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await?.to_bytes();
    drop(sender);
    conn.abort();
    if body.len() > 16 << 20 {
        bail!("answer body over 16 MiB");
    }
    Ok(Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}
