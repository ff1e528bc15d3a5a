//! Building the index from a table: validate every part, make the implicit
//! service routes, and sort every match into its host buckets and path
//! keys in [`MatchKey`] order.

use super::bucket::{literal_prefix, Bucket, Cand, RegexCand};
use super::hosts::Hosts;
use super::{IndexedRoute, LookupError, RouteOrigin};
use crate::model::{Backend, Hostname, Match, PathMatch, Resource, Route, Rule, Timeouts};
use crate::spec::{Document, RouteDoc, ServiceDoc};
use crate::table::{MatchKey, PartId, RoutePart, RouteTable, ServicePart};
use crate::validate::{check_hostname, validate, Problem, Problems};
use std::collections::{BTreeSet, HashMap, HashSet};

/// Every route of `table`: its Route parts in name order, then one implicit
/// route per service with implicit hostnames, in name order.
pub(super) fn routes(table: &RouteTable) -> Result<Vec<IndexedRoute>, LookupError> {
    let mut routes = Vec::new();
    for part in table.routes() {
        routes.push(route(part)?);
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
    for part in table.services() {
        let hostnames = implicit_hostnames(part, &claimed)?;
        for h in &hostnames {
            if let Some(first) = owners.insert(h.to_string(), part.name.clone()) {
                return Err(LookupError::DuplicateImplicitHostname {
                    hostname: h.to_string(),
                    first,
                    second: part.name.clone(),
                });
            }
        }
        if !hostnames.is_empty() {
            implicit.push(service_route(part, hostnames)?);
        }
    }
    routes.append(&mut implicit);
    Ok(routes)
}

/// Validates a route part.
fn route(part: &RoutePart) -> Result<IndexedRoute, LookupError> {
    let doc = Document::Route(RouteDoc {
        name: part.name.clone(),
        spec: part.spec.clone(),
    });
    let id = || PartId::Route(part.name.clone());
    match validate(&doc) {
        Ok(Resource::Route(route)) => Ok(IndexedRoute {
            name: part.name.clone(),
            origin: RouteOrigin::Route {
                created_revision: part.created_revision,
            },
            route,
            unresolved_backends: part.unresolved_backends.clone(),
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
    part: &ServicePart,
    hostnames: Vec<Hostname>,
) -> Result<IndexedRoute, LookupError> {
    let doc = service_doc(part);
    let id = || PartId::Service(part.name.clone());
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
        route: Route {
            name: service.name,
            hostnames,
            rules: vec![rule],
        },
        unresolved_backends: BTreeSet::new(),
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
pub(super) fn hosts(routes: &[IndexedRoute]) -> Hosts {
    // Every match once, with its key; buckets hold indexes into these.
    let mut cands = Vec::new();
    let mut keys = Vec::new();
    let mut builders: HashMap<Option<&Hostname>, Builder> = HashMap::new();
    for (r, route) in routes.iter().enumerate() {
        let first = cands.len();
        for (i, rule) in route.route.rules.iter().enumerate() {
            for (j, m) in rule.matches.iter().enumerate() {
                cands.push(Cand {
                    route: r,
                    rule: i,
                    index: j,
                });
                keys.push(MatchKey::new(
                    m,
                    route.created_revision(),
                    &route.name,
                    i,
                    j,
                ));
            }
        }
        let hosts: Vec<Option<&Hostname>> = if route.route.hostnames.is_empty() {
            vec![None]
        } else {
            route.route.hostnames.iter().map(Some).collect()
        };
        for host in hosts {
            let b = builders.entry(host).or_default();
            for (slot, m) in (first..).zip(route.route.rules.iter().flat_map(|r| &r.matches)) {
                b.add(slot, &m.path);
            }
        }
    }
    let mut hosts = Hosts::default();
    for (host, builder) in builders {
        let bucket = builder.finish(&cands, &keys, routes);
        match host {
            None => hosts.any = Some(bucket),
            Some(Hostname::Exact(h)) => {
                hosts.exact.insert(h.as_str().into(), bucket);
            }
            Some(Hostname::Wildcard(suffix)) => {
                hosts.wildcard_lens.insert(suffix.len());
                hosts.wildcard.insert(suffix.as_str().into(), bucket);
            }
        }
    }
    hosts
}

/// A bucket being filled with match slots (indexes into the candidates).
#[derive(Default)]
struct Builder {
    exact: HashMap<String, Vec<usize>>,
    prefixes: HashMap<String, Vec<usize>>,
    root: Vec<usize>,
    regexes: Vec<usize>,
}

impl Builder {
    fn add(&mut self, slot: usize, path: &PathMatch) {
        match path {
            PathMatch::Exact(p) => self.exact.entry(p.clone()).or_default().push(slot),
            PathMatch::Prefix(p) if p == "/" => self.root.push(slot),
            PathMatch::Prefix(p) => self.prefixes.entry(p.clone()).or_default().push(slot),
            PathMatch::Regex(_) => self.regexes.push(slot),
        }
    }

    fn finish(self, cands: &[Cand], keys: &[MatchKey], routes: &[IndexedRoute]) -> Bucket {
        let sorted = |mut slots: Vec<usize>| -> Box<[Cand]> {
            slots.sort_by(|a, b| keys.get(*a).cmp(&keys.get(*b)));
            slots
                .iter()
                .filter_map(|s| cands.get(*s).copied())
                .collect()
        };
        let mut bucket = Bucket::default();
        for (path, slots) in self.exact {
            bucket.exact.insert(path.into(), sorted(slots));
        }
        for (prefix, slots) in self.prefixes {
            bucket.prefix_lens.insert(prefix.len());
            bucket.prefixes.insert(prefix.into(), sorted(slots));
        }
        bucket.root = sorted(self.root);
        bucket.regexes = sorted(self.regexes)
            .iter()
            .map(|&cand| RegexCand {
                cand,
                literal: literal_of(cand, routes).into(),
            })
            .collect();
        bucket
    }
}

/// The literal start of a regex candidate's pattern (empty for any other).
fn literal_of(cand: Cand, routes: &[IndexedRoute]) -> &str {
    let path = routes
        .get(cand.route)
        .and_then(|r| r.route.rules.get(cand.rule))
        .and_then(|r| r.matches.get(cand.index))
        .map(|m| &m.path);
    match path {
        Some(PathMatch::Regex(p)) => literal_prefix(p.source()),
        _ => "",
    }
}
