//! Gateway API filters as pure functions, and the forwarding headers the
//! router adds to every request.
//!
//! - [`apply_header_edits`]: `RequestHeaderModifier` and
//!   `ResponseHeaderModifier` (set overwrites every value, add appends,
//!   remove removes every value).
//! - [`redirect`]: `RequestRedirect`, the status and `Location` to answer.
//! - [`rewrite_path`]: the path of `URLRewrite` (and of redirects): full
//!   path replacement, or replacement of the matched prefix element by
//!   element. The hostname of a `URLRewrite` is its `hostname` as is.
//! - [`mirror_sampled`]: whether `RequestMirror` copies this request.
//! - [`forward`]: `x-forwarded-for`, `x-forwarded-proto`, `x-request-id`,
//!   hop-by-hop headers.
//!
//! Header functions work on anything implementing [`HeaderTarget`]:
//! pingora's [`RequestHeader`] and [`ResponseHeader`], and [`HeaderList`]
//! (a plain list, for tests).

pub mod forward;
mod paths;
#[cfg(test)]
mod tests;

pub use forward::{
    add_forwarded_for, ensure_request_id, forwarded_for, forwarded_proto, new_request_id,
    strip_hop_by_hop, Keep, RequestId, HOP_BY_HOP, X_FORWARDED_FOR, X_FORWARDED_PROTO,
    X_REQUEST_ID,
};
pub use paths::{mirror_sampled, redirect, rewrite_path, RequestParts};

use bytes::Bytes;
use mesh_config::model::HeaderEdits;
use pingora::http::{RequestHeader, ResponseHeader};

/// A header could not be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot write header {name}: {reason}")]
pub struct HeaderError {
    pub name: String,
    pub reason: String,
}

impl HeaderError {
    fn new(name: &str, reason: impl ToString) -> HeaderError {
        HeaderError {
            name: name.to_owned(),
            reason: reason.to_string(),
        }
    }
}

/// A header map the filters edit. Names compare case-insensitively.
pub trait HeaderTarget {
    /// Every value of `name`, in order.
    fn values<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a [u8]>;
    /// The first value of `name`.
    fn first(&self, name: &str) -> Option<&[u8]> {
        self.values(name).next()
    }
    /// Whether `name` has any value.
    fn contains(&self, name: &str) -> bool {
        self.first(name).is_some()
    }
    /// Replaces every value of `name` with `value`.
    fn set(&mut self, name: &str, value: &str) -> Result<(), HeaderError>;
    /// [`Self::set`] for a name known at compile time (saves a copy of it).
    fn set_static(&mut self, name: &'static str, value: &str) -> Result<(), HeaderError> {
        self.set(name, value)
    }
    /// Adds a value to `name`, after those it has.
    fn add(&mut self, name: &str, value: &str) -> Result<(), HeaderError>;
    /// [`Self::add`] for a name known at compile time (saves a copy of it).
    fn add_static(&mut self, name: &'static str, value: &str) -> Result<(), HeaderError> {
        self.add(name, value)
    }
    /// Removes every value of `name`; whether it had any.
    fn remove(&mut self, name: &str) -> bool;
    /// Whether any header is named one of `names` (given in lower case).
    /// One pass over the headers: cheaper than a lookup per name when the
    /// answer is usually no.
    fn contains_any(&self, names: &[&str]) -> bool {
        names.iter().any(|n| self.contains(n))
    }
}

/// Applies a header modifier: `set` overwrites (every value), `add`
/// appends, `remove` removes every value. Validation makes the three lists
/// name distinct headers, so their order does not matter.
pub fn apply_header_edits<H: HeaderTarget>(
    edits: &HeaderEdits,
    h: &mut H,
) -> Result<(), HeaderError> {
    for (name, value) in &edits.set {
        h.set(name.as_str(), value)?;
    }
    for (name, value) in &edits.add {
        h.add(name.as_str(), value)?;
    }
    for name in &edits.remove {
        h.remove(name.as_str());
    }
    Ok(())
}

/// Implements [`HeaderTarget`] for a pingora header type (both have the
/// same methods, no common trait). Names are copied once into a `Bytes`
/// (pingora keeps the name's case for HTTP/1); static names are not.
macro_rules! pingora_target {
    ($t:ty) => {
        impl HeaderTarget for $t {
            fn values<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a [u8]> {
                self.headers.get_all(name).into_iter().map(|v| v.as_bytes())
            }

            fn set(&mut self, name: &str, value: &str) -> Result<(), HeaderError> {
                self.insert_header(Bytes::copy_from_slice(name.as_bytes()), value)
                    .map_err(|e| HeaderError::new(name, e))
            }

            fn set_static(&mut self, name: &'static str, value: &str) -> Result<(), HeaderError> {
                self.insert_header(name, value)
                    .map_err(|e| HeaderError::new(name, e))
            }

            fn add(&mut self, name: &str, value: &str) -> Result<(), HeaderError> {
                self.append_header(Bytes::copy_from_slice(name.as_bytes()), value)
                    .map(|_| ())
                    .map_err(|e| HeaderError::new(name, e))
            }

            fn add_static(&mut self, name: &'static str, value: &str) -> Result<(), HeaderError> {
                self.append_header(name, value)
                    .map(|_| ())
                    .map_err(|e| HeaderError::new(name, e))
            }

            fn remove(&mut self, name: &str) -> bool {
                self.remove_header(name).is_some()
            }

            fn contains_any(&self, names: &[&str]) -> bool {
                self.headers.keys().any(|k| names.contains(&k.as_str()))
            }
        }
    };
}

pingora_target!(RequestHeader);
pingora_target!(ResponseHeader);

/// A plain header list: names kept as given, compared case-insensitively.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderList {
    pub entries: Vec<(String, String)>,
}

impl HeaderList {
    pub fn new() -> HeaderList {
        HeaderList::default()
    }

    /// Every value of `name` as text (for assertions).
    pub fn get_all(&self, name: &str) -> Vec<&str> {
        self.entries
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

impl<N: Into<String>, V: Into<String>> FromIterator<(N, V)> for HeaderList {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Self {
        HeaderList {
            entries: iter
                .into_iter()
                .map(|(n, v)| (n.into(), v.into()))
                .collect(),
        }
    }
}

impl HeaderTarget for HeaderList {
    fn values<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a [u8]> {
        self.entries
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_bytes())
    }

    fn set(&mut self, name: &str, value: &str) -> Result<(), HeaderError> {
        self.remove(name);
        self.add(name, value)
    }

    fn add(&mut self, name: &str, value: &str) -> Result<(), HeaderError> {
        if name.is_empty() || value.contains(['\r', '\n', '\0']) {
            return Err(HeaderError::new(name, "invalid name or value"));
        }
        self.entries.push((name.to_owned(), value.to_owned()));
        Ok(())
    }

    fn remove(&mut self, name: &str) -> bool {
        let before = self.entries.len();
        self.entries.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.entries.len() != before
    }
}
