//! Route documents (Gateway API `HTTPRouteSpec`): hostnames, rules, matches,
//! timeouts and retries. Filters and backendRefs have their own modules.
//!
//! - `spec.hostnames`: at most [`HOSTNAMES_MAX`], each a hostname or
//!   `*.`-wildcard (see [`check_hostname`](super::check_hostname)), no
//!   duplicates.
//! - `spec.rules`: at most [`RULES_MAX`], names (optional) unique labels,
//!   at most [`MATCHES_MAX`] matches each and [`MATCHES_PER_ROUTE_MAX`] in
//!   all. No rules: one rule matching `PathPrefix /` with no backends; a
//!   rule without matches: one `PathPrefix /` match.
//! - A rule with a `RequestRedirect` filter has no backendRefs.
//! - Matches: path (see [`paths`](super::paths)); at most
//!   [`HEADER_MATCHES_MAX`] headers and as many query parameters, names
//!   unique (headers ignoring case), values as in
//!   [`check_header_value`](super::names::check_header_value) (queries at
//!   most [`QUERY_VALUE_MAX`]) or regexes.
//! - Timeouts: durations; `0s` disables (stored as `None`); `backendRequest`
//!   not longer than `request` when both are enabled.
//! - Retry: codes 400..=599, unique, at most [`RETRY_CODES_MAX`]; attempts
//!   0..=[`RETRY_ATTEMPTS_MAX`], default 1 (the Gateway API leaves it to the
//!   implementation); backoff a duration (`0s`: retry at once).

use super::backends::backend_refs;
use super::filters::{filters, Scope};
use super::limits::{
    HEADER_MATCHES_MAX, HEADER_VALUE_MAX, HOSTNAMES_MAX, MATCHES_MAX, MATCHES_PER_ROUTE_MAX,
    QUERY_VALUE_MAX, RETRY_ATTEMPTS_MAX, RETRY_CODES_MAX, RULES_MAX,
};
use super::names::{check_header_value, check_query_name};
use super::paths::path_match;
use super::{all, Checker};
use crate::duration::format_duration;
use crate::model::{
    HeaderMatch, HeaderName, Hostname, Match, PathMatch, Pattern, QueryParamMatch, Retry, Route,
    Rule, Timeouts, ValueMatch,
};
use crate::spec::{
    self, FilterType, PathMatchType, RouteDoc, RouteRetry, RouteRule, RouteTimeouts, ValueMatchType,
};
use std::collections::HashMap;
use std::time::Duration;

pub(super) fn route(c: &mut Checker, doc: &RouteDoc) -> Option<Route> {
    let name = c.name("name", &doc.name);
    let spec = &doc.spec;
    let hostnames = hostnames(c, &spec.hostnames);
    c.list_len("spec.rules", spec.rules.len(), RULES_MAX);
    let total: usize = spec.rules.iter().map(|r| r.matches.len()).sum();
    if total > MATCHES_PER_ROUTE_MAX {
        c.report(
            "spec.rules",
            format!("must have at most {MATCHES_PER_ROUTE_MAX} matches in all rules together (has {total})"),
        );
    }
    let mut names: HashMap<&str, usize> = HashMap::new();
    let mut rules = Vec::with_capacity(spec.rules.len());
    for (i, r) in spec.rules.iter().enumerate() {
        let base = format!("spec.rules[{i}]");
        rules.push(rule(c, &base, r));
        if let Some(n) = &r.name {
            if let Some(first) = names.get(n.as_str()) {
                c.report(
                    &format!("{base}.name"),
                    format!("duplicate of spec.rules[{first}].name"),
                );
            } else {
                names.insert(n, i);
            }
        }
    }
    let rules = if spec.rules.is_empty() {
        Some(vec![default_rule()])
    } else {
        all(rules)
    };
    Some(Route {
        name: name?,
        hostnames: hostnames?,
        rules: rules?,
    })
}

fn hostnames(c: &mut Checker, list: &[String]) -> Option<Vec<Hostname>> {
    c.list_len("spec.hostnames", list.len(), HOSTNAMES_MAX);
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut out = Vec::with_capacity(list.len());
    for (i, h) in list.iter().enumerate() {
        let path = format!("spec.hostnames[{i}]");
        let parsed = c.check(&path, Hostname::parse(h));
        if let Some(first) = seen.get(h.as_str()) {
            c.report(&path, format!("duplicate of spec.hostnames[{first}]"));
        } else {
            seen.insert(h, i);
        }
        out.push(parsed);
    }
    all(out)
}

/// The match of a rule that has none: `PathPrefix /`.
fn default_match() -> Match {
    Match {
        path: PathMatch::Prefix("/".to_owned()),
        headers: Vec::new(),
        query_params: Vec::new(),
        method: None,
    }
}

/// The rule of a route that has none: everything, no backends.
fn default_rule() -> Rule {
    Rule {
        name: None,
        matches: vec![default_match()],
        filters: Vec::new(),
        backends: Vec::new(),
        timeouts: Timeouts::default(),
        retry: None,
    }
}

fn rule(c: &mut Checker, base: &str, r: &RouteRule) -> Option<Rule> {
    let name = match &r.name {
        None => Some(None),
        Some(n) => c.name(&format!("{base}.name"), n).map(Some),
    };
    c.list_len(&format!("{base}.matches"), r.matches.len(), MATCHES_MAX);
    let mut matches = Vec::with_capacity(r.matches.len());
    for (i, m) in r.matches.iter().enumerate() {
        matches.push(route_match(c, &format!("{base}.matches[{i}]"), m));
    }
    let matches = if r.matches.is_empty() {
        Some(vec![default_match()])
    } else {
        all(matches)
    };
    let scope = Scope {
        matches: &r.matches,
        in_backend: false,
    };
    let rule_filters = filters(c, &format!("{base}.filters"), &r.filters, &scope);
    let redirect = r
        .filters
        .iter()
        .position(|f| f.kind == FilterType::RequestRedirect);
    if let (Some(i), false) = (redirect, r.backend_refs.is_empty()) {
        c.report(
            &format!("{base}.backendRefs"),
            format!(
                "must be empty when the rule has a RequestRedirect filter (filters[{i}]): \
                 a redirect answers without a backend"
            ),
        );
    }
    let backends = backend_refs(c, base, &r.backend_refs, &r.matches);
    let timeouts = match &r.timeouts {
        None => Some(Timeouts::default()),
        Some(t) => timeouts(c, &format!("{base}.timeouts"), t),
    };
    let retry = match &r.retry {
        None => Some(None),
        Some(rt) => retry(c, &format!("{base}.retry"), rt).map(Some),
    };
    Some(Rule {
        name: name?,
        matches: matches?,
        filters: rule_filters?,
        backends: backends?,
        timeouts: timeouts?,
        retry: retry?,
    })
}

fn route_match(c: &mut Checker, base: &str, m: &spec::RouteMatch) -> Option<Match> {
    let (kind, value) = m
        .path
        .as_ref()
        .map_or((PathMatchType::PathPrefix, "/"), |p| {
            (p.kind, p.value.as_str())
        });
    let path = c.check(&format!("{base}.path.value"), path_match(kind, value));

    let headers_path = format!("{base}.headers");
    c.list_len(&headers_path, m.headers.len(), HEADER_MATCHES_MAX);
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut headers = Vec::with_capacity(m.headers.len());
    for (i, h) in m.headers.iter().enumerate() {
        let here = format!("{headers_path}[{i}]");
        let name = c.check(&format!("{here}.name"), HeaderName::parse(&h.name));
        if let Some(n) = &name {
            if let Some(first) = seen.get(n.as_str()) {
                c.report(
                    &format!("{here}.name"),
                    format!("duplicate of headers[{first}] (header names ignore case)"),
                );
            } else {
                seen.insert(n.as_str().to_owned(), i);
            }
        }
        let value = value_match(
            c,
            &format!("{here}.value"),
            h.kind,
            &h.value,
            HEADER_VALUE_MAX,
        );
        headers.push(
            name.zip(value)
                .map(|(name, value)| HeaderMatch { name, value }),
        );
    }

    let query_path = format!("{base}.queryParams");
    c.list_len(&query_path, m.query_params.len(), HEADER_MATCHES_MAX);
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut query_params = Vec::with_capacity(m.query_params.len());
    for (i, q) in m.query_params.iter().enumerate() {
        let here = format!("{query_path}[{i}]");
        let name = c.check(&format!("{here}.name"), check_query_name(&q.name));
        if let Some(first) = seen.get(q.name.as_str()) {
            c.report(
                &format!("{here}.name"),
                format!("duplicate of queryParams[{first}]"),
            );
        } else {
            seen.insert(&q.name, i);
        }
        let value = value_match(
            c,
            &format!("{here}.value"),
            q.kind,
            &q.value,
            QUERY_VALUE_MAX,
        );
        query_params.push(name.zip(value).map(|((), value)| QueryParamMatch {
            name: q.name.clone(),
            value,
        }));
    }
    Some(Match {
        path: path?,
        headers: all(headers)?,
        query_params: all(query_params)?,
        method: m.method,
    })
}

/// A header or query parameter value to match, exactly or by regex.
fn value_match(
    c: &mut Checker,
    path: &str,
    kind: ValueMatchType,
    value: &str,
    max: usize,
) -> Option<ValueMatch> {
    match kind {
        ValueMatchType::Exact => c
            .check(path, check_header_value(value, max))
            .map(|()| ValueMatch::Exact(value.to_owned())),
        ValueMatchType::RegularExpression if value.is_empty() => {
            c.report(path, "must not be empty");
            None
        }
        ValueMatchType::RegularExpression => {
            c.check(path, Pattern::parse(value)).map(ValueMatch::Regex)
        }
    }
}

fn timeouts(c: &mut Checker, base: &str, t: &RouteTimeouts) -> Option<Timeouts> {
    // `Some(None)`: absent or `0s`, no limit.
    let mut limit = |field: &str, v: &Option<String>| -> Option<Option<Duration>> {
        match v {
            None => Some(None),
            Some(s) => c
                .duration(&format!("{base}.{field}"), s)
                .map(|d| (!d.is_zero()).then_some(d)),
        }
    };
    let request = limit("request", &t.request);
    let backend_request = limit("backendRequest", &t.backend_request);
    if let (Some(Some(req)), Some(Some(backend))) = (request, backend_request) {
        if backend > req {
            c.report(
                &format!("{base}.backendRequest"),
                format!("must not be longer than request ({})", format_duration(req)),
            );
            return None;
        }
    }
    Some(Timeouts {
        request: request?,
        backend_request: backend_request?,
    })
}

fn retry(c: &mut Checker, base: &str, r: &RouteRetry) -> Option<Retry> {
    c.list_len(&format!("{base}.codes"), r.codes.len(), RETRY_CODES_MAX);
    let mut seen: HashMap<i64, usize> = HashMap::new();
    let mut codes = Vec::with_capacity(r.codes.len());
    for (i, &code) in r.codes.iter().enumerate() {
        let path = format!("{base}.codes[{i}]");
        codes.push(
            c.int(&path, code, 400, 599)
                .and_then(|v| u16::try_from(v).ok()),
        );
        if let Some(first) = seen.get(&code) {
            c.report(&path, format!("duplicate of codes[{first}]"));
        } else {
            seen.insert(code, i);
        }
    }
    let attempts = match r.attempts {
        None => Some(1),
        Some(a) => c.uint(&format!("{base}.attempts"), a, 0, RETRY_ATTEMPTS_MAX),
    };
    let backoff = match &r.backoff {
        None => Some(None),
        Some(b) => c.duration(&format!("{base}.backoff"), b).map(Some),
    };
    Some(Retry {
        codes: all(codes)?,
        attempts: attempts?,
        backoff: backoff?,
    })
}
