//! Building the index from a table: validate every part (or reuse the
//! validated route of an unchanged part from the previous index), make the
//! implicit service routes, and sort every match into its host buckets and path
//! keys in [`MatchKey`] order.

use super::bucket::{head8, literal_prefix, Bucket, Cand, Cands, RegexCand};
use super::hash::{FastHasher, Key};
use super::hosts::Hosts;
use super::{IndexedRoute, LookupError, RouteOrigin};
use crate::model::{Backend, Hostname, Match, PathMatch, Resource, Route, Rule, Timeouts};
use crate::spec::{Document, RouteDoc, ServiceDoc};
use crate::table::{MatchKey, Part, PartBody, PartId, RoutePart, RouteTable, ServicePart};
use crate::validate::{check_hostname, validate, Problem, Problems};
use std::cmp::Ordering;
use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::hash::BuildHasherDefault;
use std::sync::Arc;

/// A build-time map, hashed fast (its keys come from the table).
type Fast<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// Every route of `table`: its Route parts in name order, then one implicit
/// route per service with implicit hostnames, in name order. A route of
/// `previous` (an earlier index's routes) whose part is unchanged is reused
/// instead of validated again.
pub(super) fn routes(
    table: &RouteTable,
    previous: &[IndexedRoute],
) -> Result<Vec<IndexedRoute>, LookupError> {
    // The previous routes: Route parts first, then services, each in name
    // order, as the table's parts come (see `RouteIndex::routes`).
    let split = previous.partition_point(|r| matches!(r.origin, RouteOrigin::Route { .. }));
    let (old_routes, old_services) = previous.split_at(split);
    let mut old_routes = Previous::new(old_routes, |r| &r.name);
    let mut old_services = Previous::new(old_services, |r| r.route.name.as_str());
    let mut routes = Vec::new();
    for (part, body) in table.parts.values().filter_map(|p| match &*p.body {
        PartBody::Route(r) => Some((p, r)),
        PartBody::Service(_) => None,
    }) {
        match old_routes
            .take(&body.name)
            .filter(|old| same_part(&old.part, part))
        {
            Some(old) => routes.push(old.clone()),
            None => routes.push(route(part, body)?),
        }
    }
    // Implicit hostnames that a route lists exactly belong to the route
    // (the controller leaves them out already; a foreign table may not).
    let claimed: HashSet<&str> = routes
        .iter()
        .flat_map(|r| &r.route.hostnames)
        .filter_map(|h| match h {
            Hostname::Exact(h) => Some(h.as_str()),
            Hostname::Wildcard(_) => None,
        })
        .collect();
    let mut owners: HashMap<String, String> = HashMap::new();
    let mut implicit = Vec::new();
    for (part, body) in table.parts.values().filter_map(|p| match &*p.body {
        PartBody::Service(s) => Some((p, s)),
        PartBody::Route(_) => None,
    }) {
        let hostnames = implicit_hostnames(body, &claimed)?;
        for h in &hostnames {
            if let Some(first) = owners.insert(h.to_string(), body.name.clone()) {
                return Err(LookupError::DuplicateImplicitHostname {
                    hostname: h.to_string(),
                    first,
                    second: body.name.clone(),
                });
            }
        }
        if hostnames.is_empty() {
            continue;
        }
        let old = old_services
            .take(&body.name)
            .filter(|old| same_part(&old.part, part) && old.route.hostnames == hostnames);
        match old {
            Some(old) => implicit.push(old.clone()),
            None => implicit.push(service_route(part, body, hostnames)?),
        }
    }
    routes.append(&mut implicit);
    Ok(routes)
}

/// Whether `old` (the part a route was validated from) and `new` are the
/// same part: equal hashes, and the same shared body or an equal one (so a
/// wrong stated hash never makes a stale route reused).
fn same_part(old: &Part, new: &Part) -> bool {
    old.hash == new.hash && (Arc::ptr_eq(&old.body, &new.body) || old.body == new.body)
}

/// Previous routes sorted by name, taken in name order.
struct Previous<'a, F> {
    rest: &'a [IndexedRoute],
    name: F,
}

impl<'a, F: Fn(&'a IndexedRoute) -> &'a str> Previous<'a, F> {
    fn new(routes: &'a [IndexedRoute], name: F) -> Self {
        Previous { rest: routes, name }
    }

    /// The route named `name`, skipping the ones before it (names must be
    /// asked in increasing order); `None` if there is none.
    fn take(&mut self, name: &str) -> Option<&'a IndexedRoute> {
        while let Some((first, rest)) = self.rest.split_first() {
            match (self.name)(first).cmp(name) {
                Ordering::Less => self.rest = rest,
                Ordering::Equal => {
                    self.rest = rest;
                    return Some(first);
                }
                Ordering::Greater => return None,
            }
        }
        None
    }
}

/// Validates a route part.
fn route(part: &Part, body: &RoutePart) -> Result<IndexedRoute, LookupError> {
    let doc = Document::Route(RouteDoc {
        name: body.name.clone(),
        spec: body.spec.clone(),
    });
    let id = || PartId::Route(body.name.clone());
    match validate(&doc) {
        Ok(Resource::Route(route)) => Ok(IndexedRoute {
            name: body.name.clone(),
            origin: RouteOrigin::Route {
                created_revision: body.created_revision,
            },
            route: Arc::new(route),
            unresolved_backends: body.unresolved_backends.clone(),
            part: part.clone(),
        }),
        Ok(other) => Err(invalid(id(), &doc, format!("is a {}", other.kind()))),
        Err(problems) => Err(LookupError::InvalidPart {
            part: id(),
            problems: Problems(problems),
        }),
    }
}

/// The valid implicit hostnames of a service part that no route claims.
fn implicit_hostnames(
    part: &ServicePart,
    claimed: &HashSet<&str>,
) -> Result<Vec<Hostname>, LookupError> {
    let doc = service_doc(part);
    let mut out = Vec::new();
    for (i, h) in part.implicit_hostnames.iter().enumerate() {
        if let Err(reason) = check_hostname(h, false) {
            let problem = Problem {
                resource: doc.label(),
                path: format!("implicitHostnames[{i}]"),
                reason,
            };
            return Err(LookupError::InvalidPart {
                part: PartId::Service(part.name.clone()),
                problems: Problems(vec![problem]),
            });
        }
        if !claimed.contains(h.as_str()) {
            out.push(Hostname::Exact(h.clone()));
        }
    }
    Ok(out)
}

fn service_doc(part: &ServicePart) -> Document {
    Document::Service(ServiceDoc {
        name: part.name.clone(),
        spec: part.spec.clone(),
    })
}

/// Validates a service part into its implicit route: every path of its
/// hostnames to the service.
fn service_route(
    part: &Part,
    body: &ServicePart,
    hostnames: Vec<Hostname>,
) -> Result<IndexedRoute, LookupError> {
    let doc = service_doc(body);
    let id = || PartId::Service(body.name.clone());
    let service = match validate(&doc) {
        Ok(Resource::Service(s)) => s,
        Ok(other) => return Err(invalid(id(), &doc, format!("is a {}", other.kind()))),
        Err(problems) => {
            return Err(LookupError::InvalidPart {
                part: id(),
                problems: Problems(problems),
            })
        }
    };
    let rule = Rule {
        name: None,
        matches: vec![Match {
            path: PathMatch::Prefix("/".to_owned()),
            headers: Vec::new(),
            query_params: Vec::new(),
            method: None,
        }],
        filters: Vec::new(),
        backends: vec![Backend {
            service: service.name.clone(),
            port: None,
            weight: 1,
            filters: Vec::new(),
        }],
        timeouts: Timeouts::default(),
        retry: None,
    };
    Ok(IndexedRoute {
        name: format!("service:{}", service.name),
        origin: RouteOrigin::Service,
        route: Arc::new(Route {
            name: service.name,
            hostnames,
            rules: vec![rule],
        }),
        unresolved_backends: BTreeSet::new(),
        part: part.clone(),
    })
}

fn invalid(part: PartId, doc: &Document, reason: String) -> LookupError {
    LookupError::InvalidPart {
        part,
        problems: Problems(vec![Problem {
            resource: doc.label(),
            path: String::new(),
            reason,
        }]),
    }
}

/// The host buckets of `routes`.
pub(super) fn hosts<'a>(routes: &'a [IndexedRoute]) -> Result<Hosts, LookupError> {
    let mut builders: Fast<Option<&'a Hostname>, Builder<'a>> = Fast::default();
    let mut cands = Vec::new();
    for (r, route) in routes.iter().enumerate() {
        cands.clear();
        for (i, rule) in route.route.rules.iter().enumerate() {
            for (j, m) in rule.matches.iter().enumerate() {
                let cand = Cand {
                    route: u32::try_from(r).map_err(|_| too_large("routes"))?,
                    rule: u16::try_from(i).map_err(|_| too_large("rules in a route"))?,
                    index: u16::try_from(j).map_err(|_| too_large("matches in a rule"))?,
                    method: m.method,
                    more: !m.headers.is_empty() || !m.query_params.is_empty(),
                };
                cands.push((cand, &m.path));
            }
        }
        let mut add = |host: Option<&'a Hostname>| {
            let b = builders.entry(host).or_default();
            for &(cand, path) in &cands {
                b.add(cand, path);
            }
        };
        if route.route.hostnames.is_empty() {
            add(None);
        }
        for h in &route.route.hostnames {
            add(Some(h));
        }
    }
    let mut hosts = Hosts::default();
    for (host, builder) in builders {
        let bucket = builder.finish(routes)?;
        match host {
            None => hosts.any = Some(bucket),
            Some(Hostname::Exact(h)) => {
                hosts.exact.insert(Key::new(h), bucket);
            }
            Some(Hostname::Wildcard(suffix)) => {
                hosts.wildcard_lens.insert(suffix.len());
                hosts.wildcard.insert(Key::new(suffix), bucket);
            }
        }
    }
    Ok(hosts)
}

fn too_large(what: &str) -> LookupError {
    LookupError::TooLarge(format!("too many {what} to index"))
}

/// A bucket being filled: candidates by path kind and key, in route order.
#[derive(Default)]
struct Builder<'r> {
    exact: Fast<&'r str, Acc>,
    prefixes: Fast<&'r str, Acc>,
    root: Vec<Cand>,
    regexes: Vec<Cand>,
}

/// The candidates of one key so far: most keys get one, and no `Vec`.
enum Acc {
    One(Cand),
    Many(Vec<Cand>),
}

impl Acc {
    fn push(&mut self, cand: Cand) {
        match self {
            Acc::Many(list) => list.push(cand),
            Acc::One(first) => *self = Acc::Many(vec![*first, cand]),
        }
    }
}

impl<'r> Builder<'r> {
    fn add(&mut self, cand: Cand, path: &'r PathMatch) {
        let (map, key) = match path {
            PathMatch::Exact(p) => (&mut self.exact, p),
            PathMatch::Prefix(p) if p == "/" => return self.root.push(cand),
            PathMatch::Prefix(p) => (&mut self.prefixes, p),
            PathMatch::Regex(_) => return self.regexes.push(cand),
        };
        match map.entry(key) {
            Entry::Vacant(v) => {
                v.insert(Acc::One(cand));
            }
            Entry::Occupied(mut o) => o.get_mut().push(cand),
        }
    }

    fn finish(self, routes: &[IndexedRoute]) -> Result<Bucket, LookupError> {
        let mut bucket = Bucket::default();
        let cands = |acc: Acc| match acc {
            Acc::One(c) => Cands::One(c),
            Acc::Many(list) => sorted(list, routes),
        };
        for (path, acc) in self.exact {
            bucket.exact.insert(Key::new(path), cands(acc));
        }
        for (prefix, acc) in self.prefixes {
            bucket.prefix_lens.insert(prefix.len());
            bucket.prefixes.insert(Key::new(prefix), cands(acc));
        }
        bucket.root = sorted(self.root, routes);
        let mut literals = Vec::new();
        let mut regexes = Vec::new();
        for &cand in sorted(self.regexes, routes).as_slice() {
            let literal = match resolve(cand, routes).map(|m| &m.path) {
                Some(PathMatch::Regex(p)) => literal_prefix(p.source()),
                _ => "",
            };
            let (first, rest) = literal.as_bytes().split_at(literal.len().min(8));
            let rest_start = u32::try_from(literals.len()).map_err(|_| too_large("regexes"))?;
            literals.extend_from_slice(rest);
            let rest_end = u32::try_from(literals.len()).map_err(|_| too_large("regexes"))?;
            regexes.push(RegexCand {
                head: head8(first),
                mask: match first.len() {
                    8 => u64::MAX,
                    n => (1 << (8 * n)) - 1,
                },
                rest_start,
                rest_end,
                cand,
            });
        }
        bucket.regexes = regexes.into();
        bucket.literals = literals.into();
        Ok(bucket)
    }
}

/// The candidates sorted by [`MatchKey`] (keys are only made when there
/// is something to sort).
fn sorted(mut list: Vec<Cand>, routes: &[IndexedRoute]) -> Cands {
    if list.len() == 1 {
        if let Some(&only) = list.first() {
            return Cands::One(only);
        }
    }
    list.sort_by_cached_key(|&c| key(c, routes));
    Cands::Many(list.into_boxed_slice())
}

fn resolve(c: Cand, routes: &[IndexedRoute]) -> Option<&Match> {
    c.resolve(routes).map(|m| m.matched)
}

/// The precedence key of a candidate (`None` for none, never the case).
fn key(c: Cand, routes: &[IndexedRoute]) -> Option<MatchKey> {
    let m = c.resolve(routes)?;
    Some(MatchKey::new(
        m.matched,
        m.route.created_revision(),
        &m.route.name,
        m.rule_index,
        m.match_index,
    ))
}
