//! The fast path: the router's own HTTP/1.1 proxy loop for the plain
//! listener, in front of pingora.
//!
//! pingora runs the listeners, threads and shutdown, and hands every
//! accepted connection to [`FastApp`]. On a plain connection the fast path
//! reads each request head itself, routes it through the served snapshot
//! and forwards it on a per-thread pool of upstream connections, the
//! response as framed (`content-length`, chunked, or until close), with one
//! write per head in the common case. Per request that is a fraction of the
//! work of pingora's general proxy (measured in `router/PERF.md`).
//!
//! What it does itself: HTTP/1.1 requests with no body or a
//! `content-length` body; lookup; `RequestRedirect`, request and response
//! header modifiers and `URLRewrite` (the rule's and the backendRef's);
//! weighted backendRefs;
//! the balancers; request and per-attempt timeouts; retries (connect
//! failures, retry codes and broken connections, for idempotent requests
//! without a body); `x-forwarded-for`, `x-forwarded-proto`, `x-request-id`;
//! hop-by-hop headers out both ways; interim `1xx` answers; the error
//! answers with `x-mesh-error`; metrics.
//!
//! What it leaves to pingora (the connection is handed over, with the
//! bytes read so far, before anything of the request was sent anywhere):
//! TLS connections, HTTP/2 (h2c), HTTP/1.0, chunked request bodies,
//! `expect`, upgrades (WebSocket), a `connection` header naming other
//! headers, an empty `x-request-id`, heads over 64 KiB or 64 headers, rules
//! with mirrors, services spoken to over HTTP/2 or gRPC, and requests with
//! a body on rules with a retry policy. A connection served by pingora comes back to the fast path when
//! pingora would keep it alive.

mod answer;
mod buffers;
mod chunked;
mod conn;
mod headers;
mod pool;
mod record;
mod request;
mod response;
mod upstream;
mod write;

use crate::access_log::AccessLog;
use crate::proxy::MeshProxy;
use crate::routes::Routes;
use async_trait::async_trait;
use pingora::apps::ServerApp;
use pingora::protocols::l4::stream::Stream as L4Stream;
use pingora::protocols::Stream;
use pingora::proxy::HttpProxy;
use pingora::server::ShutdownWatch;
use std::sync::Arc;
use std::time::Duration;

/// The app pingora hands connections to: the fast path for plain
/// connections, pingora's proxy ([`MeshProxy`]) for the rest.
pub struct FastApp {
    routes: Arc<Routes>,
    access_log: Option<Arc<AccessLog>>,
    fallback: Arc<HttpProxy<MeshProxy>>,
    default_backoff: Duration,
}

impl FastApp {
    pub fn new(
        routes: Arc<Routes>,
        fallback: HttpProxy<MeshProxy>,
        default_backoff: Duration,
        access_log: Option<Arc<AccessLog>>,
    ) -> FastApp {
        FastApp {
            routes,
            access_log,
            fallback: Arc::new(fallback),
            default_backoff,
        }
    }

    /// pingora's proxy, for its settings.
    pub fn fallback(&self) -> &HttpProxy<MeshProxy> {
        &self.fallback
    }
}

/// Counts an open downstream connection while alive.
struct Connection<'a>(&'a prometheus::IntGauge);

impl Drop for Connection<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[async_trait]
impl ServerApp for FastApp {
    async fn process_new(
        self: &Arc<Self>,
        mut stream: Stream,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        if stream.get_ssl_digest().is_some() {
            return self.fallback.process_new(stream, shutdown).await;
        }
        let socket = stream.get_socket_digest();
        let client = socket
            .as_ref()
            .and_then(|s| s.peer_addr())
            .and_then(|a| a.as_inet())
            .map(|a| a.ip());
        let listen_port = socket
            .as_ref()
            .and_then(|s| s.local_addr())
            .and_then(|a| a.as_inet())
            .map(|a| a.port());
        let mut conn = conn::Conn::new(client, listen_port);
        let mut watch = shutdown.clone();
        let end = {
            let gauge = &self.routes.metrics().downstream_connections;
            gauge.inc();
            let _open = Connection(gauge);
            conn::serve(self, &mut stream, &mut conn, &mut watch).await
        };
        match end {
            conn::End::Close => None,
            conn::End::Handoff => {
                let rest = conn.buf.get(conn.start..conn.end).unwrap_or(&[]);
                let stream = rewind(stream, rest)?;
                self.fallback.process_new(stream, shutdown).await
            }
        }
    }
}

/// Puts `data` back in front of what `stream` reads next.
fn rewind(stream: Stream, data: &[u8]) -> Option<Stream> {
    if data.is_empty() {
        return Some(stream);
    }
    match stream.into_any().downcast::<L4Stream>() {
        Ok(mut l4) => {
            l4.rewind(data);
            Some(l4)
        }
        Err(_) => {
            tracing::warn!("cannot hand a connection to pingora: not a TCP stream");
            None
        }
    }
}
