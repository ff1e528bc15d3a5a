//! The fast path's connection loop: read a request head, route it, send it
//! upstream on a pooled connection, forward the response as framed, and go
//! on with the next request of the connection.
//!
//! A request the fast path does not handle itself (see the module doc of
//! [`super`]) ends the loop with [`End::Handoff`] before anything of it was
//! sent anywhere: its bytes are still in the buffer, and pingora serves it.

use super::buffers::{Buffer, Head};
use super::chunked::ChunkedScanner;
use super::headers::EditList;
use super::request::{self, Facts, View, MAX_HEADERS};
use super::write::{self, ResponseFacts};
use super::{pool, FastApp};
use crate::balance::{hash_ip, hash_key};
use crate::filters::HeaderTarget;
use crate::filters::{self, RequestParts};
use crate::proxy::{edits, retry, MeshError, MESH_ERROR};
use mesh_config::model::{Filter, Rule};
use mesh_config::spec::{LoadBalancer, Protocol};
use pingora::protocols::Stream;
use pingora::server::ShutdownWatch;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Sleep;

/// How the loop ended.
pub(super) enum End {
    /// Close the connection.
    Close,
    /// pingora serves the rest of the connection, from `buf[start..end]`.
    Handoff,
}

/// First size of the request buffer; it doubles up to [`MAX_HEAD`].
const FIRST_READ: usize = 2048;
/// The largest request head the fast path reads; pingora gets larger ones.
const MAX_HEAD: usize = 64 * 1024;
/// How long a keep-alive connection may wait for its next request.
const KEEPALIVE: Duration = Duration::from_secs(60);
/// How long the rest of a started request head may take.
const HEAD_TIMEOUT: Duration = Duration::from_secs(60);

/// One client connection's state.
pub(super) struct Conn {
    /// Request bytes read: `buf[start..end]` are not consumed yet.
    pub buf: Vec<u8>,
    pub start: usize,
    pub end: usize,
    client: Option<IpAddr>,
    listen_port: Option<u16>,
    /// The keep-alive timer, reset at most once per half [`KEEPALIVE`]:
    /// a registered timer costs little to wait on again, a new one per
    /// request does not.
    idle: Option<Pin<Box<Sleep>>>,
}

impl Conn {
    pub(super) fn new(client: Option<IpAddr>, listen_port: Option<u16>) -> Conn {
        Conn {
            buf: Vec::new(),
            start: 0,
            end: 0,
            client,
            listen_port,
            idle: None,
        }
    }
}

/// Serves requests until the connection ends or one is left to pingora.
pub(super) async fn serve(
    app: &FastApp,
    io: &mut Stream,
    conn: &mut Conn,
    shutdown: &mut ShutdownWatch,
) -> End {
    loop {
        if *shutdown.borrow() {
            return End::Close;
        }
        let head_len = match next_head(io, conn, shutdown).await {
            Arrival::Ready(n) => n,
            Arrival::Close => return End::Close,
            Arrival::Pingora => return End::Handoff,
        };
        let closing = *shutdown.borrow();
        // Boxed: an idle connection's future stays small (the request's
        // state is only allocated while a request is served).
        match Box::pin(one(app, io, conn, head_len, closing)).await {
            Next::KeepAlive => {}
            Next::Close => return End::Close,
            Next::Handoff => return End::Handoff,
        }
    }
}

enum Arrival {
    Ready(usize),
    Close,
    Pingora,
}

/// Reads until `buf[start..]` holds a whole request head.
async fn next_head(io: &mut Stream, conn: &mut Conn, shutdown: &mut ShutdownWatch) -> Arrival {
    loop {
        if conn.end > conn.start {
            let mut hs = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let bytes = conn.buf.get(conn.start..conn.end).unwrap_or(&[]);
            match httparse::Request::new(&mut hs).parse(bytes) {
                Ok(httparse::Status::Complete(n)) => return Arrival::Ready(n),
                Ok(httparse::Status::Partial) => {}
                // Not HTTP/1 (an h2c preface), too many headers, bad syntax:
                // pingora answers or serves it.
                Err(_) => return Arrival::Pingora,
            }
            if conn.end - conn.start >= MAX_HEAD {
                return Arrival::Pingora;
            }
        } else {
            conn.start = 0;
            conn.end = 0;
        }
        if conn.end == conn.buf.len() {
            if conn.start > 0 {
                conn.buf.copy_within(conn.start..conn.end, 0);
                conn.end -= conn.start;
                conn.start = 0;
            } else {
                let size = (conn.buf.len() * 2).max(FIRST_READ);
                conn.buf.resize(size, 0);
            }
        }
        let idle = conn.start == conn.end;
        let Some(room) = conn.buf.get_mut(conn.end..) else {
            return Arrival::Close;
        };
        let read = io.read(room);
        let n = if idle {
            // Closed after KEEPALIVE / 2 to KEEPALIVE of silence.
            let now = tokio::time::Instant::now();
            let timer = conn
                .idle
                .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(now + KEEPALIVE)));
            if timer.deadline() < now + KEEPALIVE / 2 {
                timer.as_mut().reset(now + KEEPALIVE);
            }
            tokio::select! {
                biased;
                r = read => r,
                _ = shutdown.changed() => return Arrival::Close,
                _ = timer.as_mut() => return Arrival::Close,
            }
        } else {
            match tokio::time::timeout(HEAD_TIMEOUT, read).await {
                Ok(r) => r,
                Err(_) => return Arrival::Close,
            }
        };
        match n {
            Ok(0) | Err(_) => return Arrival::Close,
            Ok(n) => conn.end += n,
        }
    }
}

enum Next {
    KeepAlive,
    Close,
    Handoff,
}

/// Counts a request in flight while alive.
struct InFlight<'a>(&'a prometheus::IntGauge);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Why an upstream attempt failed.
enum Failure {
    /// No connection to the endpoint.
    Connect,
    /// The connection broke or closed before a whole response head.
    Upstream,
    /// The attempt's time ran out.
    Timeout,
    /// The client went away while its body was being sent.
    Client,
}

/// Serves the request whose head is `buf[start..start + head_len]`.
async fn one(
    app: &FastApp,
    io: &mut Stream,
    conn: &mut Conn,
    head_len: usize,
    closing: bool,
) -> Next {
    let started = Instant::now();
    let Conn {
        buf,
        start,
        end,
        client,
        listen_port,
        ..
    } = conn;
    let mut out = Head::take();
    let out = &mut *out;
    let Some(head) = buf.get(*start..*start + head_len) else {
        return Next::Handoff;
    };
    let mut hs = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut hs);
    if !matches!(req.parse(head), Ok(httparse::Status::Complete(_))) {
        return Next::Handoff;
    }
    let (Some(method), Some(target), Some(1)) = (req.method, req.path, req.version) else {
        // HTTP/1.0 (no chunked responses, other keep-alive rules) and
        // anything odd: pingora.
        return Next::Handoff;
    };
    if !target.starts_with('/') {
        return Next::Handoff;
    }
    let facts = Facts::scan(req.headers);
    if facts.pingora {
        return Next::Handoff;
    }
    let head_only = method == "HEAD";
    let available = (*end - *start - head_len) as u64;
    let body_in_buf = available.min(facts.body) as usize;
    let body_rest = facts.body - body_in_buf as u64;
    // An answer of the router's own leaves the body unread: the connection
    // stays open only when the whole body is in the buffer (it is skipped).
    let consumed = head_len + body_in_buf;
    let answer_close = closing || facts.close || body_rest > 0;

    let metrics = app.routes.metrics();
    let Some(snapshot) = app.routes.snapshot() else {
        metrics.in_flight.inc();
        let _in_flight = InFlight(&metrics.in_flight);
        return reply(
            io,
            out,
            MeshError::NoTable,
            head_only,
            answer_close,
            start,
            consumed,
        )
        .await;
    };
    let view = View {
        method,
        target,
        host: facts.host,
        headers: req.headers,
    };
    let Some((route, matched)) = snapshot.lookup(&view) else {
        metrics.in_flight.inc();
        let _in_flight = InFlight(&metrics.in_flight);
        let next = reply(
            io,
            out,
            MeshError::NoRoute,
            head_only,
            answer_close,
            start,
            consumed,
        )
        .await;
        snapshot
            .no_route_handles()
            .observe(MeshError::NoRoute.status(), started.elapsed().as_secs_f64());
        return next;
    };
    let (rule_index, match_index) = (matched.rule_index, matched.match_index);
    let (Some(rule), Some(state), Some(route_state)) = (
        snapshot.rule(route, rule_index),
        snapshot.rule_state(route, rule_index),
        snapshot.route_state(route),
    ) else {
        return Next::Handoff;
    };
    // Mirrors: pingora.
    if !state.mirrors.is_empty() {
        return Next::Handoff;
    }
    metrics.in_flight.inc();
    let _in_flight = InFlight(&metrics.in_flight);
    let route_handles = &route_state.handles;

    if let (Some(redirect), Some(m)) = (edits::redirect(rule), rule.matches.get(match_index)) {
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (target, None),
        };
        let parts = RequestParts {
            scheme: filters::forwarded_proto(false),
            host: edits::strip_port(facts.host),
            port: *listen_port,
            path,
            query,
        };
        let (status, location) = filters::redirect(redirect, &parts, m);
        out.clear();
        write::answer(
            out,
            status,
            &[("location", &location)],
            "",
            head_only,
            answer_close,
        );
        let next = send_answer(io, out, answer_close, start, consumed).await;
        route_handles.observe(status, started.elapsed().as_secs_f64());
        return next;
    }

    if state.total_weight == 0 {
        let next = reply(
            io,
            out,
            MeshError::NoBackend,
            head_only,
            answer_close,
            start,
            consumed,
        )
        .await;
        route_handles.observe(
            MeshError::NoBackend.status(),
            started.elapsed().as_secs_f64(),
        );
        return next;
    }
    let Some(backend) = snapshot
        .rule_state(route, rule_index)
        .and_then(|s| s.choose(fastrand::u64(..state.total_weight)))
    else {
        return Next::Handoff;
    };
    let backend_spec = rule.backends.get(backend.position);
    let backend_filters = backend_spec.map_or(&[][..], |b| b.filters.as_slice());
    let filters = || rule.filters.iter().chain(backend_filters);
    let handles = &backend.handles;
    let Some(service) = backend.service.and_then(|s| snapshot.service(s)) else {
        let next = reply(
            io,
            out,
            MeshError::BackendNotFound,
            head_only,
            answer_close,
            start,
            consumed,
        )
        .await;
        handles.observe(
            MeshError::BackendNotFound.status(),
            started.elapsed().as_secs_f64(),
        );
        return next;
    };
    if service.protocol != Protocol::Http || (rule.retry.is_some() && facts.body > 0) {
        return Next::Handoff;
    }
    if service.balancer.pickable() == 0 {
        let next = reply(
            io,
            out,
            MeshError::NoHealthyEndpoint,
            head_only,
            answer_close,
            start,
            consumed,
        )
        .await;
        handles.observe(
            MeshError::NoHealthyEndpoint.status(),
            started.elapsed().as_secs_f64(),
        );
        return next;
    }
    let hash = match service.load_balancer {
        LoadBalancer::RingHash => {
            let by_header = service.hash_header.as_ref().and_then(|name| {
                req.headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case(name.as_str()))
                    .map(|h| hash_key(h.value))
            });
            by_header.or_else(|| client.map(hash_ip)).unwrap_or(0)
        }
        _ => 0,
    };

    // The upstream copy of the request, with the body bytes already read.
    out.clear();
    if filters().any(|f| matches!(f, Filter::RequestHeaders(_) | Filter::Rewrite(_))) {
        let Some(m) = rule.matches.get(match_index) else {
            return Next::Handoff;
        };
        match edited(req.headers, target, m, filters()) {
            Ok((list, target)) => {
                let facts = Facts {
                    skip: true,
                    forwarded_for: list.contains(filters::X_FORWARDED_FOR),
                    request_id: true,
                    ..facts
                };
                write::upstream_head(out, method, &target, &list, &facts, *client);
            }
            Err(e) => {
                tracing::warn!("request header filter: {e}");
                let next = reply(
                    io,
                    out,
                    MeshError::Internal,
                    head_only,
                    true,
                    start,
                    consumed,
                )
                .await;
                handles.observe(500, started.elapsed().as_secs_f64());
                return next;
            }
        }
    } else {
        write::upstream_head(out, method, target, req.headers, &facts, *client);
    }
    if let Some(body) = buf.get(*start + head_len..*start + consumed) {
        out.extend_from_slice(body);
    }
    let mut resp = Buffer::take();
    let resp = &mut *resp;

    let deadline = rule.timeouts.request.map(|d| started + d);
    let retryable = request::idempotent(method) && facts.body == 0;
    let port_override = backend_spec.and_then(|b| b.port);
    let mut tried = [0usize; 16];
    let mut tried_len = 0;
    let mut attempts = 0u32;
    let outcome = loop {
        let remaining = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if remaining.is_some_and(|r| r.is_zero()) {
            break Err(MeshError::Timeout);
        }
        if attempts > 0 {
            handles.retried();
            let backoff = retry_backoff(rule, app.default_backoff);
            let backoff = remaining.map_or(backoff, |r| backoff.min(r));
            if !backoff.is_zero() {
                tokio::time::sleep(backoff).await;
            }
        }
        let Some(pick) = service
            .balancer
            .pick(hash, tried.get(..tried_len).unwrap_or(&[]))
        else {
            break Err(MeshError::NoHealthyEndpoint);
        };
        let Some(peer) = service.peers.get(pick.index) else {
            break Err(MeshError::Internal);
        };
        let Some(mut addr) = peer._address.as_inet().copied() else {
            break Err(MeshError::Internal);
        };
        if let Some(port) = port_override {
            addr.set_port(port);
        }
        if let Some(slot) = tried.get_mut(tried_len) {
            *slot = pick.index;
            tried_len += 1;
        }
        attempts += 1;
        let per_attempt = min_opt(rule.timeouts.backend_request, remaining);
        let connect = peer
            .options
            .connection_timeout
            .map_or(remaining, |c| Some(remaining.map_or(c, |r| c.min(r))));
        let exchange = exchange(io, addr, out, body_rest, resp, connect);
        let result = match per_attempt {
            Some(t) => tokio::time::timeout(t, exchange)
                .await
                .unwrap_or(Err(Failure::Timeout)),
            None => exchange.await,
        };
        let time_left = || deadline.is_none_or(|d| d > Instant::now());
        match result {
            Ok((up, head, filled)) => {
                let status = response_status(resp.get(..head).unwrap_or(&[]));
                let retry_status = rule
                    .retry
                    .as_ref()
                    .is_some_and(|p| p.codes.contains(&status) && attempts <= p.attempts)
                    && retryable
                    && time_left();
                if retry_status {
                    drop(up);
                    continue;
                }
                break Ok((up, addr, head, filled, pick));
            }
            Err(Failure::Connect) => {
                service.connect_errors.inc();
                let others = service.balancer.pickable() > 1;
                if attempts < retry::budget(Some(rule), others) && time_left() && body_rest == 0 {
                    continue;
                }
                break Err(MeshError::ConnectFailed);
            }
            Err(Failure::Upstream) => {
                if retryable && attempts < retry::budget(Some(rule), true) && time_left() {
                    continue;
                }
                break Err(MeshError::UpstreamReset);
            }
            Err(Failure::Timeout) => break Err(MeshError::Timeout),
            Err(Failure::Client) => return Next::Close,
        }
    };
    // `_pick` counts the request on its endpoint (least request) to its end.
    let (up, addr, head, filled, _pick) = match outcome {
        Ok(x) => x,
        Err(error) => {
            // As pingora: the connection ends after an upstream failure.
            let next = reply(io, out, error, head_only, true, start, consumed).await;
            handles.observe(error.status(), started.elapsed().as_secs_f64());
            return next;
        }
    };
    *start += consumed;
    let (status, next) = respond(
        io,
        up,
        addr,
        resp,
        out,
        head,
        filled,
        head_only,
        facts.close || closing,
        filters,
    )
    .await;
    handles.observe(status, started.elapsed().as_secs_f64());
    next
}

/// The request's headers and target after the rule's and the backendRef's
/// filters, in pingora's order: `x-request-id` (added when absent), header
/// modifiers, then `URLRewrite` (hostname, path).
fn edited<'b, 'f>(
    headers: &[httparse::Header<'b>],
    target: &str,
    matched: &mesh_config::model::Match,
    filters: impl Iterator<Item = &'f Filter> + Clone,
) -> Result<(EditList<'b>, String), filters::HeaderError> {
    let mut list = EditList::from_parsed(headers);
    filters::ensure_request_id(&mut list)?;
    for f in filters.clone() {
        if let Filter::RequestHeaders(e) = f {
            filters::apply_header_edits(e, &mut list)?;
        }
    }
    let (mut path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_owned(), Some(q)),
        None => (target.to_owned(), None),
    };
    for f in filters {
        let Filter::Rewrite(r) = f else { continue };
        if let Some(host) = &r.hostname {
            list.set("host", host)?;
        }
        if let Some(p) = &r.path {
            if let Some(rewritten) = filters::rewrite_path(p, matched, &path) {
                path = rewritten;
            }
        }
    }
    if let Some(q) = query {
        path.push('?');
        path.push_str(q);
    }
    Ok((list, path))
}

/// The retry backoff of a rule.
fn retry_backoff(rule: &Rule, default: Duration) -> Duration {
    match &rule.retry {
        Some(r) => r.backoff.unwrap_or(default),
        None => Duration::ZERO,
    }
}

/// The smaller of two optional limits (`None`: no limit).
fn min_opt(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// The status of a complete response head.
fn response_status(head: &[u8]) -> u16 {
    let mut hs = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut r = httparse::Response::new(&mut hs);
    match r.parse(head) {
        Ok(httparse::Status::Complete(_)) => r.code.unwrap_or(0),
        _ => 0,
    }
}

/// One attempt: a connection to `addr` (pooled, else new within
/// `connect`), the request in `out`, the rest of the client's body
/// (`body_rest` bytes, copied through `resp`), then a whole response head
/// (interim `1xx` answers forwarded to the client) read into `resp`.
/// Returns the connection, the head's length and the bytes read.
async fn exchange(
    io: &mut Stream,
    addr: SocketAddr,
    out: &[u8],
    body_rest: u64,
    resp: &mut [u8],
    connect: Option<Duration>,
) -> Result<(TcpStream, usize, usize), Failure> {
    let mut pooled = pool::take(addr);
    loop {
        let reused = pooled.is_some();
        let mut up = match pooled.take() {
            Some(up) => up,
            None => new_connection(addr, connect).await?,
        };
        let sent = async {
            up.write_all(out).await.map_err(|_| Failure::Upstream)?;
            let mut left = body_rest;
            while left > 0 {
                let want = usize::try_from(left).unwrap_or(usize::MAX).min(resp.len());
                let n = io
                    .read(resp.get_mut(..want).unwrap_or(&mut []))
                    .await
                    .map_err(|_| Failure::Client)?;
                if n == 0 {
                    return Err(Failure::Client);
                }
                up.write_all(resp.get(..n).unwrap_or(&[]))
                    .await
                    .map_err(|_| Failure::Upstream)?;
                left -= n as u64;
            }
            Ok(())
        }
        .await;
        let result = match sent {
            Ok(()) => read_head(io, &mut up, resp).await,
            Err(e) => Err((e, 0)),
        };
        match result {
            Ok((head, filled)) => return Ok((up, head, filled)),
            // An idle connection the endpoint closed before it saw the
            // request: send it again on a new one.
            Err((Failure::Upstream, 0)) if reused && body_rest == 0 => continue,
            Err((e, _)) => return Err(e),
        }
    }
}

/// A new connection to `addr`, within `timeout`.
async fn new_connection(addr: SocketAddr, timeout: Option<Duration>) -> Result<TcpStream, Failure> {
    let connect = TcpStream::connect(addr);
    let up = match timeout {
        Some(t) => tokio::time::timeout(t, connect)
            .await
            .map_err(|_| Failure::Connect)?,
        None => connect.await,
    }
    .map_err(|_| Failure::Connect)?;
    let _ = up.set_nodelay(true);
    Ok(up)
}

/// Reads a whole final response head into `resp` (forwarding interim
/// answers); on failure also how many bytes had come.
async fn read_head(
    io: &mut Stream,
    up: &mut TcpStream,
    resp: &mut [u8],
) -> Result<(usize, usize), (Failure, usize)> {
    let mut filled = 0;
    loop {
        let room = resp.get_mut(filled..).unwrap_or(&mut []);
        if room.is_empty() {
            return Err((Failure::Upstream, filled));
        }
        let n = up
            .read(room)
            .await
            .map_err(|_| (Failure::Upstream, filled))?;
        if n == 0 {
            return Err((Failure::Upstream, filled));
        }
        filled += n;
        loop {
            let mut hs = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut r = httparse::Response::new(&mut hs);
            let bytes = resp.get(..filled).unwrap_or(&[]);
            let head = match r.parse(bytes) {
                Ok(httparse::Status::Complete(n)) => n,
                Ok(httparse::Status::Partial) => break,
                Err(_) => return Err((Failure::Upstream, filled)),
            };
            let code = r.code.unwrap_or(0);
            if !(100..200).contains(&code) || code == 101 {
                return Ok((head, filled));
            }
            // An interim answer (100 Continue, 103 Early Hints): to the client.
            if io
                .write_all(bytes.get(..head).unwrap_or(&[]))
                .await
                .is_err()
                || io.flush().await.is_err()
            {
                return Err((Failure::Client, filled));
            }
            resp.copy_within(head..filled, 0);
            filled -= head;
            if filled == 0 {
                break;
            }
        }
    }
}

/// How a response body is framed.
#[derive(Clone, Copy)]
enum Framing {
    Length(u64),
    Chunked,
    UntilClose,
}

/// Forwards the response whose head is `resp[..head]` (`filled` bytes
/// read) and its body; parks the upstream connection when it can be
/// reused. Returns the status and what the client connection does next.
#[allow(clippy::too_many_arguments)]
async fn respond<'f, F: Iterator<Item = &'f Filter>>(
    io: &mut Stream,
    mut up: TcpStream,
    addr: SocketAddr,
    resp: &mut [u8],
    out: &mut Vec<u8>,
    head: usize,
    filled: usize,
    head_only: bool,
    close_asked: bool,
    filters: impl Fn() -> F,
) -> (u16, Next) {
    let (status, framing, reuse, client_close, first) = {
        let mut hs = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut r = httparse::Response::new(&mut hs);
        let bytes = resp.get(..filled).unwrap_or(&[]);
        if !matches!(r.parse(bytes), Ok(httparse::Status::Complete(_))) {
            return (0, Next::Close);
        }
        let status = r.code.unwrap_or(0);
        let facts = ResponseFacts::scan(r.version.unwrap_or(1), r.headers);
        let framing = if head_only || status == 204 || status == 304 {
            Framing::Length(0)
        } else if facts.chunked {
            Framing::Chunked
        } else if facts.until_close {
            Framing::UntilClose
        } else {
            facts.length.map_or(Framing::UntilClose, Framing::Length)
        };
        let until_close = matches!(framing, Framing::UntilClose);
        let client_close = close_asked || until_close;
        let reuse = !facts.close && !until_close;
        let reason = r.reason.unwrap_or("");
        let first = if filters().any(|f| matches!(f, Filter::ResponseHeaders(_))) {
            let mut list = EditList::from_parsed(r.headers);
            for f in filters() {
                if let Filter::ResponseHeaders(e) = f {
                    if let Err(e) = filters::apply_header_edits(e, &mut list) {
                        tracing::warn!("response header filter: {e}");
                    }
                }
            }
            out.clear();
            write::client_head(out, status, reason, &list, client_close);
            true
        } else if facts.skip || client_close {
            out.clear();
            write::client_head(out, status, reason, r.headers, client_close);
            true
        } else {
            false
        };
        (status, framing, reuse, client_close, first)
    };
    let close = || (status, Next::Close);
    // The body bytes read with the head.
    let mut scanner = ChunkedScanner::new();
    let available = resp.get(head..filled).unwrap_or(&[]);
    let (part, mut done, mut reuse) = match frame(framing, &mut scanner, available) {
        Some(x) => (x.0, x.1, reuse && x.2),
        None => (available.len(), true, false),
    };
    let mut left = match framing {
        Framing::Length(n) => n - part as u64,
        _ => 0,
    };
    let sent = if first {
        out.extend_from_slice(available.get(..part).unwrap_or(&[]));
        io.write_all(out).await
    } else {
        io.write_all(resp.get(..head + part).unwrap_or(&[])).await
    };
    if sent.is_err() {
        return close();
    }
    while !done {
        let n = match up.read(resp).await {
            Ok(n) => n,
            Err(_) => return close(),
        };
        if n == 0 {
            if matches!(framing, Framing::UntilClose) {
                reuse = false;
                break;
            }
            // The endpoint ended the body early: the client sees it broken.
            return close();
        }
        let read = resp.get(..n).unwrap_or(&[]);
        let take = match framing {
            Framing::Length(_) => {
                let take = left.min(n as u64) as usize;
                left -= take as u64;
                done = left == 0;
                reuse = reuse && take == n;
                take
            }
            Framing::Chunked => match scanner.feed(read) {
                Ok(Some(k)) => {
                    done = true;
                    reuse = reuse && k == n;
                    k
                }
                Ok(None) => n,
                Err(_) => {
                    let _ = io.write_all(read).await;
                    return close();
                }
            },
            Framing::UntilClose => n,
        };
        if io.write_all(read.get(..take).unwrap_or(&[])).await.is_err() {
            return close();
        }
    }
    if io.flush().await.is_err() {
        return close();
    }
    if reuse {
        pool::put(addr, up);
    }
    (
        status,
        if client_close {
            Next::Close
        } else {
            Next::KeepAlive
        },
    )
}

/// How much of `bytes` (read after the head) is body, whether the body
/// ended there, and whether nothing followed it. `None`: a broken chunked
/// body.
fn frame(
    framing: Framing,
    scanner: &mut ChunkedScanner,
    bytes: &[u8],
) -> Option<(usize, bool, bool)> {
    match framing {
        Framing::Length(n) => {
            let part = (bytes.len() as u64).min(n) as usize;
            Some((part, part as u64 == n, part == bytes.len()))
        }
        Framing::Chunked => match scanner.feed(bytes) {
            Ok(Some(k)) => Some((k, true, k == bytes.len())),
            Ok(None) => Some((bytes.len(), false, true)),
            Err(_) => None,
        },
        Framing::UntilClose => Some((bytes.len(), false, true)),
    }
}

/// Answers `error` and says what the connection does next.
async fn reply(
    io: &mut Stream,
    out: &mut Vec<u8>,
    error: MeshError,
    head_only: bool,
    close: bool,
    start: &mut usize,
    consumed: usize,
) -> Next {
    let reason = error.reason();
    out.clear();
    let body = answer_body(error);
    write::answer(
        out,
        error.status(),
        &[(MESH_ERROR, reason)],
        body,
        head_only,
        close,
    );
    send_answer(io, out, close, start, consumed).await
}

/// Writes the answer in `out` and consumes the request.
async fn send_answer(
    io: &mut Stream,
    out: &[u8],
    close: bool,
    start: &mut usize,
    consumed: usize,
) -> Next {
    if io.write_all(out).await.is_err() || io.flush().await.is_err() || close {
        return Next::Close;
    }
    *start += consumed;
    Next::KeepAlive
}

/// The one-line body of an error answer.
fn answer_body(error: MeshError) -> &'static str {
    match error {
        MeshError::NoTable => "no-table\n",
        MeshError::NoRoute => "no-route\n",
        MeshError::NoBackend => "no-backend\n",
        MeshError::BackendNotFound => "backend-not-found\n",
        MeshError::NoHealthyEndpoint => "no-healthy-endpoint\n",
        MeshError::ConnectFailed => "upstream-connect-failed\n",
        MeshError::Timeout => "timeout\n",
        MeshError::UpstreamReset => "upstream-reset\n",
        MeshError::BadRequest => "bad-request\n",
        MeshError::Internal => "internal-error\n",
    }
}
