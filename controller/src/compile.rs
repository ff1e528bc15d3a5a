//! Compile: every mirrored key at one etcd revision → the immutable
//! [`RouteTable`] of that revision, the status of every resource, and counts.
//!
//! A pure function of the mirror's contents (keys, values, create and mod
//! revisions): the same contents give the same table, byte for byte, with
//! the same hash, whatever order the keys arrived in and whatever a
//! [`Compiler`] compiled before.
//!
//! - Each resource key's value is parsed, must name the resource its key
//!   names, and is validated. Any failure rejects that resource alone: its
//!   status lists every problem (`spec.rules[0].matches[1].path.value:
//!   reason`), it stays out of the table, nothing else changes.
//! - Health keys set their endpoint's health; a bad value is ignored.
//! - Endpoints go into their service's part, sorted by name; an endpoint
//!   whose service is missing or rejected is rejected (`service `x` not
//!   found`) and comes back with the service.
//! - Each accepted service keeps the implicit hostnames `<name>` and
//!   `<name>.mesh` that no accepted route lists exactly.
//! - Routes whose backendRefs (or request mirrors) name no accepted service
//!   are accepted with those names in `unresolvedBackends` and one status
//!   reason per reference (Gateway API: that share of requests answers 500).
//!
//! [`Compiler`] keeps each key's parsed and validated form, and the part
//! built from it, until the key's value changes, so one changed route among
//! 100k costs one parse, one validation and one part hash; the rest of a
//! compile is a walk over the keys and a copy of the table. See
//! [`precedence`] for the order in which routers try matches.

mod counts;
mod entry;
mod precedence;
mod routes;
mod services;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

pub use counts::Counts;
pub use precedence::precedence;

use crate::mirror::Mirror;
use crate::status::{ResourceStatus, State};
use entry::{Entry, Item, Valid};
use mesh_config::keys::{Keys, ResourceId};
use mesh_config::table::{Part, RouteTable};
use std::collections::BTreeMap;

/// The result of one compile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compiled {
    /// The table; its revision is the mirror's.
    pub table: RouteTable,
    /// One status per resource key in the mirror.
    pub statuses: BTreeMap<ResourceId, ResourceStatus>,
    /// Accepted and rejected resources per kind.
    pub counts: Counts,
}

/// Compiles mirrors, reusing what it parsed, validated and hashed for keys
/// whose values did not change since its last compile.
#[derive(Debug)]
pub struct Compiler {
    keys: Keys,
    /// One entry per key of the last mirror compiled, in key order.
    entries: Vec<Entry>,
    /// The service parts of the last compile, by name.
    service_parts: BTreeMap<String, Part>,
    /// The accepted services of the last compile, sorted.
    services: Vec<String>,
}

/// Compiles `mirror` with a fresh [`Compiler`].
pub fn compile(keys: &Keys, mirror: &Mirror) -> Compiled {
    Compiler::new(keys.clone()).compile(mirror)
}

impl Compiler {
    pub fn new(keys: Keys) -> Compiler {
        Compiler {
            keys,
            entries: Vec::new(),
            service_parts: BTreeMap::new(),
            services: Vec::new(),
        }
    }

    /// Compiles the table at `mirror.revision`.
    pub fn compile(&mut self, mirror: &Mirror) -> Compiled {
        self.refresh(mirror);
        let mut parts = Vec::new();
        let mut statuses = Vec::with_capacity(self.entries.len());
        let index = services::Index::of(&self.entries);
        index.service_parts(&mut self.service_parts, &mut parts);
        resource_statuses(&self.entries, &index, &mut statuses);
        let services_changed = !index.services.keys().eq(self.services.iter());
        if services_changed {
            self.services = index.services.keys().map(|s| (*s).to_owned()).collect();
        }
        routes::route_parts(
            &mut self.entries,
            &self.services,
            services_changed,
            &mut parts,
            &mut statuses,
        );

        let mut counts = Counts::default();
        for (id, status) in &statuses {
            counts.add(id.kind(), status.state);
        }
        Compiled {
            table: RouteTable {
                revision: mirror.revision,
                parts: parts.into_iter().map(|p| (p.id(), p)).collect(),
            },
            statuses: statuses.into_iter().collect(),
            counts,
        }
    }

    /// Brings the entries in line with `mirror`: a key whose value is
    /// unchanged keeps its entry, others are built afresh, and entries of
    /// keys that are gone are dropped. When the keys are the same as last
    /// time (a change, not a put of a new key or a delete) entries are
    /// updated in place; otherwise one merge walk over both sorted lists.
    fn refresh(&mut self, mirror: &Mirror) {
        if self.entries.len() == mirror.kvs.len() {
            let mut same_keys = true;
            for (e, (key, stored)) in self.entries.iter_mut().zip(&mirror.kvs) {
                if e.key != *key {
                    same_keys = false;
                    break;
                }
                if !e.is_current(stored) {
                    *e = Entry::build(&self.keys, key, stored);
                }
            }
            if same_keys {
                return;
            }
        }
        let mut old = std::mem::take(&mut self.entries).into_iter().peekable();
        let mut next = Vec::with_capacity(mirror.kvs.len());
        for (key, stored) in &mirror.kvs {
            while old.next_if(|e| e.key < *key).is_some() {}
            let entry = match old.next_if(|e| e.key == *key) {
                Some(e) if e.is_current(stored) => e,
                _ => Entry::build(&self.keys, key, stored),
            };
            next.push(entry);
        }
        self.entries = next;
    }
}

/// The statuses of every resource but valid routes (see
/// [`routes::route_parts`]).
fn resource_statuses(
    entries: &[Entry],
    index: &services::Index<'_>,
    out: &mut Vec<(ResourceId, ResourceStatus)>,
) {
    for e in entries {
        let Item::Resource { id, outcome } = &e.item else {
            continue;
        };
        let status = |state, reasons| ResourceStatus {
            state,
            revision: e.mod_revision,
            reasons,
        };
        let status = match (id, outcome) {
            (_, Err(reasons)) => status(State::Rejected, reasons.clone()),
            (_, Ok(Valid::Route(_))) => continue,
            (ResourceId::Endpoint { service, .. }, Ok(_)) if !index.has_service(service) => status(
                State::Rejected,
                vec![format!("service `{service}` not found")],
            ),
            (_, Ok(_)) => status(State::Accepted, Vec::new()),
        };
        out.push((id.clone(), status));
    }
}
