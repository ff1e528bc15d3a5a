//! Routes: their table parts, with the backends that name no accepted
//! Service, and their statuses.

use super::entry::{BuiltRoute, Entry, Item, Valid};
use crate::status::{ResourceStatus, State};
use mesh_config::keys::ResourceId;
use mesh_config::table::{Part, PartBody, RoutePart};
use std::collections::BTreeSet;

/// Pushes the part and the status of every valid route, and marks every
/// entry as no longer fresh.
///
/// What a route's part and status hold depends on its entry and on the
/// accepted services only: when neither changed (`services_changed` false,
/// entry not fresh), last compile's are reused without a look at the
/// route. Otherwise its references are resolved again, and the part is
/// rebuilt (and hashed) only if the set of unresolved backends changed.
pub(super) fn route_parts(
    entries: &mut [Entry],
    services: &[String],
    services_changed: bool,
    parts: &mut Vec<Part>,
    statuses: &mut Vec<(ResourceId, ResourceStatus)>,
) {
    for e in entries {
        let fresh = std::mem::replace(&mut e.fresh, false);
        let Item::Resource {
            id,
            outcome: Ok(Valid::Route(route)),
        } = &mut e.item
        else {
            continue;
        };
        if fresh || services_changed || route.built.is_none() {
            let mut reasons = Vec::new();
            let mut unresolved = BTreeSet::new();
            for r in &route.refs {
                if services.binary_search(&r.service).is_err() {
                    reasons.push(r.unresolved_reason());
                    unresolved.insert(r.service.clone());
                }
            }
            let part = match route.built.take() {
                Some(b) if unresolved_of(&b.part) == Some(&unresolved) => b.part,
                _ => Part::new(PartBody::Route(RoutePart {
                    name: id.name().to_owned(),
                    created_revision: e.create_revision,
                    spec: route.spec.clone(),
                    unresolved_backends: unresolved,
                })),
            };
            route.built = Some(BuiltRoute { part, reasons });
        }
        if let Some(built) = &route.built {
            parts.push(built.part.clone());
            statuses.push((
                id.clone(),
                ResourceStatus {
                    state: State::Accepted,
                    revision: e.mod_revision,
                    reasons: built.reasons.clone(),
                },
            ));
        }
    }
}

fn unresolved_of(part: &Part) -> Option<&BTreeSet<String>> {
    match &*part.body {
        PartBody::Route(r) => Some(&r.unresolved_backends),
        PartBody::Service(_) => None,
    }
}
