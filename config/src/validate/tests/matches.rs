//! Matches: paths, headers, query parameters, methods.

use super::*;
use crate::model::{HeaderMatch, HeaderName, PathMatch, ValueMatch};
use crate::spec::HttpMethod;

const PATH: &str = "spec.rules[0].matches[0].path.value";

#[test]
fn default_match_and_path() {
    assert_eq!(first_match(&rule("{}")).path, PathMatch::Prefix("/".into()));
    assert_eq!(
        first_match(&with_match("{}")).path,
        PathMatch::Prefix("/".into())
    );
    assert_eq!(
        first_match(&with_match("{path: {}}")).path,
        PathMatch::Prefix("/".into())
    );
    assert_eq!(
        first_match(&with_match("{path: {value: /v2/}}")).path,
        PathMatch::Prefix("/v2".into())
    );
    assert_eq!(
        first_match(&with_match("{path: {type: Exact, value: /v2/}}")).path,
        PathMatch::Exact("/v2/".into())
    );
    let m = first_match(&with_match("{method: PATCH}"));
    assert_eq!(m.method, Some(HttpMethod::Patch));
}

#[test]
fn plain_path_values() {
    let cases = [
        ("no-slash", "must be an absolute path starting with '/'"),
        ("''", "must be an absolute path starting with '/'"),
        ("/a//b", "must not contain '//'"),
        ("/a/./b", "must not contain '/./'"),
        ("/a/../b", "must not contain '/../'"),
        ("/a%2fb", "must not contain '%2f'"),
        ("/a%2Fb", "must not contain '%2F'"),
        ("'/a#b'", "must not contain '#'"),
        ("/a/..", "must not end with '/..'"),
        ("/a/.", "must not end with '/.'"),
        ("'/a b'", "found ' '"),
        ("/a?b=1", "found '?'"),
        ("/a%zz", "%XX escapes"),
    ];
    for kind in ["Exact", "PathPrefix"] {
        for (value, fragment) in cases {
            refuse(
                &with_match(&format!("{{path: {{type: {kind}, value: {value}}}}}")),
                PATH,
                fragment,
            );
        }
        let long = format!("/{}", "a".repeat(1024));
        refuse(
            &with_match(&format!("{{path: {{type: {kind}, value: {long}}}}}")),
            PATH,
            "at most 1024",
        );
        accept(&with_match(&format!(
            "{{path: {{type: {kind}, value: '/a-b_c.d~e/%20/x:y@z'}}}}"
        )));
    }
}

#[test]
fn regex_path_values() {
    let m = first_match(&with_match(
        r"{path: {type: RegularExpression, value: '/api/v[0-9]+(/.*)?'}}",
    ));
    let PathMatch::Regex(p) = m.path else {
        panic!("not a regex")
    };
    assert!(p.is_match("/api/v2/orders") && !p.is_match("/x/api/v2"));
    accept(&with_match(
        r"{path: {type: RegularExpression, value: '.*\.png'}}",
    ));
    refuse(
        &with_match("{path: {type: RegularExpression, value: '/a(b'}}"),
        PATH,
        "is not a valid regular expression: unclosed group",
    );
    refuse(
        &with_match("{path: {type: RegularExpression, value: ''}}"),
        PATH,
        "must not be empty",
    );
    let long = "a".repeat(1025);
    refuse(
        &with_match(&format!(
            "{{path: {{type: RegularExpression, value: {long}}}}}"
        )),
        PATH,
        "at most 1024",
    );
}

#[test]
fn header_matches() {
    let m = first_match(&with_match(
        "{headers: [{name: X-Canary, value: 'true'}, {type: RegularExpression, name: x-user, value: 'a.*'}]}",
    ));
    assert_eq!(
        m.headers[0],
        HeaderMatch {
            name: HeaderName::parse("x-canary").expect("name"),
            value: ValueMatch::Exact("true".into()),
        }
    );
    assert!(
        matches!(&m.headers[1].value, ValueMatch::Regex(p) if p.is_match("abc") && !p.is_match("xa"))
    );

    let h = |header: &str| with_match(&format!("{{headers: [{{name: x-a, value: v}}, {header}]}}"));
    let at = "spec.rules[0].matches[0].headers[1]";
    refuse(
        &h("{name: 'x a', value: v}"),
        &format!("{at}.name"),
        "found ' '",
    );
    refuse(
        &h("{name: ':path', value: v}"),
        &format!("{at}.name"),
        "pseudo-header",
    );
    refuse(
        &h(&format!("{{name: {}, value: v}}", "a".repeat(257))),
        &format!("{at}.name"),
        "at most 256",
    );
    refuse(
        &h("{name: X-A, value: w}"),
        &format!("{at}.name"),
        "duplicate of headers[0]",
    );
    refuse(
        &h("{name: x-b, value: ''}"),
        &format!("{at}.value"),
        "must not be empty",
    );
    refuse(
        &h("{name: x-b, value: \"a\\r\\nx-evil: 1\"}"),
        &format!("{at}.value"),
        "CR, LF or NUL",
    );
    refuse(
        &h(&format!("{{name: x-b, value: {}}}", "v".repeat(4097))),
        &format!("{at}.value"),
        "at most 4096",
    );
    refuse(
        &h("{type: RegularExpression, name: x-b, value: '['}"),
        &format!("{at}.value"),
        "is not a valid regular expression",
    );
    accept(&h(&format!("{{name: x-b, value: {}}}", "v".repeat(4096))));
    let many = items(17, |i| format!("{{name: x-{i}, value: v}}"));
    refuse(
        &with_match(&format!("{{headers: [{many}]}}")),
        "spec.rules[0].matches[0].headers",
        "at most 16 entries (has 17)",
    );
}

#[test]
fn query_param_matches() {
    let m = first_match(&with_match(
        "{queryParams: [{name: page, value: '1'}, {name: Page, value: '2'}]}",
    ));
    assert_eq!(m.query_params.len(), 2);
    assert_eq!(m.query_params[1].name, "Page");

    let q = |param: &str| {
        with_match(&format!(
            "{{queryParams: [{{name: a, value: v}}, {param}]}}"
        ))
    };
    let at = "spec.rules[0].matches[0].queryParams[1]";
    refuse(
        &q("{name: '', value: v}"),
        &format!("{at}.name"),
        "must not be empty",
    );
    refuse(
        &q("{name: 'a[b]', value: v}"),
        &format!("{at}.name"),
        "found '['",
    );
    refuse(
        &q(&format!("{{name: {}, value: v}}", "a".repeat(257))),
        &format!("{at}.name"),
        "at most 256",
    );
    refuse(
        &q("{name: a, value: w}"),
        &format!("{at}.name"),
        "duplicate of queryParams[0]",
    );
    refuse(
        &q("{name: b, value: ''}"),
        &format!("{at}.value"),
        "must not be empty",
    );
    refuse(
        &q(&format!("{{name: b, value: {}}}", "v".repeat(1025))),
        &format!("{at}.value"),
        "at most 1024",
    );
    refuse(
        &q("{type: RegularExpression, name: b, value: '(?P<x'}"),
        &format!("{at}.value"),
        "is not a valid regular expression",
    );
    let many = items(17, |i| format!("{{name: q{i}, value: v}}"));
    refuse(
        &with_match(&format!("{{queryParams: [{many}]}}")),
        "spec.rules[0].matches[0].queryParams",
        "at most 16 entries (has 17)",
    );
}
