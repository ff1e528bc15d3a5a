//! Header lists the fast path writes from: the parsed head as is, or an
//! edited copy ([`EditList`]) for rules with header modifiers or rewrites.

use crate::filters::{self, HeaderError, HeaderTarget, RequestId};
use mesh_config::model::Filter;
use std::borrow::Cow;

/// Headers to write, in order.
pub trait Fields {
    fn each(&self) -> impl Iterator<Item = (&str, &[u8])>;
}

impl Fields for [httparse::Header<'_>] {
    fn each(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.iter().map(|h| (h.name, h.value))
    }
}

/// A copy of a parsed head's headers that filters edit: unchanged entries
/// borrow from the head, new ones are owned.
#[derive(Debug, Default)]
pub struct EditList<'b> {
    entries: Vec<(Cow<'b, str>, Cow<'b, [u8]>)>,
}

impl<'b> EditList<'b> {
    pub fn from_parsed(headers: &[httparse::Header<'b>]) -> EditList<'b> {
        EditList {
            entries: headers
                .iter()
                .map(|h| (Cow::Borrowed(h.name), Cow::Borrowed(h.value)))
                .collect(),
        }
    }
}

impl Fields for EditList<'_> {
    fn each(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.entries.iter().map(|(n, v)| (n.as_ref(), v.as_ref()))
    }
}

impl HeaderTarget for EditList<'_> {
    fn values<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a [u8]> {
        self.entries
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }

    fn set(&mut self, name: &str, value: &str) -> Result<(), HeaderError> {
        self.remove(name);
        self.add(name, value)
    }

    fn add(&mut self, name: &str, value: &str) -> Result<(), HeaderError> {
        let name_ok = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b));
        if !name_ok || value.bytes().any(|b| b < 0x20 && b != b'\t' || b == 0x7f) {
            return Err(HeaderError {
                name: name.to_owned(),
                reason: "invalid name or value".to_owned(),
            });
        }
        self.entries.push((
            Cow::Owned(name.to_owned()),
            Cow::Owned(value.as_bytes().to_vec()),
        ));
        Ok(())
    }

    fn remove(&mut self, name: &str) -> bool {
        let before = self.entries.len();
        self.entries.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.entries.len() != before
    }
}

/// The request's headers and target after the rule's and the backendRef's
/// filters, in pingora's order: `x-request-id` (added when absent), header
/// modifiers, then `URLRewrite` (hostname, path).
pub(super) fn edited<'b, 'f>(
    headers: &[httparse::Header<'b>],
    target: &str,
    matched: &mesh_config::model::Match,
    filters: impl Iterator<Item = &'f Filter> + Clone,
) -> Result<(EditList<'b>, String, Option<RequestId>), filters::HeaderError> {
    let mut list = EditList::from_parsed(headers);
    let id = filters::ensure_request_id(&mut list)?;
    for f in filters.clone() {
        if let Filter::RequestHeaders(e) = f {
            filters::apply_header_edits(e, &mut list)?;
        }
    }
    let (mut path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_owned(), Some(q)),
        None => (target.to_owned(), None),
    };
    for f in filters {
        let Filter::Rewrite(r) = f else { continue };
        if let Some(host) = &r.hostname {
            list.set("host", host)?;
        }
        if let Some(p) = &r.path {
            if let Some(rewritten) = filters::rewrite_path(p, matched, &path) {
                path = rewritten;
            }
        }
    }
    if let Some(q) = query {
        path.push('?');
        path.push_str(q);
    }
    Ok((list, path, id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filters::apply_header_edits;
    use mesh_config::model::{HeaderEdits, HeaderName};

    #[test]
    fn edits_apply_to_a_parsed_head() {
        let parsed = [
            httparse::Header {
                name: "Host",
                value: b"orders",
            },
            httparse::Header {
                name: "X-Env",
                value: b"a",
            },
            httparse::Header {
                name: "x-env",
                value: b"b",
            },
            httparse::Header {
                name: "X-Drop",
                value: b"1",
            },
        ];
        let mut list = EditList::from_parsed(&parsed);
        let name = |s: &str| HeaderName::parse(s).expect("name");
        let edits = HeaderEdits {
            set: vec![(name("x-env"), "c".to_owned())],
            add: vec![(name("x-added"), "1".to_owned())],
            remove: vec![name("x-drop")],
        };
        apply_header_edits(&edits, &mut list).expect("applies");
        let written: Vec<(String, String)> = list
            .each()
            .map(|(n, v)| (n.to_owned(), String::from_utf8_lossy(v).into_owned()))
            .collect();
        assert_eq!(
            written,
            [
                ("Host".to_owned(), "orders".to_owned()),
                ("x-env".to_owned(), "c".to_owned()),
                ("x-added".to_owned(), "1".to_owned()),
            ]
        );
        assert!(list.add("bad name", "v").is_err());
        assert!(list.add("x-ok", "a\r\nb").is_err());
    }
}
