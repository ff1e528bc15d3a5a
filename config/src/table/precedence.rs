//! Gateway API precedence between matches, as one sortable key.
//!
//! Among the matches of every route that applies to a request's host, the
//! first in [`MatchKey`] order that matches the request wins:
//! 1. an `Exact` path match, then `PathPrefix` by most characters, then
//!    `RegularExpression` (implementation-specific in the Gateway API: here
//!    after prefixes, longest pattern first);
//! 2. a method match;
//! 3. the most header matches;
//! 4. the most query parameter matches;
//! 5. the oldest route (lowest etcd create revision);
//! 6. the route name, alphabetically;
//! 7. the rule, then the match, in list order.
//!
//! Controllers and routers compute the same key from the same route, so the
//! order is the same everywhere.

use crate::model::{Match, PathMatch};
use std::cmp::Reverse;

/// The kind of path match, in precedence order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathRank {
    Exact,
    Prefix,
    Regex,
}

/// A match's place in precedence order: smaller keys win.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MatchKey {
    pub path_rank: PathRank,
    pub path_len: Reverse<usize>,
    pub has_method: Reverse<bool>,
    pub headers: Reverse<usize>,
    pub query_params: Reverse<usize>,
    pub created_revision: i64,
    pub route: String,
    pub rule: usize,
    pub index: usize,
}

impl MatchKey {
    /// The key of match `index` of rule `rule` of route `route` (created at
    /// etcd revision `created_revision`).
    pub fn new(m: &Match, created_revision: i64, route: &str, rule: usize, index: usize) -> Self {
        let (path_rank, path_len) = match &m.path {
            PathMatch::Exact(p) => (PathRank::Exact, p.len()),
            PathMatch::Prefix(p) => (PathRank::Prefix, p.len()),
            PathMatch::Regex(r) => (PathRank::Regex, r.source().len()),
        };
        MatchKey {
            path_rank,
            path_len: Reverse(path_len),
            has_method: Reverse(m.method.is_some()),
            headers: Reverse(m.headers.len()),
            query_params: Reverse(m.query_params.len()),
            created_revision,
            route: route.to_owned(),
            rule,
            index,
        }
    }
}
