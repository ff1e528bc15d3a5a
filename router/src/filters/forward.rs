//! Headers a proxy owes the next hop: `x-forwarded-for` (the client
//! appended), `x-forwarded-proto`, `x-request-id` (generated when absent),
//! and the removal of hop-by-hop headers. `traceparent` and `tracestate`
//! are end-to-end: nothing here touches them, so they pass through.
//!
//! # pingora and hop-by-hop headers
//! With its default upstream request policy
//! (`HttpUpstreamRequestPolicy::standard()`), pingora 0.9 already strips
//! hop-by-hop and `Connection`-nominated headers from the upstream request
//! *before* `upstream_request_filter`, rebuilds `connection`/`upgrade` for
//! WebSocket upgrades, and chunks a body left without framing *after* it.
//! For responses it frames the body by `transfer-encoding`/`content-length`
//! and writes `connection` itself. So [`strip_hop_by_hop`] is for
//! responses (with [`Keep::framing`]) and for requests that bypass that
//! policy; on an already stripped request it changes nothing.

use super::HeaderError;
use super::HeaderTarget;
use std::fmt::{self, Write as _};
use std::net::IpAddr;

pub const X_FORWARDED_FOR: &str = "x-forwarded-for";
pub const X_FORWARDED_PROTO: &str = "x-forwarded-proto";
pub const X_REQUEST_ID: &str = "x-request-id";
const CONNECTION: &str = "connection";
const TE: &str = "te";
const UPGRADE: &str = "upgrade";
const TRANSFER_ENCODING: &str = "transfer-encoding";

/// Hop-by-hop headers (RFC 9110 §7.6.1, and the legacy ones RFC 2616 and
/// proxies still use): they describe one connection, never the message.
pub const HOP_BY_HOP: [&str; 9] = [
    CONNECTION,
    "keep-alive",
    "proxy-connection",
    TE,
    "trailer",
    TRANSFER_ENCODING,
    UPGRADE,
    "proxy-authenticate",
    "proxy-authorization",
];

/// Headers a `Connection` header may not remove: the request's target and
/// origin, and the body's length.
const PROTECTED: [&str; 5] = [
    "host",
    "content-length",
    X_FORWARDED_FOR,
    "x-forwarded-host",
    X_FORWARDED_PROTO,
];

/// What [`strip_hop_by_hop`] leaves in place.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Keep {
    /// Keep `upgrade`, with `connection: upgrade`: a WebSocket upgrade
    /// request the router forwards, or its `101` response.
    pub upgrade: bool,
    /// Keep `transfer-encoding`: pingora frames the body it writes by it
    /// (set it for responses; without it a chunked response would be
    /// forwarded close-delimited).
    pub framing: bool,
}

/// Removes hop-by-hop headers: those of [`HOP_BY_HOP`] and those named in
/// `connection`, except what `keep` says. `te: trailers` is kept (gRPC
/// needs it; any other `te` value is dropped). Allocates only when the
/// `connection` values exceed 256 bytes.
pub fn strip_hop_by_hop<H: HeaderTarget>(h: &mut H, keep: Keep) {
    // Usually there is none (pingora removed them already): one pass over
    // the names instead of a removal per name.
    if !h.contains_any(&HOP_BY_HOP) {
        return;
    }
    remove_nominated(h, keep);
    for name in HOP_BY_HOP {
        match name {
            TE => keep_te_trailers(h),
            TRANSFER_ENCODING if keep.framing => {}
            UPGRADE if keep.upgrade => {}
            _ => {
                h.remove(name);
            }
        }
    }
    if keep.upgrade && h.contains(UPGRADE) {
        // Static name and value: cannot fail in practice, and a failure
        // leaves a request that is simply not upgraded.
        let _ = h.set_static(CONNECTION, UPGRADE);
    }
}

/// Removes the headers that `connection` names (not the protected ones).
fn remove_nominated<H: HeaderTarget>(h: &mut H, keep: Keep) {
    let mut stack = [0u8; 256];
    let mut len = 0;
    let mut heap: Option<Vec<u8>> = None;
    for v in h.values(CONNECTION) {
        if let Some(buf) = heap.as_mut() {
            buf.extend_from_slice(v);
            buf.push(b',');
        } else if let Some(dst) = stack.get_mut(len..len + v.len() + 1) {
            let (value, comma) = dst.split_at_mut(v.len());
            value.copy_from_slice(v);
            comma.fill(b',');
            len += v.len() + 1;
        } else {
            let mut buf = stack[..len].to_vec();
            buf.extend_from_slice(v);
            buf.push(b',');
            heap = Some(buf);
        }
    }
    let list = heap.as_deref().unwrap_or(&stack[..len]);
    for token in list.split(|b| *b == b',') {
        let Ok(name) = std::str::from_utf8(token.trim_ascii()) else {
            continue;
        };
        let kept = |n: &str| name.eq_ignore_ascii_case(n);
        if name.is_empty()
            || name.starts_with(':')
            || PROTECTED.iter().any(|p| kept(p))
            || kept(TE)
            || (keep.framing && kept(TRANSFER_ENCODING))
            || (keep.upgrade && kept(UPGRADE))
        {
            continue;
        }
        h.remove(name);
    }
}

/// Keeps `te` only as `te: trailers`.
fn keep_te_trailers<H: HeaderTarget>(h: &mut H) {
    let mut values = 0;
    let mut exact = false;
    let mut trailers = false;
    for v in h.values(TE) {
        values += 1;
        exact = v.trim_ascii().eq_ignore_ascii_case(b"trailers");
        trailers |= v.split(|b| *b == b',').any(|t| {
            t.split(|b| *b == b';')
                .next()
                .unwrap_or(t)
                .trim_ascii()
                .eq_ignore_ascii_case(b"trailers")
        });
    }
    if values == 1 && exact {
        return;
    }
    h.remove(TE);
    if trailers {
        let _ = h.set_static(TE, "trailers");
    }
}

/// The `x-forwarded-for` value to send: `existing` (the values the request
/// came with, joined by `, `), then `client_ip`. An IPv4-mapped IPv6
/// address is written as IPv4.
pub fn forwarded_for(existing: Option<&str>, client_ip: IpAddr) -> String {
    let mut out = String::with_capacity(existing.map_or(0, str::len) + 48);
    if let Some(e) = existing.map(str::trim).filter(|e| !e.is_empty()) {
        out.push_str(e);
        out.push_str(", ");
    }
    // Writing to a String cannot fail.
    let _ = write!(out, "{}", client_ip.to_canonical());
    out
}

/// Appends `client_ip` to the request's `x-forwarded-for` (every value it
/// came with, joined into one).
pub fn add_forwarded_for<H: HeaderTarget>(h: &mut H, client_ip: IpAddr) -> Result<(), HeaderError> {
    let mut ip = IpText::default();
    let ip = ip.write(client_ip);
    // Most requests come without one: then the client's address is the
    // whole value, added without building a string.
    let mut present = false;
    let mut out = String::new();
    for v in h.values(X_FORWARDED_FOR) {
        present = true;
        let v = std::str::from_utf8(v).unwrap_or_default().trim();
        if !v.is_empty() {
            out.reserve(v.len() + 2 + ip.len());
            out.push_str(v);
            out.push_str(", ");
        }
    }
    if !present {
        return h.add_static(X_FORWARDED_FOR, ip);
    }
    out.push_str(ip);
    h.set_static(X_FORWARDED_FOR, &out)
}

/// An IP address as text, on the stack (IPv4-mapped IPv6 written as IPv4).
struct IpText {
    buf: [u8; 48],
    len: usize,
}

impl Default for IpText {
    fn default() -> Self {
        IpText {
            buf: [0; 48],
            len: 0,
        }
    }
}

impl IpText {
    fn write(&mut self, ip: IpAddr) -> &str {
        self.len = 0;
        match ip.to_canonical() {
            // By hand: the formatting machinery costs more than the rest of
            // the header.
            IpAddr::V4(v4) => {
                for (i, octet) in v4.octets().into_iter().enumerate() {
                    if i > 0 {
                        self.push(b'.');
                    }
                    if octet >= 100 {
                        self.push(b'0' + octet / 100);
                    }
                    if octet >= 10 {
                        self.push(b'0' + octet / 10 % 10);
                    }
                    self.push(b'0' + octet % 10);
                }
            }
            // The longest IPv6 text is 45 bytes: it fits.
            IpAddr::V6(v6) => {
                let _ = write!(self, "{v6}");
            }
        }
        // Only ASCII is ever written.
        std::str::from_utf8(self.buf.get(..self.len).unwrap_or_default()).unwrap_or_default()
    }

    fn push(&mut self, b: u8) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
    }
}

impl fmt::Write for IpText {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        let dst = self.buf.get_mut(self.len..end).ok_or(fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// The `x-forwarded-proto` value for a request that came in over TLS or not.
pub fn forwarded_proto(tls: bool) -> &'static str {
    if tls {
        "https"
    } else {
        "http"
    }
}

/// A request id: 32 lower-case hex digits (128 random bits), held inline.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestId([u8; 32]);

impl RequestId {
    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever written.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RequestId({})", self.as_str())
    }
}

/// A new random request id, without allocating.
pub fn new_request_id() -> RequestId {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut n = fastrand::u128(..);
    let mut out = [0u8; 32];
    for b in out.iter_mut().rev() {
        *b = HEX[(n & 0xf) as usize];
        n >>= 4;
    }
    RequestId(out)
}

/// Sets `x-request-id` to a new id when the request has none (or an empty
/// one); returns the new id, `None` when the request had one.
pub fn ensure_request_id<H: HeaderTarget>(h: &mut H) -> Result<Option<RequestId>, HeaderError> {
    let present = match h.first(X_REQUEST_ID) {
        Some(v) if !v.trim_ascii().is_empty() => return Ok(None),
        Some(_) => true,
        None => false,
    };
    let id = new_request_id();
    if present {
        h.set_static(X_REQUEST_ID, id.as_str())?;
    } else {
        h.add_static(X_REQUEST_ID, id.as_str())?;
    }
    Ok(Some(id))
}
