//! Filters: type/field agreement, repeats and combinations, and header
//! modifiers (redirects, rewrites and mirrors are in `redirects`).

use super::*;
use crate::model::{HeaderEdits, HeaderName};

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
        &with_filter(
            "{type: RequestMirror, requestMirror: {backendRef: {name: s}}, \
             extensionRef: {group: g, kind: k, name: n}}",
        ),
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
