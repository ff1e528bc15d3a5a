//! Method, header and query conditions, and the precedence rules that
//! break ties between equal paths: method, more headers, more query
//! parameters, oldest route, route name, rule and match order.

use super::{find, get, hit, index, route};
use crate::lookup::SimpleRequest;

fn req<'r>(
    method: &'r str,
    target: &'r str,
    headers: &'r [(&'r str, &'r str)],
) -> SimpleRequest<'r> {
    SimpleRequest::new(method, "h", target).with_headers(headers)
}

#[test]
fn method_must_match_and_wins_over_no_method() {
    let i = index(vec![
        route("a", 1, "{rules: [{matches: [{path: {value: /x}}]}]}"),
        route(
            "b",
            9,
            "{rules: [{matches: [{path: {value: /x}, method: POST}]}]}",
        ),
    ]);
    assert_eq!(find(&i, &req("POST", "/x", &[])), hit("b", 0, 0));
    assert_eq!(find(&i, &req("GET", "/x", &[])), hit("a", 0, 0));
    assert_eq!(
        find(&i, &req("post", "/x", &[])),
        hit("a", 0, 0),
        "methods are case-sensitive"
    );
}

#[test]
fn method_beats_headers() {
    let i = index(vec![
        route(
            "a",
            1,
            "{rules: [{matches: [{headers: [{name: x, value: '1'}, {name: y, value: '2'}]}]}]}",
        ),
        route("b", 9, "{rules: [{matches: [{method: GET}]}]}"),
    ]);
    assert_eq!(
        find(&i, &req("GET", "/", &[("x", "1"), ("y", "2")])),
        hit("b", 0, 0)
    );
}

#[test]
fn header_exact_value() {
    let i = index(vec![route(
        "a",
        1,
        "{rules: [{matches: [{headers: [{name: x-canary, value: 'true'}]}]}]}",
    )]);
    assert_eq!(
        find(&i, &req("GET", "/", &[("x-canary", "true")])),
        hit("a", 0, 0)
    );
    assert_eq!(
        find(&i, &req("GET", "/", &[("x-canary", "True")])),
        None,
        "values are case-sensitive"
    );
    assert_eq!(find(&i, &req("GET", "/", &[("x-canary", "true ")])), None);
    assert_eq!(find(&i, &req("GET", "/", &[])), None);
}

#[test]
fn header_names_are_case_insensitive() {
    let i = index(vec![route(
        "a",
        1,
        "{rules: [{matches: [{headers: [{name: X-Canary, value: 'yes'}]}]}]}",
    )]);
    assert_eq!(
        find(&i, &req("GET", "/", &[("x-canary", "yes")])),
        hit("a", 0, 0)
    );
    assert_eq!(
        find(&i, &req("GET", "/", &[("X-CANARY", "yes")])),
        hit("a", 0, 0)
    );
}

#[test]
fn header_regex_is_whole_value() {
    let i = index(vec![route(
        "a",
        1,
        "{rules: [{matches: [{headers: [{type: RegularExpression, name: x-v, value: 'v[0-9]+'}]}]}]}",
    )]);
    assert_eq!(
        find(&i, &req("GET", "/", &[("x-v", "v12")])),
        hit("a", 0, 0)
    );
    assert_eq!(find(&i, &req("GET", "/", &[("x-v", "v12b")])), None);
    assert_eq!(find(&i, &req("GET", "/", &[("x-v", "av1")])), None);
}

#[test]
fn every_header_must_match() {
    let i = index(vec![route(
        "a",
        1,
        "{rules: [{matches: [{headers: [{name: x, value: '1'}, {name: y, value: '2'}]}]}]}",
    )]);
    assert_eq!(
        find(&i, &req("GET", "/", &[("x", "1"), ("y", "2")])),
        hit("a", 0, 0)
    );
    assert_eq!(find(&i, &req("GET", "/", &[("x", "1")])), None);
}

#[test]
fn more_headers_win() {
    let i = index(vec![
        route(
            "a",
            1,
            "{rules: [{matches: [{headers: [{name: x, value: '1'}]}]}]}",
        ),
        route(
            "b",
            9,
            "{rules: [{matches: [{headers: [{name: x, value: '1'}, {name: y, value: '2'}]}]}]}",
        ),
    ]);
    assert_eq!(
        find(&i, &req("GET", "/", &[("x", "1"), ("y", "2")])),
        hit("b", 0, 0)
    );
    assert_eq!(
        find(&i, &req("GET", "/", &[("x", "1"), ("y", "3")])),
        hit("a", 0, 0)
    );
}

#[test]
fn query_exact_value() {
    let i = index(vec![route(
        "a",
        1,
        "{rules: [{matches: [{queryParams: [{name: v, value: '2'}]}]}]}",
    )]);
    assert_eq!(get(&i, "h", "/?v=2"), hit("a", 0, 0));
    assert_eq!(get(&i, "h", "/?x=1&v=2"), hit("a", 0, 0));
    assert_eq!(get(&i, "h", "/?v=3"), None);
    assert_eq!(get(&i, "h", "/?V=2"), None, "names are exact");
    assert_eq!(get(&i, "h", "/"), None);
}

#[test]
fn query_regex() {
    let i = index(vec![route(
        "a",
        1,
        "{rules: [{matches: [{queryParams: [{type: RegularExpression, name: id, value: '[0-9]+'}]}]}]}",
    )]);
    assert_eq!(get(&i, "h", "/?id=42"), hit("a", 0, 0));
    assert_eq!(get(&i, "h", "/?id=42x"), None);
    assert_eq!(get(&i, "h", "/?id="), None);
}

#[test]
fn query_uses_first_occurrence() {
    let i = index(vec![route(
        "a",
        1,
        "{rules: [{matches: [{queryParams: [{name: v, value: '2'}]}]}]}",
    )]);
    assert_eq!(get(&i, "h", "/?v=2&v=3"), hit("a", 0, 0));
    assert_eq!(get(&i, "h", "/?v=3&v=2"), None);
}

#[test]
fn more_query_params_win() {
    let i = index(vec![
        route(
            "a",
            1,
            "{rules: [{matches: [{queryParams: [{name: a, value: '1'}]}]}]}",
        ),
        route(
            "b",
            9,
            "{rules: [{matches: [{queryParams: [{name: a, value: '1'}, {name: b, value: '1'}]}]}]}",
        ),
    ]);
    assert_eq!(get(&i, "h", "/?a=1&b=1"), hit("b", 0, 0));
    assert_eq!(get(&i, "h", "/?a=1"), hit("a", 0, 0));
}

#[test]
fn oldest_route_wins_ties() {
    let i = index(vec![
        route("a", 7, "{rules: [{matches: [{path: {value: /x}}]}]}"),
        route("b", 3, "{rules: [{matches: [{path: {value: /x}}]}]}"),
    ]);
    assert_eq!(get(&i, "h", "/x"), hit("b", 0, 0));
}

#[test]
fn name_breaks_ties() {
    let i = index(vec![
        route("b", 3, "{rules: [{matches: [{path: {value: /x}}]}]}"),
        route("a", 3, "{rules: [{matches: [{path: {value: /x}}]}]}"),
    ]);
    assert_eq!(get(&i, "h", "/x"), hit("a", 0, 0));
}

#[test]
fn rule_then_match_order_within_a_route() {
    let i = index(vec![route(
        "a",
        1,
        "{rules: [{matches: [{path: {value: /y}}, {path: {value: /x}}]}, {matches: [{path: {value: /x}}]}]}",
    )]);
    assert_eq!(get(&i, "h", "/x"), hit("a", 0, 1));
    let i = index(vec![route(
        "a",
        1,
        "{rules: [{matches: [{path: {value: /y}}]}, {matches: [{path: {value: /x}}, {path: {value: /x}}]}]}",
    )]);
    assert_eq!(get(&i, "h", "/x"), hit("a", 1, 0));
}

#[test]
fn failing_conditions_fall_through_to_shorter_prefixes() {
    let i = index(vec![
        route(
            "a",
            1,
            "{rules: [{matches: [{path: {value: /a/b}, method: PUT}]}]}",
        ),
        route(
            "b",
            2,
            "{rules: [{matches: [{path: {value: /a}, headers: [{name: x, value: '1'}]}]}]}",
        ),
        route("c", 3, "{rules: [{matches: [{path: {value: /}}]}]}"),
    ]);
    assert_eq!(find(&i, &req("PUT", "/a/b/c", &[])), hit("a", 0, 0));
    assert_eq!(
        find(&i, &req("GET", "/a/b/c", &[("x", "1")])),
        hit("b", 0, 0)
    );
    assert_eq!(find(&i, &req("GET", "/a/b/c", &[])), hit("c", 0, 0));
}
