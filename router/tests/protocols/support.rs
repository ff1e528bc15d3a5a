//! Helpers of the protocol tests: an HTTP/2 (h2c) backend on hyper, a
//! channel-fed body for streaming, gRPC message framing, an HTTP/2 client
//! over any stream (plain or TLS), and a self-signed certificate.

use anyhow::{anyhow, bail, Context};
use bytes::{Buf, Bytes, BytesMut};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, Incoming};
use hyper::client::conn::http2::SendRequest;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;

/// Most time any one step of a test may take.
pub const STEP: Duration = Duration::from_secs(10);

/// Bodies of both directions.
pub type AnyBody = BoxBody<Bytes, Infallible>;

/// `fut`, or an error after [`STEP`].
pub async fn step<T>(what: &str, fut: impl Future<Output = T>) -> anyhow::Result<T> {
    tokio::time::timeout(STEP, fut)
        .await
        .map_err(|_| anyhow!("{what}: nothing within {STEP:?}"))
}

/// A whole body.
pub fn full(data: impl Into<Bytes>) -> AnyBody {
    Full::new(data.into()).boxed()
}

/// A body fed frame by frame through a channel; it ends when the sender is
/// dropped.
pub struct ChannelBody(mpsc::Receiver<Frame<Bytes>>);

impl ChannelBody {
    pub fn channel() -> (mpsc::Sender<Frame<Bytes>>, AnyBody) {
        let (tx, rx) = mpsc::channel(16);
        (tx, ChannelBody(rx).boxed())
    }
}

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|f| f.map(Ok))
    }
}

/// An HTTP/2-only backend (h2c with prior knowledge), answering with
/// `handler`. Stops when dropped.
pub struct H2Backend {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl H2Backend {
    pub async fn start<F, Fut>(handler: F) -> anyhow::Result<H2Backend>
    where
        F: Fn(Request<Incoming>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response<AnyBody>> + Send + 'static,
    {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let handler = Arc::new(handler);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let handler = handler.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let handler = handler.clone();
                        async move { Ok::<_, Infallible>(handler(req).await) }
                    });
                    let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(H2Backend { addr, task })
    }

    /// The endpoint entry of this backend.
    pub fn entry(&self, name: &str) -> mesh_config::table::EndpointEntry {
        crate::common::endpoint(name, self.addr)
    }
}

impl Drop for H2Backend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An HTTP/2 client connection over `io` (prior knowledge on plain TCP, or
/// a TLS stream that negotiated `h2`).
pub async fn h2_client<T>(io: T) -> anyhow::Result<SendRequest<AnyBody>>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(io))
            .await
            .context("HTTP/2 handshake")?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(send)
}

/// An h2c client connection to `addr`.
pub async fn h2c(addr: SocketAddr) -> anyhow::Result<SendRequest<AnyBody>> {
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    h2_client(tcp).await
}

/// What a client read of a response: status, headers, body, trailers.
#[derive(Debug)]
pub struct H2Answer {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
    pub trailers: Option<hyper::HeaderMap>,
}

impl H2Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn trailer(&self, name: &str) -> Option<&str> {
        self.trailers
            .as_ref()
            .and_then(|t| t.get(name))
            .and_then(|v| v.to_str().ok())
    }
}

/// Sends `req` and reads the whole answer, trailers included.
pub async fn send(
    client: &mut SendRequest<AnyBody>,
    req: Request<AnyBody>,
) -> anyhow::Result<H2Answer> {
    step("send", client.ready()).await??;
    let resp = step("response head", client.send_request(req)).await??;
    let (head, mut body) = resp.into_parts();
    let mut data = BytesMut::new();
    let mut trailers = None;
    while let Some(frame) = step("response body", body.frame()).await? {
        let frame = frame?;
        match frame.into_data() {
            Ok(d) => data.extend_from_slice(&d),
            Err(frame) => trailers = frame.into_trailers().ok(),
        }
    }
    Ok(H2Answer {
        status: head.status.as_u16(),
        headers: head.headers,
        body: data.freeze(),
        trailers,
    })
}

/// One gRPC message: uncompressed flag, 4-byte big-endian length, payload.
pub fn grpc_frame(message: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(5 + message.len());
    out.extend_from_slice(&[0]);
    out.extend_from_slice(
        &u32::try_from(message.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes(),
    );
    out.extend_from_slice(message);
    out.freeze()
}

/// Takes every whole gRPC message off the front of `buf`.
pub fn grpc_messages(buf: &mut BytesMut) -> anyhow::Result<Vec<Bytes>> {
    let mut out = Vec::new();
    loop {
        if buf.len() < 5 {
            return Ok(out);
        }
        if buf[0] != 0 {
            bail!("compressed gRPC message");
        }
        let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
        if buf.len() < 5 + len {
            return Ok(out);
        }
        buf.advance(5);
        out.push(buf.split_to(len).freeze());
    }
}

/// A self-signed certificate for `localhost` and its key, written as PEM
/// files into `dir`: (cert path, key path, cert DER).
pub fn self_signed(
    dir: &std::path::Path,
    name: &str,
) -> anyhow::Result<(PathBuf, PathBuf, Vec<u8>)> {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])?;
    let cert = dir.join(format!("{name}.crt"));
    let key = dir.join(format!("{name}.key"));
    std::fs::write(&cert, ck.cert.pem())?;
    std::fs::write(&key, ck.signing_key.serialize_pem())?;
    Ok((cert, key, ck.cert.der().to_vec()))
}
