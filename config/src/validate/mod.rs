//! Validation: turns a [`Document`] into a typed [`Resource`], or reports
//! every problem found in it at once, each with the resource, the field path
//! and the reason:
//!
//! ```text
//! route orders-canary: spec.rules[0].backendRefs[1].weight: must be between 0 and 1000000
//! ```
//!
//! [`validate_all`] also checks what only a set of documents shows
//! (duplicate names within one apply).

pub mod limits;

use crate::model::Resource;
use crate::spec::Document;
use std::fmt;

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

/// Collects the problems of one resource while its fields are checked.
pub(crate) struct Checker {
    resource: String,
    problems: Vec<Problem>,
}

impl Checker {
    pub(crate) fn new(resource: String) -> Checker {
        Checker {
            resource,
            problems: Vec::new(),
        }
    }

    /// Records that the field at `path` is wrong for `reason`.
    pub(crate) fn report(&mut self, path: &str, reason: impl Into<String>) {
        self.problems.push(Problem {
            resource: self.resource.clone(),
            path: path.to_owned(),
            reason: reason.into(),
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
}

/// Validates one document into a typed resource, reporting every problem.
pub fn validate(doc: &Document) -> Result<Resource, Vec<Problem>> {
    todo!("validate {}", doc.label())
}

/// Validates a set of documents meant to be applied together: each one, plus
/// no two documents with the same identity (kind and name; for endpoints,
/// service and name). Returns the resources in input order, or every problem.
pub fn validate_all(docs: &[Document]) -> Result<Vec<Resource>, Vec<Problem>> {
    todo!("validate_all {}", docs.len())
}

/// Checks a DNS-1123 label (the rule for every resource name).
pub fn check_label(s: &str) -> Result<(), String> {
    todo!("{s}")
}

/// Checks a hostname (RFC 1123 subdomain, lower-case, at most 253
/// characters); with `allow_wildcard`, a leading `*.` label is allowed.
pub fn check_hostname(s: &str, allow_wildcard: bool) -> Result<(), String> {
    todo!("{s} {allow_wildcard}")
}

/// Checks an HTTP header name (RFC 9110 token, at most 256 characters).
pub fn check_header_name(s: &str) -> Result<(), String> {
    todo!("{s}")
}

/// Compiles a user regex anchored at both ends (`^(?:source)$`) within the
/// limits of [`limits`].
pub fn compile_regex(source: &str) -> Result<regex::Regex, String> {
    todo!("{source}")
}
