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
//! - `RegularExpression`: one list, tried in order; a regex whose literal
//!   start (see [`literal_prefix`]) the path lacks is skipped unrun.
//!
//! Candidates under one key, and the regex list, are sorted by `MatchKey`.
//! `MatchKey` orders exact before prefix before regex, prefixes by length
//! (longest first), then by the same conditions for every kind; all the
//! prefixes that match one path are prefixes of it, so they have distinct
//! lengths. Hence visiting exact, then prefixes longest first, then
//! regexes, visits every match whose path matches in `MatchKey` order; the
//! tests check it against a sort.

use super::hash::FastMap;
use super::request::{query_param, RequestView};
use super::{IndexedRoute, Matched};
use crate::model::{Match, PathMatch, ValueMatch};
use crate::spec::HttpMethod;

/// A match in the index: where it lives (route, rule and match indexes)
/// and a summary of its conditions, so that a candidate with none but a
/// method is decided without reading the match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Cand {
    pub route: u32,
    pub rule: u16,
    pub index: u16,
    pub method: Option<HttpMethod>,
    /// It has header or query conditions.
    pub more: bool,
}

impl Cand {
    /// The match this candidate names, with its route and rule.
    #[inline]
    pub fn resolve(self, routes: &[IndexedRoute]) -> Option<Matched<'_>> {
        let route_index = self.route as usize;
        let rule_index = usize::from(self.rule);
        let match_index = usize::from(self.index);
        let route = routes.get(route_index)?;
        let rule = route.route.rules.get(rule_index)?;
        let matched = rule.matches.get(match_index)?;
        Some(Matched {
            route,
            route_index,
            rule_index,
            rule,
            match_index,
            matched,
        })
    }

    /// True when every condition of the match holds for `req` (its path is
    /// the index's business).
    #[inline]
    fn holds<R: RequestView + ?Sized>(self, routes: &[IndexedRoute], req: &R) -> bool {
        if let Some(method) = self.method {
            if method.as_str() != req.method() {
                return false;
            }
        }
        !self.more
            || self
                .resolve(routes)
                .is_some_and(|m| conditions_hold(m.matched, req))
    }
}

/// The candidates under one key, in `MatchKey` order; most keys have one.
#[derive(Debug, Clone)]
pub(super) enum Cands {
    One(Cand),
    Many(Box<[Cand]>),
}

impl Cands {
    #[inline]
    pub fn as_slice(&self) -> &[Cand] {
        match self {
            Cands::One(c) => std::slice::from_ref(c),
            Cands::Many(cs) => cs,
        }
    }
}

impl Default for Cands {
    fn default() -> Self {
        Cands::Many(Box::default())
    }
}

/// A set of small lengths (path or host suffix lengths), as a bit set.
#[derive(Debug, Clone, Default)]
pub(super) struct LenSet {
    words: Vec<u64>,
    /// One more than the largest length (0 when empty).
    bound: usize,
}

impl LenSet {
    pub fn insert(&mut self, len: usize) {
        let word = len / 64;
        if self.words.len() <= word {
            self.words.resize(word + 1, 0);
        }
        if let Some(w) = self.words.get_mut(word) {
            *w |= 1 << (len % 64);
        }
        self.bound = self.bound.max(len + 1);
    }

    #[inline]
    pub fn contains(&self, len: usize) -> bool {
        self.words
            .get(len / 64)
            .is_some_and(|w| w & (1 << (len % 64)) != 0)
    }

    /// Every length in the set is below this.
    #[inline]
    pub fn bound(&self) -> usize {
        self.bound
    }
}

/// The indexed matches of one host bucket.
#[derive(Debug, Default)]
pub(super) struct Bucket {
    pub exact: FastMap<Cands>,
    /// Every prefix but `/`, stored without a trailing `/`.
    pub prefixes: FastMap<Cands>,
    /// The lengths of the keys of `prefixes`.
    pub prefix_lens: LenSet,
    /// The `PathPrefix /` candidates.
    pub root: Cands,
    pub regexes: Box<[RegexCand]>,
    /// The literal starts of the regexes past their first eight bytes, one
    /// after the other (read in sequence, not through a pointer each).
    pub literals: Box<[u8]>,
}

/// A regex path candidate with the literal text every path it matches
/// starts with: its first eight bytes packed in `head` (the bytes `mask`
/// keeps), the rest at `rest_start..rest_end` in the bucket's `literals`.
/// A path without it skips the regex unrun.
#[derive(Debug, Clone, Copy)]
pub(super) struct RegexCand {
    pub head: u64,
    pub mask: u64,
    pub rest_start: u32,
    pub rest_end: u32,
    pub cand: Cand,
}

/// Up to the first eight bytes of `b`, little-endian, zero-padded.
#[inline]
pub(super) fn head8(b: &[u8]) -> u64 {
    match b.get(..8) {
        Some(word) => u64::from_le_bytes(word.try_into().unwrap_or_default()),
        None => b
            .iter()
            .rev()
            .fold(0, |w, byte| (w << 8) | u64::from(*byte)),
    }
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
        self.walk(routes, req.path(), |c| c.holds(routes, req))?
            .resolve(routes)
    }

    /// Visits the candidates whose path matches `path`, in `MatchKey`
    /// order, until `visit` accepts one, which is returned.
    pub fn walk(
        &self,
        routes: &[IndexedRoute],
        path: &str,
        mut visit: impl FnMut(Cand) -> bool,
    ) -> Option<Cand> {
        let mut first = |cands: &Cands| cands.as_slice().iter().copied().find(|c| visit(*c));
        let bytes = path.as_bytes();
        if !self.exact.is_empty() {
            if let Some(found) = self.exact.get(bytes).and_then(&mut first) {
                return Some(found);
            }
        }
        if !self.prefixes.is_empty() {
            // The path cut at each segment boundary, longest first: the
            // whole path, then before each `/`. Keys are at least two bytes
            // (`/x`): the root is apart.
            let bound = self.prefix_lens.bound();
            let mut probe = |end: usize| {
                if !self.prefix_lens.contains(end) {
                    return None;
                }
                bytes
                    .get(..end)
                    .and_then(|p| self.prefixes.get(p))
                    .and_then(&mut first)
            };
            if let Some(found) = probe(bytes.len()) {
                return Some(found);
            }
            let mut before = bytes.len().min(bound);
            while let Some(slash) = bytes
                .get(..before)
                .and_then(|b| b.iter().rposition(|&c| c == b'/'))
            {
                if slash < 2 {
                    break;
                }
                if let Some(found) = probe(slash) {
                    return Some(found);
                }
                before = slash;
            }
        }
        if let Some(found) = first(&self.root) {
            return Some(found);
        }
        let head = head8(bytes);
        let tail = bytes.get(8..).unwrap_or_default();
        self.regexes
            .iter()
            .filter(|r| {
                head & r.mask == r.head
                    && (r.rest_start == r.rest_end
                        || self
                            .literals
                            .get(r.rest_start as usize..r.rest_end as usize)
                            .is_some_and(|rest| tail.starts_with(rest)))
            })
            .map(|r| r.cand)
            .filter(|c| {
                c.resolve(routes).is_some_and(|m| match &m.matched.path {
                    PathMatch::Regex(p) => p.is_match(path),
                    _ => false,
                })
            })
            .find(|c| visit(*c))
    }
}

/// True when the method, header and query conditions of `m` hold for `req`.
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
