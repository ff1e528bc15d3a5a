//! The fast path (`router/src/h1`) end to end over real sockets: raw TCP
//! backends answering fixed bytes, a raw TCP client writing exact bytes and
//! reading exact answers, and the router in between. Keep-alive and the
//! upstream pool, response framings, request bodies, pipelining, hop-by-hop
//! and forwarding headers, interim answers, stale pooled connections, the
//! router's own answers, what is handed to pingora (HTTP/1.0, h2c, chunked
//! request bodies), and a client leaving mid-body.

mod common;

use anyhow::{bail, ensure, Context};
use bytes::Bytes;
use common::{endpoint, Router, TableBuilder};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use mesh_config::table::RouteTable;
use mesh_router::settings::Settings;
use serde_json::json;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

/// Most time any one step of a test may take.
const STEP: Duration = Duration::from_secs(10);

/// `fut`, or an error after [`STEP`].
async fn step<T>(what: &str, fut: impl Future<Output = T>) -> anyhow::Result<T> {
    tokio::time::timeout(STEP, fut)
        .await
        .map_err(|_| anyhow::anyhow!("{what}: nothing within {STEP:?}"))
}

/// Where `needle` starts in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Header lines as (name, value) text.
fn header_list(hs: &[httparse::Header<'_>]) -> Vec<(String, String)> {
    hs.iter()
        .map(|h| {
            (
                h.name.to_owned(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect()
}

/// Every value of header `name` (any case), in order.
fn values<'a>(headers: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect()
}

/// One side of a TCP connection with what was read and not yet consumed.
struct Wire {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Wire {
    fn new(stream: TcpStream) -> Wire {
        Wire {
            stream,
            buf: Vec::new(),
        }
    }

    /// Reads more into the buffer; 0 at the end of the stream.
    async fn fill(&mut self) -> std::io::Result<usize> {
        self.buf.reserve(16 * 1024);
        self.stream.read_buf(&mut self.buf).await
    }

    /// Reads until the buffer holds `n` bytes; false when the stream ended
    /// first.
    async fn fill_to(&mut self, n: usize) -> std::io::Result<bool> {
        while self.buf.len() < n {
            if self.fill().await? == 0 {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn take(&mut self, n: usize) -> Vec<u8> {
        self.buf.drain(..n).collect()
    }

    /// The bytes through the first `end` (included); `None` when the
    /// stream ends before any byte.
    async fn through(&mut self, end: &[u8]) -> anyhow::Result<Option<Vec<u8>>> {
        loop {
            if let Some(i) = find(&self.buf, end) {
                return Ok(Some(self.take(i + end.len())));
            }
            if self.fill().await? == 0 {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                bail!(
                    "the stream ended within {:?}",
                    String::from_utf8_lossy(&self.buf)
                );
            }
        }
    }

    /// A message head through its empty line; `None` at a clean end.
    async fn head(&mut self) -> anyhow::Result<Option<Vec<u8>>> {
        self.through(b"\r\n\r\n").await
    }

    async fn line(&mut self) -> anyhow::Result<Vec<u8>> {
        self.through(b"\r\n")
            .await?
            .context("the stream ended before a line")
    }

    async fn exact(&mut self, n: usize) -> anyhow::Result<Vec<u8>> {
        if !self.fill_to(n).await? {
            bail!("the stream ended after {} of {n} bytes", self.buf.len());
        }
        Ok(self.take(n))
    }

    async fn until_end(&mut self) -> anyhow::Result<Vec<u8>> {
        while self.fill().await? > 0 {}
        Ok(std::mem::take(&mut self.buf))
    }

    /// A chunked body: the bytes as sent (sizes, extensions, trailers) and
    /// the data.
    async fn chunked(&mut self) -> anyhow::Result<(Vec<u8>, Vec<u8>)> {
        let mut raw = Vec::new();
        let mut data = Vec::new();
        loop {
            let line = self.line().await?;
            raw.extend_from_slice(&line);
            let text = std::str::from_utf8(&line)?;
            let digits = text.split([';', '\r']).next().unwrap_or("").trim();
            let size = usize::from_str_radix(digits, 16)
                .with_context(|| format!("chunk size line {text:?}"))?;
            if size == 0 {
                loop {
                    let line = self.line().await?;
                    raw.extend_from_slice(&line);
                    if line == b"\r\n" {
                        return Ok((raw, data));
                    }
                }
            }
            let chunk = self.exact(size + 2).await?;
            ensure!(chunk.ends_with(b"\r\n"), "chunk data not ended by CRLF");
            data.extend_from_slice(chunk.get(..size).unwrap_or(&[]));
            raw.extend_from_slice(&chunk);
        }
    }
}

/// What a raw backend read of one request.
#[derive(Debug, Clone)]
struct Seen {
    /// The upstream connection it came on (0 for the first accepted).
    conn: usize,
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    /// The body, decoded when chunked.
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        values(&self.headers, name).first().copied()
    }

    fn all(&self, name: &str) -> Vec<&str> {
        values(&self.headers, name)
    }
}

/// What a raw backend saw so far.
#[derive(Debug, Clone, Default)]
struct Log {
    accepted: usize,
    requests: Vec<Seen>,
    /// Connections that ended (either side), in order.
    closed: Vec<usize>,
    /// Connections whose request body ended early: (connection, body bytes
    /// read).
    aborted: Vec<(usize, usize)>,
}

impl Log {
    fn conns(&self) -> Vec<usize> {
        self.requests.iter().map(|s| s.conn).collect()
    }

    fn targets(&self) -> Vec<&str> {
        self.requests.iter().map(|s| s.target.as_str()).collect()
    }
}

/// A backend's answer to one request: bytes written one part per write,
/// then the connection closed or kept.
struct Reply {
    parts: Vec<Vec<u8>>,
    close: bool,
}

impl Reply {
    fn bytes(b: impl Into<Vec<u8>>) -> Reply {
        Reply {
            parts: vec![b.into()],
            close: false,
        }
    }

    fn parts(parts: &[&[u8]]) -> Reply {
        Reply {
            parts: parts.iter().map(|p| p.to_vec()).collect(),
            close: false,
        }
    }

    /// Adds header lines (each ending in CRLF) after the status line of
    /// the first part.
    fn with_head(mut self, lines: &str) -> Reply {
        if let Some(first) = self.parts.first_mut() {
            let at = find(first, b"\r\n").map_or(0, |i| i + 2);
            first.splice(at..at, lines.bytes());
        }
        self
    }

    fn then_close(mut self) -> Reply {
        self.close = true;
        self
    }
}

/// A `200` with a `content-length` body.
fn ok(body: impl AsRef<[u8]>) -> Reply {
    let body = body.as_ref();
    let mut out = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", body.len()).into_bytes();
    out.extend_from_slice(body);
    Reply::bytes(out)
}

/// Answers `<method> <target>`.
fn echo(seen: &Seen) -> Reply {
    ok(format!("{} {}", seen.method, seen.target))
}

type Responder = Arc<dyn Fn(&Seen) -> Reply + Send + Sync>;

/// A raw HTTP/1.1 backend on TCP: reads request heads and bodies
/// (`content-length` or chunked) and writes what its responder says.
struct RawBackend {
    addr: SocketAddr,
    log: Arc<watch::Sender<Log>>,
    task: JoinHandle<()>,
}

impl RawBackend {
    async fn start(
        respond: impl Fn(&Seen) -> Reply + Send + Sync + 'static,
    ) -> anyhow::Result<RawBackend> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let log = Arc::new(watch::Sender::new(Log::default()));
        let respond: Responder = Arc::new(respond);
        let task = {
            let log = log.clone();
            tokio::spawn(async move {
                // Dropped with the accept task: every connection ends too.
                let mut conns = JoinSet::new();
                while let Ok((stream, _)) = listener.accept().await {
                    let mut conn = 0;
                    log.send_modify(|l| {
                        conn = l.accepted;
                        l.accepted += 1;
                    });
                    conns.spawn(serve_raw(stream, conn, log.clone(), respond.clone()));
                }
            })
        };
        Ok(RawBackend { addr, log, task })
    }

    fn log(&self) -> Log {
        self.log.borrow().clone()
    }

    /// The log once `cond` holds.
    async fn wait_for(&self, what: &str, cond: impl FnMut(&Log) -> bool) -> anyhow::Result<Log> {
        let mut rx = self.log.subscribe();
        let log = step(what, rx.wait_for(cond)).await??.clone();
        Ok(log)
    }
}

impl Drop for RawBackend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

enum Got {
    Request(Seen),
    /// The connection ended between requests.
    End,
    /// The body ended after this many bytes.
    Aborted(usize),
}

async fn read_request(w: &mut Wire, conn: usize) -> anyhow::Result<Got> {
    let Some(head) = w.head().await? else {
        return Ok(Got::End);
    };
    let mut hs = [httparse::EMPTY_HEADER; 64];
    let mut r = httparse::Request::new(&mut hs);
    ensure!(r.parse(&head)?.is_complete(), "a partial head");
    let mut seen = Seen {
        conn,
        method: r.method.unwrap_or("").to_owned(),
        target: r.path.unwrap_or("").to_owned(),
        headers: header_list(r.headers),
        body: Vec::new(),
    };
    let chunked = seen
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    if chunked {
        seen.body = w.chunked().await?.1;
    } else if let Some(n) = seen.header("content-length") {
        let n: usize = n.trim().parse()?;
        if !w.fill_to(n).await? {
            return Ok(Got::Aborted(w.buf.len()));
        }
        seen.body = w.take(n);
    }
    Ok(Got::Request(seen))
}

async fn serve_raw(
    stream: TcpStream,
    conn: usize,
    log: Arc<watch::Sender<Log>>,
    respond: Responder,
) {
    let mut w = Wire::new(stream);
    loop {
        match read_request(&mut w, conn).await {
            Ok(Got::Request(seen)) => {
                let reply = respond(&seen);
                log.send_modify(|l| l.requests.push(seen));
                let mut failed = false;
                for part in &reply.parts {
                    if w.stream.write_all(part).await.is_err() || w.stream.flush().await.is_err() {
                        failed = true;
                        break;
                    }
                }
                if failed || reply.close {
                    let _ = w.stream.shutdown().await;
                    break;
                }
            }
            Ok(Got::Aborted(n)) => {
                log.send_modify(|l| l.aborted.push((conn, n)));
                break;
            }
            Ok(Got::End) | Err(_) => break,
        }
    }
    drop(w);
    log.send_modify(|l| l.closed.push(conn));
}

/// A response as the raw client read it.
#[derive(Debug)]
struct Resp {
    status: u16,
    /// The head as sent, through its empty line.
    head: String,
    headers: Vec<(String, String)>,
    /// The body as sent (a chunked body with its framing).
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        values(&self.headers, name).first().copied()
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A raw HTTP/1.1 client connection.
struct Client {
    wire: Wire,
}

impl Client {
    async fn connect(addr: SocketAddr) -> anyhow::Result<Client> {
        let stream = step("connect", TcpStream::connect(addr)).await??;
        stream.set_nodelay(true)?;
        Ok(Client {
            wire: Wire::new(stream),
        })
    }

    async fn send(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        step("a write", self.wire.stream.write_all(bytes)).await??;
        Ok(())
    }

    /// The next response; `head_only` for an answer to `HEAD`.
    async fn response(&mut self, head_only: bool) -> anyhow::Result<Resp> {
        step("a response", self.read_response(head_only)).await?
    }

    async fn read_response(&mut self, head_only: bool) -> anyhow::Result<Resp> {
        let head = self
            .wire
            .head()
            .await?
            .context("the connection closed before a response")?;
        let mut hs = [httparse::EMPTY_HEADER; 256];
        let mut r = httparse::Response::new(&mut hs);
        ensure!(r.parse(&head)?.is_complete(), "a partial head");
        let status = r.code.unwrap_or(0);
        let headers = header_list(r.headers);
        let length = values(&headers, "content-length")
            .first()
            .map(|v| v.trim().parse::<usize>());
        let chunked = values(&headers, "transfer-encoding")
            .last()
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
        let body = if head_only || (100..200).contains(&status) || status == 204 || status == 304 {
            Vec::new()
        } else if chunked {
            self.wire.chunked().await?.0
        } else if let Some(n) = length {
            self.wire.exact(n?).await?
        } else {
            self.wire.until_end().await?
        };
        Ok(Resp {
            status,
            head: String::from_utf8_lossy(&head).into_owned(),
            headers,
            body,
        })
    }

    /// `GET path` on this connection.
    async fn get(&mut self, path: &str, host: &str) -> anyhow::Result<Resp> {
        self.send(get(path, host).as_bytes()).await?;
        self.response(false).await
    }

    /// Waits for the router to close the connection, with nothing more
    /// sent.
    async fn closed(&mut self) -> anyhow::Result<()> {
        step("the router to close the connection", async {
            // A reset counts as closed.
            while let Ok(n) = self.wire.fill().await {
                if n == 0 {
                    break;
                }
            }
        })
        .await?;
        ensure!(
            self.wire.buf.is_empty(),
            "bytes after the last answer: {:?}",
            String::from_utf8_lossy(&self.wire.buf)
        );
        Ok(())
    }
}

fn get(path: &str, host: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n")
}

/// A table of services, each with one endpoint, reached by their names.
fn table(services: &[(&str, SocketAddr)]) -> RouteTable {
    services
        .iter()
        .fold(TableBuilder::new(), |t, (name, addr)| {
            t.service_entries(name, json!({}), vec![endpoint(&format!("{name}-0"), *addr)])
        })
        .build(1)
}

async fn router_for(services: &[(&str, SocketAddr)]) -> Router {
    common::init_logs();
    Router::start(table(services)).await
}

/// A router with one worker thread. The fast path's pool of upstream
/// connections is per worker thread, and with two worker threads (the
/// default, work stealing) a client connection's task may run on either
/// between two requests: which upstream connection it gets is then up to
/// the scheduler. With one thread it is not, so tests that name upstream
/// connections use this.
async fn router_one_thread(services: &[(&str, SocketAddr)]) -> Router {
    common::init_logs();
    let settings = Settings {
        threads: 1,
        ..Settings::local()
    };
    Router::start_with(settings, Some(table(services))).await
}

/// A body of `n` bytes that is not one byte repeated.
fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_requests_share_one_upstream_connection() -> anyhow::Result<()> {
    let backend = RawBackend::start(echo).await?;
    let router = router_one_thread(&[("svc", backend.addr)]).await;
    let mut client = Client::connect(router.handle().listen_addr()).await?;
    for path in ["/a", "/b", "/c"] {
        let r = client.get(path, "svc").await?;
        assert_eq!((r.status, r.text()), (200, format!("GET {path}")));
        assert_eq!(r.header("connection"), None, "{}", r.head);
    }
    // A client asking to close: answered with `connection: close`, then
    // closed.
    client
        .send(b"GET /d HTTP/1.1\r\nHost: svc\r\nConnection: close\r\n\r\n")
        .await?;
    let r = client.response(false).await?;
    assert_eq!((r.status, r.text()), (200, "GET /d".to_owned()));
    assert_eq!(r.header("connection"), Some("close"), "{}", r.head);
    client.closed().await?;

    let log = backend.log();
    assert_eq!(log.targets(), ["/a", "/b", "/c", "/d"]);
    // One upstream connection for all of them: the pool gave it back each
    // time.
    assert_eq!(log.conns(), [0, 0, 0, 0]);
    assert_eq!(log.accepted, 1);
    router.stop().await
}

/// Framed responses of the backend, by path.
fn framings(seen: &Seen) -> Reply {
    match seen.target.as_str() {
        "/length" => {
            // Larger than the router's response buffer, in several writes.
            let body = pattern(100_000);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nX-Kind: length\r\n\r\n",
                body.len()
            );
            let (a, b) = body.split_at(30_000);
            Reply::parts(&[head.as_bytes(), a, b])
        }
        "/chunked" => Reply::parts(&[
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: x-checksum\r\nX-Kind: chunked\r\n\r\n",
            b"5;name=value;other\r\nhello\r\n",
            b"6\r\n world\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n",
            b"0;last=1\r\nx-checksum: abc\r\nx-other: 2\r\n\r\n",
        ]),
        "/close" => Reply::parts(&[
            b"HTTP/1.1 200 OK\r\nX-Kind: close\r\n\r\nthe body ",
            b"ends when the connection does",
        ])
        .then_close(),
        "/head" => Reply::bytes(&b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Kind: head\r\n\r\n"[..]),
        "/204" => Reply::bytes(&b"HTTP/1.1 204 No Content\r\nX-Kind: 204\r\n\r\n"[..]),
        "/304" => Reply::bytes(&b"HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\nContent-Length: 7\r\n\r\n"[..]),
        _ => echo(seen),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn length_and_chunked_bodies_arrive_byte_exact() -> anyhow::Result<()> {
    let backend = RawBackend::start(framings).await?;
    let router = router_one_thread(&[("svc", backend.addr)]).await;
    let mut client = Client::connect(router.handle().listen_addr()).await?;

    let r = client.get("/length", "svc").await?;
    // Nothing to change in the head: forwarded as the backend wrote it.
    assert_eq!(
        r.head,
        "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nX-Kind: length\r\n\r\n"
    );
    assert_eq!(r.body, pattern(100_000));

    let r = client.get("/chunked", "svc").await?;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    assert_eq!(r.header("x-kind"), Some("chunked"));
    assert_eq!(r.header("content-length"), None);
    assert_eq!(
        r.text(),
        "5;name=value;other\r\nhello\r\n6\r\n world\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0;last=1\r\nx-checksum: abc\r\nx-other: 2\r\n\r\n"
    );

    // The connection goes on after the chunked body.
    let r = client.get("/after", "svc").await?;
    assert_eq!((r.status, r.text()), (200, "GET /after".to_owned()));
    let log = backend.log();
    assert_eq!(log.targets(), ["/length", "/chunked", "/after"]);
    assert_eq!(log.conns(), [0, 0, 0], "the upstream connection is reused");
    router.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_close_delimited_body_arrives_whole_then_the_connection_closes() -> anyhow::Result<()> {
    let backend = RawBackend::start(framings).await?;
    let router = router_for(&[("svc", backend.addr)]).await;
    let mut client = Client::connect(router.handle().listen_addr()).await?;
    let r = client.get("/first", "svc").await?;
    assert_eq!(r.status, 200);

    client.send(get("/close", "svc").as_bytes()).await?;
    let head = step("a head", client.wire.head())
        .await??
        .context("a response head")?;
    assert_eq!(
        String::from_utf8_lossy(&head),
        "HTTP/1.1 200 OK\r\nX-Kind: close\r\nconnection: close\r\n\r\n"
    );
    // The body is what came until the router closed.
    let body = step("the body to its end", client.wire.until_end()).await??;
    assert_eq!(
        String::from_utf8_lossy(&body),
        "the body ends when the connection does"
    );
    // The backend ended the connection that answered `/close`. (With two
    // worker threads `/first` and `/close` may have used different
    // upstream connections: see `router_one_thread`.)
    let log = backend.log();
    assert_eq!(log.targets(), ["/first", "/close"]);
    let conn = log.requests.get(1).map(|s| s.conn);
    backend
        .wait_for("the backend connection to end", |l| {
            l.closed.first().copied() == conn
        })
        .await?;
    router.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_204_and_304_answers_have_no_body() -> anyhow::Result<()> {
    let backend = RawBackend::start(framings).await?;
    let router = router_one_thread(&[("svc", backend.addr)]).await;
    let mut client = Client::connect(router.handle().listen_addr()).await?;

    client
        .send(b"HEAD /head HTTP/1.1\r\nHost: svc\r\n\r\n")
        .await?;
    let r = client.response(true).await?;
    assert_eq!(
        r.head,
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Kind: head\r\n\r\n"
    );
    let r = client.get("/204", "svc").await?;
    assert_eq!(r.head, "HTTP/1.1 204 No Content\r\nX-Kind: 204\r\n\r\n");
    let r = client.get("/304", "svc").await?;
    assert_eq!(
        r.head,
        "HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\nContent-Length: 7\r\n\r\n"
    );
    // No stray body bytes before the next answer.
    let r = client.get("/after", "svc").await?;
    assert_eq!(r.head, "HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n");
    assert_eq!(r.text(), "GET /after");

    let log = backend.log();
    assert_eq!(log.targets(), ["/head", "/204", "/304", "/after"]);
    assert_eq!(
        log.requests.first().map(|s| s.method.as_str()),
        Some("HEAD")
    );
    assert_eq!(
        log.conns(),
        [0, 0, 0, 0],
        "the upstream connection is reused"
    );
    router.stop().await
}

/// Answers the body's length and method.
fn body_length(seen: &Seen) -> Reply {
    ok(format!(
        "{} {} {}",
        seen.method,
        seen.target,
        seen.body.len()
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_length_request_bodies_arrive_byte_exact() -> anyhow::Result<()> {
    let backend = RawBackend::start(body_length).await?;
    let router = router_for(&[("svc", backend.addr)]).await;
    let mut client = Client::connect(router.handle().listen_addr()).await?;

    client
        .send(b"POST /small HTTP/1.1\r\nHost: svc\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello=world")
        .await?;
    let r = client.response(false).await?;
    assert_eq!((r.status, r.text()), (200, "POST /small 11".to_owned()));

    // About 1 MB: the head alone, then the body in several writes.
    let big = pattern(1_000_003);
    client
        .send(
            format!(
                "PUT /big HTTP/1.1\r\nHost: svc\r\nContent-Length: {}\r\n\r\n",
                big.len()
            )
            .as_bytes(),
        )
        .await?;
    for part in big.chunks(100_000) {
        client.send(part).await?;
    }
    let r = client.response(false).await?;
    assert_eq!((r.status, r.text()), (200, "PUT /big 1000003".to_owned()));

    let r = client.get("/after", "svc").await?;
    assert_eq!((r.status, r.text()), (200, "GET /after 0".to_owned()));

    let log = backend.log();
    assert_eq!(log.targets(), ["/small", "/big", "/after"]);
    let bodies: Vec<&[u8]> = log.requests.iter().map(|s| s.body.as_slice()).collect();
    assert_eq!(bodies.first().copied(), Some(&b"hello=world"[..]));
    assert!(
        bodies.get(1).is_some_and(|b| *b == big.as_slice()),
        "the big body differs"
    );
    assert_eq!(bodies.get(2).map(|b| b.len()), Some(0));
    let small = log.requests.first().context("the first request")?;
    assert_eq!(small.all("content-length"), ["11"]);
    assert_eq!(small.header("content-type"), Some("text/plain"));
    router.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_request_body_is_served_and_the_connection_goes_on() -> anyhow::Result<()> {
    let backend = RawBackend::start(body_length).await?;
    let router = router_for(&[("svc", backend.addr)]).await;
    let mut client = Client::connect(router.handle().listen_addr()).await?;

    client
        .send(b"POST /chunked HTTP/1.1\r\nHost: svc\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n")
        .await?;
    client.send(b"0\r\n\r\n").await?;
    let r = client.response(false).await?;
    assert_eq!((r.status, r.text()), (200, "POST /chunked 11".to_owned()));

    // The next plain request on the same connection.
    let r = client.get("/next", "svc").await?;
    assert_eq!((r.status, r.text()), (200, "GET /next 0".to_owned()));
    let r = client.get("/again", "svc").await?;
    assert_eq!((r.status, r.text()), (200, "GET /again 0".to_owned()));

    let log = backend.log();
    assert_eq!(log.targets(), ["/chunked", "/next", "/again"]);
    assert_eq!(
        log.requests.first().map(|s| s.body.as_slice()),
        Some(&b"hello world"[..])
    );
    router.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_requests_are_answered_in_order() -> anyhow::Result<()> {
    let backend = RawBackend::start(echo).await?;
    let router = router_for(&[("svc", backend.addr)]).await;
    let mut client = Client::connect(router.handle().listen_addr()).await?;
    client
        .send(format!("{}{}", get("/one", "svc"), get("/two", "svc")).as_bytes())
        .await?;
    let first = client.response(false).await?;
    let second = client.response(false).await?;
    assert_eq!((first.status, first.text()), (200, "GET /one".to_owned()));
    assert_eq!((second.status, second.text()), (200, "GET /two".to_owned()));
    // A pipelined POST with its body, then a GET, in one write.
    client
        .send(b"POST /three HTTP/1.1\r\nHost: svc\r\nContent-Length: 3\r\n\r\nabcGET /four HTTP/1.1\r\nHost: svc\r\n\r\n")
        .await?;
    let third = client.response(false).await?;
    let fourth = client.response(false).await?;
    assert_eq!(
        (third.status, third.text()),
        (200, "POST /three".to_owned())
    );
    assert_eq!(
        (fourth.status, fourth.text()),
        (200, "GET /four".to_owned())
    );
    let log = backend.log();
    assert_eq!(log.targets(), ["/one", "/two", "/three", "/four"]);
    assert_eq!(
        log.requests.get(2).map(|s| s.body.as_slice()),
        Some(&b"abc"[..])
    );
    router.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hop_by_hop_headers_stay_and_forwarding_headers_are_set() -> anyhow::Result<()> {
    let backend = RawBackend::start(|_: &Seen| {
        Reply::bytes(
            &b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nContent-Length: 2\r\nX-Up: 1\r\n\r\nok"[..],
        )
    })
    .await?;
    let router = router_for(&[("svc", backend.addr)]).await;
    let mut client = Client::connect(router.handle().listen_addr()).await?;

    client
        .send(
            b"GET /h?q=1 HTTP/1.1\r\nHost: svc\r\nConnection: keep-alive\r\nKeep-Alive: timeout=30\r\nProxy-Connection: keep-alive\r\nTE: gzip\r\nX-Forwarded-For: 1.2.3.4\r\nX-Forwarded-Proto: https\r\nX-Custom: kept\r\n\r\n",
        )
        .await?;
    let r = client.response(false).await?;
    // The upstream's hop-by-hop headers do not reach the client.
    assert_eq!(
        r.head,
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Up: 1\r\n\r\n"
    );
    assert_eq!(r.text(), "ok");

    client
        .send(b"GET /id HTTP/1.1\r\nHost: svc\r\nx-request-id: abc-123\r\n\r\n")
        .await?;
    assert_eq!(client.response(false).await?.status, 200);
    let r = client.get("/plain", "svc").await?;
    assert_eq!(r.status, 200);

    let log = backend.log();
    let [first, second, third] = log.requests.as_slice() else {
        bail!("three requests, not {:?}", log.targets());
    };
    assert_eq!(first.target, "/h?q=1");
    for name in ["connection", "keep-alive", "proxy-connection", "te"] {
        assert_eq!(
            first.all(name),
            Vec::<&str>::new(),
            "{name} reached the backend"
        );
    }
    assert_eq!(first.all("x-forwarded-for"), ["1.2.3.4, 127.0.0.1"]);
    assert_eq!(first.all("x-forwarded-proto"), ["http"]);
    assert_eq!(first.all("x-custom"), ["kept"]);
    assert_eq!(first.all("host"), ["svc"]);
    let id = first.all("x-request-id");
    assert_eq!(id.len(), 1, "one x-request-id: {id:?}");
    assert!(id.iter().all(|v| !v.trim().is_empty()), "{id:?}");

    assert_eq!(second.all("x-request-id"), ["abc-123"]);
    assert_eq!(second.all("x-forwarded-for"), ["127.0.0.1"]);
    assert_eq!(second.all("x-forwarded-proto"), ["http"]);
    // A new id per request.
    let third_id = third.all("x-request-id");
    assert_eq!(third_id.len(), 1);
    assert_ne!(third_id, id);
    router.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interim_answers_come_before_the_final_one() -> anyhow::Result<()> {
    const HINTS: &[u8] = b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n";
    let backend = RawBackend::start(|seen: &Seen| match seen.target.as_str() {
        "/two-writes" => {
            Reply::parts(&[HINTS, b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone"])
        }
        "/one-write" => {
            Reply::bytes([HINTS, b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nsame"].concat())
        }
        _ => echo(seen),
    })
    .await?;
    let router = router_one_thread(&[("svc", backend.addr)]).await;
    let mut client = Client::connect(router.handle().listen_addr()).await?;

    for (path, body) in [("/two-writes", "done"), ("/one-write", "same")] {
        client.send(get(path, "svc").as_bytes()).await?;
        let hints = client.response(false).await?;
        assert_eq!(hints.head.as_bytes(), HINTS, "{path}");
        let r = client.response(false).await?;
        assert_eq!((r.status, r.text()), (200, body.to_owned()), "{path}");
    }
    let r = client.get("/after", "svc").await?;
    assert_eq!((r.status, r.text()), (200, "GET /after".to_owned()));
    assert_eq!(backend.log().conns(), [0, 0, 0]);
    router.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pooled_connection_the_backend_closed_is_replaced() -> anyhow::Result<()> {
    // Answers one request per connection, then closes it: the router's
    // pooled connection is stale by the next request.
    let backend = RawBackend::start(|seen: &Seen| body_length(seen).then_close()).await?;
    let router = router_one_thread(&[("svc", backend.addr)]).await;
    let mut client = Client::connect(router.handle().listen_addr()).await?;

    let r = client.get("/first", "svc").await?;
    assert_eq!((r.status, r.text()), (200, "GET /first 0".to_owned()));
    backend
        .wait_for("the backend to close connection 0", |l| l.closed == [0])
        .await?;

    let r = client.get("/second", "svc").await?;
    assert_eq!((r.status, r.text()), (200, "GET /second 0".to_owned()));
    backend
        .wait_for("the backend to close connection 1", |l| l.closed == [0, 1])
        .await?;

    // A request with its whole body in hand is sent again as well.
    client
        .send(b"POST /third HTTP/1.1\r\nHost: svc\r\nContent-Length: 3\r\n\r\nabc")
        .await?;
    let r = client.response(false).await?;
    assert_eq!((r.status, r.text()), (200, "POST /third 3".to_owned()));

    let log = backend.log();
    assert_eq!(log.targets(), ["/first", "/second", "/third"]);
    assert_eq!(log.conns(), [0, 1, 2]);
    assert_eq!(log.accepted, 3);
    router.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_answers_keep_or_close_the_connection() -> anyhow::Result<()> {
    let backend = RawBackend::start(echo).await?;
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").await?;
        l.local_addr()?
    };
    let router = router_for(&[("svc", backend.addr), ("dead", closed)]).await;
    let mut client = Client::connect(router.handle().listen_addr()).await?;

    let r = client.get("/x", "nowhere.example").await?;
    assert_eq!(
        r.head,
        "HTTP/1.1 404 Not Found\r\nx-mesh-error: no-route\r\ncontent-type: text/plain\r\ncontent-length: 9\r\n\r\n"
    );
    assert_eq!(r.text(), "no-route\n");
    let r = client.get("/good", "svc").await?;
    assert_eq!((r.status, r.text()), (200, "GET /good".to_owned()));

    // A body sent whole with a request answered by the router is skipped.
    client
        .send(b"POST /x HTTP/1.1\r\nHost: nowhere.example\r\nContent-Length: 5\r\n\r\nhelloGET /good2 HTTP/1.1\r\nHost: svc\r\n\r\n")
        .await?;
    let r = client.response(false).await?;
    assert_eq!(
        (r.status, r.header("x-mesh-error")),
        (404, Some("no-route"))
    );
    assert_eq!(r.header("connection"), None);
    let r = client.response(false).await?;
    assert_eq!((r.status, r.text()), (200, "GET /good2".to_owned()));

    // An upstream connect failure: 502, and the connection ends.
    let r = client.get("/y", "dead").await?;
    assert_eq!(
        r.head,
        "HTTP/1.1 502 Bad Gateway\r\nx-mesh-error: upstream-connect-failed\r\ncontent-type: text/plain\r\ncontent-length: 24\r\nconnection: close\r\n\r\n"
    );
    assert_eq!(r.text(), "upstream-connect-failed\n");
    client.closed().await?;

    assert_eq!(backend.log().targets(), ["/good", "/good2"]);
    router.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_router_answer_with_a_body_still_to_come_closes_the_connection() -> anyhow::Result<()> {
    let backend = RawBackend::start(echo).await?;
    let router = router_for(&[("svc", backend.addr)]).await;
    let mut client = Client::connect(router.handle().listen_addr()).await?;
    // The router cannot skip a body it has not read: it answers and closes.
    client
        .send(b"POST /x HTTP/1.1\r\nHost: nowhere.example\r\nContent-Length: 100000\r\n\r\nfirst bytes")
        .await?;
    let r = client.response(false).await?;
    assert_eq!(
        (r.status, r.header("x-mesh-error")),
        (404, Some("no-route"))
    );
    assert_eq!(r.header("connection"), Some("close"));
    client.closed().await?;
    assert_eq!(backend.log().accepted, 0);
    router.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_1_0_is_served() -> anyhow::Result<()> {
    let backend = RawBackend::start(echo).await?;
    let router = router_for(&[("svc", backend.addr)]).await;
    let mut client = Client::connect(router.handle().listen_addr()).await?;
    client
        .send(b"GET /old HTTP/1.0\r\nHost: svc\r\n\r\n")
        .await?;
    let r = client.response(false).await?;
    assert_eq!((r.status, r.text()), (200, "GET /old".to_owned()));
    // HTTP/1.0 without keep-alive: the connection ends after the answer.
    client.closed().await?;
    let log = backend.log();
    assert_eq!(log.targets(), ["/old"]);
    let seen = log.requests.first().context("a request")?;
    assert_eq!(seen.all("x-forwarded-proto"), ["http"]);
    router.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2c_prior_knowledge_is_served() -> anyhow::Result<()> {
    let backend = RawBackend::start(echo).await?;
    let router = router_for(&[("svc", backend.addr)]).await;
    let tcp = step("connect", TcpStream::connect(router.handle().listen_addr())).await??;
    let (mut send, conn) = step(
        "the HTTP/2 handshake",
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp)),
    )
    .await??;
    let conn = tokio::spawn(conn);
    for path in ["/h2", "/h2-again"] {
        let req = hyper::Request::get(format!("http://svc{path}")).body(Empty::<Bytes>::new())?;
        let resp = step("an HTTP/2 response", send.send_request(req)).await??;
        assert_eq!(resp.version(), hyper::Version::HTTP_2);
        assert_eq!(resp.status(), 200);
        let body = step("the body", resp.into_body().collect())
            .await??
            .to_bytes();
        assert_eq!(String::from_utf8_lossy(&body), format!("GET {path}"));
    }
    drop(send);
    conn.abort();
    assert_eq!(backend.log().targets(), ["/h2", "/h2-again"]);
    router.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_leaving_mid_body_leaves_the_router_healthy() -> anyhow::Result<()> {
    let backend = RawBackend::start(body_length).await?;
    let router = router_for(&[("svc", backend.addr)]).await;
    let addr = router.handle().listen_addr();
    {
        let mut client = Client::connect(addr).await?;
        client
            .send(b"POST /upload HTTP/1.1\r\nHost: svc\r\nContent-Length: 100000\r\n\r\n0123456789")
            .await?;
        step("shutdown", client.wire.stream.shutdown()).await??;
        // The router gives up on the request: no answer, the connection ends.
        client.closed().await?;
    }
    // The upstream connection ends with the 10 bytes of the body it got.
    let log = backend
        .wait_for("the upstream connection to end", |l| l.closed == [0])
        .await?;
    assert_eq!(log.aborted, [(0, 10)]);
    assert!(log.requests.is_empty());

    let mut client = Client::connect(addr).await?;
    let r = client.get("/after", "svc").await?;
    assert_eq!((r.status, r.text()), (200, "GET /after 0".to_owned()));
    let log = backend.log();
    assert_eq!(log.targets(), ["/after"]);
    assert_eq!(log.conns(), [1], "a new upstream connection");
    router.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_requests_after_a_handed_over_one_end_with_it() -> anyhow::Result<()> {
    let backend = RawBackend::start(body_length).await?;
    let router = router_for(&[("svc", backend.addr)]).await;
    let mut client = Client::connect(router.handle().listen_addr()).await?;
    // Fast path, pingora (chunked body), then a request pingora finds
    // already read behind the body: one write.
    let mut all = get("/a", "svc").into_bytes();
    all.extend_from_slice(
        b"POST /b HTTP/1.1\r\nHost: svc\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    );
    all.extend_from_slice(get("/c", "svc").as_bytes());
    client.send(&all).await?;
    for want in ["GET /a 0", "POST /b 3"] {
        let r = client.response(false).await?;
        assert_eq!((r.status, r.text()), (200, want.to_owned()));
    }
    // pingora (pipelining off, its default) does not serve bytes read past
    // a request: it closes the connection and `/c` is never sent anywhere.
    // RFC 9112 section 9.3.2 lets a server close there; the client sends
    // `/c` again on a new connection.
    client.closed().await?;
    assert_eq!(backend.log().targets(), ["/a", "/b"]);
    let mut client = Client::connect(router.handle().listen_addr()).await?;
    let r = client.get("/c", "svc").await?;
    assert_eq!((r.status, r.text()), (200, "GET /c 0".to_owned()));
    router.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_goes_back_and_forth_between_fast_path_and_pingora() -> anyhow::Result<()> {
    let backend = RawBackend::start(body_length).await?;
    let router = router_for(&[("svc", backend.addr)]).await;
    let mut client = Client::connect(router.handle().listen_addr()).await?;
    let r = client.get("/1", "svc").await?;
    assert_eq!((r.status, r.text()), (200, "GET /1 0".to_owned()));
    client
        .send(b"POST /2 HTTP/1.1\r\nHost: svc\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nxy\r\n0\r\n\r\n")
        .await?;
    let r = client.response(false).await?;
    assert_eq!((r.status, r.text()), (200, "POST /2 2".to_owned()));
    let r = client.get("/3", "svc").await?;
    assert_eq!((r.status, r.text()), (200, "GET /3 0".to_owned()));
    // HTTP/1.0 asking to keep the connection: pingora, then back.
    client
        .send(b"GET /4 HTTP/1.0\r\nHost: svc\r\nConnection: keep-alive\r\n\r\n")
        .await?;
    let r = client.response(false).await?;
    assert_eq!((r.status, r.text()), (200, "GET /4 0".to_owned()));
    let r = client.get("/5", "svc").await?;
    assert_eq!((r.status, r.text()), (200, "GET /5 0".to_owned()));
    assert_eq!(backend.log().targets(), ["/1", "/2", "/3", "/4", "/5"]);
    router.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heads_in_pieces_and_large_heads_are_read_whole() -> anyhow::Result<()> {
    let backend = RawBackend::start(|seen: &Seen| match seen.target.as_str() {
        "/pieces" => Reply::parts(&[
            b"HTTP/1.1 200 OK\r\nConte",
            b"nt-Length: 3\r\nX-A: ",
            b"1\r\n\r",
            b"\na",
            b"bc",
        ]),
        _ => body_length(seen),
    })
    .await?;
    let router = router_for(&[("svc", backend.addr)]).await;
    let mut client = Client::connect(router.handle().listen_addr()).await?;

    // A request head in several writes.
    for part in [
        &b"GET /pie"[..],
        b"ces HTTP/1.1\r\nHo",
        b"st: svc\r\n",
        b"\r\n",
    ] {
        client.send(part).await?;
    }
    let r = client.response(false).await?;
    assert_eq!(
        r.head,
        "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-A: 1\r\n\r\n"
    );
    assert_eq!(r.text(), "abc");

    // A 40 KB head: larger than the first read buffer.
    let big = "v".repeat(40_000);
    client
        .send(format!("GET /big HTTP/1.1\r\nHost: svc\r\nX-Big: {big}\r\n\r\n").as_bytes())
        .await?;
    let r = client.response(false).await?;
    assert_eq!((r.status, r.text()), (200, "GET /big 0".to_owned()));
    let r = client.get("/after", "svc").await?;
    assert_eq!((r.status, r.text()), (200, "GET /after 0".to_owned()));

    let log = backend.log();
    assert_eq!(log.targets(), ["/pieces", "/big", "/after"]);
    assert_eq!(
        log.requests.get(1).map(|s| s.all("x-big")),
        Some(vec![big.as_str()])
    );
    router.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_closing_or_overrunning_is_not_reused() -> anyhow::Result<()> {
    let backend = RawBackend::start(|seen: &Seen| match seen.target.as_str() {
        // Says it closes: the router must not reuse the connection.
        "/close" => Reply::bytes(
            &b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"[..],
        )
        .then_close(),
        // Bytes beyond its content-length: not forwarded, not reused.
        "/overrun" => Reply::bytes(&b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA"[..]),
        _ => body_length(seen),
    })
    .await?;
    let router = router_one_thread(&[("svc", backend.addr)]).await;
    let mut client = Client::connect(router.handle().listen_addr()).await?;

    let r = client.get("/close", "svc").await?;
    // The client connection stays: no `connection` header for it.
    assert_eq!(r.head, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n");
    assert_eq!(r.text(), "ok");
    let r = client.get("/overrun", "svc").await?;
    assert_eq!(r.head, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n");
    assert_eq!(r.text(), "ok");
    let r = client.get("/after", "svc").await?;
    assert_eq!((r.status, r.text()), (200, "GET /after 0".to_owned()));

    let log = backend.log();
    assert_eq!(log.targets(), ["/close", "/overrun", "/after"]);
    assert_eq!(log.conns(), [0, 1, 2]);
    router.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_on_two_worker_threads_opens_at_most_one_upstream_connection_each(
) -> anyhow::Result<()> {
    let backend = RawBackend::start(echo).await?;
    // The default settings: two worker threads, work stealing.
    let router = router_for(&[("svc", backend.addr)]).await;
    let mut client = Client::connect(router.handle().listen_addr()).await?;
    for i in 0..20 {
        let path = format!("/{i}");
        let r = client.get(&path, "svc").await?;
        assert_eq!((r.status, r.text()), (200, format!("GET {path}")));
    }
    let log = backend.log();
    assert_eq!(log.requests.len(), 20);
    // One pool per worker thread: at most one upstream connection for
    // each, whichever thread served which request.
    assert!(
        (1..=2).contains(&log.accepted),
        "{} upstream connections for one client connection",
        log.accepted
    );
    router.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_closing_without_an_answer_gives_502() -> anyhow::Result<()> {
    // Reads each request and closes the connection without a word.
    let backend = RawBackend::start(|_: &Seen| Reply {
        parts: Vec::new(),
        close: true,
    })
    .await?;
    let router = router_for(&[("svc", backend.addr)]).await;
    let addr = router.handle().listen_addr();
    let reset = "HTTP/1.1 502 Bad Gateway\r\nx-mesh-error: upstream-reset\r\ncontent-type: text/plain\r\ncontent-length: 15\r\nconnection: close\r\n\r\n";

    // A GET is tried again once (on the same endpoint: there is no other).
    let mut client = Client::connect(addr).await?;
    let r = client.get("/get", "svc").await?;
    assert_eq!(r.head, reset);
    assert_eq!(r.text(), "upstream-reset\n");
    client.closed().await?;
    assert_eq!(backend.log().targets(), ["/get", "/get"]);

    // A request with a body is not.
    let mut client = Client::connect(addr).await?;
    client
        .send(b"POST /post HTTP/1.1\r\nHost: svc\r\nContent-Length: 2\r\n\r\nhi")
        .await?;
    let r = client.response(false).await?;
    assert_eq!(r.head, reset);
    client.closed().await?;
    let log = backend.log();
    assert_eq!(log.targets(), ["/get", "/get", "/post"]);
    assert_eq!(
        log.requests.get(2).map(|s| s.body.as_slice()),
        Some(&b"hi"[..])
    );
    router.stop().await
}

/// A backend whose response heads are larger than the fast path reads.
async fn big_heads() -> anyhow::Result<RawBackend> {
    RawBackend::start(|seen: &Seen| match seen.target.as_str() {
        // One 20 000-byte header: a 20 KB head (pingora reads up to 1 MiB).
        "/large" => ok("ok").with_head(&format!("X-Big: {}\r\n", "c".repeat(20_000))),
        // 70 header lines (pingora reads up to 256).
        "/many" => ok("ok").with_head(
            &(0..70)
                .map(|i| format!("Set-Cookie: c{i}=v\r\n"))
                .collect::<String>(),
        ),
        _ => echo(seen),
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]

async fn a_response_head_over_16_kib_is_forwarded() -> anyhow::Result<()> {
    let backend = big_heads().await?;
    let router = router_for(&[("svc", backend.addr)]).await;
    let mut client = Client::connect(router.handle().listen_addr()).await?;
    let r = client.get("/large", "svc").await?;
    assert_eq!((r.status, r.text()), (200, "ok".to_owned()));
    assert_eq!(r.header("x-big").map(str::len), Some(20_000));
    assert_eq!(backend.log().targets(), ["/large"]);
    router.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]

async fn a_response_with_70_headers_is_forwarded() -> anyhow::Result<()> {
    let backend = big_heads().await?;
    let router = router_for(&[("svc", backend.addr)]).await;
    let mut client = Client::connect(router.handle().listen_addr()).await?;
    let r = client.get("/many", "svc").await?;
    assert_eq!((r.status, r.text()), (200, "ok".to_owned()));
    assert_eq!(r.headers.len(), 71, "{}", r.head);
    assert_eq!(backend.log().targets(), ["/many"]);
    router.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]

async fn a_chunked_response_keeps_its_trailer_header() -> anyhow::Result<()> {
    let backend = RawBackend::start(framings).await?;
    let router = router_for(&[("svc", backend.addr)]).await;
    let mut client = Client::connect(router.handle().listen_addr()).await?;
    let r = client.get("/chunked", "svc").await?;
    assert_eq!(
        r.head,
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: x-checksum\r\nX-Kind: chunked\r\n\r\n"
    );
    assert!(r
        .text()
        .ends_with("\r\nx-checksum: abc\r\nx-other: 2\r\n\r\n"));
    router.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_1_0_response_reaches_the_client_as_http_1_1() -> anyhow::Result<()> {
    // An HTTP/1.0 backend that keeps its connections alive when asked.
    let backend = RawBackend::start(|seen: &Seen| {
        let body = format!("{} {}", seen.method, seen.target);
        Reply::bytes(format!(
            "HTTP/1.0 200 OK\r\nContent-Length: {}\r\nConnection: keep-alive\r\n\r\n{body}",
            body.len()
        ))
    })
    .await?;
    let router = router_one_thread(&[("svc", backend.addr)]).await;
    let mut client = Client::connect(router.handle().listen_addr()).await?;
    for path in ["/old", "/again"] {
        let r = client.get(path, "svc").await?;
        assert!(r.head.starts_with("HTTP/1.1 200 "), "{}", r.head);
        // The upstream's `connection` header is hop-by-hop: not forwarded,
        // and the client's connection stays open.
        assert_eq!(r.header("connection"), None, "{}", r.head);
        assert_eq!((r.status, r.text()), (200, format!("GET {path}")));
    }
    let log = backend.log();
    assert_eq!(log.targets(), ["/old", "/again"]);
    // `keep-alive` from an HTTP/1.0 upstream: its connection is reused.
    assert_eq!(log.conns(), [0, 0]);
    router.stop().await
}

/// The lines of the access log at `path` once it holds `n` of them (or
/// all it holds after [`STEP`]), each parsed as JSON.
async fn access_log_lines(
    path: &std::path::Path,
    n: usize,
) -> anyhow::Result<Vec<serde_json::Value>> {
    let deadline = tokio::time::Instant::now() + STEP;
    let text = loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        // Only whole lines: the writer may be midway through one.
        let whole = text.rfind('\n').map_or("", |i| &text[..=i]).to_owned();
        if whole.lines().count() >= n || tokio::time::Instant::now() >= deadline {
            break whole;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    text.lines()
        .map(|l| serde_json::from_str(l).with_context(|| format!("not JSON: {l:?}")))
        .collect()
}

/// The one line of `lines` whose `path` is `path`.
fn line_for<'a>(
    lines: &'a [serde_json::Value],
    path: &str,
) -> anyhow::Result<&'a serde_json::Value> {
    let found: Vec<_> = lines.iter().filter(|l| l["path"] == path).collect();
    match found.as_slice() {
        [one] => Ok(one),
        _ => bail!("{} lines for {path} in {lines:#?}", found.len()),
    }
}

/// Checks the fields every line has: `ts` (RFC 3339 UTC), `client`,
/// `duration_us`.
fn check_common(line: &serde_json::Value) {
    let ts = line["ts"].as_str().unwrap_or("");
    assert!(ts.ends_with('Z') && ts.len() == 24, "ts {ts:?} in {line}");
    assert_eq!(line["client"], "127.0.0.1", "{line}");
    assert!(line["duration_us"].is_u64(), "duration_us in {line}");
}

/// A request id of the router's making: 32 hex digits.
fn generated_id(line: &serde_json::Value) -> anyhow::Result<String> {
    let id = line["request_id"].as_str().unwrap_or("");
    ensure!(
        id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "request_id {id:?} in {line}"
    );
    Ok(id.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_access_log_records_fast_path_and_pingora_requests() -> anyhow::Result<()> {
    common::init_logs();
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("access.log");
    let backend = RawBackend::start(body_length).await?;
    let settings = Settings {
        access_log: Some(mesh_router::access_log::Target::File(path.clone())),
        threads: 1,
        ..Settings::local()
    };
    let router = Router::start_with(settings, Some(table(&[("svc", backend.addr)]))).await;
    let upstream = backend.addr.to_string();
    let mut client = Client::connect(router.handle().listen_addr()).await?;

    // (a) The fast path, with the client's request id.
    client
        .send(b"GET /fast?q=1 HTTP/1.1\r\nHost: svc\r\nx-request-id: abc\r\n\r\n")
        .await?;
    let r = client.response(false).await?;
    assert_eq!((r.status, r.text()), (200, "GET /fast?q=1 0".to_owned()));
    // (b) No route: the router answers itself.
    let r = client.get("/missing?z", "nowhere.example").await?;
    assert_eq!(
        (r.status, r.header("x-mesh-error")),
        (404, Some("no-route"))
    );
    // (c) A chunked request body: handed to pingora.
    client
        .send(b"POST /chunked?x=2 HTTP/1.1\r\nHost: svc\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
        .await?;
    let r = client.response(false).await?;
    assert_eq!(
        (r.status, r.text()),
        (200, "POST /chunked?x=2 3".to_owned())
    );
    // (d) h2c: pingora.
    let tcp = step("connect", TcpStream::connect(router.handle().listen_addr())).await??;
    let (mut send, conn) = step(
        "the HTTP/2 handshake",
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp)),
    )
    .await??;
    let conn = tokio::spawn(conn);
    let req = hyper::Request::get("http://svc/h2?y=3").body(Empty::<Bytes>::new())?;
    let resp = step("an HTTP/2 response", send.send_request(req)).await??;
    assert_eq!(resp.status(), 200);
    let body = step("the body", resp.into_body().collect())
        .await??
        .to_bytes();
    assert_eq!(String::from_utf8_lossy(&body), "GET /h2?y=3 0");
    drop(send);
    conn.abort();

    let lines = access_log_lines(&path, 4).await?;
    assert_eq!(lines.len(), 4, "{lines:#?}");
    let seen = backend.log();
    assert_eq!(seen.targets(), ["/fast?q=1", "/chunked?x=2", "/h2?y=3"]);
    // The id logged is the one the backend got.
    let sent_id = |i: usize| {
        seen.requests
            .get(i)
            .and_then(|s| s.header("x-request-id"))
            .map(str::to_owned)
    };

    let fast = line_for(&lines, "/fast?q=1")?;
    let missing = line_for(&lines, "/missing?z")?;
    let chunked = line_for(&lines, "/chunked?x=2")?;
    let h2 = line_for(&lines, "/h2?y=3")?;
    for line in [fast, missing, chunked, h2] {
        check_common(line);
    }
    assert_eq!(fast["request_id"], "abc");
    assert_eq!(sent_id(0).as_deref(), Some("abc"));
    // Nothing was forwarded: no id was generated (on pingora's path too the
    // id comes with the upstream request's headers, after the lookup).
    assert_eq!(missing["request_id"], serde_json::Value::Null, "{missing}");
    assert_eq!(Some(generated_id(chunked)?), sent_id(1));
    assert_eq!(Some(generated_id(h2)?), sent_id(2));

    let fields = |l: &serde_json::Value| {
        json!([
            l["method"],
            l["host"],
            l["proto"],
            l["status"],
            l["route"],
            l["service"],
            l["upstream"],
            l["attempts"],
            l["error"]
        ])
    };
    assert_eq!(
        fields(fast),
        json!([
            "GET",
            "svc",
            "HTTP/1.1",
            200,
            "service:svc",
            "svc",
            upstream,
            1,
            null
        ])
    );
    assert_eq!(
        fields(missing),
        json!([
            "GET",
            "nowhere.example",
            "HTTP/1.1",
            404,
            "",
            "",
            null,
            0,
            "no-route"
        ])
    );
    assert_eq!(
        fields(chunked),
        json!([
            "POST",
            "svc",
            "HTTP/1.1",
            200,
            "service:svc",
            "svc",
            upstream,
            1,
            null
        ])
    );
    assert_eq!(
        fields(h2),
        json!([
            "GET",
            "svc",
            "HTTP/2",
            200,
            "service:svc",
            "svc",
            upstream,
            1,
            null
        ])
    );
    router.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fast_path_requests_are_counted_like_pingora_ones() -> anyhow::Result<()> {
    let backend = RawBackend::start(body_length).await?;
    let router = router_for(&[("svc", backend.addr)]).await;
    let mut client = Client::connect(router.handle().listen_addr()).await?;
    // The fast path, then pingora (a chunked body), on the same route.
    let r = client.get("/fast", "svc").await?;
    assert_eq!((r.status, r.text()), (200, "GET /fast 0".to_owned()));
    client
        .send(b"POST /slow HTTP/1.1\r\nHost: svc\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n")
        .await?;
    let r = client.response(false).await?;
    assert_eq!((r.status, r.text()), (200, "POST /slow 2".to_owned()));

    // Both count once the answer is sent: wait for them.
    let http = common::Http::new();
    let url = router.admin_url("/metrics");
    let want = [
        r#"mesh_router_requests_total{class="2xx",route="service:svc",service="svc"} 2"#,
        r#"mesh_router_request_duration_seconds_count{route="service:svc",service="svc"} 2"#,
    ];
    let deadline = tokio::time::Instant::now() + STEP;
    loop {
        let metrics = http.get(&url, "").await?.body;
        let missing: Vec<_> = want
            .iter()
            .filter(|w| !metrics.lines().any(|l| l == **w))
            .collect();
        if missing.is_empty() {
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            bail!("{missing:?} missing after {STEP:?} in\n{metrics}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    router.stop().await
}
