//! Applying a rule's filters to pingora request and response heads. The
//! Gateway API logic lives in [`crate::filters`]; this module finds the
//! filters of a rule and moves values in and out of pingora's types.

use crate::filters::{self, Keep, RequestParts};
use mesh_config::model::{Filter, Match, Redirect, Rule};
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::{Error, ErrorType, Result};
use std::net::IpAddr;

fn header_error(e: filters::HeaderError) -> Box<Error> {
    Error::because(ErrorType::InternalError, "header filter", e)
}

/// The rule's redirect, if it has one.
pub(crate) fn redirect(rule: &Rule) -> Option<&Redirect> {
    rule.filters.iter().find_map(|f| match f {
        Filter::Redirect(r) => Some(r),
        _ => None,
    })
}

/// The status and `location` of a redirect of `req`, which came in on
/// `listener_port`, over TLS or not (the scheme the location keeps).
pub(super) fn redirect_answer(
    req: &RequestHeader,
    r: &Redirect,
    matched: &Match,
    listener_port: Option<u16>,
    tls: bool,
) -> (u16, String) {
    let host = strip_port(super::view::host(req));
    let parts = RequestParts {
        scheme: filters::forwarded_proto(tls),
        host,
        port: listener_port,
        path: req.uri.path(),
        query: req.uri.query(),
    };
    filters::redirect(r, &parts, matched)
}

/// The host without `:port` (an IPv6 literal keeps its brackets).
pub(crate) fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return match host.find(']') {
            Some(end) => host.get(..=end).unwrap_or(host),
            None => host,
        };
    }
    match host.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

/// Adds `x-request-id` when the request has none.
pub(super) fn ensure_request_id(req: &mut RequestHeader) -> Result<()> {
    filters::ensure_request_id(req)
        .map(|_| ())
        .map_err(header_error)
}

/// Applies the `RequestHeaderModifier` filters among `list`.
pub(super) fn request_headers(req: &mut RequestHeader, list: &[Filter]) -> Result<()> {
    for f in list {
        if let Filter::RequestHeaders(e) = f {
            filters::apply_header_edits(e, req).map_err(header_error)?;
        }
    }
    Ok(())
}

/// Applies the `ResponseHeaderModifier` filters among `list`.
pub(super) fn response_headers(resp: &mut ResponseHeader, list: &[Filter]) -> Result<()> {
    for f in list {
        if let Filter::ResponseHeaders(e) = f {
            filters::apply_header_edits(e, resp).map_err(header_error)?;
        }
    }
    Ok(())
}

/// Applies the `URLRewrite` filters among `list` to the upstream request.
pub(super) fn rewrite(req: &mut RequestHeader, list: &[Filter], m: Option<&Match>) -> Result<()> {
    for f in list {
        let Filter::Rewrite(r) = f else { continue };
        if let Some(host) = &r.hostname {
            req.insert_header("host", host.as_str())?;
        }
        let (Some(p), Some(m)) = (&r.path, m) else {
            continue;
        };
        if let Some(path) = filters::rewrite_path(p, m, req.uri.path()) {
            let target = match req.uri.query() {
                Some(q) => format!("{path}?{q}"),
                None => path,
            };
            req.set_raw_path(target.as_bytes())?;
        }
    }
    Ok(())
}

/// The request headers pingora's standard upstream request policy acts on
/// (`sanitize_h1_upstream_request` and `sanitize_h2_upstream_request` in
/// pingora-proxy 0.9): the hop-by-hop headers it strips, `connection` (whose
/// nominations it strips or rejects) and the upgrade headers it rebuilds.
const SANITIZED: [&str; 10] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "http2-settings",
];

/// Whether pingora's standard upstream request policy would change the
/// upstream copy of `req`. Without any of the headers it acts on it changes
/// nothing, and the proxy tells pingora to skip it (`preserve`): one pass
/// over the header names instead of a dozen header-map removals per
/// request. Checked on the downstream request, which pingora copies for the
/// upstream after `upstream_peer`.
pub(super) fn needs_upstream_sanitizing(req: &RequestHeader) -> bool {
    req.headers
        .keys()
        .any(|name| SANITIZED.contains(&name.as_str()))
}

/// Removes hop-by-hop headers from an upstream request (pingora strips the
/// standard ones too), keeping a WebSocket upgrade.
pub(super) fn strip_hop_by_hop(req: &mut RequestHeader, upgrade: bool) {
    filters::strip_hop_by_hop(
        req,
        Keep {
            upgrade,
            framing: false,
        },
    );
}

/// Appends the client to `x-forwarded-for` and sets `x-forwarded-proto`.
pub(super) fn forwarded(req: &mut RequestHeader, client: Option<IpAddr>, tls: bool) -> Result<()> {
    if let Some(ip) = client {
        filters::add_forwarded_for(req, ip).map_err(header_error)?;
    }
    // A static value: no copy of it.
    let proto = http::HeaderValue::from_static(filters::forwarded_proto(tls));
    req.insert_header(filters::X_FORWARDED_PROTO, proto)?;
    Ok(())
}

/// Sets `te: trailers` on an upstream request to an HTTP/2 service when the
/// client asked for trailers, and always for gRPC (which requires it).
/// pingora drops `te` from requests that came in over HTTP/1.1.
pub(super) fn te_trailers(
    upstream: &mut RequestHeader,
    downstream: &RequestHeader,
    grpc: bool,
) -> Result<()> {
    let asked = downstream.headers.get_all("te").iter().any(|v| {
        v.as_bytes().split(|b| *b == b',').any(|t| {
            t.split(|b| *b == b';')
                .next()
                .unwrap_or(t)
                .trim_ascii()
                .eq_ignore_ascii_case(b"trailers")
        })
    });
    if grpc || asked {
        upstream.insert_header("te", "trailers")?;
    } else {
        upstream.remove_header("te");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitizing_is_needed_only_with_headers_pingora_acts_on() {
        let mut req = RequestHeader::build("GET", b"/", None).expect("request");
        for (n, v) in [
            ("Host", "orders.mesh"),
            ("Accept", "*/*"),
            ("X-Forwarded-For", "1.1.1.1"),
            (
                "traceparent",
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            ),
        ] {
            req.append_header(n, v).expect("header");
        }
        assert!(!needs_upstream_sanitizing(&req));
        for name in SANITIZED
            .iter()
            .chain(&["Connection", "TE", "HTTP2-Settings"])
        {
            let mut r = req.clone();
            r.append_header(name.to_string(), "x").expect("header");
            assert!(needs_upstream_sanitizing(&r), "{name}");
        }
    }
}
