//! Services: which ones are accepted, their endpoints with health, the
//! implicit hostnames no route claims, and their table parts.

use super::entry::{Entry, Item, Valid};
use mesh_config::keys::ResourceId;
use mesh_config::spec::ServiceSpec;
use mesh_config::table::{EndpointEntry, Health, Part, PartBody, ServicePart};
use std::collections::{BTreeMap, HashMap, HashSet};

/// The implicit hostnames of a service: its name and `<name>.mesh`.
pub fn implicit_names(service: &str) -> [String; 2] {
    [service.to_owned(), format!("{service}.mesh")]
}

/// What the service parts are built from, borrowed from the entries.
pub(super) struct Index<'a> {
    /// Accepted services by name.
    pub services: BTreeMap<&'a str, &'a ServiceSpec>,
    /// Valid endpoints by the service their key names (which may not exist).
    endpoints: BTreeMap<&'a str, Vec<&'a EndpointEntry>>,
    /// Health by (service, endpoint).
    health: HashMap<(&'a str, &'a str), Health>,
    /// Implicit hostnames of accepted services that a valid route lists
    /// exactly.
    claimed: HashSet<&'a str>,
}

impl<'a> Index<'a> {
    pub fn of(entries: &'a [Entry]) -> Index<'a> {
        let mut index = Index {
            services: BTreeMap::new(),
            endpoints: BTreeMap::new(),
            health: HashMap::new(),
            claimed: HashSet::new(),
        };
        let mut claims = Vec::new();
        for e in entries {
            claims.extend(e.claims.iter().map(String::as_str));
            match &e.item {
                Item::Resource {
                    id: ResourceId::Service(name),
                    outcome: Ok(Valid::Service(spec)),
                } => {
                    index.services.insert(name, spec);
                }
                Item::Resource {
                    id: ResourceId::Endpoint { service, .. },
                    outcome: Ok(Valid::Endpoint(ep)),
                } => index.endpoints.entry(service).or_default().push(ep),
                Item::Health {
                    service,
                    name,
                    health,
                } => {
                    index.health.insert((service, name), *health);
                }
                _ => {}
            }
        }
        for h in claims {
            if index
                .services
                .contains_key(h.strip_suffix(".mesh").unwrap_or(h))
            {
                index.claimed.insert(h);
            }
        }
        index
    }

    /// True when the endpoint's service is accepted.
    pub fn has_service(&self, service: &str) -> bool {
        self.services.contains_key(service)
    }

    /// The part of each accepted service, in name order. A part whose
    /// content equals the one in `cache` reuses it (and its hash); `cache`
    /// ends up holding exactly this compile's parts.
    pub fn service_parts(&self, cache: &mut BTreeMap<String, Part>, parts: &mut Vec<Part>) {
        let mut next = BTreeMap::new();
        for (name, spec) in &self.services {
            let mut endpoints: Vec<EndpointEntry> = self
                .endpoints
                .get(name)
                .map(|list| {
                    list.iter()
                        .map(|ep| EndpointEntry {
                            health: self
                                .health
                                .get(&(*name, ep.name.as_str()))
                                .copied()
                                .unwrap_or_default(),
                            ..(*ep).clone()
                        })
                        .collect()
                })
                .unwrap_or_default();
            endpoints.sort_by(|a, b| a.name.cmp(&b.name));
            let body = PartBody::Service(ServicePart {
                name: (*name).to_owned(),
                spec: (*spec).clone(),
                endpoints,
                implicit_hostnames: implicit_names(name)
                    .into_iter()
                    .filter(|h| !self.claimed.contains(h.as_str()))
                    .collect(),
            });
            let part = match cache.remove(*name) {
                Some(old) if *old.body == body => old,
                _ => Part::new(body),
            };
            parts.push(part.clone());
            next.insert((*name).to_owned(), part);
        }
        *cache = next;
    }
}
