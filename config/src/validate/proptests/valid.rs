//! Strategies for valid documents: every value within its rules, and the
//! combinations a rule forbids avoided (unique names, no backends beside a
//! redirect, `ReplacePrefixMatch` only with `PathPrefix` matches...).

use crate::duration::format_duration;
use crate::spec::*;
use proptest::collection::{btree_map, btree_set, vec};
use proptest::option;
use proptest::prelude::*;
use proptest::sample::select;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

// ---------------------------------------------------------------- values

fn name() -> impl Strategy<Value = String> {
    "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
}

/// A precise hostname: 1..=4 labels, the last starting with a letter.
fn precise_hostname() -> impl Strategy<Value = String> {
    (
        vec("[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", 0..3),
        "[a-z]([a-z0-9-]{0,10}[a-z0-9])?",
    )
        .prop_map(|(mut labels, last)| {
            labels.push(last);
            labels.join(".")
        })
}

fn route_hostname() -> impl Strategy<Value = String> {
    (any::<bool>(), precise_hostname())
        .prop_map(|(wild, h)| if wild { format!("*.{h}") } else { h })
}

/// An absolute path of valid segments (never `.` or `..`), maybe with a
/// trailing `/`.
fn plain_path() -> impl Strategy<Value = String> {
    let segment = "([A-Za-z0-9_~!$&'()*+,;=:@-]|%[0-9A-E]{2})([A-Za-z0-9._~!$&'()*+,;=:@-]|%[0-9A-E]{2}){0,8}";
    (vec(segment, 0..4), any::<bool>()).prop_map(|(segments, trailing)| {
        let mut p = segments.iter().map(|s| format!("/{s}")).collect::<String>();
        if p.is_empty() || trailing {
            p.push('/');
        }
        p
    })
}

fn regex() -> impl Strategy<Value = String> {
    select(vec![
        "/api/v[0-9]+(/.*)?",
        ".*\\.(png|jpe?g)",
        "[a-z]+",
        "(?i)canary|beta",
        "\\d{1,4}",
        "(foo|bar)/[^/]+",
        "x*",
    ])
    .prop_map(str::to_owned)
}

fn header_name() -> impl Strategy<Value = String> {
    "[A-Za-z0-9][A-Za-z0-9!#$%&'*+.^_`|~-]{0,20}"
}

/// A header name safe to modify (the `x-` prefix keeps clear of framing and
/// hop-by-hop headers).
fn edited_header_name() -> impl Strategy<Value = String> {
    "x-[a-z0-9!#$%&'*+.^_`|~-]{1,12}"
}

fn header_value() -> impl Strategy<Value = String> {
    "[ -~\t]{0,20}[!-~]"
}

/// A non-zero duration, in any of its GEP-2257 spellings' shortest form.
fn duration() -> impl Strategy<Value = String> {
    (1u64..(99_999 * 3_600_000)).prop_map(|ms| format_duration(Duration::from_millis(ms)))
}

fn duration_or_zero() -> impl Strategy<Value = String> {
    prop_oneof![1 => Just("0s".to_owned()), 4 => duration()]
}

fn port() -> impl Strategy<Value = i64> {
    1i64..=65535
}

// --------------------------------------------------------------- kinds

fn service() -> impl Strategy<Value = Document> {
    let protocol = select(vec![Protocol::Http, Protocol::Http2, Protocol::Grpc]);
    let lb = select(vec![
        LoadBalancer::RoundRobin,
        LoadBalancer::LeastRequest,
        LoadBalancer::RingHash,
    ]);
    (
        name(),
        protocol,
        lb,
        option::of(duration()),
        option::of(header_name()),
    )
        .prop_map(
            |(name, protocol, load_balancer, connect_timeout, hash_header)| {
                Document::Service(ServiceDoc {
                    name,
                    spec: ServiceSpec {
                        protocol,
                        load_balancer,
                        connect_timeout,
                        hash_header: hash_header
                            .filter(|_| load_balancer == LoadBalancer::RingHash),
                    },
                })
            },
        )
}

fn address() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<Ipv4Addr>().prop_map(IpAddr::V4),
        any::<Ipv6Addr>().prop_map(IpAddr::V6),
    ]
    .prop_filter("connectable", |ip| {
        !ip.is_unspecified() && !ip.is_multicast() && *ip != IpAddr::V4(Ipv4Addr::BROADCAST)
    })
    .prop_map(|ip| ip.to_string())
}

fn labels() -> impl Strategy<Value = BTreeMap<String, String>> {
    let k8s_name = "[A-Za-z0-9]([A-Za-z0-9._-]{0,20}[A-Za-z0-9])?";
    let key = (option::of(precise_hostname()), k8s_name).prop_map(|(prefix, name)| match prefix {
        Some(p) => format!("{p}/{name}"),
        None => name,
    });
    let value = prop_oneof![Just(String::new()), k8s_name.prop_map(|s: String| s)];
    btree_map(key, value, 0..4)
}

fn endpoint() -> impl Strategy<Value = Document> {
    let zone = option::of("[A-Za-z0-9]([A-Za-z0-9._-]{0,20}[A-Za-z0-9])?");
    (
        name(),
        name(),
        address(),
        port(),
        option::of(0i64..=10_000),
        zone,
        labels(),
    )
        .prop_map(|(name, service, address, port, weight, zone, labels)| {
            Document::Endpoint(EndpointDoc {
                name,
                spec: EndpointSpec {
                    service,
                    address,
                    port,
                    weight,
                    zone,
                    labels,
                },
            })
        })
}

fn value_match() -> impl Strategy<Value = (ValueMatchType, String)> {
    prop_oneof![
        header_value().prop_map(|v| (ValueMatchType::Exact, v)),
        regex().prop_map(|r| (ValueMatchType::RegularExpression, r)),
    ]
}

fn route_match() -> impl Strategy<Value = RouteMatch> {
    let path = prop_oneof![
        plain_path().prop_map(|value| PathMatch {
            kind: PathMatchType::PathPrefix,
            value
        }),
        plain_path().prop_map(|value| PathMatch {
            kind: PathMatchType::Exact,
            value
        }),
        regex().prop_map(|value| PathMatch {
            kind: PathMatchType::RegularExpression,
            value
        }),
    ];
    let method = select(vec![
        HttpMethod::Get,
        HttpMethod::Post,
        HttpMethod::Delete,
        HttpMethod::Patch,
    ]);
    // Keys are the lower-case names, so names are unique ignoring case.
    let headers = btree_map("[a-z0-9][a-z0-9!#$%&'*+.^_`|~-]{0,12}", value_match(), 0..4);
    let queries = btree_map("[A-Za-z0-9_.~-]{1,12}", value_match(), 0..4);
    (option::of(path), headers, queries, option::of(method)).prop_map(
        |(path, headers, queries, method)| RouteMatch {
            path,
            headers: headers
                .into_iter()
                .map(|(name, (kind, value))| HeaderMatch {
                    kind,
                    name: name.to_ascii_uppercase(),
                    value,
                })
                .collect(),
            query_params: queries
                .into_iter()
                .map(|(name, (kind, value))| QueryParamMatch { kind, name, value })
                .collect(),
            method,
        },
    )
}

fn header_modifier() -> impl Strategy<Value = HeaderModifier> {
    btree_map(edited_header_name(), (0..3usize, header_value()), 0..6).prop_map(|names| {
        let mut m = HeaderModifier::default();
        for (name, (list, value)) in names {
            match list {
                0 => m.set.push(HttpHeader { name, value }),
                1 => m.add.push(HttpHeader { name, value }),
                _ => m.remove.push(name),
            }
        }
        m
    })
}

fn path_modifier() -> impl Strategy<Value = PathModifier> {
    prop_oneof![
        plain_path().prop_map(|p| PathModifier {
            kind: PathModifierType::ReplaceFullPath,
            replace_full_path: Some(p),
            replace_prefix_match: None,
        }),
        prop_oneof![Just(String::new()), plain_path()].prop_map(|p| PathModifier {
            kind: PathModifierType::ReplacePrefixMatch,
            replace_full_path: None,
            replace_prefix_match: Some(p),
        }),
    ]
}

fn filter(kind: FilterType) -> RouteFilter {
    RouteFilter {
        kind,
        request_header_modifier: None,
        response_header_modifier: None,
        request_redirect: None,
        url_rewrite: None,
        request_mirror: None,
        extension_ref: None,
    }
}

fn redirect() -> impl Strategy<Value = RouteFilter> {
    let scheme = option::of(select(vec!["http".to_owned(), "https".to_owned()]));
    let status = option::of(select(vec![301i64, 302, 303, 307, 308]));
    (
        scheme,
        option::of(precise_hostname()),
        option::of(path_modifier()),
        option::of(port()),
        status,
    )
        .prop_map(|(scheme, hostname, path, port, status_code)| RouteFilter {
            request_redirect: Some(RequestRedirect {
                scheme,
                hostname,
                path,
                port,
                status_code,
            }),
            ..filter(FilterType::RequestRedirect)
        })
}

fn rewrite() -> impl Strategy<Value = RouteFilter> {
    (option::of(precise_hostname()), option::of(path_modifier())).prop_map(|(hostname, path)| {
        RouteFilter {
            url_rewrite: Some(UrlRewrite { hostname, path }),
            ..filter(FilterType::UrlRewrite)
        }
    })
}

fn mirror() -> impl Strategy<Value = RouteFilter> {
    let share = prop_oneof![
        Just((None, None)),
        (0i64..=100).prop_map(|p| (Some(p), None)),
        (1i64..=1000, any::<bool>()).prop_flat_map(|(d, default)| {
            let d = if default { 100 } else { d };
            (0..=d).prop_map(move |n| {
                let denominator = (!default).then_some(d);
                (
                    None,
                    Some(Fraction {
                        numerator: n,
                        denominator,
                    }),
                )
            })
        }),
    ];
    (
        name(),
        option::of(port()),
        option::of(select(vec!["", "Service"])),
        share,
    )
        .prop_map(|(name, port, kind, (percent, fraction))| RouteFilter {
            request_mirror: Some(RequestMirror {
                backend_ref: BackendObjectReference {
                    name,
                    group: kind.map(|_| String::new()),
                    kind: kind.filter(|k| !k.is_empty()).map(str::to_owned),
                    namespace: None,
                    port,
                },
                percent,
                fraction,
            }),
            ..filter(FilterType::RequestMirror)
        })
}

/// A valid filter list; `redirect` allows a RequestRedirect in it.
fn filters(allow_redirect: bool) -> impl Strategy<Value = Vec<RouteFilter>> {
    let request_headers = header_modifier().prop_map(|m| RouteFilter {
        request_header_modifier: Some(m),
        ..filter(FilterType::RequestHeaderModifier)
    });
    let response_headers = header_modifier().prop_map(|m| RouteFilter {
        response_header_modifier: Some(m),
        ..filter(FilterType::ResponseHeaderModifier)
    });
    let redirect_or_rewrite = if allow_redirect {
        prop_oneof![
            Just(None),
            redirect().prop_map(Some),
            rewrite().prop_map(Some)
        ]
        .boxed()
    } else {
        prop_oneof![Just(None), rewrite().prop_map(Some)].boxed()
    };
    (
        option::of(request_headers),
        option::of(response_headers),
        redirect_or_rewrite,
        vec(mirror(), 0..3),
    )
        .prop_map(|(a, b, c, mirrors)| {
            a.into_iter()
                .chain(b)
                .chain(c)
                .chain(mirrors)
                .collect::<Vec<_>>()
        })
        .prop_shuffle()
}

fn backend_ref() -> impl Strategy<Value = BackendRef> {
    (
        name(),
        option::of(port()),
        option::of(0i64..=1_000_000),
        any::<bool>(),
        filters(false),
    )
        .prop_map(|(name, port, weight, explicit, filters)| BackendRef {
            name,
            group: explicit.then(String::new),
            kind: explicit.then(|| "Service".to_owned()),
            namespace: None,
            port,
            weight,
            filters,
        })
}

fn timeouts() -> impl Strategy<Value = RouteTimeouts> {
    (
        option::of(duration_or_zero()),
        option::of(duration_or_zero()),
    )
        .prop_map(|(request, backend_request)| {
            let parse = |s: &Option<String>| {
                s.as_deref()
                    .and_then(|s| crate::duration::parse_duration(s).ok())
            };
            match (parse(&request), parse(&backend_request)) {
                // Keep backendRequest within request when both are enabled.
                (Some(r), Some(b)) if !r.is_zero() && b > r => RouteTimeouts {
                    request: backend_request,
                    backend_request: request,
                },
                _ => RouteTimeouts {
                    request,
                    backend_request,
                },
            }
        })
}

fn retry() -> impl Strategy<Value = RouteRetry> {
    (
        btree_set(400i64..=599, 0..5),
        option::of(0i64..=10),
        option::of(duration_or_zero()),
    )
        .prop_map(|(codes, attempts, backoff)| RouteRetry {
            codes: codes.into_iter().collect(),
            attempts,
            backoff,
        })
}

fn rule() -> impl Strategy<Value = RouteRule> {
    (
        vec(route_match(), 0..3),
        filters(true),
        vec(backend_ref(), 0..4),
        option::of(timeouts()),
        option::of(retry()),
    )
        .prop_map(
            |(matches, mut filters, mut backend_refs, timeouts, retry)| {
                // No two backends with the same name and port.
                let mut seen = std::collections::HashSet::new();
                backend_refs.retain(|b| seen.insert((b.name.clone(), b.port)));
                // A redirect answers without a backend.
                if filters
                    .iter()
                    .any(|f| f.kind == FilterType::RequestRedirect)
                {
                    backend_refs.clear();
                }
                // ReplacePrefixMatch needs PathPrefix matches only.
                let all_prefix = matches.iter().all(|m| {
                    m.path
                        .as_ref()
                        .is_none_or(|p| p.kind == PathMatchType::PathPrefix)
                });
                if !all_prefix {
                    let fix = |p: &mut PathModifier| {
                        if p.kind == PathModifierType::ReplacePrefixMatch {
                            p.kind = PathModifierType::ReplaceFullPath;
                            p.replace_full_path = Some("/".to_owned());
                            p.replace_prefix_match = None;
                        }
                    };
                    let all_filters = filters
                        .iter_mut()
                        .chain(backend_refs.iter_mut().flat_map(|b| b.filters.iter_mut()));
                    for f in all_filters {
                        f.request_redirect
                            .iter_mut()
                            .filter_map(|r| r.path.as_mut())
                            .for_each(fix);
                        f.url_rewrite
                            .iter_mut()
                            .filter_map(|r| r.path.as_mut())
                            .for_each(fix);
                    }
                }
                RouteRule {
                    name: None,
                    matches,
                    filters,
                    backend_refs,
                    timeouts,
                    retry,
                }
            },
        )
}

fn route() -> impl Strategy<Value = Document> {
    (
        name(),
        btree_set(route_hostname(), 0..4),
        vec((rule(), any::<bool>()), 0..4),
    )
        .prop_map(|(name, hostnames, rules)| {
            let rules = rules
                .into_iter()
                .enumerate()
                .map(|(i, (rule, named))| RouteRule {
                    name: named.then(|| format!("rule-{i}")),
                    ..rule
                })
                .collect();
            Document::Route(RouteDoc {
                name,
                spec: RouteSpec {
                    hostnames: hostnames.into_iter().collect(),
                    rules,
                },
            })
        })
}

pub(super) fn valid_document() -> impl Strategy<Value = Document> {
    prop_oneof![service(), endpoint(), route()]
}
