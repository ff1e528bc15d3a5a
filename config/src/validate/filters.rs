//! Filters, of a rule or of one of its backendRefs (Gateway API
//! `HTTPRouteFilter`).
//!
//! - A filter sets exactly the field its `type` names. `ExtensionRef` is
//!   refused (mesh-router has no extensions), and so is `RequestRedirect`
//!   among a backendRef's filters (a redirect answers without a backend).
//! - In one list, at most one each of `RequestHeaderModifier`,
//!   `ResponseHeaderModifier`, `RequestRedirect` and `URLRewrite`, and not
//!   both `RequestRedirect` and `URLRewrite`; `RequestMirror` may repeat.
//! - Header modifiers: at most [`HEADER_MODIFIERS_MAX`] each of `set`, `add`,
//!   `remove`; one action per header name across the three lists (names
//!   compare case-insensitively); values as in
//!   [`check_header_value`](super::names::check_header_value); headers that
//!   frame the message or belong to one hop (`content-length`,
//!   `transfer-encoding`, `connection`...) cannot be modified, since a
//!   wrong value there desynchronises the router and its peers.
//! - Redirects: scheme `http` or `https`, a precise hostname, port
//!   1..=65535, status 301, 302 (default), 303, 307 or 308.
//! - Path modifiers set exactly the field their type names;
//!   `ReplacePrefixMatch` needs every match of the rule to be a `PathPrefix`
//!   one (the Gateway API CRD asks for exactly one match).
//! - Mirrors: a backend reference, and `percent` (0..=100) or `fraction`
//!   (numerator ≥ 0, denominator ≥ 1, default 100, numerator ≤
//!   denominator), not both; stored as numerator/denominator (neither: all
//!   requests, 100/100).

use super::backends::object_ref;
use super::limits::{HEADER_MODIFIERS_MAX, HEADER_VALUE_MAX};
use super::names::{check_header_value, check_hostname};
use super::paths::{full_path_replacement, prefix_replacement};
use super::{all, Checker};
use crate::model::{
    Filter, HeaderEdits, HeaderName, Mirror, PathRewrite, Redirect, Rewrite, Scheme,
};
use crate::spec::{
    FilterType, HeaderModifier, HttpHeader, PathMatchType, PathModifier, PathModifierType,
    RequestMirror, RequestRedirect, RouteFilter, RouteMatch, UrlRewrite,
};
use std::collections::HashMap;

/// Redirect status codes accepted.
const REDIRECT_CODES: [i64; 5] = [301, 302, 303, 307, 308];
/// Largest mirror fraction numerator and denominator (Gateway API int32).
const FRACTION_MAX: i64 = i32::MAX as i64;
/// Headers that frame a message or are hop-by-hop: the router manages them.
const UNMODIFIABLE_HEADERS: [&str; 8] = [
    "connection",
    "content-length",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Where a filter list sits.
pub(super) struct Scope<'a> {
    /// The rule's matches as written (empty: the default `PathPrefix /`).
    pub matches: &'a [RouteMatch],
    /// The filters of a backendRef rather than of the rule.
    pub in_backend: bool,
}

/// Checks the filter list at `base` (`spec.rules[0].filters`).
pub(super) fn filters(
    c: &mut Checker,
    base: &str,
    list: &[RouteFilter],
    scope: &Scope<'_>,
) -> Option<Vec<Filter>> {
    c.list_len(base, list.len(), super::limits::FILTERS_MAX);
    let mut out = Vec::with_capacity(list.len());
    let mut first: HashMap<FilterType, usize> = HashMap::new();
    for (i, f) in list.iter().enumerate() {
        let path = format!("{base}[{i}]");
        out.push(filter(c, &path, f, scope));
        let once = [
            FilterType::RequestHeaderModifier,
            FilterType::ResponseHeaderModifier,
            FilterType::RequestRedirect,
            FilterType::UrlRewrite,
        ];
        if once.contains(&f.kind) {
            if let Some(j) = first.get(&f.kind) {
                c.report(
                    &format!("{path}.type"),
                    format!(
                        "{} may appear only once in a filter list (also filters[{j}])",
                        f.kind.as_str()
                    ),
                );
            }
        }
        let other = match f.kind {
            FilterType::RequestRedirect => Some(FilterType::UrlRewrite),
            FilterType::UrlRewrite => Some(FilterType::RequestRedirect),
            _ => None,
        };
        if let Some(j) = other.and_then(|o| first.get(&o)) {
            c.report(
                &format!("{path}.type"),
                format!("RequestRedirect and URLRewrite cannot be used together (filters[{j}])"),
            );
        }
        first.entry(f.kind).or_insert(i);
    }
    all(out)
}

/// The field named by each filter type, and whether `f` sets it.
fn fields(f: &RouteFilter) -> [(FilterType, &'static str, bool); 6] {
    [
        (
            FilterType::RequestHeaderModifier,
            "requestHeaderModifier",
            f.request_header_modifier.is_some(),
        ),
        (
            FilterType::ResponseHeaderModifier,
            "responseHeaderModifier",
            f.response_header_modifier.is_some(),
        ),
        (
            FilterType::RequestRedirect,
            "requestRedirect",
            f.request_redirect.is_some(),
        ),
        (
            FilterType::UrlRewrite,
            "urlRewrite",
            f.url_rewrite.is_some(),
        ),
        (
            FilterType::RequestMirror,
            "requestMirror",
            f.request_mirror.is_some(),
        ),
        (
            FilterType::ExtensionRef,
            "extensionRef",
            f.extension_ref.is_some(),
        ),
    ]
}

/// The field its type names, reporting it when absent.
fn named<'a, T>(
    c: &mut Checker,
    path: &str,
    field: &str,
    kind: FilterType,
    value: Option<&'a T>,
) -> Option<&'a T> {
    if value.is_none() {
        c.report(
            &format!("{path}.{field}"),
            format!("must be set when type is {}", kind.as_str()),
        );
    }
    value
}

fn filter(c: &mut Checker, path: &str, f: &RouteFilter, scope: &Scope<'_>) -> Option<Filter> {
    let kind = f.kind;
    for (other, field, set) in fields(f) {
        if set && other != kind {
            c.report(
                &format!("{path}.{field}"),
                format!("must not be set when type is {}", kind.as_str()),
            );
        }
    }
    match kind {
        FilterType::RequestHeaderModifier => {
            let m = named(
                c,
                path,
                "requestHeaderModifier",
                kind,
                f.request_header_modifier.as_ref(),
            )?;
            header_edits(c, &format!("{path}.requestHeaderModifier"), m).map(Filter::RequestHeaders)
        }
        FilterType::ResponseHeaderModifier => {
            let m = named(
                c,
                path,
                "responseHeaderModifier",
                kind,
                f.response_header_modifier.as_ref(),
            )?;
            header_edits(c, &format!("{path}.responseHeaderModifier"), m)
                .map(Filter::ResponseHeaders)
        }
        FilterType::RequestRedirect if scope.in_backend => {
            c.report(
                &format!("{path}.type"),
                "RequestRedirect is not allowed in backendRef filters: a redirect answers \
                 without a backend (put it in the rule's filters, with no backendRefs)",
            );
            None
        }
        FilterType::RequestRedirect => {
            let r = named(
                c,
                path,
                "requestRedirect",
                kind,
                f.request_redirect.as_ref(),
            )?;
            redirect(c, &format!("{path}.requestRedirect"), r, scope).map(Filter::Redirect)
        }
        FilterType::UrlRewrite => {
            let r = named(c, path, "urlRewrite", kind, f.url_rewrite.as_ref())?;
            rewrite(c, &format!("{path}.urlRewrite"), r, scope).map(Filter::Rewrite)
        }
        FilterType::RequestMirror => {
            let m = named(c, path, "requestMirror", kind, f.request_mirror.as_ref())?;
            mirror(c, &format!("{path}.requestMirror"), m).map(Filter::Mirror)
        }
        FilterType::ExtensionRef => {
            c.report(
                &format!("{path}.type"),
                "ExtensionRef filters are not supported by mesh-router",
            );
            None
        }
    }
}

/// Checks a header modifier (`HTTPHeaderFilter`) at `path`.
fn header_edits(c: &mut Checker, path: &str, m: &HeaderModifier) -> Option<HeaderEdits> {
    // Lower-case name → where its one action is (`set[0]`).
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut pairs = |c: &mut Checker, list: &[HttpHeader], field: &str| {
        c.list_len(&format!("{path}.{field}"), list.len(), HEADER_MODIFIERS_MAX);
        let mut out = Vec::with_capacity(list.len());
        for (i, h) in list.iter().enumerate() {
            let here = format!("{field}[{i}]");
            let name = edited_name(c, &format!("{path}.{here}.name"), &h.name, &here, &mut seen);
            let value = c.check(
                &format!("{path}.{here}.value"),
                check_header_value(&h.value, HEADER_VALUE_MAX),
            );
            out.push(name.zip(value).map(|(n, ())| (n, h.value.clone())));
        }
        all(out)
    };
    let set = pairs(c, &m.set, "set");
    let add = pairs(c, &m.add, "add");
    c.list_len(
        &format!("{path}.remove"),
        m.remove.len(),
        HEADER_MODIFIERS_MAX,
    );
    let mut remove = Vec::with_capacity(m.remove.len());
    for (i, name) in m.remove.iter().enumerate() {
        let here = format!("remove[{i}]");
        remove.push(edited_name(
            c,
            &format!("{path}.{here}"),
            name,
            &here,
            &mut seen,
        ));
    }
    Some(HeaderEdits {
        set: set?,
        add: add?,
        remove: all(remove)?,
    })
}

/// A header name in a modifier: valid, modifiable, and given one action only.
fn edited_name(
    c: &mut Checker,
    path: &str,
    name: &str,
    here: &str,
    seen: &mut HashMap<String, String>,
) -> Option<HeaderName> {
    let name = c.check(path, HeaderName::parse(name))?;
    if UNMODIFIABLE_HEADERS.contains(&name.as_str()) {
        c.report(
            path,
            format!("{name} cannot be modified: the router manages framing and hop-by-hop headers"),
        );
        return None;
    }
    if let Some(first) = seen.get(name.as_str()) {
        c.report(
            path,
            format!("{name} already has an action at {first} (one action per header; names ignore case)"),
        );
        return None;
    }
    seen.insert(name.as_str().to_owned(), here.to_owned());
    Some(name)
}

/// An optional precise hostname at `path`.
fn precise_hostname(c: &mut Checker, path: &str, h: Option<&String>) -> Option<Option<String>> {
    match h {
        None => Some(None),
        Some(h) => c
            .check(path, check_hostname(h, false))
            .map(|()| Some(h.clone())),
    }
}

fn redirect(
    c: &mut Checker,
    path: &str,
    r: &RequestRedirect,
    scope: &Scope<'_>,
) -> Option<Redirect> {
    let scheme = match r.scheme.as_deref() {
        None => Some(None),
        Some("http") => Some(Some(Scheme::Http)),
        Some("https") => Some(Some(Scheme::Https)),
        Some(other) => {
            c.report(
                &format!("{path}.scheme"),
                format!("must be http or https, not {other:?}"),
            );
            None
        }
    };
    let hostname = precise_hostname(c, &format!("{path}.hostname"), r.hostname.as_ref());
    let new_path = match &r.path {
        None => Some(None),
        Some(p) => path_modifier(c, &format!("{path}.path"), p, scope).map(Some),
    };
    let port = match r.port {
        None => Some(None),
        Some(p) => c.port(&format!("{path}.port"), p).map(Some),
    };
    let status = match r.status_code {
        None => Some(302),
        Some(s) if REDIRECT_CODES.contains(&s) => u16::try_from(s).ok(),
        Some(s) => {
            c.report(
                &format!("{path}.statusCode"),
                format!("must be one of 301, 302, 303, 307, 308 (got {s})"),
            );
            None
        }
    };
    Some(Redirect {
        scheme: scheme?,
        hostname: hostname?,
        path: new_path?,
        port: port?,
        status: status?,
    })
}

fn rewrite(c: &mut Checker, path: &str, r: &UrlRewrite, scope: &Scope<'_>) -> Option<Rewrite> {
    let hostname = precise_hostname(c, &format!("{path}.hostname"), r.hostname.as_ref());
    let new_path = match &r.path {
        None => Some(None),
        Some(p) => path_modifier(c, &format!("{path}.path"), p, scope).map(Some),
    };
    Some(Rewrite {
        hostname: hostname?,
        path: new_path?,
    })
}

fn path_modifier(
    c: &mut Checker,
    path: &str,
    p: &PathModifier,
    scope: &Scope<'_>,
) -> Option<PathRewrite> {
    let (own, own_field, other, other_field) = match p.kind {
        PathModifierType::ReplaceFullPath => (
            &p.replace_full_path,
            "replaceFullPath",
            &p.replace_prefix_match,
            "replacePrefixMatch",
        ),
        PathModifierType::ReplacePrefixMatch => (
            &p.replace_prefix_match,
            "replacePrefixMatch",
            &p.replace_full_path,
            "replaceFullPath",
        ),
    };
    if other.is_some() {
        c.report(
            &format!("{path}.{other_field}"),
            format!("must not be set when type is {:?}", p.kind),
        );
    }
    let Some(value) = own else {
        c.report(
            &format!("{path}.{own_field}"),
            format!("must be set when type is {:?}", p.kind),
        );
        return None;
    };
    let value_path = format!("{path}.{own_field}");
    match p.kind {
        PathModifierType::ReplaceFullPath => c
            .check(&value_path, full_path_replacement(value))
            .map(PathRewrite::Full),
        PathModifierType::ReplacePrefixMatch => {
            let not_prefix = scope.matches.iter().enumerate().find_map(|(i, m)| {
                m.path
                    .as_ref()
                    .map(|p| p.kind)
                    .filter(|k| *k != PathMatchType::PathPrefix)
                    .map(|k| (i, k))
            });
            if let Some((i, k)) = not_prefix {
                c.report(
                    &format!("{path}.type"),
                    format!("ReplacePrefixMatch needs every match of the rule to be PathPrefix (matches[{i}] is {k:?})"),
                );
            }
            let value = c.check(&value_path, prefix_replacement(value));
            if not_prefix.is_some() {
                return None;
            }
            value.map(PathRewrite::Prefix)
        }
    }
}

fn mirror(c: &mut Checker, path: &str, m: &RequestMirror) -> Option<Mirror> {
    let target = object_ref(c, &format!("{path}.backendRef"), (&m.backend_ref).into());
    let percent = m
        .percent
        .map(|p| c.uint(&format!("{path}.percent"), p, 0, 100));
    let fraction = m.fraction.as_ref().map(|f| {
        let numerator = c.uint(
            &format!("{path}.fraction.numerator"),
            f.numerator,
            0,
            FRACTION_MAX,
        );
        let denominator = match f.denominator {
            None => Some(100),
            Some(d) => c.uint(&format!("{path}.fraction.denominator"), d, 1, FRACTION_MAX),
        };
        let (n, d) = numerator.zip(denominator)?;
        if n > d {
            c.report(
                &format!("{path}.fraction.numerator"),
                format!("must not be greater than the denominator ({d})"),
            );
            return None;
        }
        Some((n, d))
    });
    let share = match (percent, fraction) {
        (Some(_), Some(_)) => {
            c.report(
                &format!("{path}.fraction"),
                "must not be set together with percent",
            );
            None
        }
        (Some(p), None) => p.map(|p| (p, 100)),
        (None, Some(f)) => f,
        (None, None) => Some((100, 100)),
    };
    let (service, port) = target?;
    let (numerator, denominator) = share?;
    Some(Mirror {
        service,
        port,
        numerator,
        denominator,
    })
}
