//! The fast path's connection loop: read a request head, route it, send it
//! upstream on a pooled connection, forward the response as framed, and go
//! on with the next request of the connection.
//!
//! A request the fast path does not handle itself (see the module doc of
//! [`super`]) ends the loop with [`End::Handoff`] before anything of it was
//! sent anywhere: its bytes are still in the buffer, and pingora serves it.

use super::answer::{refuse, reply, send_answer};
use super::buffers::{Buffer, Head};
use super::headers::edited;
use super::record::Record;
use super::request::{Facts, View, MAX_HEADERS};
use super::response::respond;
use super::upstream::{exchange, Failure};
use super::write::{self};
use super::FastApp;
use crate::filters::HeaderTarget;
use crate::filters::{self, RequestParts};
use crate::proxy::{edits, min_opt, retry, MeshError};
use mesh_config::model::Filter;
use mesh_config::spec::Protocol;
use pingora::protocols::Stream;
use pingora::server::ShutdownWatch;
use std::mem::MaybeUninit;
use std::net::IpAddr;
use std::pin::Pin;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;
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
    /// The client's address as written in `x-forwarded-for` (formatted
    /// once per connection).
    client_text: Option<String>,
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
            client_text: client.map(|ip| ip.to_string()),
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
    let mut read_more = true;
    loop {
        if *shutdown.borrow() {
            return End::Close;
        }
        if read_more || conn.start == conn.end {
            match fill(io, conn, shutdown).await {
                Fill::Read => {}
                Fill::Close => return End::Close,
                Fill::Pingora => return End::Handoff,
            }
        }
        let closing = *shutdown.borrow();
        // Boxed: an idle connection's future stays small (the request's
        // state is only allocated while a request is served).
        read_more = match Box::pin(one(app, io, conn, closing)).await {
            Next::KeepAlive => false,
            Next::Partial => true,
            Next::Close => return End::Close,
            Next::Handoff => return End::Handoff,
        };
    }
}

enum Fill {
    Read,
    Close,
    Pingora,
}

/// Reads more request bytes into `buf[end..]` (making room first): with
/// the keep-alive timer between requests, within [`HEAD_TIMEOUT`] inside a
/// head. The head is parsed once, by the request's own step.
async fn fill(io: &mut Stream, conn: &mut Conn, shutdown: &mut ShutdownWatch) -> Fill {
    if conn.start == conn.end {
        conn.start = 0;
        conn.end = 0;
    } else if conn.end - conn.start >= MAX_HEAD {
        // A head this large: pingora answers it.
        return Fill::Pingora;
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
        return Fill::Close;
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
            _ = shutdown.changed() => return Fill::Close,
            _ = timer.as_mut() => return Fill::Close,
        }
    } else {
        match tokio::time::timeout(HEAD_TIMEOUT, read).await {
            Ok(r) => r,
            Err(_) => return Fill::Close,
        }
    };
    match n {
        Ok(0) | Err(_) => Fill::Close,
        Ok(n) => {
            conn.end += n;
            Fill::Read
        }
    }
}

pub(super) enum Next {
    KeepAlive,
    /// The head is not complete yet: read more.
    Partial,
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

/// Serves the request at `buf[start..]`, once its head is complete.
async fn one(app: &FastApp, io: &mut Stream, conn: &mut Conn, closing: bool) -> Next {
    let started = Instant::now();
    let Conn {
        buf,
        start,
        end,
        client,
        client_text,
        listen_port,
        ..
    } = conn;
    let mut out = Head::take();
    let out = &mut *out;
    let Some(bytes) = buf.get(*start..*end) else {
        return Next::Handoff;
    };
    // Left uninitialised: httparse writes the ones it fills.
    let mut hs = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut []);
    let head_len = match req.parse_with_uninit_headers(bytes, &mut hs) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Next::Partial,
        // Not HTTP/1 (an h2c preface), too many headers, bad syntax:
        // pingora answers or serves it.
        Err(_) => return Next::Handoff,
    };
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
    let mut rec = Record {
        app,
        started,
        client: *client,
        method,
        host: facts.host,
        target,
        headers: req.headers,
        route: "",
        service: "",
        upstream: None,
        attempts: 0,
        request_id: None,
    };
    let Some(snapshot) = app.routes.snapshot() else {
        metrics.in_flight.inc();
        let _in_flight = InFlight(&metrics.in_flight);
        rec.log(MeshError::NoTable.status(), Some(MeshError::NoTable));
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
        return refuse(
            io,
            out,
            MeshError::NoRoute,
            head_only,
            answer_close,
            start,
            consumed,
            &rec,
            snapshot.no_route_handles(),
        )
        .await;
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
    rec.route = snapshot
        .indexed_route(route)
        .map_or("", |r| r.name.as_str());

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
        rec.done(route_handles, status, None);
        return next;
    }

    if state.total_weight == 0 {
        return refuse(
            io,
            out,
            MeshError::NoBackend,
            head_only,
            answer_close,
            start,
            consumed,
            &rec,
            route_handles,
        )
        .await;
    }
    let Some(backend) = state.choose(fastrand::u64(..state.total_weight)) else {
        return Next::Handoff;
    };
    let backend_spec = rule.backends.get(backend.position);
    let backend_filters = backend_spec.map_or(&[][..], |b| b.filters.as_slice());
    let filters = || rule.filters.iter().chain(backend_filters);
    let handles = &backend.handles;
    let Some(service) = backend.service.and_then(|s| snapshot.service(s)) else {
        return refuse(
            io,
            out,
            MeshError::BackendNotFound,
            head_only,
            answer_close,
            start,
            consumed,
            &rec,
            handles,
        )
        .await;
    };
    if service.protocol != Protocol::Http || (rule.retry.is_some() && facts.body > 0) {
        return Next::Handoff;
    }
    rec.service = service.name.as_str();
    if service.balancer.pickable() == 0 {
        return refuse(
            io,
            out,
            MeshError::NoHealthyEndpoint,
            head_only,
            answer_close,
            start,
            consumed,
            &rec,
            handles,
        )
        .await;
    }
    let hash = service.ring_hash(
        |name| {
            req.headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(name))
                .map(|h| h.value)
        },
        *client,
    );

    // The upstream copy of the request, with the body bytes already read.
    out.clear();
    if filters().any(|f| matches!(f, Filter::RequestHeaders(_) | Filter::Rewrite(_))) {
        let Some(m) = rule.matches.get(match_index) else {
            return Next::Handoff;
        };
        match edited(req.headers, target, m, filters()) {
            Ok((list, target, id)) => {
                rec.request_id = id;
                let facts = Facts {
                    skip: true,
                    forwarded_for: list.contains(filters::X_FORWARDED_FOR),
                    request_id: true,
                    ..facts
                };
                write::upstream_head(out, method, &target, &list, &facts, client_text.as_deref());
            }
            Err(e) => {
                tracing::warn!("request header filter: {e}");
                return refuse(
                    io,
                    out,
                    MeshError::Internal,
                    head_only,
                    true,
                    start,
                    consumed,
                    &rec,
                    handles,
                )
                .await;
            }
        }
    } else {
        rec.request_id = write::upstream_head(
            out,
            method,
            target,
            req.headers,
            &facts,
            client_text.as_deref(),
        );
    }
    if let Some(body) = buf.get(*start + head_len..*start + consumed) {
        out.extend_from_slice(body);
    }
    let mut resp = Buffer::take();
    let resp = &mut *resp;

    let deadline = rule.timeouts.request.map(|d| started + d);
    let retryable = http::Method::from_bytes(method.as_bytes()).is_ok_and(|m| m.is_idempotent())
        && facts.body == 0;
    let port_override = backend_spec.and_then(|b| b.port);
    let mut tried = [0usize; 16];
    let mut tried_len = 0;
    let mut attempts = 0u32;
    let mut last_addr = None;
    let outcome = loop {
        let remaining = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if remaining.is_some_and(|r| r.is_zero()) {
            break Err(MeshError::Timeout);
        }
        if attempts > 0 {
            handles.retried();
            let backoff = retry::backoff(rule, app.default_backoff);
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
        last_addr = Some(addr);
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
                let retry_status = rule.retry.as_ref().is_some_and(|p| {
                    attempts <= p.attempts
                        && retryable
                        && p.codes.contains(&head.status)
                        && time_left()
                });
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
            Err(Failure::BadResponse) => break Err(MeshError::UpstreamReset),
            Err(Failure::Client) => {
                // The client went away: no answer (status 0).
                rec.attempts = attempts;
                rec.upstream = last_addr;
                rec.done(handles, 0, None);
                return Next::Close;
            }
        }
    };
    // `_pick` counts the request on its endpoint (least request) to its end.
    let (up, addr, head, filled, _pick) = match outcome {
        Ok(x) => x,
        Err(error) => {
            // As pingora: the connection ends after an upstream failure.
            rec.attempts = attempts;
            rec.upstream = last_addr;
            return refuse(
                io, out, error, head_only, true, start, consumed, &rec, handles,
            )
            .await;
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
    rec.attempts = attempts;
    rec.upstream = Some(addr);
    rec.done(handles, status, None);
    next
}
