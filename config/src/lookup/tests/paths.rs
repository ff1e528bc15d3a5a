//! Path matching and path precedence: exact, prefix (segment-wise, longest
//! first, trailing slash), regex (after every prefix).

use super::{get, hit, index, route};

/// A route spec with one rule per path match, given as `Type value`.
fn paths(matches: &[&str]) -> String {
    let rules: Vec<String> = matches
        .iter()
        .map(|m| {
            let (kind, value) = m.split_once(' ').unwrap_or((m, "/"));
            format!("{{matches: [{{path: {{type: {kind}, value: '{value}'}}}}]}}")
        })
        .collect();
    format!("{{rules: [{}]}}", rules.join(", "))
}

#[test]
fn exact_beats_prefix() {
    // The prefix route is older and its name sorts first: exact still wins.
    let i = index(vec![
        route("a", 1, &paths(&["PathPrefix /foo"])),
        route("b", 9, &paths(&["Exact /foo"])),
    ]);
    assert_eq!(get(&i, "h", "/foo"), hit("b", 0, 0));
    assert_eq!(get(&i, "h", "/foo/"), hit("a", 0, 0));
    assert_eq!(get(&i, "h", "/foo/x"), hit("a", 0, 0));
}

#[test]
fn exact_is_whole_path() {
    let i = index(vec![route("a", 1, &paths(&["Exact /foo", "Exact /foo/"]))]);
    assert_eq!(get(&i, "h", "/foo"), hit("a", 0, 0));
    assert_eq!(get(&i, "h", "/foo/"), hit("a", 1, 0));
    assert_eq!(get(&i, "h", "/foo/x"), None);
    assert_eq!(get(&i, "h", "/fo"), None);
    assert_eq!(get(&i, "h", "/FOO"), None, "paths are case-sensitive");
}

#[test]
fn longest_prefix_wins() {
    let i = index(vec![
        route("a", 1, &paths(&["PathPrefix /", "PathPrefix /api"])),
        route("b", 9, &paths(&["PathPrefix /api/v1"])),
    ]);
    assert_eq!(get(&i, "h", "/api/v1/users/7"), hit("b", 0, 0));
    assert_eq!(get(&i, "h", "/api/v2/users/7"), hit("a", 1, 0));
    assert_eq!(get(&i, "h", "/other"), hit("a", 0, 0));
}

#[test]
fn prefix_is_segment_wise() {
    let i = index(vec![route("a", 1, &paths(&["PathPrefix /foo"]))]);
    for path in ["/foo", "/foo/", "/foo/bar", "/foo/bar/baz", "/foo//x"] {
        assert_eq!(get(&i, "h", path), hit("a", 0, 0), "{path}");
    }
    for path in ["/foobar", "/fo", "/", "/bar/foo", "foo"] {
        assert_eq!(get(&i, "h", path), None, "{path}");
    }
}

#[test]
fn root_prefix_matches_every_path() {
    let i = index(vec![route("a", 1, &paths(&["PathPrefix /"]))]);
    for path in ["/", "/x", "/x/y/", "//", "*", ""] {
        assert_eq!(get(&i, "h", path), hit("a", 0, 0), "{path:?}");
    }
}

#[test]
fn prefix_trailing_slash_is_ignored() {
    // `/foo/` and `/foo` are the same prefix (Gateway API).
    let i = index(vec![route("a", 1, &paths(&["PathPrefix /foo/"]))]);
    for path in ["/foo", "/foo/", "/foo/bar"] {
        assert_eq!(get(&i, "h", path), hit("a", 0, 0), "{path}");
    }
    assert_eq!(get(&i, "h", "/foobar"), None);
}

#[test]
fn regex_comes_after_every_prefix() {
    // A long regex with a method and headers still loses to `PathPrefix /`.
    let i = index(vec![
        route("a", 1, &paths(&["RegularExpression /foo/[0-9]+"])),
        route("b", 9, &paths(&["PathPrefix /"])),
    ]);
    assert_eq!(get(&i, "h", "/foo/12"), hit("b", 0, 0));
    let i = index(vec![
        route("a", 1, &paths(&["RegularExpression /foo/[0-9]+"])),
        route("b", 9, &paths(&["PathPrefix /bar"])),
    ]);
    assert_eq!(get(&i, "h", "/foo/12"), hit("a", 0, 0));
    assert_eq!(get(&i, "h", "/bar/12"), hit("b", 0, 0));
}

#[test]
fn regex_matches_the_whole_path() {
    let i = index(vec![route("a", 1, &paths(&["RegularExpression /fo+"]))]);
    assert_eq!(get(&i, "h", "/foo"), hit("a", 0, 0));
    assert_eq!(get(&i, "h", "/foo/x"), None);
    assert_eq!(get(&i, "h", "x/foo"), None);
}

#[test]
fn longer_regex_first() {
    let i = index(vec![route(
        "a",
        1,
        &paths(&["RegularExpression /.*", "RegularExpression /a/.*"]),
    )]);
    assert_eq!(get(&i, "h", "/a/b"), hit("a", 1, 0));
    assert_eq!(get(&i, "h", "/b"), hit("a", 0, 0));
}

#[test]
fn paths_are_raw() {
    // No percent-decoding: `/a%2Fb` is one segment, `/%61` is not `/a`.
    let i = index(vec![route(
        "r",
        1,
        &paths(&["PathPrefix /a", "Exact /a%20b"]),
    )]);
    assert_eq!(get(&i, "h", "/a%2Fb"), None);
    assert_eq!(get(&i, "h", "/%61"), None);
    assert_eq!(get(&i, "h", "/a%20b"), hit("r", 1, 0));
    assert_eq!(get(&i, "h", "/a b"), None);
}

#[test]
fn rule_without_matches_is_root_prefix() {
    let i = index(vec![route("a", 1, "{rules: [{}]}"), route("b", 2, "{}")]);
    assert_eq!(get(&i, "h", "/anything"), hit("a", 0, 0));
}

#[test]
fn a_miss_is_none() {
    let i = index(vec![route("a", 1, &paths(&["Exact /x", "PathPrefix /y"]))]);
    assert_eq!(get(&i, "h", "/z"), None);
    let empty = index(vec![]);
    assert_eq!(get(&empty, "h", "/"), None);
}
