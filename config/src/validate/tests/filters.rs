//! Filters: type/field agreement, repeats and combinations, header
//! modifiers, redirects, rewrites, path modifiers, mirrors.

use super::*;
use crate::model::{HeaderEdits, HeaderName, Mirror, PathRewrite, Redirect, Rewrite, Scheme};

const F0: &str = "spec.rules[0].filters[0]";
const F1: &str = "spec.rules[0].filters[1]";

fn hn(s: &str) -> HeaderName {
    HeaderName::parse(s).expect("header name")
}

/// A route whose one rule has these filters (YAML flow list items).
fn filter_list(list: &str) -> String {
    rule(&format!("{{filters: [{list}]}}"))
}

const REQ_HEADERS: &str =
    "{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: x-a, value: '1'}]}}";
const RESP_HEADERS: &str =
    "{type: ResponseHeaderModifier, responseHeaderModifier: {remove: [x-b]}}";
const REDIRECT: &str = "{type: RequestRedirect, requestRedirect: {scheme: https}}";
const REWRITE: &str = "{type: URLRewrite, urlRewrite: {hostname: internal.example.com}}";
const MIRROR: &str = "{type: RequestMirror, requestMirror: {backendRef: {name: shadow}}}";

#[test]
fn type_names_the_one_field_set() {
    refuse(
        &with_filter("{type: RequestRedirect}"),
        &format!("{F0}.requestRedirect"),
        "must be set when type is RequestRedirect",
    );
    let p = problems(&with_filter(
        "{type: RequestHeaderModifier, urlRewrite: {}}",
    ));
    let got: Vec<(&str, &str)> = p
        .iter()
        .map(|p| (p.path.as_str(), p.reason.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "spec.rules[0].filters[0].urlRewrite",
                "must not be set when type is RequestHeaderModifier"
            ),
            (
                "spec.rules[0].filters[0].requestHeaderModifier",
                "must be set when type is RequestHeaderModifier"
            ),
        ]
    );
    refuse(
        &with_filter("{type: RequestMirror, requestMirror: {backendRef: {name: s}}, requestHeaderModifier: {}}"),
        &format!("{F0}.requestHeaderModifier"),
        "must not be set when type is RequestMirror",
    );
    accept(&filter_list(
        &[REQ_HEADERS, RESP_HEADERS, REWRITE, MIRROR, MIRROR].join(", "),
    ));
}

#[test]
fn extension_refs_are_unsupported() {
    refuse(
        &with_filter(
            "{type: ExtensionRef, extensionRef: {group: example.com, kind: Auth, name: a}}",
        ),
        &format!("{F0}.type"),
        "ExtensionRef filters are not supported",
    );
    refuse(
        &with_filter(&format!(
            "{{type: RequestMirror, requestMirror: {{backendRef: {{name: s}}}}, extensionRef: {{group: g, kind: k, name: n}}}}"
        )),
        &format!("{F0}.extensionRef"),
        "must not be set when type is RequestMirror",
    );
}

#[test]
fn filters_that_may_appear_once() {
    for f in [REQ_HEADERS, RESP_HEADERS, REDIRECT, REWRITE] {
        let kind = f
            .split(',')
            .next()
            .unwrap_or_default()
            .trim_start_matches("{type: ");
        refuse(
            &filter_list(&format!("{f}, {f}")),
            &format!("{F1}.type"),
            &format!("{kind} may appear only once in a filter list (also filters[0])"),
        );
    }
    let sixteen = items(16, |_| MIRROR.to_owned());
    assert_eq!(first_rule(&filter_list(&sixteen)).filters.len(), 16);
    refuse(
        &filter_list(&items(17, |_| MIRROR.to_owned())),
        "spec.rules[0].filters",
        "at most 16 entries (has 17)",
    );
}

#[test]
fn redirect_and_rewrite_exclude_each_other() {
    refuse(
        &filter_list(&format!("{REDIRECT}, {REWRITE}")),
        &format!("{F1}.type"),
        "RequestRedirect and URLRewrite cannot be used together (filters[0])",
    );
    refuse(
        &filter_list(&format!("{REWRITE}, {REDIRECT}")),
        &format!("{F1}.type"),
        "cannot be used together",
    );
}

#[test]
fn redirect_rules_have_no_backends() {
    accept(&filter_list(&format!("{REDIRECT}, {RESP_HEADERS}")));
    refuse(
        &rule(&format!(
            "{{filters: [{REDIRECT}], backendRefs: [{{name: orders}}]}}"
        )),
        "spec.rules[0].backendRefs",
        "must be empty when the rule has a RequestRedirect filter (filters[0])",
    );
}

#[test]
fn header_modifiers() {
    let f = first_filter(&with_filter(
        "{type: RequestHeaderModifier, requestHeaderModifier: \
         {set: [{name: X-A, value: '1'}], add: [{name: x-b, value: 'a, b'}], remove: [X-C]}}",
    ));
    assert_eq!(
        f,
        Filter::RequestHeaders(HeaderEdits {
            set: vec![(hn("x-a"), "1".into())],
            add: vec![(hn("x-b"), "a, b".into())],
            remove: vec![hn("x-c")],
        })
    );
    let m = |edits: &str| {
        with_filter(&format!(
            "{{type: ResponseHeaderModifier, responseHeaderModifier: {edits}}}"
        ))
    };
    let at = format!("{F0}.responseHeaderModifier");
    assert!(
        matches!(first_filter(&m("{}")), Filter::ResponseHeaders(e) if e == HeaderEdits::default())
    );
    refuse(
        &m("{set: [{name: x-a, value: '1'}], add: [{name: X-A, value: '2'}]}"),
        &format!("{at}.add[0].name"),
        "x-a already has an action at set[0]",
    );
    refuse(
        &m("{add: [{name: x-a, value: '1'}], remove: [x-b, x-A]}"),
        &format!("{at}.remove[1]"),
        "x-a already has an action at add[0]",
    );
    refuse(
        &m("{set: [{name: x-a, value: '1'}, {name: x-a, value: '2'}]}"),
        &format!("{at}.set[1].name"),
        "already has an action at set[0]",
    );
    refuse(
        &m("{set: [{name: 'x a', value: '1'}]}"),
        &format!("{at}.set[0].name"),
        "found ' '",
    );
    refuse(
        &m("{remove: ['']}"),
        &format!("{at}.remove[0]"),
        "must not be empty",
    );
    refuse(
        &m("{set: [{name: x-a, value: ''}]}"),
        &format!("{at}.set[0].value"),
        "must not be empty",
    );
    refuse(
        &m("{add: [{name: x-a, value: \"1\\nx-b: 2\"}]}"),
        &format!("{at}.add[0].value"),
        "CR, LF or NUL",
    );
    refuse(
        &m(&format!(
            "{{add: [{{name: x-a, value: {}}}]}}",
            "v".repeat(4097)
        )),
        &format!("{at}.add[0].value"),
        "at most 4096",
    );
    refuse(
        &m("{set: [{name: Content-Length, value: '0'}]}"),
        &format!("{at}.set[0].name"),
        "content-length cannot be modified",
    );
    refuse(
        &m("{remove: [transfer-encoding]}"),
        &format!("{at}.remove[0]"),
        "cannot be modified",
    );
    for list in ["set", "add"] {
        let many = items(17, |i| format!("{{name: x-{i}, value: v}}"));
        refuse(
            &m(&format!("{{{list}: [{many}]}}")),
            &format!("{at}.{list}"),
            "at most 16 entries (has 17)",
        );
    }
    let many = items(17, |i| format!("x-{i}"));
    refuse(
        &m(&format!("{{remove: [{many}]}}")),
        &format!("{at}.remove"),
        "at most 16 entries (has 17)",
    );
}

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
