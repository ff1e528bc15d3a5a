//! What the index needs to know about a request ([`RequestView`]), a plain
//! implementation of it ([`SimpleRequest`]), and the allocation-free helpers
//! the lookup uses on it: Host normalisation ([`normalize_host`]) and query
//! parameter access ([`query_param`]).

use crate::validate::limits::HOSTNAME_MAX;

/// A request as the route index sees it. Every method is called at most a
/// few times per lookup and must not allocate to stay on the fast path.
pub trait RequestView {
    /// The host as received (`Host` header, or `:authority` in HTTP/2), in
    /// any case, with or without a `:port` or a trailing dot: the lookup
    /// normalises it (see [`normalize_host`]).
    fn host(&self) -> &str;

    /// The path, without the query string, exactly as received (the lookup
    /// does not percent-decode or collapse anything: a router that wants
    /// `/a/../b` to match `/b` normalises the path before the lookup).
    fn path(&self) -> &str;

    /// The query string after `?`, without the `?`; `None` when there is
    /// none.
    fn query(&self) -> Option<&str>;

    /// The method as received (`GET`, `POST`...); compared case-sensitively
    /// (RFC 9110 §9.1).
    fn method(&self) -> &str;

    /// The value of the header named `lowercase_name` (always given in lower
    /// case). For a repeated header the Gateway API leaves the choice to the
    /// implementation: return the first value, or the values joined by
    /// `, ` (RFC 9110 §5.3), consistently.
    fn header(&self, lowercase_name: &str) -> Option<&str>;
}

/// A borrowed request: the simplest [`RequestView`], for tests, benchmarks
/// and tools (what route would this request take?). Header names compare
/// ignoring ASCII case; a repeated header gives its first value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimpleRequest<'r> {
    pub host: &'r str,
    pub method: &'r str,
    pub path: &'r str,
    pub query: Option<&'r str>,
    pub headers: &'r [(&'r str, &'r str)],
}

impl<'r> SimpleRequest<'r> {
    /// A request for `target` (path, optionally `?query`) on `host` with
    /// `method` and no headers.
    pub fn new(method: &'r str, host: &'r str, target: &'r str) -> SimpleRequest<'r> {
        let (path, query) = match target.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (target, None),
        };
        SimpleRequest {
            host,
            method,
            path,
            query,
            headers: &[],
        }
    }

    /// The same request with these headers.
    pub fn with_headers(self, headers: &'r [(&'r str, &'r str)]) -> SimpleRequest<'r> {
        SimpleRequest { headers, ..self }
    }
}

impl RequestView for SimpleRequest<'_> {
    fn host(&self) -> &str {
        self.host
    }

    fn path(&self) -> &str {
        self.path
    }

    fn query(&self) -> Option<&str> {
        self.query
    }

    fn method(&self) -> &str {
        self.method
    }

    fn header(&self, lowercase_name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(lowercase_name))
            .map(|(_, v)| *v)
    }
}

/// Room for a lower-cased copy of a host name (no valid route hostname is
/// longer). Lives on the caller's stack: normalising never allocates.
#[derive(Debug, Clone)]
pub struct HostBuf([u8; HOST_MAX]);

impl HostBuf {
    pub fn new() -> HostBuf {
        HostBuf([0; HOST_MAX])
    }
}

impl Default for HostBuf {
    fn default() -> Self {
        HostBuf::new()
    }
}

/// Normalises a received host for matching against route hostnames: strips
/// a `:port` (and the brackets' content is kept whole for an IPv6 literal
/// `[::1]:80`), then one trailing dot, then lower-cases ASCII letters (into
/// `buf`, only when there are upper-case letters). `None` when the result
/// is longer than any hostname can be: such a host matches only routes
/// without hostnames.
pub fn normalize_host<'b>(raw: &'b str, buf: &'b mut HostBuf) -> Option<&'b str> {
    let host = trim_host(raw);
    if host.len() > HOST_MAX {
        return None;
    }
    if !has_upper(host) {
        return Some(host);
    }
    lower_into(host, buf)
}

/// `host` (at most [`HOST_MAX`] bytes) lower-cased into `buf`.
pub(super) fn lower_into<'b>(host: &str, buf: &'b mut HostBuf) -> Option<&'b str> {
    let out = buf.0.get_mut(..host.len())?;
    out.copy_from_slice(host.as_bytes());
    out.make_ascii_lowercase();
    std::str::from_utf8(out).ok()
}

/// The longest host a route hostname can match.
pub(super) const HOST_MAX: usize = HOSTNAME_MAX;

/// The host without its `:port` and then one trailing dot; not
/// lower-cased.
#[inline]
pub(super) fn trim_host(raw: &str) -> &str {
    let host = strip_port(raw);
    host.strip_suffix('.').unwrap_or(host)
}

/// True when `s` has an ASCII upper-case letter. Looks at every byte
/// without an early exit, which the compiler turns into SIMD.
#[inline]
pub(super) fn has_upper(s: &str) -> bool {
    s.bytes().fold(false, |up, b| up | b.is_ascii_uppercase())
}

/// The host without its `:port` (digits only, possibly none).
fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        // An IPv6 literal: the port, if any, follows the `]`.
        return match host.find(']') {
            Some(end) => host.get(..=end).unwrap_or(host),
            None => host,
        };
    }
    match host.rfind(':') {
        Some(i) if host[i + 1..].bytes().all(|b| b.is_ascii_digit()) => &host[..i],
        _ => host,
    }
}

/// The value of the first parameter named exactly `name` in `query`
/// (`a=1&b=2`), as received (no percent-decoding, `+` kept); a parameter
/// without `=` has the empty value. The Gateway API asks for the first
/// occurrence when a parameter repeats.
pub fn query_param<'q>(query: &'q str, name: &str) -> Option<&'q str> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then_some(value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(raw: &str) -> Option<String> {
        let mut buf = HostBuf::new();
        normalize_host(raw, &mut buf).map(str::to_owned)
    }

    #[test]
    fn hosts_normalise() {
        assert_eq!(
            norm("orders.example.com").as_deref(),
            Some("orders.example.com")
        );
        assert_eq!(
            norm("Orders.Example.COM:8080").as_deref(),
            Some("orders.example.com")
        );
        assert_eq!(
            norm("orders.example.com.").as_deref(),
            Some("orders.example.com")
        );
        assert_eq!(
            norm("orders.example.com.:443").as_deref(),
            Some("orders.example.com")
        );
        assert_eq!(norm("orders:").as_deref(), Some("orders"));
        assert_eq!(norm("[::1]:8080").as_deref(), Some("[::1]"));
        assert_eq!(norm("a:b").as_deref(), Some("a:b"));
        assert_eq!(norm("").as_deref(), Some(""));
        assert_eq!(
            norm(&"a".repeat(HOSTNAME_MAX)).map(|h| h.len()),
            Some(HOSTNAME_MAX)
        );
        assert_eq!(norm(&"A".repeat(HOSTNAME_MAX + 1)), None);
    }

    #[test]
    fn query_params_first_occurrence_raw() {
        let q = "a=1&b=x%20y&a=2&flag&c=";
        assert_eq!(query_param(q, "a"), Some("1"));
        assert_eq!(query_param(q, "b"), Some("x%20y"));
        assert_eq!(query_param(q, "flag"), Some(""));
        assert_eq!(query_param(q, "c"), Some(""));
        assert_eq!(query_param(q, "A"), None);
        assert_eq!(query_param("", "a"), None);
    }

    #[test]
    fn simple_request_splits_the_target() {
        let r = SimpleRequest::new("GET", "h", "/a/b?x=1&y");
        assert_eq!((r.path(), r.query()), ("/a/b", Some("x=1&y")));
        let r = SimpleRequest::new("GET", "h", "/a").with_headers(&[("X-Tenant", "t1")]);
        assert_eq!((r.path(), r.query()), ("/a", None));
        assert_eq!(r.header("x-tenant"), Some("t1"));
        assert_eq!(r.header("x-other"), None);
    }
}
