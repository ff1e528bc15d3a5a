//! Redirects, rewrites, path modifiers and mirrors.

use super::*;
use crate::model::{Mirror, PathRewrite, Redirect, Rewrite, Scheme};

const F0: &str = "spec.rules[0].filters[0]";

#[test]
fn redirects() {
    let r = |fields: &str| {
        with_filter(&format!(
            "{{type: RequestRedirect, requestRedirect: {fields}}}"
        ))
    };
    assert_eq!(
        first_filter(&r("{}")),
        Filter::Redirect(Redirect {
            scheme: None,
            hostname: None,
            path: None,
            port: None,
            status: 302,
        })
    );
    assert_eq!(
        first_filter(&r(
            "{scheme: https, hostname: www.example.com, port: 8443, statusCode: 308, \
                         path: {type: ReplaceFullPath, replaceFullPath: /new}}"
        )),
        Filter::Redirect(Redirect {
            scheme: Some(Scheme::Https),
            hostname: Some("www.example.com".into()),
            path: Some(PathRewrite::Full("/new".into())),
            port: Some(8443),
            status: 308,
        })
    );
    for code in [301, 302, 303, 307, 308] {
        accept(&r(&format!("{{statusCode: {code}}}")));
    }
    let at = format!("{F0}.requestRedirect");
    refuse(
        &r("{scheme: HTTPS}"),
        &format!("{at}.scheme"),
        "must be http or https",
    );
    refuse(
        &r("{scheme: ftp}"),
        &format!("{at}.scheme"),
        "must be http or https",
    );
    refuse(
        &r("{statusCode: 304}"),
        &format!("{at}.statusCode"),
        "must be one of 301, 302, 303, 307, 308",
    );
    refuse(
        &r("{port: 0}"),
        &format!("{at}.port"),
        "between 1 and 65535",
    );
    refuse(
        &r("{port: 65536}"),
        &format!("{at}.port"),
        "between 1 and 65535",
    );
    refuse(
        &r("{hostname: '*.example.com'}"),
        &format!("{at}.hostname"),
        "not a wildcard",
    );
    refuse(
        &r("{hostname: 10.0.0.1}"),
        &format!("{at}.hostname"),
        "not an IP address",
    );
    refuse(
        &r("{hostname: Example.com}"),
        &format!("{at}.hostname"),
        "lower-case",
    );
}

#[test]
fn rewrites() {
    let w = |fields: &str| with_filter(&format!("{{type: URLRewrite, urlRewrite: {fields}}}"));
    assert_eq!(
        first_filter(&w(
            "{hostname: internal, path: {type: ReplacePrefixMatch, replacePrefixMatch: /v2/}}"
        )),
        Filter::Rewrite(Rewrite {
            hostname: Some("internal".into()),
            path: Some(PathRewrite::Prefix("/v2".into())),
        })
    );
    assert!(matches!(
        first_filter(&w("{path: {type: ReplacePrefixMatch, replacePrefixMatch: ''}}")),
        Filter::Rewrite(Rewrite { path: Some(PathRewrite::Prefix(p)), .. }) if p == "/"
    ));
    refuse(
        &w("{hostname: '*.example.com'}"),
        &format!("{F0}.urlRewrite.hostname"),
        "not a wildcard",
    );
}

#[test]
fn path_modifiers() {
    let w = |path: &str| {
        with_filter(&format!(
            "{{type: URLRewrite, urlRewrite: {{path: {path}}}}}"
        ))
    };
    let at = format!("{F0}.urlRewrite.path");
    refuse(
        &w("{type: ReplaceFullPath}"),
        &format!("{at}.replaceFullPath"),
        "must be set when type is ReplaceFullPath",
    );
    refuse(
        &w("{type: ReplacePrefixMatch}"),
        &format!("{at}.replacePrefixMatch"),
        "must be set when type is ReplacePrefixMatch",
    );
    refuse(
        &w("{type: ReplaceFullPath, replaceFullPath: /a, replacePrefixMatch: /b}"),
        &format!("{at}.replacePrefixMatch"),
        "must not be set when type is ReplaceFullPath",
    );
    refuse(
        &w("{type: ReplaceFullPath, replaceFullPath: relative}"),
        &format!("{at}.replaceFullPath"),
        "must be an absolute path starting with '/'",
    );
    refuse(
        &w("{type: ReplacePrefixMatch, replacePrefixMatch: v2}"),
        &format!("{at}.replacePrefixMatch"),
        "must be an absolute path starting with '/'",
    );
    refuse(
        &w("{type: ReplaceFullPath, replaceFullPath: '/a?b=c'}"),
        &format!("{at}.replaceFullPath"),
        "found '?'",
    );
    refuse(
        &w(&format!(
            "{{type: ReplaceFullPath, replaceFullPath: /{}}}",
            "a".repeat(1024)
        )),
        &format!("{at}.replaceFullPath"),
        "at most 1024",
    );
}

#[test]
fn replace_prefix_match_needs_prefix_matches() {
    let prefix = "{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /new}}}";
    let with = |matches: &str| rule(&format!("{{matches: {matches}, filters: [{prefix}]}}"));
    accept(&with("[]"));
    accept(&with("[{path: {value: /a}}, {path: {type: PathPrefix, value: /b}}, {headers: [{name: x, value: y}]}]"));
    refuse(
        &with("[{path: {value: /a}}, {path: {type: Exact, value: /b}}]"),
        &format!("{F0}.urlRewrite.path.type"),
        "ReplacePrefixMatch needs every match of the rule to be PathPrefix (matches[1] is Exact)",
    );
    let redirect = "{type: RequestRedirect, requestRedirect: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /}}}";
    refuse(
        &rule(&format!("{{matches: [{{path: {{type: RegularExpression, value: /a.*}}}}], filters: [{redirect}]}}")),
        &format!("{F0}.requestRedirect.path.type"),
        "(matches[0] is RegularExpression)",
    );
    refuse(
        &rule(&format!(
            "{{matches: [{{path: {{type: Exact, value: /a}}}}], backendRefs: [{{name: s, filters: [{prefix}]}}]}}"
        )),
        "spec.rules[0].backendRefs[0].filters[0].urlRewrite.path.type",
        "needs every match of the rule to be PathPrefix",
    );
}

#[test]
fn mirrors() {
    let m = |fields: &str| {
        with_filter(&format!(
            "{{type: RequestMirror, requestMirror: {{backendRef: {{name: shadow}}{fields}}}}}"
        ))
    };
    let share = |yaml: &str| match first_filter(yaml) {
        Filter::Mirror(Mirror {
            numerator,
            denominator,
            ..
        }) => (numerator, denominator),
        other => panic!("not a mirror: {other:?}"),
    };
    assert_eq!(share(&m("")), (100, 100));
    assert_eq!(share(&m(", percent: 0")), (0, 100));
    assert_eq!(share(&m(", percent: 25")), (25, 100));
    assert_eq!(share(&m(", fraction: {numerator: 1}")), (1, 100));
    assert_eq!(
        share(&m(", fraction: {numerator: 1, denominator: 3}")),
        (1, 3)
    );
    assert_eq!(
        share(&m(", fraction: {numerator: 3, denominator: 3}")),
        (3, 3)
    );
    assert_eq!(
        first_filter(&with_filter("{type: RequestMirror, requestMirror: {backendRef: {name: shadow, port: 8080, kind: Service, group: ''}}}")),
        Filter::Mirror(Mirror {
            service: crate::model::Name::parse("shadow").expect("name"),
            port: Some(8080),
            numerator: 100,
            denominator: 100,
        })
    );

    let at = format!("{F0}.requestMirror");
    refuse(
        &m(", percent: 101"),
        &format!("{at}.percent"),
        "between 0 and 100",
    );
    refuse(
        &m(", percent: -1"),
        &format!("{at}.percent"),
        "between 0 and 100",
    );
    refuse(
        &m(", fraction: {numerator: -1}"),
        &format!("{at}.fraction.numerator"),
        "between 0 and 2147483647",
    );
    refuse(
        &m(", fraction: {numerator: 0, denominator: 0}"),
        &format!("{at}.fraction.denominator"),
        "between 1 and 2147483647",
    );
    refuse(
        &m(", fraction: {numerator: 4, denominator: 3}"),
        &format!("{at}.fraction.numerator"),
        "must not be greater than the denominator (3)",
    );
    refuse(
        &m(", fraction: {numerator: 101}"),
        &format!("{at}.fraction.numerator"),
        "must not be greater than the denominator (100)",
    );
    refuse(
        &m(", percent: 10, fraction: {numerator: 1}"),
        &format!("{at}.fraction"),
        "must not be set together with percent",
    );
    let b = |r: &str| {
        with_filter(&format!(
            "{{type: RequestMirror, requestMirror: {{backendRef: {r}}}}}"
        ))
    };
    refuse(
        &b("{name: Shadow}"),
        &format!("{at}.backendRef.name"),
        "found 'S'",
    );
    refuse(
        &b("{name: s, port: 0}"),
        &format!("{at}.backendRef.port"),
        "between 1 and 65535",
    );
    refuse(
        &b("{name: s, namespace: prod}"),
        &format!("{at}.backendRef.namespace"),
        "no namespaces",
    );
    refuse(
        &b("{name: s, kind: ServiceImport}"),
        &format!("{at}.backendRef.kind"),
        "must be Service",
    );
    refuse(
        &b("{name: s, group: multicluster.x-k8s.io}"),
        &format!("{at}.backendRef.group"),
        "must be empty",
    );
}
