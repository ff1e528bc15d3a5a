//! The pingora [`ProxyHttp`] implementation: thin phases that look the
//! request up in the served [`Snapshot`] and apply what the rule says.
//!
//! | phase | what |
//! | --- | --- |
//! | `request_filter` | load the snapshot (kept to the end of the request); lookup (404 `no-route`); `RequestRedirect` answers; weighted backendRef choice (500 `no-backend` / `backend-not-found`); `x-request-id`; request header edits; mirrors |
//! | `upstream_peer` | request deadline (504 `timeout`); retry backoff; balancer pick avoiding tried endpoints (503 `no-healthy-endpoint`); the peer with connect and per-attempt timeouts |
//! | `upstream_request_filter` | hop-by-hop headers out (a WebSocket upgrade kept); `URLRewrite`; `x-forwarded-for`, `x-forwarded-proto` (`https` on the TLS listener); `te: trailers` for HTTP/2 and gRPC services |
//! | `upstream_response_filter` | a status in the rule's retry codes turns into a retryable error (see [`retry`]) |
//! | `response_filter` | response header edits |
//! | `fail_to_connect`, `error_while_proxy` | retry decisions ([`retry`]) |
//! | `fail_to_proxy` | the error answer: status, `x-mesh-error`, one-line body |
//! | `logging` | metrics, through handles resolved when the table was built |

mod answer;
mod ctx;
pub(crate) mod edits;
mod mirror;
pub mod retry;
mod view;

pub use answer::{MeshError, MESH_ERROR};
pub use ctx::Ctx;

use crate::access_log::{self, AccessLog};
use crate::routes::Routes;
use crate::settings::Settings;
use crate::snapshot::ServiceState;
use async_trait::async_trait;
use mesh_config::spec::Protocol;
use mirror::Mirrors;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::modules::http::HttpModules;
use pingora::proxy::{FailToProxy, ProxyHttp, Session};
use pingora::upstreams::peer::{HttpPeer, HttpUpstreamRequestPolicy};
use pingora::{Error, Result};
use std::sync::Arc;
use std::time::Duration;

/// The router's proxy logic, shared by every worker thread.
pub struct MeshProxy {
    routes: Arc<Routes>,
    access_log: Option<Arc<AccessLog>>,
    mirrors: Mirrors,
    default_backoff: Duration,
}

impl MeshProxy {
    pub fn new(
        routes: Arc<Routes>,
        settings: &Settings,
        access_log: Option<Arc<AccessLog>>,
    ) -> MeshProxy {
        let metrics = routes.metrics().clone();
        MeshProxy {
            routes,
            access_log,
            mirrors: Mirrors::new(
                settings.max_mirrors_in_flight,
                metrics.mirrors.clone(),
                metrics.mirrors_dropped.clone(),
            ),
            default_backoff: settings.default_retry_backoff,
        }
    }

    /// Answers `error` from a filter phase; the caller returns `Ok(true)`.
    async fn answer(&self, session: &mut Session, ctx: &mut Ctx, error: MeshError) -> Result<bool> {
        ctx.answer = Some(error);
        if !session.is_body_empty() {
            session.set_keepalive(None);
        }
        answer::respond_error(session, error).await?;
        Ok(true)
    }

    /// The ring hash key of a request to `service`.
    fn hash(session: &Session, service: &ServiceState) -> u64 {
        service.ring_hash(
            |h| session.req_header().headers.get(h).map(|v| v.as_bytes()),
            session
                .client_addr()
                .and_then(|a| a.as_inet())
                .map(|a| a.ip()),
        )
    }
}

#[async_trait]
impl ProxyHttp for MeshProxy {
    type CTX = Ctx;

    fn new_ctx(&self) -> Ctx {
        Ctx::new(self.routes.metrics())
    }

    /// No downstream modules. pingora's default adds its response
    /// compression module switched off (level 0), which still costs an
    /// allocation and a call per phase on every request.
    fn init_downstream_modules(&self, _modules: &mut HttpModules) {}

    async fn request_filter(&self, session: &mut Session, ctx: &mut Ctx) -> Result<bool> {
        ctx.count_connection(self.routes.metrics());
        let Some(snapshot) = self.routes.snapshot() else {
            return self.answer(session, ctx, MeshError::NoTable).await;
        };
        let found = snapshot
            .lookup(&view::View(session.req_header()))
            .map(|(route, m)| (route, m.rule_index, m.match_index));
        let Some((route, rule, matched)) = found else {
            ctx.snapshot = Some(snapshot);
            return self.answer(session, ctx, MeshError::NoRoute).await;
        };
        ctx.snapshot = Some(snapshot.clone());
        ctx.route = Some(route);
        ctx.rule = rule;
        ctx.matched = matched;
        let (Some(rule_spec), Some(state)) =
            (snapshot.rule(route, rule), snapshot.rule_state(route, rule))
        else {
            return self.answer(session, ctx, MeshError::Internal).await;
        };

        if let (Some(redirect), Some(m)) =
            (edits::redirect(rule_spec), rule_spec.matches.get(matched))
        {
            let port = session
                .server_addr()
                .and_then(|a| a.as_inet())
                .map(|a| a.port());
            let (status, location) =
                edits::redirect_answer(session.req_header(), redirect, m, port, is_tls(session));
            ctx.redirected = Some(status);
            if !session.is_body_empty() {
                session.set_keepalive(None);
            }
            answer::respond(session, status, &[("location", &location)], "").await?;
            return Ok(true);
        }

        if state.total_weight == 0 {
            return self.answer(session, ctx, MeshError::NoBackend).await;
        }
        let draw = fastrand::u64(..state.total_weight);
        let Some((position, backend)) = state
            .backends
            .iter()
            .enumerate()
            .find(|(_, b)| draw < b.cumulative)
        else {
            return self.answer(session, ctx, MeshError::NoBackend).await;
        };
        ctx.backend = Some(position);
        let Some(service) = backend.service.and_then(|s| snapshot.service(s)) else {
            return self.answer(session, ctx, MeshError::BackendNotFound).await;
        };
        if service.balancer.pickable() == 0 {
            // Answered here rather than from `upstream_peer`, so that the
            // connection stays open.
            return self
                .answer(session, ctx, MeshError::NoHealthyEndpoint)
                .await;
        }
        ctx.deadline = rule_spec.timeouts.request.map(|d| ctx.started + d);

        let req = session.req_header_mut();
        edits::ensure_request_id(req)?;
        edits::request_headers(req, &rule_spec.filters)?;
        if let Some(b) = rule_spec.backends.get(backend.position) {
            edits::request_headers(req, &b.filters)?;
        }

        if !state.mirrors.is_empty() && session.is_body_empty() {
            for m in &state.mirrors {
                if !crate::filters::mirror_sampled(&m.mirror, fastrand::u32(..)) {
                    continue;
                }
                let Some(service) = snapshot.service(m.service) else {
                    continue;
                };
                let Some(pick) = service.balancer.pick(Self::hash(session, service), &[]) else {
                    continue;
                };
                if let Some(peer) = service.peers.get(pick.index) {
                    if let Some(addr) = peer._address.as_inet() {
                        self.mirrors.spawn(
                            session.req_header(),
                            *addr,
                            peer.options.connection_timeout.unwrap_or(MIRROR_CONNECT),
                        );
                    }
                }
            }
        }
        Ok(false)
    }

    async fn upstream_peer(&self, session: &mut Session, ctx: &mut Ctx) -> Result<Box<HttpPeer>> {
        let Some(snapshot) = ctx.snapshot.clone() else {
            return Err(self.fail(ctx, MeshError::Internal));
        };
        let (Some(rule), Some(service)) = (ctx.rule_spec(&snapshot), ctx.service(&snapshot)) else {
            return Err(self.fail(ctx, MeshError::Internal));
        };
        let remaining = match ctx.remaining() {
            Some(r) if r.is_zero() => return Err(self.fail(ctx, MeshError::Timeout)),
            r => r,
        };
        if ctx.attempts > 0 {
            if let Some(h) = ctx.handles(&snapshot) {
                h.retried();
            }
            let backoff = retry::backoff(rule, self.default_backoff);
            let backoff = remaining.map_or(backoff, |r| backoff.min(r));
            if !backoff.is_zero() {
                tokio::time::sleep(backoff).await;
            }
        }
        let hash = Self::hash(session, service);
        let Some(pick) = service.balancer.pick(hash, ctx.tried()) else {
            return Err(self.fail(ctx, MeshError::NoHealthyEndpoint));
        };
        let Some(template) = service.peers.get(pick.index) else {
            return Err(self.fail(ctx, MeshError::Internal));
        };
        let mut peer = Box::new(template.clone());
        // A backendRef's port overrides the endpoints' own (Gateway API).
        if let Some(port) = ctx.backend_spec(&snapshot).and_then(|b| b.port) {
            if let pingora::protocols::l4::socket::SocketAddr::Inet(addr) = &mut peer._address {
                addr.set_port(port);
            }
        }
        if !edits::needs_upstream_sanitizing(session.req_header()) {
            peer.options.http_upstream_request_policy = HttpUpstreamRequestPolicy::preserve();
        }
        ctx.record_attempt(pick);
        let remaining = ctx.remaining();
        let per_attempt = min_opt(rule.timeouts.backend_request, remaining);
        peer.options.read_timeout = per_attempt;
        peer.options.write_timeout = per_attempt;
        if let Some(r) = remaining {
            let connect = peer.options.connection_timeout.map_or(r, |c| c.min(r));
            peer.options.connection_timeout = Some(connect.max(Duration::from_millis(1)));
        }
        Ok(peer)
    }

    async fn upstream_request_filter(
        &self,
        session: &mut Session,
        upstream: &mut RequestHeader,
        ctx: &mut Ctx,
    ) -> Result<()> {
        edits::strip_hop_by_hop(upstream, session.is_upgrade_req());
        if let Some(snapshot) = ctx.snapshot.as_deref() {
            if let Some(rule) = ctx.rule_spec(snapshot) {
                let m = rule.matches.get(ctx.matched);
                edits::rewrite(upstream, &rule.filters, m)?;
                if let Some(b) = ctx.backend_spec(snapshot) {
                    edits::rewrite(upstream, &b.filters, m)?;
                }
            }
        }
        let client = session
            .client_addr()
            .and_then(|a| a.as_inet())
            .map(|a| a.ip());
        edits::forwarded(upstream, client, is_tls(session))?;
        let protocol = ctx
            .snapshot
            .as_ref()
            .and_then(|s| ctx.service(s))
            .map(|s| s.protocol);
        if protocol.is_some_and(|p| p != Protocol::Http) {
            edits::te_trailers(
                upstream,
                session.req_header(),
                protocol == Some(Protocol::Grpc),
            )?;
        }
        Ok(())
    }

    async fn upstream_response_filter(
        &self,
        session: &mut Session,
        upstream_response: &mut ResponseHeader,
        ctx: &mut Ctx,
    ) -> Result<()> {
        let status = upstream_response.status.as_u16();
        let Some(snapshot) = ctx.snapshot.as_deref() else {
            return Ok(());
        };
        // Most rules have no retry policy: nothing to decide.
        if ctx.rule_spec(snapshot).is_none_or(|r| r.retry.is_none()) {
            return Ok(());
        }
        let Some(snapshot) = ctx.snapshot.clone() else {
            return Ok(());
        };
        let Some(rule) = ctx.rule_spec(&snapshot) else {
            return Ok(());
        };
        if retry::on_status(rule, session, ctx, status) {
            let mut e = Error::explain(
                pingora::ErrorType::HTTPStatus(status),
                "retrying: the status is in the rule's retry codes",
            );
            e.set_retry(true);
            return Err(e);
        }
        Ok(())
    }

    async fn response_filter(
        &self,
        _session: &mut Session,
        response: &mut ResponseHeader,
        ctx: &mut Ctx,
    ) -> Result<()> {
        let Some(snapshot) = ctx.snapshot.as_deref() else {
            return Ok(());
        };
        if let Some(rule) = ctx.rule_spec(snapshot) {
            edits::response_headers(response, &rule.filters)?;
        }
        if let Some(b) = ctx.backend_spec(snapshot) {
            edits::response_headers(response, &b.filters)?;
        }
        Ok(())
    }

    fn fail_to_connect(
        &self,
        _session: &mut Session,
        _peer: &HttpPeer,
        ctx: &mut Ctx,
        mut e: Box<Error>,
    ) -> Box<Error> {
        if let Some(snapshot) = ctx.snapshot.clone() {
            if let Some(service) = ctx.service(&snapshot) {
                service.connect_errors.inc();
            }
            e.set_retry(retry::on_connect_failure(&snapshot, ctx));
        }
        e
    }

    fn error_while_proxy(
        &self,
        _peer: &HttpPeer,
        session: &mut Session,
        mut e: Box<Error>,
        ctx: &mut Ctx,
        client_reused: bool,
    ) -> Box<Error> {
        let retry = retry::on_error(session, ctx, &mut e, client_reused);
        e.set_retry(retry);
        e
    }

    async fn fail_to_proxy(&self, session: &mut Session, e: &Error, ctx: &mut Ctx) -> FailToProxy {
        // pingora closes the downstream connection after an error in the
        // upstream phases, whatever this returns: say so in the answer.
        let error = ctx.answer.or_else(|| MeshError::from_error(e));
        if let Some(written) = session.response_written() {
            return FailToProxy {
                error_code: written.status.as_u16(),
                can_reuse_downstream: false,
            };
        }
        let Some(error) = error else {
            return FailToProxy {
                error_code: 0,
                can_reuse_downstream: false,
            };
        };
        ctx.answer = Some(error);
        session.set_keepalive(None);
        if let Err(e) = answer::respond_error(session, error).await {
            tracing::debug!("cannot answer {}: {e}", error.reason());
        }
        FailToProxy {
            error_code: error.status(),
            can_reuse_downstream: false,
        }
    }

    fn suppress_error_log(&self, _session: &Session, ctx: &Ctx, _error: &Error) -> bool {
        // Answers the router chose itself (404, 503...) are not errors.
        ctx.answer.is_some_and(|a| {
            matches!(
                a,
                MeshError::NoRoute | MeshError::NoTable | MeshError::NoHealthyEndpoint
            )
        })
    }

    async fn logging(&self, session: &mut Session, _e: Option<&Error>, ctx: &mut Ctx) {
        let status = session
            .response_written()
            .map(|r| r.status.as_u16())
            .or(ctx.redirected)
            .or(ctx.answer.map(MeshError::status))
            .unwrap_or(0);
        let seconds = ctx.started.elapsed().as_secs_f64();
        if let Some(snapshot) = ctx.snapshot.as_deref() {
            match ctx.handles(snapshot) {
                Some(h) => h.observe(status, seconds),
                None => snapshot.no_route_handles().observe(status, seconds),
            }
        }
        if let Some(log) = &self.access_log {
            let snapshot = ctx.snapshot.as_deref();
            let req = session.req_header();
            let route = snapshot
                .zip(ctx.route)
                .and_then(|(s, r)| s.indexed_route(r))
                .map_or("", |r| r.name.as_str());
            let service = snapshot
                .and_then(|s| ctx.service(s))
                .map_or("", |s| s.name.as_str());
            let proto = match req.version {
                http::Version::HTTP_2 => "HTTP/2",
                http::Version::HTTP_10 => "HTTP/1.0",
                _ => "HTTP/1.1",
            };
            log.log(&access_log::Entry {
                client: session
                    .client_addr()
                    .and_then(|a| a.as_inet())
                    .map(|a| a.ip()),
                method: req.method.as_str(),
                host: view::host(req),
                path: req.uri.path_and_query().map_or("", |p| p.as_str()),
                proto,
                status,
                duration: ctx.started.elapsed(),
                route,
                service,
                upstream: snapshot.and_then(|s| ctx.upstream(s)),
                attempts: ctx.attempts,
                request_id: req
                    .headers
                    .get(crate::filters::X_REQUEST_ID)
                    .and_then(|v| v.to_str().ok()),
                error: ctx.answer.map(MeshError::reason),
            });
        }
    }

    fn persist_connection_context(
        &self,
        _session: &Session,
        ctx: &Ctx,
    ) -> Option<Box<dyn std::any::Any + Send + Sync>> {
        ctx.connection_guard()
    }

    fn on_connection_reuse(
        &self,
        _session: &mut Session,
        ctx: &mut Ctx,
        prev: Box<dyn std::any::Any + Send + Sync>,
    ) {
        ctx.reuse_connection(prev);
    }
}

/// Connect timeout of a mirror copy when the service sets none.
const MIRROR_CONNECT: Duration = Duration::from_secs(1);

impl MeshProxy {
    /// Records `error` as the answer and turns it into a pingora error.
    fn fail(&self, ctx: &mut Ctx, error: MeshError) -> Box<Error> {
        ctx.answer = Some(error);
        error.into_error()
    }
}

/// The request came in over TLS.
fn is_tls(session: &Session) -> bool {
    session.digest().is_some_and(|d| d.ssl_digest.is_some())
}

/// The smaller of two optional limits (`None`: no limit).
pub(crate) fn min_opt(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}
