//! Strategies for arbitrary documents: every string and number field of
//! every kind filled with anything (empty, control characters, non-ASCII,
//! long, out of range), for the never-panics property.

use crate::spec::*;
use proptest::collection::{btree_map, vec};
use proptest::option;
use proptest::prelude::*;
use proptest::sample::select;

// ------------------------------------------------------ arbitrary input

/// Any string: often empty, short, with control and non-ASCII characters.
fn s() -> BoxedStrategy<String> {
    prop_oneof![
        Just(String::new()),
        "[ -~]{0,12}",
        "\\PC{0,12}",
        "[\\x00-\\x20/.%*:\\[\\]()a-zA-Z0-9]{0,16}",
        ".{0,300}",
    ]
    .boxed()
}

fn os() -> BoxedStrategy<Option<String>> {
    option::of(s()).boxed()
}

/// Any integer, often near the interesting bounds.
fn n() -> BoxedStrategy<i64> {
    prop_oneof![-2i64..=1100, any::<i64>(), 65530i64..=65540].boxed()
}

fn on() -> BoxedStrategy<Option<i64>> {
    option::of(n()).boxed()
}

fn any_object_ref() -> impl Strategy<Value = BackendObjectReference> {
    (s(), os(), os(), os(), on()).prop_map(|(name, group, kind, namespace, port)| {
        BackendObjectReference {
            name,
            group,
            kind,
            namespace,
            port,
        }
    })
}

fn any_modifier() -> impl Strategy<Value = HeaderModifier> {
    let header = (s(), s()).prop_map(|(name, value)| HttpHeader { name, value });
    (vec(header.clone(), 0..3), vec(header, 0..3), vec(s(), 0..3))
        .prop_map(|(set, add, remove)| HeaderModifier { set, add, remove })
}

fn any_path_modifier() -> impl Strategy<Value = PathModifier> {
    let kind = select(vec![
        PathModifierType::ReplaceFullPath,
        PathModifierType::ReplacePrefixMatch,
    ]);
    (kind, os(), os()).prop_map(
        |(kind, replace_full_path, replace_prefix_match)| PathModifier {
            kind,
            replace_full_path,
            replace_prefix_match,
        },
    )
}

fn any_filter() -> impl Strategy<Value = RouteFilter> {
    let kind = select(vec![
        FilterType::RequestHeaderModifier,
        FilterType::ResponseHeaderModifier,
        FilterType::RequestRedirect,
        FilterType::UrlRewrite,
        FilterType::RequestMirror,
        FilterType::ExtensionRef,
    ]);
    let redirect = (os(), os(), option::of(any_path_modifier()), on(), on()).prop_map(
        |(scheme, hostname, path, port, status_code)| RequestRedirect {
            scheme,
            hostname,
            path,
            port,
            status_code,
        },
    );
    let rewrite = (os(), option::of(any_path_modifier()))
        .prop_map(|(hostname, path)| UrlRewrite { hostname, path });
    let fraction = (n(), on()).prop_map(|(numerator, denominator)| Fraction {
        numerator,
        denominator,
    });
    let mirror = (any_object_ref(), on(), option::of(fraction)).prop_map(
        |(backend_ref, percent, fraction)| RequestMirror {
            backend_ref,
            percent,
            fraction,
        },
    );
    let extension =
        (s(), s(), s()).prop_map(|(group, kind, name)| LocalObjectReference { group, kind, name });
    (
        kind,
        option::of(any_modifier()),
        option::of(any_modifier()),
        option::of(redirect),
        option::of(rewrite),
        option::of(mirror),
        option::of(extension),
    )
        .prop_map(
            |(kind, req, resp, redirect, rewrite, mirror, extension)| RouteFilter {
                kind,
                request_header_modifier: req,
                response_header_modifier: resp,
                request_redirect: redirect,
                url_rewrite: rewrite,
                request_mirror: mirror,
                extension_ref: extension,
            },
        )
}

fn any_route() -> impl Strategy<Value = Document> {
    let value_kind = || {
        select(vec![
            ValueMatchType::Exact,
            ValueMatchType::RegularExpression,
        ])
    };
    let path_kind = select(vec![
        PathMatchType::Exact,
        PathMatchType::PathPrefix,
        PathMatchType::RegularExpression,
    ]);
    let path = (path_kind, s()).prop_map(|(kind, value)| PathMatch { kind, value });
    let header =
        (value_kind(), s(), s()).prop_map(|(kind, name, value)| HeaderMatch { kind, name, value });
    let query = (value_kind(), s(), s()).prop_map(|(kind, name, value)| QueryParamMatch {
        kind,
        name,
        value,
    });
    let m = (option::of(path), vec(header, 0..3), vec(query, 0..3)).prop_map(
        |(path, headers, query_params)| RouteMatch {
            path,
            headers,
            query_params,
            method: None,
        },
    );
    let backend =
        (any_object_ref(), on(), vec(any_filter(), 0..2)).prop_map(|(r, weight, filters)| {
            BackendRef {
                name: r.name,
                group: r.group,
                kind: r.kind,
                namespace: r.namespace,
                port: r.port,
                weight,
                filters,
            }
        });
    let timeouts = (os(), os()).prop_map(|(request, backend_request)| RouteTimeouts {
        request,
        backend_request,
    });
    let retry = (vec(n(), 0..3), on(), os()).prop_map(|(codes, attempts, backoff)| RouteRetry {
        codes,
        attempts,
        backoff,
    });
    let rule = (
        os(),
        vec(m, 0..3),
        vec(any_filter(), 0..3),
        vec(backend, 0..3),
        option::of(timeouts),
        option::of(retry),
    )
        .prop_map(
            |(name, matches, filters, backend_refs, timeouts, retry)| RouteRule {
                name,
                matches,
                filters,
                backend_refs,
                timeouts,
                retry,
            },
        );
    (s(), vec(s(), 0..4), vec(rule, 0..3)).prop_map(|(name, hostnames, rules)| {
        Document::Route(RouteDoc {
            name,
            spec: RouteSpec { hostnames, rules },
        })
    })
}

pub(super) fn any_document() -> impl Strategy<Value = Document> {
    let service = (s(), os(), os()).prop_map(|(name, connect_timeout, hash_header)| {
        Document::Service(ServiceDoc {
            name,
            spec: ServiceSpec {
                load_balancer: LoadBalancer::RingHash,
                connect_timeout,
                hash_header,
                ..ServiceSpec::default()
            },
        })
    });
    let endpoint = (s(), s(), s(), n(), on(), os(), btree_map(s(), s(), 0..3)).prop_map(
        |(name, service, address, port, weight, zone, labels)| {
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
        },
    );
    prop_oneof![service, endpoint, any_route()]
}
