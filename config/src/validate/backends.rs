//! Backend references: the `backendRefs` of a rule and the `backendRef` of
//! a request mirror. In the mesh a backend is a mesh Service, named by a
//! DNS-1123 label: `group` must be empty (core), `kind` `Service`, and
//! `namespace` absent (mesh services have no namespaces). Unlike the Gateway
//! API, `port` is optional: it overrides the endpoints' own ports.
//!
//! A rule's backendRefs: at most [`BACKEND_REFS_MAX`], weights
//! 0..=[`WEIGHT_MAX`] (default 1), no two with the same name and port, and
//! their own filters (see [`filters`](super::filters)).

use super::filters::{filters, Scope};
use super::limits::{BACKEND_REFS_MAX, WEIGHT_MAX};
use super::{all, Checker};
use crate::model::{Backend, Name};
use crate::spec::{BackendObjectReference, BackendRef, RouteMatch};
use std::collections::HashMap;

/// The fields that `BackendRef` and `BackendObjectReference` share.
pub(super) struct ObjectRef<'a> {
    pub name: &'a str,
    pub group: Option<&'a str>,
    pub kind: Option<&'a str>,
    pub namespace: Option<&'a str>,
    pub port: Option<i64>,
}

impl<'a> From<&'a BackendObjectReference> for ObjectRef<'a> {
    fn from(r: &'a BackendObjectReference) -> Self {
        ObjectRef {
            name: &r.name,
            group: r.group.as_deref(),
            kind: r.kind.as_deref(),
            namespace: r.namespace.as_deref(),
            port: r.port,
        }
    }
}

impl<'a> From<&'a BackendRef> for ObjectRef<'a> {
    fn from(r: &'a BackendRef) -> Self {
        ObjectRef {
            name: &r.name,
            group: r.group.as_deref(),
            kind: r.kind.as_deref(),
            namespace: r.namespace.as_deref(),
            port: r.port,
        }
    }
}

/// Checks a reference to a mesh Service; returns its name and port.
pub(super) fn object_ref(
    c: &mut Checker,
    path: &str,
    r: ObjectRef<'_>,
) -> Option<(Name, Option<u16>)> {
    let name = c.name(&format!("{path}.name"), r.name);
    let mut ok = true;
    if let Some(group) = r.group.filter(|g| !g.is_empty()) {
        c.report(
            &format!("{path}.group"),
            format!("must be empty (the core group of mesh Services), not {group:?}"),
        );
        ok = false;
    }
    if let Some(kind) = r.kind.filter(|k| *k != "Service") {
        c.report(
            &format!("{path}.kind"),
            format!("must be Service, not {kind:?}"),
        );
        ok = false;
    }
    if r.namespace.is_some() {
        c.report(
            &format!("{path}.namespace"),
            "must not be set: mesh services have no namespaces",
        );
        ok = false;
    }
    let port = match r.port {
        None => Some(None),
        Some(p) => c.port(&format!("{path}.port"), p).map(Some),
    };
    ok.then_some((name?, port?))
}

/// Checks the backendRefs of the rule at `base` (`spec.rules[0]`), whose
/// matches (as written) are `matches`.
pub(super) fn backend_refs(
    c: &mut Checker,
    base: &str,
    refs: &[BackendRef],
    matches: &[RouteMatch],
) -> Option<Vec<Backend>> {
    let base = format!("{base}.backendRefs");
    c.list_len(&base, refs.len(), BACKEND_REFS_MAX);
    let mut seen: HashMap<(&str, Option<i64>), usize> = HashMap::new();
    let mut out = Vec::with_capacity(refs.len());
    for (i, b) in refs.iter().enumerate() {
        let path = format!("{base}[{i}]");
        out.push(backend_ref(c, &path, b, matches));
        if let Some(first) = seen.get(&(b.name.as_str(), b.port)) {
            c.report(
                &format!("{path}.name"),
                format!("duplicate of backendRefs[{first}] (same name and port)"),
            );
        } else {
            seen.insert((b.name.as_str(), b.port), i);
        }
    }
    all(out)
}

fn backend_ref(
    c: &mut Checker,
    path: &str,
    b: &BackendRef,
    matches: &[RouteMatch],
) -> Option<Backend> {
    let target = object_ref(c, path, b.into());
    let weight = match b.weight {
        None => Some(1),
        Some(w) => c.uint(&format!("{path}.weight"), w, 0, WEIGHT_MAX),
    };
    let scope = Scope {
        matches,
        in_backend: true,
    };
    let filters = filters(c, &format!("{path}.filters"), &b.filters, &scope);
    let (service, port) = target?;
    Some(Backend {
        service,
        port,
        weight: weight?,
        filters: filters?,
    })
}
