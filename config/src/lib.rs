//! `mesh-config`: the contracts every part of mesh-router shares. Pure: no
//! I/O, no async runtime.
//!
//! # Layout
//! - [`spec`]: the resource documents users write (YAML/JSON, stored in etcd
//!   as JSON): `Service`, `Endpoint`, `Route` (Gateway API `HTTPRouteSpec`).
//! - [`parse`]: text → documents: several YAML or JSON documents per file, a
//!   Gateway API `HTTPRoute` accepted as a Route, structural errors with their
//!   field path.
//! - [`validate`]: documents → typed [`model`] values, reporting every
//!   problem at once with resource, field path and reason; [`validate::limits`]
//!   holds every size limit.
//! - [`model`]: validated, typed resources with defaults applied.
//! - [`duration`]: Gateway API duration strings (`250ms`, `1h30m`).
//! - [`keys`]: the etcd key layout under a configurable prefix.
//! - [`table`]: the compiled route table, split into independently versioned
//!   parts, with diff/apply, content hashes and Gateway API precedence keys.
//! - [`lookup`]: the router's route lookup: an index of a table that finds
//!   the route, rule and match serving a request (Gateway API semantics).
//! - [`wire`]: the controller → router messages.

pub mod duration;
pub mod keys;
pub mod lookup;
pub mod model;
pub mod parse;
pub mod spec;
pub mod table;
pub mod validate;
pub mod wire;

pub use model::Resource;
pub use spec::{Document, Kind};
pub use validate::{validate, validate_all, Problem, Problems};
