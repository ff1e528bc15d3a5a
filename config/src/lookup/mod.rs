//! Route lookup: which rule of which route serves a request, with Gateway
//! API semantics and precedence. The router's hot path: [`RouteIndex`] is
//! built once per table, shared (`Arc`) by every worker thread, and
//! [`RouteIndex::lookup`] takes no lock and allocates nothing.
//! [`RouteIndex::build_from`] rebuilds it for a new table reusing the
//! validated routes of the previous index whose parts did not change, so a
//! small change to a large table does not validate every route again.
//!
//! # Semantics
//! 1. **Host.** The request's host is normalised ([`normalize_host`]:
//!    lower-case, no `:port`, no trailing dot), then picks one *bucket* of
//!    routes, the way Envoy picks a virtual host: the routes listing that
//!    exact hostname if any; else the routes listing the matching wildcard
//!    with the longest suffix (`*.example.com` matches one or more labels
//!    before `.example.com`, never `example.com` itself); else the routes
//!    that list no hostname (they match every host). **Only the routes of
//!    the chosen bucket are considered**: a request for `a.example.com`
//!    that no route of the `a.example.com` bucket matches gets no route,
//!    even if a `*.example.com` route would match it. The Gateway API
//!    gives the most specific hostname precedence but does not pin down
//!    whether a request falls through to less specific hostnames' routes;
//!    Envoy-based implementations do not, and neither does this index.
//! 2. **Implicit service routes.** Each implicit hostname of a service part
//!    (`orders`, `orders.mesh`) is an exact hostname whose bucket holds one
//!    synthetic route named `service:<name>` ([`RouteOrigin::Service`]):
//!    one rule, `PathPrefix /`, one backend, the service. A route that
//!    lists the same hostname exactly takes it over (the controller already
//!    leaves such hostnames out of the service part).
//! 3. **Match.** Within the bucket, the first match in
//!    [`MatchKey`](crate::table::MatchKey) order whose every condition
//!    holds: path (`Exact`: equal; `PathPrefix` element-wise: `/foo`
//!    matches `/foo`, `/foo/`, `/foo/bar`, not `/foobar`, and `/` matches
//!    every path; `RegularExpression`: the whole path), method (exact,
//!    case-sensitive), every header match (name case-insensitive, value
//!    exact or whole-value regex), every query parameter match (name exact,
//!    value exact or regex, on the first occurrence of a repeated
//!    parameter).
//! 4. **Raw input.** Paths and query values are matched as received: no
//!    percent-decoding, no dot-segment or slash merging. The router
//!    normalises the path before the lookup if it wants to.
//!
//! # Index
//! Hosts: exact hostnames in a hash map, wildcard suffixes in another,
//! probed at each dot of the host, longest suffix first. Per bucket (see
//! `bucket`): exact paths in a hash map; prefixes in a hash map probed at
//! each segment boundary of the path, longest first, only at the lengths
//! some prefix of the bucket has; regexes in one list, each skipped without
//! running it when the path lacks the regex's literal start (`/api/v` for
//! `/api/v[0-9]+/.*`). Every list is sorted by `MatchKey`, so the walk
//! visits matches in precedence order and stops at the first whose
//! conditions hold. Short keys are stored inline and hashed with a fast
//! unkeyed hash (see `hash`).
//!
//! A lookup costs a few hash probes plus the candidates under the keys that
//! match: it does not grow with the number of routes, except for the regex
//! matches of one bucket (tried one by one, after every prefix) and for
//! many matches under one path key (tried in order). It allocates nothing
//! (the regex engine keeps per-thread scratch space it fills once).

mod bucket;
mod build;
mod hash;
mod hosts;
mod request;

#[cfg(test)]
mod tests;

pub use request::{normalize_host, query_param, HostBuf, RequestView, SimpleRequest};

use crate::model::{Match, Route, Rule};
use crate::table::{Part, PartId, RouteTable};
use crate::validate::Problems;
use std::collections::BTreeSet;
use std::sync::Arc;

/// The route lookup index of one table. Immutable; cheap to share.
#[derive(Debug)]
pub struct RouteIndex {
    revision: i64,
    routes: Vec<IndexedRoute>,
    hosts: hosts::Hosts,
}

/// Where an indexed route comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteOrigin {
    /// A Route part.
    Route {
        /// The etcd revision the route was created at (the "oldest route
        /// wins" tie-break).
        created_revision: i64,
    },
    /// The implicit route of a service: its implicit hostnames, every path,
    /// to the service.
    Service,
}

/// A route as the index serves it: validated, with where it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedRoute {
    /// The Route's name, or `service:<name>` for an implicit service route.
    pub name: String,
    pub origin: RouteOrigin,
    /// The validated route; for an implicit service route, named after the
    /// service, with its implicit hostnames and one rule. Shared with the
    /// next index when the part does not change.
    pub route: Arc<Route>,
    /// Backends named by the route that name no service (their share of
    /// requests answers 500).
    pub unresolved_backends: BTreeSet<String>,
    /// The table part it was validated from (hash and shared body): what
    /// [`RouteIndex::build_from`] compares to reuse it.
    pub part: Part,
}

impl IndexedRoute {
    /// The revision used for precedence: the route's creation revision, or
    /// after every route for an implicit service route.
    pub fn created_revision(&self) -> i64 {
        match self.origin {
            RouteOrigin::Route { created_revision } => created_revision,
            RouteOrigin::Service => i64::MAX,
        }
    }

    /// The table part this route comes from.
    pub fn part_id(&self) -> PartId {
        match self.origin {
            RouteOrigin::Route { .. } => PartId::Route(self.name.clone()),
            RouteOrigin::Service => PartId::Service(self.route.name.to_string()),
        }
    }
}

/// The result of a lookup: the route, rule and match that won.
#[derive(Debug, Clone, Copy)]
pub struct Matched<'a> {
    pub route: &'a IndexedRoute,
    /// The index of `route` in [`RouteIndex::routes`] (for state the
    /// caller keeps per route, in a parallel list).
    pub route_index: usize,
    /// The index of `rule` in the route's rules.
    pub rule_index: usize,
    pub rule: &'a Rule,
    /// The index of `matched` in the rule's matches.
    pub match_index: usize,
    /// The match that held (its `PathPrefix` is what a `ReplacePrefixMatch`
    /// rewrite replaces).
    pub matched: &'a Match,
}

/// Why a table cannot be indexed. The router keeps serving its previous
/// table and reports this.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// A part does not validate (the first such part, in part order).
    #[error("table part {} does not validate:\n{problems}", part_label(.part))]
    InvalidPart { part: PartId, problems: Problems },
    /// More routes, rules or matches than the index can number.
    #[error("{0}")]
    TooLarge(String),
    /// Two services claim the same implicit hostname.
    #[error("implicit hostname {hostname} belongs to both service {first} and service {second}")]
    DuplicateImplicitHostname {
        hostname: String,
        first: String,
        second: String,
    },
}

/// How messages name a part: `route orders-canary`, `service orders`.
fn part_label(part: &PartId) -> String {
    match part {
        PartId::Route(name) => format!("route {name}"),
        PartId::Service(name) => format!("service {name}"),
    }
}

impl RouteIndex {
    /// Validates every part of `table` (each Route part, and each Service
    /// part with its implicit hostnames) and builds the index. One part that
    /// fails validation fails the whole build, naming the part and its
    /// problems.
    pub fn build(table: &RouteTable) -> Result<RouteIndex, LookupError> {
        RouteIndex::build_from(table, None)
    }

    /// [`RouteIndex::build`], reusing the validated routes of `previous`
    /// (the index of an earlier table) whose part is unchanged: same id,
    /// same hash and equal body (the body is compared only when it is not
    /// the same shared `Arc`). Implicit service routes are reused only when
    /// their service part and their implicit hostnames are unchanged. The
    /// result is the index `build(table)` gives; only the work differs.
    pub fn build_from(
        table: &RouteTable,
        previous: Option<&RouteIndex>,
    ) -> Result<RouteIndex, LookupError> {
        let previous = previous.map_or(&[][..], |p| p.routes.as_slice());
        let routes = build::routes(table, previous)?;
        let hosts = build::hosts(&routes)?;
        Ok(RouteIndex {
            revision: table.revision,
            routes,
            hosts,
        })
    }

    /// The route, rule and match that serve `req`, or `None` (404).
    #[inline]
    pub fn lookup<'a, R: RequestView + ?Sized>(&'a self, req: &R) -> Option<Matched<'a>> {
        let host = request::trim_host(req.host());
        let bucket = if host.len() > request::HOST_MAX {
            self.hosts.select(None)
        } else if request::has_upper(host) {
            let mut buf = HostBuf::new();
            self.hosts.select(request::lower_into(host, &mut buf))
        } else {
            self.hosts.select(Some(host))
        };
        bucket?.find(&self.routes, req)
    }

    /// The revision of the table this index was built from.
    pub fn revision(&self) -> i64 {
        self.revision
    }

    /// Every route: the Route parts in name order, then the implicit
    /// service routes in service name order.
    pub fn routes(&self) -> &[IndexedRoute] {
        &self.routes
    }
}
