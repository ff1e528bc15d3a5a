//! Validation: turns a [`Document`] into a typed [`Resource`], or reports
//! every problem found in it at once, each with the resource, the field path
//! and the reason:
//!
//! ```text
//! route orders-canary: spec.rules[0].backendRefs[1].weight: must be between 0 and 1000000 (got -1)
//! ```
//!
//! Field paths use the document's own spelling (`backendRefs`, not
//! `backend_refs`). The rules follow the Kubernetes Gateway API v1 CRD
//! validation wherever it has one, so a route accepted here is accepted by
//! Kubernetes too; the exceptions are listed in the module of each kind.
//!
//! One concept per module:
//! - `names`: names, hostnames, header names and values,
//!   label keys and values;
//! - `paths`: path match values and replacement paths;
//! - `patterns`: user regular expressions;
//! - `service`, `endpoint`, `route`: one kind each;
//! - `filters`, `backends`: the filters and backendRefs of route rules.
//!
//! [`validate_all`] also checks what only a set of documents shows
//! (duplicate identities within one apply).

pub mod limits;

mod backends;
mod endpoint;
mod filters;
mod names;
mod paths;
mod patterns;
mod route;
mod service;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

pub use names::{check_header_name, check_hostname, check_label};
pub use patterns::compile_regex;

use crate::duration::parse_duration;
use crate::model::{Name, Resource};
use crate::spec::{Document, Kind};
use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

/// One thing wrong with one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// How the resource is named in messages: `route orders-canary`,
    /// `endpoint orders/orders-1`, or `document 3` when it has no name yet.
    pub resource: String,
    /// Field path inside the document, e.g. `spec.rules[0].matches[1].path.value`;
    /// empty when the problem is the document as a whole.
    pub path: String,
    pub reason: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}: {}", self.resource, self.reason)
        } else {
            write!(f, "{}: {}: {}", self.resource, self.path, self.reason)
        }
    }
}

/// Every problem found, one per line when displayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problems(pub Vec<Problem>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}

/// Escapes the control characters of a message quoting user input (a name,
/// a duration...), so that every problem displays on one line.
fn one_line(s: String) -> String {
    if !s.contains(char::is_control) {
        return s;
    }
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Collects the problems of one resource while its fields are checked.
///
/// Checks return `Option`s: `None` means a problem was recorded, and the
/// value being built is abandoned, but checking goes on so that every
/// problem is reported.
pub(crate) struct Checker {
    resource: String,
    problems: Vec<Problem>,
}

impl Checker {
    pub(crate) fn new(resource: String) -> Checker {
        Checker {
            resource: one_line(resource),
            problems: Vec::new(),
        }
    }

    /// Records that the field at `path` is wrong for `reason` (control
    /// characters quoted from the input escaped).
    pub(crate) fn report(&mut self, path: &str, reason: impl Into<String>) {
        self.problems.push(Problem {
            resource: self.resource.clone(),
            path: path.to_owned(),
            reason: one_line(reason.into()),
        });
    }

    /// Turns a check's `Result` into an `Option`, recording the error.
    pub(crate) fn check<T>(&mut self, path: &str, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(reason) => {
                self.report(path, reason);
                None
            }
        }
    }

    pub(crate) fn finish<T>(self, value: Option<T>) -> Result<T, Vec<Problem>> {
        match value {
            Some(v) if self.problems.is_empty() => Ok(v),
            _ => Err(self.problems),
        }
    }

    /// A resource or reference name (DNS-1123 label).
    pub(crate) fn name(&mut self, path: &str, s: &str) -> Option<Name> {
        self.check(path, Name::parse(s))
    }

    /// An integer within `lo..=hi`.
    pub(crate) fn int(&mut self, path: &str, v: i64, lo: i64, hi: i64) -> Option<i64> {
        if (lo..=hi).contains(&v) {
            Some(v)
        } else {
            self.report(path, format!("must be between {lo} and {hi} (got {v})"));
            None
        }
    }

    /// A TCP port, 1..=65535.
    pub(crate) fn port(&mut self, path: &str, v: i64) -> Option<u16> {
        self.int(path, v, 1, 65535)
            .and_then(|v| u16::try_from(v).ok())
    }

    /// A non-negative integer within `lo..=hi` (`hi` fits a `u32`).
    pub(crate) fn uint(&mut self, path: &str, v: i64, lo: i64, hi: i64) -> Option<u32> {
        self.int(path, v, lo, hi)
            .and_then(|v| u32::try_from(v).ok())
    }

    /// A GEP-2257 duration string.
    pub(crate) fn duration(&mut self, path: &str, s: &str) -> Option<Duration> {
        self.check(path, parse_duration(s).map_err(|e| e.to_string()))
    }

    /// Reports a list longer than `max` (its items are still checked).
    pub(crate) fn list_len(&mut self, path: &str, len: usize, max: usize) {
        if len > max {
            self.report(path, format!("must have at most {max} entries (has {len})"));
        }
    }
}

/// Collects the `Some` values of checks that were all run, or `None` when any
/// of them failed.
pub(crate) fn all<T>(items: Vec<Option<T>>) -> Option<Vec<T>> {
    items.into_iter().collect()
}

/// Validates one document into a typed resource, reporting every problem.
pub fn validate(doc: &Document) -> Result<Resource, Vec<Problem>> {
    let mut c = Checker::new(doc.label());
    let resource = match doc {
        Document::Service(d) => service::service(&mut c, d).map(Resource::Service),
        Document::Endpoint(d) => endpoint::endpoint(&mut c, d).map(Resource::Endpoint),
        Document::Route(d) => route::route(&mut c, d).map(Resource::Route),
    };
    c.finish(resource)
}

/// Validates a set of documents meant to be applied together: each one, plus
/// no two documents with the same identity (kind and name; for endpoints,
/// service and name). Returns the resources in input order, or every problem.
///
/// A duplicate is reported on the later document, at `name`, naming the
/// earlier one by its 1-based position: `route a: name: duplicate of
/// document 1 (same kind and name)`.
pub fn validate_all(docs: &[Document]) -> Result<Vec<Resource>, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut resources = Vec::with_capacity(docs.len());
    let mut seen: HashMap<(Kind, &str, &str), usize> = HashMap::new();
    for (i, doc) in docs.iter().enumerate() {
        match validate(doc) {
            Ok(r) => resources.push(r),
            Err(mut p) => problems.append(&mut p),
        }
        let (service, what) = match doc {
            Document::Endpoint(e) => (e.spec.service.as_str(), "same service and name"),
            _ => ("", "same kind and name"),
        };
        match seen.get(&(doc.kind(), service, doc.name())) {
            Some(first) => problems.push(Problem {
                resource: one_line(doc.label()),
                path: "name".to_owned(),
                reason: format!("duplicate of document {} ({what})", first + 1),
            }),
            None => {
                seen.insert((doc.kind(), service, doc.name()), i);
            }
        }
    }
    if problems.is_empty() {
        Ok(resources)
    } else {
        Err(problems)
    }
}
