//! Redirects, path rewrites and mirror sampling (Gateway API
//! `RequestRedirect`, `URLRewrite`, `RequestMirror`).

use mesh_config::model::{Match, Mirror, PathMatch, PathRewrite, Redirect, Scheme};

/// What a redirect needs to know of the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestParts<'a> {
    /// `http` or `https`: how the request reached the router.
    pub scheme: &'a str,
    /// The request's host, without port (an IPv6 address in brackets).
    pub host: &'a str,
    /// The port of the listener the request came in on (Gateway API: the
    /// "listener port"); `None` when it is the scheme's default or unknown.
    pub port: Option<u16>,
    /// The path, without query.
    pub path: &'a str,
    /// The query, without `?`; `None` when the request had none.
    pub query: Option<&'a str>,
}

fn scheme_str(s: Scheme) -> &'static str {
    match s {
        Scheme::Http => "http",
        Scheme::Https => "https",
    }
}

fn default_port(scheme: &str) -> Option<u16> {
    if scheme.eq_ignore_ascii_case("http") {
        Some(80)
    } else if scheme.eq_ignore_ascii_case("https") {
        Some(443)
    } else {
        None
    }
}

/// The status and `Location` of a `RequestRedirect` (Gateway API rules):
/// - scheme: the filter's, else the request's;
/// - host: the filter's `hostname`, else the request's;
/// - port: the filter's; else, when the filter sets a scheme, that scheme's
///   well-known port; else the request's (listener) port. Left out of the
///   location when it is the scheme's default (80 for http, 443 for https);
/// - path: replaced as [`rewrite_path`] says (`ReplacePrefixMatch` only
///   applies when `matched` is a `PathPrefix` match), else the request's;
/// - the query is kept; the status is the filter's (302 by default).
pub fn redirect(r: &Redirect, req: &RequestParts<'_>, matched: &Match) -> (u16, String) {
    let scheme: &str = match r.scheme {
        Some(s) => scheme_str(s),
        None => req.scheme,
    };
    let host = r.hostname.as_deref().unwrap_or(req.host);
    let port = match (r.port, r.scheme) {
        (Some(p), _) => Some(p),
        (None, Some(_)) => None,
        (None, None) => req.port,
    }
    .filter(|p| Some(*p) != default_port(scheme));

    let query_len = req.query.map_or(0, |q| q.len() + 1);
    let mut location =
        String::with_capacity(scheme.len() + 3 + host.len() + 6 + req.path.len() + 16 + query_len);
    location.push_str(scheme);
    location.push_str("://");
    location.push_str(host);
    if let Some(p) = port {
        location.push(':');
        push_u16(&mut location, p);
    }
    let rewritten = r
        .path
        .as_ref()
        .is_some_and(|p| write_path(p, matched, req.path, &mut location));
    if !rewritten {
        location.push_str(req.path);
    }
    if let Some(q) = req.query {
        location.push('?');
        location.push_str(q);
    }
    (r.status, location)
}

/// Appends a port number without going through the formatting machinery.
fn push_u16(out: &mut String, n: u16) {
    let mut digits = [0u8; 5];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for d in &digits[i..] {
        out.push(char::from(*d));
    }
}

/// The path after a path modifier; `None` when it is unchanged (a
/// `ReplacePrefixMatch` whose match is not a `PathPrefix` one, or a path
/// that does not start with the prefix).
///
/// `ReplaceFullPath` replaces the whole path. `ReplacePrefixMatch` replaces
/// the matched prefix element by element, and keeps the rest (trailing `/`
/// included): prefix `/foo` → `/bar` maps `/foo` to `/bar`, `/foo/` to
/// `/bar/` and `/foo/baz` to `/bar/baz`; replacement `/` maps `/foo/baz` to
/// `/baz` and `/foo` to `/`; prefix `/` → `/bar` maps `/baz` to `/bar/baz`
/// and `/` to `/bar`. `path` has no query: the caller keeps it.
pub fn rewrite_path(p: &PathRewrite, matched: &Match, path: &str) -> Option<String> {
    let mut out = String::with_capacity(path.len() + 16);
    write_path(p, matched, path, &mut out).then_some(out)
}

/// Appends the rewritten path to `out`; false (and nothing appended) when
/// the path is unchanged.
fn write_path(p: &PathRewrite, matched: &Match, path: &str, out: &mut String) -> bool {
    match p {
        PathRewrite::Full(full) => {
            out.push_str(full);
            true
        }
        PathRewrite::Prefix(replacement) => {
            let PathMatch::Prefix(prefix) = &matched.path else {
                return false;
            };
            let Some(rest) = after_prefix(path, prefix) else {
                return false;
            };
            // Stored without a trailing `/` except `/` itself; ignore one
            // anyway, as the Gateway API does.
            let replacement = replacement.trim_end_matches('/');
            if replacement.is_empty() {
                out.push_str(if rest.is_empty() { "/" } else { rest });
            } else {
                out.push_str(replacement);
                out.push_str(rest);
            }
            true
        }
    }
}

/// What follows `prefix` in `path`, element by element: `""` or a part
/// starting with `/`; `None` when `path` does not start with `prefix`.
fn after_prefix<'a>(path: &'a str, prefix: &str) -> Option<&'a str> {
    let prefix = prefix.trim_end_matches('/');
    if prefix.is_empty() {
        // The root prefix: `/` itself is the whole prefix.
        return match path {
            "/" => Some(""),
            p if p.starts_with('/') => Some(p),
            _ => None,
        };
    }
    let rest = path.strip_prefix(prefix)?;
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

/// Whether a `RequestMirror` copies this request: true for `numerator` out
/// of every `denominator` values of `random` (uniform over `u32`, e.g.
/// `fastrand::u32(..)`), scaled rather than taken modulo so that large
/// denominators are not biased.
pub fn mirror_sampled(m: &Mirror, random: u32) -> bool {
    if m.denominator == 0 || m.numerator == 0 {
        return false;
    }
    if m.numerator >= m.denominator {
        return true;
    }
    let drawn = (u64::from(random) * u64::from(m.denominator)) >> 32;
    drawn < u64::from(m.numerator)
}
