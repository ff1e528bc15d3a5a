//! What to write: the desired statuses against what etcd holds (as far as
//! this writer knows), as puts and deletes. Pure functions.

use std::collections::BTreeMap;

use mesh_config::keys::{KeyRef, Keys, ResourceId};
use serde::Serialize;

use crate::status::{ResourceStatus, RouterStatus};
use crate::store::{KeyValue, WriteOp};

/// The JSON of a status, or `None` (logged) if it cannot be encoded.
fn encode(what: &str, value: &impl Serialize) -> Option<Vec<u8>> {
    match serde_json::to_vec(value) {
        Ok(bytes) => Some(bytes),
        Err(e) => {
            tracing::error!(status = what, error = %e, "cannot encode a status; not written");
            None
        }
    }
}

/// Longest reason written (longer ones are cut)...
const MAX_REASON_BYTES: usize = 2048;
/// ... and most bytes of reasons in one status (the rest are counted).
const MAX_REASONS_BYTES: usize = 32 * 1024;

/// A status small enough for etcd: reasons cut to [`MAX_REASON_BYTES`],
/// at most [`MAX_REASONS_BYTES`] of them, the rest counted in a last line.
pub(crate) fn bounded(status: &ResourceStatus) -> std::borrow::Cow<'_, ResourceStatus> {
    let total: usize = status.reasons.iter().map(String::len).sum();
    let fits =
        total <= MAX_REASONS_BYTES && status.reasons.iter().all(|r| r.len() <= MAX_REASON_BYTES);
    if fits {
        return std::borrow::Cow::Borrowed(status);
    }
    let mut reasons = Vec::new();
    let mut bytes = 0;
    for full in &status.reasons {
        let mut cut = full.len().min(MAX_REASON_BYTES);
        while !full.is_char_boundary(cut) {
            cut -= 1;
        }
        let mut reason = full[..cut].to_owned();
        if cut < full.len() {
            reason.push('…');
        }
        if bytes + reason.len() > MAX_REASONS_BYTES {
            break;
        }
        bytes += reason.len();
        reasons.push(reason);
    }
    let left = status.reasons.len() - reasons.len();
    if left > 0 {
        reasons.push(format!("... and {left} more"));
    }
    std::borrow::Cow::Owned(ResourceStatus {
        reasons,
        ..status.clone()
    })
}

/// The resource status keys found in etcd, by resource (keys under the
/// folder that name no resource are left alone).
pub(crate) fn read_resources(keys: &Keys, kvs: Vec<KeyValue>) -> BTreeMap<ResourceId, Vec<u8>> {
    kvs.into_iter()
        .filter_map(|kv| match keys.parse(&kv.key) {
            Some(KeyRef::ResourceStatus(id)) => Some((id, kv.value)),
            _ => None,
        })
        .collect()
}

/// The router status keys found in etcd that live on `lease`.
pub(crate) fn read_routers(
    keys: &Keys,
    kvs: Vec<KeyValue>,
    lease: i64,
) -> BTreeMap<String, Vec<u8>> {
    kvs.into_iter()
        .filter(|kv| kv.lease == lease)
        .filter_map(|kv| match keys.parse(&kv.key) {
            Some(KeyRef::RouterStatus(id)) => Some((id, kv.value)),
            _ => None,
        })
        .collect()
}

/// Puts for every desired status whose JSON differs from what is written,
/// and deletes for written statuses of resources no longer desired.
///
/// `flushed` is the desired map last written in full, if `written` has not
/// been re-read since: statuses equal to it are skipped without encoding.
pub(crate) fn diff_resources(
    keys: &Keys,
    desired: &BTreeMap<ResourceId, ResourceStatus>,
    flushed: Option<&BTreeMap<ResourceId, ResourceStatus>>,
    written: &BTreeMap<ResourceId, Vec<u8>>,
) -> Vec<(ResourceId, WriteOp)> {
    let mut ops = Vec::new();
    for (id, status) in desired {
        if flushed.is_some_and(|f| f.get(id) == Some(status)) && written.contains_key(id) {
            continue;
        }
        let Some(value) = encode("resource", &bounded(status)) else {
            continue;
        };
        if written.get(id) != Some(&value) {
            let key = keys.resource_status(id);
            ops.push((
                id.clone(),
                WriteOp::Put {
                    key,
                    value,
                    lease: 0,
                },
            ));
        }
    }
    for id in written.keys() {
        if !desired.contains_key(id) {
            let key = keys.resource_status(id);
            ops.push((id.clone(), WriteOp::Delete { key }));
        }
    }
    ops
}

/// Router statuses to put on `lease`, and router ids whose keys (on this
/// lease) are to be deleted.
pub(crate) fn diff_routers(
    keys: &Keys,
    desired: &BTreeMap<String, RouterStatus>,
    written: &BTreeMap<String, Vec<u8>>,
    lease: i64,
) -> (Vec<(String, WriteOp)>, Vec<String>) {
    let mut puts = Vec::new();
    for (id, status) in desired {
        let Some(value) = encode("router", status) else {
            continue;
        };
        if written.get(id) != Some(&value) {
            let key = keys.router_status(id);
            puts.push((id.clone(), WriteOp::Put { key, value, lease }));
        }
    }
    let gone = written
        .keys()
        .filter(|id| !desired.contains_key(*id))
        .cloned()
        .collect();
    (puts, gone)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::State;

    fn accepted(revision: i64) -> ResourceStatus {
        ResourceStatus {
            state: State::Accepted,
            revision,
            reasons: Vec::new(),
        }
    }

    fn route(name: &str) -> ResourceId {
        ResourceId::Route(name.to_owned())
    }

    #[test]
    fn resources_put_what_differs_and_delete_what_is_gone() {
        let keys = Keys::default();
        let desired = BTreeMap::from([
            (route("same"), accepted(3)),
            (route("changed"), accepted(5)),
            (route("new"), accepted(6)),
        ]);
        let written = BTreeMap::from([
            (
                route("same"),
                serde_json::to_vec(&accepted(3)).expect("json"),
            ),
            (
                route("changed"),
                serde_json::to_vec(&accepted(4)).expect("json"),
            ),
            (route("gone"), b"{}".to_vec()),
        ]);
        let ops = diff_resources(&keys, &desired, None, &written);
        let summary: Vec<(String, &str)> = ops
            .iter()
            .map(|(_, op)| {
                let kind = match op {
                    WriteOp::Put { .. } => "put",
                    WriteOp::Delete { .. } => "delete",
                };
                (op.key().to_owned(), kind)
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("/mesh/status/resources/routes/changed".to_owned(), "put"),
                ("/mesh/status/resources/routes/new".to_owned(), "put"),
                ("/mesh/status/resources/routes/gone".to_owned(), "delete"),
            ]
        );
    }

    #[test]
    fn statuses_equal_to_the_last_flush_are_skipped_unless_missing() {
        let keys = Keys::default();
        let desired = BTreeMap::from([(route("a"), accepted(1)), (route("b"), accepted(2))]);
        // etcd holds something else for `a`, but it was flushed as desired:
        // trusted (no re-encode). `b` is missing from what was written.
        let written = BTreeMap::from([(route("a"), b"stale".to_vec())]);
        let ops = diff_resources(&keys, &desired, Some(&desired), &written);
        assert_eq!(ops.len(), 1);
        assert_eq!(ops[0].0, route("b"));
    }

    #[test]
    fn long_reasons_are_cut_and_counted() {
        let small = status_with(vec!["short".to_owned()]);
        assert!(matches!(bounded(&small), std::borrow::Cow::Borrowed(_)));
        let long = status_with(vec!["é".repeat(3000)]);
        let cut = bounded(&long);
        assert!(cut.reasons[0].len() <= MAX_REASON_BYTES + '…'.len_utf8());
        assert!(cut.reasons[0].ends_with('…'));
        let many = status_with(
            (0..100)
                .map(|i| format!("{i}{}", "x".repeat(1000)))
                .collect(),
        );
        let cut = bounded(&many);
        let bytes: usize = cut.reasons.iter().map(String::len).sum();
        assert!(bytes <= MAX_REASONS_BYTES + 100, "{bytes}");
        let last = cut.reasons.last().expect("a last line");
        assert_eq!(
            last,
            &format!("... and {} more", 100 - (cut.reasons.len() - 1))
        );
        assert_eq!(cut.revision, many.revision);
    }

    fn status_with(reasons: Vec<String>) -> ResourceStatus {
        ResourceStatus {
            state: State::Rejected,
            revision: 9,
            reasons,
        }
    }

    #[test]
    fn routers_on_other_leases_are_not_ours() {
        let keys = Keys::default();
        let kv = |id: &str, lease| KeyValue {
            key: keys.router_status(id),
            value: b"{}".to_vec(),
            lease,
            create_revision: 1,
            mod_revision: 1,
        };
        let read = read_routers(&keys, vec![kv("r1", 7), kv("r2", 8)], 7);
        assert_eq!(read.keys().collect::<Vec<_>>(), ["r1"]);
        let status = RouterStatus {
            router: "r3".into(),
            controller: "c".into(),
            revision: 1,
            table_hash: 2,
            published_revision: 1,
            published_hash: 2,
            rejected: None,
        };
        let desired = BTreeMap::from([("r3".to_owned(), status)]);
        let (puts, gone) = diff_routers(&keys, &desired, &read, 7);
        assert_eq!(gone, ["r1"]);
        assert!(matches!(
            &puts[..],
            [(id, WriteOp::Put { lease: 7, key, .. })] if id == "r3" && key == "/mesh/status/routers/r3"
        ));
    }
}
