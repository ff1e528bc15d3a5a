//! `RequestMirror`: a copy of the request sent to another service, its
//! answer read and ignored, on a task of its own so that it never slows the
//! request it copies.
//!
//! Limits of this first version: only requests without a body are mirrored
//! (a request with a body is not copied); the copy is plain HTTP/1.1 on a
//! fresh connection (`connection: close`), whatever the mirror service's
//! protocol; it carries the request's headers after the rule's request
//! header edits, but not URL rewrites; the copy is abandoned after the
//! mirror service's connect timeout plus [`MIRROR_TIMEOUT`]; at most
//! `max_in_flight` copies are in flight, more are dropped and counted.

use pingora::http::RequestHeader;
use prometheus::IntCounter;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long a copy may take once connected.
pub const MIRROR_TIMEOUT: Duration = Duration::from_secs(5);

/// Sends mirror copies, bounded in number.
pub struct Mirrors {
    in_flight: Arc<AtomicUsize>,
    max_in_flight: usize,
    sent: IntCounter,
    dropped: IntCounter,
}

impl Mirrors {
    pub fn new(max_in_flight: usize, sent: IntCounter, dropped: IntCounter) -> Mirrors {
        Mirrors {
            in_flight: Arc::new(AtomicUsize::new(0)),
            max_in_flight,
            sent,
            dropped,
        }
    }

    /// Sends a copy of `req` to `addr` on a task of its own.
    pub fn spawn(&self, req: &RequestHeader, addr: SocketAddr, connect_timeout: Duration) {
        if self.in_flight.fetch_add(1, Ordering::AcqRel) >= self.max_in_flight {
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
            self.dropped.inc();
            return;
        }
        self.sent.inc();
        let head = encode(req);
        let in_flight = self.in_flight.clone();
        tokio::spawn(async move {
            let _ = send(head, addr, connect_timeout).await;
            in_flight.fetch_sub(1, Ordering::AcqRel);
        });
    }
}

/// The HTTP/1.1 head of the copy.
fn encode(req: &RequestHeader) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(req.method.as_str().as_bytes());
    out.push(b' ');
    let target = req.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let mut has_host = false;
    for (name, value) in req.headers.iter() {
        let name = name.as_str();
        if crate::filters::HOP_BY_HOP
            .iter()
            .any(|h| h.eq_ignore_ascii_case(name))
            || name.eq_ignore_ascii_case("content-length")
        {
            continue;
        }
        has_host |= name.eq_ignore_ascii_case("host");
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if !has_host {
        if let Some(a) = req.uri.authority() {
            out.extend_from_slice(b"host: ");
            out.extend_from_slice(a.as_str().as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
    out.extend_from_slice(b"connection: close\r\n\r\n");
    out
}

async fn send(head: Vec<u8>, addr: SocketAddr, connect_timeout: Duration) -> std::io::Result<()> {
    let timed_out = || std::io::Error::from(std::io::ErrorKind::TimedOut);
    let mut stream = tokio::time::timeout(connect_timeout, tokio::net::TcpStream::connect(addr))
        .await
        .map_err(|_| timed_out())??;
    tokio::time::timeout(MIRROR_TIMEOUT, async {
        stream.write_all(&head).await?;
        let mut sink = [0u8; 4096];
        while stream.read(&mut sink).await? > 0 {}
        Ok::<(), std::io::Error>(())
    })
    .await
    .map_err(|_| timed_out())?
}
