//! One host bucket: the matches of every route that applies to a host,
//! indexed by path, and the walk that visits the ones whose path matches a
//! request in [`MatchKey`](crate::table::MatchKey) order.
//!
//! - `Exact` paths: a hash map from the path to its candidates.
//! - `PathPrefix` values other than `/`: a hash map from the prefix to its
//!   candidates, probed with the request path cut at each segment boundary
//!   (`/a/b/c`: `/a/b/c`, `/a/b`, `/a`), longest first, skipping the lengths
//!   no prefix of the bucket has; then the candidates of the root prefix
//!   `/`, which match every path.
//! - `RegularExpression`: one list, tried in order.
//!
//! Candidates under one key, and the regex list, are sorted by `MatchKey`.
//! `MatchKey` orders exact before prefix before regex, prefixes by length
//! (longest first), then by the same conditions for every kind; all the
//! prefixes that match one path are prefixes of it, so they have distinct
//! lengths. Hence visiting exact, then prefixes longest first, then
//! regexes, visits every match whose path matches in `MatchKey` order; the
//! tests check it against a sort.

use super::request::{query_param, RequestView};
use super::{IndexedRoute, Matched};
use crate::model::{Match, PathMatch, ValueMatch};
use std::collections::HashMap;

/// Where a match lives: route, rule and match indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Cand {
    pub route: usize,
    pub rule: usize,
    pub index: usize,
}

impl Cand {
    /// The match this candidate names, with its route and rule.
    fn resolve(self, routes: &[IndexedRoute]) -> Option<Matched<'_>> {
        let route = routes.get(self.route)?;
        let rule = route.route.rules.get(self.rule)?;
        let matched = rule.matches.get(self.index)?;
        Some(Matched {
            route,
            rule_index: self.rule,
            rule,
            match_index: self.index,
            matched,
        })
    }
}

/// A set of small lengths (path or host suffix lengths), as a bit set.
#[derive(Debug, Clone, Default)]
pub(super) struct LenSet(Vec<u64>);

impl LenSet {
    pub fn insert(&mut self, len: usize) {
        let word = len / 64;
        if self.0.len() <= word {
            self.0.resize(word + 1, 0);
        }
        if let Some(w) = self.0.get_mut(word) {
            *w |= 1 << (len % 64);
        }
    }

    #[inline]
    pub fn contains(&self, len: usize) -> bool {
        self.0
            .get(len / 64)
            .is_some_and(|w| w & (1 << (len % 64)) != 0)
    }

    /// One more than the largest length in the set (0 when empty).
    pub fn bound(&self) -> usize {
        self.0.len() * 64
    }
}

/// The indexed matches of one host bucket.
#[derive(Debug, Default)]
pub(super) struct Bucket {
    pub exact: HashMap<Box<str>, Box<[Cand]>>,
    /// Every prefix but `/`, stored without a trailing `/`.
    pub prefixes: HashMap<Box<str>, Box<[Cand]>>,
    /// The lengths of the keys of `prefixes`.
    pub prefix_lens: LenSet,
    /// The `PathPrefix /` candidates.
    pub root: Box<[Cand]>,
    pub regexes: Box<[RegexCand]>,
}

/// A regex path candidate with the literal text every path it matches
/// starts with: a path without it skips the regex.
#[derive(Debug, Clone)]
pub(super) struct RegexCand {
    pub cand: Cand,
    pub literal: Box<str>,
}

impl Bucket {
    /// The first match, in `MatchKey` order, whose path and conditions match
    /// `req`.
    #[inline]
    pub fn find<'a, R: RequestView + ?Sized>(
        &'a self,
        routes: &'a [IndexedRoute],
        req: &R,
    ) -> Option<Matched<'a>> {
        self.walk(routes, req.path(), |m| conditions_hold(m.matched, req))
    }

    /// Visits the matches whose path matches `path`, in `MatchKey` order,
    /// until `visit` accepts one, which is returned.
    pub fn walk<'a>(
        &'a self,
        routes: &'a [IndexedRoute],
        path: &str,
        mut visit: impl FnMut(&Matched<'a>) -> bool,
    ) -> Option<Matched<'a>> {
        let mut first = |cands: &'a [Cand]| {
            cands
                .iter()
                .filter_map(|c| c.resolve(routes))
                .find(|m| visit(m))
        };
        if let Some(found) = self.exact.get(path).and_then(|c| first(c)) {
            return Some(found);
        }
        if !self.prefixes.is_empty() {
            let bytes = path.as_bytes();
            // Keys are at least two bytes (`/x`); the root is apart.
            let longest = bytes.len().min(self.prefix_lens.bound());
            for end in (2..=longest).rev() {
                let boundary = end == bytes.len() || bytes.get(end) == Some(&b'/');
                if !boundary || !self.prefix_lens.contains(end) {
                    continue;
                }
                let cands = path.get(..end).and_then(|p| self.prefixes.get(p));
                if let Some(found) = cands.and_then(|c| first(c)) {
                    return Some(found);
                }
            }
        }
        if let Some(found) = first(&self.root) {
            return Some(found);
        }
        self.regexes
            .iter()
            .filter(|r| path.starts_with(&*r.literal))
            .filter_map(|r| r.cand.resolve(routes))
            .filter(|m| match &m.matched.path {
                PathMatch::Regex(p) => p.is_match(path),
                _ => false,
            })
            .find(|m| visit(m))
    }
}

/// The literal text at the start of a regex that every whole-input match
/// starts with (the regex is anchored): the leading characters that are
/// not special, less the last one when a quantifier that allows zero of it
/// follows. Conservative: empty for any source with a `|` (an alternation
/// might be at the top level), and stops at the first escape, class, group
/// (so at inline flags such as `(?i)`), anchor or space.
pub(super) fn literal_prefix(source: &str) -> &str {
    if source.contains('|') {
        return "";
    }
    let special =
        |c: char| !c.is_ascii() || c.is_ascii_whitespace() || "\\.+*?()|[]{}^$#".contains(c);
    let end = source.find(special).unwrap_or(source.len());
    let literal = &source[..end];
    match source[end..].chars().next() {
        Some('?' | '*' | '{') => {
            // The last literal character is optional or counted.
            let cut = literal.char_indices().last().map_or(0, |(i, _)| i);
            &literal[..cut]
        }
        _ => literal,
    }
}

/// True when the method, header and query conditions of `m` hold for `req`
/// (its path is checked by the index).
#[inline]
pub(super) fn conditions_hold<R: RequestView + ?Sized>(m: &Match, req: &R) -> bool {
    if let Some(method) = m.method {
        if method.as_str() != req.method() {
            return false;
        }
    }
    let headers = m.headers.iter().all(|h| {
        req.header(h.name.as_str())
            .is_some_and(|v| value_matches(&h.value, v))
    });
    headers
        && m.query_params.iter().all(|q| {
            req.query()
                .and_then(|query| query_param(query, &q.name))
                .is_some_and(|v| value_matches(&q.value, v))
        })
}

/// An exact (case-sensitive) or whole-value regex match of a header or
/// query value.
#[inline]
fn value_matches(want: &ValueMatch, got: &str) -> bool {
    match want {
        ValueMatch::Exact(v) => v == got,
        ValueMatch::Regex(p) => p.is_match(got),
    }
}

#[cfg(test)]
mod tests {
    use super::literal_prefix;

    #[test]
    fn literal_prefixes() {
        for (source, literal) in [
            ("/api/v[0-9]+/x", "/api/v"),
            ("/a/b/c", "/a/b/c"),
            ("/a/.*", "/a/"),
            ("/ab?", "/a"),
            ("/ab*", "/a"),
            ("/ab{2}", "/a"),
            ("/ab+", "/ab"),
            ("/a(/b)?", "/a"),
            ("/a\\.b", "/a"),
            ("/a|/b", ""),
            ("(?i)/a", ""),
            ("^/a", ""),
            (".*", ""),
            ("/a b", "/a"),
            ("/é", "/"),
            ("", ""),
        ] {
            assert_eq!(literal_prefix(source), literal, "{source}");
        }
    }
}
