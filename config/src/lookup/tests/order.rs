//! The index visits matches in `MatchKey` order: walking a bucket for a
//! path (exact, then prefixes longest first, then the root prefix, then
//! regexes) visits exactly the matches whose path matches, in the order a
//! sort by `MatchKey` gives. This is what lets the lookup stop at the first
//! match whose conditions hold.

use super::reference::{build, parts, path_matches};
use super::{index, route};
use crate::lookup::RouteIndex;
use crate::table::MatchKey;
use proptest::prelude::*;

/// Every match visited when walking the any-host bucket for `path`.
fn walked(index: &RouteIndex, path: &str) -> Vec<MatchKey> {
    let mut seen = Vec::new();
    if let Some(bucket) = index.hosts.select(None) {
        bucket.walk(index.routes(), path, |c| {
            if let Some(m) = c.resolve(index.routes()) {
                seen.push(MatchKey::new(
                    m.matched,
                    m.route.created_revision(),
                    &m.route.name,
                    m.rule_index,
                    m.match_index,
                ));
            }
            false
        });
    }
    seen
}

/// Every match of every route whose path matches `path`, sorted.
fn sorted(index: &RouteIndex, path: &str) -> Vec<MatchKey> {
    let mut all = Vec::new();
    for r in index.routes() {
        for (i, rule) in r.route.rules.iter().enumerate() {
            for (j, m) in rule.matches.iter().enumerate() {
                if path_matches(&m.path, path) {
                    all.push(MatchKey::new(m, r.created_revision(), &r.name, i, j));
                }
            }
        }
    }
    all.sort();
    all
}

#[test]
fn walk_order_is_match_key_order() {
    let i = index(vec![
        route(
            "a",
            5,
            "{rules: [{matches: [{path: {value: /}}, {path: {value: /a}, method: GET}, \
             {path: {type: RegularExpression, value: '/a/.*'}}]}, \
             {matches: [{path: {type: Exact, value: /a/b}}, {path: {value: /a/b}}]}]}",
        ),
        route(
            "b",
            1,
            "{rules: [{matches: [{path: {value: /a}}, {path: {value: /a/b}, headers: [{name: x, value: '1'}]}, \
             {path: {type: RegularExpression, value: '.*'}}, {path: {type: Exact, value: /a/b}, method: PUT}]}]}",
        ),
    ]);
    let walked = walked(&i, "/a/b");
    assert_eq!(walked, sorted(&i, "/a/b"));
    let order: Vec<(&str, usize, usize)> = walked
        .iter()
        .map(|k| (k.route.as_str(), k.rule, k.index))
        .collect();
    assert_eq!(
        order,
        [
            ("b", 0, 3), // exact with a method
            ("a", 1, 0), // exact
            ("b", 0, 1), // /a/b with a header
            ("a", 1, 1), // /a/b
            ("a", 0, 1), // /a with a method
            ("b", 0, 0), // /a, older
            ("a", 0, 0), // /
            ("a", 0, 2), // longer regex
            ("b", 0, 2), // .*
        ]
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn walk_visits_path_matches_in_match_key_order(
        parts in parts(false),
        paths in proptest::collection::vec(
            prop::sample::select(&["/", "/a", "/a/", "/a/b", "/a/b/c", "/a/b/c/d", "/a/b/c/d/e1", "/ab", "/b", "/b/a", "", "*"][..]),
            1..=8,
        ),
    ) {
        let index = build(parts)?;
        for path in paths {
            prop_assert_eq!(walked(&index, path), sorted(&index, path), "path {:?}", path);
        }
    }
}
