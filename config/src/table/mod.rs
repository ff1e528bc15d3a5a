//! The compiled route table: what a controller compiles from every resource
//! at one etcd revision and pushes to routers, and what a router serves.
//!
//! The table is split into independently versioned **parts**, one per
//! Service (with its endpoints, their health and its implicit hostnames) and
//! one per Route (its validated spec, its creation revision for precedence,
//! and the backends it names that do not exist). A change to one route
//! changes one part, so a push carries that part, not the whole table (see
//! [`crate::wire`]).
//!
//! Parts hold resources in their spec form (already validated by the
//! controller); a router validates them again into [`crate::model`] values
//! before it serves them, so a table from a buggy or foreign controller can
//! be rejected as a whole.
//!
//! Everything here is deterministic: parts are kept in `BTreeMap`s, lists
//! are sorted, and [`content_hash`] is a fixed function (FNV-1a, 64 bit) of
//! the canonical JSON, so every controller compiles byte-identical tables
//! from the same revision.

use crate::spec::{RouteSpec, ServiceSpec};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Identifies one part of a table.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "name")]
pub enum PartId {
    Service(String),
    Route(String),
}

/// Health of an endpoint, as the health checker last wrote it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    /// No health status written: the endpoint is used.
    #[default]
    Unknown,
    Healthy,
    /// Not used while another endpoint of the service is not unhealthy.
    Unhealthy,
}

/// One endpoint of a service, in the table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EndpointEntry {
    pub name: String,
    pub address: String,
    pub port: u16,
    pub weight: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub health: Health,
}

/// A Service part: the service, its valid endpoints sorted by name, and the
/// implicit hostnames (`<name>`, `<name>.mesh`) that no Route claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServicePart {
    pub name: String,
    pub spec: ServiceSpec,
    pub endpoints: Vec<EndpointEntry>,
    pub implicit_hostnames: Vec<String>,
}

/// A Route part: the validated spec, the revision the route was created at
/// (the Gateway API "oldest route wins" tie-break), and the backendRefs that
/// name no Service (their share of traffic answers 500).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RoutePart {
    pub name: String,
    pub created_revision: i64,
    pub spec: RouteSpec,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub unresolved_backends: BTreeSet<String>,
}

/// The body of a part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum PartBody {
    Service(ServicePart),
    Route(RoutePart),
}

/// A part with its content hash. The body is shared (`Arc`): tables that
/// differ in one part share every other part, so compiling, diffing and
/// applying a one-route change never copies the other 100k routes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    pub hash: u64,
    pub body: Arc<PartBody>,
}

/// The whole compiled table at one revision. In JSON, `{"revision": R,
/// "parts": [...]}` with parts in id order; parsing checks every part hash.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "TableJson", try_from = "TableJson")]
pub struct RouteTable {
    /// The etcd revision it was compiled from.
    pub revision: i64,
    pub parts: BTreeMap<PartId, Part>,
}

/// The JSON form of a [`RouteTable`].
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TableJson {
    revision: i64,
    parts: Vec<Part>,
}

impl From<RouteTable> for TableJson {
    fn from(t: RouteTable) -> Self {
        TableJson {
            revision: t.revision,
            parts: t.parts.into_values().collect(),
        }
    }
}

impl TryFrom<TableJson> for RouteTable {
    type Error = TableError;
    fn try_from(t: TableJson) -> Result<Self, TableError> {
        RouteTable::from_parts(t.revision, t.parts)
    }
}

mod hash;
mod health;
mod precedence;

pub use hash::content_hash;
pub use health::HealthRecord;
pub use precedence::{MatchKey, PathRank};

impl Part {
    /// Wraps a body with its content hash.
    pub fn new(body: PartBody) -> Part {
        let hash = content_hash(&body);
        Part {
            hash,
            body: Arc::new(body),
        }
    }

    pub fn id(&self) -> PartId {
        match &*self.body {
            PartBody::Service(s) => PartId::Service(s.name.clone()),
            PartBody::Route(r) => PartId::Route(r.name.clone()),
        }
    }
}

/// What [`RouteTable::diff`] finds between two tables.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changes {
    /// Parts that are new or whose hash changed.
    pub upserts: Vec<Part>,
    /// Parts that are gone.
    pub removes: Vec<PartId>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.upserts.is_empty() && self.removes.is_empty()
    }
}

/// Why a change could not be applied to a table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    #[error("part {id:?} has hash {stated:x} but its content hashes to {actual:x}")]
    PartHash {
        id: PartId,
        stated: u64,
        actual: u64,
    },
    #[error("table hash after applying changes is {actual:x}, expected {expected:x}")]
    TableHash { expected: u64, actual: u64 },
}

impl RouteTable {
    /// The hash of the whole table's content (not its revision): equal
    /// hashes mean equal parts.
    pub fn hash(&self) -> u64 {
        hash::table_hash(self.parts.iter().map(|(id, p)| (id, p.hash)))
    }

    /// The parts to upsert and remove to turn `old` into `self`, in part
    /// order.
    pub fn diff(&self, old: &RouteTable) -> Changes {
        let upserts = self
            .parts
            .iter()
            .filter(|(id, p)| old.parts.get(*id).map(|o| o.hash) != Some(p.hash))
            .map(|(_, p)| p.clone())
            .collect();
        let removes = old
            .parts
            .keys()
            .filter(|id| !self.parts.contains_key(*id))
            .cloned()
            .collect();
        Changes { upserts, removes }
    }

    /// A copy of this table with `changes` applied at `revision`, checked
    /// against each part's hash and the expected table hash.
    pub fn apply(
        &self,
        revision: i64,
        changes: &Changes,
        expected_hash: u64,
    ) -> Result<RouteTable, TableError> {
        let mut next = RouteTable {
            revision,
            parts: self.parts.clone(),
        };
        for id in &changes.removes {
            next.parts.remove(id);
        }
        for part in &changes.upserts {
            part.verify()?;
            next.parts.insert(part.id(), part.clone());
        }
        let actual = next.hash();
        if actual != expected_hash {
            return Err(TableError::TableHash {
                expected: expected_hash,
                actual,
            });
        }
        Ok(next)
    }

    /// Builds a table from parts, checking each part's hash.
    pub fn from_parts(revision: i64, parts: Vec<Part>) -> Result<RouteTable, TableError> {
        let mut table = RouteTable {
            revision,
            parts: BTreeMap::new(),
        };
        for part in parts {
            part.verify()?;
            table.parts.insert(part.id(), part);
        }
        Ok(table)
    }

    /// The service parts, in name order.
    pub fn services(&self) -> impl Iterator<Item = &ServicePart> {
        self.parts.values().filter_map(|p| match &*p.body {
            PartBody::Service(s) => Some(s),
            PartBody::Route(_) => None,
        })
    }

    /// The route parts, in name order.
    pub fn routes(&self) -> impl Iterator<Item = &RoutePart> {
        self.parts.values().filter_map(|p| match &*p.body {
            PartBody::Route(r) => Some(r),
            PartBody::Service(_) => None,
        })
    }
}

impl Part {
    /// Checks that the stated hash is the content's.
    pub fn verify(&self) -> Result<(), TableError> {
        let actual = content_hash(&*self.body);
        if actual == self.hash {
            Ok(())
        } else {
            Err(TableError::PartHash {
                id: self.id(),
                stated: self.hash,
                actual,
            })
        }
    }
}

#[cfg(test)]
mod tests;
