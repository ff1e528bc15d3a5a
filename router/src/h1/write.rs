//! Writing HTTP/1.1 heads into a buffer: the upstream copy of a request,
//! the client's copy of a response when it cannot be forwarded as is, and
//! the answers the router gives itself.

use super::headers::Fields;
use super::request::{Facts, Name};
use crate::filters::{self, RequestId};
use std::fmt::Write as _;

/// The upstream copy of a request head: the request line (as HTTP/1.1),
/// every header but the hop-by-hop ones and the forwarding headers the
/// router writes, then `x-forwarded-for` (the client appended),
/// `x-forwarded-proto: http` and `x-request-id` (when the request has
/// none).
pub fn upstream_head<H: Fields + ?Sized>(
    out: &mut Vec<u8>,
    method: &str,
    target: &str,
    headers: &H,
    facts: &Facts<'_>,
    client: Option<&str>,
) -> Option<RequestId> {
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in headers.each() {
        if facts.skip && Name::of(name).skipped() {
            continue;
        }
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    // One x-forwarded-for: the request's values in order, then the client.
    let mut first = true;
    if facts.forwarded_for {
        for (name, value) in headers.each() {
            if Name::of(name) == Name::ForwardedFor {
                out.extend_from_slice(if first { b"x-forwarded-for: " } else { b", " });
                out.extend_from_slice(value.trim_ascii());
                first = false;
            }
        }
    }
    if let Some(ip) = client {
        out.extend_from_slice(if first { b"x-forwarded-for: " } else { b", " });
        out.extend_from_slice(ip.as_bytes());
        first = false;
    }
    if !first {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"x-forwarded-proto: http\r\n");
    let mut generated = None;
    if !facts.request_id {
        let id: RequestId = filters::new_request_id();
        out.extend_from_slice(b"x-request-id: ");
        out.extend_from_slice(id.as_str().as_bytes());
        out.extend_from_slice(b"\r\n");
        generated = Some(id);
    }
    out.extend_from_slice(b"\r\n");
    generated
}

/// What the fast path needs to know of a response head.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ResponseFacts {
    /// `content-length`, when given once and valid.
    pub length: Option<u64>,
    /// The body is chunked (`transfer-encoding` ending in `chunked`).
    pub chunked: bool,
    /// A `transfer-encoding` not ending in `chunked`, or a bad or repeated
    /// `content-length`: the body ends when the connection does.
    pub until_close: bool,
    /// `connection: close` (or HTTP/1.0 without `keep-alive`).
    pub close: bool,
    /// A hop-by-hop header the client's copy leaves out.
    pub skip: bool,
}

impl ResponseFacts {
    pub fn scan(version: u8, headers: &[httparse::Header<'_>]) -> ResponseFacts {
        let mut f = ResponseFacts {
            close: version == 0,
            ..ResponseFacts::default()
        };
        let mut lengths = 0;
        for h in headers {
            match Name::of(h.name) {
                Name::ContentLength => {
                    lengths += 1;
                    f.length = super::request::parse_length(h.value);
                }
                Name::TransferEncoding => {
                    let last = h.value.rsplit(|b| *b == b',').next().unwrap_or(&[]);
                    if last.trim_ascii().eq_ignore_ascii_case(b"chunked") {
                        f.chunked = true;
                    } else {
                        f.until_close = true;
                    }
                }
                Name::Connection => {
                    for token in h.value.split(|b| *b == b',') {
                        let token = token.trim_ascii();
                        if token.eq_ignore_ascii_case(b"keep-alive") {
                            // True of the client's connection too: no
                            // need to rebuild the head for it (HTTP/1.1).
                            if version == 0 {
                                f.close = false;
                                f.skip = true;
                            }
                        } else {
                            if token.eq_ignore_ascii_case(b"close") {
                                f.close = true;
                            }
                            f.skip = true;
                        }
                    }
                }
                Name::HopByHop | Name::Upgrade => f.skip = true,
                _ => {}
            }
        }
        if !f.chunked && (lengths > 1 || (lengths == 1 && f.length.is_none())) {
            f.until_close = true;
        }
        f
    }
}

/// The client's copy of a response head: the status line as HTTP/1.1,
/// every header but the hop-by-hop ones (`transfer-encoding` kept: the
/// body is forwarded as framed), and `connection: close` when the router
/// closes the connection after it.
pub fn client_head<H: Fields + ?Sized>(
    out: &mut Vec<u8>,
    status: u16,
    reason: &str,
    headers: &H,
    close: bool,
) {
    out.extend_from_slice(b"HTTP/1.1 ");
    let _ = write!(Bytes(out), "{status} {reason}\r\n");
    for (name, value) in headers.each() {
        if matches!(
            Name::of(name),
            Name::Connection | Name::HopByHop | Name::Upgrade
        ) {
            continue;
        }
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    if close {
        out.extend_from_slice(b"connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// An answer of the router's own: `status`, the extra `headers`, a
/// `text/plain` `body` (left out for `HEAD`), `connection: close` when the
/// connection ends after it.
pub fn answer(
    out: &mut Vec<u8>,
    status: u16,
    headers: &[(&str, &str)],
    body: &str,
    head_only: bool,
    close: bool,
) {
    let _ = write!(Bytes(out), "HTTP/1.1 {status} {}\r\n", reason(status));
    for (name, value) in headers {
        let _ = write!(Bytes(out), "{name}: {value}\r\n");
    }
    let _ = write!(
        Bytes(out),
        "content-type: text/plain\r\ncontent-length: {}\r\n",
        body.len()
    );
    if close {
        out.extend_from_slice(b"connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if !head_only {
        out.extend_from_slice(body.as_bytes());
    }
}

/// The reason phrase of a status the router answers itself.
fn reason(status: u16) -> &'static str {
    http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
}

/// `fmt::Write` into a byte buffer.
struct Bytes<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Bytes<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    fn upstream(head: &[u8], client: Option<IpAddr>) -> String {
        let mut hs = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut hs);
        assert!(req.parse(head).expect("parses").is_complete());
        let facts = Facts::scan(req.headers);
        let mut out = Vec::new();
        upstream_head(
            &mut out,
            req.method.expect("method"),
            req.path.expect("path"),
            req.headers,
            &facts,
            client.map(|ip| ip.to_string()).as_deref(),
        );
        String::from_utf8(out).expect("utf-8")
    }

    fn lines(s: &str) -> Vec<&str> {
        s.split("\r\n").collect()
    }

    #[test]
    fn the_upstream_copy_adds_the_forwarding_headers() {
        let ip: IpAddr = "10.0.0.7".parse().expect("ip");
        let out = upstream(
            b"GET /a?b HTTP/1.1\r\nHost: orders\r\nx-request-id: abc\r\n\r\n",
            Some(ip),
        );
        assert_eq!(
            lines(&out),
            [
                "GET /a?b HTTP/1.1",
                "Host: orders",
                "x-request-id: abc",
                "x-forwarded-for: 10.0.0.7",
                "x-forwarded-proto: http",
                "",
                ""
            ]
        );
        let out = upstream(b"GET / HTTP/1.1\r\nHost: o\r\n\r\n", None);
        assert!(out.contains("\r\nx-request-id: "), "{out}");
        assert!(!out.contains("x-forwarded-for"), "{out}");
    }

    #[test]
    fn hop_by_hop_headers_go_and_forwarded_for_is_appended_to() {
        let ip: IpAddr = "::1".parse().expect("ip");
        let out = upstream(
            b"GET / HTTP/1.1\r\nHost: o\r\nX-Forwarded-For: 1.1.1.1\r\nConnection: keep-alive\r\nKeep-Alive: 5\r\nx-forwarded-for: 2.2.2.2\r\nX-Forwarded-Proto: https\r\nAccept: */*\r\nx-request-id: r\r\n\r\n",
            Some(ip),
        );
        assert_eq!(
            lines(&out),
            [
                "GET / HTTP/1.1",
                "Host: o",
                "Accept: */*",
                "x-request-id: r",
                "x-forwarded-for: 1.1.1.1, 2.2.2.2, ::1",
                "x-forwarded-proto: http",
                "",
                ""
            ]
        );
        // Last header: appended in place.
        let out = upstream(
            b"GET / HTTP/1.1\r\nx-request-id: r\r\nX-Forwarded-For: 1.1.1.1\r\n\r\n",
            Some(ip),
        );
        assert!(
            out.contains("\r\nx-forwarded-for: 1.1.1.1, ::1\r\n"),
            "{out}"
        );
        assert_eq!(out.matches("x-forwarded-for").count(), 1, "{out}");
    }

    #[test]
    fn response_framing_is_read_from_the_head() {
        let h = |name: &'static str, value: &'static [u8]| httparse::Header { name, value };
        let f = ResponseFacts::scan(1, &[h("Content-Length", b"5")]);
        assert_eq!(
            (f.length, f.chunked, f.until_close, f.close),
            (Some(5), false, false, false)
        );
        let f = ResponseFacts::scan(
            1,
            &[
                h("transfer-encoding", b"gzip, chunked"),
                h("connection", b"close"),
            ],
        );
        assert!(f.chunked && f.close && f.skip && !f.until_close);
        assert!(ResponseFacts::scan(1, &[h("transfer-encoding", b"gzip")]).until_close);
        assert!(ResponseFacts::scan(1, &[h("content-length", b"x")]).until_close);
        assert!(
            ResponseFacts::scan(1, &[h("content-length", b"1"), h("content-length", b"1")])
                .until_close
        );
        assert!(ResponseFacts::scan(0, &[]).close);
        assert!(!ResponseFacts::scan(0, &[h("connection", b"keep-alive")]).close);
    }

    #[test]
    fn answers_and_rebuilt_heads() {
        let mut out = Vec::new();
        answer(
            &mut out,
            404,
            &[("x-mesh-error", "no-route")],
            "no-route\n",
            false,
            false,
        );
        assert_eq!(
            String::from_utf8_lossy(&out),
            "HTTP/1.1 404 Not Found\r\nx-mesh-error: no-route\r\ncontent-type: text/plain\r\ncontent-length: 9\r\n\r\nno-route\n"
        );
        let mut out = Vec::new();
        answer(&mut out, 503, &[], "x\n", true, true);
        assert!(String::from_utf8_lossy(&out).ends_with("connection: close\r\n\r\n"));
        let mut out = Vec::new();
        let hs = [
            httparse::Header {
                name: "Content-Length",
                value: b"2",
            },
            httparse::Header {
                name: "Connection",
                value: b"keep-alive",
            },
            httparse::Header {
                name: "Keep-Alive",
                value: b"timeout=5",
            },
        ];
        client_head(&mut out, 200, "OK", &hs[..], true);
        assert_eq!(
            String::from_utf8_lossy(&out),
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nconnection: close\r\n\r\n"
        );
    }
}
