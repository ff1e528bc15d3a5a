//! Document-level validation tests: for every rule, a document that passes
//! and one that fails with the expected field path and reason.
//!
//! Documents are written as YAML snippets; the helpers wrap a rule, match or
//! filter into a whole Route so that each case shows only what it tests.

mod backends;
mod filters;
mod kinds;
mod matches;
mod redirects;
mod route;

use super::{validate, Problem, Problems};
use crate::model::{Filter, Match, Resource, Route, Rule};
use crate::spec::Document;

/// Parses a YAML document (the test's own input must be well-formed).
pub(super) fn doc(yaml: &str) -> Document {
    match serde_yaml_ng::from_str(yaml) {
        Ok(d) => d,
        Err(e) => panic!("test YAML does not parse: {e}\n{yaml}"),
    }
}

/// Validates a YAML document, which must pass.
pub(super) fn accept(yaml: &str) -> Resource {
    match validate(&doc(yaml)) {
        Ok(r) => r,
        Err(p) => panic!("refused:\n{}\n---\n{yaml}", Problems(p)),
    }
}

/// Validates a YAML document, which must fail; returns every problem.
pub(super) fn problems(yaml: &str) -> Vec<Problem> {
    match validate(&doc(yaml)) {
        Ok(r) => panic!("accepted as {r:?}\n---\n{yaml}"),
        Err(p) => p,
    }
}

/// The document fails with exactly one problem, at `path`, whose reason
/// contains `fragment`.
#[track_caller]
pub(super) fn refuse(yaml: &str, path: &str, fragment: &str) {
    let p = problems(yaml);
    assert!(
        p.len() == 1 && p[0].path == path && p[0].reason.contains(fragment),
        "expected only a problem at `{path}` containing `{fragment}`; got:\n{}\n---\n{yaml}",
        Problems(p.clone())
    );
}

/// A Route named `r` with this spec (YAML flow style).
pub(super) fn route(spec: &str) -> String {
    format!("kind: Route\nname: r\nspec: {spec}\n")
}

/// A Route with this one rule.
pub(super) fn rule(rule: &str) -> String {
    route(&format!("{{rules: [{rule}]}}"))
}

/// A Route with one rule with this one match.
pub(super) fn with_match(m: &str) -> String {
    rule(&format!("{{matches: [{m}]}}"))
}

/// A Route with one rule with this one filter.
pub(super) fn with_filter(f: &str) -> String {
    rule(&format!("{{filters: [{f}]}}"))
}

pub(super) fn accept_route(yaml: &str) -> Route {
    match accept(yaml) {
        Resource::Route(r) => r,
        other => panic!("not a route: {other:?}"),
    }
}

/// The first rule of an accepted route.
pub(super) fn first_rule(yaml: &str) -> Rule {
    accept_route(yaml).rules.remove(0)
}

/// The first match of the first rule of an accepted route.
pub(super) fn first_match(yaml: &str) -> Match {
    first_rule(yaml).matches.remove(0)
}

/// The first filter of the first rule of an accepted route.
pub(super) fn first_filter(yaml: &str) -> Filter {
    first_rule(yaml).filters.remove(0)
}

/// `n` comma-separated items made by `item(i)`, for list-limit cases.
pub(super) fn items(n: usize, item: impl Fn(usize) -> String) -> String {
    (0..n).map(item).collect::<Vec<_>>().join(", ")
}
