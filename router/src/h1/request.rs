//! A parsed HTTP/1.1 request head, borrowed from the connection's buffer:
//! what the fast path needs to know of it, found in one pass over the
//! headers, and the route index's view of it.

use mesh_config::lookup::RequestView;

/// Most header lines of a request or response head the fast path parses;
/// a head with more is handed to pingora.
pub const MAX_HEADERS: usize = 64;

/// The facts about a request head the fast path acts on.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Facts<'b> {
    /// The first `Host` value (empty when absent).
    pub host: &'b str,
    /// The request body's length (`content-length`; 0 when absent).
    pub body: u64,
    /// Something the fast path leaves to pingora: a `transfer-encoding`,
    /// an upgrade, `expect`, a repeated or bad `content-length`, a
    /// `connection` naming other headers, a non-visible `host`.
    pub pingora: bool,
    /// `connection: close`.
    pub close: bool,
    /// Some hop-by-hop header the upstream copy leaves out (`connection`,
    /// `keep-alive`, `proxy-connection`, `te`, `trailer`,
    /// `proxy-authorization`, `proxy-authenticate`) or a forwarding header
    /// the router writes itself (`x-forwarded-for`, `x-forwarded-proto`).
    pub skip: bool,
    /// The request carries `x-forwarded-for` (appended to).
    pub forwarded_for: bool,
    /// The request carries `x-request-id` (kept as is).
    pub request_id: bool,
}

/// One header name as the fast path tells them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Name {
    Host,
    ContentLength,
    TransferEncoding,
    Connection,
    Upgrade,
    Expect,
    /// `keep-alive`, `proxy-connection`, `te`, `proxy-authorization`,
    /// `proxy-authenticate`.
    HopByHop,
    /// `trailer`: left out of requests (as pingora does), kept in
    /// responses (end to end, RFC 9110 §6.6.2: the trailers follow).
    Trailer,
    ForwardedFor,
    ForwardedProto,
    RequestId,
    Other,
}

impl Name {
    /// Classifies a header name (any case).
    pub fn of(name: &str) -> Name {
        // Compare by length first: most names are none of these.
        let eq = |n: &str| name.eq_ignore_ascii_case(n);
        match name.len() {
            2 if eq("te") => Name::HopByHop,
            4 if eq("host") => Name::Host,
            6 if eq("expect") => Name::Expect,
            7 if eq("upgrade") => Name::Upgrade,
            7 if eq("trailer") => Name::Trailer,
            10 if eq("connection") => Name::Connection,
            10 if eq("keep-alive") => Name::HopByHop,
            12 if eq("x-request-id") => Name::RequestId,
            14 if eq("content-length") => Name::ContentLength,
            15 if eq("x-forwarded-for") => Name::ForwardedFor,
            16 if eq("proxy-connection") => Name::HopByHop,
            17 if eq("transfer-encoding") => Name::TransferEncoding,
            17 if eq("x-forwarded-proto") => Name::ForwardedProto,
            18 if eq("proxy-authenticate") => Name::HopByHop,
            19 if eq("proxy-authorization") => Name::HopByHop,
            _ => Name::Other,
        }
    }

    /// Whether the upstream copy of a request leaves this header out.
    pub fn skipped(self) -> bool {
        matches!(
            self,
            Name::Connection
                | Name::HopByHop
                | Name::Trailer
                | Name::ForwardedFor
                | Name::ForwardedProto
        )
    }
}

impl<'b> Facts<'b> {
    /// Scans the headers once.
    pub fn scan(headers: &[httparse::Header<'b>]) -> Facts<'b> {
        let mut f = Facts::default();
        let mut lengths = 0;
        let mut host = false;
        for h in headers {
            let name = Name::of(h.name);
            match name {
                Name::Host if !host => {
                    host = true;
                    match visible(h.value) {
                        Some(v) => f.host = v,
                        None => f.pingora = true,
                    }
                }
                Name::ContentLength => {
                    lengths += 1;
                    match parse_length(h.value) {
                        Some(n) => f.body = n,
                        None => f.pingora = true,
                    }
                }
                Name::TransferEncoding | Name::Upgrade | Name::Expect => f.pingora = true,
                Name::Connection => {
                    f.skip = true;
                    for token in h.value.split(|b| *b == b',') {
                        let token = token.trim_ascii();
                        if token.eq_ignore_ascii_case(b"close") {
                            f.close = true;
                        } else if !(token.is_empty() || token.eq_ignore_ascii_case(b"keep-alive")) {
                            f.pingora = true;
                        }
                    }
                }
                Name::ForwardedFor => {
                    f.skip = true;
                    f.forwarded_for = true;
                }
                // An empty one is replaced: pingora's path does that.
                Name::RequestId if h.value.trim_ascii().is_empty() => f.pingora = true,
                Name::RequestId => f.request_id = true,
                Name::HopByHop | Name::Trailer | Name::ForwardedProto => f.skip = true,
                Name::Host | Name::Other => {}
            }
        }
        if lengths > 1 {
            f.pingora = true;
        }
        f
    }
}

/// A `content-length` value: digits only, at most 18 of them.
pub fn parse_length(v: &[u8]) -> Option<u64> {
    let v = v.trim_ascii();
    if v.is_empty() || v.len() > 18 {
        return None;
    }
    v.iter().try_fold(0u64, |n, b| {
        b.is_ascii_digit().then(|| n * 10 + u64::from(b - b'0'))
    })
}

/// A header value as text when it is visible ASCII (spaces and tabs
/// allowed), as `http::HeaderValue::to_str` accepts it.
pub fn visible(v: &[u8]) -> Option<&str> {
    if v.iter().all(|b| *b == b'\t' || (0x20..0x7f).contains(b)) {
        std::str::from_utf8(v).ok()
    } else {
        None
    }
}

/// The route index's view of a parsed request.
pub struct View<'a, 'b> {
    pub method: &'b str,
    /// The request target (origin form: a path and maybe a query).
    pub target: &'b str,
    pub host: &'b str,
    pub headers: &'a [httparse::Header<'b>],
}

impl RequestView for View<'_, '_> {
    fn host(&self) -> &str {
        self.host
    }

    fn path(&self) -> &str {
        match self.target.split_once('?') {
            Some((path, _)) => path,
            None => self.target,
        }
    }

    fn query(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, q)| q)
    }

    fn method(&self) -> &str {
        self.method
    }

    /// The first value; a value that is not visible ASCII counts as absent.
    fn header(&self, lowercase_name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(lowercase_name))
            .and_then(|h| visible(h.value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(head: &[u8]) -> (Vec<(String, Vec<u8>)>, Facts<'static>) {
        let head: &'static [u8] = Box::leak(head.to_vec().into_boxed_slice());
        let mut hs = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut hs);
        assert!(req.parse(head).expect("parses").is_complete());
        let list = req
            .headers
            .iter()
            .map(|h| (h.name.to_owned(), h.value.to_vec()))
            .collect();
        let facts = Facts::scan(req.headers);
        (list, facts)
    }

    #[test]
    fn a_plain_request_needs_nothing_of_pingora() {
        let (_, f) = parse(b"GET /a?b=1 HTTP/1.1\r\nHost: orders.mesh\r\nAccept: */*\r\n\r\n");
        assert_eq!(f.host, "orders.mesh");
        assert_eq!(f.body, 0);
        assert!(!f.pingora && !f.close && !f.skip && !f.forwarded_for && !f.request_id);
    }

    #[test]
    fn framing_and_connection_headers_are_found() {
        let (_, f) = parse(b"POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 12\r\nConnection: close\r\nX-Forwarded-For: 1.2.3.4\r\nx-request-id: r\r\n\r\n");
        assert_eq!(f.body, 12);
        assert!(f.close && f.skip && f.forwarded_for && f.request_id && !f.pingora);
        for head in [
            &b"POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\n"[..],
            b"GET / HTTP/1.1\r\nhost: a\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n",
            b"POST / HTTP/1.1\r\nhost: a\r\nexpect: 100-continue\r\ncontent-length: 1\r\n\r\n",
            b"POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 1\r\ncontent-length: 1\r\n\r\n",
            b"POST / HTTP/1.1\r\nhost: a\r\ncontent-length: -1\r\n\r\n",
            b"GET / HTTP/1.1\r\nhost: a\r\nconnection: x-secret\r\n\r\n",
        ] {
            assert!(parse(head).1.pingora, "{}", String::from_utf8_lossy(head));
        }
    }

    #[test]
    fn the_view_splits_path_and_query() {
        let hs = [httparse::Header {
            name: "X-Env",
            value: b"canary",
        }];
        let v = View {
            method: "GET",
            target: "/a/b?x=1&y",
            host: "h",
            headers: &hs,
        };
        assert_eq!(v.path(), "/a/b");
        assert_eq!(v.query(), Some("x=1&y"));
        assert_eq!(v.header("x-env"), Some("canary"));
        assert_eq!(v.header("x-other"), None);
        let v = View { target: "/", ..v };
        assert_eq!((v.path(), v.query()), ("/", None));
    }

    proptest! {
        #[test]
        fn name_classification_ignores_case(i in 0usize..15, upper in proptest::collection::vec(any::<bool>(), 19)) {
            let names = ["te", "host", "expect", "upgrade", "trailer", "connection", "keep-alive",
                "x-request-id", "content-length", "x-forwarded-for", "proxy-connection",
                "transfer-encoding", "x-forwarded-proto", "proxy-authenticate", "proxy-authorization"];
            let name = names[i];
            let mixed: String = name.chars().zip(upper.iter().cycle())
                .map(|(c, u)| if *u { c.to_ascii_uppercase() } else { c }).collect();
            prop_assert_eq!(Name::of(name), Name::of(&mixed));
            prop_assert_ne!(Name::of(name), Name::Other);
        }

        #[test]
        fn lengths_parse_like_u64(n in 0u64..1_000_000_000_000_000_000) {
            prop_assert_eq!(parse_length(n.to_string().as_bytes()), Some(n));
        }

        #[test]
        fn no_length_from_other_text(s in "[^0-9 \t]{1,5}") {
            prop_assert_eq!(parse_length(s.as_bytes()), None);
        }
    }
}
